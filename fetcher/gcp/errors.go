package gcp

import (
	"errors"
	"fmt"
	"strings"

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

// classify maps a Secret Manager error onto the errors the engine tells apart. The
// service's messages name resources and permissions, never payloads, so they are kept.
func classify(err error) error {
	if errors.Is(err, errToken) {
		return fmt.Errorf("%w (%w)", fetcher.ErrPermission, err)
	}
	var api *apiError
	if !errors.As(err, &api) {
		return err
	}
	msg := api.Message
	switch api.Status {
	case "NOT_FOUND":
		return fmt.Errorf("%w (NOT_FOUND: %s)", fetcher.ErrNotFound, msg)
	case "PERMISSION_DENIED":
		return fmt.Errorf("%w (PERMISSION_DENIED: %s; the caller needs roles/secretmanager.secretAccessor on the secret)", fetcher.ErrPermission, msg)
	case "UNAUTHENTICATED":
		return fmt.Errorf("%w (UNAUTHENTICATED: %s; check the %s)", fetcher.ErrPermission, msg, adcHint)
	case "RESOURCE_EXHAUSTED":
		return fmt.Errorf("%w (RESOURCE_EXHAUSTED: %s; Secret Manager's access quota is per project and minute)", fetcher.ErrThrottled, msg)
	case "FAILED_PRECONDITION":
		switch {
		case strings.Contains(msg, "DISABLED state"):
			return fmt.Errorf("%w (FAILED_PRECONDITION: %s)", ErrVersionDisabled, msg)
		case strings.Contains(msg, "DESTROYED state"):
			return fmt.Errorf("%w (FAILED_PRECONDITION: %s)", ErrVersionDestroyed, msg)
		}
		return fmt.Errorf("secret version cannot be accessed (FAILED_PRECONDITION: %s)", msg)
	}
	if api.HTTP == 429 {
		return fmt.Errorf("%w (HTTP 429)", fetcher.ErrThrottled)
	}
	return err
}
