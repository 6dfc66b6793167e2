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

func TestFortyFiveSecretsInThreeBatches(t *testing.T) {
	m := testenv.Moto(t)
	awsTestEnv(t)
	seed := newSeeder(t, m.URL)
	var refs []fetcher.Ref
	for i := range 45 {
		name := fmt.Sprintf("patas/s%02d", i)
		seed.secret(name, fmt.Sprintf(`{"value":"canary-%02d"}`, i))
		refs = append(refs, ref(t, "aws:"+name))
	}
	// The same secret asked twice (the engine passes distinct sources, but a ref and the
	// same ref with @AWSCURRENT are one read) is read once.
	refs = append(refs, ref(t, "aws:patas/s07@AWSCURRENT"))
	c, calls, log := newTestClient(t, Options{Endpoint: m.URL})

	rs := c.FetchAll(context.Background(), refs)
	for i, r := range rs {
		want := fmt.Sprintf("canary-%02d", i%45)
		if i == 45 {
			want = "canary-07"
		}
		v, err := r.Secret.Field("value")
		if r.Err != nil || err != nil || reveal(v) != want {
			t.Errorf("%s: got (%d bytes, %v, %v), want its value", refs[i], v.Len(), r.Err, err)
		}
	}
	if got := calls.Ops(); len(got) != 1 || got["BatchGetSecretValue"] != 3 {
		t.Errorf("calls: got %v, want 3 BatchGetSecretValue and nothing else", got)
	}
	assertNoCanary(t, "canary", log.String())
}

func TestMissingSecretInBatch(t *testing.T) {
	m := testenv.Moto(t)
	awsTestEnv(t)
	seed := newSeeder(t, m.URL)
	seed.secret("patas/a", "canary-a")
	seed.secret("patas/b", "canary-b")
	c, calls, log := newTestClient(t, Options{Endpoint: m.URL})

	refs := []fetcher.Ref{ref(t, "aws:patas/a"), ref(t, "aws:patas/gone"), ref(t, "aws:patas/b")}
	rs := c.FetchAll(context.Background(), refs)
	if rs[0].Err != nil || rs[2].Err != nil {
		t.Fatalf("present secrets: got %v, %v, want no error", rs[0].Err, rs[2].Err)
	}
	err := rs[1].Err
	if !errors.Is(err, fetcher.ErrNotFound) || !strings.Contains(err.Error(), `"patas/gone"`) {
		t.Errorf("missing: got %v, want ErrNotFound naming patas/gone", err)
	}
	if n := calls.Count(""); n != 1 {
		t.Errorf("calls: got %d (%v), want 1", n, calls.Ops())
	}
	assertNoCanary(t, "canary", err.Error(), log.String())
}

func TestSecretByARN(t *testing.T) {
	m := testenv.Moto(t)
	awsTestEnv(t)
	seed := newSeeder(t, m.URL)
	seed.secret("patas/by-arn", "canary-arn")
	seed.secret("patas/other", "canary-other")
	d, err := seed.sm.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: strPtr("patas/by-arn")})
	if err != nil {
		t.Fatal(err)
	}
	arn := *d.ARN
	partial := arn[:len(arn)-7] // without "-" and the six random characters
	c, _, _ := newTestClient(t, Options{Endpoint: m.URL})
	for _, id := range []string{arn, partial} {
		rs := c.FetchAll(context.Background(), []fetcher.Ref{ref(t, "aws:"+id), ref(t, "aws:patas/other")})
		if rs[0].Err != nil || reveal(rs[0].Secret.Value) != "canary-arn" {
			t.Errorf("%s: got (%d bytes, %v), want its value", id, rs[0].Secret.Value.Len(), rs[0].Err)
		}
	}
}

// TestCallsPerRefresh measures the AWS calls of one refresh for 1, 20 and 100 secrets, and
// what a version check with DescribeSecret before reading would cost instead.
func TestCallsPerRefresh(t *testing.T) {
	m := testenv.Moto(t)
	awsTestEnv(t)
	for _, n := range []int{1, 20, 100} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			if err := m.Reset(); err != nil {
				t.Fatal(err)
			}
			seed := newSeeder(t, m.URL)
			refs := make([]fetcher.Ref, n)
			for i := range n {
				name := fmt.Sprintf("patas/n%03d", i)
				seed.secret(name, "canary")
				refs[i] = ref(t, "aws:"+name)
			}
			c, calls, _ := newTestClient(t, Options{Endpoint: m.URL})
			want := (n + secretsPerBatch - 1) / secretsPerBatch
			for refresh := 1; refresh <= 2; refresh++ {
				calls.Reset()
				for _, r := range c.FetchAll(context.Background(), refs) {
					if r.Err != nil {
						t.Fatal(r.Err)
					}
				}
				t.Logf("%d secrets, refresh %d: %d calls %v", n, refresh, calls.Count(""), calls.Ops())
				if got := calls.Count(""); got != want {
					t.Errorf("refresh %d: got %d calls, want %d", refresh, got, want)
				}
			}

			// The alternatives: DescribeSecret or ListSecretVersionIds per secret to learn its
			// AWSCURRENT version id, then read only what changed. Counted on the same server.
			calls.Reset()
			check := secretsmanager.NewFromConfig(sdkConfigFor(calls), func(o *secretsmanager.Options) { o.BaseEndpoint = &m.URL })
			for _, r := range refs {
				if _, err := check.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: &r.Path}); err != nil {
					t.Fatal(err)
				}
			}
			for _, r := range refs {
				if _, err := check.ListSecretVersionIds(context.Background(), &secretsmanager.ListSecretVersionIdsInput{SecretId: &r.Path}); err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("%d secrets, version check with nothing changed: %v", n, calls.Ops())
			for _, op := range []string{"DescribeSecret", "ListSecretVersionIds"} {
				if got := calls.Count(op); got < want {
					t.Errorf("%s check: %d calls, fewer than the batch read's %d: reconsider the design", op, got, want)
				}
			}
		})
	}
}

// TestSSMCallsPerRefresh measures the same for SSM parameters: GetParameters takes 10 names.
func TestSSMCallsPerRefresh(t *testing.T) {
	m := testenv.Moto(t)
	awsTestEnv(t)
	for _, n := range []int{1, 20, 100} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			if err := m.Reset(); err != nil {
				t.Fatal(err)
			}
			seed := newSeeder(t, m.URL)
			refs := make([]fetcher.Ref, n)
			for i := range n {
				name := fmt.Sprintf("/patas/n%03d", i)
				seed.param(name, "canary", "SecureString")
				refs[i] = ref(t, "aws:ssm:"+name)
			}
			c, calls, _ := newTestClient(t, Options{Endpoint: m.URL})
			for _, r := range c.FetchAll(context.Background(), refs) {
				if r.Err != nil {
					t.Fatal(r.Err)
				}
			}
			want := (n + namesPerCall - 1) / namesPerCall
			t.Logf("%d SSM parameters: %d calls %v", n, calls.Count(""), calls.Ops())
			if got := calls.Count("GetParameters"); got != want || calls.Count("") != want {
				t.Errorf("got %v, want %d GetParameters", calls.Ops(), want)
			}
		})
	}
}
