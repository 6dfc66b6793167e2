package deploy_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/patas/patas-secrets/internal/config"
	"github.com/patas/patas-secrets/internal/testenv"
	"github.com/patas/patas-secrets/internal/testenv/allbackends"
)

// ecsContainer is the part of a registered container definition these checks read.
type ecsContainer struct {
	Name        string   `json:"name"`
	Essential   *bool    `json:"essential"`
	Command     []string `json:"command"`
	EntryPoint  []string `json:"entryPoint"`
	User        string   `json:"user"`
	ReadOnly    bool     `json:"readonlyRootFilesystem"`
	HealthCheck *struct {
		Command     []string `json:"command"`
		Interval    int      `json:"interval"`
		Timeout     int      `json:"timeout"`
		Retries     int      `json:"retries"`
		StartPeriod int      `json:"startPeriod"`
	} `json:"healthCheck"`
	DependsOn []struct {
		ContainerName string `json:"containerName"`
		Condition     string `json:"condition"`
	} `json:"dependsOn"`
	MountPoints []struct {
		SourceVolume  string `json:"sourceVolume"`
		ContainerPath string `json:"containerPath"`
		ReadOnly      bool   `json:"readOnly"`
	} `json:"mountPoints"`
	RestartPolicy *struct {
		Enabled bool `json:"enabled"`
	} `json:"restartPolicy"`
	LogConfiguration *struct {
		LogDriver string            `json:"logDriver"`
		Options   map[string]string `json:"options"`
	} `json:"logConfiguration"`
}

type ecsTaskDefinition struct {
	TaskDefinitionArn    string `json:"taskDefinitionArn"`
	TaskRoleArn          string `json:"taskRoleArn"`
	ExecutionRoleArn     string `json:"executionRoleArn"`
	Volumes              []struct{ Name string }
	ContainerDefinitions []ecsContainer `json:"containerDefinitions"`
}

// TestECSTaskDefinition registers deploy/ecs/task-definition.json on moto through the aws CLI
// (botocore rejects unknown fields and wrong types client-side) and holds what comes back to
// the rules of the ECS developer guide (task definition parameters: dependsOn, healthCheck).
func TestECSTaskDefinition(t *testing.T) {
	awsCLI := testenv.Binary(t, "PATAS_TEST_AWS_CLI", "aws", "install the AWS CLI (pip install awscli)")
	moto := testenv.Moto(t)
	root := repoRoot(t)

	cmd := exec.Command(awsCLI, "--endpoint-url", moto.URL, "--region", "eu-west-1", "--output", "json",
		"ecs", "register-task-definition", "--cli-input-json", "file://"+filepath.Join(root, "deploy", "ecs", "task-definition.json"))
	cmd.Env = append(withoutAWS(os.Environ()), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("register-task-definition: %v\n%s", err, stderr)
	}
	var resp struct {
		TaskDefinition ecsTaskDefinition `json:"taskDefinition"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("decoding the answer: %v\n%s", err, out)
	}
	td := resp.TaskDefinition
	if !strings.Contains(td.TaskDefinitionArn, ":task-definition/patas:") {
		t.Errorf("taskDefinitionArn: got %q, want family patas", td.TaskDefinitionArn)
	}
	if !strings.HasPrefix(td.TaskRoleArn, "arn:aws:iam::") {
		t.Errorf("taskRoleArn: got %q, want the role that may read Secrets Manager", td.TaskRoleArn)
	}
	checkECSContainers(t, td)
}

func checkECSContainers(t *testing.T, td ecsTaskDefinition) {
	t.Helper()
	byName := map[string]ecsContainer{}
	for _, c := range td.ContainerDefinitions {
		byName[c.Name] = c
	}
	volumes := map[string]bool{}
	for _, v := range td.Volumes {
		volumes[v.Name] = true
	}
	// The ECS developer guide, ContainerDependency: START, COMPLETE, SUCCESS, HEALTHY;
	// COMPLETE and SUCCESS cannot depend on an essential container; HEALTHY needs a
	// healthCheck on the container depended on.
	allowed := map[string]bool{"START": true, "COMPLETE": true, "SUCCESS": true, "HEALTHY": true}
	conditions := map[string]string{}
	for _, c := range td.ContainerDefinitions {
		for _, d := range c.DependsOn {
			if !allowed[d.Condition] {
				t.Errorf("%s dependsOn %s: condition %q is not one of START, COMPLETE, SUCCESS, HEALTHY", c.Name, d.ContainerName, d.Condition)
			}
			dep, ok := byName[d.ContainerName]
			if !ok {
				t.Errorf("%s dependsOn %s, which is not in the task", c.Name, d.ContainerName)
				continue
			}
			essential := dep.Essential == nil || *dep.Essential
			if (d.Condition == "SUCCESS" || d.Condition == "COMPLETE") && essential {
				t.Errorf("%s dependsOn %s with %s, but %s is essential", c.Name, d.ContainerName, d.Condition, d.ContainerName)
			}
			if d.Condition == "HEALTHY" && dep.HealthCheck == nil {
				t.Errorf("%s dependsOn %s being HEALTHY, but %s has no healthCheck", c.Name, d.ContainerName, d.ContainerName)
			}
			conditions[c.Name+"->"+d.ContainerName] = d.Condition
		}
		for _, m := range c.MountPoints {
			if !volumes[m.SourceVolume] {
				t.Errorf("%s mounts %s, which is not a task volume", c.Name, m.SourceVolume)
			}
		}
		if lc := c.LogConfiguration; lc == nil || lc.LogDriver != "awslogs" ||
			lc.Options["awslogs-group"] == "" || lc.Options["awslogs-region"] == "" || lc.Options["awslogs-stream-prefix"] == "" {
			t.Errorf("%s: logConfiguration %+v, want awslogs with group, region and stream prefix (Fargate needs the prefix)", c.Name, c.LogConfiguration)
		}
		if strings.HasPrefix(c.Name, "patas-secrets") && (!c.ReadOnly || c.User == "" || strings.HasPrefix(c.User, "0")) {
			t.Errorf("%s: readonlyRootFilesystem %v, user %q; want read-only and non-root", c.Name, c.ReadOnly, c.User)
		}
	}
	if got := conditions["patas->patas-secrets-install"]; got != "SUCCESS" {
		t.Errorf("patas waits for patas-secrets-install with %q, want SUCCESS", got)
	}
	if got := conditions["patas->patas-secrets"]; got != "HEALTHY" {
		t.Errorf("patas waits for patas-secrets with %q, want HEALTHY", got)
	}

	sidecar := byName["patas-secrets"]
	hc := sidecar.HealthCheck
	if hc == nil {
		t.Fatal("patas-secrets has no healthCheck")
	}
	// healthCheck limits from the ECS API reference (HealthCheck).
	for _, r := range []struct {
		name          string
		got, min, max int
	}{
		{"interval", hc.Interval, 5, 300},
		{"timeout", hc.Timeout, 2, 60},
		{"retries", hc.Retries, 1, 10},
		{"startPeriod", hc.StartPeriod, 0, 300},
	} {
		if r.got < r.min || r.got > r.max {
			t.Errorf("healthCheck.%s: got %d, want %d to %d", r.name, r.got, r.min, r.max)
		}
	}
	// The image has no shell, so CMD-SHELL cannot work: exec form, running health.
	if len(hc.Command) < 3 || hc.Command[0] != "CMD" || hc.Command[2] != "health" {
		t.Errorf("healthCheck.command: got %q, want [CMD /usr/local/bin/patas-secrets health ...]", hc.Command)
	}
	if hc.Timeout >= hc.Interval {
		t.Errorf("healthCheck timeout %d is not below interval %d", hc.Timeout, hc.Interval)
	}
	// Liveness, never readiness: ECS replaces a task whose essential container is unhealthy.
	if slices.Contains(hc.Command, "--ready") {
		t.Errorf("healthCheck.command %q asks readiness: a backend outage would replace tasks holding good values", hc.Command)
	}
	// Without a restart policy, any exit of the essential sidecar stops the whole task.
	if sidecar.RestartPolicy == nil || !sidecar.RestartPolicy.Enabled {
		t.Errorf("patas-secrets: restartPolicy %+v, want enabled", sidecar.RestartPolicy)
	}
	app := byName["patas"]
	if len(app.EntryPoint) < 2 || app.EntryPoint[1] != "exec" {
		t.Errorf("patas entryPoint: got %q, want patas-secrets exec", app.EntryPoint)
	}
	// PATAS runs as its own uid, with the sidecar's group to read the 0440 env file (ECS has
	// no supplementary groups).
	if uid, gid, _ := strings.Cut(app.User, ":"); uid == "" || uid == "0" || uid == "65532" || gid != "65532" {
		t.Errorf("patas user: got %q, want its own non-root uid with the sidecar's group, UID:65532", app.User)
	}
	for _, c := range td.ContainerDefinitions {
		// The stock execution role (AmazonECSTaskExecutionRolePolicy) cannot create a log group.
		if c.LogConfiguration != nil && c.LogConfiguration.Options["awslogs-create-group"] == "true" {
			t.Errorf("%s: awslogs-create-group needs logs:CreateLogGroup on the execution role; create the group beforehand", c.Name)
		}
	}
}

// TestECSPolicies checks the IAM policies the ECS docs point to: the task role can decrypt
// with a customer-managed key (through Secrets Manager only), the execution role writes to
// the pre-created log group.
func TestECSPolicies(t *testing.T) {
	type statement struct {
		Action    []string       `json:"Action"`
		Resource  any            `json:"Resource"`
		Condition map[string]any `json:"Condition"`
	}
	read := func(name string) []statement {
		data, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "ecs", name))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct{ Statement []statement }
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return doc.Statement
	}
	has := func(sts []statement, action string) *statement {
		for i, s := range sts {
			if slices.Contains(s.Action, action) {
				return &sts[i]
			}
		}
		return nil
	}
	task := read("iam-task-role-policy.json")
	if s := has(task, "kms:Decrypt"); s == nil || s.Condition == nil {
		t.Errorf("iam-task-role-policy.json: want kms:Decrypt limited by kms:ViaService to Secrets Manager, got %+v", s)
	}
	if has(task, "secretsmanager:GetSecretValue") == nil {
		t.Errorf("iam-task-role-policy.json lacks secretsmanager:GetSecretValue")
	}
	exec := read("iam-execution-role-policy.json")
	for _, a := range []string{"logs:CreateLogStream", "logs:PutLogEvents", "ecr:BatchGetImage"} {
		if has(exec, a) == nil {
			t.Errorf("iam-execution-role-policy.json lacks %s", a)
		}
	}
}

// TestECSConfig parses the config baked into the ECS image with the real config package.
func TestECSConfig(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "ecs", "patas-secrets.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.Parse(data, "/etc/patas-secrets", allbackends.Registry()); err != nil {
		t.Fatalf("deploy/ecs/patas-secrets.yaml: %v", err)
	}
}

// withoutAWS drops the caller's AWS settings, so the CLI talks to moto with test credentials.
func withoutAWS(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "AWS_") {
			out = append(out, kv)
		}
	}
	return out
}
