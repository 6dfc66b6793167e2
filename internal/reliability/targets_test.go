package reliability

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/patas/patas-secrets/fetcher"
	awsfetcher "github.com/patas/patas-secrets/fetcher/aws"
	"github.com/patas/patas-secrets/fetcher/gcp"
	"github.com/patas/patas-secrets/fetcher/vault"
	"github.com/patas/patas-secrets/internal/testenv"
	"github.com/patas/patas-secrets/internal/testenv/faultproxy"
	"github.com/patas/patas-secrets/internal/testenv/gcpsm"
)

// target is one real server behind a fault proxy, and the backend that reads it through
// the proxy.
type target struct {
	name    string
	proxy   *faultproxy.Proxy
	backend fetcher.Backend
	// yaml is the backend's config entry (its address is the proxy's).
	yaml string
	// ref reads the one secret the tests rotate.
	ref string
	// rotate stores a new value straight in the server (not through the proxy).
	rotate func(t *testing.T, value string)
	// env is what the patas-secrets binary needs in its environment for this backend.
	env []string
	// http tells whether the proxy understands requests (5xx, 429, truncate apply).
	http bool
}

func vaultTarget(t *testing.T, l *logs) target {
	t.Helper()
	v := testenv.StartVault(t)
	p := faultproxy.HTTP(t, v.Addr)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(v.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := vault.New(vault.Options{Address: p.URL, Auth: vault.Auth{TokenFile: tokenFile}}, l.log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return target{
		name: "vault", proxy: p, backend: c, http: true,
		yaml: `vault: {type: vault, address: "` + p.URL + `", auth: {method: token, token_file: "` + tokenFile + `"}}`,
		ref:  "vault:secret/patas#api_key",
		rotate: func(t *testing.T, value string) {
			v.CLI(t, "kv", "put", "secret/patas", "api_key="+value)
		},
	}
}

func awsTarget(t *testing.T, l *logs) target {
	t.Helper()
	m := testenv.Moto(t)
	p := faultproxy.HTTP(t, m.URL)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := awsfetcher.New(context.Background(), awsfetcher.Options{Region: "us-east-1", Endpoint: p.URL, HTTPClient: &http.Client{Transport: tr}}, l.log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	seedTr := &http.Transport{}
	t.Cleanup(seedTr.CloseIdleConnections)
	sm := secretsmanager.NewFromConfig(sdkaws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		HTTPClient:  &http.Client{Transport: seedTr},
	}, func(o *secretsmanager.Options) { o.BaseEndpoint = sdkaws.String(m.URL) })
	created := false
	return target{
		name: "aws", proxy: p, backend: c, http: true,
		yaml: `aws: {type: aws, region: us-east-1, endpoint: "` + p.URL + `"}`,
		ref:  "aws:patas/api_key",
		rotate: func(t *testing.T, value string) {
			t.Helper()
			ctx := context.Background()
			var err error
			if !created {
				_, err = sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: sdkaws.String("patas/api_key"), SecretString: sdkaws.String(value)})
				created = err == nil
			} else {
				_, err = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: sdkaws.String("patas/api_key"), SecretString: sdkaws.String(value)})
			}
			if err != nil {
				t.Fatalf("seeding moto: %v", err)
			}
		},
	}
}

func gcpTarget(t *testing.T, l *logs) target {
	t.Helper()
	srv := gcpsm.Start(t)
	p := faultproxy.TCP(t, srv.Addr)
	c, err := gcp.New(context.Background(), gcp.Options{Project: "my-project", Endpoint: p.Addr, Insecure: true}, l.log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return target{
		name: "gcp", proxy: p, backend: c,
		yaml: `gcp: {type: gcp, project: my-project, endpoint: "` + p.Addr + `", insecure: true}`,
		ref:  "gcp:patas-api-key",
		rotate: func(t *testing.T, value string) {
			srv.AddVersion(t, "my-project", "patas-api-key", []byte(value))
		},
	}
}
