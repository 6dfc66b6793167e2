package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/patas/patas-secrets/fetcher/file"
	"github.com/patas/patas-secrets/sinks"
)

const valid = `
environment: production
backends:
  swarm: {type: file, dir: /run/secrets}
  local: {type: file, dir: secrets}
secrets:
  - env: API_KEYS
    ref: swarm:api_keys
  - ref: local:app.json
    expand: true
    prefix: APP_
  - env: DATABASE_URL
    template: 'postgresql+asyncpg://patas:{{ secret "swarm:db_password" | urlencode }}@db:5432/patas'
  - env: LLM_API_KEY
    ref: swarm:llm_api_key
  - env: EMBEDDING_API_KEY
    ref: swarm:embedding_api_key
    optional: true
    fallback: LLM_API_KEY
outputs:
  - {format: dotenv, path: /run/patas/secrets.env, mode: "0440", uid: 1000, gid: 1000}
  - {format: dotenv, path: out/local.env}
refresh: {interval: 5m, jitter: 10%, watch: true, max_staleness: 1h}
notify:  {signal: {pidfile: /run/patas/app.pid, signal: SIGHUP}, debounce: 2s}
listen: 127.0.0.1:9102
validate: {profile: patas, required: [DATABASE_URL]}
`

func TestParseValid(t *testing.T) {
	c, err := Parse([]byte(valid), "/etc/patas", testBackends)
	if err != nil {
		t.Fatalf("valid config: %v", err)
	}
	if got, want := time.Duration(c.Refresh.Interval), 5*time.Minute; got != want {
		t.Errorf("interval: got %s, want %s", got, want)
	}
	if got, want := c.Refresh.JitterFraction(), 0.10; got != want {
		t.Errorf("jitter: got %v, want %v", got, want)
	}
	if got, want := *c.Outputs[0].Mode, Mode(0o440); got != want {
		t.Errorf("mode: got %o, want %o", got, want)
	}
	if got, want := c.Abs(c.Outputs[1].Path), "/etc/patas/out/local.env"; got != want {
		t.Errorf("relative output path: got %s, want %s", got, want)
	}
	if got, want := c.Backends["swarm"].Settings.(*file.Settings).Dir, "/run/secrets"; got != want {
		t.Errorf("file dir: got %s, want %s", got, want)
	}
	if !c.IsProduction() {
		t.Error("environment production: IsProduction() = false")
	}
}

func TestDefaults(t *testing.T) {
	t.Setenv("ENVIRONMENT", "")
	c, err := Parse([]byte("backends: {f: {type: file, dir: d}}\nsecrets: [{env: A, ref: f:a}]\noutputs: [{format: dotenv, path: a.env}]\n"), "/x", testBackends)
	if err != nil {
		t.Fatal(err)
	}
	if c.Environment != "development" || time.Duration(c.Refresh.Interval) != DefaultInterval ||
		time.Duration(c.Refresh.MaxStaleness) != DefaultMaxStaleness || !c.Refresh.WatchEnabled() || c.Refresh.JitterFraction() != DefaultJitter {
		t.Errorf("defaults: got %+v env %s", c.Refresh, c.Environment)
	}
	t.Setenv("ENVIRONMENT", "production")
	c, _ = Parse([]byte("backends: {f: {type: file, dir: d}}\nsecrets: [{env: A, ref: f:a}]\noutputs: [{format: dotenv, path: a.env}]\n"), "/x", testBackends)
	if !c.IsProduction() {
		t.Errorf("environment from $ENVIRONMENT: got %s, want production", c.Environment)
	}
}

// base is a valid config that each bad fixture changes in one place.
const base = `backends:
  swarm: {type: file, dir: /run/secrets}
secrets:
  - env: A
    ref: swarm:a
outputs:
  - {format: dotenv, path: /run/patas/secrets.env}
`

func TestValidateRules(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string // a substring of the problem, path included
	}{
		{"unknown top-level field", base + "refrsh: {interval: 1m}\n", "refrsh is not a known field"},
		{"unknown secret field", strings.Replace(base, "    ref: swarm:a", "    ref: swarm:a\n    optinal: true", 1), "optinal is not a known field"},
		{"unknown output field", strings.Replace(base, "path: /run", "pth: x, path: /run", 1), "pth is not a known field"},
		{"unknown backend field", strings.Replace(base, "dir: /run/secrets", "dir: /run/secrets, region: x", 1), "region is not a known field"},
		{"unknown backend type", strings.Replace(base, "type: file", "type: fiel", 1), `unknown backend type "fiel"`},
		{"backend without type", strings.Replace(base, "type: file, ", "", 1), "backend has no type"},
		{"file backend without dir", strings.Replace(base, ", dir: /run/secrets", "", 1), "backends.swarm.dir: required"},
		{"no backends", "secrets: [{env: A, ref: x:a}]\noutputs: [{format: dotenv, path: a}]\n", "backends: at least one backend"},
		{"unknown backend in ref", strings.Replace(base, "ref: swarm:a", "ref: vualt:a", 1), `secrets[0].ref: unknown backend "vualt" (backends: swarm)`},
		{"ref that does not parse", strings.Replace(base, "ref: swarm:a", "ref: swarm", 1), "secrets[0].ref: reference"},
		{"ref and template", strings.Replace(base, "ref: swarm:a", "ref: swarm:a\n    template: x", 1), "secrets[0]: has both ref and template"},
		{"neither ref nor template", strings.Replace(base, "    ref: swarm:a\n", "", 1), "secrets[0]: needs a ref"},
		{"ref without env", strings.Replace(base, "  - env: A\n    ref", "  - ref", 1), "secrets[0].env: required"},
		{"expand with env", strings.Replace(base, "ref: swarm:a", "ref: swarm:a\n    expand: true", 1), "secrets[0].env: expand sets one variable per key"},
		{"expand with #key", strings.Replace(base, "  - env: A\n    ref: swarm:a", "  - ref: swarm:a#k\n    expand: true", 1), "secrets[0].ref: expand takes a whole JSON object"},
		{"prefix without expand", strings.Replace(base, "ref: swarm:a", "ref: swarm:a\n    prefix: P_", 1), "secrets[0].prefix: prefix applies only with expand"},
		{"bad variable name", strings.Replace(base, "env: A", "env: 1A", 1), `secrets[0].env: "1A" is not a valid variable name`},
		{"duplicate variable", strings.Replace(base, "ref: swarm:a\n", "ref: swarm:a\n  - env: A\n    ref: swarm:b\n", 1), "secrets[1].env: A is already set by secrets[0]"},
		{"template that does not parse", strings.Replace(base, "ref: swarm:a", "template: '{{ secret \"swarm:a\" '", 1), "secrets[0].template"},
		{"template with a computed ref", strings.Replace(base, "ref: swarm:a", "template: '{{ secret (printf \"swarm:%s\" \"a\") }}'", 1), "secret takes one quoted reference"},
		{"template with unknown backend", strings.Replace(base, "ref: swarm:a", "template: '{{ secret \"nope:a\" }}'", 1), `secrets[0].template: unknown backend "nope"`},
		{"template with no secret", strings.Replace(base, "ref: swarm:a", "template: 'plain'", 1), "template calls no secret"},
		{"fallback to unknown variable", strings.Replace(base, "ref: swarm:a", "ref: swarm:a\n    fallback: B", 1), "secrets[0].fallback: B is not set by any other entry"},
		{"fallback to itself", strings.Replace(base, "ref: swarm:a", "ref: swarm:a\n    fallback: A", 1), "secrets[0].fallback: falls back to itself"},
		{"fallback cycle", strings.Replace(base, "ref: swarm:a\n", "ref: swarm:a\n    fallback: B\n  - env: B\n    ref: swarm:b\n    fallback: A\n", 1), "loops back"},
		{"no outputs", strings.Replace(base, "outputs:\n  - {format: dotenv, path: /run/patas/secrets.env}\n", "", 1), "outputs: at least one output"},
		{"unknown format", strings.Replace(base, "format: dotenv", "format: dotnev", 1), `outputs[0].format: unknown format "dotnev"`},
		{"output without path", strings.Replace(base, ", path: /run/patas/secrets.env", "", 1), "outputs[0].path: required"},
		{"duplicate output path", base + "  - {format: dotenv, path: /run/patas/./secrets.env}\n", "outputs[1].path: /run/patas/./secrets.env is also written by outputs[0]"},
		{"unquoted mode", strings.Replace(base, "path: /run/patas/secrets.env", "path: /run/patas/secrets.env, mode: 0440", 1), `mode must be a quoted octal string such as "0440"`},
		{"mode not octal", strings.Replace(base, "path: /run/patas/secrets.env", `path: /run/patas/secrets.env, mode: "0948"`, 1), `mode "0948" is not an octal permission`},
		{"negative uid", strings.Replace(base, "path: /run/patas/secrets.env", "path: /run/patas/secrets.env, uid: -1", 1), "outputs[0].uid: must be 0 or more"},
		{"bad duration", base + "refresh: {interval: 5 minutes}\n", `want a duration such as "30s"`},
		{"interval too short", base + "refresh: {interval: 10ms}\n", "refresh.interval: must be at least 1s"},
		{"bad jitter", base + "refresh: {jitter: 10}\n", "want a percentage"},
		{"staleness below interval", base + "refresh: {interval: 1h, max_staleness: 5m}\n", "refresh.max_staleness: must exceed interval × (1 + jitter) + read_timeout"},
		{"staleness equal to the interval", base + "refresh: {interval: 5m, max_staleness: 5m}\n", "refresh.max_staleness: must exceed interval × (1 + jitter) + read_timeout (5m0s × 1.10 + 30s = 6m0s), got 5m0s"},
		{"staleness without room for a read", base + "refresh: {interval: 1s, jitter: 0%, max_staleness: 2s}\n", "refresh.max_staleness: must exceed"},
		{"negative read_timeout", base + "refresh: {read_timeout: -1s}\n", "refresh.read_timeout: must not be negative"},
		{"unknown environment", "environment: prod\n" + base, `environment: unknown environment "prod"`},
		{"required variable not produced", base + "validate: {required: [DATABASE_URL]}\n", "validate.required[0]: DATABASE_URL is not produced"},
		{"notify without target", base + "notify: {debounce: 2s}\n", "notify: needs at least one of signal, command or http"},
		{"notify bad signal", base + "notify: {signal: {pidfile: /run/app.pid, signal: SIGFOO}}\n", `notify.signal.signal: unknown signal "SIGFOO"`},
		{"notify unknown field", base + "notify: {signal: {pidfle: /run/app.pid}}\n", "pidfle is not a known field"},
		{"overlap on a template", strings.Replace(base, "ref: swarm:a", "template: '{{ secret \"swarm:a\" }}'\n    overlap: 1h", 1), "secrets[0].overlap: applies to one list variable"},
		{"listen not host:port", base + "listen: 9102\n", `listen: "9102" is not host:port`},
		{"unknown profile", base + "validate: {profile: patsa}\n", `validate.profile: unknown profile "patsa"`},
		{"inline password in production", "environment: production\n" + strings.Replace(base, "ref: swarm:a", "template: 'postgresql://patas:hunter2@db/{{ secret \"swarm:a\" }}'", 1), "secrets[0].template: holds a literal password"},
		{"dotenv file in production", "environment: production\n" + strings.Replace(base, "ref: swarm:a", "ref: swarm:.env#A", 1), "secrets[0].ref: swarm:.env#A: a .env file, which production refuses"},
		{"negative min_length", base + "hygiene: {min_length: -1}\n", "hygiene.min_length: must be 0 or more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "/x", testBackends)
			if err == nil {
				t.Fatalf("got no error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got:\n%v\nwant a problem containing %q", err, tt.want)
			}
		})
	}
}

func TestEveryProblemAtOnce(t *testing.T) {
	bad := `environment: prod
backends:
  swarm: {type: file}
secrets:
  - env: 1A
    ref: vualt:a
  - env: B
    ref: swarm:b
    optinal: true
outputs:
  - {format: dotnev, path: x, mode: 0440}
refresh: {interval: 10ms}
`
	_, err := Parse([]byte(bad), "/x", testBackends)
	var probs Problems
	if !errors.As(err, &probs) {
		t.Fatalf("got %v, want Problems", err)
	}
	for _, want := range []string{"optinal", "mode must be", "environment:", "backends.swarm.dir", "secrets[0].env", "secrets[0].ref", "outputs[0].format", "refresh.interval"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problem %q missing from:\n%v", want, err)
		}
	}
	if len(probs) < 8 {
		t.Errorf("got %d problems, want at least 8:\n%v", len(probs), err)
	}
}

func TestUnknownFieldLineNumbersInBackends(t *testing.T) {
	_, err := Parse([]byte("backends:\n  a: {type: file, dir: d}\n  b:\n    type: file\n    dir: d\n    dri: e\nsecrets: [{env: A, ref: a:x}]\noutputs: [{format: dotenv, path: p}]\n"), "/x", testBackends)
	if err == nil || !strings.Contains(err.Error(), "line 6:") {
		t.Errorf("got %v, want the unknown field reported at line 6", err)
	}
}

func TestSyntaxError(t *testing.T) {
	_, err := Parse([]byte("secrets: [\n"), "/x", testBackends)
	if err == nil || !strings.Contains(err.Error(), "YAML") {
		t.Errorf("got %v, want a YAML syntax error", err)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "5m": 5 * time.Minute, "1h30m": 90 * time.Minute} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"d", "-1d", "5 minutes", "1.5d"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q): want an error", in)
		}
	}
}

func TestExpandListsValidation(t *testing.T) {
	base := "backends: {f: {type: file, dir: /x}}\noutputs: [{format: dotenv, path: /o/a.env}]\nsecrets:\n"
	for _, tt := range []struct{ secrets, want string }{
		{"  - {env: A, ref: 'f:a', keys: [k]}\n", "secrets[0].keys: keys applies only with expand: true"},
		{"  - {env: A, ref: 'f:a', expand_allow: [PATH]}\n", "secrets[0].expand_allow: expand_allow applies only with expand: true"},
		{"  - {ref: 'f:a', expand: true, expand_allow: ['1x']}\n", `secrets[0].expand_allow[0]: "1x" is not a valid variable name`},
		{"  - {ref: 'f:a', expand: true, keys: ['']}\n", "secrets[0].keys[0]: empty key"},
	} {
		_, err := Parse([]byte(base+tt.secrets), "/", testBackends)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.secrets, err, tt.want)
		}
	}
}

// TestStalenessAndMinLengthDefaults: min_length 0 stays 0 (off), absent is 16; an absent
// max_staleness leaves room for two cycles of a long interval.
func TestStalenessAndMinLengthDefaults(t *testing.T) {
	cfg := "backends: {f: {type: file, dir: d}}\nsecrets: [{env: A, ref: f:a}]\noutputs: [{format: dotenv, path: a.env}]\n"
	c, err := Parse([]byte(cfg+"hygiene: {min_length: 0}\nrefresh: {interval: 1h}\n"), "/x", testBackends)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Hygiene.MinLengthOrDefault(); got != 0 {
		t.Errorf("min_length: 0 became %d, want 0 (off)", got)
	}
	if got, want := time.Duration(c.Refresh.MaxStaleness), 2*66*time.Minute+DefaultReadTimeout; got != want {
		t.Errorf("default max_staleness for a 1h interval: got %s, want %s", got, want)
	}
	c, _ = Parse([]byte(cfg), "/x", testBackends)
	if got := c.Hygiene.MinLengthOrDefault(); got != DefaultMinLength {
		t.Errorf("absent min_length: got %d, want %d", got, DefaultMinLength)
	}
}

// TestProfileDispatch: config applies the patas rules only under validate.profile: patas.
func TestProfileDispatch(t *testing.T) {
	empty := sinks.Snapshot{}
	c := &Config{Environment: "production"}
	if _, probs := c.ApplyProfile(empty); probs != nil {
		t.Errorf("no profile: got %v, want no problems", probs)
	}
	c.Validation.Profile = "patas"
	if _, probs := c.ApplyProfile(empty); len(probs) == 0 || c.ProfileErrorTitle() != "Production configuration errors:" {
		t.Errorf("patas profile in production without API_KEYS: got %v, %q; want a problem", probs, c.ProfileErrorTitle())
	}
	if !c.IsSetting("LLM_PROVIDER") || (&Config{}).IsSetting("LLM_PROVIDER") {
		t.Errorf("IsSetting: want LLM_PROVIDER a setting under the patas profile only")
	}
}
