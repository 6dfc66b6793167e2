package main

import "context"

// runOnce is the init container's job: everything or nothing.
func runOnce(ctx context.Context, env *cmdEnv) error {
	eng, _, closeAll, err := setup(ctx, env)
	if err != nil {
		return err
	}
	defer closeAll()
	if err := eng.RunOnce(ctx); err != nil {
		return err
	}
	env.log.Info("all outputs written")
	return nil
}
