package main

import (
	"context"
	"fmt"
	"sort"

	"github.com/spf13/pflag"
)

func checkFlags(fs *pflag.FlagSet) {
	fs.Bool("connect", false, "also reach every backend and read every secret (values are never printed)")
}

// runCheck validates the config and, with --connect, does what once does minus the write:
// resolves every variable and runs every output's checks. It prints names, never values.
func runCheck(ctx context.Context, env *cmdEnv) error {
	cfg, err := loadConfig(env)
	if err != nil {
		return err
	}
	connect, _ := env.flags.GetBool("connect")
	if !connect {
		fmt.Fprintf(env.stdout, "config %s is valid: %d backend(s), %d secret entries, %d output(s)\n",
			env.configPath, len(cfg.Backends), len(cfg.Secrets), len(cfg.Outputs))
		return nil
	}
	eng, _, closeAll, err := setup(ctx, env)
	if err != nil {
		return err
	}
	defer closeAll()
	snap, err := eng.Prepare(ctx)
	if err != nil {
		return err
	}
	names := make([]string, len(snap.Vars))
	for i, v := range snap.Vars {
		names[i] = v.Name
	}
	sort.Strings(names)
	fmt.Fprintf(env.stdout, "config %s is valid and every secret resolved: %v\n", env.configPath, names)
	return nil
}
