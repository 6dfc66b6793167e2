package main

import (
	"context"
	"errors"
)

// runInstall is replaced by the install command (issue: delivering rotation).
func runInstall(ctx context.Context, env *cmdEnv) error {
	return errors.New("install is not in this build yet")
}
