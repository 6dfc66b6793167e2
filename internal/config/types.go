package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written as "5m", "1h30m" or, for long spans, "90d".
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		return typeError(n, "want a duration such as \"30s\", \"5m\" or \"90d\", got %q", n.Value)
	}
	*d = Duration(v)
	return nil
}

func (d Duration) MarshalYAML() (interface{}, error) { return time.Duration(d).String(), nil }

// ParseDuration is time.ParseDuration plus a whole-number "d" (days) form.
func ParseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// Mode is a file mode written as a quoted octal string ("0440"), never a YAML number:
// YAML 1.1 and 1.2 disagree on what an unquoted 0440 means.
type Mode os.FileMode

func (m *Mode) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		return typeError(n, "mode must be a quoted octal string such as \"0440\", got %s", n.Value)
	}
	v, err := strconv.ParseUint(n.Value, 8, 32)
	if err != nil || v > 0o777 {
		return typeError(n, "mode %q is not an octal permission between \"0000\" and \"0777\"", n.Value)
	}
	*m = Mode(v)
	return nil
}

// Percent is a fraction written as "10%".
type Percent float64

func (p *Percent) UnmarshalYAML(n *yaml.Node) error {
	s, ok := strings.CutSuffix(n.Value, "%")
	v, err := strconv.ParseFloat(s, 64)
	if !ok || err != nil || v < 0 || v > 100 {
		return typeError(n, "want a percentage between \"0%%\" and \"100%%\", got %q", n.Value)
	}
	*p = Percent(v / 100)
	return nil
}

// typeError lets yaml.v3 keep decoding and collect this problem with the others.
func typeError(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: ", n.Line) + fmt.Sprintf(format, args...)}}
}
