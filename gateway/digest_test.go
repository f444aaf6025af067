package gateway

import (
	"bytes"
	"encoding/base64"
	"testing"
)

// The digest made around a PDF's received base64 is DigestJSON's, to the
// bit: stored digests must still recognise resends.
func TestDigestAroundPDFIsDigestJSON(t *testing.T) {
	data := bytes.Repeat([]byte("<pdf & \"bytes\">\n\xff\x00"), 700)
	for _, size := range []int{1, 2, 3, 100, len(data)} {
		r := &Report{ID: "D-1", Version: 2, Status: StatusFinal, Patient: Patient{NHSNumber: "9990000018", Name: Name{Family: "Zoë"}},
			Notes: []string{"text & <markup> \u2028"}, PDF: &Attachment{Title: "t", ContentType: "application/pdf", Data: data[:size]}}
		r.PDF.Encoded = []byte(base64.StdEncoding.EncodeToString(r.PDF.Data))
		want, err := DigestJSON(r)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := digestAroundPDF(r)
		if !ok || got != want {
			t.Fatalf("%d bytes: %s %v, want %s", size, got, ok, want)
		}
	}
	// Where it cannot be sure, it does not apply: DigestJSON is used.
	r := &Report{ID: "D-2", PDF: &Attachment{Data: data}}
	r.PDF.Encoded = []byte(base64.StdEncoding.EncodeToString(data))
	r.Notes = []string{base64.StdEncoding.EncodeToString(pdfStandIn)} // the stand-in, twice
	if _, ok := digestAroundPDF(r); ok {
		t.Error("the stand-in appears twice, yet the digest was made around it")
	}
	r.Notes, r.PDF.Encoded = nil, r.PDF.Encoded[4:]
	if _, ok := digestAroundPDF(r); ok {
		t.Error("Encoded is not the PDF's base64 (its length), yet it was hashed")
	}
}

// Encoded is trusted only while it still looks like Data's base64: a PDF
// changed without clearing it is encoded afresh, not written stale.
func TestEncodedIsData(t *testing.T) {
	for _, size := range []int{1, 2, 3, 4, 44, 45, 46, 1000} {
		data := bytes.Repeat([]byte{0xfa, 0x01, 0x7e}, size)[:size]
		a := &Attachment{Data: data, Encoded: []byte(base64.StdEncoding.EncodeToString(data))}
		if !a.EncodedIsData() {
			t.Fatalf("%d bytes: the PDF's own base64 was not recognised", size)
		}
		changed := bytes.Clone(data)
		changed[0] ^= 0xff
		if (&Attachment{Data: changed, Encoded: a.Encoded}).EncodedIsData() {
			t.Errorf("%d bytes: a PDF changed at its start kept its old base64", size)
		}
		changed = bytes.Clone(data)
		changed[len(changed)-1] ^= 0xff
		if (&Attachment{Data: changed, Encoded: a.Encoded}).EncodedIsData() {
			t.Errorf("%d bytes: a PDF changed at its end kept its old base64", size)
		}
	}
	if (*Attachment)(nil).EncodedIsData() || (&Attachment{}).EncodedIsData() {
		t.Error("no PDF has no base64")
	}
}
