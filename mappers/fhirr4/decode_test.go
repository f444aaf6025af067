package fhirr4_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/internal/peers"
	"github.com/nhs-genomics/results-gateway/mappers/fhirr4"
)

// reportJSON is the report as the lab report schema writes it, without the
// PDF (compared on its own: a report without the lab's PDF gets the
// gateway's rendered one in its Bundle, and that comes back as the PDF).
func reportJSON(t *testing.T, r *gateway.Report) string {
	t.Helper()
	c := *r
	c.PDF = nil
	b, err := json.MarshalIndent(&c, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFHIRRoundTrip: each Bundle the gateway writes, read back, gives the
// report it was written from, with nothing left unread.
func TestFHIRRoundTrip(t *testing.T) {
	for _, f := range fixtures.Reports() {
		t.Run(f.Name, func(t *testing.T) {
			want, bundle := mapFixture(t, f.Body)
			d, err := fhirr4.Decode(bundle, want.PerformingLab.ODSCode)
			if err != nil {
				t.Fatal(err)
			}
			if got, w := reportJSON(t, d.Report), reportJSON(t, want); got != w {
				t.Errorf("the report changed in the round trip:\n%s", lineDiff(w, got))
			}
			if d.Report.PDF == nil || !bytes.Equal(d.Report.PDF.Data, testPDF) {
				t.Errorf("the PDF did not come back")
			}
			for _, u := range d.Unmapped {
				t.Errorf("unread: %+v", u)
			}
			for _, w := range d.Warnings {
				t.Errorf("warning: %+v", w)
			}
		})
	}
}

// lineDiff names the top-level fields of two reports' JSON that differ,
// with both values.
func lineDiff(want, got string) string {
	var w, g map[string]json.RawMessage
	json.Unmarshal([]byte(want), &w)
	json.Unmarshal([]byte(got), &g)
	var out bytes.Buffer
	for k := range w {
		if !bytes.Equal(compact(w[k]), compact(g[k])) {
			fmt.Fprintf(&out, "%s:\n  want %s\n  got  %s\n", k, compact(w[k]), compact(g[k]))
		}
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			fmt.Fprintf(&out, "%s:\n  want nothing\n  got  %s\n", k, compact(g[k]))
		}
	}
	return out.String()
}

func compact(b []byte) []byte {
	var out bytes.Buffer
	json.Compact(&out, b)
	return out.Bytes()
}

// The same for every report read from HL7 v2: the project's fixtures and
// the real-world messages in ../shared/data.
func TestFHIRRoundTripOfHL7Reports(t *testing.T) {
	m, err := fhirr4.New("")
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range hl7Inputs(t) {
		t.Run(name, func(t *testing.T) {
			want := filedHL7Report(t, raw)
			bundle, _, err := m.EncodeBundle(want, testPDF)
			if err != nil {
				t.Fatal(err)
			}
			d, err := fhirr4.Decode(bundle, want.PerformingLab.ODSCode)
			if err != nil {
				t.Fatal(err)
			}
			got := d.Report
			equivalent(want)
			equivalent(got)
			if g, w := reportJSON(t, got), reportJSON(t, want); g != w {
				t.Errorf("the report changed in the round trip:\n%s", lineDiff(w, g))
			}
			for _, u := range d.Unmapped {
				t.Errorf("unread: %+v", u)
			}
		})
	}
}

// equivalent rewrites what a report can say two ways into one, where the
// FHIR the gateway writes says it one way (README, "FHIR intake"): a
// variant's end equal to its start; a conclusion and interpretation, which
// are written as one text a blank line apart; a result's time when it is
// its sample's; a text value's unit, written after it.
func equivalent(r *gateway.Report) {
	for i := range r.Variants {
		if r.Variants[i].End == r.Variants[i].Start {
			r.Variants[i].End = 0
		}
	}
	for i := range r.ResultGroups {
		g := &r.ResultGroups[i]
		for j := range g.Observations {
			o := &g.Observations[j]
			if o.Observed == "" {
				o.Observed = g.Collected // a result without its own time is written at its sample's
			}
			if o.ValueType == gateway.ValueText && o.Value != "" && o.Unit != "" {
				o.Value, o.Unit = o.Value+" "+o.Unit, "" // a text value is written with its unit
			}
		}
	}
	if r.Result.Interpretation != "" {
		r.Result.Conclusion += "\n\n" + r.Result.Interpretation
		r.Result.Interpretation = ""
	}
}

// The same report read from the other Bundle shapes labs send: a
// collection, a document (Composition first, as the EU laboratory report
// and NHS England's pathology documents are), a message (MessageHeader
// focused on the report) and a batch.
func TestFHIRDecodeBundleShapes(t *testing.T) {
	want, bundle := mapFixture(t, fixtures.Report("trio-wgs-denovo-positive"))
	var b map[string]any
	if err := json.Unmarshal(bundle, &b); err != nil {
		t.Fatal(err)
	}
	entries := b["entry"].([]any)
	reportURL := ""
	for _, e := range entries {
		e := e.(map[string]any)
		if e["resource"].(map[string]any)["resourceType"] == "DiagnosticReport" {
			reportURL = e["fullUrl"].(string)
		}
	}
	without := func() []any { // the entries without their transaction requests
		var out []any
		for _, e := range entries {
			c := map[string]any{}
			for k, v := range e.(map[string]any) {
				if k != "request" {
					c[k] = v
				}
			}
			out = append(out, c)
		}
		return out
	}
	composition := map[string]any{"fullUrl": "urn:uuid:6d8f1b0e-0000-4000-8000-000000000001", "resource": map[string]any{
		"resourceType": "Composition", "status": "final", "type": map[string]any{"text": "Laboratory report"},
		"date": "2026-11-02T14:30:00Z", "title": "Laboratory report", "author": []any{map[string]any{"display": "lab"}},
		"section": []any{map[string]any{"entry": []any{map[string]any{"reference": reportURL}}}}}}
	header := map[string]any{"fullUrl": "urn:uuid:6d8f1b0e-0000-4000-8000-000000000002", "resource": map[string]any{
		"resourceType": "MessageHeader", "eventCoding": map[string]any{"code": "report"},
		"source": map[string]any{"endpoint": "urn:lab"}, "focus": []any{map[string]any{"reference": reportURL}}}}
	for name, shape := range map[string]map[string]any{
		"collection": {"resourceType": "Bundle", "type": "collection", "entry": without()},
		"document":   {"resourceType": "Bundle", "type": "document", "entry": append([]any{composition}, without()...)},
		"message":    {"resourceType": "Bundle", "type": "message", "entry": append([]any{header}, without()...)},
		"batch":      {"resourceType": "Bundle", "type": "batch", "entry": entries},
	} {
		t.Run(name, func(t *testing.T) {
			body, _ := json.Marshal(shape)
			d, err := fhirr4.Decode(body, want.PerformingLab.ODSCode)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := reportJSON(t, d.Report), reportJSON(t, want); g != w {
				t.Errorf("the report differs:\n%s", lineDiff(w, g))
			}
			for _, u := range d.Unmapped {
				if u.Code != "Composition" && u.Code != "MessageHeader" {
					t.Errorf("unread: %+v", u)
				}
			}
		})
	}
}

// Only a report named by the gateway's report or document identifiers is a
// previous report: a Provenance derivation from anything else (a VCF) and
// a request based on another order are not.
func TestFHIRDecodeForeignDerivationIsNoPreviousReport(t *testing.T) {
	_, bundle := mapFixture(t, fixtures.Report("trio-wgs-denovo-positive"))
	s := string(bundle)
	s = strings.Replace(s, `"resourceType":"Provenance"`, `"entity":[{"role":"derivation","what":{"identifier":{"system":"https://lab.example/vcf","value":"VCF-1"}}},{"role":"derivation","what":{"reference":"DocumentReference/vcf"}}],"resourceType":"Provenance"`, 1)
	s = strings.Replace(s, `"resourceType":"ServiceRequest"`, `"basedOn":[{"identifier":{"system":"https://fhir.nhs.uk/Id/GMSOrder","value":"GMS-OTHER"}}],"resourceType":"ServiceRequest"`, 1)
	d, err := fhirr4.Decode([]byte(s), "699X0")
	if err != nil {
		t.Fatal(err)
	}
	if d.Report.Previous != nil {
		t.Errorf("read a previous report from a foreign derivation: %+v", d.Report.Previous)
	}
	if !strings.Contains(s, "GMS-OTHER") || !strings.Contains(s, "VCF-1") {
		t.Fatal("the test Bundle was not changed")
	}
}

// TestAlleleFrequencyByItsUnit: a variant's allele frequency is read by its
// UCUM unit: 48 % (as the gateway writes it) and 0.48 of unit 1 (as the
// Genomics IG's examples write it) are both 0.48; without a unit, 0.48 is
// a fraction and 48 a percentage, each with a warning. Read the wrong way,
// a heterozygous call is a hundred times out.
func TestAlleleFrequencyByItsUnit(t *testing.T) {
	var fixture map[string]any
	json.Unmarshal(fixtures.Report("trio-wgs-denovo-positive"), &fixture)
	fixture["variants"].([]any)[0].(map[string]any)["alleleFrequency"] = 0.48
	body, _ := json.Marshal(fixture)
	_, bundle := mapFixture(t, body)
	written := `{"code":"%","system":"http://unitsofmeasure.org","unit":"%","value":48}`
	if !strings.Contains(string(bundle), written) {
		t.Fatalf("the gateway's own Bundle does not write %s", written)
	}
	for quantity, warned := range map[string]bool{
		written: false,
		`{"value":0.48,"system":"http://unitsofmeasure.org","code":"1"}`: false,
		`{"value":0.48}`: true,
		`{"value":48}`:   true,
	} {
		d, err := fhirr4.Decode([]byte(strings.Replace(string(bundle), written, quantity, 1)), "699X0")
		if err != nil {
			t.Fatal(err)
		}
		if f := d.Report.Variants[0].AlleleFrequency; f == nil || *f != 0.48 {
			t.Errorf("%s read as %v, want 0.48", quantity, deref(f))
		}
		if got := slices.ContainsFunc(d.Warnings, func(w gateway.Warning) bool { return strings.Contains(w.Message, "no UCUM unit") }); got != warned {
			t.Errorf("%s: warned %v, want %v", quantity, got, warned)
		}
	}
}

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

// TestClassificationInTheLabsWords: a classification without LOINC's
// answer code is read from the lab's words (text, a coding's display or
// code), with a warning; one that cannot be read is warned of and listed
// as unmapped, never dropped without a word.
func TestClassificationInTheLabsWords(t *testing.T) {
	_, bundle := mapFixture(t, fixtures.Report("trio-wgs-denovo-positive"))
	written := `"valueCodeableConcept":{"coding":[{"code":"LA6668-3","display":"Pathogenic","system":"http://loinc.org"}]}`
	if !strings.Contains(string(bundle), written) {
		t.Fatalf("the gateway's own Bundle does not write %s", written)
	}
	for concept, want := range map[string]string{
		`{"text":"Likely pathogenic"}`:                                           "likely-pathogenic",
		`{"coding":[{"system":"https://example.nhs.uk/acgs","code":"Class 5"}]}`: "pathogenic",
		`{"text":"Pathogenic (ACMG Class 5)"}`:                                   "pathogenic",
		`{"text":"Awaiting family studies"}`:                                     "",
	} {
		d, err := fhirr4.Decode([]byte(strings.Replace(string(bundle), written, `"valueCodeableConcept":`+concept, 1)), "699X0")
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Report.Variants[0].Classification.ACMG; got != want {
			t.Errorf("%s read as %q, want %q", concept, got, want)
		}
		if !slices.ContainsFunc(d.Warnings, func(w gateway.Warning) bool { return strings.Contains(w.Message, "classification") }) {
			t.Errorf("%s: no warning", concept)
		}
		listed := slices.ContainsFunc(d.Unmapped, func(u gateway.Unmapped) bool { return strings.Contains(u.Reason, "ACMG classification") })
		if listed != (want == "") {
			t.Errorf("%s: listed as unmapped %v", concept, listed)
		}
	}
}

// TestInterpretersOutsideTheBundle: a results interpreter the Bundle does
// not hold is filed by the reference's display and identifier (an HCPC
// number), with a warning; an organisation, or a reference with nothing to
// name anyone by, is warned of and listed, not filed as a blank person.
// Written back, no identifier is empty and two people are two roles.
func TestInterpretersOutsideTheBundle(t *testing.T) {
	_, bundle := mapFixture(t, fixtures.Report("trio-wgs-denovo-positive"))
	var b map[string]any
	json.Unmarshal(bundle, &b)
	for _, e := range b["entry"].([]any) {
		res := e.(map[string]any)["resource"].(map[string]any)
		if res["resourceType"] == "DiagnosticReport" {
			res["resultsInterpreter"] = []any{
				map[string]any{"reference": "Practitioner/elsewhere", "display": "Dr Sam Outside",
					"identifier": map[string]any{"system": "https://fhir.hl7.org.uk/Id/hcpc-number", "value": "CS055555"}},
				map[string]any{"display": "Alex Unregistered"},
				map[string]any{"reference": "Practitioner/nowhere"},
				map[string]any{"identifier": map[string]any{"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "REP"}},
				map[string]any{"reference": "Organization/x", "display": "North West GLH"},
			}
		}
	}
	body, _ := json.Marshal(b)
	d, err := fhirr4.Decode(body, "699X0")
	if err != nil {
		t.Fatal(err)
	}
	as := d.Report.Authorisers
	if len(as) != 2 || as[0].Name != "Dr Sam Outside" || as[0].Registration.Body != "HCPC" || as[0].Registration.Number != "CS055555" || as[1].Name != "Alex Unregistered" {
		t.Fatalf("authorisers %+v", as)
	}
	if !slices.ContainsFunc(d.Unmapped, func(u gateway.Unmapped) bool { return strings.HasSuffix(u.Location, "resultsInterpreter[2]") }) {
		t.Errorf("the interpreter with no name is not listed: %v", d.Unmapped)
	}
	for i, want := range map[int]string{3: "REP", 4: "North West GLH"} { // organisations, not people
		if !slices.ContainsFunc(d.Unmapped, func(u gateway.Unmapped) bool {
			return strings.HasSuffix(u.Location, fmt.Sprintf("resultsInterpreter[%d]", i)) && strings.Contains(u.Code+" "+u.Text, want)
		}) {
			t.Errorf("the organisation interpreter %s is not listed: %v", want, d.Unmapped)
		}
	}
	m, _ := fhirr4.New("")
	out, _, err := m.EncodeBundle(d.Report, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), `"value":""`) {
		t.Error("an identifier with an empty value was written")
	}
	roles := map[string]bool{}
	var written map[string]any
	json.Unmarshal(out, &written)
	for _, e := range written["entry"].([]any) {
		res := e.(map[string]any)["resource"].(map[string]any)
		if res["resourceType"] == "PractitionerRole" {
			roles[fmt.Sprint(res["identifier"])] = true
		}
	}
	if len(roles) != 2 {
		t.Errorf("%d distinct PractitionerRole identifiers for two authorisers: %v", len(roles), roles)
	}
}

// TestNHSNumberWrittenWithSpaces: "999 000 2045", as letters and the PDF
// print it, is the NHS number 9990002045, with a warning.
func TestNHSNumberWrittenWithSpaces(t *testing.T) {
	want, bundle := mapFixture(t, fixtures.Report("trio-wgs-denovo-positive"))
	nhs := want.Patient.NHSNumber
	spaced := nhs[:3] + " " + nhs[3:6] + " " + nhs[6:]
	written := `"system":"https://fhir.nhs.uk/Id/nhs-number","value":"` + nhs + `"`
	if !strings.Contains(string(bundle), written) {
		t.Fatalf("the Bundle does not write %s", written)
	}
	d, err := fhirr4.Decode([]byte(strings.ReplaceAll(string(bundle), written, `"system":"https://fhir.nhs.uk/Id/nhs-number","value":"`+spaced+`"`)), "699X0")
	if err != nil {
		t.Fatal(err)
	}
	if d.Report.Patient.NHSNumber != nhs || !slices.ContainsFunc(d.Warnings, func(w gateway.Warning) bool { return strings.Contains(w.Message, "spaces or dashes") }) {
		t.Fatalf("NHS number %q, warnings %v", d.Report.Patient.NHSNumber, d.Warnings)
	}
}

// TestOrderNamedOnlyByIdentifier: NHS England's minimal report names its
// order by the EPR's own number and no ordering organisation: the number
// is kept as the orderer's (local) one, and a warning says the report is
// held for want of an ordering trust.
func TestOrderNamedOnlyByIdentifier(t *testing.T) {
	body, err := os.ReadFile(filepath.Join(peers.DataDir(t), "nhse-genomics-ig", "DiagnosticReport", "UKCore-DiagnosticReport-MichaelJonesReport-Example-minimal.json"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := fhirr4.Decode(body, "699X0")
	if err != nil {
		t.Fatal(err)
	}
	if r := d.Report; r.OrderNumber != "LabOrder123456" || !r.OrderNumberLocal {
		t.Errorf("order number %q (local %v)", r.OrderNumber, r.OrderNumberLocal)
	}
	if !slices.ContainsFunc(d.Warnings, func(w gateway.Warning) bool {
		return w.Path == "orderingTrust.odsCode" && strings.Contains(w.Message, "held")
	}) {
		t.Errorf("no warning that the report is held: %v", d.Warnings)
	}
}

// TestParseErrorsSayWhere: JSON that is not R4 is refused at the FHIRPath
// of the element the parser failed at, not at the Bundle.
func TestParseErrorsSayWhere(t *testing.T) {
	body, at := editTrio(t, func(res map[string]any) bool {
		if res["resourceType"] != "DiagnosticReport" {
			return false
		}
		res["presentedForm"].([]any)[0].(map[string]any)["data"] = "not base64!"
		return true
	})
	at += ".presentedForm[0].data"
	_, err := fhirr4.Decode(body, "699X0")
	var e *gateway.Error
	if !errors.As(err, &e) || len(e.Problems) != 1 || e.Problems[0].Path != at {
		t.Fatalf("refused %v, want the problem at %s", err, at)
	}
}

// TestMalformedJSONSaysWhere: a body that is not JSON at all (cut short,
// or empty) is refused saying so and where, as POST /v1/reports does; the
// FHIR parser's own answer was only "invalid JSON".
func TestMalformedJSONSaysWhere(t *testing.T) {
	for body, want := range map[string]string{
		"{\"resourceType\": \"Bundle\",\n \"type\": \"transaction\",": "unexpected end of JSON input at line 2, column 23",
		"{\"resourceType\": \"Bundle\" \"type\": 1}":                  "at line 1, column 27",
		"": "the body is empty",
	} {
		_, err := fhirr4.Decode([]byte(body), "699X0")
		var e *gateway.Error
		if !errors.As(err, &e) || e.Code != gateway.EMALFORMED || len(e.Problems) != 1 || !strings.Contains(e.Problems[0].Message, want) {
			t.Errorf("%q: refused %v %+v, want %q", body, err, e, want)
		}
	}
}

// TestLabResultRangesAndComponents: a laboratory result's reference range
// given as low and high (no text) is kept as "low-high"; its components,
// which a laboratory result has no place for, are listed as unmapped with
// their values.
func TestLabResultRangesAndComponents(t *testing.T) {
	want, b := pathologyBundle(t)
	member := ""
	for i, e := range b["entry"].([]any) {
		res := e.(map[string]any)["resource"].(map[string]any)
		if res["resourceType"] == "Observation" && fmt.Sprint(res["referenceRange"]) != "<nil>" && member == "" {
			res["referenceRange"] = []any{map[string]any{"low": map[string]any{"value": 115}, "high": map[string]any{"value": 165}}}
			res["component"] = []any{map[string]any{"code": map[string]any{"text": "Systolic"}, "valueQuantity": map[string]any{"value": 120, "unit": "mm[Hg]"}}}
			member = fmt.Sprintf("Bundle.entry[%d].resource", i)
		}
	}
	body, _ := json.Marshal(b)
	d, err := fhirr4.Decode(body, want.PerformingLab.ODSCode)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, g := range d.Report.ResultGroups {
		for _, o := range g.Observations {
			found = found || o.ReferenceRange == "115-165"
		}
	}
	if !found {
		t.Errorf("no result kept the range 115-165: %+v", d.Report.ResultGroups)
	}
	if !slices.ContainsFunc(d.Unmapped, func(u gateway.Unmapped) bool {
		return u.Location == member+".component[0]" && strings.Contains(u.Text, "Systolic 120 mm[Hg]")
	}) {
		t.Errorf("the component is not listed at %s.component[0]: %v", member, d.Unmapped)
	}
}

// TestUnreadExtensionsListed: an extension the gateway does not read, on
// the report or the patient, is listed as unmapped with its place (and,
// but on the patient, its value); the gateway's own Bundles, read back,
// list none.
func TestUnreadExtensionsListed(t *testing.T) {
	for _, f := range fixtures.Reports() {
		name := f.Name
		_, bundle := mapFixture(t, f.Body)
		d, err := fhirr4.Decode(bundle, "699X0")
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range d.Unmapped {
			if strings.Contains(u.Reason, "extension") {
				t.Errorf("%s: its own extension listed as unread: %+v", name, u)
			}
		}
	}
	_, bundle := mapFixture(t, fixtures.Report("trio-wgs-denovo-positive"))
	var b map[string]any
	json.Unmarshal(bundle, &b)
	ethnic := "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory"
	at := ""
	for i, e := range b["entry"].([]any) {
		res := e.(map[string]any)["resource"].(map[string]any)
		if res["resourceType"] == "Patient" && at == "" {
			res["extension"] = []any{map[string]any{"url": ethnic, "valueCodeableConcept": map[string]any{"text": "White British"}}}
			at = fmt.Sprintf("Bundle.entry[%d].resource.extension[0]", i)
		}
	}
	body, _ := json.Marshal(b)
	d, err := fhirr4.Decode(body, "699X0")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(d.Unmapped, func(u gateway.Unmapped) bool {
		return u.Location == at && u.Code == ethnic && u.Text == "" // a patient's extension's value may be personal: not copied
	}) {
		t.Errorf("the patient's extension is not listed at %s: %v", at, d.Unmapped)
	}
}

// TestUnreadVariantPartsListed: a variant's component the gateway does
// not read (a read depth) and its Observation.interpretation are listed as
// unmapped with their places and values; the gateway's own Bundles list
// none (TestFHIRRoundTrip).
func TestUnreadVariantPartsListed(t *testing.T) {
	body, at := editTrio(t, func(res map[string]any) bool {
		if res["resourceType"] != "Observation" || !strings.Contains(fmt.Sprint(res["code"]), "69548-6") {
			return false
		}
		res["component"] = append(res["component"].([]any), map[string]any{
			"code":          map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "82121-5", "display": "Allelic read depth"}}},
			"valueQuantity": map[string]any{"value": 35}})
		res["interpretation"] = []any{map[string]any{"text": "Abnormal"}}
		return true
	})
	if at == "" {
		t.Fatal("no variant Observation (69548-6) in the Bundle")
	}
	d, err := fhirr4.Decode(body, "699X0")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct{ suffix, text string }{{".component[", "Allelic read depth 35"}, {".interpretation[0]", "Abnormal"}} {
		if !slices.ContainsFunc(d.Unmapped, func(u gateway.Unmapped) bool {
			return strings.HasPrefix(u.Location, at+want.suffix) && u.Text == want.text
		}) {
			t.Errorf("%s%s (%s) not listed: %v", at, want.suffix, want.text, d.Unmapped)
		}
	}
}

// editTrio maps the trio fixture to its Bundle and lets edit change the
// first resource it accepts; it returns the Bundle and that resource's
// FHIRPath ("" when edit accepted none).
func editTrio(t *testing.T, edit func(res map[string]any) bool) (body []byte, at string) {
	t.Helper()
	_, bundle := mapFixture(t, fixtures.Report("trio-wgs-denovo-positive"))
	var b map[string]any
	json.Unmarshal(bundle, &b)
	for i, e := range b["entry"].([]any) {
		if edit(e.(map[string]any)["resource"].(map[string]any)) {
			at = fmt.Sprintf("Bundle.entry[%d].resource", i)
			break
		}
	}
	body, _ = json.Marshal(b)
	return body, at
}

// TestLabPDFInADocumentReference: a report whose PDF comes as a
// DocumentReference naming the report as its context (and no
// presentedForm) files that PDF as the report's, with a warning saying
// where it was read from.
func TestLabPDFInADocumentReference(t *testing.T) {
	_, bundle := mapFixture(t, fixtures.Report("trio-wgs-denovo-positive"))
	var b map[string]any
	json.Unmarshal(bundle, &b)
	report := ""
	var kept []any
	for _, e := range b["entry"].([]any) {
		e := e.(map[string]any)
		res := e["resource"].(map[string]any)
		switch res["resourceType"] {
		case "DiagnosticReport":
			delete(res, "presentedForm")
			report = e["fullUrl"].(string)
		case "DocumentReference", "Binary": // the gateway's own index of its PDF: not this case
			continue
		}
		kept = append(kept, e)
	}
	b["entry"] = kept
	labPDF := []byte("%PDF-1.4 the lab's own signed report")
	document := func(n int, status string, pdf []byte) any {
		return map[string]any{"fullUrl": fmt.Sprintf("urn:uuid:5b1f0d3e-0000-4000-8000-00000000000%d", n), "resource": map[string]any{
			"resourceType": "DocumentReference", "status": status,
			"context": map[string]any{"related": []any{map[string]any{"reference": report}}},
			"content": []any{map[string]any{"attachment": map[string]any{"contentType": "application/pdf", "data": base64.StdEncoding.EncodeToString(pdf)}}},
		}}
	}
	// the lab's earlier, superseded document first, then the current one
	b["entry"] = append(b["entry"].([]any), document(1, "superseded", []byte("%PDF-1.4 an earlier draft")), document(2, "current", labPDF))
	body, _ := json.Marshal(b)
	d, err := fhirr4.Decode(body, "699X0")
	if err != nil {
		t.Fatal(err)
	}
	if d.Report.PDF == nil || !bytes.Equal(d.Report.PDF.Data, labPDF) {
		t.Fatalf("the lab's PDF was not filed as the report's: %+v", d.Report.PDF)
	}
	if !slices.ContainsFunc(d.Warnings, func(w gateway.Warning) bool { return strings.Contains(w.Message, "read from a DocumentReference") }) {
		t.Errorf("no warning: %v", d.Warnings)
	}
}

// TestPartialBirthDates: a birth date known to the year or month only
// (PID-7 1980, 198005) is kept as given, written as a FHIR date of that
// precision, and warned of.
func TestPartialBirthDates(t *testing.T) {
	m, err := fhirr4.New("")
	if err != nil {
		t.Fatal(err)
	}
	for pid7, want := range map[string]string{"1980": "1980", "198005": "1980-05", "19800101": "1980-01-01"} {
		raw := strings.Replace(string(fixtures.HL7Message("lri-variant-cwe")), "||19800101|F|", "||"+pid7+"|F|", 1)
		r := filedHL7Report(t, []byte(raw))
		if r.Patient.BirthDate != want {
			t.Errorf("PID-7 %s filed as %q, want %q", pid7, r.Patient.BirthDate, want)
		}
		_, warnings := gateway.ValidateLenient(r)
		if partial := slices.ContainsFunc(warnings, func(w gateway.Warning) bool { return strings.Contains(w.Message, "partial date") }); partial != (len(want) < 10) {
			t.Errorf("PID-7 %s: warned of a partial date %v", pid7, partial)
		}
		bundle, _, err := m.EncodeBundle(r, testPDF)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(bundle), `"birthDate":"`+want+`"`) {
			t.Errorf("PID-7 %s: the Patient has no birthDate %s", pid7, want)
		}
	}
}

// TestGMSOrderNumberIsNotLocal: an order named by the EPR's number and by
// NHS England's GMS order number is filed under the GMS number, marked as
// that, not as the orderer's own.
func TestGMSOrderNumberIsNotLocal(t *testing.T) {
	body, _ := editTrio(t, func(res map[string]any) bool {
		if res["resourceType"] != "DiagnosticReport" {
			return false
		}
		res["basedOn"] = []any{
			map[string]any{"identifier": map[string]any{"system": "https://epr.example.nhs.uk/orders", "value": "LOCAL1"}},
			map[string]any{"identifier": map[string]any{"system": "https://fhir.nhs.uk/Id/GMSOrder", "value": "r24000000001"}},
		}
		return true
	})
	d, err := fhirr4.Decode(body, "699X0")
	if err != nil {
		t.Fatal(err)
	}
	if r := d.Report; r.OrderNumber != "r24000000001" || r.OrderNumberLocal {
		t.Errorf("order number %q, local %v", r.OrderNumber, r.OrderNumberLocal)
	}
}

// TestZeroBasedCoordinatesSaid: a variant whose coordinate system is not
// 1-based character counting is filed with a warning and listed, its
// positions not silently taken as 1-based.
func TestZeroBasedCoordinatesSaid(t *testing.T) {
	body, at := editTrio(t, func(res map[string]any) bool {
		if res["resourceType"] != "Observation" || !strings.Contains(fmt.Sprint(res["code"]), "69548-6") {
			return false
		}
		for _, c := range res["component"].([]any) {
			c := c.(map[string]any)
			if strings.Contains(fmt.Sprint(c["code"]), "92822-6") {
				c["valueCodeableConcept"] = map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "LA30100-4", "display": "0-based interval counting"}}}
				return true
			}
		}
		return false
	})
	if at == "" {
		t.Fatal("no variant with a coordinate system")
	}
	d, err := fhirr4.Decode(body, "699X0")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(d.Warnings, func(w gateway.Warning) bool { return strings.Contains(w.Message, "0-based interval counting") }) ||
		!slices.ContainsFunc(d.Unmapped, func(u gateway.Unmapped) bool { return u.Code == "LA30100-4" }) {
		t.Errorf("a 0-based coordinate system was not said: %v %v", d.Warnings, d.Unmapped)
	}
}

// TestSingleLabResultNamedByTheReport: a laboratory result the report
// names directly (no panel, no hasMember) is filed with its value, and
// its components are listed, not dropped.
func TestSingleLabResultNamedByTheReport(t *testing.T) {
	want, b := pathologyBundle(t)
	at := ""
	for i, e := range b["entry"].([]any) {
		res := e.(map[string]any)["resource"].(map[string]any)
		if res["resourceType"] == "Observation" && res["hasMember"] != nil && at == "" {
			delete(res, "hasMember")
			res["code"] = map[string]any{"text": "Blood pressure"}
			res["component"] = []any{map[string]any{"code": map[string]any{"text": "Systolic"}, "valueQuantity": map[string]any{"value": 120, "unit": "mm[Hg]"}}}
			at = fmt.Sprintf("Bundle.entry[%d].resource", i)
		}
	}
	body, _ := json.Marshal(b)
	d, err := fhirr4.Decode(body, want.PerformingLab.ODSCode)
	if err != nil {
		t.Fatal(err)
	}
	if g := d.Report.ResultGroups[0]; len(g.Observations) != 1 || g.Code.Display != "Blood pressure" {
		t.Errorf("the single result's group: %+v", g)
	}
	if !slices.ContainsFunc(d.Unmapped, func(u gateway.Unmapped) bool { return u.Location == at+".component[0]" }) {
		t.Errorf("its component is not listed at %s.component[0]: %v", at, d.Unmapped)
	}
}

// pathologyBundle is the Welsh-style FBC message's report and its Bundle,
// as JSON to edit.
func pathologyBundle(t *testing.T) (*gateway.Report, map[string]any) {
	t.Helper()
	m, err := fhirr4.New("")
	if err != nil {
		t.Fatal(err)
	}
	want := filedHL7Report(t, fixtures.HL7Message("pathology-fbc"))
	bundle, _, err := m.EncodeBundle(want, testPDF)
	if err != nil {
		t.Fatal(err)
	}
	var b map[string]any
	json.Unmarshal(bundle, &b)
	return want, b
}
