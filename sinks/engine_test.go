package sinks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/fetcher/file"
	"github.com/patas/patas-secrets/internal/config"
	"github.com/patas/patas-secrets/internal/engine"
	"github.com/patas/patas-secrets/internal/testenv/allbackends"
	"github.com/patas/patas-secrets/sinks"
)

// TestEngineWritesEveryFormatOrNone runs the engine over the file backend with all five
// outputs. Values every format carries reach every consumer exactly; a value one format
// refuses fails the refresh with an error naming the variable and the format, leaves
// every output byte for byte as it was, and appears in no log line or error.
func TestEngineWritesEveryFormatOrNone(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "secrets")
	if err := os.Mkdir(src, 0o700); err != nil {
		t.Fatal(err)
	}
	put := func(name, value string) {
		if err := os.WriteFile(filepath.Join(src, name), []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	yaml := `
backends: {f: {type: file, dir: secrets}}
secrets:
  - {env: DB_PASSWORD, ref: "f:db"}
  - {env: API_KEY, ref: "f:api"}
outputs:
  - {format: dotenv, path: out/app.env}
  - {format: shell, path: out/app.sh}
  - {format: docker, path: out/docker.env}
  - {format: json, path: out/app.json}
  - {format: files, path: out/files}
`
	cfg, err := config.Parse([]byte(yaml), dir, allbackends.Registry())
	if err != nil {
		t.Fatal(err)
	}
	backend, err := file.New(src, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.Lock(zapcore.AddSync(&logs)), zap.DebugLevel))
	e, err := engine.New(cfg, map[string]fetcher.Backend{"f": backend}, log)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")

	good := map[string]string{"DB_PASSWORD": `p@ss'"w$rd #1 \ $(id)`, "API_KEY": "key with = and `tick`"}
	put("db", good["DB_PASSWORD"])
	put("api", good["API_KEY"])
	if err := e.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertConsumersRead(t, out, good)
	before := snapshotTree(t, out)

	for _, c := range []struct{ value, format string }{
		{"canary-${HOME}-canary", "dotenv"},     // python-dotenv would substitute it
		{"canary-line\nbreak-canary", "docker"}, // a line break ends a docker env-file value
		{"canary-\xff\xfe-canary", "dotenv"},    // not UTF-8 (dotenv is checked first)
		{"canary-\x00-canary", "dotenv"},        // no environment holds NUL
	} {
		put("db", c.value)
		logs.Reset()
		err := e.RunOnce(context.Background())
		if err == nil {
			t.Fatalf("%q: RunOnce accepted it", c.value)
		}
		if msg := err.Error(); !strings.Contains(msg, "DB_PASSWORD") || !strings.Contains(msg, "format "+c.format) {
			t.Errorf("got %q, want it to name DB_PASSWORD and format %s", msg, c.format)
		}
		if strings.Contains(err.Error()+logs.String(), "canary") {
			t.Errorf("the refused value leaked: %s %s", err, logs.String())
		}
		if d := diffTrees(before, snapshotTree(t, out)); d != "" {
			t.Errorf("%q: outputs changed although the refresh failed: %s", c.value, d)
		}
	}

	next := map[string]string{"DB_PASSWORD": "rotated\nmulti-line is fine in dotenv", "API_KEY": good["API_KEY"]}
	put("db", next["DB_PASSWORD"])
	err = e.RunOnce(context.Background())
	if err == nil || !strings.Contains(err.Error(), "format docker") {
		t.Fatalf("got %v, want docker to refuse a line break", err)
	}
	next["DB_PASSWORD"] = "rotated"
	put("db", next["DB_PASSWORD"])
	if err := e.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertConsumersRead(t, out, next)
}

// assertConsumersRead reads each output with its real consumer.
func assertConsumersRead(t *testing.T, out string, want map[string]string) {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	check := func(who string, got map[string]string, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", who, err)
		} else if d := sinks.DiffMaps(got, want); d != "" {
			t.Errorf("%s: %s", who, d)
		}
	}
	got, err := sinks.ReadPythonDotenv(t, read("app.env"))
	check("python-dotenv", got, err)
	got, err = sinks.ReadCompose(read("app.env"))
	check("compose", got, err)
	got, err = sinks.ReadShell(t, "bash", nil, read("app.sh"), []string{"DB_PASSWORD", "API_KEY"})
	check("bash", got, err)
	got, err = sinks.ReadDocker(t, read("docker.env"))
	check("docker", got, err)
	got = nil
	err = json.Unmarshal(read("app.json"), &got)
	check("json", got, err)
	got = map[string]string{}
	for name := range want {
		b, err := os.ReadFile(filepath.Join(out, "files", name))
		if err != nil {
			t.Fatal(err)
		}
		got[name] = string(b)
	}
	check("files", got, nil)
}

// snapshotTree records every entry under root: file bytes and mode, symlink targets.
func snapshotTree(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			m[p] = "-> " + target
			return err
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			m[p] = fi.Mode().String() + " " + string(b)
			return err
		default:
			m[p] = fi.Mode().String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func diffTrees(a, b map[string]string) string {
	var d []string
	for k, v := range a {
		if b[k] != v {
			d = append(d, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			d = append(d, "new "+k)
		}
	}
	return strings.Join(d, ", ")
}
