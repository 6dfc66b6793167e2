package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/patas/patas-secrets/internal/config"
	"github.com/patas/patas-secrets/internal/telemetry"
)

func healthFlags(fs *pflag.FlagSet) {
	fs.String("addr", "", "address of the running sidecar (default: the config's listen, else "+config.DefaultListen+")")
	fs.Duration("timeout", 3*time.Second, "how long to wait for an answer")
	fs.Bool("ready", false, "ask for readiness (/readyz: outputs fresh within max_staleness) instead of liveness (/healthz)")
}

// runHealth asks a running `run` about its health, for Docker, Swarm and ECS health checks
// in an image with no shell or curl. By default liveness (/healthz): alive and serving the
// last good outputs, which a backend outage does not change, so an orchestrator that kills
// on it never replaces a sidecar holding good values. --ready asks /readyz: fresh within
// max_staleness, for routing and alerting, not for killing. Exit 0 when the answer is 200.
func runHealth(ctx context.Context, env *cmdEnv) error {
	addr, _ := env.flags.GetString("addr")
	timeout, _ := env.flags.GetDuration("timeout")
	path := "/healthz"
	if ready, _ := env.flags.GetBool("ready"); ready {
		path = "/readyz"
	}
	if addr == "" {
		addr = config.DefaultListen
		if env.configPath != "" {
			cfg, err := loadConfig(env)
			if err != nil {
				return err
			}
			if cfg.Listen == config.ListenDisabled {
				return usageError{fmt.Errorf("listen is %q in %s: there is no server to ask", config.ListenDisabled, env.configPath)}
			}
			addr = cfg.Listen
		}
	}
	probe, err := telemetry.ProbeAddr(addr)
	if err != nil {
		return usageError{fmt.Errorf("address %q: %w", addr, err)}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+probe+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("asking %s: %w", probe, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	msg := strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", probe, msg)
	}
	fmt.Fprintln(env.stdout, msg)
	return nil
}
