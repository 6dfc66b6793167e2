package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/patas/patas-secrets/fetcher"
)

// Overlap windows (the guide's "during transition, both keys active"): for an entry with
// overlap, after a rotation the variable holds the union of the previous and the current
// comma-separated items until the window ends, then only the current ones.
//
// When the backend keeps versions and says when the current one was created, the previous
// version is read from the backend: the window is then known to any new sidecar, even
// after a pod restart. Otherwise the engine remembers the previous value itself, in a state
// file beside the first output (same tmpfs, same sensitivity, mode 0600), which survives a
// sidecar restart but not the loss of that volume.

// fetchPrevious reads, for every overlap entry whose backend keeps versions and whose
// current version is younger than its window, the version before it. A backend that keeps
// no history for that secret (errors.ErrUnsupported) leaves the entry to the state file.
func (e *Engine) fetchPrevious(ctx context.Context, results map[string]fetcher.Result) map[string]fetcher.Result {
	prev := map[string]fetcher.Result{}
	now := time.Now()
	for _, en := range e.entries {
		if en.cfg.Overlap == 0 || en.tmpl != nil {
			continue
		}
		src := en.ref.Source()
		cur := results[src.String()]
		v, ok := e.backends[src.Backend].(fetcher.Versioned)
		if cur.Err != nil || !ok || src.Version != "" || cur.Secret.Created.IsZero() || now.Sub(cur.Secret.Created) >= time.Duration(en.cfg.Overlap) {
			continue
		}
		if _, done := prev[src.String()]; done {
			continue
		}
		fctx, cancel := context.WithTimeout(ctx, e.FetchTimeout)
		s, err := v.Previous(fctx, src, cur.Secret)
		cancel()
		if errors.Is(err, errors.ErrUnsupported) {
			continue
		}
		read := src
		read.Version = "previous"
		if err == nil && s.Version != "" {
			read.Version = s.Version
		}
		e.audit(read, fetcher.Result{Secret: s, Err: err})
		prev[src.String()] = fetcher.Result{Secret: s, Err: err}
	}
	return prev
}

// applyOverlap returns the value an overlap entry writes now, records the entry's next
// state in next, and moves *deadline to the end of an open window.
func (e *Engine) applyOverlap(en entry, cur fetcher.Value, curSecret fetcher.Secret, prev map[string]fetcher.Result,
	next map[string]overlapMemo, deadline *time.Time) (fetcher.Value, error) {
	window := time.Duration(en.cfg.Overlap)
	now := time.Now()
	curText := string(cur.Reveal())
	none := func(v fetcher.Value) bool { return v.Len() == 0 }

	// The backend's own history, when it has one.
	if p, ok := prev[en.ref.Source().String()]; ok {
		next[en.cfg.Env] = overlapMemo{Current: cur}
		if p.Err != nil {
			if errors.Is(p.Err, fetcher.ErrNotFound) {
				return cur, nil
			}
			return fetcher.Value{}, fmt.Errorf("previous version for overlap: %w", p.Err)
		}
		pv, err := valueOf(p.Secret, en.ref.Key)
		if err != nil {
			return cur, nil // the previous version lacks the key: nothing to keep
		}
		setDeadline(deadline, curSecret.Created.Add(window))
		return fetcher.StringValue(unionList(string(pv.Reveal()), curText)), nil
	}

	// Else what this sidecar remembers.
	memo, known := e.overlap[en.cfg.Env]
	switch {
	case !known:
		memo = overlapMemo{Current: cur}
	case !memo.Current.Equal(cur):
		memo = overlapMemo{Current: cur, Previous: memo.Current, Since: now}
	}
	if !none(memo.Previous) && now.Sub(memo.Since) >= window {
		memo.Previous, memo.Since = fetcher.Value{}, time.Time{}
	}
	next[en.cfg.Env] = memo
	if none(memo.Previous) {
		return cur, nil
	}
	setDeadline(deadline, memo.Since.Add(window))
	return fetcher.StringValue(unionList(string(memo.Previous.Reveal()), curText)), nil
}

func valueOf(s fetcher.Secret, key string) (fetcher.Value, error) {
	if key != "" {
		return s.Field(key)
	}
	return s.Whole()
}

func setDeadline(d *time.Time, t time.Time) {
	if d.IsZero() || t.Before(*d) {
		*d = t
	}
}

// unionList joins two comma-separated lists: the previous items, then the current items
// that are new, each once (API_KEYS="old-key:ns,new-key:ns").
func unionList(prev, cur string) string {
	seen := map[string]bool{}
	var out []string
	for _, list := range []string{prev, cur} {
		for _, item := range strings.Split(list, ",") {
			item = strings.TrimSpace(item)
			if item != "" && !seen[item] {
				seen[item] = true
				out = append(out, item)
			}
		}
	}
	return strings.Join(out, ",")
}
