// Package registry holds the backend types one build of patas-secrets knows. Each backend
// package describes itself with a Type (its name and its settings); cmd/patas-secrets lists
// the types its build tags keep and hands the Registry to config, so config and the engine
// never switch on type names and adding a backend is its package plus one registration.
//
// It imports no cloud SDK: a build tagged no_aws links no AWS code.
package registry

import (
	"fmt"
	"sort"
	"strings"
)

// Type is one kind of backend (file, vault, aws, gcp).
type Type struct {
	// Name is the value of type: in a backends entry.
	Name string
	// New returns a pointer to zero settings, which config decodes the entry's YAML mapping
	// into (strictly: a field the settings do not declare is an error with its line).
	New func() Settings
}

// Omitted names a type this project has but this build left out, and the tag that did.
type Omitted struct {
	Name string
	Tag  string // e.g. no_aws
}

// Registry is the set of backend types of one build. It is read-only once built.
type Registry struct {
	types   map[string]Type
	omitted map[string]string
}

// New returns a registry of types and of omitted, the types the build tags left out. Two
// types with one name is a programming error in main, so it panics.
func New(types []Type, omitted []Omitted) *Registry {
	r := &Registry{types: map[string]Type{}, omitted: map[string]string{}}
	for _, t := range types {
		if _, dup := r.types[t.Name]; dup || t.Name == "" || t.New == nil {
			panic(fmt.Sprintf("registry: backend type %q registered twice or without settings", t.Name))
		}
		r.types[t.Name] = t
	}
	for _, o := range omitted {
		if _, built := r.types[o.Name]; !built {
			r.omitted[o.Name] = o.Tag
		}
	}
	return r
}

// Names lists the types of this build, sorted.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.types))
	for n := range r.types {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Lookup returns the type called name, or an error for the operator: no type, a type this
// build left out (and which tag did), or an unknown type (with the types there are).
func (r *Registry) Lookup(name string) (Type, error) {
	if t, ok := r.types[name]; ok {
		return t, nil
	}
	types := strings.Join(r.Names(), ", ")
	if types == "" {
		types = "none in this build"
	}
	switch tag, omitted := r.omitted[name]; {
	case name == "":
		return Type{}, fmt.Errorf("backend has no type (types: %s)", types)
	case omitted:
		return Type{}, fmt.Errorf("backend type %q is not in this build (built with -tags %s); use the default build or one with %s", name, tag, name)
	}
	return Type{}, fmt.Errorf("unknown backend type %q (types: %s)", name, types)
}
