package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A mistyped #key is an error even on an optional entry: optional tolerates a missing
// secret, not a missing key. The error names the key and the keys present, never a value.
func TestOnceOptionalMissingKeyFails(t *testing.T) {
	const canary = "CANARY-missing-key-5b1e"
	cfg := "backends: {f: {type: file, dir: secrets}}\n" +
		"secrets:\n" +
		"  - {env: TYPO, ref: 'f:j.json#typo', optional: true}\n" +
		"  - {env: GONE, ref: 'f:absent.json#k', optional: true}\n" +
		"outputs: [{format: dotenv, path: out.env}]\n"
	dir := project(t, cfg, map[string]string{"j.json": `{"api_key":"` + canary + `","db_url":"` + canary + `-db"}`})
	r := runBin(t, nil, "once", "--config", filepath.Join(dir, "patas.yaml"))
	if r.code == 0 {
		t.Fatalf("once with a mistyped key on an optional entry exited 0:\n%s%s", r.stdout, r.stderr)
	}
	all := r.stdout + r.stderr
	for _, want := range []string{`f:j.json#typo`, `no key "typo"`, `"api_key"`, `"db_url"`} {
		if !strings.Contains(all, want) {
			t.Errorf("the error lacks %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "absent.json") && !strings.Contains(all, "typo") {
		t.Errorf("the missing optional secret was reported instead of the key:\n%s", all)
	}
	if strings.Contains(all, "GONE") {
		t.Errorf("the optional entry whose secret is missing was reported; it must be tolerated:\n%s", all)
	}
	if strings.Contains(all, canary) {
		t.Errorf("a secret value was printed:\n%s", all)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.env")); !os.IsNotExist(err) {
		t.Errorf("an output was written after a failed resolve: %v", err)
	}
}
