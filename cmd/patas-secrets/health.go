package main

import (
	"context"
	"errors"

	"github.com/spf13/pflag"
)

// healthFlags and runHealth are replaced by the health client (issue: operations).
func healthFlags(fs *pflag.FlagSet) {}

func runHealth(ctx context.Context, env *cmdEnv) error {
	return errors.New("health is not in this build yet")
}
