package gcpsm

import (
	"fmt"
	"strconv"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The helpers below run with s.mu held.

// projectID maps a project segment (id or number) to the id secrets are stored under.
func (s *Server) projectID(seg string) string {
	if id, ok := s.ids[seg]; ok {
		return id
	}
	return seg
}

// projectNumber returns the number responses name project by, giving it one if needed.
func (s *Server) projectNumber(seg string) string {
	id := s.projectID(seg)
	if isNumber(id) {
		return id
	}
	if n, ok := s.projects[id]; ok {
		return n
	}
	n := strconv.Itoa(100000000000 + 1000*(len(s.projects)+1))
	s.projects[id] = n
	s.ids[n] = id
	return n
}

func (s *Server) canonical(n secretName) string { return n.path(s.projectID(n.project)) }

// checkLocation refuses names this endpoint does not serve: the global endpoint serves
// projects/*/secrets/*, a regional one only projects/*/locations/ITS-LOCATION/secrets/*.
func (s *Server) checkLocation(p parent) error {
	switch {
	case p.location == s.Location:
		return nil
	case s.Location == "":
		return invalid("Location [%s] is not served by the global endpoint; use secretmanager.%s.rep.googleapis.com.", p.location, p.location)
	case p.location == "":
		return invalid("The regional endpoint for [%s] serves only projects/*/locations/%s/ names.", s.Location, s.Location)
	}
	return invalid("Location [%s] is not served by the regional endpoint for [%s].", p.location, s.Location)
}

// findSecret applies location, IAM (Deny) and existence, in the order the service does:
// without permission the caller cannot learn whether a secret exists.
func (s *Server) findSecret(n secretName, requested, permission string) (*secret, error) {
	if err := s.checkLocation(n.parent); err != nil {
		return nil, err
	}
	if s.denied[s.canonical(n)] {
		return nil, status.Errorf(codes.PermissionDenied,
			"Permission '%s' denied for resource '%s' (or it may not exist).", permission, requested)
	}
	sec := s.secrets[s.canonical(n)]
	if sec == nil {
		return nil, status.Errorf(codes.NotFound, "Secret [%s] not found or has no versions.", n.path(s.displayProject(n.project)))
	}
	return sec, nil
}

// displayProject is the number of a known project, else the segment as written.
func (s *Server) displayProject(seg string) string {
	if n, ok := s.projects[s.projectID(seg)]; ok {
		return n
	}
	return seg
}

// findVersion resolves a version id: a number, `latest` (the most recently created version,
// whatever its state, as documented), or one of the secret's version aliases.
func (s *Server) findVersion(name, permission string) (*version, int, secretName, error) {
	vn, err := parseVersionName(name)
	if err != nil {
		return nil, 0, secretName{}, err
	}
	sec, err := s.findSecret(vn.secretName, name, permission)
	if err != nil {
		return nil, 0, vn.secretName, err
	}
	num := 0
	switch {
	case vn.version == "latest":
		num = len(sec.versions)
		if num == 0 {
			return nil, 0, vn.secretName, status.Errorf(codes.NotFound, "Secret [%s] not found or has no versions.", vn.path(s.displayProject(vn.project)))
		}
	case isNumber(vn.version):
		num, _ = strconv.Atoi(vn.version)
	default:
		if a, ok := sec.aliases[vn.version]; ok {
			num = int(a)
		}
	}
	if num < 1 || num > len(sec.versions) {
		return nil, 0, vn.secretName, status.Errorf(codes.NotFound, "Secret Version [%s/versions/%s] not found.", vn.path(s.displayProject(vn.project)), vn.version)
	}
	return sec.versions[num-1], num, vn.secretName, nil
}

// versionProto is the metadata of v, named with the project number as the service does.
func (s *Server) versionProto(n secretName, num int, v *version) *secretmanagerpb.SecretVersion {
	out := &secretmanagerpb.SecretVersion{
		Name:                           versionPath(n, s.projectNumber(n.project), num),
		CreateTime:                     timestamppb.New(v.created),
		State:                          v.state,
		Etag:                           fmt.Sprintf("\"%d\"", v.created.UnixNano()+int64(v.state)),
		ClientSpecifiedPayloadChecksum: v.clientCRC,
	}
	if v.state == secretmanagerpb.SecretVersion_DESTROYED {
		out.DestroyTime = timestamppb.New(v.destroyed)
	}
	return out
}

func (s *Server) secretProto(n secretName, sec *secret) *secretmanagerpb.Secret {
	return &secretmanagerpb.Secret{
		Name:           n.path(s.projectNumber(n.project)),
		Replication:    sec.replic,
		CreateTime:     timestamppb.New(sec.created),
		Labels:         sec.labels,
		VersionAliases: sec.aliases,
	}
}
