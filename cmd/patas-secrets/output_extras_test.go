package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestOutputNotifyAndBackup runs run with a template output that has its own notify
// command and backup: true. Rotating the secret rewrites the file, keeps the previous one
// as PATH.bak with the same mode, and runs the output's own command (not the global one,
// whose output did not change).
func TestOutputNotifyAndBackup(t *testing.T) {
	dir := templateProject(t, `backends: {swarm: {type: file, dir: secrets}}
secrets: [{env: A, ref: 'swarm:a'}]
outputs:
  - {format: dotenv, path: out/a.env}
  - format: template
    template: templates/userlist.tmpl
    path: out/userlist.txt
    mode: "0400"
    backup: true
    notify: {command: {args: [/bin/sh, -c, 'echo reload >> own.log']}, debounce: 10ms, jitter: 0s}
notify: {command: {args: [/bin/sh, -c, 'echo reload >> global.log']}, debounce: 10ms, jitter: 0s}
refresh: {interval: 1h}
listen: "off"
`, map[string]string{"a": "a-value", "pw": "pw-one"}, map[string]string{
		"userlist.tmpl": `"patas" "{{ secret "swarm:pw" }}"` + "\n",
	})
	out := filepath.Join(dir, "out", "userlist.txt")
	cmd := exec.Command(bin, "run", "--config", filepath.Join(dir, "patas.yaml"))
	cmd.Dir = dir // the notify commands write their logs here
	var errb syncBuffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := func(name string) int {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		return strings.Count(string(b), "reload")
	}
	waitUntil(t, "the first write and both notifications", func() bool { return lines("own.log") == 1 && lines("global.log") == 1 })

	os.WriteFile(filepath.Join(dir, "secrets", "pw"), []byte("pw-two"), 0o600)
	waitUntil(t, "the rotated password and the output's own notification", func() bool {
		b, _ := os.ReadFile(out)
		return string(b) == `"patas" "pw-two"`+"\n" && lines("own.log") == 2
	})
	b, err := os.ReadFile(out + ".bak")
	if err != nil || string(b) != `"patas" "pw-one"`+"\n" {
		t.Errorf("backup: got %q (%v), want the previous generation", b, err)
	}
	if fi, err := os.Stat(out + ".bak"); err != nil || fi.Mode().Perm() != 0o400 {
		t.Errorf("backup mode: %v %v, want 0400", fi, err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("run after SIGTERM: %v\n%s", err, errb.String())
	}
	if n := lines("global.log"); n != 1 {
		t.Errorf("global notify ran %d times, want 1 (only the dotenv's first write)", n)
	}
}
