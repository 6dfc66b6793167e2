package engine

import (
	"errors"
	"fmt"

	"github.com/patas/patas-secrets/fetcher"
	"github.com/patas/patas-secrets/internal/tmpl"
	"github.com/patas/patas-secrets/sinks"
)

var errRenderedEmpty = errors.New("template rendered an empty file; a missing value must be an error, so nothing is written")

// templateOutput is a format: template output: its parsed template and the sink that
// writes what it renders.
type templateOutput struct {
	index int
	path  string
	t     *tmpl.Template
	sink  *sinks.Rendered
}

// addTemplateOutput parses output i's template and adds the secrets it reads to the
// sources of every refresh, so each is read once per refresh however many templates and
// entries name it.
func (e *Engine) addTemplateOutput(i int, sink *sinks.Rendered, addSource func(fetcher.Ref) error) error {
	t, err := e.cfg.ParseTemplate(e.cfg.Outputs[i])
	if err != nil {
		return fmt.Errorf("outputs[%d].template: %w", i, err)
	}
	for _, r := range t.Refs() {
		if err := addSource(r); err != nil {
			return fmt.Errorf("outputs[%d].template: %w", i, err)
		}
	}
	e.templates = append(e.templates, templateOutput{index: i, path: sink.Path(), t: t, sink: sink})
	return nil
}

// renderTemplates renders every template output from this refresh's reads. Each failure
// (a missing secret or key, a function error, "<no value>") names its output; the error
// text is scrubbed of every value the template read.
func (e *Engine) renderTemplates(lookup tmpl.Lookup) []error {
	var errs []error
	for _, to := range e.templates {
		to.sink.ClearContent()
		v, err := to.t.Execute(lookup)
		if err == nil && v.Len() == 0 {
			err = errRenderedEmpty
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("outputs[%d] (%s): %w", to.index, to.path, err))
			continue
		}
		to.sink.SetContent(v)
	}
	return errs
}
