// Package file reads secrets from files in a directory: Docker Swarm's /run/secrets, a
// Kubernetes secret volume (NAME -> ..data/NAME symlinks) or a local directory.
//
// A ref's path names a file inside the directory. The whole value is the file's content
// with one trailing newline removed (`echo pw | docker secret create` adds one). With #key
// or expand the content is read as a JSON object, or else as a dotenv file.
package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
)

// maxSize bounds a secret file: Kubernetes allows 1 MiB per Secret, Swarm 500 KB.
const maxSize = 1 << 20

// Backend reads files under Dir.
type Backend struct {
	dir string
	log *zap.Logger

	noDotenv bool   // production: never read a file as dotenv
	watching func() // test hook: Watch has set up its watches
}

// Option changes how a Backend reads.
type Option func(*Backend)

// NoDotenv stops the backend from reading file contents as dotenv (production, where the
// guide keeps .env files out): #key and expand then need a JSON object.
func NoDotenv() Option { return func(b *Backend) { b.noDotenv = true } }

var (
	_ fetcher.Backend = (*Backend)(nil)
	_ fetcher.Watcher = (*Backend)(nil)
)

// New returns a backend for dir. The directory may appear later (a volume mounted after
// start); reads fail with ErrNotFound until it does.
func New(dir string, log *zap.Logger, opts ...Option) (*Backend, error) {
	if dir == "" {
		return nil, errors.New("no directory")
	}
	b := &Backend{dir: filepath.Clean(dir), log: log}
	for _, o := range opts {
		o(b)
	}
	return b, nil
}

// Fetch reads the file ref.Path names.
func (b *Backend) Fetch(ctx context.Context, ref fetcher.Ref) (fetcher.Secret, error) {
	if err := ctx.Err(); err != nil {
		return fetcher.Secret{}, err
	}
	if ref.Version != "" {
		return fetcher.Secret{}, fmt.Errorf("%s: files have no versions; drop @%s", ref, ref.Version)
	}
	p, err := b.path(ref.Path)
	if err != nil {
		return fetcher.Secret{}, fmt.Errorf("%s: %w", ref, err)
	}
	data, err := readFile(p)
	if err != nil {
		return fetcher.Secret{}, fmt.Errorf("%s: %w", ref, err)
	}
	s := fetcher.Secret{Value: fetcher.NewValue(trimNewline(data))}
	if s.Data, err = b.parseFields(data); err != nil {
		return fetcher.Secret{}, fmt.Errorf("%s: %w", ref, err)
	}
	return s, nil
}

// Close releases nothing: the backend holds no open files between reads.
func (b *Backend) Close() error { return nil }

// path joins name to the directory and refuses names that leave it.
func (b *Backend) path(name string) (string, error) {
	if !filepath.IsLocal(name) {
		return "", fmt.Errorf("path %q must name a file inside %s (no absolute paths or ..)", name, b.dir)
	}
	return filepath.Join(b.dir, name), nil
}

func readFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no file %s: %w", p, fetcher.ErrNotFound)
	}
	if errors.Is(err, fs.ErrPermission) {
		return nil, fmt.Errorf("reading %s: %w", p, fetcher.ErrPermission)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s is a directory, not a secret file", p)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	if len(data) > maxSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, maxSize)
	}
	return data, nil
}

func trimNewline(b []byte) []byte {
	s := strings.TrimSuffix(string(b), "\n")
	s = strings.TrimSuffix(s, "\r")
	return []byte(s)
}

// parseFields reads the content as a JSON object, else (unless refused) as dotenv; nil
// when it is neither.
func (b *Backend) parseFields(data []byte) (map[string]fetcher.Value, error) {
	m, err := fetcher.ParseJSONObject(data)
	if m != nil || err != nil || b.noDotenv {
		return m, err
	}
	return parseDotenv(data), nil
}
