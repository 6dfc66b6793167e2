package config

import (
	"strings"
	"testing"
)

func awsConfig(env, backend, secrets string) string {
	return "environment: " + env + "\nbackends:\n  aws: " + backend + "\nsecrets:\n" + secrets +
		"outputs: [{format: dotenv, path: /run/patas/secrets.env}]\n"
}

func TestAWSBackend(t *testing.T) {
	const guide = "  - {ref: 'aws:patas/production', expand: true}\n"
	tests := []struct {
		name, env, backend, secrets string
		want                        string // "" = valid; else a substring of the problems
	}{
		{"the guide's secret", "production", "{type: aws, region: eu-west-1}", guide, ""},
		{"default chain only", "production", "{type: aws}", guide, ""},
		{"every field", "production", "{type: aws, region: us-east-1, profile: patas, role_arn: 'arn:aws:iam::123456789012:role/patas-secrets', endpoint: 'https://secretsmanager.us-east-1.amazonaws.com'}", guide, ""},
		{"moto on loopback", "test", "{type: aws, region: us-east-1, endpoint: 'http://127.0.0.1:5000'}", guide, ""},
		{"keys, versions, ARNs and SSM", "production", "{type: aws}",
			"  - {env: A, ref: 'aws:patas/production#database_url@AWSPREVIOUS'}\n" +
				"  - {env: B, ref: 'aws:arn:aws:secretsmanager:eu-west-1:123456789012:secret:patas/production-AbCdEf#llm_api_key'}\n" +
				"  - {env: C, ref: 'aws:ssm:/patas/prod/redis_url@3'}\n" +
				"  - {ref: 'aws:ssm:/patas/prod/', expand: true}\n" +
				"  - {env: D, ref: 'aws:ssm:/patas/prod/#database_url'}\n" +
				"  - {env: E, template: 'x{{ secret \"aws:ssm:/patas/prod/tas_api_key\" }}'}\n", ""},
		{"bad region", "production", "{type: aws, region: Ireland}", guide, "backends.aws.region"},
		{"bad role", "production", "{type: aws, role_arn: patas-secrets}", guide, "backends.aws.role_arn"},
		{"endpoint not a URL", "production", "{type: aws, endpoint: 'localhost:5000'}", guide, "backends.aws.endpoint"},
		{"plain http in production", "production", "{type: aws, endpoint: 'http://10.0.0.5:4566'}", guide, "in clear"},
		{"SSM path without expand", "production", "{type: aws}", "  - {env: A, ref: 'aws:ssm:/patas/prod/'}\n", "use expand: true"},
		{"SSM path in a template", "production", "{type: aws}", "  - {env: A, template: '{{ secret \"aws:ssm:/patas/\" }}'}\n", "secrets[0].template"},
		{"SSM path with a version", "production", "{type: aws}", "  - {ref: 'aws:ssm:/patas/prod/@2', expand: true}\n", "drop @2"},
		{"relative SSM path", "production", "{type: aws}", "  - {ref: 'aws:ssm:patas/prod/', expand: true}\n", "starts with '/'"},
		{"SSM selector with a colon", "production", "{type: aws}", "  - {env: A, ref: 'aws:ssm:/patas/a:3'}\n", "as @VERSION"},
		{"empty SSM name", "production", "{type: aws}", "  - {env: A, ref: 'aws:ssm:'}\n", "empty SSM parameter name"},
		{"unknown field", "test", "{type: aws, project: p}", guide, "project is not a known field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(awsConfig(tt.env, tt.backend, tt.secrets)), "/etc/patas", testBackends)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want a valid config", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want a problem containing %q", err, tt.want)
			}
		})
	}
}
