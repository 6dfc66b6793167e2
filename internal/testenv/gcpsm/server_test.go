package gcpsm

import (
	"context"
	"testing"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"go.uber.org/goleak"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func client(t *testing.T, s *Server) *secretmanager.Client {
	t.Helper()
	c, err := secretmanager.NewClient(context.Background(), s.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func wantCode(t *testing.T, what string, err error, code codes.Code) {
	t.Helper()
	if got := status.Code(err); got != code {
		t.Fatalf("%s: got %v (%v), want %v", what, got, err, code)
	}
}

// TestDocumentedBehaviour drives the server with the real client the way the service's
// documentation describes, so that other tests can rely on it.
func TestDocumentedBehaviour(t *testing.T) {
	s := Start(t)
	c := client(t, s)
	ctx := context.Background()

	_, err := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/proj-a", SecretId: "db", Secret: &secretmanagerpb.Secret{}})
	wantCode(t, "create without replication", err, codes.InvalidArgument)
	sec, err := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/proj-a", SecretId: "db", Secret: &secretmanagerpb.Secret{
		Replication:    &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}}},
		VersionAliases: map[string]int64{"stable": 1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	num := s.ProjectNumber("proj-a")
	if want := "projects/" + num + "/secrets/db"; sec.Name != want {
		t.Fatalf("secret name: got %s, want %s (project by number)", sec.Name, want)
	}
	_, err = c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/proj-a", SecretId: "db", Secret: sec})
	wantCode(t, "create twice", err, codes.AlreadyExists)
	_, err = c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/proj-a/secrets/db/versions/latest"})
	wantCode(t, "latest of a secret with no versions", err, codes.NotFound)

	for _, d := range []string{"one", "two", "three"} {
		crc := CRC32C([]byte(d))
		v, err := c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: "projects/proj-a/secrets/db", Payload: &secretmanagerpb.SecretPayload{Data: []byte(d), DataCrc32C: &crc}})
		if err != nil || v.State != secretmanagerpb.SecretVersion_ENABLED || !v.ClientSpecifiedPayloadChecksum {
			t.Fatalf("add %s: %v %v", d, v, err)
		}
	}
	bad := int64(1)
	_, err = c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: "projects/proj-a/secrets/db", Payload: &secretmanagerpb.SecretPayload{Data: []byte("x"), DataCrc32C: &bad}})
	wantCode(t, "add with a wrong checksum", err, codes.InvalidArgument)

	access := func(name string) (*secretmanagerpb.AccessSecretVersionResponse, error) {
		return c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: name})
	}
	r, err := access("projects/" + num + "/secrets/db/versions/latest")
	if err != nil || string(r.Payload.Data) != "three" || r.Name != "projects/"+num+"/secrets/db/versions/3" || r.Payload.GetDataCrc32C() != CRC32C([]byte("three")) {
		t.Fatalf("latest by project number: %v %v", r, err)
	}
	if r, err := access("projects/proj-a/secrets/db/versions/stable"); err != nil || string(r.Payload.Data) != "one" {
		t.Fatalf("alias: %v %v", r, err)
	}

	// latest is the newest version even when disabled; Get still works.
	if _, err := c.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: "projects/proj-a/secrets/db/versions/3"}); err != nil {
		t.Fatal(err)
	}
	_, err = access("projects/proj-a/secrets/db/versions/latest")
	wantCode(t, "latest when the newest is disabled", err, codes.FailedPrecondition)
	if v, err := c.GetSecretVersion(ctx, &secretmanagerpb.GetSecretVersionRequest{Name: "projects/proj-a/secrets/db/versions/latest"}); err != nil || v.State != secretmanagerpb.SecretVersion_DISABLED {
		t.Fatalf("get latest: %v %v", v, err)
	}
	if _, err := c.EnableSecretVersion(ctx, &secretmanagerpb.EnableSecretVersionRequest{Name: "projects/proj-a/secrets/db/versions/3"}); err != nil {
		t.Fatal(err)
	}

	// DESTROYED is terminal and drops the data.
	v, err := c.DestroySecretVersion(ctx, &secretmanagerpb.DestroySecretVersionRequest{Name: "projects/proj-a/secrets/db/versions/2"})
	if err != nil || v.State != secretmanagerpb.SecretVersion_DESTROYED || v.DestroyTime == nil {
		t.Fatalf("destroy: %v %v", v, err)
	}
	_, err = c.EnableSecretVersion(ctx, &secretmanagerpb.EnableSecretVersionRequest{Name: "projects/proj-a/secrets/db/versions/2"})
	wantCode(t, "enable a destroyed version", err, codes.FailedPrecondition)
	_, err = access("projects/proj-a/secrets/db/versions/2")
	wantCode(t, "access a destroyed version", err, codes.FailedPrecondition)
	_, err = access("projects/proj-a/secrets/db/versions/9")
	wantCode(t, "a missing version", err, codes.NotFound)
	_, err = access("projects/proj-a/secrets/db")
	wantCode(t, "a malformed name", err, codes.InvalidArgument)

	// Listing: newest first, with pages and a state filter.
	var states []string
	it := c.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{Parent: "projects/proj-a/secrets/db", PageSize: 2})
	for {
		v, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		states = append(states, v.Name[len(v.Name)-1:]+":"+v.State.String())
	}
	if got, want := len(states), 3; got != want || states[0] != "3:ENABLED" || states[1] != "2:DESTROYED" {
		t.Fatalf("list: got %v", states)
	}
	it = c.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{Parent: "projects/proj-a/secrets/db", Filter: "state:DESTROYED"})
	if v, err := it.Next(); err != nil || v.State != secretmanagerpb.SecretVersion_DESTROYED {
		t.Fatalf("filtered list: %v %v", v, err)
	}

	// IAM: denied whether or not the secret exists.
	s.Deny("proj-a", "db")
	_, err = access("projects/proj-a/secrets/db/versions/1")
	wantCode(t, "denied", err, codes.PermissionDenied)
}

func TestRegionalEndpoint(t *testing.T) {
	s := Start(t, Location("us-east4"))
	c := client(t, s)
	ctx := context.Background()
	_, err := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/p/locations/us-east4", SecretId: "r", Secret: &secretmanagerpb.Secret{
		Replication: &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}}},
	}})
	wantCode(t, "regional secret with replication", err, codes.InvalidArgument)
	s.AddVersion(t, "p", "r", []byte("eu"))
	r, err := c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: s.Name("p", "r") + "/versions/latest"})
	if err != nil || r.Name != "projects/"+s.ProjectNumber("p")+"/locations/us-east4/secrets/r/versions/1" {
		t.Fatalf("regional access: %v %v", r, err)
	}
	_, err = c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/p/secrets/r/versions/latest"})
	wantCode(t, "global name on a regional endpoint", err, codes.InvalidArgument)
	_, err = c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/p/locations/us-west1/secrets/r/versions/latest"})
	wantCode(t, "another region's name", err, codes.InvalidArgument)
}

func TestFailAndCalls(t *testing.T) {
	s := Start(t)
	c := client(t, s)
	s.AddVersion(t, "p", "x", []byte("v"))
	s.Fail(codes.Unauthenticated, "no token")
	_, err := c.GetSecretVersion(context.Background(), &secretmanagerpb.GetSecretVersionRequest{Name: "projects/p/secrets/x/versions/1"})
	wantCode(t, "failing", err, codes.Unauthenticated)
	s.Fail(codes.OK, "")
	if _, err := c.GetSecretVersion(context.Background(), &secretmanagerpb.GetSecretVersionRequest{Name: "projects/p/secrets/x/versions/1"}); err != nil {
		t.Fatal(err)
	}
	if got := s.Calls("GetSecretVersion"); got != 2 {
		t.Fatalf("calls: got %d, want 2 (helpers do not count)", got)
	}
}
