package profilecheck

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A small profile in the shape NHS England writes them (differential only).
const testProfile = `{
  "resourceType": "StructureDefinition",
  "url": "https://example.org/StructureDefinition/Test-Specimen",
  "type": "Specimen",
  "differential": {"element": [
    {"id": "Specimen", "path": "Specimen"},
    {"id": "Specimen.accessionIdentifier", "path": "Specimen.accessionIdentifier", "min": 1},
    {"id": "Specimen.note", "path": "Specimen.note", "max": "1"},
    {"id": "Specimen.collection.collected[x]", "path": "Specimen.collection.collected[x]", "min": 1, "type": [{"code": "dateTime"}]},
    {"id": "Specimen.identifier:lab", "path": "Specimen.identifier", "sliceName": "lab"},
    {"id": "Specimen.identifier:lab.system", "path": "Specimen.identifier.system", "fixedUri": "https://lab.example/id"},
    {"id": "Specimen.identifier:lab.value", "path": "Specimen.identifier.value", "min": 1},
    {"id": "Specimen.extension:mystery", "path": "Specimen.extension", "sliceName": "mystery", "max": "0"},
    {"id": "Specimen.request", "path": "Specimen.request", "type": [{"code": "Reference", "targetProfile": ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-ServiceRequest"]}]}
  ]}
}`

func load(t *testing.T, sd string) *Profile {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sd.json"), []byte(sd), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return set.ForType("Specimen")
}

func TestCheckAppliesTheDifferential(t *testing.T) {
	withoutMystery := strings.Replace(testProfile, `{"id": "Specimen.extension:mystery", "path": "Specimen.extension", "sliceName": "mystery", "max": "0"},`, "", 1)
	p := load(t, withoutMystery)
	resources := map[string]any{"Task/1": map[string]any{"resourceType": "Task"}}
	resolve := func(ref string) map[string]any { r, _ := resources[ref].(map[string]any); return r }
	good := map[string]any{
		"resourceType":        "Specimen",
		"accessionIdentifier": map[string]any{"value": "A1"},
		"collection":          map[string]any{"collectedDateTime": "2026-01-01"},
		"identifier":          []any{map[string]any{"system": "https://lab.example/id", "value": "S1"}, map[string]any{"system": "other"}},
		"request":             []any{map[string]any{"reference": "ServiceRequest/9"}},
	}
	if problems, refs := p.Check(good, resolve); len(problems) != 0 || len(refs) != 1 {
		t.Fatalf("a conforming resource: %v, %d references", problems, len(refs))
	}
	bad := map[string]any{
		"resourceType": "Specimen",
		"note":         []any{map[string]any{"text": "a"}, map[string]any{"text": "b"}},
		"collection":   map[string]any{"collectedPeriod": map[string]any{}},
		"identifier":   []any{map[string]any{"system": "https://lab.example/id"}},
		"request":      []any{map[string]any{"reference": "Task/1"}},
	}
	problems, _ := p.Check(bad, resolve)
	for _, want := range []string{
		"Specimen.accessionIdentifier: 0 present, at least 1 required",
		"Specimen.note: 2 present, at most 1 allowed",
		"Specimen.collection.collected[x]: collectedPeriod is not an allowed type (DateTime)",
		"Specimen.identifier:lab.value: 0 present, at least 1 required",
		"Specimen.request: refers to a Task; allowed: ServiceRequest",
	} {
		if !slices.Contains(problems, want) {
			t.Errorf("missing %q in %q", want, problems)
		}
	}
}

// A slice whose members the differential does not identify is a problem,
// not a pass.
func TestUnrecognisableSliceIsAProblem(t *testing.T) {
	problems, _ := load(t, testProfile).Check(map[string]any{"resourceType": "Specimen"}, func(string) map[string]any { return nil })
	if !slices.ContainsFunc(problems, func(p string) bool {
		return strings.Contains(p, "Specimen.extension:mystery") && strings.Contains(p, "cannot be recognised")
	}) {
		t.Fatalf("got %q", problems)
	}
}
