package sinks

import (
	"bufio"
	"strings"
	"unicode/utf8"
)

// encodeDocker writes raw NAME=value lines for `docker run --env-file` (and Compose's
// `env_file` with `format: raw`). The docker CLI reads the file with
// github.com/docker/cli/pkg/kvfile (called by opts.ReadKVEnvStrings; ParseEnvFile in older
// releases), whose rules are: the file must be valid UTF-8; it is split into lines by a
// bufio.Scanner, which ends a line at LF, drops one CR before it, and fails on a line
// longer than 64 KiB; leading white space of a line is dropped; a line starting with # is
// a comment; the first = splits name from value; the value is taken as-is, with no quote,
// escape or $ processing and its white space kept; a line with no = imports the variable
// from the caller's environment.
//
// So a value is written raw and read back exactly unless it holds a newline or a CR
// (refused: a line break ends the value; we refuse every CR, not only a final one, as a
// CR in a one-line-per-variable file is a hazard to any other tool), a NUL (refused: no
// environment variable can hold one), bytes that are not UTF-8 (refused: the reader fails
// on the whole file), or makes its line longer than 65535 bytes (refused: the reader fails
// on the whole file). Names are ValidName, so they hold no white space, = or #.
func encodeDocker(s Snapshot) ([]byte, error) {
	if err := checkNames("docker", s); err != nil {
		return nil, err
	}
	var b strings.Builder
	for _, v := range s.Vars {
		value := string(v.Value.Reveal())
		var why string
		switch {
		case strings.ContainsAny(value, "\n\r"):
			why = "contains a line break (LF or CR), which ends a line in an env-file"
		case strings.IndexByte(value, 0) >= 0:
			why = "contains a NUL byte, which no environment variable can hold"
		case !utf8.ValidString(value):
			why = "is not valid UTF-8 (docker refuses the whole env-file)"
		case len(v.Name)+1+len(value) > dockerMaxLine:
			why = "makes a line longer than docker's 64 KiB limit"
		}
		if why != "" {
			return nil, &RefuseError{Format: "docker", Var: v.Name, Reason: why}
		}
		b.WriteString(v.Name)
		b.WriteByte('=')
		b.WriteString(value)
		b.WriteByte('\n')
	}
	return []byte(b.String()), nil
}

// dockerMaxLine is the longest line, without its LF, that a default bufio.Scanner returns:
// its buffer of MaxScanTokenSize bytes must hold the line and the LF.
const dockerMaxLine = bufio.MaxScanTokenSize - 1
