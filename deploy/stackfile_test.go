package deploy_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

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
			checkUsersAndHealth(t, tc.file, p)
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

// checkUsersAndHealth holds both files to the first-deploy rules: the app runs as its own
// uid with the sidecar's group, the sidecar as 65532; health checks are liveness; a /tmp
// tmpfs beside the read-only root; restart policies; in Swarm, versioned secret and config
// names, placement, two replicas and start-first updates.
func checkUsersAndHealth(t *testing.T, file string, p *types.Project) {
	t.Helper()
	side, app := p.Services["patas-secrets"], p.Services["patas"]
	if uid, _, _ := strings.Cut(side.User, ":"); !strings.Contains(uid, "65532") {
		t.Errorf("patas-secrets user: got %q, want 65532 (or the documented override)", side.User)
	}
	uid, gid, _ := strings.Cut(app.User, ":")
	if uid == "" || uid == "0" || uid == "65532" {
		t.Errorf("patas user: got %q, want its own non-root uid", app.User)
	}
	if gid != "65532" && !slices.Contains(app.GroupAdd, "65532") {
		t.Errorf("patas: user %q, group_add %v: want the sidecar's group 65532 to read the 0440 env file", app.User, app.GroupAdd)
	}
	for _, s := range []types.ServiceConfig{side, app} {
		hc := s.HealthCheck
		if hc == nil || len(hc.Test) == 0 {
			t.Errorf("%s: no healthcheck", s.Name)
		} else if slices.Contains(hc.Test, "--ready") {
			t.Errorf("%s: healthcheck %q asks readiness; what kills must be liveness", s.Name, hc.Test)
		}
	}
	tmp := slices.ContainsFunc(app.Tmpfs, func(s string) bool { return strings.HasPrefix(s, "/tmp") }) ||
		slices.ContainsFunc(app.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Type == "tmpfs" && v.Target == "/tmp" })
	if !tmp {
		t.Errorf("patas: read-only root without a /tmp tmpfs")
	}
	if file == "docker-compose.yml" {
		for _, s := range []types.ServiceConfig{side, app} {
			if s.Restart == "" || s.Restart == "no" {
				t.Errorf("%s: restart %q, want a restart policy", s.Name, s.Restart)
			}
		}
		return
	}
	for _, s := range []types.ServiceConfig{side, app} {
		d := s.Deploy
		if d == nil || d.UpdateConfig == nil || d.UpdateConfig.Order != "start-first" {
			t.Errorf("%s: want deploy.update_config.order start-first", s.Name)
		}
		if d == nil || d.Placement.Constraints == nil || !slices.Contains(d.Placement.Constraints, "node.labels.patas-secrets == true") {
			t.Errorf("%s: want the placement constraint node.labels.patas-secrets == true", s.Name)
		}
		if d == nil || d.RestartPolicy == nil {
			t.Errorf("%s: no restart_policy", s.Name)
		}
	}
	if d := app.Deploy; d == nil || d.Replicas == nil || *d.Replicas < 2 {
		t.Errorf("patas: want at least 2 replicas")
	}
	for name, sec := range p.Secrets {
		if !strings.HasSuffix(sec.Name, "_v1") {
			t.Errorf("secret %s: name %q carries no version: the next stack deploy would undo a rotation", name, sec.Name)
		}
	}
	for name, c := range p.Configs {
		if !strings.HasSuffix(c.Name, "_v1") {
			t.Errorf("config %s: name %q carries no version: an edited config cannot be redeployed", name, c.Name)
		}
	}
}
