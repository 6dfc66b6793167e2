package gcpsm

import (
	"context"
	"strconv"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// maxPayload is the documented limit of SecretPayload.data.
const maxPayload = 64 << 10

// CreateSecret creates a secret with no versions. Global secrets need a replication policy;
// regional ones must not have one. ALREADY_EXISTS when the id is taken.
func (s *Server) CreateSecret(_ context.Context, req *secretmanagerpb.CreateSecretRequest) (*secretmanagerpb.Secret, error) {
	p, err := parseParent(req.GetParent())
	if err != nil {
		return nil, err
	}
	if !secretIDRE.MatchString(req.GetSecretId()) {
		return nil, invalid("Secret id [%s] is invalid: it may hold letters, digits, '-' and '_', up to 255 characters.", req.GetSecretId())
	}
	n := secretName{parent: p, secret: req.GetSecretId()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLocation(p); err != nil {
		return nil, err
	}
	if s.denied[s.canonical(n)] {
		return nil, status.Errorf(codes.PermissionDenied, "Permission 'secretmanager.secrets.create' denied for resource '%s' (or it may not exist).", req.GetParent())
	}
	repl := req.GetSecret().GetReplication()
	switch {
	case p.location == "" && repl.GetReplication() == nil:
		return nil, invalid("Secret.replication is required.")
	case p.location != "" && repl != nil:
		return nil, invalid("Secret.replication must not be set for a regional secret.")
	}
	if s.secrets[s.canonical(n)] != nil {
		return nil, status.Errorf(codes.AlreadyExists, "Secret [%s] already exists.", n.path(s.projectNumber(n.project)))
	}
	sec := &secret{
		created: time.Now().UTC(),
		labels:  req.GetSecret().GetLabels(),
		aliases: req.GetSecret().GetVersionAliases(),
		replic:  repl,
	}
	s.secrets[s.canonical(n)] = sec
	return s.secretProto(n, sec), nil
}

// GetSecret returns a secret's metadata; NOT_FOUND or PERMISSION_DENIED as for versions.
func (s *Server) GetSecret(_ context.Context, req *secretmanagerpb.GetSecretRequest) (*secretmanagerpb.Secret, error) {
	n, err := parseSecretName(req.GetName())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.findSecret(n, req.GetName(), "secretmanager.secrets.get")
	if err != nil {
		return nil, err
	}
	return s.secretProto(n, sec), nil
}

// DeleteSecret deletes a secret and all its versions.
func (s *Server) DeleteSecret(_ context.Context, req *secretmanagerpb.DeleteSecretRequest) (*emptypb.Empty, error) {
	n, err := parseSecretName(req.GetName())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.findSecret(n, req.GetName(), "secretmanager.secrets.delete"); err != nil {
		return nil, err
	}
	delete(s.secrets, s.canonical(n))
	return &emptypb.Empty{}, nil
}

// AddSecretVersion adds an ENABLED version numbered one more than the last. The payload is at
// most 64 KiB; a data_crc32c sent by the client is verified (INVALID_ARGUMENT on mismatch) and
// stored; without one the server computes and stores it, as documented under "Data integrity".
func (s *Server) AddSecretVersion(_ context.Context, req *secretmanagerpb.AddSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	n, err := parseSecretName(req.GetParent())
	if err != nil {
		return nil, err
	}
	data := req.GetPayload().GetData()
	if req.GetPayload() == nil || len(data) > maxPayload {
		return nil, invalid("Secret payload is required and must be no larger than 64KiB.")
	}
	crc := CRC32C(data)
	if c := req.GetPayload().DataCrc32C; c != nil && *c != crc {
		return nil, invalid("Checksum mismatch: the data_crc32c sent does not match the data received.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.findSecret(n, req.GetParent(), "secretmanager.versions.add")
	if err != nil {
		return nil, err
	}
	v := &version{
		created:   time.Now().UTC(),
		state:     secretmanagerpb.SecretVersion_ENABLED,
		data:      append([]byte(nil), data...),
		crc:       &crc,
		clientCRC: req.GetPayload().DataCrc32C != nil,
	}
	sec.versions = append(sec.versions, v)
	return s.versionProto(n, len(sec.versions), v), nil
}

// GetSecretVersion returns a version's metadata in any state; `latest` is the most recently
// created version.
func (s *Server) GetSecretVersion(_ context.Context, req *secretmanagerpb.GetSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, num, n, err := s.findVersion(req.GetName(), "secretmanager.versions.get")
	if err != nil {
		return nil, err
	}
	return s.versionProto(n, num, v), nil
}

// AccessSecretVersion returns the payload and its stored data_crc32c, with the resolved
// version name (project number, version number even when `latest` or an alias was asked).
// `latest` is the most recently created version even when it is not ENABLED, so a disabled
// or destroyed newest version fails: FAILED_PRECONDITION "Secret Version [...] is in
// DISABLED state." (the message the service sends; see the external-secrets issue #4042).
func (s *Server) AccessSecretVersion(_ context.Context, req *secretmanagerpb.AccessSecretVersionRequest) (*secretmanagerpb.AccessSecretVersionResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, num, n, err := s.findVersion(req.GetName(), "secretmanager.versions.access")
	if err != nil {
		return nil, err
	}
	name := versionPath(n, s.projectNumber(n.project), num)
	if v.state != secretmanagerpb.SecretVersion_ENABLED {
		return nil, status.Errorf(codes.FailedPrecondition, "Secret Version [%s] is in %s state.", name, v.state)
	}
	payload := &secretmanagerpb.SecretPayload{Data: append([]byte(nil), v.data...)}
	if v.crc != nil {
		c := *v.crc
		payload.DataCrc32C = &c
	}
	return &secretmanagerpb.AccessSecretVersionResponse{Name: name, Payload: payload}, nil
}

// DisableSecretVersion: ENABLED or DISABLED -> DISABLED; a DESTROYED version cannot change.
func (s *Server) DisableSecretVersion(_ context.Context, req *secretmanagerpb.DisableSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	return s.transition(req.GetName(), "secretmanager.versions.disable", secretmanagerpb.SecretVersion_DISABLED)
}

// EnableSecretVersion: DISABLED or ENABLED -> ENABLED; a DESTROYED version cannot change.
func (s *Server) EnableSecretVersion(_ context.Context, req *secretmanagerpb.EnableSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	return s.transition(req.GetName(), "secretmanager.versions.enable", secretmanagerpb.SecretVersion_ENABLED)
}

// DestroySecretVersion sets DESTROYED (terminal), records destroy_time and drops the data.
func (s *Server) DestroySecretVersion(_ context.Context, req *secretmanagerpb.DestroySecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	return s.transition(req.GetName(), "secretmanager.versions.destroy", secretmanagerpb.SecretVersion_DESTROYED)
}

func (s *Server) transition(name, permission string, to secretmanagerpb.SecretVersion_State) (*secretmanagerpb.SecretVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, num, n, err := s.findVersion(name, permission)
	if err != nil {
		return nil, err
	}
	if v.state == secretmanagerpb.SecretVersion_DESTROYED {
		return nil, status.Errorf(codes.FailedPrecondition, "Secret Version [%s] is in DESTROYED state.", versionPath(n, s.projectNumber(n.project), num))
	}
	v.state = to
	if to == secretmanagerpb.SecretVersion_DESTROYED {
		v.destroyed = time.Now().UTC()
		v.data, v.crc = nil, nil
	}
	return s.versionProto(n, num, v), nil
}

// ListSecretVersions lists metadata (never data), newest first, page_size at most 25000,
// page_token as returned; filter supports only "state:ENABLED|DISABLED|DESTROYED".
func (s *Server) ListSecretVersions(_ context.Context, req *secretmanagerpb.ListSecretVersionsRequest) (*secretmanagerpb.ListSecretVersionsResponse, error) {
	n, err := parseSecretName(req.GetParent())
	if err != nil {
		return nil, err
	}
	var want secretmanagerpb.SecretVersion_State
	if f := req.GetFilter(); f != "" {
		st, ok := secretmanagerpb.SecretVersion_State_value[trimPrefix(f, "state:")]
		if !ok || f == trimPrefix(f, "state:") {
			return nil, invalid("Unsupported filter [%s] (this test server understands only state:STATE).", f)
		}
		want = secretmanagerpb.SecretVersion_State(st)
	}
	start := 0
	if t := req.GetPageToken(); t != "" {
		if start, err = strconv.Atoi(t); err != nil || start < 0 {
			return nil, invalid("Invalid page token.")
		}
	}
	size := int(req.GetPageSize())
	if size <= 0 || size > 25000 {
		size = 25000
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.findSecret(n, req.GetParent(), "secretmanager.versions.list")
	if err != nil {
		return nil, err
	}
	var all []*secretmanagerpb.SecretVersion
	for i := len(sec.versions); i >= 1; i-- {
		if v := sec.versions[i-1]; want == 0 || v.state == want {
			all = append(all, s.versionProto(n, i, v))
		}
	}
	resp := &secretmanagerpb.ListSecretVersionsResponse{TotalSize: int32(len(all))}
	if start < len(all) {
		end := min(start+size, len(all))
		resp.Versions = all[start:end]
		if end < len(all) {
			resp.NextPageToken = strconv.Itoa(end)
		}
	}
	return resp, nil
}

func trimPrefix(s, prefix string) string {
	if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):]
	}
	return s
}
