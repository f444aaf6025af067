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
	var bundle map[string]any // the same Bundle without its Patient: refused, naming its report
	if err := json.Unmarshal(bytes.ReplaceAll(fhirBody, []byte("MSGLOG-FHIR"), []byte("MSGLOG-FHIRNOPAT")), &bundle); err != nil {
		t.Fatal(err)
	}
	var kept []any
	for _, e := range bundle["entry"].([]any) {
		if e.(map[string]any)["resource"].(map[string]any)["resourceType"] != "Patient" {
			kept = append(kept, e)
		}
	}
	bundle["entry"] = kept
	fhirNoPatient, _ := json.Marshal(bundle)
	oruBody := oru(t, "cnv-deletion", "MSGLOG-1", nil)
	oruReport, err := labjson.Decode(fixtures.Report("cnv-deletion"))
	if err != nil {
		t.Fatal(err)
	}
	refused := []byte(`{"id": "MSGLOG-REFUSED", "version": `) // cut short
	// Refusals of reports that can be read are logged under the id they
	// name, with only the errors as reasons (an AE carries warnings too).
	ruleBroken := withID(t, fixtures.Report("panel-brca2"), "MSGLOG-RULE")
	ruleBroken = bytes.Replace(ruleBroken, []byte(`"status":"final"`), []byte(`"status":"finished"`), 1)
	noPatient := oru(t, "vus-inconclusive", "MSGLOG-NOPAT", func(m string) string {
		segments := strings.Split(m, "\r")
		for i, seg := range segments {
			if f := strings.Split(seg, "|"); f[0] == "PID" {
				f[3] = ""
				segments[i] = strings.Join(f, "|")
			}
		}
		// The order's trust left to MSH-6: a warning beside the error.
		return strings.ReplaceAll(strings.Join(segments, "\r"), "GMS-000103^R0A", "GMS-000103")
	})
	noPatientReport, err := labjson.Decode(fixtures.Report("vus-inconclusive"))
	if err != nil {
		t.Fatal(err)
	}

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
	if r := post(t, base, labToken, refused); r.status != http.StatusBadRequest {
		t.Fatalf("a body cut short: %d, want 400", r.status)
	}
	if r := post(t, base, labToken, ruleBroken); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("a report breaking a rule: %d, want 422", r.status)
	}
	if r := postFHIR(t, base, labToken, fhirNoPatient); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("a FHIR Bundle without its patient: %d %s, want 422", r.status, r.body)
	}
	ack := mllpSend(t, mllp, noPatient, 1)[0]
	if ack.Value(ack.First("MSA"), 1, 0) != "AE" {
		t.Fatal("HL7 v2 without the patient's identifier: not refused")
	}
	warned := false
	for _, e := range ack.Segments {
		warned = warned || e.Name() == "ERR" && ack.Value(e, 4, 0) == "W"
	}
	if !warned {
		t.Fatal("the refusal carries no warning beside its error: the test cannot tell the two apart")
	}
	// Not HL7 at all: refused, and logged like any other refusal.
	notHL7 := []byte("HELLO NOT HL7")
	if ack := mllpSend(t, mllp, notHL7, 1)[0]; ack.Value(ack.First("MSA"), 1, 0) != "AE" {
		t.Fatal("a message with no MSH over MLLP: not refused")
	}
	if r := do(t, http.MethodPost, base+"/v1/hl7v2", labToken, "application/hl7-v2+er7", notHL7); !strings.Contains(string(r.body), "MSA|AE") {
		t.Fatalf("a message with no MSH over HTTP: %d %s", r.status, r.body)
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
			want := map[string][]byte{"": refused, "MSGLOG-RULE": ruleBroken, noPatientReport.ID: noPatient, "MSGLOG-FHIRNOPAT": fhirNoPatient}[m.ReportID]
			if strings.HasPrefix(m.Source, "hl7v2") && m.ReportID == "" {
				want = notHL7
				if m.Sender == "" || m.Sender == "/" {
					t.Errorf("the %s message with no MSH names no sender", m.Source)
				}
			}
			if want == nil || !bytes.Equal(full.Raw, want) || len(full.Reasons) == 0 {
				t.Errorf("refused %s of report %q: %d bytes kept, %d sent, reasons %q", m.Source, m.ReportID, len(full.Raw), len(want), full.Reasons)
			}
			if m.Source == "hl7v2-mllp" && m.ReportID != "" && len(full.Reasons) != 1 {
				t.Errorf("the HL7 v2 refusal's reasons %q, want its one error and not the warnings", full.Reasons)
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
	for source, want := range map[string]string{"json": "refused refused resent accepted accepted", "fhir": "refused resent accepted", "hl7v2-mllp": "refused refused resent accepted", "hl7v2-http": "refused"} {
		if strings.Join(got[source], " ") != want {
			t.Errorf("%s: outcomes %v, want %s", source, got[source], want)
		}
	}
}
