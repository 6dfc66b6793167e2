package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// ReadyFunc reports readiness and, when not ready, why.
type ReadyFunc func() (bool, string)

// Probes answer the two health questions. A nil Alive means "the process answers".
type Probes struct {
	Alive ReadyFunc // liveness, /healthz: serving the last good outputs; never fails for staleness
	Ready ReadyFunc // readiness, /readyz: those outputs are fresh (within max_staleness)
}

// Handler serves /healthz (the process is alive), /readyz (ready() holds) and /metrics.
func Handler(m *Metrics, ready ReadyFunc) http.Handler {
	return ProbeHandler(m, Probes{Ready: ready})
}

// ProbeHandler serves /healthz (p.Alive), /readyz (p.Ready) and /metrics. The body says why.
func ProbeHandler(m *Metrics, p Probes) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if p.Alive == nil {
			fmt.Fprintln(w, "ok")
			return
		}
		ok, why := p.Alive()
		if !ok {
			http.Error(w, "not alive: "+why, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "alive: "+why)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := p.Ready()
		if !ok {
			http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry}))
	return mux
}

// Listen binds addr now, so that a port already in use is reported at start-up.
func Listen(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return l, nil
}

// Serve serves h on l until ctx is cancelled, then shuts down gracefully.
func Serve(ctx context.Context, l net.Listener, h http.Handler, log *zap.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	log.Info("serving health and metrics", zap.String("addr", l.Addr().String()))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdown)
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}

// ProbeAddr turns a listen address into one a local client can dial: an unspecified host
// (":9102", "0.0.0.0:9102", "[::]:9102") becomes loopback.
func ProbeAddr(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", err
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}
