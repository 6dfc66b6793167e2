package main

import (
	"context"
	"errors"

	"github.com/spf13/pflag"
)

// execFlags and runExec are replaced by the exec supervisor (issue: delivering rotation).
func execFlags(fs *pflag.FlagSet) {}

func runExec(ctx context.Context, env *cmdEnv) error {
	return errors.New("exec is not in this build yet")
}
