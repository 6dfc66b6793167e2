package sinks

import (
	"context"
	"fmt"
)

// encoder renders a snapshot as the bytes of one file, or refuses with a *RefuseError.
type encoder func(Snapshot) ([]byte, error)

// fileSink writes one file in one format.
type fileSink struct {
	path   string
	opts   FileOptions
	encode encoder
	tidied bool // crash leftovers removed (leftovers.go)
}

var _ Sink = (*fileSink)(nil)

func (s *fileSink) Path() string { return s.path }

func (s *fileSink) Check(snap Snapshot) error {
	_, err := s.encode(snap)
	return err
}

func (s *fileSink) Write(ctx context.Context, snap Snapshot) (bool, error) {
	st, err := s.Stage(ctx, snap)
	if err != nil || st == nil {
		return false, err
	}
	live, err := st.Commit()
	if !live {
		st.Abort()
	}
	return live, err
}

func (s *fileSink) Stage(ctx context.Context, snap Snapshot) (Staged, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, err := s.encode(snap)
	if err != nil {
		return nil, err
	}
	if !s.tidied {
		s.tidied = true
		removeLeftovers(s.path)
	}
	st, err := stageAtomic(s.path, data, s.opts)
	if err != nil || st == nil {
		return nil, err // a nil *atomicStage must not become a non-nil Staged
	}
	return st, nil
}

// Formats lists the output formats New accepts.
var Formats = []string{"dotenv", "shell", "docker", "json", "files", "template"}

// encoders are the one-file formats.
var encoders = map[string]encoder{
	"dotenv": encodeDotenv,
	"shell":  encodeShell,
	"docker": encodeDocker,
	"json":   encodeJSON,
}

// New returns the sink for format at path (a directory for files). o.Mode is used exactly
// (its permission bits; the engine passes DefaultMode when the config names none). For
// template, New returns a *Rendered, whose content the engine sets each refresh.
func New(format, path string, o FileOptions) (Sink, error) {
	o.Mode = o.Mode.Perm()
	switch format {
	case "files":
		return &dirSink{dir: path, opts: o}, nil
	case "template":
		return newRendered(path, o), nil
	}
	if enc, ok := encoders[format]; ok {
		return &fileSink{path: path, opts: o, encode: enc}, nil
	}
	return nil, fmt.Errorf("unknown format %q (formats: %v)", format, Formats)
}
