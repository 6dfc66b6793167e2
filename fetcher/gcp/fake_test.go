package gcp

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
)

// fakeAccessor answers AccessSecretVersion with a fixed error or response, for cases the test
// server has no reason to produce.
type fakeAccessor struct {
	gotName string
	resp    *accessResponse
	err     error
}

func (f *fakeAccessor) access(_ context.Context, name string) (*accessResponse, error) {
	f.gotName = name
	return f.resp, f.err
}

func TestErrorsFromOtherStatuses(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		is      []error
		isNot   []error
		message string
	}{
		{
			name:    "CMEK key disabled",
			err:     &apiError{HTTP: 400, Status: "FAILED_PRECONDITION", Message: "The Cloud KMS key version used to encrypt this secret version is disabled."},
			isNot:   []error{ErrVersionDisabled, ErrVersionDestroyed, fetcher.ErrNotFound},
			message: "secret version cannot be accessed (FAILED_PRECONDITION: The Cloud KMS key",
		},
		{
			name:    "other status kept as it is",
			err:     &apiError{HTTP: 400, Status: "INVALID_ARGUMENT", Message: "bad name"},
			isNot:   []error{fetcher.ErrNotFound, fetcher.ErrPermission, fetcher.ErrThrottled},
			message: "INVALID_ARGUMENT: bad name",
		},
		{
			name:    "a proxy's 429 without the service's body is throttling",
			err:     &apiError{HTTP: 429, Message: "Too Many Requests"},
			is:      []error{fetcher.ErrThrottled},
			isNot:   []error{fetcher.ErrNotFound, fetcher.ErrPermission},
			message: "HTTP 429",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAccessor{err: tt.err}
			b := newBackend(f, Options{Project: "p", Location: "us-east1"}, zap.NewNop())
			_, err := b.Fetch(context.Background(), fetcher.Ref{Backend: "gcp", Path: "s", Version: "7"})
			if f.gotName != "projects/p/locations/us-east1/secrets/s/versions/7" {
				t.Errorf("name: got %s", f.gotName)
			}
			if err == nil || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("got %v, want it to contain %q", err, tt.message)
			}
			for _, e := range tt.is {
				if !errors.Is(err, e) {
					t.Errorf("%v is not %v", err, e)
				}
			}
			for _, e := range tt.isNot {
				if errors.Is(err, e) {
					t.Errorf("%v is %v", err, e)
				}
			}
		})
	}
}

func TestVersionFromResolvedName(t *testing.T) {
	f := &fakeAccessor{resp: &accessResponse{Name: "projects/123/secrets/s/versions/42"}}
	f.resp.Payload.Data = []byte("v") // no checksum: accepted
	b := newBackend(f, Options{Project: "p"}, zap.NewNop())
	s, err := b.Fetch(context.Background(), fetcher.Ref{Backend: "gcp", Path: "s"})
	if err != nil || s.Version != "42" || string(s.Value.Reveal()) != "v" || !s.Created.IsZero() || s.TTL != 0 {
		t.Fatalf("got %+v, %v; want version 42, value v, no Created, no TTL", s, err)
	}
}
