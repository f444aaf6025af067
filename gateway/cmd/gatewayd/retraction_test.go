package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/internal/peers"
)

// TestCorrectionToAnotherPatientWithdrawsItOverHL7: when a corrected
// version moves a result to another patient, the legacy EPR (the
// third-party listener) first gets the result withdrawn from the first
// patient (OBR-25 C, table 0123's correction, with every OBX-11 W: posted
// as wrong), then the corrected report on the right one.
func TestCorrectionToAnotherPatientWithdrawsItOverHL7(t *testing.T) {
	base, _, logged := hl7ListenerGateway(t)

	v1 := withID(t, fixtures.Report("negative-wgs"), "MOVED-1")
	if r := post(t, base, labToken, v1); r.status != http.StatusAccepted {
		t.Fatalf("v1 = %d %s", r.status, r.body)
	}
	var m map[string]any
	json.Unmarshal(v1, &m)
	first := m["patient"].(map[string]any)["nhsNumber"].(string)
	m["version"], m["status"] = 2, "corrected"
	m["patient"].(map[string]any)["nhsNumber"] = "9990001316"
	m["patient"].(map[string]any)["mrn"] = "MRN01316"
	v2, _ := json.Marshal(m)
	if lines := peers.WaitLogged(logged, 1); len(lines) != 1 {
		t.Fatalf("v1 did not reach the listener: %d messages", len(lines))
	}
	if r := post(t, base, labToken, v2); r.status != http.StatusAccepted {
		t.Fatalf("v2 = %d %s", r.status, r.body)
	}
	lines := peers.WaitLogged(logged, 3)
	if len(lines) != 3 {
		t.Fatalf("the listener got %d messages, want v1, the withdrawal and v2", len(lines))
	}
	patient := func(l map[string]any) string { return l["patient"].(map[string]any)["ids"].(string) }
	status := func(l map[string]any) string { return l["orders"].([]any)[0].(map[string]any)["status"].(string) }
	withdrawal, corrected := lines[1], lines[2]
	if !strings.Contains(patient(withdrawal), first) || status(withdrawal) != "C" {
		t.Fatalf("second message: patient %s status %s, want the first patient's report withdrawn (OBR-25 C)", patient(withdrawal), status(withdrawal))
	}
	for _, o := range withdrawal["observations"].([]any) {
		if s := o.(map[string]any)["status"]; s != "W" {
			t.Fatalf("a withdrawn report's OBX-11 is %v, want W", s)
		}
	}
	if !strings.Contains(patient(corrected), "9990001316") || status(corrected) != "C" {
		t.Fatalf("third message: patient %s status %s, want the corrected report on the new patient", patient(corrected), status(corrected))
	}
}

// TestCorrectionForAnotherTrustsPatientOnlyWithdraws: when the corrected
// version is another trust's patient, the first trust's legacy EPR gets the
// result withdrawn from its patient and nothing of the other patient; the
// other trust's destination gets the corrected report.
func TestCorrectionForAnotherTrustsPatientOnlyWithdraws(t *testing.T) {
	base, dir, logged := hl7ListenerGateway(t)

	v1 := withID(t, fixtures.Report("negative-wgs"), "MOVED-2")
	if r := post(t, base, labToken, v1); r.status != http.StatusAccepted {
		t.Fatalf("v1 = %d %s", r.status, r.body)
	}
	if lines := peers.WaitLogged(logged, 1); len(lines) != 1 {
		t.Fatalf("v1 did not reach the listener: %d messages", len(lines))
	}
	postMovedToRBS(t, base, v1)
	lines := peers.WaitLogged(logged, 2)
	waitDeliveriesDone(t, base, "destination=r0a-hl7", 2) // every delivery of v2 done, so nothing more is on its way
	if lines = logged(); len(lines) != 2 {
		t.Fatalf("the R0A listener got %d messages, want v1 and the withdrawal only", len(lines))
	}
	withdrawal := fmt.Sprint(lines[1])
	if strings.Contains(withdrawal, "9990001316") || !strings.Contains(withdrawal, "WITHDRAWN") {
		t.Errorf("the second message is not the withdrawal alone: %.400s", withdrawal)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "outbox", "RBS", "*")); len(files) == 0 {
		t.Error("the corrected report did not reach RBS's destination")
	}
}

// hl7ListenerGateway runs the gateway with R0A's reports also going, as
// ORU^R01 over MLLP, to the third-party listener (destination r0a-hl7),
// whose log of messages logged returns. dir is the gateway's directory.
func hl7ListenerGateway(t *testing.T) (base, dir string, logged func() []map[string]any) {
	listener, logged := peers.HL7Listener(t)
	dir = t.TempDir()
	cfg := strings.Replace(strings.ReplaceAll(testConfig, "OUTBOX", filepath.Join(dir, "outbox")), `"destinations": [`,
		`"destinations": [{"name": "r0a-hl7", "trusts": ["R0A"], "kind": "mllp", "format": "hl7v2-oru", "config": {"address": "`+listener+`"}},`, 1)
	base, _ = startWithConfig(t, dir, cfg)
	return base, dir, logged
}
