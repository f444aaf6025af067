package adapters_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/nhs-genomics/results-gateway/adapters"
	"github.com/nhs-genomics/results-gateway/gateway"
)

type nop struct{}

func (nop) Deliver(context.Context, *gateway.Delivery) (string, error) { return "ok", nil }

func factory(json.RawMessage) (gateway.Adapter, error) { return nop{}, nil }

func TestRegisterPanicsOnNilAndDuplicate(t *testing.T) {
	mustPanic := func(name string, f func()) {
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f()
	}
	r := &adapters.Registry{}
	mustPanic("nil factory", func() { r.Register("x", nil) })
	r.Register("x", factory)
	mustPanic("duplicate kind", func() { r.Register("x", factory) })
}

func TestUnknownKind(t *testing.T) {
	r := &adapters.Registry{}
	r.Register("filedrop", factory)
	r.Register("fhir-rest", factory)
	_, err := r.New("mesh", nil)
	if err == nil || !strings.Contains(err.Error(), `unknown destination kind "mesh" (known: fhir-rest, filedrop)`) {
		t.Fatalf("err = %v", err)
	}
	if a, err := r.New("filedrop", nil); err != nil || a == nil {
		t.Fatalf("New(filedrop) = %v, %v", a, err)
	}
}
