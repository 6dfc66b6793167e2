package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/internal/config"
	"github.com/patas/patas-secrets/internal/engine"
	"github.com/patas/patas-secrets/internal/notify"
	"github.com/patas/patas-secrets/internal/telemetry"
)

// runRun is the sidecar: refresh until SIGTERM or SIGINT; SIGHUP refreshes now. It serves
// /healthz, /readyz and /metrics on the config's listen address.
func runRun(ctx context.Context, env *cmdEnv) error {
	// Before setup: SIGHUP's default action would end the process while the config loads
	// or the backends open. A SIGHUP meanwhile becomes a refresh once running.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	eng, cfg, closeAll, err := setup(ctx, env)
	if err != nil {
		return err
	}
	defer closeAll()
	eng.Metrics = telemetry.NewMetrics(version, eng.Staleness)
	telemetry.RegisterMaxStaleness(eng.Metrics, eng.MaxStaleness())
	if cfg.Notify != nil {
		n, err := notify.New(*cfg.Notify, cfg.Dir, env.log.Named("notify"))
		if err != nil {
			return err
		}
		n.OnResult = func(ok bool) {
			result := "ok"
			if !ok {
				result = "error"
			}
			eng.Metrics.Notifications.WithLabelValues(result).Inc()
		}
		eng.Notifier = n
	}
	if err := setOutputNotifiers(cfg, eng, env.log); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	var served <-chan error
	if cfg.Listen != config.ListenDisabled {
		l, err := telemetry.Listen(cfg.Listen)
		if err != nil {
			return err
		}
		errc := make(chan error, 1)
		served = errc
		go func() {
			errc <- telemetry.Serve(ctx, l, telemetry.ProbeHandler(eng.Metrics, telemetry.Probes{Alive: eng.Alive, Ready: eng.Ready}), env.log)
		}()
	}

	reasons := make(chan engine.Reason, 1)
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				select {
				case reasons <- engine.ReasonSignal:
				default:
				}
			}
		}
	}()
	env.log.Info("running", zap.String("config", env.configPath), zap.String("listen", cfg.Listen))
	err = eng.Run(ctx, reasons)
	cancel()
	<-done
	if served != nil {
		if serr := <-served; serr != nil && err == nil {
			err = serr
		}
	}
	return err
}
