package telemetry

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/patas/patas-secrets/fetcher"
)

// Metrics are the sidecar's Prometheus metrics, on a registry of their own. No metric
// carries a value, and every label comes from the config (backend names, refs, output
// paths, variable names) or from a fixed set (results, reasons, rules).
type Metrics struct {
	Registry *prometheus.Registry

	Fetches        *prometheus.CounterVec   // backend, result
	FetchDuration  *prometheus.HistogramVec // backend
	Refreshes      *prometheus.CounterVec   // result, reason
	LastSuccess    prometheus.Gauge
	OutputsWritten *prometheus.CounterVec // path
	OutputErrors   *prometheus.CounterVec // path
	SecretAge      *prometheus.GaugeVec   // backend, ref
	Hygiene        *prometheus.GaugeVec   // rule, subject (a variable or a ref)
	Notifications  *prometheus.CounterVec // result
}

// Fetch results, the values of the result label.
const (
	ResultOK        = "ok"
	ResultAuth      = "auth"
	ResultNotFound  = "not_found"
	ResultThrottled = "throttled"
	ResultTimeout   = "timeout"
	ResultNetwork   = "network"
	ResultError     = "error"
)

// NewMetrics registers every metric. staleness is read at scrape time.
func NewMetrics(version string, staleness func() time.Duration) *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		Fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patas_secrets_fetches_total", Help: "Secret reads by backend and result (ok, auth, not_found, throttled, timeout, network, error).",
		}, []string{"backend", "result"}),
		FetchDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "patas_secrets_fetch_duration_seconds", Help: "Time of one backend read (or one batch).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"backend"}),
		Refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patas_secrets_refreshes_total", Help: "Refreshes by result (ok, error) and what triggered them.",
		}, []string{"result", "reason"}),
		LastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "patas_secrets_last_success_timestamp_seconds", Help: "Unix time of the last refresh that wrote every output.",
		}),
		OutputsWritten: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patas_secrets_outputs_written_total", Help: "Output files rewritten because their content changed.",
		}, []string{"path"}),
		OutputErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patas_secrets_output_errors_total", Help: "Failed output writes (disk full, read-only, permission).",
		}, []string{"path"}),
		SecretAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "patas_secrets_secret_age_seconds", Help: "Age of the secret version read, since the backend created it (where the backend says).",
		}, []string{"backend", "ref"}),
		Hygiene: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "patas_secrets_hygiene_warnings", Help: "1 while a hygiene rule (max_age, too_short, low_entropy, known_weak) flags a variable or a secret ref in production.",
		}, []string{"rule", "subject"}),
		Notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patas_secrets_notifications_total", Help: "Notifications of the application by result (ok, error).",
		}, []string{"result"}),
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "patas_secrets_build_info", Help: "Always 1; the version label says which build runs.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	build.Set(1)
	stale := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "patas_secrets_staleness_seconds", Help: "Seconds since the last successful refresh (since start before the first).",
	}, func() float64 { return staleness().Seconds() })
	r.MustRegister(m.Fetches, m.FetchDuration, m.Refreshes, m.LastSuccess, m.OutputsWritten, m.OutputErrors,
		m.SecretAge, m.Hygiene, m.Notifications, build, stale,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Classify maps a read's error to the result label.
func Classify(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return ResultOK
	case errors.Is(err, fetcher.ErrPermission):
		return ResultAuth
	case errors.Is(err, fetcher.ErrNotFound):
		return ResultNotFound
	case errors.Is(err, fetcher.ErrThrottled):
		return ResultThrottled
	case errors.Is(err, context.DeadlineExceeded):
		return ResultTimeout
	case errors.As(err, &ne):
		return ResultNetwork
	}
	return ResultError
}
