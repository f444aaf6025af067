package fhirr4_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	r4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	"google.golang.org/protobuf/proto"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/mappers/fhirr4"
	"github.com/nhs-genomics/results-gateway/mappers/labjson"
)

var update = flag.Bool("update", false, "rewrite the golden Bundles in fixtures/golden")

// testPDF stands in for the rendered PDF so the golden files test the mapping alone.
var testPDF = []byte("%PDF-1.4\n% synthetic test document\n%%EOF\n")

func mapFixture(t testing.TB, body []byte) (*gateway.Report, []byte) {
	t.Helper()
	r, err := labjson.Decode(body)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	m, err := fhirr4.New("")
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := m.EncodeBundle(r, testPDF)
	if err != nil {
		t.Fatal(err)
	}
	return r, out
}

func TestGoldenBundles(t *testing.T) {
	for _, f := range fixtures.Reports() {
		t.Run(f.Name, func(t *testing.T) {
			_, got := mapFixture(t, f.Body)
			path := filepath.Join("..", "..", "fixtures", "golden", f.Name+".bundle.json")
			if *update {
				var pretty any
				if err := json.Unmarshal(got, &pretty); err != nil {
					t.Fatal(err)
				}
				b, _ := json.MarshalIndent(pretty, "", "  ")
				if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./mappers/fhirr4 -update to create it)", err)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(want, &w); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("Bundle differs from %s:\n%s", path, diff(w, g, "$"))
			}
		})
	}
}

// TestRoundTrip parses the marshalled Bundle back with jsonformat (which
// validates R4 cardinalities and references) and requires the same proto.
func TestRoundTrip(t *testing.T) {
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := fhirr4.New("")
	for _, f := range fixtures.Reports() {
		t.Run(f.Name, func(t *testing.T) {
			r, out := mapFixture(t, f.Body)
			parsed, err := u.Unmarshal(out)
			if err != nil {
				t.Fatalf("unmarshal: %v", err)
			}
			got := parsed.(*r4pb.ContainedResource).GetBundle()
			if !proto.Equal(got, m.Bundle(r, testPDF)) {
				t.Fatal("Bundle changed in a marshal/unmarshal round trip")
			}
		})
	}
}

func TestSameReportSameBytes(t *testing.T) {
	body := fixtures.Report("trio-wgs-denovo-positive")
	_, a := mapFixture(t, body)
	_, b := mapFixture(t, body)
	if string(a) != string(b) {
		t.Fatal("mapping the same report twice gave different Bundles: resends would not be idempotent")
	}
}

// diff names the first few places two JSON trees differ.
func diff(want, got any, path string) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return path + ": not an object\n"
		}
		out := ""
		for k := range w {
			if _, ok := g[k]; !ok {
				out += path + "." + k + ": missing\n"
			} else if !reflect.DeepEqual(w[k], g[k]) {
				out += diff(w[k], g[k], path+"."+k)
			}
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				out += path + "." + k + ": unexpected\n"
			}
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return path + ": arrays differ in length\n"
		}
		out := ""
		for i := range w {
			if !reflect.DeepEqual(w[i], g[i]) {
				out += diff(w[i], g[i], path+"["+itoa(i)+"]")
			}
		}
		return out
	default:
		b1, _ := json.Marshal(want)
		b2, _ := json.Marshal(got)
		return path + ": want " + string(b1) + ", got " + string(b2) + "\n"
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestSharedPartiesOnce(t *testing.T) {
	r, err := labjson.Decode(fixtures.Report("panel-brca2"))
	if err != nil {
		t.Fatal(err)
	}
	reg := r.Authorisers[0].Registration
	r.RequestingClinician.Registration = &reg // the requester also authorised it
	m, _ := fhirr4.New("")
	seen := map[string]bool{}
	for _, e := range m.Bundle(r, testPDF).Entry {
		u := e.GetFullUrl().GetValue()
		if seen[u] {
			t.Fatalf("fullUrl %s appears twice", u)
		}
		seen[u] = true
	}
}

// Encode says where it wrote the PDF's base64, which the stores then leave
// out without searching for it: the place must hold exactly that string,
// the first one in the Bundle (where a search would find it).
func TestEncodeSaysWhereThePDFIs(t *testing.T) {
	m, err := fhirr4.New("")
	if err != nil {
		t.Fatal(err)
	}
	pdf := append([]byte("%PDF-1.4\n"), make([]byte, 3000)...)
	quoted := `"` + base64.StdEncoding.EncodeToString(pdf) + `"`
	for _, f := range fixtures.Reports() {
		r, err := labjson.Decode(f.Body)
		if err != nil {
			t.Fatal(err)
		}
		e, err := m.Encode(r, pdf)
		if err != nil {
			t.Fatal(err)
		}
		first := strings.Index(string(e.JSON), quoted)
		if first <= 0 || e.PDFAt != first {
			t.Errorf("%s: PDFAt %d, the PDF's base64 is first at %d", f.Name, e.PDFAt, first)
		}
	}
}

// A lab's PDF read from JSON comes with its base64 as sent; the Bundle
// copies that text instead of encoding the PDF again, and is the Bundle
// it would be otherwise, byte for byte.
func TestEncodeWritesTheLabsOwnBase64(t *testing.T) {
	m, err := fhirr4.New("")
	if err != nil {
		t.Fatal(err)
	}
	pdf := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte{0xfb, 0xff, 0x00, 0x3e}, 2000)...)
	var doc map[string]any
	if err := json.Unmarshal(fixtures.Report("trio-wgs-denovo-positive"), &doc); err != nil {
		t.Fatal(err)
	}
	doc["pdf"] = map[string]any{"contentType": "application/pdf", "data": pdf}
	body, _ := json.Marshal(doc)
	r, err := labjson.Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	if r.PDF.Encoded == nil {
		t.Fatal("the decoder did not keep the lab's base64: the test proves nothing")
	}
	got, err := m.Encode(r, r.PDF.Data)
	if err != nil {
		t.Fatal(err)
	}
	want, err := fhirr4.MarshalResource(m.Bundle(r, r.PDF.Data))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.JSON, want) {
		t.Fatal("the Bundle written with the lab's base64 differs from the Bundle written by encoding the PDF")
	}
	// Text that is not the PDF's encoding (by its length) is not used.
	r.PDF.Encoded = r.PDF.Encoded[:len(r.PDF.Encoded)-4]
	if again, err := m.Encode(r, r.PDF.Data); err != nil || !bytes.Equal(again.JSON, want) {
		t.Fatalf("a short Encoded was written: %v", err)
	}
}

// TestAlleleRangeSpansTheReferenceAllele: in 1-based character counting
// (LA30102-0) a reference allele of several bases ends where its last base
// is, so a deletion's range is not a single position.
func TestAlleleRangeSpansTheReferenceAllele(t *testing.T) {
	r, b := mapFixture(t, fixtures.Report("panel-brca2"))
	v := r.Variants[0]
	if len(v.Ref) < 2 || v.End != 0 {
		t.Fatalf("the fixture's first variant no longer has a multi-base reference and no end: %q %d", v.Ref, v.End)
	}
	var bundle struct {
		Entry []struct {
			Resource struct {
				Component []struct {
					Code       struct{ Coding []struct{ Code string } }
					ValueRange *struct{ Low, High struct{ Value float64 } }
				}
			}
		}
	}
	json.Unmarshal(b, &bundle)
	found := false
	for _, e := range bundle.Entry {
		for _, c := range e.Resource.Component {
			if len(c.Code.Coding) > 0 && c.Code.Coding[0].Code == "81254-5" && int64(c.ValueRange.Low.Value) == v.Start {
				found = true
				if got, want := int64(c.ValueRange.High.Value), v.Start+int64(len(v.Ref))-1; got != want {
					t.Errorf("81254-5 %d..%d for ref %q, want the end at %d", v.Start, got, v.Ref, want)
				}
			}
		}
	}
	if !found {
		t.Fatal("no 81254-5 component for the variant")
	}
}

// TestAlleleFrequencyAsWritten: a variant allele fraction of 0.07 is 7 %
// in the Bundle, not 7.000000000000001 (0.07*100 in float64), and a
// heteroplasmy of 0.29 is 29 %, not 28.999999999999996.
func TestAlleleFrequencyAsWritten(t *testing.T) {
	for _, tc := range []struct {
		fixture, field string
		fraction       float64
		want           string
	}{
		{"panel-brca2", "alleleFrequency", 0.07, "7"},
		{"panel-brca2", "alleleFrequency", 0.57, "57"},
		{"mito-heteroplasmy", "heteroplasmyFraction", 0.29, "29"},
		{"mito-heteroplasmy", "heteroplasmyFraction", 0.004, "0.4"},
	} {
		var report map[string]any
		if err := json.Unmarshal(fixtures.Report(tc.fixture), &report); err != nil {
			t.Fatal(err)
		}
		report["variants"].([]any)[0].(map[string]any)[tc.field] = tc.fraction
		body, _ := json.Marshal(report)
		_, b := mapFixture(t, body)
		var bundle struct {
			Entry []struct {
				Resource struct {
					Component []struct {
						Code          struct{ Coding []struct{ Code string } }
						ValueQuantity *struct{ Value json.Number }
					}
				}
			}
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if err := d.Decode(&bundle); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range bundle.Entry {
			for _, c := range e.Resource.Component {
				if len(c.Code.Coding) > 0 && c.Code.Coding[0].Code == "81258-6" {
					got = append(got, string(c.ValueQuantity.Value))
				}
			}
		}
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s %s %v: 81258-6 values %q, want [%q]", tc.fixture, tc.field, tc.fraction, got, tc.want)
		}
	}
}

// TestNarrativeSaysAbsentVariantNotFound: the DiagnosticReport's narrative,
// what many EPRs show a clinician, tabled a familial variant looked for and
// not found as "heterozygous ... pathogenic", as if the relative carried it.
func TestNarrativeSaysAbsentVariantNotFound(t *testing.T) {
	r, err := labjson.Decode(fixtures.Report("panel-brca2"))
	if err != nil {
		t.Fatal(err)
	}
	r.Variants[0].Assessment = "absent"
	m, _ := fhirr4.New("")
	div := ""
	for _, e := range m.Bundle(r, testPDF).GetEntry() {
		if dr := e.GetResource().GetDiagnosticReport(); dr != nil {
			div = dr.GetText().GetDiv().GetValue()
		}
	}
	_, table, _ := strings.Cut(div, "<th>Zygosity</th>")
	if table, _, _ = strings.Cut(table, "</table>"); !strings.Contains(table, "NOT DETECTED") || strings.Contains(table, r.Variants[0].Zygosity) {
		t.Errorf("the absent variant's row: %q", table)
	}
}
