package file

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func fetch(t *testing.T, b *Backend, ref string) (fetcher.Secret, error) {
	t.Helper()
	r, err := fetcher.ParseRef(ref)
	if err != nil {
		t.Fatal(err)
	}
	return b.Fetch(context.Background(), r.Source())
}

func TestFetch(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "db_password"), "s3cret\n")
	write(t, filepath.Join(dir, "crlf"), "s3cret\r\n")
	write(t, filepath.Join(dir, "two_newlines"), "pem\n\n")
	write(t, filepath.Join(dir, "app.json"), `{"database_url": "postgresql://u:p@h/db", "api_keys": "k1:ns1"}`)
	write(t, filepath.Join(dir, "dev.env"), "# comment\nexport API_KEYS=dev-key:development\nDATABASE_URL=\"postgresql://a:b@h/db\" # inline\nLLM_API_KEY='sk-test-key'\nMULTI=\"a\\nb\"\nRAW=x ${NOT_EXPANDED} #c\n")
	write(t, filepath.Join(dir, "sub", "nested"), "n")
	b, err := New(dir, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	whole := map[string]string{"db_password": "s3cret", "crlf": "s3cret", "two_newlines": "pem\n", "sub/nested": "n"}
	for ref, want := range whole {
		s, err := fetch(t, b, "f:"+ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if got := string(s.Value.Reveal()); got != want {
			t.Errorf("%s: got %q, want %q", ref, got, want)
		}
	}
	fields := map[string]map[string]string{
		"app.json": {"database_url": "postgresql://u:p@h/db", "api_keys": "k1:ns1"},
		"dev.env":  {"API_KEYS": "dev-key:development", "DATABASE_URL": "postgresql://a:b@h/db", "LLM_API_KEY": "sk-test-key", "MULTI": "a\nb", "RAW": "x ${NOT_EXPANDED}"},
	}
	for ref, want := range fields {
		s, err := fetch(t, b, "f:"+ref)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Data) != len(want) {
			t.Errorf("%s: got keys %v, want %d keys", ref, s.Keys(), len(want))
		}
		for k, w := range want {
			v, err := s.Field(k)
			if err != nil || string(v.Reveal()) != w {
				t.Errorf("%s#%s: got %q, %v; want %q", ref, k, v.Reveal(), err, w)
			}
		}
	}
	if s, _ := fetch(t, b, "f:db_password"); s.Data != nil {
		t.Errorf("a plain password file has fields %v, want none", s.Keys())
	}
}

func TestFetchErrors(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "big"), string(make([]byte, maxSize+1)))
	b, _ := New(dir, zap.NewNop())
	tests := []struct {
		ref  string
		want error
	}{
		{"f:missing", fetcher.ErrNotFound},
		{"f:../etc/passwd", nil},
		{"f:/etc/passwd", nil},
		{"f:big", nil},
		{"f:db@2", nil},
		{"f:.", nil},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			_, err := fetch(t, b, tt.ref)
			if err == nil {
				t.Fatal("want an error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseDotenvRejectsPlainSecrets(t *testing.T) {
	for _, s := range []string{"just-a-password", "-----BEGIN KEY-----\nabc\n-----END KEY-----\n", "a=b\nnot an assignment\n", "K='unterminated\n"} {
		if m := parseDotenv([]byte(s)); m != nil {
			t.Errorf("parseDotenv(%q) = %v keys, want nil", s, len(m))
		}
	}
}

func TestNoDotenv(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "dev.env"), "A=1\n")
	write(t, filepath.Join(dir, "app.json"), `{"a":"1"}`)
	b, _ := New(dir, zap.NewNop(), NoDotenv())
	if s, _ := fetch(t, b, "f:dev.env"); s.Data != nil {
		t.Errorf("NoDotenv: a dotenv file was parsed into %v", s.Keys())
	}
	if s, _ := fetch(t, b, "f:app.json"); s.Data == nil {
		t.Error("NoDotenv: JSON must still be parsed")
	}
}
