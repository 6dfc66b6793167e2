package aws

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patas/patas-secrets/internal/testenv"
)

// TestContainerCredentials is the ECS task-role path: the SDK's default chain fetches keys
// from the container credentials endpoint, sending the authorization token, and signs the
// Secrets Manager request with them.
func TestContainerCredentials(t *testing.T) {
	m := testenv.Moto(t)
	awsTestEnv(t)
	newSeeder(t, m.URL).secret("patas/production", patasProduction)

	const token = "ecs-agent-token-4b1d"
	var mu sync.Mutex
	var gotAuth []string
	creds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gotAuth = append(gotAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		if r.URL.Path != "/creds" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{
			"AccessKeyId":     "ASIACONTAINERTASK",
			"SecretAccessKey": "container-secret",
			"Token":           "container-session-token",
			"Expiration":      time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		})
	}))
	t.Cleanup(creds.Close)
	// The task's environment on ECS (with a full URI, as ECS Anywhere and EKS Pod Identity
	// use it): no static keys.
	unsetenv(t, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", creds.URL+"/creds")
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", token)

	c, calls, _ := newTestClient(t, Options{Endpoint: m.URL})
	if _, err := c.Fetch(context.Background(), ref(t, "aws:patas/production")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(gotAuth) == 0 || gotAuth[0] != token {
		t.Errorf("credentials endpoint Authorization: got %q, want the token", gotAuth)
	}
	cs := calls.Calls()
	var signed int
	for _, x := range cs {
		if x.Op == "GetSecretValue" && x.AccessKey == "ASIACONTAINERTASK" && x.SecurityToken == "container-session-token" {
			signed++
		}
	}
	if signed != 1 {
		t.Errorf("GetSecretValue signed with the container's keys: got %d of %+v, want 1", signed, cs)
	}
}

// TestAssumeRole checks that role_arn is assumed through STS and its keys sign the reads.
func TestAssumeRole(t *testing.T) {
	m := testenv.Moto(t)
	awsTestEnv(t)
	newSeeder(t, m.URL).secret("patas/production", patasProduction)
	c, calls, _ := newTestClient(t, Options{Endpoint: m.URL, RoleARN: "arn:aws:iam::123456789012:role/patas-secrets"})
	if _, err := c.Fetch(context.Background(), ref(t, "aws:patas/production")); err != nil {
		t.Fatal(err)
	}
	cs := calls.Calls()
	if len(cs) != 2 || cs[0].Op != "AssumeRole" || cs[0].AccessKey != "AKIDTESTENV" {
		t.Fatalf("calls: got %+v, want AssumeRole signed with the environment's key, then GetSecretValue", cs)
	}
	if k := cs[1].AccessKey; k == "AKIDTESTENV" || k == "" || cs[1].SecurityToken == "" {
		t.Errorf("GetSecretValue signed with %q (token %t), want the assumed role's temporary keys", k, cs[1].SecurityToken != "")
	}
}

// TestEndpointFromEnvironment checks that without endpoint in the config the SDK's own
// AWS_ENDPOINT_URL applies.
func TestEndpointFromEnvironment(t *testing.T) {
	m := testenv.Moto(t)
	awsTestEnv(t)
	newSeeder(t, m.URL).secret("patas/production", patasProduction)
	t.Setenv("AWS_ENDPOINT_URL", m.URL)
	c, _, _ := newTestClient(t, Options{})
	if _, err := c.Fetch(context.Background(), ref(t, "aws:patas/production")); err != nil {
		t.Fatal(err)
	}
}

func TestNoRegion(t *testing.T) {
	awsTestEnv(t)
	unsetenv(t, "AWS_REGION")
	_, err := New(context.Background(), Options{}, nil)
	if err == nil || !strings.Contains(err.Error(), "region") {
		t.Errorf("got %v, want an error about the missing region", err)
	}
}

// unsetenv removes variables for the rest of t (t.Setenv first, so that they are restored).
func unsetenv(t *testing.T, names ...string) {
	for _, n := range names {
		t.Setenv(n, "")
		_ = os.Unsetenv(n)
	}
}

// TestProfile checks that profile picks keys and region from the shared files.
func TestProfile(t *testing.T) {
	m := testenv.Moto(t)
	awsTestEnv(t)
	newSeeder(t, m.URL).secret("patas/production", patasProduction)
	dir := t.TempDir()
	writeFile(t, dir+"/config", "[profile patas]\nregion = us-east-1\n")
	writeFile(t, dir+"/credentials", "[patas]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = test\n")
	t.Setenv("AWS_CONFIG_FILE", dir+"/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/credentials")
	unsetenv(t, "AWS_REGION")

	c, calls, _ := newTestClient(t, Options{Endpoint: m.URL, Profile: "patas"})
	if _, err := c.Fetch(context.Background(), ref(t, "aws:patas/production")); err != nil {
		t.Fatal(err)
	}
	if cs := calls.Calls(); len(cs) != 1 || cs[0].AccessKey != "AKIDPROFILE" {
		t.Errorf("calls: got %+v, want one signed with the profile's key", cs)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestWebIdentity is the EKS IRSA path: the webhook's AWS_ROLE_ARN and
// AWS_WEB_IDENTITY_TOKEN_FILE, exchanged with AssumeRoleWithWebIdentity (moto's STS, reached
// through the SDK's own AWS_ENDPOINT_URL_STS), whose keys sign the reads.
func TestWebIdentity(t *testing.T) {
	m := testenv.Moto(t)
	awsTestEnv(t)
	newSeeder(t, m.URL).secret("patas/production", patasProduction)
	token := t.TempDir() + "/token"
	writeFile(t, token, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6cGF0YXM6cGF0YXMifQ.c2ln")
	unsetenv(t, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
	t.Setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/patas-irsa")
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", token)
	t.Setenv("AWS_ENDPOINT_URL_STS", m.URL)

	c, calls, _ := newTestClient(t, Options{Endpoint: m.URL})
	if _, err := c.Fetch(context.Background(), ref(t, "aws:patas/production")); err != nil {
		t.Fatal(err)
	}
	cs := calls.Calls()
	if len(cs) != 2 || cs[0].Op != "AssumeRoleWithWebIdentity" || cs[1].AccessKey == "" || cs[1].SecurityToken == "" {
		t.Errorf("calls: got %+v, want AssumeRoleWithWebIdentity, then GetSecretValue signed with its temporary keys", cs)
	}
}
