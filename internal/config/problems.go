package config

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a config, at a path such as secrets[3].ref.
type Problem struct {
	Path string
	Msg  string
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Msg
	}
	return p.Path + ": " + p.Msg
}

// Problems collects every problem of a config; as an error it lists them all.
type Problems []Problem

// Add records a problem; args are formatted into msg.
func (p *Problems) Add(path, msg string, args ...any) {
	if len(args) > 0 {
		msg = fmt.Sprintf(msg, args...)
	}
	*p = append(*p, Problem{Path: path, Msg: msg})
}

func (p Problems) Error() string {
	lines := make([]string, len(p))
	for i, x := range p {
		lines[i] = "  - " + x.String()
	}
	return fmt.Sprintf("%d problem(s) in config:\n%s", len(p), strings.Join(lines, "\n"))
}

// Err returns p as an error, or nil when there is no problem.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	return p
}
