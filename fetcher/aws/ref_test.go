package aws

import (
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		ref  string
		want target
		err  string
	}{
		{ref: "aws:patas/production", want: target{kind: secretKind, id: "patas/production"}},
		{ref: "aws:patas/production#database_url", want: target{kind: secretKind, id: "patas/production"}},
		{ref: "aws:patas/production@AWSCURRENT", want: target{kind: secretKind, id: "patas/production"}},
		{ref: "aws:patas/production@AWSPREVIOUS", want: target{kind: secretKind, id: "patas/production", stage: "AWSPREVIOUS"}},
		{ref: "aws:patas/production@AWSPENDING", want: target{kind: secretKind, id: "patas/production", stage: "AWSPENDING"}},
		{ref: "aws:patas/production@EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE", want: target{kind: secretKind, id: "patas/production", versionID: "EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE"}},
		{ref: "aws:arn:aws:secretsmanager:eu-west-1:123456789012:secret:patas/production-AbCdEf#llm_api_key",
			want: target{kind: secretKind, id: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:patas/production-AbCdEf"}},
		{ref: "aws:user@example@AWSCURRENT", want: target{kind: secretKind, id: "user@example"}},
		{ref: "aws:ssm:/patas/prod/database_url", want: target{kind: parameterKind, id: "/patas/prod/database_url"}},
		{ref: "aws:ssm:/patas/prod/database_url@3", want: target{kind: parameterKind, id: "/patas/prod/database_url", selector: "3"}},
		{ref: "aws:ssm:plain-name", want: target{kind: parameterKind, id: "plain-name"}},
		{ref: "aws:ssm:/patas/prod/", want: target{kind: pathKind, id: "/patas/prod"}},
		{ref: "aws:ssm:/", want: target{kind: pathKind, id: "/"}},
		{ref: "aws:ssm:/patas/prod/@2", err: "drop @2"},
		{ref: "aws:ssm:relative/", err: "starts with '/'"},
		{ref: "aws:ssm:/a/b:3", err: "as @VERSION"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			got, err := parseTarget(ref(t, tc.ref))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("got %+v, %v, want an error containing %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v, want %+v", got, err, tc.want)
			}
		})
	}
}
