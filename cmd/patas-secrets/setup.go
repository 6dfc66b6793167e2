package main

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/internal/config"
	"github.com/patas/patas-secrets/internal/engine"
)

// loadConfig reads and validates the config; every problem is a usage error.
func loadConfig(env *cmdEnv) (*config.Config, error) {
	if env.configPath == "" {
		return nil, usageError{errors.New("no config: pass --config FILE or set " + configEnvVar)}
	}
	cfg, err := config.Load(env.configPath, backendRegistry())
	if err != nil {
		return nil, usageError{err}
	}
	return cfg, nil
}

// setup loads the config, opens the backends and builds the engine. The caller closes the
// backends with the returned function.
func setup(ctx context.Context, env *cmdEnv) (*engine.Engine, *config.Config, func(), error) {
	cfg, err := loadConfig(env)
	if err != nil {
		return nil, nil, nil, err
	}
	backends, err := openBackends(ctx, cfg, env.log)
	if err != nil {
		return nil, nil, nil, err
	}
	closeAll := func() { closeBackends(backends) }
	eng, err := engine.New(cfg, backends, env.log)
	if err != nil {
		closeAll()
		return nil, nil, nil, err
	}
	env.log.Debug("config loaded", zap.String("config", env.configPath), zap.String("environment", cfg.Environment),
		zap.Int("secrets", len(cfg.Secrets)), zap.Int("outputs", len(cfg.Outputs)))
	return eng, cfg, closeAll, nil
}
