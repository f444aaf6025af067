package pdf_test

import (
	"strings"
	"testing"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/gateway/pdf"
	"github.com/nhs-genomics/results-gateway/mappers/labjson"
)

// TestNamesPrintAsWritten: names in Polish, Welsh, Irish, Turkish, Greek
// and Cyrillic, and the symbols reports use, come out of the PDF as
// written; a character no embedded font has prints as U+FFFD and is named
// in a warning, never as a silent dot.
func TestNamesPrintAsWritten(t *testing.T) {
	for _, c := range []struct {
		given, family string
		conclusion    string
	}{
		{"Zoë", "Ó'Brien-Łukasiewicz", "Heteroplasmy ≥ 45% in blood; 12.2 µmol/L ± 0.4."},
		{"Ŵynne", "Łukasiewicz", "Ŷ ŷ ẁ ẃ ẅ ỳ: Welsh letters."},
		{"Şükrü", "Yıldırım-İnce", "Turkish ğ Ğ ş ı İ."},
		{"Σοφία", "Παπαδοπούλου", "Greek."},
		{"Анастасия", "Смирнова", "Cyrillic ё Ё."},
		{"Siobhán", "Ní Bhriain", "Irish fada: á é í ó ú."},
		{"Hương", "Nguyễn", "Vietnamese ễ ị ươ ầ."},
		{"Adébáyọ̀", "Ọláṣẹ́", "Yoruba ẹ ọ ṣ with tone marks."},
		{"Əli", "Məmmədov", "Azerbaijani ə Ə."},
	} {
		t.Run(c.family, func(t *testing.T) {
			r, err := labjson.Decode(fixtures.Report("trio-wgs-denovo-positive"))
			if err != nil {
				t.Fatal(err)
			}
			r.Patient.Name.Given, r.Patient.Name.Family, r.Result.Conclusion = []string{c.given}, c.family, c.conclusion
			doc, warnings, err := pdf.Renderer{}.Render(r)
			if err != nil {
				t.Fatal(err)
			}
			if len(warnings) != 0 {
				t.Errorf("warnings for printable text: %v", warnings)
			}
			text := pdfText(t, doc)
			pages := strings.Split(strings.TrimRight(text, "\f\n"), "\f")
			for i, page := range pages {
				if !strings.Contains(page, c.given+" "+c.family) {
					t.Errorf("page %d of %d lacks the name %q as written", i+1, len(pages), c.given+" "+c.family)
				}
			}
			if !strings.Contains(space.ReplaceAllString(text, " "), c.conclusion) {
				t.Errorf("the conclusion %q is not printed as written", c.conclusion)
			}
		})
	}

	t.Run("a character no font has is a visible mark and a warning", func(t *testing.T) {
		r, _ := labjson.Decode(fixtures.Report("negative-wgs"))
		r.Patient.Name.Given = []string{"李"}
		doc, warnings, err := pdf.Renderer{}.Render(r)
		if err != nil {
			t.Fatal(err)
		}
		if len(warnings) != 1 || warnings[0].Path != "patient.name.given[0]" || !strings.Contains(warnings[0].Message, "U+674E") {
			t.Fatalf("warnings %+v", warnings)
		}
		text := pdfText(t, doc)
		if !strings.Contains(text, "\uFFFD "+r.Patient.Name.Family) {
			t.Fatal("the missing character is not printed as U+FFFD beside the rest of the name")
		}
		// The PDF itself says so, on its first page, before the result.
		first := strings.Split(text, "\f")[0]
		notice := strings.Index(first, "Some characters cannot be shown in this PDF")
		if notice < 0 || notice > strings.Index(first, "Result") || !strings.Contains(first, "the patient's given name: U+674E") ||
			!strings.Contains(space.ReplaceAllString(first, " "), "Confirm the patient by NHS number and date of birth") {
			t.Fatalf("no notice of the unprintable name before the result on page 1:\n%s", first)
		}
	})

	// Right to left, or joined: gofpdf would print שלום backwards and
	// Arabic as unjoined letters, a plausible wrong name. They are marks
	// and warnings, as a script the font lacks is.
	t.Run("Hebrew and Arabic are marks and warnings, not letters laid out wrong", func(t *testing.T) {
		for _, name := range []string{"שלום", "مريم"} {
			r, _ := labjson.Decode(fixtures.Report("negative-wgs"))
			r.Patient.Name.Given = []string{name}
			doc, warnings, err := pdf.Renderer{}.Render(r)
			if err != nil {
				t.Fatal(err)
			}
			if len(warnings) != 1 || warnings[0].Path != "patient.name.given[0]" {
				t.Errorf("%s: warnings %+v", name, warnings)
			}
			text := pdfText(t, doc)
			if strings.ContainsAny(text, name) || !strings.Contains(text, strings.Repeat("\uFFFD", len([]rune(name)))+" "+r.Patient.Name.Family) {
				t.Errorf("%s: printed as letters, or without its marks:\n%s", name, text)
			}
		}
	})

	t.Run("a name the fonts show in full has no notice", func(t *testing.T) {
		r, _ := labjson.Decode(fixtures.Report("negative-wgs"))
		r.Patient.Name.Given = []string{"Σοφία"}
		doc, _, _ := pdf.Renderer{}.Render(r)
		if strings.Contains(pdfText(t, doc), "cannot be shown") {
			t.Fatal("a notice for a printable name")
		}
	})

	t.Run("decomposed accents are composed", func(t *testing.T) {
		r, _ := labjson.Decode(fixtures.Report("negative-wgs"))
		r.Patient.Name.Given = []string{"Zoe\u0308"} // e + combining diaeresis
		doc, warnings, _ := pdf.Renderer{}.Render(r)
		if len(warnings) != 0 || !strings.Contains(pdfText(t, doc), "Zoë") {
			t.Fatalf("NFD name: warnings %v", warnings)
		}
	})
}

func BenchmarkRenderUnicode(b *testing.B) {
	r, err := labjson.Decode(fixtures.Report("trio-wgs-denovo-positive"))
	if err != nil {
		b.Fatal(err)
	}
	r.Patient.Name.Family = "Łukasiewicz" // needs the embedded fonts
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := (pdf.Renderer{}).Render(r); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBidiControlsAreMarks: a name carrying a right-to-left override or
// mark is shown reversed (or reordered) by every bidi-aware viewer of the
// FHIR and HL7 v2, while gofpdf prints it in stored order: the PDF must not
// print it silently as if it were the name the EPR shows.
func TestBidiControlsAreMarks(t *testing.T) {
	for _, family := range []string{"Smith \u202Enosnhoj\u202C", "Smith\u200F-Jones", "Ng\u2067x\u2069"} {
		r, _ := labjson.Decode(fixtures.Report("negative-wgs"))
		r.Patient.Name.Given = []string{"Zoë Łucja"} // beyond Windows-1252: the embedded font
		r.Patient.Name.Family = family
		_, warnings, err := pdf.Renderer{}.Render(r)
		if err != nil {
			t.Fatal(err)
		}
		if len(warnings) != 1 || warnings[0].Path != "patient.name.family" {
			t.Errorf("%q: warnings %+v, want one for patient.name.family", family, warnings)
		}
	}
}
