package pdf_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/gateway/pdf"
	"github.com/nhs-genomics/results-gateway/internal/peers"
	"github.com/nhs-genomics/results-gateway/mappers/labjson"
)

func pdfText(t testing.TB, doc []byte) string { return peers.PDFText(t, doc) }

var space = regexp.MustCompile(`\s+`)

// render decodes a lab JSON report and renders its PDF.
func render(t *testing.T, body []byte) (*gateway.Report, []byte) {
	t.Helper()
	r, err := labjson.Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	doc, _, err := pdf.Renderer{}.Render(r)
	if err != nil {
		t.Fatal(err)
	}
	return r, doc
}

// TestPDFShowsEverything is the coverage check: every variant, classification,
// conclusion, test code and NHS number in the report appears in the PDF's text.
func TestPDFShowsEverything(t *testing.T) {
	for _, f := range fixtures.Reports() {
		t.Run(f.Name, func(t *testing.T) {
			r, doc := render(t, f.Body)
			text := pdfText(t, doc)
			flat := space.ReplaceAllString(text, " ")
			for _, want := range expected(r) {
				if !strings.Contains(flat, want) {
					t.Errorf("PDF text lacks %q", want)
				}
			}
			pages := strings.Split(strings.TrimRight(text, "\f\n"), "\f")
			for i, page := range pages {
				if !strings.Contains(page, pdf.FormatNHSNumber(r.Patient.NHSNumber)) || !strings.Contains(page, r.PerformingLab.ODSCode) ||
					!strings.Contains(page, "Page "+itoa(i+1)+" of "+itoa(len(pages))) {
					t.Errorf("page %d of %d lacks the NHS number, the lab ODS code or 'Page X of Y'", i+1, len(pages))
				}
			}
		})
	}
}

// expected lists the texts a reader must find in the PDF of r.
func expected(r *gateway.Report) []string {
	want := []string{
		r.Test.Code, pdf.FormatNHSNumber(r.Patient.NHSNumber), r.Patient.Name.Family, r.ID,
		space.ReplaceAllString(r.Result.Conclusion, " "),
	}
	for _, v := range r.Variants {
		want = append(want, v.Gene.Symbol, v.Gene.HGNCID)
		for _, s := range []string{v.HGVS.C, v.HGVS.P, v.HGVS.G, v.ISCN} {
			if s != "" {
				want = append(want, s)
			}
		}
		if len(v.Classification.Criteria) > 0 {
			want = append(want, strings.Join(v.Classification.Criteria, ", "))
		}
	}
	for _, a := range r.Authorisers {
		want = append(want, a.Name)
	}
	return want
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestSameReportSamePDF(t *testing.T) {
	r, err := labjson.Decode(fixtures.Report("compound-het-ar"))
	if err != nil {
		t.Fatal(err)
	}
	a, _, _ := pdf.Renderer{}.Render(r)
	b, _, _ := pdf.Renderer{}.Render(r)
	if !bytes.Equal(a, b) || !bytes.HasPrefix(a, []byte("%PDF-")) {
		t.Fatal("rendering the same report twice must give the same PDF")
	}
}

// Intake renders reports on many handlers at once: each PDF must be what
// that report alone renders, whatever else is being rendered meanwhile (a
// translator shared between renders once garbled and crashed them).
func TestReportsRenderedAtOnce(t *testing.T) {
	var reports []*gateway.Report
	var want [][]byte
	for _, f := range fixtures.Reports() {
		r, doc := render(t, f.Body)
		reports, want = append(reports, r), append(want, doc)
	}
	var wg sync.WaitGroup
	for i := range reports {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if doc, _, err := (pdf.Renderer{}).Render(reports[i]); err != nil || !bytes.Equal(doc, want[i]) {
					t.Errorf("report %s rendered beside others differs from its own rendering (%v)", reports[i].ID, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkRender(b *testing.B) {
	r, err := labjson.Decode(fixtures.Report("trio-wgs-denovo-positive"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := (pdf.Renderer{}).Render(r); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPercentagesAsWritten: a heteroplasmy of 0.004 (0.4 %) printed "0%",
// as if the variant were not there, and 0.125 printed "12%"; an allele
// fraction of 0.07 printed "7.000000000000001%".
func TestPercentagesAsWritten(t *testing.T) {
	for _, tc := range []struct {
		fixture, field string
		fraction       float64
		want           string
	}{
		{"mito-heteroplasmy", "heteroplasmyFraction", 0.004, "0.4%"},
		{"mito-heteroplasmy", "heteroplasmyFraction", 0.125, "12.5%"},
		{"panel-brca2", "alleleFrequency", 0.07, "7%"},
	} {
		var report map[string]any
		if err := json.Unmarshal(fixtures.Report(tc.fixture), &report); err != nil {
			t.Fatal(err)
		}
		report["variants"].([]any)[0].(map[string]any)[tc.field] = tc.fraction
		body, _ := json.Marshal(report)
		_, doc := render(t, body)
		flat := space.ReplaceAllString(pdfText(t, doc), " ")
		if !strings.Contains(flat, " "+tc.want+" ") {
			t.Errorf("%s %v: PDF lacks the value %q", tc.field, tc.fraction, tc.want)
		}
	}
}

// TestTabsPrintAsSpaces: no font draws a tab, so "Tab<TAB>here" printed as
// "Tabhere" in the core font and with a replacement mark in the embedded
// one (a name outside Windows-1252 chooses it).
func TestTabsPrintAsSpaces(t *testing.T) {
	for _, family := range []string{"Smith", "Łukasiewicz"} {
		var report map[string]any
		if err := json.Unmarshal(fixtures.Report("panel-brca2"), &report); err != nil {
			t.Fatal(err)
		}
		report["patient"].(map[string]any)["name"].(map[string]any)["family"] = family
		report["result"].(map[string]any)["interpretation"] = "Tab\there\x07and\x00there\u0085and\x7fhere"
		body, _ := json.Marshal(report)
		r, doc := render(t, body)
		if flat := space.ReplaceAllString(pdfText(t, doc), " "); !strings.Contains(flat, "Tab here and there and here") {
			t.Errorf("%s: the note prints as %q", family, flat)
		}
		if w := pdf.Unprintable(r); len(w) != 0 {
			t.Errorf("%s: spaces are said to be unprintable: %+v", family, w)
		}
	}
}

// TestVariantsTableNumberedAcrossPages: with many variants in one gene the
// table's rows could not be matched to the numbered details below it, and
// on later pages its columns had no titles.
func TestVariantsTableNumberedAcrossPages(t *testing.T) {
	var report map[string]any
	if err := json.Unmarshal(fixtures.Report("panel-brca2"), &report); err != nil {
		t.Fatal(err)
	}
	variants := report["variants"].([]any)
	for i := len(variants); i < 70; i++ {
		v := map[string]any{}
		for k, val := range variants[0].(map[string]any) {
			v[k] = val
		}
		v["id"] = fmt.Sprintf("v%d", i+1)
		variants = append(variants, v)
	}
	report["variants"] = variants
	body, _ := json.Marshal(report)
	_, doc := render(t, body)
	flat := space.ReplaceAllString(pdfText(t, doc), " ")
	if n := strings.Count(flat, "Gene Zygosity Inheritance Classification Condition"); n < 2 {
		t.Errorf("the table's titles appear %d times over 70 rows, want on every page it covers", n)
	}
	for _, row := range []string{"Condition 1. BRCA2 heterozygous", " 69. BRCA2 heterozygous", " 70. BRCA2 heterozygous"} {
		if !strings.Contains(flat, row) {
			t.Errorf("no table row %q", row)
		}
	}
}

// TestAbsentVariantNotTabledAsFound: a familial variant looked for and not
// found (assessment absent, with the zygosity the schema requires) was a
// row "BRCA2 heterozygous ... Pathogenic" in the variants table, the line
// a reader scans, with "absent" only in the details below.
func TestAbsentVariantNotTabledAsFound(t *testing.T) {
	var report map[string]any
	if err := json.Unmarshal(fixtures.Report("panel-brca2"), &report); err != nil {
		t.Fatal(err)
	}
	report["variants"].([]any)[0].(map[string]any)["assessment"] = "absent"
	body, _ := json.Marshal(report)
	_, doc := render(t, body)
	flat := space.ReplaceAllString(pdfText(t, doc), " ")
	start, end := strings.Index(flat, "Gene Zygosity"), strings.Index(flat, "1. BRCA2 (HGNC")
	if start < 0 || end < start {
		t.Fatalf("no variants table followed by the variant's details:\n%s", flat)
	}
	if table := flat[start:end]; strings.Contains(table, "heterozygous") || !strings.Contains(table, "NOT DETECTED") {
		t.Errorf("the absent variant is tabled as %q", table)
	}
}

// TestLongNamesKeepTheHeaderReadable: a long patient name ran over the NHS
// number and date of birth in every page's header, and off the page; a
// long lab name over the report id. Each stays whole and on its own.
func TestLongNamesKeepTheHeaderReadable(t *testing.T) {
	var report map[string]any
	if err := json.Unmarshal(fixtures.Report("panel-brca2"), &report); err != nil {
		t.Fatal(err)
	}
	name := report["patient"].(map[string]any)["name"].(map[string]any)
	name["given"] = []string{"Maximiliana-Bartholomew-Christabel-Wilhelmina", "Anastasia-Konstantinopoulou"}
	name["family"] = "Featherstonehaugh-Cholmondeley-Marjoribanks"
	report["performingLab"].(map[string]any)["name"] = "North West Genomic Laboratory Hub at Manchester University NHS Foundation Trust"
	body, _ := json.Marshal(report)
	r, doc := render(t, body)
	boxes := peers.PDFWords(t, doc)
	header := func(word string) []peers.Box {
		var out []peers.Box
		for _, b := range boxes {
			if b.Page == 1 && b.YMax < 23/25.4*72 && b.Text == word {
				out = append(out, b)
			}
		}
		return out
	}
	for _, word := range []string{"Featherstonehaugh-Cholmondeley-Marjoribanks", "Trust", pdf.FormatNHSNumber(r.Patient.NHSNumber)[8:], "DOB", r.ID} {
		if len(header(word)) == 0 {
			t.Errorf("page 1's header lacks %q", word)
		}
	}
	for i, a := range boxes {
		for _, b := range boxes[i+1:] {
			if a.Page == b.Page && a.XMin < b.XMax && b.XMin < a.XMax && a.YMin < b.YMax && b.YMin < a.YMax {
				t.Errorf("page %d: %q and %q overlap", a.Page, a.Text, b.Text)
			}
		}
		if a.XMax > 210/25.4*72 {
			t.Errorf("page %d: %q runs off the page", a.Page, a.Text)
		}
	}
}

// TestHeaderNameNeverRunsOverTheRule: a name too long for two lines of the
// header at its smallest size ran a third line over the rule below it; it
// is cut with an ellipsis there (the body prints it whole).
func TestHeaderNameNeverRunsOverTheRule(t *testing.T) {
	for _, first := range []string{"Ó'Brien", "Łukasiewicz"} { // the core font, and the embedded one
		var report map[string]any
		if err := json.Unmarshal(fixtures.Report("panel-brca2"), &report); err != nil {
			t.Fatal(err)
		}
		report["patient"].(map[string]any)["name"].(map[string]any)["family"] = first + " " + strings.Repeat("Featherstonehaugh-Cholmondeley ", 12) + "Marjoribanks"
		body, _ := json.Marshal(report)
		_, doc := render(t, body)
		rule := 23 / 25.4 * 72 // the line under the header, in points from the top
		ellipsis, named := false, false
		for _, b := range peers.PDFWords(t, doc) {
			if b.Page == 1 && b.YMin < rule {
				ellipsis = ellipsis || strings.HasSuffix(b.Text, "…")
				named = named || b.Text == first
				if b.YMax > rule {
					t.Errorf("%s: %q runs over the header's rule (%.1f > %.1f)", first, b.Text, b.YMax, rule)
				}
			}
		}
		if !ellipsis || !named {
			t.Errorf("%s: the header's cut name does not start as written (%v) or end with an ellipsis (%v)", first, named, ellipsis)
		}
		if !strings.Contains(space.ReplaceAllString(pdfText(t, doc), " "), "Featherstonehaugh-Cholmondeley Marjoribanks") {
			t.Errorf("%s: the name is not printed whole anywhere", first)
		}
	}
}

// TestHeaderWordWiderThanTheRow: a word wider than the header's row (no
// space to wrap it at) is broken at the edge and counted in the two lines:
// MultiCell broke it into a third, over the rule. So is a name holding line
// breaks (validation lets them through): each made a line of its own.
func TestHeaderWordWiderThanTheRow(t *testing.T) {
	for _, first := range []string{"Ó'Brien", "Łukasiewicz"} { // the core font, and the embedded one
		for _, family := range []string{strings.Repeat("m", 70) + " Smith Jones", strings.Repeat("m", 58) + " Smith Jones", "Smith " + strings.Repeat("m", 200), strings.Repeat("Featherstonehaugh\n", 8) + "Smith"} {
			var report map[string]any
			if err := json.Unmarshal(fixtures.Report("panel-brca2"), &report); err != nil {
				t.Fatal(err)
			}
			report["patient"].(map[string]any)["name"].(map[string]any)["family"] = first + " " + family
			body, _ := json.Marshal(report)
			_, doc := render(t, body)
			rule := 23 / 25.4 * 72
			for _, b := range peers.PDFWords(t, doc) {
				if b.Page == 1 && b.YMin < rule && b.YMax > rule {
					t.Errorf("%s %.12s...: %q runs over the header's rule (%.1f > %.1f)", first, family, b.Text, b.YMax, rule)
				}
			}
		}
	}
}

// TestLongReportIDStaysOnThePage: a valid report id of 64 wide letters
// made the header's right-hand identifiers wider than the page.
func TestLongReportIDStaysOnThePage(t *testing.T) {
	var report map[string]any
	if err := json.Unmarshal(fixtures.Report("panel-brca2"), &report); err != nil {
		t.Fatal(err)
	}
	report["id"] = strings.Repeat("W", 64)
	body, _ := json.Marshal(report)
	_, doc := render(t, body)
	found := false
	for _, b := range peers.PDFWords(t, doc) {
		found = found || b.Text == strings.Repeat("W", 64)
		if b.XMin < 0 || b.XMax > 210/25.4*72 {
			t.Errorf("page %d: %q runs off the page (%.0f-%.0f pt)", b.Page, b.Text, b.XMin, b.XMax)
		}
	}
	if !found {
		t.Error("the report id is not printed whole")
	}
}
