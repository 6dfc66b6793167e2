package telemetry

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RegisterMaxStaleness exports refresh.max_staleness, so that one alert rule fits every
// sidecar whatever its config (docs/deploy.md, "Health"):
//
//	patas_secrets_staleness_seconds > patas_secrets_max_staleness_seconds
//
// Staleness is an alert, never a kill: liveness (/healthz) does not look at it.
func RegisterMaxStaleness(m *Metrics, d time.Duration) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "patas_secrets_max_staleness_seconds", Help: "refresh.max_staleness: readiness (/readyz) turns false and the staleness alert fires beyond it.",
	})
	g.Set(d.Seconds())
	m.Registry.MustRegister(g)
}
