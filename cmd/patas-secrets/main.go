// Command patas-secrets fetches secrets from Vault, AWS, GCP or mounted files and writes
// them where the PATAS API reads them, once (init container) or continuously (sidecar).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/patas/patas-secrets/internal/telemetry"
)

// Exit statuses.
const (
	exitOK       = 0
	exitFailed   = 1 // the job failed (a backend, a missing secret, a write)
	exitUsage    = 2 // bad command line or bad config
	configEnvVar = "PATAS_SECRETS_CONFIG"
)

// usageError marks errors that exit with exitUsage.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	flags   func(fs *pflag.FlagSet) // the subcommand's own flags
	args    bool                    // takes positional arguments (after -- for exec)
	run     func(ctx context.Context, env *cmdEnv) error
}

// cmdEnv is what every subcommand gets.
type cmdEnv struct {
	configPath string
	log        *zap.Logger
	stdout     io.Writer
	stderr     io.Writer
	flags      *pflag.FlagSet
	args       []string // positional arguments, for commands that take them
}

func commands() []command {
	return []command{
		{name: "once", summary: "fetch everything, validate, write every output, exit (init container)", flags: onceFlags, run: runOnce},
		{name: "run", summary: "like once, then keep refreshing (interval, file watch, SIGHUP)", run: runRun},
		{name: "check", summary: "validate the config and print every problem (--connect also reads every secret)", flags: checkFlags, run: runCheck},
		{name: "exec", summary: "start CMD with the env file's variables; restart or signal it when the file changes", flags: execFlags, args: true, run: runExec},
		{name: "install", summary: "copy this binary into DIR (a shared volume) for use as an entrypoint wrapper", args: true, run: runInstall},
		{name: "health", summary: "exit 0 when the running sidecar is ready (for Docker and ECS health checks)", flags: healthFlags, run: runHealth},
		{name: "version", summary: "print version, commit and Go version", run: runVersion},
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	err := dispatch(args, stdout, stderr)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, pflag.ErrHelp):
		return exitOK
	}
	var es exitStatus // exec: the command's own status
	if errors.As(err, &es) {
		if es.err != nil {
			fmt.Fprintln(stderr, "patas-secrets:", es.err)
		}
		return es.code
	}
	fmt.Fprintln(stderr, "patas-secrets:", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailed
}

func dispatch(args []string, stdout, stderr io.Writer) error {
	name, rest := splitCommand(args)
	var cmd *command
	for _, c := range commands() {
		if c.name == name {
			cmd = &c
		}
	}
	if cmd == nil {
		printUsage(stderr)
		if name == "" || name == "help" {
			return usageError{errors.New("no command given")}
		}
		return usageError{fmt.Errorf("unknown command %q", name)}
	}

	fs := pflag.NewFlagSet("patas-secrets "+name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.StringP("config", "c", os.Getenv(configEnvVar), "config file (default $"+configEnvVar+")")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	format := fs.String("log-format", "json", "json or console")
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	if err := fs.Parse(rest); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 && !cmd.args {
		return usageError{fmt.Errorf("%s takes no arguments, got %q", name, fs.Args())}
	}
	log, err := telemetry.NewLogger(stderr, *level, *format)
	if err != nil {
		return usageError{err}
	}
	defer func() { _ = log.Sync() }()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if cmd.name != "exec" { // exec's shutdown is the command's: it forwards the signal and waits
		stopHard := hardStop(ctx, stderr)
		defer stopHard()
	}
	return cmd.run(ctx, &cmdEnv{configPath: *configPath, log: log, stdout: stdout, stderr: stderr, flags: fs, args: fs.Args()})
}

// globalValueFlags are the flags that take a separate value, so the command can be found
// when flags come before it (`--log-level debug once`).
var globalValueFlags = map[string]bool{"--config": true, "-c": true, "--log-level": true, "--log-format": true}

// splitCommand finds the subcommand among args and returns it and the other arguments.
func splitCommand(args []string) (string, []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if len(a) > 0 && a[0] == '-' {
			if globalValueFlags[a] {
				i++
			}
			continue
		}
		rest := append(append([]string{}, args[:i]...), args[i+1:]...)
		return a, rest
	}
	return "", args
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: patas-secrets COMMAND [--config FILE] [--log-level LEVEL] [--log-format json|console] [flags]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
}
