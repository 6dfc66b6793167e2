package fetcher

import "testing"

func TestParseRef(t *testing.T) {
	tests := []struct {
		in   string
		want Ref
	}{
		{"vault:secret/patas#api_keys", Ref{Backend: "vault", Path: "secret/patas", Key: "api_keys"}},
		{"vault:secret/patas#api_keys@3", Ref{Backend: "vault", Path: "secret/patas", Key: "api_keys", Version: "3"}},
		{"aws:patas/production", Ref{Backend: "aws", Path: "patas/production"}},
		{"aws:patas/production@AWSPREVIOUS", Ref{Backend: "aws", Path: "patas/production", Version: "AWSPREVIOUS"}},
		{"aws:arn:aws:secretsmanager:eu-west-1:1:secret:patas-AbCd#llm_api_key", Ref{Backend: "aws", Path: "arn:aws:secretsmanager:eu-west-1:1:secret:patas-AbCd", Key: "llm_api_key"}},
		{"aws:ssm:/patas/prod/", Ref{Backend: "aws", Path: "ssm:/patas/prod/"}},
		{"gcp:projects/p/secrets/s/versions/5", Ref{Backend: "gcp", Path: "projects/p/secrets/s/versions/5"}},
		{"aws:name@with@AWSCURRENT", Ref{Backend: "aws", Path: "name@with", Version: "AWSCURRENT"}},
		{"swarm:db_password", Ref{Backend: "swarm", Path: "db_password"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRef(tt.in)
			if err != nil {
				t.Fatalf("ParseRef(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
			if s := got.String(); s != tt.in {
				t.Errorf("String() = %q, want %q", s, tt.in)
			}
		})
	}
}

func TestParseRefErrors(t *testing.T) {
	for _, in := range []string{"", "nobackend", ":path", "vault:", "vault:#key", "vault:p#", "vault:p@", "va ult:p", "vault:p#@1"} {
		t.Run(in, func(t *testing.T) {
			if r, err := ParseRef(in); err == nil {
				t.Errorf("ParseRef(%q) = %#v, want an error", in, r)
			}
		})
	}
}

func TestSourceDropsKey(t *testing.T) {
	r := Ref{Backend: "v", Path: "p", Key: "k", Version: "2"}
	if got, want := r.Source(), (Ref{Backend: "v", Path: "p", Version: "2"}); got != want {
		t.Errorf("got %#v, want %#v", got, want)
	}
}
