package peers

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// PDFText extracts a PDF's text as UTF-8 with pdftotext, as a reader's
// copy-and-paste would see it (Debian's poppler-utils; .ci/run installs
// it). Pages are separated by form feeds.
func PDFText(t testing.TB, doc []byte) string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Fatalf("pdftotext is needed (apt-get install poppler-utils): %v", err)
	}
	path := filepath.Join(t.TempDir(), "report.pdf")
	if err := os.WriteFile(path, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-enc", "UTF-8", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}
