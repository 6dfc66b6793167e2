package sinks

import (
	"errors"

	"github.com/patas/patas-secrets/fetcher"
)

// errNotRendered and errRenderedEmpty stop a refresh before a template output is written
// with nothing, or with content left over from a refresh that failed.
var (
	errNotRendered   = errors.New("template output has not been rendered in this refresh")
	errRenderedEmpty = errors.New("template rendered an empty file; refusing to write it")
)

// Rendered is the template format: one file whose whole content the engine renders from a
// template in each refresh (SetContent), written like every one-file format (WriteAtomic:
// mode and owner before the first byte, rename, no partial or empty file).
type Rendered struct {
	fileSink
	content fetcher.Value
}

var _ Sink = (*Rendered)(nil)

func newRendered(path string, o FileOptions) *Rendered {
	r := &Rendered{fileSink: fileSink{path: path, opts: o}}
	r.encode = func(Snapshot) ([]byte, error) {
		switch {
		case !r.content.IsSet():
			return nil, errNotRendered
		case r.content.Len() == 0:
			return nil, errRenderedEmpty
		}
		return r.content.Reveal(), nil
	}
	return r
}

// SetContent sets what the next Check and Write see; the engine calls it once per refresh,
// after rendering and before checking any output.
func (r *Rendered) SetContent(v fetcher.Value) { r.content = v }

// ClearContent forgets the last rendering, so a refresh that fails to render cannot write
// the previous content by mistake.
func (r *Rendered) ClearContent() { r.content = fetcher.Value{} }
