// Package sinks turns a snapshot of variables into output files. Each format is a dialect
// with its own file and its own documented rules (docs/formats.md): dotenv.go, shell.go,
// docker.go, json.go write one file with WriteAtomic; files.go writes a directory of files
// swapped in as whole generations. A value a dialect cannot carry exactly is refused with a
// *RefuseError that names the variable and the format, never the value.
package sinks

import (
	"context"
	"fmt"
	"os"

	"github.com/patas/patas-secrets/fetcher"
)

// Var is one environment variable.
type Var struct {
	Name  string
	Value fetcher.Value
}

// Snapshot is the complete set of variables of one refresh, in output order.
type Snapshot struct {
	Vars []Var
}

// Get returns the value of name.
func (s Snapshot) Get(name string) (fetcher.Value, bool) {
	for _, v := range s.Vars {
		if v.Name == name {
			return v.Value, true
		}
	}
	return fetcher.Value{}, false
}

// Sink is one output. The engine calls Check on every sink before it calls Write on any,
// so that a value one format cannot carry stops the whole refresh and nothing is written.
type Sink interface {
	// Check reports an error naming the variable and the format when a value cannot be
	// represented. It writes nothing.
	Check(s Snapshot) error
	// Write writes s atomically and reports whether the output changed.
	Write(ctx context.Context, s Snapshot) (changed bool, err error)
	// Stage does every step of Write but the last, the one rename that makes the new
	// content live, so that a refresh can prepare every output before any goes live (see
	// Staged). It returns nil when the output already holds s.
	Stage(ctx context.Context, s Snapshot) (Staged, error)
	// Path is where the output lives, for logs.
	Path() string
}

// Staged is an output's complete new content, written and synced beside the output.
type Staged interface {
	// Commit makes the new content live by one rename, then tidies and syncs. live says
	// whether the rename happened (an error after it, a failed directory fsync say, leaves
	// the new content live). After live=false, Commit may be called again.
	Commit() (live bool, err error)
	// Abort removes what Stage created, unless it went live.
	Abort()
}

// FileOptions are the ownership and permissions of an output.
type FileOptions struct {
	Mode os.FileMode
	UID  int // -1 keeps the process's own
	GID  int // -1 keeps the process's own
}

// DefaultMode suits a file read by another container that shares the group.
const DefaultMode os.FileMode = 0o440

// NameSyntax is the grammar ValidName accepts, for messages.
const NameSyntax = "[A-Za-z_][A-Za-z0-9_]*"

// ValidName reports whether name is a portable environment variable name (NameSyntax):
// the one syntax check of a variable name, used by config, the writers, ReadEnvFile and
// exec. Which valid names are refused (loader and shell variables) is envpolicy's job.
func ValidName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' && i > 0) {
			return false
		}
	}
	return name != ""
}

// RefuseError is returned by Check when a format cannot carry a value.
type RefuseError struct {
	Format string
	Var    string
	Reason string // never the value
}

func (e *RefuseError) Error() string {
	return fmt.Sprintf("format %s cannot carry %s: %s", e.Format, e.Var, e.Reason)
}

// checkNames refuses an invalid or repeated variable name: every dialect needs portable
// names, and a repeated one would be read back as only one of its values.
func checkNames(format string, s Snapshot) error {
	seen := make(map[string]bool, len(s.Vars))
	for _, v := range s.Vars {
		if !ValidName(v.Name) {
			return &RefuseError{Format: format, Var: v.Name, Reason: "not a valid variable name (" + NameSyntax + ")"}
		}
		if seen[v.Name] {
			return &RefuseError{Format: format, Var: v.Name, Reason: "defined twice"}
		}
		seen[v.Name] = true
	}
	return nil
}
