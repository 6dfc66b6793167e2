package engine

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/hygiene"
	"github.com/patas/patas-secrets/sinks"
)

// checkHygiene, in production, flags weak values and secrets older than max_age. It warns
// (a log line when the set of findings changes, and a metric); it never blocks a refresh.
// Variables that are settings, not secrets (an entry's hygiene: false, or a name the
// validation profile knows as a setting, such as LLM_PROVIDER), are not judged.
func (e *Engine) checkHygiene(snap sinks.Snapshot, results map[string]fetcher.Result, settings map[string]bool) {
	if !e.cfg.IsProduction() {
		return
	}
	var findings []hygiene.Finding
	for _, v := range snap.Vars {
		if settings[v.Name] || e.cfg.IsSetting(v.Name) {
			continue
		}
		findings = append(findings, hygiene.CheckValue(v.Name, v.Value.Reveal(), e.cfg.Hygiene.MinLengthOrDefault())...)
	}
	now := time.Now()
	for src, r := range results {
		if r.Err == nil {
			findings = append(findings, hygiene.CheckAge(src, r.Secret.Created, time.Duration(e.cfg.Hygiene.MaxAge), now)...)
		}
	}
	slices.SortFunc(findings, func(a, b hygiene.Finding) int {
		return strings.Compare(a.Subject+"\x00"+a.Rule+"\x00"+a.Detail, b.Subject+"\x00"+b.Rule+"\x00"+b.Detail)
	})
	if e.Metrics != nil {
		e.Metrics.Hygiene.Reset()
		for _, f := range findings {
			e.Metrics.Hygiene.WithLabelValues(f.Rule, f.Subject).Set(1)
		}
	}
	key := fmt.Sprint(findings)
	if key == e.lastFindings {
		return
	}
	e.lastFindings = key
	for _, f := range findings {
		e.log.Warn("secret hygiene", zap.String("rule", f.Rule), zap.String("subject", f.Subject), zap.String("detail", f.Detail))
	}
}
