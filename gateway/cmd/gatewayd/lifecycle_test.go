package main

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/internal/peers"
)

// lifecycleConfig: R0A orders, the GP practice A81001 is copied in. The
// first configuration routes R0A to r0a-old; the second re-routes R0A to
// r0a-new and leaves r0a-old serving another trust.
func lifecycleConfig(dir string, rerouted bool) string {
	r0aOld, r0aNew := `"R0A"`, `"RXX"`
	if rerouted {
		r0aOld, r0aNew = `"RXX"`, `"R0A"`
	}
	dest := func(name, trust, format string) string {
		return fmt.Sprintf(`{"name": %q, "trusts": [%s], "kind": "filedrop", "format": %q, "config": {"dir": %q}}`,
			name, trust, format, filepath.Join(dir, "outbox", name))
	}
	return `{
  "addr": "127.0.0.1:0",
  "tokens": [
    {"name": "lab", "token": "test-lab-token-1", "role": "lab", "odsCode": "699X0"},
    {"name": "trust", "token": "test-trust-token-1", "role": "trust", "odsCode": "R0A"},
    {"name": "other-trust", "token": "test-trust-token-2", "role": "trust", "odsCode": "RBS"},
    {"name": "gp", "token": "test-gp-token", "role": "trust", "odsCode": "A81001"},
    {"name": "operator", "token": "test-operator-token", "role": "operator"}
  ],
  "destinations": [` + strings.Join([]string{
		dest("r0a-old", r0aOld, "fhir-bundle"), dest("r0a-old-pdf", r0aOld, "pdf"),
		dest("r0a-new", r0aNew, "fhir-bundle"), dest("gp-files", `"A81001"`, "fhir-bundle"), dest("gp-pdf", `"A81001"`, "pdf"),
	}, ",\n") + `],
  "retry": {"baseSeconds": 0.05, "capSeconds": 1},
  "alerts": {"checkSeconds": 1, "acknowledgeWithinDays": 0.00005, "acknowledgeScanMinutes": 0.005}
}`
}

// recipientsOf is the journey's recipient states, by ODS code.
func recipientsOf(t *testing.T, base, id string) map[string]map[string]any {
	t.Helper()
	r := get(t, base+"/v1/reports/"+id+"/journey", operatorToken)
	var j struct {
		Recipients []map[string]any `json:"recipients"`
	}
	if err := json.Unmarshal(r.body, &j); err != nil {
		t.Fatalf("journey: %d %s", r.status, r.body)
	}
	out := map[string]map[string]any{}
	for _, rc := range j.Recipients {
		out[rc["odsCode"].(string)] = rc
	}
	return out
}

// waitDelivered waits (a bounded loop) until each recipient has accepted the report.
func waitDelivered(t *testing.T, base, id string, recipients ...string) map[string]map[string]any {
	t.Helper()
	for i := 0; ; i++ {
		states := recipientsOf(t, base, id)
		done := true
		for _, r := range recipients {
			if states[r] == nil || states[r]["delivered"] == nil {
				done = false
			}
		}
		if done {
			return states
		}
		if i > 800 {
			t.Fatalf("%s not delivered to %v: %v", id, recipients, states)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// TestResultLifecycle: a VUS goes to R0A and is copied to a GP practice;
// R0A is then routed elsewhere; a linked re-interpretation reclassifies the
// variant as likely pathogenic. It reaches the GP, R0A's new destination
// and the destination that had the VUS, with the change stated in the FHIR
// and at the top of the PDF; each recipient's acknowledgement state is
// visible; the one that never acknowledges raises one alert. On both stores.
func TestResultLifecycle(t *testing.T) {
	for _, store := range []string{"embedded", "redis"} {
		t.Run(store, func(t *testing.T) {
			env := map[string]string{}
			for _, kv := range storeEnv(t, store) {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
			dir := t.TempDir()
			logs := &lockedBuffer{}
			base, _, stop := startWith(t, dir, lifecycleConfig(dir, false), env, logs)
			const vus, reinterpreted = "NWGLH-2026-000103", "NWGLH-2026-000111"
			if r := post(t, base, labToken, fixtures.Report("vus-inconclusive")); r.status != http.StatusAccepted {
				t.Fatalf("VUS: %d %s", r.status, r.body)
			}
			waitDelivered(t, base, vus, "R0A", "A81001")
			stop()

			base, _, _ = startWith(t, dir, lifecycleConfig(dir, true), env, logs)
			if r := post(t, base, labToken, fixtures.Report("reinterpretation-likely-pathogenic")); r.status != http.StatusAccepted {
				t.Fatalf("re-interpretation: %d %s", r.status, r.body)
			}
			states := waitDelivered(t, base, reinterpreted, "R0A", "A81001")
			want := "Reclassified: NM_001165963.4:c.2589+3A>G from uncertain significance (VUS) to likely pathogenic on 2026-11-30"
			for _, dest := range []string{"r0a-new", "r0a-old", "gp-files"} { // R0A's new route, the one that had the VUS, the GP
				file := filepath.Join(dir, "outbox", dest, reinterpreted+"_v1.fhir.json")
				var bundle []byte
				for i := 0; i < 800 && bundle == nil; i++ {
					bundle, _ = os.ReadFile(file)
					time.Sleep(25 * time.Millisecond)
				}
				if !strings.Contains(diagnosticReport(t, bundle)["conclusion"].(string), want) {
					t.Errorf("%s: the DiagnosticReport's conclusion does not state the change", dest)
				}
			}
			for _, dest := range []string{"gp-pdf", "r0a-old-pdf"} {
				var pdf []byte
				for i := 0; i < 800 && pdf == nil; i++ {
					pdf, _ = os.ReadFile(filepath.Join(dir, "outbox", dest, reinterpreted+"_v1.pdf"))
					time.Sleep(25 * time.Millisecond)
				}
				text := strings.Join(strings.Fields(peers.PDFText(t, pdf)), " ")
				if !strings.Contains(text, want) {
					t.Errorf("%s: the PDF does not state the change: %.400s", dest, text)
				}
			}
			var dests []string
			for _, d := range states["R0A"]["destinations"].([]any) {
				dests = append(dests, d.(string))
			}
			if sort.Strings(dests); strings.Join(dests, ",") != "r0a-new,r0a-old,r0a-old-pdf" {
				t.Errorf("R0A's destinations %v: want its new route and the ones that had the VUS", dests)
			}
			// The copy-to GP may read the report; another trust may not.
			if r := get(t, base+"/v1/reports/"+reinterpreted, "test-gp-token"); r.status != http.StatusOK {
				t.Errorf("the GP reading its copy = %d", r.status)
			}
			if r := get(t, base+"/v1/reports/"+reinterpreted, otherTrustToken); r.status != http.StatusNotFound {
				t.Errorf("another trust reading it = %d, want 404", r.status)
			}
			// The pull API lists it for the GP too (its copies are indexed under it), not for another trust.
			if r := get(t, base+"/fhir/DiagnosticReport?_count=50", "test-gp-token"); !strings.Contains(string(r.body), reinterpreted) {
				t.Errorf("the GP's search does not list its copy: %d %.300s", r.status, r.body)
			}
			if r := get(t, base+"/fhir/DiagnosticReport?_count=50", otherTrustToken); strings.Contains(string(r.body), reinterpreted) {
				t.Errorf("another trust's search lists the report")
			}
			// The VUS report leads to its re-interpretation.
			if j := get(t, base+"/v1/reports/"+vus+"/journey", operatorToken); !strings.Contains(string(j.body), "followed-by report "+reinterpreted) {
				t.Errorf("the VUS report's journey does not lead to the re-interpretation: %s", j.body)
			}
			// The console links the two reports and states the change.
			page := html.UnescapeString(consolePage(t, base, "/console/reports/"+reinterpreted))
			for _, want := range []string{`id="follows"><a href="/console/reports/` + vus + `?version=1">`, want, `data-recipient="A81001"`} {
				if !strings.Contains(page, want) {
					t.Errorf("the console's report page lacks %q", want)
				}
			}
			if page := consolePage(t, base, "/console/reports/"+vus); !strings.Contains(page, `id="followed-by"><a href="/console/reports/`+reinterpreted+`">`) {
				t.Errorf("the VUS report's console page does not lead to its re-interpretation")
			}
			// The GP's system files it; R0A's clinician acknowledges it.
			if r := get(t, base+"/v1/reports/"+reinterpreted+"/fhir", "test-gp-token"); r.status != http.StatusOK {
				t.Fatalf("GP fetching the Bundle = %d", r.status)
			}
			ack := do(t, "POST", base+"/v1/reports/"+reinterpreted+"/acknowledgements", trustToken, "application/json", []byte(`{"by": "Dr A Clinician"}`))
			if ack.status != http.StatusCreated {
				t.Fatalf("acknowledgement = %d %s", ack.status, ack.body)
			}
			if again := do(t, "POST", base+"/v1/reports/"+reinterpreted+"/acknowledgements", trustToken, "application/json", []byte(`{"by": "Dr A Clinician"}`)); again.status != http.StatusOK {
				t.Errorf("a second acknowledgement = %d, want 200", again.status)
			}
			if r := do(t, "POST", base+"/v1/reports/"+reinterpreted+"/acknowledgements", otherTrustToken, "application/json", []byte(`{"by": "X"}`)); r.status != http.StatusNotFound {
				t.Errorf("a trust that is not a recipient acknowledging = %d, want 404", r.status)
			}
			states = recipientsOf(t, base, reinterpreted)
			if states["R0A"]["acknowledgedBy"] != "Dr A Clinician" || states["A81001"]["acknowledged"] != nil || states["A81001"]["filed"] == nil {
				t.Errorf("recipient states: %v", states)
			}
			// The GP never acknowledges: its alert is raised (once: the
			// monitor's own test drives the scans with a clock); R0A's, if it
			// was raised before the acknowledgement, is resolved.
			gpKey := `"alert_key":"unacknowledged/` + reinterpreted + `/A81001","resolved":false`
			r0a := `"alert_key":"unacknowledged/` + reinterpreted + `/R0A"`
			for i := 0; ; i++ {
				l := logs.String()
				if strings.Contains(l, gpKey) && strings.Count(l, r0a+`,"resolved":false`) == strings.Count(l, r0a+`,"resolved":true`) {
					break
				}
				if i > 1200 {
					t.Fatalf("want the GP's alert raised and R0A's closed; log:\n%s", l)
				}
				time.Sleep(25 * time.Millisecond)
			}
			if n := strings.Count(logs.String(), gpKey); n != 1 {
				t.Errorf("the GP's alert was raised %d times, want once", n)
			}
		})
	}
}

// consolePage logs in as the operator and returns a console page's HTML.
func consolePage(t *testing.T, base, path string) string {
	t.Helper()
	resp := consoleLogin(t, base, base)
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	for _, c := range resp.Cookies() {
		req.AddCookie(c)
	}
	page, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer page.Body.Close()
	body, _ := io.ReadAll(page.Body)
	if page.StatusCode != http.StatusOK {
		t.Fatalf("%s = %d", path, page.StatusCode)
	}
	return string(body)
}

// A re-interpretation of a report the gateway never stored is filed
// unlinked, and the console says so rather than showing a link to it.
func TestConsoleShowsAnUnlinkedPreviousAsNotLinked(t *testing.T) {
	base := startGateway(t)
	body := fixtures.Report("reinterpretation-likely-pathogenic")
	var r struct {
		ID       string `json:"id"`
		Previous struct {
			ID string `json:"id"`
		} `json:"previous"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Previous.ID == "" {
		t.Fatalf("the fixture names no previous report: %v", err)
	}
	if resp := post(t, base, labToken, body); resp.status != http.StatusAccepted {
		t.Fatalf("post = %d %s", resp.status, resp.body)
	}
	page := html.UnescapeString(consolePage(t, base, "/console/reports/"+r.ID))
	if strings.Contains(page, `href="/console/reports/`+r.Previous.ID) || strings.Contains(page, "<th>Follows</th>") {
		t.Error("the console links the report to one it was not linked to")
	}
	if !strings.Contains(page, "not linked: report "+r.Previous.ID+" is not stored here") {
		t.Errorf("the console does not say the report is unlinked, and why")
	}
}
