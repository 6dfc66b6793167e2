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
	"io/fs"
	"path/filepath"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/saferead"
)

// maxSize bounds a secret file: Kubernetes allows 1 MiB per Secret, Swarm 500 KB.
const maxSize = 1 << 20

// Backend reads files under Dir.
type Backend struct {
	dir string
	log *zap.Logger

	noDotenv bool   // production: never read a file as dotenv
	watching func() // test hook: Watch has set up its watches
	checked  func() // test hook: Watch has compared the files after an event

	// read is the digest of what Fetch last read at each path: the watcher's baseline,
	// so a change between a refresh's read and the start of the watch is not missed.
	mu   sync.Mutex
	read map[string][32]byte
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
	if err := checkRef(ref, b.noDotenv, "backends."+ref.Backend); err != nil {
		return fetcher.Secret{}, fmt.Errorf("%s: %w", ref, err)
	}
	p, _ := b.path(ref.Path)
	data, err := readFile(ctx, p)
	if ctx.Err() == nil {
		b.remember(p, fileDigest(p, data, err))
	}
	if err != nil {
		return fetcher.Secret{}, fmt.Errorf("%s: %w", ref, err)
	}
	s := fetcher.Secret{Value: fetcher.NewValue(trimNewline(data))}
	if s.Data, err = b.parseFields(data); err != nil {
		return fetcher.Secret{}, fmt.Errorf("%s: %w", ref, err)
	}
	return s, nil
}

func (b *Backend) remember(p string, d [32]byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.read == nil {
		b.read = map[string][32]byte{}
	}
	b.read[p] = d
}

func (b *Backend) lastRead(p string) ([32]byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.read[p]
	return d, ok
}

// Close releases nothing: the backend holds no open files between reads.
func (b *Backend) Close() error { return nil }

// path joins name to the directory; false for a name that would leave it (checkRef
// reports those).
func (b *Backend) path(name string) (string, bool) {
	if !filepath.IsLocal(name) {
		return "", false
	}
	return filepath.Join(b.dir, name), true
}

// readFile reads a secret file: a regular file only (a FIFO or a device at a ref is
// refused before it is opened), within ctx.
func readFile(ctx context.Context, p string) ([]byte, error) {
	data, err := saferead.File(ctx, p, maxSize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("no file %s: %w", p, fetcher.ErrNotFound)
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("reading %s: %w", p, fetcher.ErrPermission)
	case errors.Is(err, saferead.ErrNotRegular):
		return nil, fmt.Errorf("%w; a secret must be a regular file (or a symlink to one)", err)
	}
	return data, err
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
