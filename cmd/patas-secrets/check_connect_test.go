package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/patas/patas-secrets/internal/testenv"
)

// TestCheckConnectAgainstMoto resolves the guide's patas/production secret from a real AWS
// emulator with check --connect: names printed, values never, nothing written.
func TestCheckConnectAgainstMoto(t *testing.T) {
	const canary = "CANARY-connect-aws-77"
	moto := testenv.Moto(t)
	sm := secretsmanager.New(secretsmanager.Options{
		Region: "eu-west-1", BaseEndpoint: sdkaws.String(moto.URL),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	_, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name:         sdkaws.String("patas/production"),
		SecretString: sdkaws.String(`{"database_url": "postgresql+asyncpg://patas:` + canary + `@db/patas", "api_keys": "` + canary + `:ns", "llm_api_key": "sk-` + canary + `"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := project(t, `backends:
  aws: {type: aws, region: eu-west-1, endpoint: `+moto.URL+`}
secrets:
  - ref: aws:patas/production
    expand: true
  - env: MISSING_OK
    ref: aws:patas/nope
    optional: true
outputs: [{format: dotenv, path: out.env}]
`, nil)
	env := []string{"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_EC2_METADATA_DISABLED=true"}
	r := runBin(t, env, "check", "--connect", "--log-level", "debug", "--config", filepath.Join(dir, "patas.yaml"))
	if r.code != 0 || !strings.Contains(r.stdout, "[API_KEYS DATABASE_URL LLM_API_KEY]") {
		t.Fatalf("check --connect: got %+v", r)
	}
	if strings.Contains(r.stdout+r.stderr, canary) {
		t.Errorf("check --connect printed a value")
	}

	// A secret that is not there: the entry and the secret are named, exit 1.
	dir = project(t, "backends: {aws: {type: aws, region: eu-west-1, endpoint: "+moto.URL+"}}\nsecrets: [{env: A, ref: 'aws:patas/absent'}]\noutputs: [{format: dotenv, path: out.env}]\n", nil)
	r = runBin(t, env, "check", "--connect", "--config", filepath.Join(dir, "patas.yaml"))
	if r.code != exitFailed || !strings.Contains(r.stderr, "secrets[0] (A)") || !strings.Contains(r.stderr, "patas/absent") {
		t.Errorf("missing secret: got %+v, want exit 1 naming secrets[0] (A) and patas/absent", r)
	}
}
