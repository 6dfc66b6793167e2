package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/fetcher/registry"
)

// memSettings is a backend added by this test alone: a map of paths to values. Nothing
// outside this file knows its type name.
type memSettings struct {
	Type   string `yaml:"type"`
	Prefix string `yaml:"prefix"`
}

var errMemRef = errors.New("mem paths start with the backend's prefix")

func (s *memSettings) Validate(_ registry.Env, p *registry.Problems) {
	if s.Prefix == "" {
		p.Add("prefix", "required")
	}
}

func (s *memSettings) CheckRef(_ registry.Env, r fetcher.Ref, _ registry.Use) error {
	if !strings.HasPrefix(r.Path, s.Prefix) {
		return errMemRef
	}
	return nil
}

func (s *memSettings) Open(_ context.Context, _ registry.Env) (fetcher.Backend, error) {
	return memBackend{s}, nil
}

type memBackend struct{ s *memSettings }

func (b memBackend) Fetch(_ context.Context, r fetcher.Ref) (fetcher.Secret, error) {
	if err := b.s.CheckRef(registry.Env{}, r, registry.Use{}); err != nil {
		return fetcher.Secret{}, err
	}
	return fetcher.Secret{Value: fetcher.NewValue([]byte("value-of-" + strings.TrimPrefix(r.Path, b.s.Prefix)))}, nil
}

func (memBackend) Close() error { return nil }

// TestAddingABackendIsOneRegistration registers a backend type from a test, with no edit to
// config, engine or the open path, and drives it through once: config decodes its
// settings strictly, runs its validation and its ref check, and the engine reads from it.
func TestAddingABackendIsOneRegistration(t *testing.T) {
	saved := backendTypes
	t.Cleanup(func() { backendTypes = saved })
	backendTypes = append(append([]registry.Type{}, saved...), registry.Type{Name: "mem", New: func() registry.Settings { return &memSettings{} }})

	dir := t.TempDir()
	write := func(cfg string) string {
		p := filepath.Join(dir, "patas.yaml")
		if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	once := func(path string) (int, string) {
		var out, errb bytes.Buffer
		code := run([]string{"once", "--config", path}, &out, &errb)
		return code, errb.String()
	}

	good := write("backends: {m: {type: mem, prefix: app/}}\nsecrets: [{env: TOKEN, ref: 'm:app/token'}]\noutputs: [{format: dotenv, path: out.env}]\nlisten: 'off'\n")
	if code, stderr := once(good); code != exitOK {
		t.Fatalf("once: got exit %d (%s), want 0", code, stderr)
	}
	got, err := os.ReadFile(filepath.Join(dir, "out.env"))
	if err != nil || !strings.Contains(string(got), "TOKEN='value-of-token'") {
		t.Fatalf("got %q, %v; want TOKEN='value-of-token'", got, err)
	}

	bad := write("backends: {m: {type: mem, prefix: app/, prefx: x}, n: {type: mem}}\nsecrets: [{env: TOKEN, ref: 'm:other/token'}]\noutputs: [{format: dotenv, path: out.env}]\n")
	code, stderr := once(bad)
	for _, want := range []string{
		"backends.m: line 1: field prefx is not a known field",
		"backends.n.prefix: required",
		"secrets[0].ref: m:other/token: " + errMemRef.Error(),
	} {
		if code != exitUsage || !strings.Contains(stderr, want) {
			t.Errorf("got exit %d, %s\nwant exit %d and a problem containing %q", code, stderr, exitUsage, want)
		}
	}
}

// TestBuildWithoutAWSAndGCP builds the binary with -tags no_aws,no_gcp: a config naming
// aws is told which tag left it out, an unknown type lists this build's types, and neither
// SDK is linked (while the default build, the control, links both).
func TestBuildWithoutAWSAndGCP(t *testing.T) {
	small := filepath.Join(t.TempDir(), "patas-secrets-small")
	if out, err := exec.Command("go", "build", "-tags", "no_aws,no_gcp", "-o", small, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := project(t, "backends:\n  cloud: {type: aws, region: eu-west-1}\n  other: {type: consul}\n  swarm: {type: file, dir: secrets}\n"+
		"secrets: [{env: A, ref: 'cloud:a'}]\noutputs: [{format: dotenv, path: out.env}]\n", nil)
	cmd := exec.Command(small, "check", "--config", filepath.Join(dir, "patas.yaml"))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitUsage {
		t.Fatalf("check: got %v (%s), want exit %d", err, out, exitUsage)
	}
	for _, want := range []string{
		`backends.cloud: backend type "aws" is not in this build (built with -tags no_aws); use the default build or one with aws`,
		`backends.other: unknown backend type "consul" (types: file, vault)`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("got %s\nwant a problem containing %q", out, want)
		}
	}

	// What each left-out backend links: its SDK and credential libraries (GCP reads over
	// REST with x/oauth2/google and the metadata client), and its own package.
	sdks := []string{"github.com/aws/aws-sdk-go-v2", "golang.org/x/oauth2", "cloud.google.com/go"}
	for _, b := range []struct {
		bin    string
		linked bool
	}{{bin, true}, {small, false}} {
		mods, err := exec.Command("go", "version", "-m", b.bin).Output()
		if err != nil {
			t.Fatal(err)
		}
		syms, err := exec.Command("go", "tool", "nm", b.bin).Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, pkg := range []string{"patas-secrets/fetcher/aws.", "patas-secrets/fetcher/gcp."} {
			if got := bytes.Contains(syms, []byte(pkg)); got != b.linked {
				t.Errorf("%s: %s in go tool nm: %v; want %v", filepath.Base(b.bin), pkg, got, b.linked)
			}
		}
		for _, sdk := range sdks {
			inMods, inSyms := bytes.Contains(mods, []byte(sdk)), bytes.Contains(syms, []byte(sdk))
			if inMods != b.linked || inSyms != b.linked {
				t.Errorf("%s: %s in go version -m: %v, in go tool nm: %v; want %v", filepath.Base(b.bin), sdk, inMods, inSyms, b.linked)
			}
		}
	}
}
