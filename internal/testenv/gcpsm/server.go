package gcpsm

import (
	"context"
	"errors"
	"hash/crc32"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Server is one running Secret Manager endpoint: the global one, or a regional one when
// started with Location.
type Server struct {
	secretmanagerpb.UnimplementedSecretManagerServiceServer

	// Addr is host:port on 127.0.0.1, for option.WithEndpoint or a config's endpoint.
	Addr string
	// Location is the region this endpoint serves ("" for the global endpoint).
	Location string

	tls         *tlsConfig // set by TLS
	requireAuth bool       // set by RequireAuth

	mu          sync.Mutex
	lastAuth    string             // authorization metadata of the last call
	projects    map[string]string  // project id -> project number
	ids         map[string]string  // project number -> project id
	secrets     map[string]*secret // canonical name (project id) -> secret
	denied      map[string]bool    // canonical secret names that refuse every caller
	failure     error              // returned by every call while set
	calls       map[string]int     // calls per method name ("AccessSecretVersion")
	inFlight    int
	maxInFlight int
}

type secret struct {
	created  time.Time
	labels   map[string]string
	aliases  map[string]int64
	versions []*version // versions[i] is version i+1
	replic   *secretmanagerpb.Replication
}

type version struct {
	created   time.Time
	destroyed time.Time
	state     secretmanagerpb.SecretVersion_State
	data      []byte
	crc       *int64 // nil: no checksum stored (CMEK versions created before July 2021)
	clientCRC bool
}

// Option configures a Server before it starts.
type Option func(*Server)

// Location makes the server a regional endpoint (secretmanager.LOCATION.rep.googleapis.com):
// it serves only projects/*/locations/LOCATION/… names.
func Location(loc string) Option { return func(s *Server) { s.Location = loc } }

// Start runs a server on 127.0.0.1:0 until the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{
		projects: map[string]string{},
		ids:      map[string]string{},
		secrets:  map[string]*secret{},
		denied:   map[string]bool{},
		calls:    map[string]int{},
	}
	for _, o := range opts {
		o(s)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("gcpsm: listening: %v", err)
	}
	s.Addr = l.Addr().String()
	g := grpc.NewServer(grpc.UnaryInterceptor(s.intercept))
	secretmanagerpb.RegisterSecretManagerServiceServer(g, s)
	// One port serves both forms, as the service's endpoint does: gRPC (HTTP/2, cleartext
	// with prior knowledge when not TLS) and REST (HTTP/1.1 or HTTP/2).
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
				g.ServeHTTP(w, r)
				return
			}
			s.serveREST(w, r)
		}),
		Protocols:         new(http.Protocols),
		ReadHeaderTimeout: 10 * time.Second,
	}
	hs.Protocols.SetHTTP1(true)
	hs.Protocols.SetHTTP2(true)
	hs.Protocols.SetUnencryptedHTTP2(true)
	if s.tls != nil {
		hs.TLSConfig = s.tls.serverConfig(t)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if s.tls != nil {
			_ = hs.ServeTLS(l, "", "")
			return
		}
		_ = hs.Serve(l)
	}()
	t.Cleanup(func() {
		_ = hs.Close()
		g.Stop()
		<-done
	})
	return s
}

// HTTPClient is a client for the REST form: plain for plaintext servers, trusting the
// server's certificate for TLS ones. It adds no credentials.
func (s *Server) HTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if s.tls != nil {
		t.TLSClientConfig = s.tls.clientConfig()
	}
	return &http.Client{Transport: t}
}

// ClientOptions point the real client library at s. Plaintext servers: its address, no
// credentials, plaintext. TLS servers: its address and its certificate; the client finds
// its credentials itself (application default credentials).
func (s *Server) ClientOptions() []option.ClientOption {
	if s.tls != nil {
		return []option.ClientOption{option.WithEndpoint(s.Addr), option.WithGRPCDialOption(s.tls.dialOption())}
	}
	return []option.ClientOption{
		option.WithEndpoint(s.Addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// intercept counts gRPC calls and applies Fail and RequireAuth.
func (s *Server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	method := info.FullMethod[len("/google.cloud.secretmanager.v1.SecretManagerService/"):]
	auth := ""
	if a := metadata.ValueFromIncomingContext(ctx, "authorization"); len(a) > 0 {
		auth = a[0]
	}
	done, err := s.begin(method, auth)
	defer done()
	if err != nil {
		return nil, err
	}
	return h(ctx, req)
}

// begin counts a call of either form and applies Fail and RequireAuth; done ends it.
func (s *Server) begin(method, auth string) (done func(), err error) {
	s.mu.Lock()
	s.calls[method]++
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	fail := s.failure
	if auth != "" {
		s.lastAuth = auth
	}
	s.mu.Unlock()
	done = func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}
	if fail != nil {
		return done, fail
	}
	if s.requireAuth && !strings.HasPrefix(auth, "Bearer ") {
		return done, status.Error(codes.Unauthenticated, "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
	}
	return done, nil
}

// Calls returns how many times method (e.g. "AccessSecretVersion") was called.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// MaxInFlight returns the largest number of calls that were being served at once.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInFlight
}

// Fail makes every call fail with code and msg until Fail(codes.OK, "") (e.g. Unauthenticated
// for an expired token, Unavailable for an outage).
func (s *Server) Fail(code codes.Code, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failure = nil
	if code != codes.OK {
		s.failure = status.Error(code, msg)
	}
}

// Deny makes every call on the secret fail with PERMISSION_DENIED, as when the caller lacks
// the IAM role on it; the secret need not exist.
func (s *Server) Deny(project, secretID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[s.canonical(s.name(project, secretID))] = true
}

// Name returns the resource name of secretID in project on this endpoint.
func (s *Server) Name(project, secretID string) string {
	return s.name(project, secretID).path(project)
}

func (s *Server) name(project, secretID string) secretName {
	return secretName{parent: parent{project: project, location: s.Location}, secret: secretID}
}

// AddVersion adds payload as a new version of secretID, creating the secret (automatic
// replication) first if needed, through the same code as the RPCs. It returns the version number.
func (s *Server) AddVersion(t testing.TB, project, secretID string, payload []byte) int {
	t.Helper()
	name := s.Name(project, secretID)
	if _, err := s.GetSecret(context.Background(), &secretmanagerpb.GetSecretRequest{Name: name}); status.Code(err) == codes.NotFound {
		sec := &secretmanagerpb.Secret{}
		if s.Location == "" {
			sec.Replication = &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}}}
		}
		if _, err := s.CreateSecret(context.Background(), &secretmanagerpb.CreateSecretRequest{
			Parent: s.name(project, secretID).parent.path(project), SecretId: secretID, Secret: sec,
		}); err != nil {
			t.Fatalf("gcpsm: creating %s: %v", name, err)
		}
	}
	v, err := s.AddSecretVersion(context.Background(), &secretmanagerpb.AddSecretVersionRequest{
		Parent: name, Payload: &secretmanagerpb.SecretPayload{Data: payload},
	})
	if err != nil {
		t.Fatalf("gcpsm: adding a version to %s: %v", name, err)
	}
	n, _ := strconv.Atoi(lastSegment(v.Name))
	return n
}

// SetState moves a version to ENABLED, DISABLED or DESTROYED through the matching RPC.
func (s *Server) SetState(t testing.TB, project, secretID string, v int, st secretmanagerpb.SecretVersion_State) {
	t.Helper()
	name := s.Name(project, secretID) + "/versions/" + strconv.Itoa(v)
	var err error
	switch st {
	case secretmanagerpb.SecretVersion_ENABLED:
		_, err = s.EnableSecretVersion(context.Background(), &secretmanagerpb.EnableSecretVersionRequest{Name: name})
	case secretmanagerpb.SecretVersion_DISABLED:
		_, err = s.DisableSecretVersion(context.Background(), &secretmanagerpb.DisableSecretVersionRequest{Name: name})
	case secretmanagerpb.SecretVersion_DESTROYED:
		_, err = s.DestroySecretVersion(context.Background(), &secretmanagerpb.DestroySecretVersionRequest{Name: name})
	default:
		err = errors.New("unknown state")
	}
	if err != nil {
		t.Fatalf("gcpsm: setting %s to %s: %v", name, st, err)
	}
}

// SetCRC replaces the stored checksum of a version: nil stores none (as for CMEK versions
// created before July 2021), another value corrupts it so that responses fail verification.
func (s *Server) SetCRC(t testing.TB, project, secretID string, v int, crc *int64) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[s.canonical(s.name(project, secretID))]
	if sec == nil || v < 1 || v > len(sec.versions) {
		t.Fatalf("gcpsm: no version %d of %s", v, s.Name(project, secretID))
	}
	sec.versions[v-1].crc = crc
}

// ProjectNumber returns the number the server gave project (it names projects by number in
// responses, as the service does); "" before the project's first secret.
func (s *Server) ProjectNumber(project string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.projects[project]
}

// CRC32C is the checksum Secret Manager uses for data_crc32c.
func CRC32C(b []byte) int64 {
	return int64(crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

func lastSegment(s string) string {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return s[i+1:]
		}
	}
	return s
}
