package deploy_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"

	"github.com/patas/patas-secrets/internal/config"
	"github.com/patas/patas-secrets/internal/testenv/allbackends"
)

// TestStackFile loads docker-compose.yml and deploy/swarm/stack.yml with compose-go (the
// loader of Compose v2), which validates them against the Compose schema, and parses the
// patas-secrets configs they mount with the real config package. It needs no engine.
func TestStackFile(t *testing.T) {
	root := repoRoot(t)
	for _, tc := range []struct {
		file, config string
		services     []string
	}{
		{"docker-compose.yml", "deploy/compose/patas-secrets.yaml", []string{"patas-secrets-install", "patas-secrets", "patas"}},
		{"deploy/swarm/stack.yml", "deploy/swarm/patas-secrets.yaml", []string{"patas-secrets", "patas"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			opts, err := cli.NewProjectOptions([]string{filepath.Join(root, tc.file)}, cli.WithName("patas-check"), cli.WithOsEnv)
			if err != nil {
				t.Fatal(err)
			}
			p, err := opts.LoadProject(context.Background())
			if err != nil {
				t.Fatalf("loading %s: %v", tc.file, err)
			}
			for _, name := range tc.services {
				s, ok := p.Services[name]
				if !ok {
					t.Errorf("no service %s", name)
					continue
				}
				if !s.ReadOnly {
					t.Errorf("%s: read_only is not set", name)
				}
			}
			vol, ok := p.Volumes["patas-run"]
			if !ok || vol.DriverOpts["type"] != "tmpfs" {
				t.Errorf("patas-run: got %+v, want a tmpfs volume", vol)
			}
			data, err := os.ReadFile(filepath.Join(root, tc.config))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := config.Parse(data, "/etc/patas-secrets", allbackends.Registry()); err != nil {
				t.Fatalf("%s: %v", tc.config, err)
			}
		})
	}
}
