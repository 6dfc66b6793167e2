package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/patas/patas-secrets/internal/testenv"
)

// The new-pod-mid-window end-to-end test of issue 15: API_KEYS is rotated in a backend that
// keeps versions; a sidecar that never saw the old value (fresh output directory, fresh
// state_dir) runs `once` inside the overlap window and must write both keys, read from the
// backend's own history; once the window has passed, a fresh `once` writes only the new key.

const (
	midOldKeys = "old:ns"
	midNewKeys = "new:ns"
)

// overlapBackend is one real backend holding API_KEYS, already rotated once.
type overlapBackend struct {
	yaml    string   // the backends: block
	ref     string   // the API_KEYS ref
	env     []string // the binary's environment
	created func() time.Time
}

// TestOverlapMidWindowVault: Vault KV v2 secret/patas, rotated by a second `vault kv put`.
func TestOverlapMidWindowVault(t *testing.T) {
	v := testenv.StartVault(t)
	v.CLI(t, "kv", "put", "secret/patas", "api_keys="+midOldKeys)
	v.CLI(t, "kv", "put", "secret/patas", "api_keys="+midNewKeys)
	checkOverlapMidWindow(t, overlapBackend{
		yaml: "backends: {vault: {type: vault, address: " + v.Addr + ", auth: {method: token}}}\n",
		ref:  "vault:secret/patas#api_keys",
		env:  []string{"VAULT_TOKEN=" + v.Token},
		created: func() time.Time {
			var out struct {
				Data struct {
					Metadata struct {
						CreatedTime time.Time `json:"created_time"`
						Version     int       `json:"version"`
					} `json:"metadata"`
				} `json:"data"`
			}
			if err := json.Unmarshal([]byte(v.CLI(t, "kv", "get", "-format=json", "secret/patas")), &out); err != nil {
				t.Fatal(err)
			}
			if out.Data.Metadata.Version != 2 || out.Data.Metadata.CreatedTime.IsZero() {
				t.Fatalf("secret/patas: current version %d created %v, want version 2 with a time", out.Data.Metadata.Version, out.Data.Metadata.CreatedTime)
			}
			return out.Data.Metadata.CreatedTime
		},
	})
}

// TestOverlapMidWindowMoto: a Secrets Manager secret with a JSON key api_keys on moto,
// rotated by PutSecretValue (which moves AWSPREVIOUS to the old version).
func TestOverlapMidWindowMoto(t *testing.T) {
	m := testenv.Moto(t)
	ctx := context.Background()
	sm := secretsmanager.New(secretsmanager.Options{
		Region: "us-east-1", BaseEndpoint: sdkaws.String(m.URL),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	const name = "patas/production"
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: sdkaws.String(name), SecretString: sdkaws.String(`{"api_keys": "` + midOldKeys + `"}`),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: sdkaws.String(name), SecretString: sdkaws.String(`{"api_keys": "` + midNewKeys + `"}`),
	}); err != nil {
		t.Fatal(err)
	}
	checkOverlapMidWindow(t, overlapBackend{
		yaml: "backends: {aws: {type: aws, region: us-east-1, endpoint: " + m.URL + "}}\n",
		ref:  "aws:" + name + "#api_keys",
		env:  []string{"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_EC2_METADATA_DISABLED=true"},
		created: func() time.Time {
			out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: sdkaws.String(name)})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(sdkaws.ToString(out.SecretString), midNewKeys) || out.CreatedDate == nil {
				t.Fatalf("%s: AWSCURRENT is not the rotated version with a creation date", name)
			}
			return *out.CreatedDate
		},
	})
}

func checkOverlapMidWindow(t *testing.T, b overlapBackend) {
	// Inside the window: a sidecar with nothing remembered writes previous then current.
	if got := freshOnce(t, b, "60s"); got != midOldKeys+","+midNewKeys {
		t.Errorf("mid-window, fresh volume and state: API_KEYS=%q, want %q", got, midOldKeys+","+midNewKeys)
	}

	// After the window: wait until the current version is older than 2 s (the backend's own
	// creation time against this machine's clock, with a margin), then a fresh sidecar.
	created := b.created()
	deadline := time.Now().Add(30 * time.Second)
	for time.Since(created) <= 2500*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatalf("the current version (created %v) never got 2.5 s old by this clock", created)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := freshOnce(t, b, "2s"); got != midNewKeys {
		t.Errorf("after the window, fresh volume and state: API_KEYS=%q, want %q", got, midNewKeys)
	}
}

var apiKeysLine = regexp.MustCompile(`(?m)^API_KEYS='([^']*)'$`)

// freshOnce runs `once` with the given overlap into a new project directory (new output,
// new state_dir) and returns the API_KEYS it wrote.
func freshOnce(t *testing.T, b overlapBackend, overlap string) string {
	t.Helper()
	dir := project(t, b.yaml+`secrets:
  - env: API_KEYS
    ref: "`+b.ref+`"
    overlap: `+overlap+`
outputs: [{format: dotenv, path: out/secrets.env}]
listen: "off"
`, nil)
	cfg := filepath.Join(dir, "patas.yaml")
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString("state_dir: " + filepath.Join(dir, "state") + "\n")
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	r := runBin(t, b.env, "once", "--log-level", "debug", "--config", cfg)
	if r.code != 0 {
		t.Fatalf("once (overlap %s): %+v", overlap, r)
	}
	if strings.Contains(r.stdout+r.stderr, midOldKeys) || strings.Contains(r.stdout+r.stderr, midNewKeys) {
		t.Errorf("once (overlap %s) logged a key:\n%s", overlap, r.stderr)
	}
	out, err := os.ReadFile(filepath.Join(dir, "out", "secrets.env"))
	if err != nil {
		t.Fatal(err)
	}
	m := apiKeysLine.FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("once (overlap %s) wrote no API_KEYS line:\n%s", overlap, out)
	}
	return m[1]
}
