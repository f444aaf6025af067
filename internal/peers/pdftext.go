package peers

import (
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// PDFText extracts a PDF's text as UTF-8 with pdftotext, as a reader's
// copy-and-paste would see it (Debian's poppler-utils; .ci/run installs
// it). Pages are separated by form feeds.
func PDFText(t testing.TB, doc []byte) string {
	t.Helper()
	return string(pdftotext(t, doc))
}

// pdftotext runs pdftotext over doc, with args before its file, to stdout.
func pdftotext(t testing.TB, doc []byte, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Fatalf("pdftotext is needed (apt-get install poppler-utils): %v", err)
	}
	path := filepath.Join(t.TempDir(), "report.pdf")
	if err := os.WriteFile(path, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, append(append(args, "-enc", "UTF-8"), path, "-")...).Output()
	if err != nil {
		t.Fatalf("pdftotext %v: %v", args, err)
	}
	return out
}

// Box is one word of a PDF as pdftotext -bbox finds it, in points from the
// page's top left.
type Box struct {
	Page                   int
	Text                   string
	XMin, YMin, XMax, YMax float64
}

var (
	bboxPage = regexp.MustCompile(`<page `)
	bboxWord = regexp.MustCompile(`<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>`)
)

// PDFWords is every word of doc with its page and box, for layout checks
// (words that overlap, or run off the page).
func PDFWords(t testing.TB, doc []byte) []Box {
	t.Helper()
	out := pdftotext(t, doc, "-bbox")
	var boxes []Box
	for i, page := range bboxPage.Split(string(out), -1)[1:] {
		for _, m := range bboxWord.FindAllStringSubmatch(page, -1) {
			b := Box{Page: i + 1, Text: html.UnescapeString(m[5])}
			b.XMin, _ = strconv.ParseFloat(m[1], 64)
			b.YMin, _ = strconv.ParseFloat(m[2], 64)
			b.XMax, _ = strconv.ParseFloat(m[3], 64)
			b.YMax, _ = strconv.ParseFloat(m[4], 64)
			boxes = append(boxes, b)
		}
	}
	return boxes
}
