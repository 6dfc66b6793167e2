package fetchertest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/patas/patas-secrets/fetcher"
)

// callTimeout bounds every call the suite makes that is expected to succeed; a slow,
// loaded CI machine still answers well within it.
const callTimeout = 30 * time.Second

// setupTimeout bounds ReadDenied, which may start a server of its own first.
const setupTimeout = 3 * time.Minute

// Run runs every check against h, each as a subtest.
func Run(t *testing.T, h Harness) {
	t.Run("Read", func(t *testing.T) { checkRead(t, h) })
	t.Run("NotFound", func(t *testing.T) { checkNotFound(t, h) })
	t.Run("PermissionDenied", func(t *testing.T) { checkDenied(t, h) })
	t.Run("MissingKey", func(t *testing.T) { checkMissingKey(t, h) })
	t.Run("PinnedVersion", func(t *testing.T) { checkPinned(t, h) })
	t.Run("PreviousVersion", func(t *testing.T) { checkPrevious(t, h) })
	t.Run("Cancelled", func(t *testing.T) { checkCancelled(t, h) })
	t.Run("Throttled", func(t *testing.T) { checkThrottled(t, h) })
	t.Run("DeadlineWhenServerHangs", func(t *testing.T) { checkHang(t, h) })
	t.Run("ConcurrentReads", func(t *testing.T) { checkConcurrent(t, h) })
}

// fields returns a secret's fields with fresh canary values.
func fields(keys ...string) map[string]string {
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		m[k] = canary(k)
	}
	return m
}

func fetch(t *testing.T, w *watch, b fetcher.Backend, ref fetcher.Ref) (fetcher.Secret, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	s, err := b.Fetch(ctx, ref)
	return s, w.err(err)
}

func mustFetch(t *testing.T, w *watch, b fetcher.Backend, ref fetcher.Ref) fetcher.Secret {
	t.Helper()
	s, err := fetch(t, w, b, ref)
	if err != nil {
		t.Fatalf("reading %s: %v", ref, err)
	}
	return s
}

// sameFields reports the first difference between s's fields and want, never a value.
func sameFields(s fetcher.Secret, want map[string]string) string {
	if len(s.Data) != len(want) {
		return "keys " + strings.Join(s.Keys(), ",") + ", want " + strings.Join(keysOf(want), ",")
	}
	for k, v := range want {
		got, err := s.Field(k)
		if err != nil {
			return err.Error()
		}
		if string(got.Reveal()) != v {
			return "field " + k + " holds another value"
		}
	}
	return ""
}

func keysOf(m map[string]string) []string {
	s := fetcher.Secret{Data: map[string]fetcher.Value{}}
	for k := range m {
		s.Data[k] = fetcher.Value{}
	}
	return s.Keys()
}

// kinds lists which of the three sentinels err wraps, for messages.
func kinds(err error) string {
	var out []string
	for _, k := range []struct {
		name string
		err  error
	}{{"ErrNotFound", fetcher.ErrNotFound}, {"ErrPermission", fetcher.ErrPermission}, {"ErrMissingKey", fetcher.ErrMissingKey}, {"ErrThrottled", fetcher.ErrThrottled}} {
		if errors.Is(err, k.err) {
			out = append(out, k.name)
		}
	}
	if len(out) == 0 {
		return "none of the sentinels"
	}
	return strings.Join(out, "+")
}

// wantOnly fails t unless err wraps want and none of the other sentinels.
func wantOnly(t *testing.T, what string, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	all := []error{fetcher.ErrNotFound, fetcher.ErrPermission, fetcher.ErrMissingKey, fetcher.ErrThrottled}
	ok := errors.Is(err, want)
	for _, o := range all {
		if o != want && errors.Is(err, o) {
			ok = false
		}
	}
	if !ok {
		t.Errorf("%s: error wraps %s, want only %v: %v", what, kinds(err), want, err)
	}
}
