package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/envpolicy"
	"github.com/patas/patas-secrets/sinks"
)

var errMissingResult = errors.New("backend returned no result for this secret")

// Resolve fetches every source and builds the complete snapshot, or returns every problem
// found, each naming its entry. Nothing is written.
func (e *Engine) Resolve(ctx context.Context) (sinks.Snapshot, error) {
	results := e.fetchAll(ctx)
	if err := ctx.Err(); err != nil {
		return sinks.Snapshot{}, err
	}
	var previous map[string]fetcher.Result
	nextOverlap := map[string]overlapMemo{}
	var overlapEnds time.Time
	if e.hasOverlap() {
		e.loadOverlapState()
		previous = e.fetchPrevious(ctx, results)
	}
	e.minTTL, e.minRotate = 0, 0
	for _, r := range results {
		if ttl := r.Secret.TTL; r.Err == nil && ttl > 0 && (e.minTTL == 0 || ttl < e.minTTL) {
			e.minTTL = ttl
		}
		if rot := r.Secret.RotatesIn; r.Err == nil && rot > 0 && (e.minRotate == 0 || rot < e.minRotate) {
			e.minRotate = rot
		}
	}
	lookup := func(r fetcher.Ref) (fetcher.Value, error) {
		res, ok := results[r.Source().String()]
		if !ok {
			return fetcher.Value{}, fmt.Errorf("%s was not read in this refresh (templates must name secrets with a quoted string)", r)
		}
		if res.Err != nil {
			return fetcher.Value{}, res.Err
		}
		if r.Key != "" {
			v, err := res.Secret.Field(r.Key)
			if err != nil {
				return fetcher.Value{}, fmt.Errorf("%s: %w", r, err)
			}
			return v, nil
		}
		v, err := res.Secret.Whole()
		if err != nil {
			return fetcher.Value{}, fmt.Errorf("%s: %w", r, err)
		}
		return v, nil
	}

	var (
		errs     []error
		vars     []sinks.Var
		where    = map[string]string{} // variable -> entry that set it, for duplicate errors
		fallback []entry
		settings = map[string]bool{} // variables of entries with hygiene: false
	)
	set := func(en entry, name string, v fetcher.Value) {
		if prev, dup := where[name]; dup {
			errs = append(errs, fmt.Errorf("%s: %s is already set by %s", en.name(), name, prev))
			return
		}
		where[name] = en.name()
		if !en.cfg.HygieneApplies() {
			settings[name] = true
		}
		vars = append(vars, sinks.Var{Name: name, Value: v})
	}
	for _, en := range e.entries {
		switch {
		case en.cfg.Expand:
			res := results[en.ref.Source().String()]
			if res.Err != nil {
				if en.cfg.Optional && errors.Is(res.Err, fetcher.ErrNotFound) {
					continue
				}
				errs = append(errs, fmt.Errorf("%s: %w", en.name(), res.Err))
				continue
			}
			if res.Secret.Data == nil {
				errs = append(errs, fmt.Errorf("%s: %s: %w", en.name(), en.ref, fetcher.ErrNoFields))
				continue
			}
			keys, missing := expandKeys(en.cfg.Keys, res.Secret.Keys())
			for _, k := range missing {
				if !en.cfg.Optional {
					errs = append(errs, fmt.Errorf("%s: key %q listed in keys is not in %s", en.name(), k, en.ref))
				}
			}
			for _, k := range keys {
				name := en.cfg.Prefix + envName(k)
				if !sinks.ValidName(name) {
					errs = append(errs, fmt.Errorf("%s: key %q does not make a valid variable name (%s)", en.name(), k, name))
					continue
				}
				if !envpolicy.Allowed(name, en.cfg.ExpandAllow) {
					errs = append(errs, fmt.Errorf("%s: key %q would set %s, %s; remove the key from the secret, list the wanted keys in keys, or name %s in expand_allow",
						en.name(), k, name, envpolicy.Describe, name))
					continue
				}
				v := res.Secret.Data[k]
				if v.Len() == 0 {
					if !en.cfg.Optional {
						errs = append(errs, fmt.Errorf("%s: key %q is empty", en.name(), k))
					}
					continue
				}
				set(en, name, v)
			}
		default:
			var v fetcher.Value
			var err error
			if en.tmpl != nil {
				v, err = en.tmpl.Execute(lookup)
			} else {
				v, err = lookup(en.ref)
			}
			if err == nil && en.cfg.Overlap > 0 && v.Len() > 0 {
				cur := results[en.ref.Source().String()].Secret
				v, err = e.applyOverlap(en, v, cur, previous, nextOverlap, &overlapEnds)
			}
			missing := errors.Is(err, fetcher.ErrNotFound) || (err == nil && v.Len() == 0)
			switch {
			case missing && en.cfg.Fallback != "":
				fallback = append(fallback, en)
			case missing && en.cfg.Optional:
			case err != nil:
				errs = append(errs, fmt.Errorf("%s: %w", en.name(), err))
			case v.Len() == 0:
				errs = append(errs, fmt.Errorf("%s: value is empty (mark the entry optional if that is expected)", en.name()))
			default:
				set(en, en.cfg.Env, v)
			}
		}
	}
	errs = append(errs, e.applyFallbacks(fallback, &vars, set)...)
	snap, probs := e.cfg.ApplyProfile(sinks.Snapshot{Vars: vars})
	if len(probs) > 0 {
		errs = append(errs, fmt.Errorf("validate.profile %s: %s\n    - %s", e.cfg.Validation.Profile,
			e.cfg.ProfileErrorTitle(), strings.Join(probs, "\n    - ")))
	}
	for _, name := range e.cfg.Validation.Required {
		if v, ok := snap.Get(name); !ok || v.Len() == 0 {
			errs = append(errs, fmt.Errorf("validate.required: %s is missing or empty", name))
		}
	}
	errs = append(errs, e.renderTemplates(lookup)...)
	if len(errs) > 0 {
		return sinks.Snapshot{}, joinErrors(errs)
	}
	e.checkHygiene(snap, results, settings)
	e.pendingOverlap, e.overlapEnds = nextOverlap, overlapEnds
	return snap, nil
}

func (e *Engine) hasOverlap() bool {
	for _, en := range e.entries {
		if en.cfg.Overlap > 0 {
			return true
		}
	}
	return false
}

// applyFallbacks sets each entry whose own secret is missing to the value of the variable
// it falls back to. Chains (A -> B -> C) resolve in as many passes as they are long; the
// config validation has ruled out cycles.
func (e *Engine) applyFallbacks(pending []entry, vars *[]sinks.Var, set func(entry, string, fetcher.Value)) []error {
	for len(pending) > 0 {
		var next []entry
		for _, en := range pending {
			snap := sinks.Snapshot{Vars: *vars}
			if v, ok := snap.Get(en.cfg.Fallback); ok {
				set(en, en.cfg.Env, v)
			} else {
				next = append(next, en)
			}
		}
		if len(next) == len(pending) {
			var errs []error
			for _, en := range next {
				if !en.cfg.Optional {
					errs = append(errs, fmt.Errorf("%s: missing, and its fallback %s is not set either", en.name(), en.cfg.Fallback))
				}
			}
			return errs
		}
		pending = next
	}
	return nil
}

// expandKeys returns the keys of a secret an expand entry takes: all of them, or those of
// want (the entry's keys allowlist) that are present, plus the listed ones that are not.
func expandKeys(want, have []string) (keys, missing []string) {
	if len(want) == 0 {
		return have, nil
	}
	for _, k := range want {
		if slices.Contains(have, k) {
			keys = append(keys, k)
		} else {
			missing = append(missing, k)
		}
	}
	return keys, missing
}

// envName turns a JSON key into an environment variable name: database_url and
// database-url become DATABASE_URL.
func envName(key string) string {
	r := strings.NewReplacer("-", "_", ".", "_", "/", "_", " ", "_")
	return strings.ToUpper(r.Replace(key))
}

// resolveError lists every problem of one refresh, one per line.
type resolveError []error

func (r resolveError) Error() string {
	msgs := make([]string, len(r))
	for i, err := range r {
		msgs[i] = err.Error()
	}
	sort.Strings(msgs)
	if len(msgs) == 1 {
		return msgs[0]
	}
	return fmt.Sprintf("%d problems:\n  - %s", len(msgs), strings.Join(msgs, "\n  - "))
}

func (r resolveError) Unwrap() []error { return r }

func joinErrors(errs []error) error { return resolveError(errs) }
