package gcp

import (
	"context"
	"encoding/base64"
	"os"
	"strings"
	"testing"

	"go.uber.org/zap"
	"google.golang.org/api/option"

	"github.com/patas/patas-secrets/internal/testenv/gcpsm"
)

// The client library logs whole responses, payloads included, to stderr when
// GOOGLE_SDK_GO_LOGGING_LEVEL=debug. The backend gives it a logger of its own so that an
// operator turning that on while debugging does not print secrets. The control case (the
// library's own logger, restored through ClientOptions) shows the test can see a leak.
func TestLibraryDebugLoggingNeverPrintsPayloads(t *testing.T) {
	t.Setenv("GOOGLE_SDK_GO_LOGGING_LEVEL", "debug")
	srv := gcpsm.Start(t)
	srv.AddVersion(t, "p", "s", []byte(canary))

	stderrOf := func(extra ...option.ClientOption) string {
		t.Helper()
		f, err := os.CreateTemp(t.TempDir(), "stderr")
		if err != nil {
			t.Fatal(err)
		}
		saved := os.Stderr
		os.Stderr = f
		defer func() { os.Stderr = saved }()
		b, err := New(context.Background(), Options{Project: "p", Endpoint: srv.Addr, Insecure: true, ClientOptions: extra}, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if _, err := b.Fetch(context.Background(), ref(t, "gcp:s")); err != nil {
			t.Fatal(err)
		}
		out, _ := os.ReadFile(f.Name())
		return string(out)
	}

	encoded := base64.StdEncoding.EncodeToString([]byte(canary))
	if out := stderrOf(option.WithLogger(nil)); !strings.Contains(out, encoded) {
		t.Fatalf("control: the library's own logger did not print the payload, so this test cannot see a leak; stderr: %.300q", out)
	}
	if out := stderrOf(); strings.Contains(out, encoded) || strings.Contains(out, canary) || strings.Contains(out, "AccessSecretVersion") {
		t.Fatalf("the library logged a response: %.300q", out)
	}
}
