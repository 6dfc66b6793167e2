package aws

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/testenv"
)

// The guide's secret: SecretId='patas/production', a JSON object whose keys become PATAS's
// variables.
const patasProduction = `{"database_url": "postgresql+asyncpg://patas:canary-db-7f3a@db:5432/patas",
 "api_keys": "canary-key-1,canary-key-2", "llm_api_key": "canary-sk-llm-9c1e"}`

func TestPatasProductionJSON(t *testing.T) {
	m := testenv.Moto(t)
	awsTestEnv(t)
	version := newSeeder(t, m.URL).secret("patas/production", patasProduction)
	c, calls, log := newTestClient(t, Options{Endpoint: m.URL})

	s, err := c.Fetch(context.Background(), ref(t, "aws:patas/production"))
	if err != nil {
		t.Fatal(err)
	}
	if got := reveal(s.Value); got != patasProduction {
		t.Errorf("Value: got %d bytes, want the whole SecretString (%d bytes)", len(got), len(patasProduction))
	}
	want := map[string]string{
		"database_url": "postgresql+asyncpg://patas:canary-db-7f3a@db:5432/patas",
		"api_keys":     "canary-key-1,canary-key-2",
		"llm_api_key":  "canary-sk-llm-9c1e",
	}
	if got := s.Keys(); len(got) != len(want) {
		t.Errorf("keys: got %v, want %d keys", got, len(want))
	}
	for k, w := range want {
		v, err := s.Field(k)
		if err != nil || reveal(v) != w {
			t.Errorf("field %s: got (%d bytes, %v), want its value", k, v.Len(), err)
		}
	}
	if s.Version != version {
		t.Errorf("Version: got %q, want %q", s.Version, version)
	}
	if s.Created.IsZero() {
		t.Error("Created: got zero, want the version's creation date")
	}
	if n := calls.Count(""); n != 1 {
		t.Errorf("calls: got %d (%v), want 1", n, calls.Ops())
	}
	assertNoCanary(t, "canary", log.String(), fmt.Sprintf("%v %+v %#v", s, s, s))
}

func TestVersionsAndStages(t *testing.T) {
	m := testenv.Moto(t)
	awsTestEnv(t)
	seed := newSeeder(t, m.URL)
	v1 := seed.secret("patas/rotating", "canary-old")
	v2 := seed.put("patas/rotating", "canary-new")
	c, calls, _ := newTestClient(t, Options{Endpoint: m.URL})

	for _, tc := range []struct{ ref, want, version string }{
		{"aws:patas/rotating", "canary-new", v2},
		{"aws:patas/rotating@AWSCURRENT", "canary-new", v2},
		{"aws:patas/rotating@AWSPREVIOUS", "canary-old", v1},
		{"aws:patas/rotating@" + v1, "canary-old", v1},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			s, err := c.Fetch(context.Background(), ref(t, tc.ref))
			if err != nil {
				t.Fatal(err)
			}
			if got := reveal(s.Value); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if s.Version != tc.version {
				t.Errorf("Version: got %q, want %q", s.Version, tc.version)
			}
		})
	}

	t.Run("a pinned version id is read once", func(t *testing.T) {
		calls.Reset()
		if _, err := c.Fetch(context.Background(), ref(t, "aws:patas/rotating@"+v1)); err != nil {
			t.Fatal(err)
		}
		if n := calls.Count(""); n != 0 {
			t.Errorf("calls: got %d (%v), want 0", n, calls.Ops())
		}
	})
	t.Run("a missing stage is not found", func(t *testing.T) {
		_, err := c.Fetch(context.Background(), ref(t, "aws:patas/rotating@AWSPENDING"))
		if !errors.Is(err, fetcher.ErrNotFound) {
			t.Errorf("got %v, want ErrNotFound", err)
		}
	})
}

func TestBinarySecret(t *testing.T) {
	m := testenv.Moto(t)
	awsTestEnv(t)
	seed := newSeeder(t, m.URL)
	name, payload := "patas/tls-key", []byte{0, 1, 2, 0xff, 'c', 'a', 'n', 'a', 'r', 'y'}
	if _, err := seed.sm.CreateSecret(context.Background(), secretBinaryInput(name, payload)); err != nil {
		t.Fatal(err)
	}
	seed.secret("patas/other", "canary-other") // so that the two go through a batch
	c, calls, _ := newTestClient(t, Options{Endpoint: m.URL})

	rs := c.FetchAll(context.Background(), []fetcher.Ref{ref(t, "aws:"+name), ref(t, "aws:patas/other")})
	if rs[0].Err != nil || rs[1].Err != nil {
		t.Fatal(rs[0].Err, rs[1].Err)
	}
	if got := rs[0].Secret.Value.Reveal(); string(got) != string(payload) {
		t.Errorf("binary: got %x, want %x", got, payload)
	}
	if rs[0].Secret.Data != nil {
		t.Error("Data: got fields, want nil for a non-JSON payload")
	}
	if n := calls.Count("BatchGetSecretValue"); n != 1 {
		t.Errorf("BatchGetSecretValue calls: got %d (%v), want 1", n, calls.Ops())
	}
}

func TestSSM(t *testing.T) {
	m := testenv.Moto(t)
	awsTestEnv(t)
	seed := newSeeder(t, m.URL)
	seed.param("/patas/prod/database_url", "postgresql://canary-ssm-db", "String")
	seed.param("/patas/prod/llm/api_key", "canary-ssm-secure", "SecureString")
	seed.param("/patas/prod/api_keys", "canary-a,canary-b", "StringList")
	seed.param("/patas/staging/database_url", "postgresql://staging", "String")
	seed.param("/patas/json", `{"user":"patas","password":"canary-json"}`, "SecureString")
	seed.param("/patas/versioned", "canary-v1", "String")
	seed.param("/patas/versioned", "canary-v2", "String")
	c, calls, log := newTestClient(t, Options{Endpoint: m.URL})

	refs := []fetcher.Ref{
		ref(t, "aws:ssm:/patas/prod/database_url"),
		ref(t, "aws:ssm:/patas/prod/llm/api_key"),
		ref(t, "aws:ssm:/patas/prod/"),
		ref(t, "aws:ssm:/patas/json"),
		ref(t, "aws:ssm:/patas/versioned"),
		ref(t, "aws:ssm:/patas/versioned@1"),
		ref(t, "aws:ssm:/patas/missing"),
	}
	rs := c.FetchAll(context.Background(), refs)
	for i, want := range []string{"postgresql://canary-ssm-db", "canary-ssm-secure"} {
		if rs[i].Err != nil || reveal(rs[i].Secret.Value) != want {
			t.Errorf("%s: got (%d bytes, %v), want its value", refs[i], rs[i].Secret.Value.Len(), rs[i].Err)
		}
	}
	if rs[1].Secret.Version != "1" {
		t.Errorf("%s: Version got %q, want 1", refs[1], rs[1].Secret.Version)
	}

	path := rs[2]
	if path.Err != nil {
		t.Fatalf("path: %v", path.Err)
	}
	wantPath := map[string]string{
		"database_url": "postgresql://canary-ssm-db",
		"llm/api_key":  "canary-ssm-secure",
		"api_keys":     "canary-a,canary-b",
	}
	if got := path.Secret.Keys(); strings.Join(got, ",") != "api_keys,database_url,llm/api_key" {
		t.Errorf("path keys: got %v, want api_keys, database_url, llm/api_key", got)
	}
	for k, w := range wantPath {
		if v, err := path.Secret.Field(k); err != nil || reveal(v) != w {
			t.Errorf("path key %s: got (%d bytes, %v), want its value", k, v.Len(), err)
		}
	}

	if v, err := rs[3].Secret.Field("password"); err != nil || reveal(v) != "canary-json" {
		t.Errorf("JSON parameter: got (%d bytes, %v), want the password field", v.Len(), err)
	}
	if got := reveal(rs[4].Secret.Value); got != "canary-v2" || rs[4].Secret.Version != "2" {
		t.Errorf("latest: got %q version %s, want canary-v2 version 2", got, rs[4].Secret.Version)
	}
	if rs[5].Err != nil || reveal(rs[5].Secret.Value) != "canary-v1" {
		t.Errorf("@1: got (%d bytes, %v), want canary-v1", rs[5].Secret.Value.Len(), rs[5].Err)
	}
	if err := rs[6].Err; !errors.Is(err, fetcher.ErrNotFound) || !strings.Contains(err.Error(), "/patas/missing") {
		t.Errorf("missing: got %v, want ErrNotFound naming /patas/missing", err)
	}
	// 5 names in one GetParameters call, the pinned version alone, one page of the path.
	if got, want := calls.Ops(), map[string]int{"GetParameter": 1, "GetParameters": 1, "GetParametersByPath": 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("calls: got %v, want %v", got, want)
	}
	var errs []string
	for _, r := range rs {
		if r.Err != nil {
			errs = append(errs, r.Err.Error())
		}
	}
	assertNoCanary(t, "canary", append(errs, log.String())...)

	t.Run("an empty path is not found", func(t *testing.T) {
		_, err := c.Fetch(context.Background(), ref(t, "aws:ssm:/nothing/here/"))
		if !errors.Is(err, fetcher.ErrNotFound) {
			t.Errorf("got %v, want ErrNotFound", err)
		}
	})
}

func TestSSMPathPages(t *testing.T) {
	m := testenv.Moto(t)
	awsTestEnv(t)
	seed := newSeeder(t, m.URL)
	for i := range 25 {
		seed.param(fmt.Sprintf("/patas/many/k%02d", i), fmt.Sprintf("canary-%d", i), "SecureString")
	}
	c, calls, _ := newTestClient(t, Options{Endpoint: m.URL})
	s, err := c.Fetch(context.Background(), ref(t, "aws:ssm:/patas/many/"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.Data); n != 25 {
		t.Errorf("keys: got %d, want 25", n)
	}
	if n := calls.Count("GetParametersByPath"); n != 3 {
		t.Errorf("pages: got %d, want 3 (10 parameters per page)", n)
	}
}

// TestDeletedSecret: a secret scheduled for deletion is not found, alone and in a batch.
func TestDeletedSecret(t *testing.T) {
	m := testenv.Moto(t)
	awsTestEnv(t)
	seed := newSeeder(t, m.URL)
	seed.secret("patas/deleted", "canary-deleted")
	seed.secret("patas/kept", "canary-kept")
	if _, err := seed.sm.DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{SecretId: strPtr("patas/deleted")}); err != nil {
		t.Fatal(err)
	}
	c, _, _ := newTestClient(t, Options{Endpoint: m.URL})
	_, err := c.Fetch(context.Background(), ref(t, "aws:patas/deleted"))
	if !errors.Is(err, fetcher.ErrNotFound) {
		t.Errorf("alone: got %v, want ErrNotFound", err)
	}
	rs := c.FetchAll(context.Background(), []fetcher.Ref{ref(t, "aws:patas/deleted"), ref(t, "aws:patas/kept")})
	if !errors.Is(rs[0].Err, fetcher.ErrNotFound) || rs[1].Err != nil {
		t.Errorf("batch: got %v, %v, want ErrNotFound and the kept secret", rs[0].Err, rs[1].Err)
	}
}
