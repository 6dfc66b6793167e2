package gcp

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/patas/patas-secrets/fetcher"
)

// Errors of a version that exists but cannot be read, besides fetcher.ErrNotFound and
// fetcher.ErrPermission. None of them is a missing secret: an optional entry does not
// silently drop a variable because someone disabled its version.
var (
	ErrVersionDisabled  = errors.New("secret version is disabled (enable it, or pin an enabled version with @N)")
	ErrVersionDestroyed = errors.New("secret version is destroyed (pin an enabled version with @N, or add a new version)")
	ErrChecksum         = errors.New("payload failed its data_crc32c check (corrupted in transit); value discarded")
)

// classify maps a Secret Manager status onto the errors the engine tells apart. The
// service's messages name resources and permissions, never payloads, so they are kept.
func classify(err error) error {
	st := status.Convert(err)
	msg := st.Message()
	switch st.Code() {
	case codes.NotFound:
		return fmt.Errorf("%w (NOT_FOUND: %s)", fetcher.ErrNotFound, msg)
	case codes.PermissionDenied:
		return fmt.Errorf("%w (PERMISSION_DENIED: %s; the caller needs roles/secretmanager.secretAccessor on the secret)", fetcher.ErrPermission, msg)
	case codes.Unauthenticated:
		return fmt.Errorf("%w (UNAUTHENTICATED: %s; check the application default credentials: Workload Identity or GOOGLE_APPLICATION_CREDENTIALS)", fetcher.ErrPermission, msg)
	case codes.FailedPrecondition:
		switch {
		case strings.Contains(msg, "DISABLED state"):
			return fmt.Errorf("%w (FAILED_PRECONDITION: %s)", ErrVersionDisabled, msg)
		case strings.Contains(msg, "DESTROYED state"):
			return fmt.Errorf("%w (FAILED_PRECONDITION: %s)", ErrVersionDestroyed, msg)
		}
		return fmt.Errorf("secret version cannot be accessed (FAILED_PRECONDITION: %s)", msg)
	}
	return err
}
