package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/internal/peers"
)

func postFHIR(t testing.TB, base, token string, body []byte) response {
	return do(t, "POST", base+"/fhir", token, "application/fhir+json", body)
}

// A lab that writes FHIR gets the same outputs as one that sends the
// native JSON: each fixture goes into one gateway as JSON; the Bundle it
// makes goes into a second gateway as FHIR; the second stores and serves
// the same Bundle and PDF, byte for byte.
func TestFHIRIntakeGivesTheSameOutputs(t *testing.T) {
	jsonBase := startGateway(t)
	fhirBase := startGateway(t)
	for _, f := range fixtures.Reports() {
		var in struct {
			ID      string `json:"id"`
			Version int    `json:"version"`
		}
		if err := json.Unmarshal(f.Body, &in); err != nil {
			t.Fatal(err)
		}
		if r := post(t, jsonBase, labToken, f.Body); r.status != http.StatusAccepted {
			t.Fatalf("%s: JSON intake = %d %s", f.Name, r.status, r.body)
		}
		version := "?version=" + string(rune('0'+in.Version))
		bundle := get(t, jsonBase+"/v1/reports/"+in.ID+"/fhir"+version, operatorToken)
		if bundle.status != http.StatusOK {
			t.Fatalf("%s: Bundle = %d", f.Name, bundle.status)
		}
		r := postFHIR(t, fhirBase, labToken, bundle.body)
		if r.status != http.StatusAccepted || r.header.Get("Location") != "/v1/reports/"+in.ID {
			t.Fatalf("%s: FHIR intake = %d %s (Location %q)", f.Name, r.status, r.body, r.header.Get("Location"))
		}
		if !strings.Contains(string(r.body), `"resourceType":"OperationOutcome"`) || !strings.Contains(string(r.body), "accepted: report "+in.ID) {
			t.Errorf("%s: the answer does not say what was stored: %s", f.Name, r.body)
		}
		again := get(t, fhirBase+"/v1/reports/"+in.ID+"/fhir"+version, operatorToken)
		if !bytes.Equal(again.body, bundle.body) {
			t.Errorf("%s: the Bundle made from the FHIR differs from the one made from the JSON", f.Name)
		}
		pdfJSON := get(t, jsonBase+"/v1/reports/"+in.ID+"/pdf"+version, operatorToken)
		pdfFHIR := get(t, fhirBase+"/v1/reports/"+in.ID+"/pdf"+version, operatorToken)
		if pdfFHIR.status != http.StatusOK || !bytes.Equal(pdfJSON.body, pdfFHIR.body) {
			t.Errorf("%s: the PDFs differ (%d)", f.Name, pdfFHIR.status)
		}
		if r := postFHIR(t, fhirBase, labToken, bundle.body); r.status != http.StatusOK || !strings.Contains(string(r.body), "already stored") {
			t.Errorf("%s: a resend of the Bundle = %d %s, want 200", f.Name, r.status, r.body)
		}
	}
}

// What cannot be filed is refused with the reason and where in the Bundle;
// nothing is stored; the sender is who its token says.
func TestFHIRIntakeRefusals(t *testing.T) {
	base := startGateway(t)
	if r := postFHIR(t, base, labToken, []byte(`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","birthDate":12}}]}`)); r.status != http.StatusBadRequest ||
		!strings.Contains(string(r.body), "birthDate") {
		t.Errorf("not FHIR R4 = %d %s, want 400 naming the element", r.status, r.body)
	}
	if r := postFHIR(t, base, labToken, []byte(`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"ServiceRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"}}}]}`)); r.status != http.StatusUnprocessableEntity ||
		!strings.Contains(string(r.body), "it is an order") {
		t.Errorf("an order = %d %s, want 422 saying it is an order", r.status, r.body)
	}
	// A report whose patient has no NHS number: refused at the patient's place in the Bundle.
	var trio map[string]any
	json.Unmarshal(fixtures.Report("trio-wgs-denovo-positive"), &trio)
	if r := post(t, base, labToken, fixtures.Report("trio-wgs-denovo-positive")); r.status != http.StatusAccepted {
		t.Fatalf("JSON intake = %d", r.status)
	}
	bundle := get(t, base+"/v1/reports/NWGLH-2026-000101/fhir", operatorToken).body
	noPatient := bytes.Replace(bundle, []byte(`"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9990000018"`), []byte(`"system":"https://example.org/unknown","value":"X"`), 1)
	noPatient = bytes.Replace(noPatient, []byte(`"value":"NWGLH-2026-000101"`), []byte(`"value":"FHIR-NO-PATIENT"`), -1)
	noPatient = bytes.Replace(noPatient, []byte(`/Id/mrn/`), []byte(`/Id/other/`), -1)
	noPatient = bytes.Replace(noPatient, []byte(`"code":"MR"`), []byte(`"code":"XX"`), -1)
	r := postFHIR(t, base, labToken, noPatient)
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), `"expression":["Bundle.entry[`) || !strings.Contains(string(r.body), "patient") {
		t.Errorf("no patient identity = %d %s, want 422 located in the Bundle", r.status, r.body)
	}
	if g := get(t, base+"/v1/reports/FHIR-NO-PATIENT", operatorToken); g.status != http.StatusNotFound {
		t.Errorf("a refused Bundle left a report behind: %d", g.status)
	}
	other := bytes.Replace(bundle, []byte(`"value":"NWGLH-2026-000101"`), []byte(`"value":"FHIR-OTHER-LAB"`), -1)
	if r := postFHIR(t, base, otherLabToken, other); r.status != http.StatusForbidden {
		t.Errorf("another lab's report = %d, want 403", r.status)
	}
	if r := postFHIR(t, base, trustToken, other); r.status != http.StatusForbidden {
		t.Errorf("a trust posting a report = %d, want 403", r.status)
	}
	if r := do(t, "POST", base+"/fhir", labToken, "text/plain", bundle); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain = %d, want 415", r.status)
	}
}

// NHS England's and the Genomics IG's published Bundles and reports are
// accepted, or refused with the documented reason.
func TestFHIRIntakeOfPublishedExamples(t *testing.T) {
	data := peers.DataDir(t)
	base := startGateway(t)
	type refusal struct {
		status int
		reason string
	}
	want := map[string]refusal{ // each file, and how it is answered
		"nhse-genomics-ig/Bundle/Bundle-WGSTestOrderForm-Example.json":    {422, "it is an order"},
		"nhse-genomics-ig/Bundle/Bundle-NonWGSTestOrderForm-Example.json": {422, "it is an order"},
		// NHS England's report names its performer (R0A) and nothing else:
		// no lab but that one may file it.
		"nhse-genomics-ig/DiagnosticReport/DiagnosticReport-PhoebeSmithGeneticReport-Example.json": {403, "performed by laboratory"},
		// US examples: a patient known only by a US MRN, with no assigning organisation.
		"genomics-ig/Bundle-bundle-cgexample.json": {422, "does not identify the patient"},
		"fhir-r4/Bundle-lri-example.json":          {422, "does not identify the patient"},
	}
	for file, reason := range want {
		body, err := os.ReadFile(filepath.Join(data, file))
		if err != nil {
			t.Fatal(err)
		}
		r := postFHIR(t, base, labToken, body)
		t.Logf("%s: %d %s", file, r.status, r.body)
		if r.status != reason.status || !strings.Contains(string(r.body), reason.reason) {
			t.Errorf("%s = %d %s, want %d %q", file, r.status, r.body, reason.status, reason.reason)
		}
	}
}
