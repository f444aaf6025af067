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

// One marshal makes both the digest and the stored JSON where both are
// made from the same report: each exactly what it would be on its own
// (DigestJSON's digest, withoutPDFData's JSON), whatever else the PDF
// attachment carries; a report stating changes or naming an earlier one
// is left to the separate path.
func TestDigestAndStoredJSONFromOneMarshal(t *testing.T) {
	data := bytes.Repeat([]byte("<pdf & \"bytes\">\n\xff\x00"), 300)
	for _, pdf := range []Attachment{
		{Data: data},
		{Title: "Report", Data: data},
		{ContentType: "application/pdf", Data: data},
		{Title: "t", ContentType: "application/pdf", Data: data, URL: "https://x/y"},
		{Data: data, URL: "https://x/y"},
	} {
		pdf.Encoded = []byte(base64.StdEncoding.EncodeToString(pdf.Data))
		r := &Report{ID: "D-3", Version: 1, Status: StatusFinal, Notes: []string{"a", "data"},
			Patient: Patient{NHSNumber: "9990000018"}, Warnings: []Warning{{Path: "x", Message: "y"}}, PDF: &pdf}
		digest, stored, ok := digestAndStoredJSON(r)
		if !ok {
			t.Fatalf("%+v: the one-marshal path did not apply", pdf.Title)
		}
		wantDigest, _ := (&Intake{}).digest(r)
		wantStored, _ := withoutPDFData(r)
		if digest != wantDigest || !bytes.Equal(stored, wantStored) {
			t.Errorf("PDF %q/%q/%q: digest %v, stored JSON equal %v\n got %s\nwant %s", pdf.Title, pdf.ContentType, pdf.URL,
				digest == wantDigest, bytes.Equal(stored, wantStored), stored, wantStored)
		}
	}
	r := &Report{ID: "D-4", Changes: []Change{{}}, PDF: &Attachment{Data: data, Encoded: []byte(base64.StdEncoding.EncodeToString(data))}}
	if _, _, ok := digestAndStoredJSON(r); ok {
		t.Error("a report stating changes took the one-marshal path, though its digest leaves them out")
	}
	r.Changes, r.Previous = nil, &PreviousReport{ID: "D-0"}
	if _, _, ok := digestAndStoredJSON(r); ok {
		t.Error("a report naming an earlier one took the one-marshal path")
	}
}
