package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// templateProject lays out a file-backend project with two template files.
func templateProject(t *testing.T, config string, secrets, templates map[string]string) string {
	t.Helper()
	dir := project(t, config, secrets)
	os.Mkdir(filepath.Join(dir, "templates"), 0o755)
	for n, c := range templates {
		if err := os.WriteFile(filepath.Join(dir, "templates", n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const templateCanary = "CANARY-tmpl-41c7e9"

var templateSecrets = map[string]string{
	"db.json":  `{"username": "patas", "password": "` + templateCanary + `-pw"}`,
	"api_keys": "key-one-" + templateCanary + ",key-two-" + templateCanary,
}

// TestTemplateOutputs renders two template files and a dotenv output from the same secrets
// with the file backend: each file gets its own mode and owner, the content is exact, and
// each secret is read once per refresh although three outputs use it.
func TestTemplateOutputs(t *testing.T) {
	config := `backends: {swarm: {type: file, dir: secrets}}
secrets:
  - {env: API_KEYS, ref: 'swarm:api_keys'}
outputs:
  - {format: dotenv, path: out/secrets.env}
  - {format: template, template: templates/userlist.tmpl, path: out/userlist.txt, mode: "0400", uid: 70, gid: 70}
  - {format: template, template: templates/creds.json.tmpl, path: out/creds.json, mode: "0440", uid: 1000, gid: 2000}
listen: "off"
`
	templates := map[string]string{
		"userlist.tmpl": `"{{ secret "swarm:db.json#username" }}" "{{ secret "swarm:db.json#password" }}"` + "\n",
		"creds.json.tmpl": `{"user": {{ secret "swarm:db.json#username" | toJSON }}, "password": {{ secret "swarm:db.json#password" | toJSON }},` +
			` "keys": {{ secret "swarm:api_keys" | split "," | toJSON }}}` + "\n",
	}
	dir := templateProject(t, config, templateSecrets, templates)
	r := runBin(t, nil, "once", "--config", filepath.Join(dir, "patas.yaml"))
	if r.code != 0 {
		t.Fatalf("once: %+v", r)
	}
	want := map[string]struct {
		content  string
		mode     os.FileMode
		uid, gid uint32
	}{
		"userlist.txt": {`"patas" "` + templateCanary + `-pw"` + "\n", 0o400, 70, 70},
		"creds.json": {`{"user": "patas", "password": "` + templateCanary + `-pw", "keys": ["key-one-` + templateCanary + `","key-two-` + templateCanary + `"]}` + "\n",
			0o440, 1000, 2000},
	}
	for name, w := range want {
		p := filepath.Join(dir, "out", name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != w.content {
			t.Errorf("%s: got %q, want %q", name, b, w.content)
		}
		st, _ := os.Stat(p)
		sys := st.Sys().(*syscall.Stat_t)
		if st.Mode().Perm() != w.mode || sys.Uid != w.uid || sys.Gid != w.gid {
			t.Errorf("%s: got mode %v owner %d:%d, want %v %d:%d", name, st.Mode().Perm(), sys.Uid, sys.Gid, w.mode, w.uid, w.gid)
		}
	}
	// The audit log has one "secret read" per read: db.json feeds two files, api_keys two
	// outputs, and each is read once.
	for _, ref := range []string{`"ref":"swarm:db.json"`, `"ref":"swarm:api_keys"`} {
		if n := strings.Count(r.stderr, ref); n != 1 {
			t.Errorf("%s read %d times in one refresh, want 1:\n%s", ref, n, r.stderr)
		}
	}
	if strings.Contains(r.stderr, templateCanary) {
		t.Errorf("the canary was logged:\n%s", r.stderr)
	}
}

// TestTemplateOutputFailsClosed: a missing key, a missing field of the template data and a
// template that renders nothing each stop once with an error naming the output, write no
// file, and never print a value.
func TestTemplateOutputFailsClosed(t *testing.T) {
	tests := []struct{ name, template, want string }{
		{"missing key", `{{ secret "swarm:db.json#password" }}:{{ secret "swarm:db.json#passwrod" }}`, `no key "passwrod"`},
		{"missing secret", `{{ secret "swarm:db.json#password" }}{{ secret "swarm:nope" }}`, "not found"},
		{"field of the data", `{{ secret "swarm:db.json#password" }}{{ .Password }}`, "Password"},
		{"empty rendering", `{{ if false }}{{ secret "swarm:db.json#password" }}{{ end }}`, "empty file"},
		{"function error", `{{ secret "swarm:db.json#password" | base64Decode }}`, "base64Decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			config := `backends: {swarm: {type: file, dir: secrets}}
secrets: [{env: API_KEYS, ref: 'swarm:api_keys'}]
outputs:
  - {format: dotenv, path: out/secrets.env}
  - {format: template, template: templates/t.tmpl, path: out/t.txt}
listen: "off"
`
			dir := templateProject(t, config, templateSecrets, map[string]string{"t.tmpl": tt.template})
			r := runBin(t, nil, "once", "--config", filepath.Join(dir, "patas.yaml"))
			if r.code != exitFailed || !strings.Contains(r.stderr, "outputs[1]") || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("got %+v, want exit %d naming outputs[1] and %q", r, exitFailed, tt.want)
			}
			if strings.Contains(r.stderr+r.stdout, templateCanary) || strings.Contains(r.stderr, "<no value>") {
				t.Errorf("a value was printed:\n%s", r.stderr)
			}
			for _, f := range []string{"secrets.env", "t.txt"} {
				if _, err := os.Stat(filepath.Join(dir, "out", f)); !os.IsNotExist(err) {
					t.Errorf("%s was written although the refresh failed", f)
				}
			}
		})
	}
}

// TestTemplateOutputCheck: check reports template problems with their path, without
// reaching a backend.
func TestTemplateOutputCheck(t *testing.T) {
	config := `backends: {swarm: {type: file, dir: secrets}}
outputs:
  - {format: template, template: templates/bad.tmpl, path: out/a}
  - {format: template, template: templates/none.tmpl, path: out/b}
  - {format: template, path: out/c}
  - {format: dotenv, template: templates/bad.tmpl, path: out/d}
  - {format: template, template: templates/env.tmpl, path: out/e}
`
	dir := templateProject(t, config, nil, map[string]string{
		"bad.tmpl": `{{ secret "vualt:x" }}`,
		"env.tmpl": `{{ env "DB_PASSWORD" }}{{ secret "swarm:x" }}`,
	})
	r := runBin(t, nil, "check", "--config", filepath.Join(dir, "patas.yaml"))
	for _, want := range []string{
		`outputs[0].template: unknown backend "vualt"`,
		"outputs[1].template: open ",
		"outputs[2].template: required with format: template",
		"outputs[3].template: applies only to format: template",
		`outputs[4].template: templates/env.tmpl: env "DB_PASSWORD": the name looks like a credential`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("check output lacks %q:\n%s", want, r.stderr)
		}
	}
	if r.code == 0 {
		t.Errorf("check passed a bad config")
	}
}
