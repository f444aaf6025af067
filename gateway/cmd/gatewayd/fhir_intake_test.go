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

// Every published Bundle and DiagnosticReport in ../shared/data (NHS
// England's genomics IG, the Genomics Reporting IG, FHIR R4's examples and
// the FHIR made from HL7 v2 by Whistle and Microsoft's converter) is
// accepted, or refused with its documented reason (README, "FHIR intake").
func TestFHIRIntakeOfPublishedExamples(t *testing.T) {
	data := peers.DataDir(t)
	base := startGateway(t)
	type answer struct {
		status int
		reason string
	}
	order := answer{422, "it is an order"}
	notReport := answer{422, "holds no DiagnosticReport"}
	answerBundle := answer{422, "Bundle is an answer or a listing"}
	otherLab := answer{403, "performed by laboratory"}
	noPatient := answer{422, "does not identify the patient"}
	patientOutside := answer{422, "the patient is not in the Bundle"}
	several := answer{422, "post one report per Bundle"}
	want := map[string]answer{
		"nhse-genomics-ig/Bundle/Bundle-NonWGSTestOrderForm-CancerSolidTumor-Example.json":     order,
		"nhse-genomics-ig/Bundle/Bundle-NonWGSTestOrderForm-Example.json":                      order,
		"nhse-genomics-ig/Bundle/Bundle-NonWGSTestOrderForm-FetalScenario-Example.json":        {400, "Observation.subject.identifier"}, // an identifier written as a list
		"nhse-genomics-ig/Bundle/Bundle-NonWGSTestOrderForm-Reanalysis-Example.json":           order,
		"nhse-genomics-ig/Bundle/Bundle-NonWGSTestOrderFormUpdated-FetalScenario-Example.json": order,
		"nhse-genomics-ig/Bundle/Bundle-Searchset-Example.json":                                answerBundle,
		"nhse-genomics-ig/Bundle/Bundle-TransactionResponseError-Example.json":                 answerBundle,
		"nhse-genomics-ig/Bundle/Bundle-TransactionResponseSuccess-Example.json":               answerBundle,
		"nhse-genomics-ig/Bundle/Bundle-WGSRoD-Example.json":                                   notReport,
		"nhse-genomics-ig/Bundle/Bundle-WGSTestOrderForm-Example.json":                         order,
		"nhse-genomics-ig/Bundle/UKCore-Bundle-MichaelJonesRequest-Example_minimal.json":       order,
		"nhse-genomics-ig/Bundle/UKCore-Bundle-MichaelJonesRequest-Example_v3_message.json":    order,
		"nhse-genomics-ig/Bundle/UKCore-Bundle-MichaelJonesSpecimen-Example.json":              notReport,
		// NHS England's reports point at Patients kept elsewhere, by reference only.
		"nhse-genomics-ig/DiagnosticReport/DiagnosticReport-AnitaLamberts-Example.json":                     patientOutside,
		"nhse-genomics-ig/DiagnosticReport/DiagnosticReport-FayMutlowGeneticReport-Example.json":            patientOutside,
		"nhse-genomics-ig/DiagnosticReport/DiagnosticReport-GenomicVariantAssessment-Example.json":          patientOutside,
		"nhse-genomics-ig/DiagnosticReport/DiagnosticReport-JamesMetcalfeGeneticReport-Example.json":        patientOutside,
		"nhse-genomics-ig/DiagnosticReport/DiagnosticReport-PhoebeSmithGeneticReport-Example.json":          patientOutside,
		"nhse-genomics-ig/DiagnosticReport/UKCore-DiagnosticReport-MichaelJonesReport-Example-minimal.json": {202, "accepted"},
		"nhse-genomics-ig/DiagnosticReport/UKCore-DiagnosticReport-MichaelJonesReport-Example.json":         patientOutside,
		"nhse-genomics/Bundle-TransactionResponseError-Example.json":                                        answerBundle,
		"nhse-genomics/Bundle-TransactionResponseSuccess-Example.json":                                      answerBundle,
		"nhse-genomics/Bundle-WGSTestOrderForm-Example.json":                                                order,
		"nhse-genomics/DiagnosticReport-FayMutlowGeneticReport-Example.json":                                otherLab,
		"nhse-genomics/DiagnosticReport-GenomicVariantAssessment-Example.json":                              otherLab,
		"nhse-genomics/UKCore-DiagnosticReport-MichaelJonesReport-Example.json":                             {202, "accepted"},
		// US examples: patients known by US record numbers with no assigning organisation.
		"genomics-ig/Bundle-bundle-cgexample.json":                         noPatient,
		"genomics-ig/Bundle-bundle-compound-heterozygote.json":             notReport,
		"genomics-ig/DiagnosticReport-GenomicReportExample01.json":         patientOutside,
		"fhir-r4/Bundle-101.json":                                          patientOutside,
		"fhir-r4/Bundle-bundle-response.json":                              answerBundle,
		"fhir-r4/Bundle-bundle-transaction.json":                           notReport,
		"fhir-r4/Bundle-hla-1.json":                                        patientOutside,
		"fhir-r4/Bundle-lipids.json":                                       patientOutside,
		"fhir-r4/Bundle-lri-example.json":                                  patientOutside,
		"fhir-r4/DiagnosticReport-example-pgx.json":                        patientOutside,
		"fhir-r4/DiagnosticReport-f201.json":                               patientOutside,
		"fhir-r4/DiagnosticReport-pap.json":                                patientOutside,
		"hl7v2/whistle/oru_r01_ex1.hl7.fhir.output.json":                   noPatient,
		"hl7v2/whistle/oru_r01_ex2.hl7.fhir.output.json":                   noPatient,
		"hl7v2/whistle/oru_r01_ex6.hl7.fhir.output.json":                   {400, "cannot accept multiple values for value field"}, // Whistle wrote two value[x]
		"hl7v2/ms-fhir-converter/LAB-ORU-1-expected.json":                  several,
		"hl7v2/ms-fhir-converter/LAB-ORU-2-expected.json":                  several,
		"hl7v2/ms-fhir-converter/LRI_2.0-NG_CBC_Typ_Message-expected.json": noPatient,
		"hl7v2/ms-fhir-converter/ORU-R01-01-expected.json":                 several,
		"hl7v2/ms-fhir-converter/ORU-R01-RMGEAD-expected.json":             noPatient,
	}
	seen := 0
	for _, dir := range []string{"nhse-genomics-ig/Bundle", "nhse-genomics-ig/DiagnosticReport", "nhse-genomics", "genomics-ig", "fhir-r4", "hl7v2/whistle", "hl7v2/ms-fhir-converter"} {
		files, _ := filepath.Glob(filepath.Join(data, dir, "*.json"))
		for _, file := range files {
			body, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var head struct{ ResourceType string }
			json.Unmarshal(body, &head)
			if head.ResourceType != "Bundle" && head.ResourceType != "DiagnosticReport" {
				continue
			}
			name := strings.TrimPrefix(file, data+string(filepath.Separator))
			seen++
			w, ok := want[name]
			r := postFHIR(t, base, labToken, body)
			switch {
			case !ok:
				t.Errorf("%s: no documented answer (got %d %.300s)", name, r.status, r.body)
			case r.status != w.status || !strings.Contains(string(r.body), w.reason):
				t.Errorf("%s = %d %.400s, want %d %q", name, r.status, r.body, w.status, w.reason)
			}
		}
	}
	if seen != len(want) {
		t.Errorf("%d published files read, %d documented: the table has entries for files that are gone", seen, len(want))
	}
}
