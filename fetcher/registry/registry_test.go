package registry

import (
	"context"
	"strings"
	"testing"

	"github.com/patas/patas-secrets/fetcher"
)

type noSettings struct{}

func (noSettings) Validate(Env, *Problems)                            {}
func (noSettings) CheckRef(Env, fetcher.Ref, Use) error               { return nil }
func (noSettings) Open(context.Context, Env) (fetcher.Backend, error) { return nil, nil }

func TestLookup(t *testing.T) {
	typ := func(n string) Type { return Type{Name: n, New: func() Settings { return noSettings{} }} }
	r := New([]Type{typ("vault"), typ("file")}, []Omitted{{Name: "aws", Tag: "no_aws"}, {Name: "file", Tag: "no_file"}})
	tests := []struct{ name, want string }{
		{"file", ""},
		{"vault", ""},
		{"aws", `backend type "aws" is not in this build (built with -tags no_aws); use the default build or one with aws`},
		{"consul", `unknown backend type "consul" (types: file, vault)`},
		{"", "backend has no type (types: file, vault)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Lookup(tt.name)
			switch {
			case tt.want == "" && (err != nil || got.Name != tt.name):
				t.Errorf("got %v, %v; want type %s", got.Name, err, tt.name)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("got %v, want %s", err, tt.want)
			}
		})
	}
}

func TestEnvAbs(t *testing.T) {
	e := Env{Dir: "/etc/patas"}
	for in, want := range map[string]string{"": "", "/abs/x": "/abs/x", "ca.pem": "/etc/patas/ca.pem"} {
		if got := e.Abs(in); got != want {
			t.Errorf("Abs(%q): got %q, want %q", in, got, want)
		}
	}
}

func TestLoopbackHost(t *testing.T) {
	for h, want := range map[string]bool{"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.1.2.3": true, "::1": true, "[::1]": true, "10.0.0.5": false, "vault": false} {
		if got := LoopbackHost(h); got != want {
			t.Errorf("LoopbackHost(%q): got %v, want %v", h, got, want)
		}
	}
}

func TestDuplicateTypePanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "twice") {
			t.Errorf("got %v, want a panic naming the duplicate", r)
		}
	}()
	typ := Type{Name: "file", New: func() Settings { return noSettings{} }}
	New([]Type{typ, typ}, nil)
}
