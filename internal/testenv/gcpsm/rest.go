package gcpsm

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// serveREST answers the REST (JSON over HTTP/1.1) form of the reads a client makes, as the
// service's REST reference describes them:
//
//	GET /v1/{name=projects/*/[locations/*/]secrets/*/versions/*}:access  AccessSecretVersion
//	GET /v1/{name=projects/*/[locations/*/]secrets/*/versions/*}         GetSecretVersion
//	GET /v1/{parent=projects/*/[locations/*/]secrets/*}/versions         ListSecretVersions
//
// through the same methods (and Fail, RequireAuth, Calls) as gRPC. Bodies are the messages
// in proto3 JSON (int64 as strings, bytes in base64, lowerCamelCase); errors are
// {"error": {"code": HTTP, "message": ..., "status": "NOT_FOUND"}} with the HTTP status of
// the code (google.rpc.Code's mapping).
func (s *Server) serveREST(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	if !ok || r.Method != http.MethodGet {
		writeError(w, status.Error(codes.Unimplemented, "gcpsm: only GET /v1/... reads are served over REST"))
		return
	}
	var method string
	var call func(ctx context.Context) (proto.Message, error)
	switch {
	case strings.HasSuffix(path, ":access"):
		method = "AccessSecretVersion"
		call = func(ctx context.Context) (proto.Message, error) {
			return s.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: strings.TrimSuffix(path, ":access")})
		}
	case strings.HasSuffix(path, "/versions"):
		method = "ListSecretVersions"
		q := r.URL.Query()
		call = func(ctx context.Context) (proto.Message, error) {
			return s.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{
				Parent: strings.TrimSuffix(path, "/versions"), Filter: q.Get("filter"), PageToken: q.Get("pageToken"),
			})
		}
	default:
		method = "GetSecretVersion"
		call = func(ctx context.Context) (proto.Message, error) {
			return s.GetSecretVersion(ctx, &secretmanagerpb.GetSecretVersionRequest{Name: path})
		}
	}
	done, err := s.begin(method, r.Header.Get("Authorization"))
	defer done()
	if err != nil {
		writeError(w, err)
		return
	}
	msg, err := call(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	b, err := protojson.Marshal(msg)
	if err != nil {
		writeError(w, status.Error(codes.Internal, err.Error()))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_, _ = w.Write(b)
}

// httpStatus is google.rpc.Code's HTTP mapping (google/rpc/code.proto).
var httpStatus = map[codes.Code]int{
	codes.InvalidArgument:    http.StatusBadRequest,
	codes.FailedPrecondition: http.StatusBadRequest,
	codes.OutOfRange:         http.StatusBadRequest,
	codes.Unauthenticated:    http.StatusUnauthorized,
	codes.PermissionDenied:   http.StatusForbidden,
	codes.NotFound:           http.StatusNotFound,
	codes.AlreadyExists:      http.StatusConflict,
	codes.Aborted:            http.StatusConflict,
	codes.ResourceExhausted:  http.StatusTooManyRequests,
	codes.Canceled:           499,
	codes.Unimplemented:      http.StatusNotImplemented,
	codes.Unavailable:        http.StatusServiceUnavailable,
	codes.DeadlineExceeded:   http.StatusGatewayTimeout,
}

// restStatus is the status field's spelling: the code's enum name, e.g. NOT_FOUND.
var restStatus = map[codes.Code]string{
	codes.InvalidArgument: "INVALID_ARGUMENT", codes.FailedPrecondition: "FAILED_PRECONDITION",
	codes.OutOfRange: "OUT_OF_RANGE", codes.Unauthenticated: "UNAUTHENTICATED",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.NotFound: "NOT_FOUND",
	codes.AlreadyExists: "ALREADY_EXISTS", codes.Aborted: "ABORTED",
	codes.ResourceExhausted: "RESOURCE_EXHAUSTED", codes.Canceled: "CANCELLED",
	codes.Unimplemented: "UNIMPLEMENTED", codes.Unavailable: "UNAVAILABLE",
	codes.DeadlineExceeded: "DEADLINE_EXCEEDED", codes.Internal: "INTERNAL", codes.Unknown: "UNKNOWN",
}

func writeError(w http.ResponseWriter, err error) {
	st := status.Convert(err)
	code, ok := httpStatus[st.Code()]
	if !ok {
		code = http.StatusInternalServerError
	}
	name, ok := restStatus[st.Code()]
	if !ok {
		name = "INTERNAL"
	}
	body, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": st.Message(), "status": name}})
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
