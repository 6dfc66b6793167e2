package fetchertest

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// canaryPrefix starts every value the suite seeds; no error or log line may contain it.
const canaryPrefix = "CANARY-conformance-"

var canarySeq atomic.Int64

// canary returns a fresh secret value.
func canary(what string) string {
	return fmt.Sprintf("%s%s-%d", canaryPrefix, what, canarySeq.Add(1))
}

// watch collects what a check printed: every error it saw and every log line of the
// backends it opened, and fails t if any holds a canary.
type watch struct {
	t    *testing.T
	core zapcore.Core
	logs *observer.ObservedLogs
	mu   sync.Mutex
	errs []string
}

func newWatch(t *testing.T) *watch {
	core, logs := observer.New(zapcore.DebugLevel)
	w := &watch{t: t, core: core, logs: logs}
	t.Cleanup(w.check)
	return w
}

func (w *watch) log() *zap.Logger { return zap.New(w.core) }

// err records err (may be nil) and returns it.
func (w *watch) err(err error) error {
	if err != nil {
		w.mu.Lock()
		w.errs = append(w.errs, err.Error(), fmt.Sprintf("%+v", err))
		w.mu.Unlock()
	}
	return err
}

func (w *watch) check() {
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	var texts []string
	for _, e := range w.logs.All() {
		buf, err := enc.EncodeEntry(e.Entry, e.Context)
		if err != nil {
			w.t.Errorf("encoding a log entry: %v", err)
			continue
		}
		texts = append(texts, buf.String())
		buf.Free()
	}
	w.mu.Lock()
	texts = append(texts, w.errs...)
	w.mu.Unlock()
	for _, s := range texts {
		if strings.Contains(s, canaryPrefix) {
			w.t.Errorf("a secret value leaked into an error or log line: %s", s)
		}
	}
}
