package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/gateway/boltstore"
	"github.com/nhs-genomics/results-gateway/mappers/labjson"
)

// The message log keeps every message as it was sent, with its outcome:
// a new report's entry is stored with the report (one durable step), a
// resend's and a refusal's after. JSON with the lab's PDF, FHIR, and HL7
// v2 over MLLP each go in, then again; the gateway is stopped and its
// store read directly, so what is checked is what was made durable.
func TestMessageLogKeepsEachMessageAsSent(t *testing.T) {
	dir := t.TempDir()
	base, mllp, stop := startWith(t, dir, strings.ReplaceAll(testConfig, "OUTBOX", filepath.Join(dir, "outbox")), nil, io.Discard)

	var withPDF map[string]any
	if err := json.Unmarshal(fixtures.Report("trio-wgs-denovo-positive"), &withPDF); err != nil {
		t.Fatal(err)
	}
	withPDF["id"], withPDF["pdf"] = "MSGLOG-JSON", map[string]any{"contentType": "application/pdf", "data": []byte("%PDF-1.4\n" + strings.Repeat("the lab's own report\n", 300))}
	jsonBody, _ := json.Marshal(withPDF)
	// A FHIR Bundle as a lab would send it: the one the gateway makes from
	// another report, under a new report id.
	if r := post(t, base, labToken, withID(t, fixtures.Report("panel-brca2"), "MSGLOG-SOURCE")); r.status != http.StatusAccepted {
		t.Fatalf("the FHIR report's source: %d %s", r.status, r.body)
	}
	fhirBody := bytes.ReplaceAll(get(t, base+"/v1/reports/MSGLOG-SOURCE/fhir", operatorToken).body, []byte("MSGLOG-SOURCE"), []byte("MSGLOG-FHIR"))
	oruBody := oru(t, "cnv-deletion", "MSGLOG-1", nil)
	oruReport, err := labjson.Decode(fixtures.Report("cnv-deletion"))
	if err != nil {
		t.Fatal(err)
	}
	refused := []byte(`{"id": "MSGLOG-REFUSED", "version": `) // cut short

	for round, want := range []int{http.StatusAccepted, http.StatusOK} {
		if r := post(t, base, labToken, jsonBody); r.status != want {
			t.Fatalf("JSON, round %d: %d %s", round, r.status, r.body)
		}
		if r := postFHIR(t, base, labToken, fhirBody); r.status != want {
			t.Fatalf("FHIR, round %d: %d %s", round, r.status, r.body)
		}
		if acks := mllpSend(t, mllp, oruBody, 1); acks[0].Value(acks[0].First("MSA"), 1, 0) != "AA" {
			t.Fatalf("HL7 v2, round %d: not accepted", round)
		}
	}
	if r := post(t, base, labToken, refused); r.status < 400 {
		t.Fatalf("a report without its patient: %d, want a refusal", r.status)
	}
	stop()

	store, err := boltstore.Open(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	listed, err := store.Messages(ctx, gateway.MessageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	sent := map[string][]byte{"MSGLOG-JSON": jsonBody, "MSGLOG-FHIR": fhirBody, "hl7v2-mllp": oruBody}
	got := map[string][]string{}
	for _, m := range listed {
		got[m.Source] = append(got[m.Source], m.Outcome)
		full, err := store.Message(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if m.Outcome == "refused" {
			if !bytes.Equal(full.Raw, refused) || len(full.Reasons) == 0 {
				t.Errorf("the refused report: %d bytes kept of %d, reasons %q", len(full.Raw), len(refused), full.Reasons)
			}
			continue
		}
		if m.ReportID == "MSGLOG-SOURCE" {
			continue
		}
		key := m.ReportID
		if m.Source == "hl7v2-mllp" {
			if m.ReportID != oruReport.ID {
				t.Errorf("HL7 v2 %s: report id %q, want %s", m.Outcome, m.ReportID, oruReport.ID)
			}
			key = m.Source
		}
		if want, ok := sent[key]; !ok || !bytes.Equal(full.Raw, want) {
			t.Errorf("%s %s of report %q: the log keeps %d bytes that differ from the %d sent", m.Source, m.Outcome, m.ReportID, len(full.Raw), len(want))
		}
	}
	// Newest first: each resend, then the message that created the report.
	for source, want := range map[string]string{"json": "refused resent accepted accepted", "fhir": "resent accepted", "hl7v2-mllp": "resent accepted"} {
		if strings.Join(got[source], " ") != want {
			t.Errorf("%s: outcomes %v, want %s", source, got[source], want)
		}
	}
}
