package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/internal/engine"
)

// runRun is the sidecar: refresh until SIGTERM or SIGINT; SIGHUP refreshes now.
func runRun(ctx context.Context, env *cmdEnv) error {
	eng, _, closeAll, err := setup(ctx, env)
	if err != nil {
		return err
	}
	defer closeAll()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reasons := make(chan engine.Reason, 1)
	go func() {
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
	env.log.Info("running", zap.String("config", env.configPath))
	return eng.Run(ctx, reasons)
}
