// Package gcpsm is an in-process Google Secret Manager for tests: a server on 127.0.0.1 that
// answers, on one port as the service's endpoint does, gRPC (secretmanagerpb.
// SecretManagerServiceServer, which the client library cloud.google.com/go/secretmanager/apiv1
// reaches with ClientOptions) and the REST form of the reads (GET v1/{name}:access, v1/{name},
// v1/{parent}/versions; rest.go), which fetcher/gcp uses (HTTPClient for TLS). No emulator of the
// service exists; this one follows the documented API (the v1 proto comments, the REST
// reference and the "Data integrity assurance" and regional-secrets pages):
//
//   - Resource names: projects/P/secrets/S[/versions/V] and, on a regional endpoint,
//     projects/P/locations/L/secrets/S[/versions/V]. Requests may name a project by id or by
//     number; responses name it by number, as the service does ("projects/123/secrets/s/
//     versions/2"). Malformed names are INVALID_ARGUMENT. Secret ids are [A-Za-z0-9_-]{1,255}.
//
//   - Endpoints: Start serves the global endpoint (global names only); Start(t, Location(L))
//     serves the regional endpoint secretmanager.L.rep.googleapis.com (names with
//     locations/L only). A misrouted name is INVALID_ARGUMENT here; the exact status the
//     service returns for one is not documented.
//
//   - CreateSecret: global secrets need a replication policy, regional ones must not have
//     one; ALREADY_EXISTS for a taken id; version_aliases are kept.
//
//   - AddSecretVersion: versions are numbered from 1; new versions are ENABLED; payload at
//     most 64 KiB; a client data_crc32c is verified, else the server computes one; either is
//     stored and returned by AccessSecretVersion.
//
//   - AccessSecretVersion / GetSecretVersion: `latest` is an alias to the most recently
//     created version (the proto comment), whatever its state, so a disabled or destroyed
//     newest version makes `latest` fail; a version alias resolves to its number. Access
//     of a DISABLED or DESTROYED version is FAILED_PRECONDITION "Secret Version [NAME] is in
//     DISABLED state." (the service's message, as reported by users); Get works in any state.
//     A missing secret is NOT_FOUND "Secret [NAME] not found or has no versions.", a missing
//     version NOT_FOUND "Secret Version [NAME] not found.".
//
//   - Enable/Disable/DestroySecretVersion: DESTROYED is terminal (FAILED_PRECONDITION after
//     it), destroy drops the data and sets destroy_time.
//
//   - ListSecretVersions: metadata only, newest first, pages, a state:STATE filter.
//
//   - IAM: Deny makes every call on one secret PERMISSION_DENIED "Permission 'PERM' denied for
//     resource 'NAME' (or it may not exist).", checked before existence as the service does.
//
//   - Transport and authentication: plaintext without credentials by default; TLS() serves
//     TLS with a certificate made at start (the service is TLS-only, and gRPC sends tokens
//     only over TLS); RequireAuth() refuses calls without "authorization: Bearer …" with
//     UNAUTHENTICATED. ClientOptions (gRPC) and HTTPClient (REST) fit either. StartMetadata is the metadata server a
//     GKE pod with Workload Identity reaches (GCE_METADATA_HOST), handing out a token.
//
// Test hooks beyond the API: SetCRC (corrupt or drop a stored checksum), Fail (every call
// fails with a code: UNAUTHENTICATED, UNAVAILABLE), Calls and MaxInFlight (what the client
// did). Etags are returned but not enforced; IAM policy methods, ListSecrets, UpdateSecret
// and rotation are UNIMPLEMENTED.
package gcpsm
