package fetcher

import "testing"

// FuzzParseRef: whatever ParseRef accepts prints back (String) to a form it parses to the
// same Ref, and its Source parses too; nothing panics.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{
		"vault:secret/patas#api_keys", "aws:patas/production", "aws:ssm:/patas/prod/redis_url",
		"aws:arn:aws:secretsmanager:eu-west-1:123:secret:patas-AbC#k@AWSPREVIOUS", "gcp:projects/p/secrets/s/versions/3",
		"gcp:name@7", "file:db_password", "a:b#c#d", "a:b@v1@v2", "a:b#k@", "a:#k", ":p", "a b:c", "x:y@z#w", "a:p#@v",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			return
		}
		if r.Backend == "" || r.Path == "" {
			t.Fatalf("ParseRef(%q) = %+v without error: empty backend or path", s, r)
		}
		again, err := ParseRef(r.String())
		if err != nil || again != r {
			t.Fatalf("ParseRef(%q) = %+v; its String %q parses to %+v, %v", s, r, r.String(), again, err)
		}
		src, err := ParseRef(r.Source().String())
		if err != nil || src != r.Source() {
			t.Fatalf("Source of %+v: %q parses to %+v, %v", r, r.Source().String(), src, err)
		}
	})
}
