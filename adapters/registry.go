// Package adapters holds the registry of delivery transports. Each transport
// lives in its own package (fhirrest, filedrop, ...) and is registered
// explicitly by cmd, never by init side effects.
package adapters

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// Factory builds an adapter from its destination's configuration (the
// destination's "config" object, passed through untouched).
type Factory func(config json.RawMessage) (gateway.Adapter, error)

// Registry maps destination kinds to factories.
type Registry struct{ factories map[string]Factory }

// Register adds a kind. It panics on a nil factory or a kind registered
// twice: both are programming errors in cmd's wiring.
func (r *Registry) Register(kind string, f Factory) {
	if f == nil {
		panic("adapters: Register " + kind + " with a nil factory")
	}
	if r.factories == nil {
		r.factories = map[string]Factory{}
	}
	if _, dup := r.factories[kind]; dup {
		panic("adapters: Register called twice for " + kind)
	}
	r.factories[kind] = f
}

// New builds an adapter of the given kind.
func (r *Registry) New(kind string, config json.RawMessage) (gateway.Adapter, error) {
	f, ok := r.factories[kind]
	if !ok {
		return nil, fmt.Errorf("unknown destination kind %q (known: %s)", kind, strings.Join(r.Kinds(), ", "))
	}
	return f(config)
}

// Kinds lists the registered kinds.
func (r *Registry) Kinds() []string {
	var kinds []string
	for k := range r.factories {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return kinds
}

// Decode strictly decodes an adapter's configuration: an unknown field is a
// typo that would otherwise silently change behaviour.
func Decode(config json.RawMessage, into any) error {
	if len(config) == 0 {
		config = []byte("{}")
	}
	dec := json.NewDecoder(strings.NewReader(string(config)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}
