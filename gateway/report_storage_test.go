package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/gateway/boltstore"
	"github.com/nhs-genomics/results-gateway/gateway/pdf"
	"github.com/nhs-genomics/results-gateway/mappers/fhirr4"
	"github.com/nhs-genomics/results-gateway/mappers/labjson"
)

type oneRoute struct{}

func (oneRoute) Routes(string) []gateway.Route {
	return []gateway.Route{{Destination: "epr", Format: gateway.FormatFHIRBundle}}
}

// A lab's own PDF is stored once, as the record's PDF, not again inside
// the stored report; DecodeReport puts it back.
func TestLabPDFStoredOnce(t *testing.T) {
	store, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	mapper, _ := fhirr4.New("")
	in := &gateway.Intake{Reports: store, Held: store, Router: oneRoute{}, Bundles: mapper, Renderer: pdf.Renderer{},
		Now: func() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) }, Log: slog.New(slog.DiscardHandler)}
	r, err := labjson.Decode(fixtures.Report("trio-wgs-denovo-positive"))
	if err != nil {
		t.Fatal(err)
	}
	labPDF := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("lab's own report "), 400)...)
	r.PDF = &gateway.Attachment{ContentType: "application/pdf", Title: "From the lab", Data: labPDF}
	if _, _, err := in.Accept(context.Background(), gateway.Principal{Role: gateway.RoleLab, ODSCode: r.PerformingLab.ODSCode}, r, gateway.Submission{Source: "json"}); err != nil {
		t.Fatal(err)
	}
	rec, err := store.ReportVersion(context.Background(), r.ID, r.Version)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rec.PDF, labPDF) || bytes.Contains(rec.Report, []byte(base64.StdEncoding.EncodeToString(labPDF[:300]))) {
		t.Fatalf("the PDF: record %d bytes; inside the stored report: %v", len(rec.PDF), bytes.Contains(rec.Report, []byte(base64.StdEncoding.EncodeToString(labPDF[:300]))))
	}
	back, err := rec.DecodeReport()
	if err != nil || back.PDF == nil || !bytes.Equal(back.PDF.Data, labPDF) || back.PDF.Title != "From the lab" {
		t.Fatalf("decoded: %+v %v", back.PDF, err)
	}
	// A resend is still recognised as one (the digest covers the PDF).
	again, _ := labjson.Decode(fixtures.Report("trio-wgs-denovo-positive"))
	again.PDF = &gateway.Attachment{ContentType: "application/pdf", Title: "From the lab", Data: labPDF}
	if _, created, err := in.Accept(context.Background(), gateway.Principal{Role: gateway.RoleLab, ODSCode: r.PerformingLab.ODSCode}, again, gateway.Submission{Source: "json"}); err != nil || created {
		t.Fatalf("resend: created=%v %v", created, err)
	}
}

// The digest is json.Marshal's bytes' SHA-256, exactly: stored digests of
// every report ever filed must still recognise its resends.
func TestDigestIsMarshalsSHA256(t *testing.T) {
	for _, f := range fixtures.Reports() {
		r, err := labjson.Decode(f.Body)
		if err != nil {
			t.Fatal(err)
		}
		r.PDF = &gateway.Attachment{ContentType: "application/pdf", Data: bytes.Repeat([]byte("<pdf & \"bytes\">\n"), 500)}
		b, _ := json.Marshal(r)
		sum := sha256.Sum256(b)
		if got, err := gateway.DigestJSON(r); err != nil || got != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: %s %v, want %x", f.Name, got, err, sum)
		}
	}
}

// Every fixture, with a lab's PDF read from JSON: the one-marshal digest
// and stored JSON are what DigestJSON and withoutPDFData make.
func TestOneMarshalOnEveryFixture(t *testing.T) {
	pdf := bytes.Repeat([]byte("%PDF-1.4 \x00\xff"), 400)
	applied := 0
	for _, f := range fixtures.Reports() {
		var doc map[string]any
		if err := json.Unmarshal(f.Body, &doc); err != nil {
			t.Fatal(err)
		}
		doc["pdf"] = map[string]any{"contentType": "application/pdf", "data": pdf}
		body, _ := json.Marshal(doc)
		r, err := labjson.Decode(body)
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		digest, stored, ok := gateway.DigestAndStoredJSON(r)
		if !ok {
			continue // it states changes or names an earlier report
		}
		applied++
		wantStored, _ := gateway.WithoutPDFData(r)
		wantDigest, _ := gateway.DigestJSON(r)
		if digest != wantDigest || !bytes.Equal(stored, wantStored) {
			t.Errorf("%s: digest equal %v, stored JSON equal %v", f.Name, digest == wantDigest, bytes.Equal(stored, wantStored))
		}
	}
	if applied < len(fixtures.Reports())/2 {
		t.Fatalf("the one-marshal path applied to only %d fixtures", applied)
	}
}
