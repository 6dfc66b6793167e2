package main

import (
	"fmt"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/internal/config"
	"github.com/patas/patas-secrets/internal/engine"
	"github.com/patas/patas-secrets/internal/notify"
)

// setOutputNotifiers gives each output with its own notify: section its notifier, counted
// in the same notifications metric as the global one.
func setOutputNotifiers(cfg *config.Config, eng *engine.Engine, log *zap.Logger) error {
	for i, o := range cfg.Outputs {
		if o.Notify == nil {
			continue
		}
		n, err := notify.New(*o.Notify, cfg.Dir, log.Named("notify").With(zap.String("output", o.Path)))
		if err != nil {
			return fmt.Errorf("outputs[%d].notify: %w", i, err)
		}
		n.OnResult = func(ok bool) {
			result := "ok"
			if !ok {
				result = "error"
			}
			eng.Metrics.Notifications.WithLabelValues(result).Inc()
		}
		eng.SetOutputNotifier(i, n)
	}
	return nil
}
