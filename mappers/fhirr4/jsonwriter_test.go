package fhirr4_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	"google.golang.org/protobuf/proto"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/mappers/fhirr4"
	"github.com/nhs-genomics/results-gateway/mappers/labjson"
)

var unsupportedWhy = map[string]int{}

// sameAsJSONFormat fails unless the writer's bytes are jsonformat's for m
// (the reference kept for exactly this test).
func sameAsJSONFormat(t *testing.T, name string, m proto.Message) bool {
	t.Helper()
	ref, err := jsonformat.NewMarshaller(false, "", "", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	marshal := ref.MarshalResource
	if m.ProtoReflect().Descriptor().Name() == "ContainedResource" {
		marshal = ref.Marshal
	}
	want, wantErr := marshal(proto.Clone(m)) // jsonformat may change what it marshals
	got, err := fhirr4.MarshalResource(m)
	if errors.Is(err, fhirr4.ErrUnsupported) {
		unsupportedWhy[err.Error()]++
		return false
	}
	if wantErr != nil || err != nil {
		if (wantErr == nil) != (err == nil) {
			t.Errorf("%s: jsonformat error %v, writer error %v", name, wantErr, err)
		}
		return true
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		from := max(i-80, 0)
		t.Errorf("%s: differs at byte %d:\n writer     %q\n jsonformat %q", name, i, got[from:min(i+80, len(got))], want[from:min(i+80, len(want))])
	}
	return true
}

// TestWriterMatchesJSONFormatOnFixtures: every fixture's Bundle, with a
// rendered-size PDF.
func TestWriterMatchesJSONFormatOnFixtures(t *testing.T) {
	m, _ := fhirr4.New("")
	for _, f := range fixtures.Reports() {
		r, err := labjson.Decode(f.Body)
		if err != nil {
			t.Fatal(err)
		}
		if !sameAsJSONFormat(t, f.Name, m.Bundle(r, testPDF)) {
			t.Errorf("%s: the writer does not support the gateway's own Bundle", f.Name)
		}
	}
}

// TestWriterMatchesJSONFormatOnPublishedExamples: every FHIR R4 resource in
// ../shared/data (HL7's, the Genomics IG's, NHS England's, UK Core's
// examples) that jsonformat can read is written the same by both: far
// more kinds of element than the gateway emits.
func TestWriterMatchesJSONFormatOnPublishedExamples(t *testing.T) {
	root := filepath.Join("..", "..", "..", "shared", "data")
	if _, err := os.Stat(root); err != nil {
		t.Skipf("../shared/data is not here (%v): the published examples are not checked", err)
	}
	um, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	compared, unsupported := 0, 0
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil || !bytes.Contains(b, []byte(`"resourceType"`)) {
			return nil
		}
		res, err := um.Unmarshal(b)
		if err != nil {
			return nil // not R4 jsonformat can read (an R5 package, a StructureDefinition with odd content ...)
		}
		if sameAsJSONFormat(t, path, res) {
			compared++
		} else {
			unsupported++
		}
		return nil
	})
	t.Logf("%d published resources written identically; %d left to jsonformat (unsupported elements: %v)", compared, unsupported, unsupportedWhy)
	if compared < 100 {
		t.Fatalf("only %d published resources compared", compared)
	}
}

// TestWriterMatchesJSONFormatOnFuzzedReports: fixture reports with their
// strings replaced by random ones (quotes, controls, U+2028, astral and
// invalid UTF-8, HTML), their times by random ones in random zones.
func TestWriterMatchesJSONFormatOnFuzzedReports(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	pieces := []string{"a", "Zoë", "\"", "\\", "\n", "\t", "\x01", "\x1f", "<b>&amp;</b>", "\u2028", "\u2029", "😀", "\xff", "é", " ", "'", "/", "\u00a0", "NM_000546.6:c.215C>G"}
	randomString := func() string {
		var b strings.Builder
		for range rng.IntN(8) + 1 {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		return b.String()
	}
	zones := []string{"Z", "+01:00", "-05:30", "+14:00"}
	randomTime := func() string {
		return fmt.Sprintf("20%02d-%02d-%02dT%02d:%02d:%02d%s", rng.IntN(25), rng.IntN(12)+1, rng.IntN(28)+1, rng.IntN(24), rng.IntN(60), rng.IntN(60),
			zones[rng.IntN(len(zones))])
	}
	m, _ := fhirr4.New("")
	all := fixtures.Reports()
	// Fuzzing runs until 200 mutated reports pass validation (most do not:
	// a random time may fall before a birth or after the report), within a
	// bounded number of tries; the seed and the key order make it repeatable.
	const want, tries = 200, 3000
	compared := 0
	for i := 0; i < tries && compared < want; i++ {
		f := all[i%len(all)]
		var doc any
		if err := json.Unmarshal(f.Body, &doc); err != nil {
			t.Fatal(err)
		}
		doc = mutate(doc, rng, randomString, randomTime)
		body, _ := json.Marshal(doc)
		r, err := labjson.Decode(body) // it validates
		if err != nil {
			continue // the mutation broke a rule (a time in the future, a bad code ...)
		}
		if !sameAsJSONFormat(t, fmt.Sprintf("%s fuzzed #%d", f.Name, i), m.Bundle(r, testPDF)) {
			t.Errorf("%s fuzzed #%d: the writer does not support the gateway's own Bundle", f.Name, i)
		}
		compared++
	}
	if compared < want {
		t.Fatalf("only %d of %d fuzzed reports were valid enough to compare", compared, tries)
	}
	t.Logf("%d fuzzed reports written identically", compared)
}

// mutate replaces some strings in a decoded JSON document: times by random
// times, the rest (except codes and ids that decoding checks) by random text.
func mutate(v any, rng *rand.Rand, s func() string, tm func() string) any {
	switch x := v.(type) {
	case map[string]any:
		// Keys in order, so the seeded generator makes the same reports each run.
		for _, k := range slices.Sorted(maps.Keys(x)) {
			e := x[k]
			if str, ok := e.(string); ok && rng.IntN(3) == 0 {
				switch {
				case strings.Contains(strings.ToLower(k), "time") || k == "issued" || k == "collected" || k == "received" || k == "authorisedAt":
					x[k] = tm()
				case k == "name" || k == "text" || k == "conclusion" || k == "interpretation" || k == "comment" || k == "display" || k == "given" || k == "family" || k == "title":
					x[k] = s()
				default:
					_ = str
				}
				continue
			}
			x[k] = mutate(e, rng, s, tm)
		}
	case []any:
		for i := range x {
			x[i] = mutate(x[i], rng, s, tm)
		}
	}
	return v
}
