// Package pdf renders a gateway.Report as a readable PDF with gofpdf: the
// result first, then the variants, interpretation, limitations and sign-off,
// with the lab and patient identifiers and "page X of Y" on every page.
package pdf

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/jung-kurt/gofpdf"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// Renderer renders reports. It is stateless and safe for concurrent use.
type Renderer struct{}

var _ gateway.Renderer = Renderer{}

const (
	pageWidth  = 210.0
	margin     = 15.0
	contentW   = pageWidth - 2*margin
	lineH      = 5.0
	labelW     = 45.0 // the label column of a field
	totalPages = "{nb}"
)

// Render returns the PDF bytes. The same report always renders the same bytes
// (the creation date is the report's issue time), so resends stay idempotent.
func (Renderer) Render(r *gateway.Report) ([]byte, []gateway.Warning, error) {
	f := gofpdf.New("P", "mm", "A4", "")
	f.SetCompression(false) // zlib is most of gofpdf's cost; reports are small anyway
	f.SetCatalogSort(true)  // fonts are kept in a map: sort them so the bytes never vary
	issued, _ := time.Parse(time.RFC3339, r.Issued)
	f.SetCreationDate(issued)
	f.SetModificationDate(issued)
	kind := "Genomic test report "
	if !r.IsGenomic() {
		kind = "Laboratory report "
	}
	f.SetTitle(kind+r.ID+" version "+fmt.Sprint(r.Version), true)
	f.SetAuthor(r.PerformingLab.Name, true)
	f.SetMargins(margin, 36, margin)
	f.SetAutoPageBreak(true, 20)
	f.AliasNbPages(totalPages)
	w := &writer{f: f}
	w.family, w.tr = fonts(f, r)
	if w.family == unicodeFamily { // the core font prints every Windows-1252 character: nothing to warn of
		w.unprintable = unprintableFields(r)
	}
	f.SetHeaderFunc(func() { w.header(r) })
	f.SetFooterFunc(func() { w.footer(r) })
	f.AddPage()
	w.body(r)
	var buf bytes.Buffer
	if err := f.Output(&buf); err != nil {
		return nil, nil, fmt.Errorf("render pdf for report %s: %w", r.ID, err)
	}
	var warnings []gateway.Warning
	if len(w.unprintable) > 0 {
		warnings = Unprintable(r)
	}
	return buf.Bytes(), warnings, nil
}

// writer wraps gofpdf with the few text styles the report uses. Text goes
// through printable, so every character the font has prints as written.
type writer struct {
	f           *gofpdf.Fpdf
	family      string
	tr          func(string) string
	unprintable []unprintable // fields with characters the fonts lack, said on the first page
}

func (w *writer) font(style string, size float64) { w.f.SetFont(w.family, style, size) }

func (w *writer) heading(s string) {
	w.f.Ln(3)
	w.font("B", 12)
	w.f.SetTextColor(0, 48, 135) // NHS blue
	w.f.CellFormat(contentW, 7, w.tr(s), "B", 1, "L", false, 0, "")
	w.f.SetTextColor(0, 0, 0)
	w.f.Ln(1)
}

func (w *writer) para(s string) {
	w.font("", 10)
	w.f.MultiCell(contentW, lineH, w.tr(s), "", "L", false)
}

// field prints "Label: value" with the label in bold; empty values are
// skipped. A label too wide for its column gets a line of its own, so it
// never runs into the value.
func (w *writer) field(label, value string) {
	if value == "" {
		return
	}
	w.font("B", 10)
	if w.f.GetStringWidth(w.tr(label)) > labelW-2 {
		w.f.MultiCell(contentW, lineH, w.tr(label), "", "L", false)
		w.f.SetX(margin + labelW)
	} else {
		w.f.CellFormat(labelW, lineH, w.tr(label), "", 0, "L", false, 0, "")
	}
	w.font("", 10)
	w.f.MultiCell(contentW-labelW, lineH, w.tr(value), "", "L", false)
}

func (w *writer) header(r *gateway.Report) {
	f := w.f
	f.SetTextColor(0, 0, 0) // a page break inside a coloured heading must not colour the header
	// Each row: the right-hand text at its own width, the left-hand text in
	// the rest, made smaller (and wrapped, at worst) until it fits: a long
	// lab or patient name once ran over the NHS number and date of birth,
	// and off the page.
	w.headerRow(10, 6, 13, w.tr(r.PerformingLab.Name), w.tr("Lab ODS "+r.PerformingLab.ODSCode+"  |  Report "+r.ID))
	// The name exactly as written, on every page: a clinician matches the
	// printed report to the patient by it.
	name := strings.TrimSpace(strings.Join(r.Patient.Name.Given, " ") + " " + r.Patient.Name.Family)
	w.headerRow(16, 5, 10, w.tr(name), w.tr(patientID(r.Patient)+"  |  DOB "+r.Patient.BirthDate))
	f.SetDrawColor(0, 48, 135)
	f.Line(margin, 23, pageWidth-margin, 23)
	f.SetY(26)
	if r.Status != gateway.StatusFinal {
		w.font("B", 10)
		f.SetTextColor(200, 0, 0)
		f.CellFormat(contentW, 5, w.tr(statusBanner(r)), "", 1, "C", false, 0, "")
		f.SetTextColor(0, 0, 0)
	}
	f.SetY(36)
}

// headerRow prints left (bold, at most size points) and right (9 points,
// right-aligned) on one header row at y: right whole, left in what is left
// of the width, in a smaller size if it needs one, wrapped if even the
// smallest is too wide.
func (w *writer) headerRow(y, h, size float64, left, right string) {
	const minSize, gap = 6.0, 3.0
	f := w.f
	left = strings.ReplaceAll(left, "\n", " ") // one row: a line break in a name (the body keeps it) would make a line of its own
	// The identifiers whole, smaller if they must be (a 64-character report
	// id of wide letters), leaving the name at least a fifth of the row.
	rightSize := 9.0
	for w.font("", rightSize); rightSize > minSize && f.GetStringWidth(right)+2 > contentW*0.8; {
		rightSize -= 0.5
		w.font("", rightSize)
	}
	rightW := min(f.GetStringWidth(right)+2, contentW*0.8)
	f.SetXY(pageWidth-margin-rightW, y)
	f.CellFormat(rightW, h, right, "", 0, "R", false, 0, "")
	leftW := contentW - rightW - gap
	for ; size > minSize; size -= 0.5 {
		w.font("B", size)
		if f.GetStringWidth(left)+2 <= leftW {
			break
		}
	}
	w.font("B", size)
	f.SetXY(margin, y)
	if f.GetStringWidth(left)+2 <= leftW {
		f.CellFormat(leftW, h, left, "", 0, "L", false, 0, "")
		return
	}
	// Two lines fill the row; a third would run over the rule below: the
	// words that do not fit on two give way to an ellipsis (the body's
	// "Patient" row prints the name whole). Split at spaces, measured as
	// printed: left is already in the font's encoding (Windows-1252 bytes
	// for the core font), which gofpdf's SplitText would read as UTF-8.
	// A word wider than the row (no space to wrap at) is broken where it
	// reaches the edge, as MultiCell would, but counted here, so that it
	// too makes at most two lines.
	fits := func(s string) bool { return f.GetStringWidth(s)+2 <= leftW }
	prefix := func(s, suffix string) string { // the most of s that fits with suffix, at least one character
		chars := strings.Split(s, "") // runes: the UTF-8 font's characters
		if w.family == coreFamily {
			chars = chars[:0]
			for i := range len(s) { // bytes: Windows-1252's characters
				chars = append(chars, s[i:i+1])
			}
		}
		n := len(chars)
		for n > 1 && !fits(strings.Join(chars[:n], "")+suffix) {
			n--
		}
		return strings.Join(chars[:n], "")
	}
	var lines []string
	line := ""
	for _, word := range strings.Split(left, " ") {
		next := strings.TrimPrefix(line+" "+word, " ")
		if line != "" && !fits(next) {
			lines, next = append(lines, line), word
		}
		line = next
		for !fits(line) && len(line) > 1 {
			head := prefix(line, "")
			if head == line {
				break
			}
			lines, line = append(lines, head), line[len(head):]
		}
	}
	lines = append(lines, line)
	if len(lines) > 2 {
		ellipsis := w.tr("…")
		words := strings.Split(lines[1], " ")
		for len(words) > 1 && !fits(strings.Join(words, " ")+ellipsis) {
			words = words[:len(words)-1]
		}
		lines = []string{lines[0], prefix(strings.Join(words, " "), ellipsis) + ellipsis}
	}
	f.MultiCell(leftW, h/2, strings.Join(lines, "\n"), "", "L", false)
}

func (w *writer) footer(r *gateway.Report) {
	f := w.f
	f.SetY(-15)
	f.SetTextColor(0, 0, 0)
	// The page count keeps its room; the report's line takes the rest, in
	// a smaller size if a long report id needs one.
	const pageW = 30.0
	text := w.tr(fmt.Sprintf("Report %s version %d (%s), issued %s", r.ID, r.Version, r.Status, r.Issued))
	size := 8.0
	for w.font("", size); size > 5 && f.GetStringWidth(text)+2 > contentW-pageW; {
		size -= 0.5
		w.font("", size)
	}
	f.CellFormat(contentW-pageW, 5, text, "T", 0, "L", false, 0, "")
	w.font("", 8)
	f.CellFormat(pageW, 5, fmt.Sprintf("Page %d of %s", f.PageNo(), totalPages), "T", 0, "R", false, 0, "")
}

func statusBanner(r *gateway.Report) string {
	switch r.Status {
	case gateway.StatusAmended, gateway.StatusCorrected:
		return fmt.Sprintf("%s REPORT (version %d): this replaces all earlier versions", strings.ToUpper(string(r.Status)), r.Version)
	case gateway.StatusPreliminary:
		return "PRELIMINARY REPORT: results may change"
	case gateway.StatusEnteredInError:
		return "ENTERED IN ERROR: this report must not be used"
	case gateway.StatusCancelled:
		return "CANCELLED: no result will be issued for this request"
	}
	return ""
}

// patientID is the identifier printed on every page: the national number,
// or the MRN and who issued it.
func patientID(p gateway.Patient) string {
	switch {
	case p.NHSNumber != "":
		return "NHS number " + FormatNHSNumber(p.NHSNumber)
	case p.CHINumber != "":
		return "CHI number " + FormatNHSNumber(p.CHINumber)
	case p.HCNumber != "":
		return "H&C number " + FormatNHSNumber(p.HCNumber)
	}
	return strings.TrimSpace("MRN " + p.MRN + " " + p.MRNAuthority)
}

// FormatNHSNumber writes an NHS number the way clinicians read it: 3 3 4.
func FormatNHSNumber(n string) string {
	if len(n) != 10 {
		return n
	}
	return n[:3] + " " + n[3:6] + " " + n[6:]
}
