package labjson

import (
	"encoding/json"
	"os"
	"reflect"
	"sort"
	"testing"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// TestSchemaMatchesModel keeps docs/lab-report.schema.json and gateway.Report
// in step: the same property names at every level, in both directions.
func TestSchemaMatchesModel(t *testing.T) {
	raw, err := os.ReadFile("../../docs/lab-report.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	compare(t, "$", schema, reflect.TypeOf(gateway.Report{}))
}

func compare(t *testing.T, path string, schema map[string]any, typ reflect.Type) {
	for typ.Kind() == reflect.Pointer || (typ.Kind() == reflect.Slice && typ.Elem().Kind() != reflect.Uint8) {
		if typ.Kind() == reflect.Slice {
			items, _ := schema["items"].(map[string]any)
			schema = items
		}
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct {
		return
	}
	props, _ := schema["properties"].(map[string]any)
	fields := jsonFields(typ)
	var names []string
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		sub, ok := props[name].(map[string]any)
		if !ok {
			t.Errorf("%s.%s is in gateway.Report but not in the schema", path, name)
			continue
		}
		compare(t, path+"."+name, sub, fields[name])
	}
	for name := range props {
		if _, ok := fields[name]; !ok {
			t.Errorf("%s.%s is in the schema but not in gateway.Report", path, name)
		}
	}
}
