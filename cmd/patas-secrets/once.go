package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/pflag"
)

func onceFlags(fs *pflag.FlagSet) {
	fs.Duration("timeout", 0, "give up (exit 1, no output touched) when everything is not written within this long, e.g. 2m; 0: no overall limit beyond each read's own read_timeout")
}

// runOnce is the init container's job: everything or nothing.
func runOnce(ctx context.Context, env *cmdEnv) error {
	timeout, _ := env.flags.GetDuration("timeout")
	if timeout < 0 {
		return usageError{fmt.Errorf("--timeout must not be negative, got %s", timeout)}
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
		// Like a stop signal: bounded even when a read ignores its context.
		defer hardStop(ctx, env.stderr)()
	}
	eng, _, closeAll, err := setup(ctx, env)
	if err != nil {
		return err
	}
	defer closeAll()
	if err := eng.RunOnce(ctx); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("--timeout %s reached before every output was written (none was changed): %w", timeout, err)
		}
		return err
	}
	env.log.Info("all outputs written")
	return nil
}
