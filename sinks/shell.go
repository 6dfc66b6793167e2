package sinks

import "strings"

// encodeShell writes one `export NAME='value'` line per variable, for an entrypoint that
// runs `set -a; . file; set +a` in POSIX sh (dash), bash or any POSIX shell.
//
// Rules: inside single quotes a POSIX shell takes every byte literally: no $ or backtick
// expansion, no backslash escape, no globbing, newlines and CRs kept. The one byte that
// cannot appear inside is the quote itself, written as close quote, escaped quote, reopen:
//
//	export NAME='it'\''s'
//
// So any value reads back exactly and sourcing the file runs nothing but export. Bytes
// that are not UTF-8 are kept too (checked in bash's C and UTF-8 locales and dash).
//
// Refused:
//   - a NUL byte: no shell variable (and no environment variable) can hold one;
//   - names that bash or dash own (shellReserved): read-only ones make `export` fail or
//     (dash) stop the script; dynamic ones (RANDOM, SECONDS, LINENO, _, …) are overwritten
//     on the next read; OPTIND accepts only numbers; bash resets SHLVL on exec.
func encodeShell(s Snapshot) ([]byte, error) {
	if err := checkNames("shell", s); err != nil {
		return nil, err
	}
	var b strings.Builder
	for _, v := range s.Vars {
		if shellReserved[v.Name] {
			return nil, &RefuseError{Format: "shell", Var: v.Name, Reason: "bash or dash sets this variable itself, so it would not read back"}
		}
		value := string(v.Value.Reveal())
		if strings.IndexByte(value, 0) >= 0 {
			return nil, &RefuseError{Format: "shell", Var: v.Name, Reason: "contains a NUL byte, which no shell variable can hold"}
		}
		b.WriteString("export ")
		b.WriteString(v.Name)
		b.WriteString("='")
		b.WriteString(strings.ReplaceAll(value, "'", `'\''`))
		b.WriteString("'\n")
	}
	return []byte(b.String()), nil
}

// shellReserved are names whose exported value does not read back in bash 5.2 or dash
// 0.5.12 (found by exporting each and reading the environment of an exec'd child; see
// TestShellReservedNames), plus BASH_MONOSECONDS and BASH_TRAPSIG, dynamic in bash 5.3.
var shellReserved = map[string]bool{
	// read-only in bash
	"BASHOPTS": true, "BASH_VERSINFO": true, "EUID": true, "PPID": true, "SHELLOPTS": true, "UID": true,
	// set by bash on each use or on exec
	"BASHPID": true, "BASH_ALIASES": true, "BASH_ARGC": true, "BASH_ARGV": true, "BASH_CMDS": true,
	"BASH_COMMAND": true, "BASH_LINENO": true, "BASH_MONOSECONDS": true, "BASH_SOURCE": true,
	"BASH_SUBSHELL": true, "BASH_TRAPSIG": true, "DIRSTACK": true, "EPOCHREALTIME": true,
	"EPOCHSECONDS": true, "FUNCNAME": true, "GROUPS": true, "HISTCMD": true, "LINENO": true,
	"PIPESTATUS": true, "RANDOM": true, "SECONDS": true, "SHLVL": true, "SRANDOM": true, "_": true,
	// numeric only, in bash and dash
	"OPTIND": true,
}
