package httpapi

import (
	"bytes"
	"testing"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// The message log is told where the body holds the PDF only when the
// stored PDF is the very one decoded from that body: a resend's stored
// copy, however equal, gets no place (the store then finds it itself).
func TestReadFromOnlyTheDecodedPDF(t *testing.T) {
	decoded := []byte("%PDF-1.4 the lab's report")
	lab := &gateway.Attachment{Data: decoded, DataAt: 57}
	if got := readFrom(lab, decoded); got != 57 {
		t.Errorf("the PDF decoded from the body: place %d, want 57", got)
	}
	if got := readFrom(lab, bytes.Clone(decoded)); got != 0 {
		t.Errorf("a stored copy of it: place %d, want 0", got)
	}
	if got := readFrom(nil, decoded); got != 0 {
		t.Errorf("no PDF in the body: place %d, want 0", got)
	}
	if got := readFrom(lab, nil); got != 0 {
		t.Errorf("no stored PDF: place %d, want 0", got)
	}
}
