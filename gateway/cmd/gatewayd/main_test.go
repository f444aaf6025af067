package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/fixtures"
)

// TestEndToEnd posts every fixture to a running gateway and reads the
// results back as a trust would.
func TestEndToEnd(t *testing.T) {
	base, outbox := startGatewayWithOutbox(t)
	for _, f := range fixtures.Reports() {
		var in struct {
			ID      string `json:"id"`
			Version int    `json:"version"`
			Status  string `json:"status"`
		}
		if err := json.Unmarshal(f.Body, &in); err != nil {
			t.Fatal(err)
		}
		resp := post(t, base, labToken, f.Body)
		if resp.status != http.StatusAccepted {
			t.Fatalf("%s: POST = %d %s", f.Name, resp.status, resp.body)
		}
		if loc := resp.header.Get("Location"); loc != "/v1/reports/"+in.ID {
			t.Errorf("%s: Location = %q", f.Name, loc)
		}
		got := resp.json(t)
		if got["id"] != in.ID || got["version"] != float64(in.Version) || got["status"] != in.Status {
			t.Errorf("%s: answer %v does not match the report", f.Name, got)
		}

		status := get(t, base+"/v1/reports/"+in.ID, trustToken)
		if status.status != http.StatusOK || status.json(t)["version"] != float64(in.Version) {
			t.Fatalf("%s: status = %d %s", f.Name, status.status, status.body)
		}
		bundle := get(t, base+"/v1/reports/"+in.ID+"/fhir", trustToken)
		if bundle.status != http.StatusOK || bundle.header.Get("Content-Type") != "application/fhir+json" {
			t.Fatalf("%s: fhir = %d %s", f.Name, bundle.status, bundle.header.Get("Content-Type"))
		}
		report := diagnosticReport(t, bundle.body)
		if report["status"] != in.Status || !strings.Contains(string(bundle.body), `"value":"`+in.ID+`"`) {
			t.Errorf("%s: the Bundle's DiagnosticReport does not carry the report's status and id", f.Name)
		}
		doc := get(t, base+"/v1/reports/"+in.ID+"/pdf", trustToken)
		if doc.status != http.StatusOK || !bytes.HasPrefix(doc.body, []byte("%PDF-")) {
			t.Fatalf("%s: pdf = %d", f.Name, doc.status)
		}
	}

	t.Run("amendment keeps earlier versions", func(t *testing.T) {
		status := get(t, base+"/v1/reports/NWGLH-2026-000108", trustToken).json(t)
		if status["version"] != float64(2) || status["status"] != "amended" {
			t.Fatalf("after v2 the report is %v", status)
		}
		v1 := get(t, base+"/v1/reports/NWGLH-2026-000108/fhir?version=1", trustToken)
		if v1.status != http.StatusOK || diagnosticReport(t, v1.body)["status"] != "final" {
			t.Fatalf("version 1 is no longer retrievable: %d", v1.status)
		}
		older := post(t, base, labToken, fixtures.Report("amendment-v1"))
		if older.status != http.StatusOK {
			t.Fatalf("an exact resend of v1 after v2 = %d, want 200 (already stored)", older.status)
		}
	})

	t.Run("resend is idempotent", func(t *testing.T) {
		resp := post(t, base, labToken, fixtures.Report("negative-wgs"))
		if resp.status != http.StatusOK || resp.json(t)["duplicate"] != true {
			t.Fatalf("resend = %d %s", resp.status, resp.body)
		}
		changed := bytes.Replace(fixtures.Report("negative-wgs"), []byte("No pathogenic"), []byte("No likely pathogenic"), 1)
		resp = post(t, base, labToken, changed)
		if resp.status != http.StatusConflict {
			t.Fatalf("same version with different content = %d, want 409", resp.status)
		}
		// The answer says where: the version the lab has to raise.
		issues, _ := resp.json(t)["issue"].([]any)
		if len(issues) != 1 || fmt.Sprint(issues[0].(map[string]any)["expression"]) != "[version]" ||
			!strings.Contains(fmt.Sprint(issues[0].(map[string]any)["diagnostics"]), "send a higher version") {
			t.Fatalf("the conflict's OperationOutcome: %s", resp.body)
		}
	})

	t.Run("invalid reports get located problems", func(t *testing.T) {
		want := fixtures.InvalidExpectations()
		for _, f := range fixtures.Invalid() {
			body := withIDIfJSON(t, f.Body, "INVALID-"+f.Name)
			resp := post(t, base, labToken, body)
			exp := want[f.Name]
			if resp.status != exp.Status {
				t.Errorf("%s: status %d, want %d: %s", f.Name, resp.status, exp.Status, resp.body)
				continue
			}
			if got := issueLocations(t, resp.body); strings.Join(got, ",") != strings.Join(sorted(exp.Paths), ",") {
				t.Errorf("%s: locations %v, want %v", f.Name, got, exp.Paths)
			}
			if exp.Status == 422 {
				if resp := get(t, base+"/v1/reports/INVALID-"+f.Name, operatorToken); resp.status != http.StatusNotFound {
					t.Errorf("%s: a rejected report left something behind (%d)", f.Name, resp.status)
				}
			}
		}
	})

	t.Run("transport errors", func(t *testing.T) {
		body := fixtures.Report("panel-brca2")
		if r := do(t, "POST", base+"/v1/reports", labToken, "text/plain", body); r.status != http.StatusUnsupportedMediaType {
			t.Errorf("text/plain = %d, want 415", r.status)
		}
		huge := append(bytes.Repeat([]byte(" "), 2_000_001), body...)
		if r := post(t, base, labToken, huge); r.status != http.StatusRequestEntityTooLarge {
			t.Errorf("body over the limit = %d, want 413", r.status)
		}
		if r := post(t, base, "", body); r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("no token = %d, want 401 with WWW-Authenticate", r.status)
		}
		if r := post(t, base, "not-a-real-token", body); r.status != http.StatusUnauthorized {
			t.Errorf("bad token = %d, want 401", r.status)
		}
		if r := post(t, base, trustToken, body); r.status != http.StatusForbidden {
			t.Errorf("a trust posting = %d, want 403", r.status)
		}
		if r := post(t, base, otherLabToken, withID(t, body, "OTHER-LAB-1")); r.status != http.StatusForbidden {
			t.Errorf("a lab posting another lab's report = %d, want 403", r.status)
		}
	})

	t.Run("a trust sees only its own patients", func(t *testing.T) {
		for _, path := range []string{"", "/fhir", "/pdf", "/fhir?version=1"} {
			url := base + "/v1/reports/NWGLH-2026-000101" + path
			if r := get(t, url, otherTrustToken); r.status != http.StatusNotFound {
				t.Errorf("other trust GET %s = %d, want 404", path, r.status)
			}
			if r := get(t, url, otherLabToken); r.status != http.StatusNotFound {
				t.Errorf("other lab GET %s = %d, want 404", path, r.status)
			}
			if r := get(t, url, operatorToken); r.status != http.StatusOK {
				t.Errorf("operator GET %s = %d, want 200", path, r.status)
			}
		}
		missing := get(t, base+"/v1/reports/NO-SUCH-REPORT", otherTrustToken)
		denied := get(t, base+"/v1/reports/NWGLH-2026-000101", otherTrustToken)
		if missing.status != denied.status || len(missing.body) == 0 {
			t.Error("a denied report must look exactly like a missing one")
		}
	})

	t.Run("deliveries reach the trust's destinations", func(t *testing.T) {
		var status map[string]any
		for i := 0; i < 200; i++ { // bounded wait for the dispatcher
			status = get(t, base+"/v1/reports/NWGLH-2026-000101", operatorToken).json(t)
			if allDelivered(status) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		deliveries, _ := status["deliveries"].([]any)
		if len(deliveries) != 2 || !allDelivered(status) {
			t.Fatalf("deliveries = %v", deliveries)
		}
		file := filepath.Join(outbox, "R0A", "NWGLH-2026-000101_v1.fhir.json")
		got, err := os.ReadFile(file)
		if err != nil || !bytes.Equal(got, get(t, base+"/v1/reports/NWGLH-2026-000101/fhir", operatorToken).body) {
			t.Fatalf("the delivered file is not the stored Bundle: %v", err)
		}
		pdf, err := os.ReadFile(filepath.Join(outbox, "R0A", "NWGLH-2026-000101_v1.pdf"))
		if err != nil || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
			t.Fatalf("the PDF destination got no PDF: %v", err)
		}
		counts := get(t, base+"/v1/delivery-counts", operatorToken)
		if counts.status != http.StatusOK || !strings.Contains(string(counts.body), `"r0a-files"`) {
			t.Fatalf("counts = %d %s", counts.status, counts.body)
		}
		if r := get(t, base+"/v1/deliveries?state=dead", trustToken); r.status != http.StatusForbidden {
			t.Fatalf("a trust listing deliveries = %d, want 403", r.status)
		}
		if r := get(t, base+"/v1/deliveries?state=gone", operatorToken); r.status != http.StatusUnprocessableEntity {
			t.Fatalf("an unknown state = %d, want 422", r.status)
		}
	})

	t.Run("operators pause and resume a destination", func(t *testing.T) {
		if r := do(t, "POST", base+"/v1/destinations/r0a-pdf/pause", operatorToken, "", nil); r.status != http.StatusOK {
			t.Fatalf("pause = %d %s", r.status, r.body)
		}
		if r := do(t, "POST", base+"/v1/destinations/r0a-pdf/pause", trustToken, "", nil); r.status != http.StatusForbidden {
			t.Fatalf("a trust pausing = %d", r.status)
		}
		if r := do(t, "POST", base+"/v1/destinations/nope/pause", operatorToken, "", nil); r.status != http.StatusNotFound {
			t.Fatalf("unknown destination = %d", r.status)
		}
		post(t, base, labToken, withID(t, fixtures.Report("panel-brca2"), "PAUSED-1"))
		for i := 0; i < 100 && !strings.Contains(string(get(t, base+"/v1/reports/PAUSED-1", operatorToken).body), `"r0a-files","contentType":"application/fhir+json","state":"delivered"`); i++ {
			time.Sleep(20 * time.Millisecond) // the other destination of the same trust goes meanwhile
		}
		time.Sleep(200 * time.Millisecond)
		state := func(dest string) string {
			for _, d := range get(t, base+"/v1/reports/PAUSED-1", operatorToken).json(t)["deliveries"].([]any) {
				if d.(map[string]any)["destination"] == dest {
					return d.(map[string]any)["state"].(string)
				}
			}
			return ""
		}
		if state("r0a-pdf") != "pending" || state("r0a-files") != "delivered" {
			t.Fatalf("while r0a-pdf is paused: pdf %s, files %s", state("r0a-pdf"), state("r0a-files"))
		}
		list := string(get(t, base+"/v1/destinations", operatorToken).body)
		if !strings.Contains(list, `"name":"r0a-pdf","paused":true`) {
			t.Fatalf("destinations = %s", list)
		}
		do(t, "POST", base+"/v1/destinations/r0a-pdf/resume", operatorToken, "", nil)
		for i := 0; i < 200 && state("r0a-pdf") != "delivered"; i++ {
			time.Sleep(20 * time.Millisecond)
		}
		if state("r0a-pdf") != "delivered" {
			t.Fatalf("after resume: %s", state("r0a-pdf"))
		}
	})

	t.Run("a trust with no route is held, not bounced", func(t *testing.T) {
		body := bytes.Replace(withID(t, fixtures.Report("panel-brca2"), "NO-ROUTE-1"), []byte(`"odsCode":"R0A"`), []byte(`"odsCode":"RXX"`), 1)
		if r := post(t, base, labToken, body); r.status != http.StatusAccepted || r.json(t)["held"] != true {
			t.Fatalf("no route = %d %s, want 202 saying it is held", r.status, r.body)
		}
		st := get(t, base+"/v1/reports/NO-ROUTE-1", operatorToken).json(t)
		if st["held"] != true || len(st["deliveries"].([]any)) != 0 {
			t.Fatalf("a report for a trust with no destination: held %v, deliveries %v", st["held"], st["deliveries"])
		}
		if held := string(get(t, base+"/v1/held", operatorToken).body); !strings.Contains(held, `"id":"NO-ROUTE-1"`) || !strings.Contains(held, `"trustOds":"RXX"`) {
			t.Fatalf("GET /v1/held = %s", held)
		}
		if r := get(t, base+"/v1/held", trustToken); r.status != http.StatusForbidden {
			t.Fatalf("a trust listing held reports = %d", r.status)
		}
		if journey := string(get(t, base+"/v1/reports/NO-ROUTE-1/journey", operatorToken).body); !strings.Contains(journey, `"event":"held"`) {
			t.Fatalf("the journey does not say it is held: %s", journey)
		}
	})

	t.Run("the test directory names known codes and warns about unknown ones", func(t *testing.T) {
		body := bytes.Replace(withID(t, fixtures.Report("trio-wgs-denovo-positive"), "UNKNOWN-CODE-1"), []byte(`"code":"R14.1"`), []byte(`"code":"R999.9"`), 1)
		if r := post(t, base, labToken, body); r.status != http.StatusAccepted {
			t.Fatalf("unknown code = %d %s", r.status, r.body)
		}
		st := get(t, base+"/v1/reports/UNKNOWN-CODE-1", operatorToken).json(t)
		if w := fmt.Sprint(st["warnings"]); !strings.Contains(w, "R999.9 is not in the National Genomic Test Directory") {
			t.Fatalf("warnings %s", w)
		}
		bundle := string(get(t, base+"/v1/reports/NWGLH-2026-000101/fhir", operatorToken).body)
		if !strings.Contains(bundle, `"code":"R14.1","display":"Acutely unwell children with a likely monogenic disorder (WGS)"`) {
			t.Fatal("the known code R14.1 does not carry the directory's official name")
		}
	})

	t.Run("times in the future are refused", func(t *testing.T) {
		body := bytes.Replace(withID(t, fixtures.Report("negative-wgs"), "FUTURE-1"), []byte(`"issued":"2026-11-02T14:30:00Z"`), []byte(`"issued":"2031-01-01T00:00:00Z"`), 1)
		r := post(t, base, labToken, body)
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(strings.Join(issueLocations(t, r.body), ","), "issued") {
			t.Fatalf("issued in 2031 = %d %s", r.status, r.body)
		}
	})

	t.Run("$validate maps without storing", func(t *testing.T) {
		body := withID(t, fixtures.Report("cnv-deletion"), "VALIDATE-ONLY-1")
		r := do(t, "POST", base+"/v1/reports/$validate", labToken, "application/json", body)
		if r.status != http.StatusOK || diagnosticReport(t, r.body) == nil {
			t.Fatalf("$validate = %d", r.status)
		}
		if r := get(t, base+"/v1/reports/VALIDATE-ONLY-1", operatorToken); r.status != http.StatusNotFound {
			t.Fatalf("$validate stored the report (%d)", r.status)
		}
		bad := do(t, "POST", base+"/v1/reports/$validate", labToken, "application/json", fixtures.Invalid()[0].Body)
		if bad.status != http.StatusUnprocessableEntity {
			t.Fatalf("$validate of an invalid report = %d", bad.status)
		}
	})
}

func allDelivered(status map[string]any) bool {
	deliveries, _ := status["deliveries"].([]any)
	for _, d := range deliveries {
		if d.(map[string]any)["state"] != "delivered" {
			return false
		}
	}
	return len(deliveries) > 0
}

func diagnosticReport(t testing.TB, bundle []byte) map[string]any {
	t.Helper()
	var b struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(bundle, &b); err != nil || b.ResourceType != "Bundle" || b.Type != "transaction" {
		t.Fatalf("not a transaction Bundle: %v", err)
	}
	for _, e := range b.Entry {
		if e.Resource["resourceType"] == "DiagnosticReport" {
			return e.Resource
		}
	}
	t.Fatal("the Bundle has no DiagnosticReport")
	return nil
}

func issueLocations(t testing.TB, body []byte) []string {
	var oo struct {
		ResourceType string `json:"resourceType"`
		Issue        []struct {
			Location []string `json:"location"`
		} `json:"issue"`
	}
	if err := json.Unmarshal(body, &oo); err != nil || oo.ResourceType != "OperationOutcome" {
		t.Fatalf("not an OperationOutcome: %s", body)
	}
	seen := map[string]bool{}
	var out []string
	for _, is := range oo.Issue {
		for _, l := range is.Location {
			if !seen[l] {
				seen[l] = true
				out = append(out, l)
			}
		}
	}
	if len(out) == 0 {
		out = []string{"$"}
	}
	return sorted(out)
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

// withIDIfJSON gives a parseable invalid fixture its own id; broken JSON is sent as is.
func withIDIfJSON(t testing.TB, body []byte, id string) []byte {
	if !json.Valid(body) {
		return body
	}
	return withID(t, body, id)
}
