package aws

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopMoto()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

const testRegion = "us-east-1"

// awsTestEnv points the SDK's default chain at static test keys and away from the
// machine's own AWS configuration.
func awsTestEnv(t *testing.T) {
	t.Helper()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":                      "AKIDTESTENV",
		"AWS_SECRET_ACCESS_KEY":                  "test",
		"AWS_SESSION_TOKEN":                      "",
		"AWS_REGION":                             testRegion,
		"AWS_DEFAULT_REGION":                     "",
		"AWS_PROFILE":                            "",
		"AWS_CONFIG_FILE":                        t.TempDir() + "/config",
		"AWS_SHARED_CREDENTIALS_FILE":            t.TempDir() + "/credentials",
		"AWS_EC2_METADATA_DISABLED":              "true",
		"AWS_ENDPOINT_URL":                       "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN":      "",
		"AWS_WEB_IDENTITY_TOKEN_FILE":            "",
		"AWS_ROLE_ARN":                           "",
		"AWS_CA_BUNDLE":                          "", // the machine may set one; the SDK cannot add it to a test HTTP client
	} {
		t.Setenv(k, v)
		if v == "" {
			_ = os.Unsetenv(k)
		}
	}
}

// newTestClient builds the backend the way main does, against moto, with every request
// recorded.
func newTestClient(t *testing.T, o Options) (*Client, *testenv.AWSCalls, *logBuffer) {
	t.Helper()
	calls := testenv.NewAWSCalls()
	t.Cleanup(calls.Close)
	o.HTTPClient = calls.Client()
	log := newLogBuffer()
	c, err := New(context.Background(), o, log.Logger())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, calls, log
}

// seeder writes test data into moto with plain SDK clients.
type seeder struct {
	t  *testing.T
	sm *secretsmanager.Client
	ps *ssm.Client
}

func newSeeder(t *testing.T, url string) *seeder {
	calls := testenv.NewAWSCalls() // only for its closable transport
	t.Cleanup(calls.Close)
	cfg := sdkaws.Config{
		Region:      testRegion,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDSEED", "test", ""),
		HTTPClient:  calls.Client(),
	}
	return &seeder{
		t:  t,
		sm: secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = &url }),
		ps: ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = &url }),
	}
}

// secret creates a string secret and returns its version id.
func (s *seeder) secret(name, value string) string {
	s.t.Helper()
	out, err := s.sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: &name, SecretString: &value})
	if err != nil {
		s.t.Fatalf("CreateSecret %s: %v", name, err)
	}
	return sdkaws.ToString(out.VersionId)
}

// put stores a new version, which becomes AWSCURRENT, and returns its version id.
func (s *seeder) put(name, value string) string {
	s.t.Helper()
	out, err := s.sm.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: &name, SecretString: &value})
	if err != nil {
		s.t.Fatalf("PutSecretValue %s: %v", name, err)
	}
	return sdkaws.ToString(out.VersionId)
}

func (s *seeder) param(name, value, typ string) {
	s.t.Helper()
	_, err := s.ps.PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: &name, Value: &value, Type: ssmtypes.ParameterType(typ), Overwrite: sdkaws.Bool(true),
	})
	if err != nil {
		s.t.Fatalf("PutParameter %s: %v", name, err)
	}
}

func ref(t *testing.T, s string) fetcher.Ref {
	t.Helper()
	r, err := fetcher.ParseRef(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func reveal(v fetcher.Value) string { return string(v.Reveal()) }

// logBuffer is a debug-level JSON log kept in memory, to check that no value leaks into it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func newLogBuffer() *logBuffer { return &logBuffer{} }

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) Sync() error { return nil }

func (l *logBuffer) Logger() *zap.Logger {
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	return zap.New(zapcore.NewCore(enc, l, zap.DebugLevel))
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// assertNoCanary fails when any of the texts holds a canary value.
func assertNoCanary(t *testing.T, canary string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, canary) {
			t.Errorf("a secret value leaked into %q", s)
		}
	}
}

func secretBinaryInput(name string, b []byte) *secretsmanager.CreateSecretInput {
	return &secretsmanager.CreateSecretInput{Name: &name, SecretBinary: b}
}

func strPtr(s string) *string { return &s }

// sdkConfigFor is a plain SDK configuration with static keys sending through calls.
func sdkConfigFor(calls *testenv.AWSCalls) sdkaws.Config {
	return sdkaws.Config{
		Region:      testRegion,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDCHECK", "test", ""),
		HTTPClient:  calls.Client(),
	}
}
