package coverage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
	"google.golang.org/protobuf/proto"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/gateway/boltstore"
	"github.com/nhs-genomics/results-gateway/gateway/pdf"
	"github.com/nhs-genomics/results-gateway/gateway/v2intake"
	"github.com/nhs-genomics/results-gateway/hl7"
	"github.com/nhs-genomics/results-gateway/internal/peers"
	"github.com/nhs-genomics/results-gateway/internal/testdirectory"
	"github.com/nhs-genomics/results-gateway/mappers/fhirr4"
	"github.com/nhs-genomics/results-gateway/mappers/hl7v2"
	"github.com/nhs-genomics/results-gateway/mappers/labjson"
)

// cannotCarry is the short, reasoned list of facts an output does not
// carry, by output and by the fact's path with list indexes removed. Every
// other fact of every report must be found in every output.
var cannotCarry = map[string]map[string]string{
	"fhir": {
		"resultGroups.observations.valueType": "how a result's value is written: FHIR says it by the value[x] it uses",
		"previous.relation":                   "FHIR says it in words, as the Provenance's reason (Variant re-interpretation, Re-analysis), which FHIR intake reads back",
		"unstructured":                        "says the report came as text and documents only; that text and those documents are checked",
		"orderNumberLocal":                    "says whose number the order number is: FHIR says it by the identifier's system (the gateway's order identifier, not NHS England's GMSOrder), which FHIR intake reads back",
	},
	"pdf": {
		"orderNumberLocal":                    "whose number the order number is: the PDF prints the number as the orderer knows it",
		"resultGroups.observations.valueType": "how a result's value is written: the PDF prints the value",
		"unstructured":                        "says the report came as text and documents only; that text is checked",
		"*.system":                            "code systems are for machines; the PDF prints each code and its name",
		"variants.id":                         "the lab's key for a variant row; the PDF names a variant by gene and HGVS (FHIR and HL7 keep the key)",
		"test.panels.genes.hgncId":            "a panel of hundreds of genes is printed by symbol; FHIR keeps their HGNC ids",
		"resultGroups.observations.unitCode":  "a UCUM code is for machines; the PDF prints the unit as the lab wrote it",
	},
	"oru": {},
	"oru 2.4": {
		"test.directoryName": "a 2.4 CE has no original text (CWE-9): OBR-4.2 keeps the lab's words; the national code names the test",
	},
	"oru 2.3": {
		"test.directoryName": "a 2.3 CE has no original text (CWE-9): OBR-4.2 keeps the lab's words; the national code names the test",
	},
}

// excused says why out need not carry f, or "" when it must.
func excused(out string, f fact) string {
	for _, list := range []string{out, strings.Fields(out)[0]} {
		if why, ok := cannotCarry[list][f.pattern]; ok {
			return why
		}
		if i := strings.LastIndex(f.pattern, "."); i >= 0 {
			if why, ok := cannotCarry[list]["*"+f.pattern[i:]]; ok {
				return why
			}
		}
	}
	return ""
}

const lab = "699X0"

// TestEveryFactInEveryOutput files every fixture report and every HL7 v2
// test message through the gateway's intake, then looks for each fact of
// the stored, normalised report (every string and number it holds, its
// warnings and the directory's test name) in the FHIR Bundle, in the text
// of the PDF (pdftotext) and, after an ORU^R01 round trip in 2.5.1, 2.4 and
// 2.3, at the same place in the report read back. A fact added to the
// report model that an output does not write fails here until the output
// writes it or cannotCarry says why it cannot.
func TestEveryFactInEveryOutput(t *testing.T) {
	filed := 0
	for _, in := range inputs(t) {
		t.Run(in.name, func(t *testing.T) {
			r, rec := file(t, in)
			if rec == nil {
				if !strings.HasPrefix(in.name, "shared/") && !refusedFixtures[in.name] {
					t.Fatal("the intake refused it")
				}
				t.Logf("not filed (refused, as the intake tests expect): no outputs to check")
				return
			}
			filed++
			all := facts(r)
			if len(all) < 10 {
				t.Fatalf("only %d facts found in the report: the walk is broken", len(all))
			}
			doc, _, err := pdf.Renderer{}.Render(r) // a lab's own PDF is the lab's; the gateway's rendering must carry every fact
			if err != nil {
				t.Fatal(err)
			}
			sameJSONAsJSONFormat(t, r, rec.PDF)
			hay := map[string]haystack{"fhir": newHaystack(fhirText(t, rec.Bundle)), "pdf": newHaystack(pdfText(t, doc))}
			for out, text := range hay {
				for _, f := range all {
					if excused(out, f) == "" && !found(text, forms(f)) && !(out == "pdf" && namedBy(f, all, text)) {
						t.Errorf("%s lacks %s = %q", out, f.path, f.value)
					}
				}
			}
			for _, version := range []string{"2.5.1", "2.4", "2.3"} {
				back, text := roundTrip(t, r, rec.PDF, version)
				for _, f := range all {
					if excused("oru "+version, f) != "" || back[f.key()] || f.pattern == "test.directoryName" && found(text, forms(f)) {
						continue
					}
					t.Errorf("ORU %s lacks %s = %q", version, f.path, f.value)
				}
			}
		})
	}
	if filed < 25 {
		t.Fatalf("only %d reports filed: the inputs were not found", filed)
	}
}

// refusedFixtures are the synthetic messages that must not be filed.
var refusedFixtures = map[string]bool{"hl7/no-patient": true, "hl7/nothing-to-file": true}

type input struct {
	name string
	body []byte
	hl7  bool
}

// inputs are every fixture report, every synthetic HL7 v2 message and
// every HL7 v2 message in ../shared/data/hl7v2.
func inputs(t *testing.T) []input {
	var ins []input
	for _, f := range fixtures.Reports() {
		ins = append(ins, input{"json/" + f.Name, f.Body, false})
	}
	for _, f := range fixtures.HL7() {
		ins = append(ins, input{"hl7/" + f.Name, f.Body, true})
	}
	for _, s := range peers.HL7Samples(t) {
		ins = append(ins, input{"shared/" + s.Name, s.Raw, true})
	}
	return ins
}

// recorder keeps the record the intake stores.
type recorder struct {
	*boltstore.Store
	saved *gateway.ReportRecord
}

func (r *recorder) SaveReport(ctx context.Context, rec *gateway.ReportRecord, d []*gateway.Delivery) (*gateway.ReportRecord, bool, error) {
	r.saved = rec
	return r.Store.SaveReport(ctx, rec, d)
}

type noRoutes struct{}

func (noRoutes) Routes(string) []gateway.Route { return nil }

// file runs one input through the gateway's intake on a fresh embedded
// store and returns the normalised report with its warnings, and the
// stored record; nil when the intake refused it.
func file(t *testing.T, in input) (*gateway.Report, *gateway.ReportRecord) {
	t.Helper()
	store, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	mapper, err := fhirr4.New("")
	if err != nil {
		t.Fatal(err)
	}
	directory, err := testdirectory.Load()
	if err != nil {
		t.Fatal(err)
	}
	rs := &recorder{Store: store}
	now := func() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) }
	intake := &gateway.Intake{Reports: rs, Held: store, Router: noRoutes{}, Bundles: mapper, Renderer: pdf.Renderer{},
		Directory: directory, Now: now, Log: discard()}
	who := gateway.Principal{Subject: "coverage", Role: gateway.RoleLab, ODSCode: lab}
	if in.hl7 {
		svc := &v2intake.Service{Intake: intake, Now: now, Log: discard(), Senders: []v2intake.Sender{{LabODS: lab,
			Options: hl7v2.SenderOptions{FacilityAliases: map[string]string{"MFT": "R0A"}}}}}
		svc.Handle(t.Context(), &who, nil, in.body)
	} else {
		r, err := labjson.Decode(in.body)
		if err != nil {
			t.Fatal(err)
		}
		who.ODSCode = r.PerformingLab.ODSCode
		if _, _, err := intake.Accept(t.Context(), who, r, gateway.Submission{Source: "json"}); err != nil {
			t.Fatal(err)
		}
	}
	rec := rs.saved
	if rec == nil {
		return nil, nil
	}
	var r gateway.Report
	if err := json.Unmarshal(rec.Report, &r); err != nil {
		t.Fatal(err)
	}
	r.Warnings = rec.Warnings
	if name, ok := directory.Lookup(r.Test.Code); ok {
		r.Test.DirectoryName = name
	}
	return &r, rec
}

// fact is one value of a report with its JSON path ("variants[1].hgvs.c")
// and that path without list indexes ("variants.hgvs.c").
type fact struct{ path, pattern, value string }

// key is what the ORU round trip compares: the value at its path (a
// warning, at any place among the warnings read back).
func (f fact) key() string {
	if f.pattern == "warnings" {
		return "warnings=" + f.value
	}
	return f.path + "=" + f.value
}

// namedBy reports whether a code is printed by its name: a coded value in
// the PDF is read by its display when it has one.
func namedBy(f fact, all []fact, text haystack) bool {
	parent, ok := strings.CutSuffix(f.path, ".code")
	if !ok {
		return false
	}
	for _, g := range all {
		if g.path == parent+".display" {
			return found(text, []string{g.value})
		}
	}
	return false
}

var index = regexp.MustCompile(`\[\d+\]`)

// facts lists every value of r, its warnings and the directory's name for
// its test. A document's bytes are not facts (the PDF is an output).
func facts(r *gateway.Report) []fact {
	var out []fact
	add := func(path, value string) {
		out = append(out, fact{path, index.ReplaceAllString(path, ""), value})
	}
	gateway.WalkValues(r, add)
	for i, w := range r.Warnings {
		add(fmt.Sprintf("warnings[%d]", i), strings.TrimSpace(w.Path+" "+w.Message)) // as every output writes it
	}
	if r.Test.DirectoryName != "" {
		add("test.directoryName", r.Test.DirectoryName)
	}
	return out
}

// normal reduces text to what a reader compares: NFC, lower case, and
// words of letters and digits separated by single spaces, so wrapping,
// punctuation and case do not hide a fact, and "likely-pathogenic" matches
// "Likely pathogenic".
func normal(s string) string {
	s = norm.NFC.String(s)
	words := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r) })
	return " " + strings.Join(words, " ") + " "
}

// haystack is an output's text, as written and normalised.
type haystack struct{ raw, words string }

func newHaystack(text string) haystack { return haystack{text, normal(text)} }

// found reports whether any of the forms of a fact is in the text, as
// whole words; a form with neither letters nor digits (a comparator such
// as "<") as written.
func found(text haystack, forms []string) bool {
	for _, f := range forms {
		if n := normal(f); n == "  " && strings.Contains(text.raw, f) || n != "  " && strings.Contains(text.words, n) {
			return true
		}
	}
	return false
}

var nationalNumber = regexp.MustCompile(`^\d{10}$`)

// forms are the ways an output may write a fact: as sent, and for times
// and national numbers the other standard forms.
func forms(f fact) []string {
	out := []string{f.value}
	if t, err := time.Parse(time.RFC3339, f.value); err == nil {
		out = append(out, t.UTC().Format(time.RFC3339), t.Format("20060102150405-0700"), t.Format("02/01/2006 15:04"), t.Format("2 Jan 2006 15:04"))
	}
	if t, err := time.Parse(time.DateOnly, f.value); err == nil {
		out = append(out, t.Format("20060102"), t.Format("02/01/2006"), t.Format("2 Jan 2006"))
	}
	if nationalNumber.MatchString(f.value) {
		out = append(out, pdf.FormatNHSNumber(f.value))
	}
	if strings.HasSuffix(f.pattern, "Fraction") || strings.HasSuffix(f.pattern, "Frequency") {
		if x, err := strconv.ParseFloat(f.value, 64); err == nil {
			out = append(out, strconv.FormatFloat(x*100, 'f', -1, 64), fmt.Sprintf("%.0f", x*100))
		}
	}
	if f.pattern == "test.method" {
		out = append(out, gateway.TestMethodNames[f.value])
	}
	if f.pattern == "variants.chromosome" {
		out = append(out, "chr"+f.value)
	}
	if f.pattern == "variants.type" {
		out = append(out, gateway.VariantTypeNames[f.value])
	}
	return out
}

// fhirText is every string and number in a Bundle (a document's base64
// data left out; narrative XHTML as its text), numbers as written.
func fhirText(t *testing.T, bundle []byte) string {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(bundle))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				walk(k, c)
			}
		case []any:
			for _, c := range v {
				walk(key, c)
			}
		case string:
			if key == "data" {
				return
			}
			if key == "div" {
				v = html.UnescapeString(tag.ReplaceAllString(v, " "))
			}
			b.WriteString(v + "\n")
		case json.Number, bool:
			fmt.Fprintf(&b, "%v\n", v)
		}
	}
	walk("", v)
	return b.String()
}

var tag = regexp.MustCompile(`<[^>]*>`)

// pdfText is a PDF's text with the page furniture moved out of the way.
func pdfText(t *testing.T, doc []byte) string { return withoutPageFurniture(peers.PDFText(t, doc)) }

var pageNumber = regexp.MustCompile(`^Page \d+ of \d+$`)

// withoutPageFurniture moves the lines every page repeats (the header and
// footer) and the page numbers to the front once, so a paragraph that
// runs over a page break reads as one again.
func withoutPageFurniture(text string) string {
	pages := strings.Split(strings.TrimRight(text, "\f\n"), "\f")
	onPages := map[string]int{}
	for _, p := range pages {
		seen := map[string]bool{}
		for _, l := range strings.Split(p, "\n") {
			if !seen[l] {
				seen[l] = true
				onPages[l]++
			}
		}
	}
	var furniture, body []string
	for i, p := range pages {
		for _, l := range strings.Split(p, "\n") {
			switch {
			case pageNumber.MatchString(l):
			case len(pages) > 1 && onPages[l] == len(pages):
				if i == 0 {
					furniture = append(furniture, l)
				}
			default:
				body = append(body, l)
			}
		}
	}
	return strings.Join(append(furniture, body...), "\n")
}

// roundTrip writes r as ORU^R01 in version, reads it back as the gateway
// reads a lab's message, and returns the facts of what came back (by
// fact.key) and the message's text.
func roundTrip(t *testing.T, r *gateway.Report, doc []byte, version string) (map[string]bool, haystack) {
	t.Helper()
	msg := hl7v2.Encode(r, doc, "COVERAGE", hl7v2.Options{Version: version})
	m, err := hl7.Parse(msg)
	if err != nil {
		t.Fatalf("our own ORU %s does not parse: %v", version, err)
	}
	d, err := hl7v2.Decode(m, r.PerformingLab.ODSCode, hl7v2.SenderOptions{})
	if err != nil {
		t.Fatalf("our own ORU %s does not decode: %v", version, err)
	}
	got := map[string]bool{}
	for _, f := range facts(d.Report) {
		got[f.key()] = true
	}
	for _, w := range d.Warnings { // what this gateway noted travels as NTEs another gateway reads back
		if text, ok := strings.CutPrefix(w.Message, "the sending gateway noted: "); ok {
			got["warnings="+text] = true
		}
	}
	return got, newHaystack(m.Unescape(string(msg)))
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// sameJSONAsJSONFormat: the gateway's FHIR JSON writer writes this
// report's Bundle byte for byte as jsonformat (kept as the reference) does.
func sameJSONAsJSONFormat(t *testing.T, r *gateway.Report, pdf []byte) {
	t.Helper()
	mapper, _ := fhirr4.New("")
	bundle := mapper.Bundle(r, pdf)
	ref, err := jsonformat.NewMarshaller(false, "", "", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ref.MarshalResource(proto.Clone(bundle))
	if err != nil {
		t.Fatal(err)
	}
	got, err := fhirr4.MarshalResource(bundle)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("the FHIR JSON writer differs from jsonformat on this Bundle (error %v)", err)
	}
}
