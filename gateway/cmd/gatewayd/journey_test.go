package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nhs-genomics/results-gateway/fixtures"
)

// journeyView is what GET /v1/reports/{id}/journey answers.
type journeyView struct {
	Recipients []struct {
		ODSCode      string   `json:"odsCode"`
		Destinations []string `json:"destinations"`
	} `json:"recipients"`
	Events []struct {
		Event       string `json:"event"`
		Version     int    `json:"version"`
		Destination string `json:"destination"`
		Outcome     string `json:"outcome"`
		Detail      string `json:"detail"`
		Actor       string `json:"actor"`
	} `json:"events"`
	Turnaround map[string]float64 `json:"turnaroundSeconds"`
}

func journeyOf(t *testing.T, url, token string) (journeyView, string) {
	t.Helper()
	r := get(t, url, token)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s = %d %s", url, r.status, r.body)
	}
	var j journeyView
	if err := json.Unmarshal(r.body, &j); err != nil {
		t.Fatal(err)
	}
	return j, string(r.body)
}

// deliveriesOf is the (version, destination) of each delivery GET
// /v1/reports/{id}... lists.
func deliveriesOf(t *testing.T, url, token string) []string {
	t.Helper()
	r := get(t, url, token)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s = %d %s", url, r.status, r.body)
	}
	var st struct {
		Deliveries []struct {
			Version     int    `json:"version"`
			Destination string `json:"destination"`
			Withdrawal  bool   `json:"withdrawal"`
		} `json:"deliveries"`
	}
	json.Unmarshal(r.body, &st)
	var out []string
	for _, d := range st.Deliveries {
		s := fmt.Sprintf("v%d %s", d.Version, d.Destination)
		if d.Withdrawal {
			s += " withdrawal"
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// TestJourneyAfterCorrectionToAnotherTrust: when a corrected version moves
// a report to another trust's patient, each trust sees in the report's
// journey and status only the versions it may read (as the pull API and
// vread decide) and its own deliveries and accesses: the new trust does
// not see the first patient's unmapped identifiers, the first trust's
// deliveries or its users' accesses, and the first trust, reading its
// version, does not see where the correction went. Operators see it all.
func TestJourneyAfterCorrectionToAnotherTrust(t *testing.T) {
	dir := t.TempDir()
	cfg := strings.ReplaceAll(testConfig, "OUTBOX", filepath.Join(dir, "outbox"))
	cfg = strings.Replace(cfg, `"retry":`, `"sharing": {"RXS": ["R0A"]},
  "retry":`, 1)
	cfg = strings.Replace(cfg, `"tokens": [`, `"tokens": [
    {"name": "sharing-trust", "token": "test-sharing-token", "role": "trust", "odsCode": "RXS"},`, 1)
	base, _ := startWithConfig(t, dir, cfg)
	const id, secret, sharingToken = "LEAK-1", "SECRET-MRN-4711", "test-sharing-token"

	// v1 over HL7 v2 for R0A, with a second MRN in PID-3 (kept as unmapped).
	msg := oru(t, "negative-wgs", "LEAK-MSG-1", func(m string) string {
		m = strings.ReplaceAll(m, "NWGLH-2026-000102", id)
		return strings.Replace(m, "MRN00026^^^R0A^MR", "MRN00026^^^R0A^MR~"+secret+"^^^R0A^MR", 1)
	})
	if r := do(t, http.MethodPost, base+"/v1/hl7v2", labToken, "application/hl7-v2+er7", msg); !strings.Contains(string(r.body), "MSA|AA") {
		t.Fatalf("v1: %d %s", r.status, r.body)
	}
	if st := get(t, base+"/v1/reports/"+id, operatorToken); !strings.Contains(string(st.body), secret) {
		t.Fatalf("the second MRN is not kept as unmapped: %s", st.body)
	}
	// v2 in JSON: corrected, another patient, ordered by RBS.
	postMovedToRBS(t, base, withID(t, fixtures.Report("negative-wgs"), id))
	// v1 to R0A's two destinations, v2 to RBS's, and R0A's told to withdraw v1.
	all := []string{"v1 r0a-files", "v1 r0a-pdf", "v2 r0a-files withdrawal", "v2 r0a-pdf withdrawal", "v2 rbs-files"}
	waitDeliveriesDone(t, base, "report="+id, len(all))
	// Each organisation reads what it may.
	for _, rd := range []struct{ url, token string }{
		{"/v1/reports/" + id + "?version=1", trustToken}, {"/v1/reports/" + id + "/fhir?version=1", trustToken},
		{"/v1/reports/" + id, otherTrustToken}, {"/v1/reports/" + id + "/fhir", otherTrustToken},
		{"/v1/reports/" + id + "?version=1", sharingToken}, {"/v1/reports/" + id, operatorToken},
	} {
		if r := get(t, base+rd.url, rd.token); r.status != http.StatusOK {
			t.Fatalf("GET %s = %d %s", rd.url, r.status, r.body)
		}
	}
	if r := get(t, base+"/v1/reports/"+id, trustToken); r.status != http.StatusNotFound {
		t.Fatalf("R0A reads RBS's version: %d", r.status)
	}
	if r := do(t, "POST", base+"/v1/reports/"+id+"/acknowledgements", otherTrustToken, "application/json", []byte(`{"by": "Dr B Clinician"}`)); r.status != http.StatusCreated {
		t.Fatalf("RBS's acknowledgement: %d %s", r.status, r.body)
	} else if strings.Contains(string(r.body), "R0A") || strings.Contains(string(r.body), "r0a-") {
		t.Errorf("RBS's acknowledgement answers with R0A's state: %s", r.body)
	}

	type seen struct{ ods, url, token string }
	rbs := seen{"RBS", "/v1/reports/" + id, otherTrustToken}
	r0a := seen{"R0A", "/v1/reports/" + id + "?version=1", trustToken}
	rxs := seen{"RXS", "/v1/reports/" + id + "?version=1", sharingToken}
	journeyURL := func(s seen) string {
		u, q, _ := strings.Cut(s.url, "?")
		if q != "" {
			q = "?" + q
		}
		return base + u + "/journey" + q
	}

	t.Run("the trust of the correction sees its version only", func(t *testing.T) {
		j, body := journeyOf(t, journeyURL(rbs), rbs.token)
		for _, leak := range []string{secret, "r0a-", "R0A", "RXS", "(operator"} {
			if strings.Contains(body, leak) {
				t.Errorf("RBS's journey shows %q: %s", leak, body)
			}
		}
		for _, e := range j.Events {
			if e.Version == 1 {
				t.Errorf("RBS's journey shows version 1: %+v", e)
			}
		}
		if len(j.Recipients) != 1 || j.Recipients[0].ODSCode != "RBS" {
			t.Errorf("RBS's recipients: %+v", j.Recipients)
		}
		if _, ok := j.Turnaround["rbs-files"]; !ok || len(j.Turnaround) != 1 {
			t.Errorf("RBS's turnaround: %v", j.Turnaround)
		}
		if got := deliveriesOf(t, base+rbs.url, rbs.token); !slices.Equal(got, []string{"v2 rbs-files"}) {
			t.Errorf("RBS's report lists deliveries %v", got)
		}
	})

	t.Run("the first trust, reading its version, does not see where the correction went", func(t *testing.T) {
		_, body := journeyOf(t, journeyURL(r0a), r0a.token)
		if !strings.Contains(body, secret) {
			t.Errorf("R0A does not see its own version's unmapped identifier: %s", body)
		}
		for _, leak := range []string{"rbs-files", "RBS", "RXS", "(operator", "9990001316"} {
			if strings.Contains(body, leak) {
				t.Errorf("R0A's journey shows %q: %s", leak, body)
			}
		}
		// Its own destinations' withdrawals of its version are R0A's to see.
		if got := deliveriesOf(t, base+r0a.url, r0a.token); !slices.Equal(got, []string{"v1 r0a-files", "v1 r0a-pdf", "v2 r0a-files withdrawal", "v2 r0a-pdf withdrawal"}) {
			t.Errorf("R0A's report (version 1) lists deliveries %v", got)
		}
	})

	// Each trust's journey of its version, read before the operator's, so
	// that the operator's holds every access they show.
	trusts := []struct {
		seen
		version int
		actors  []string
	}{{rbs, 2, []string{"(trust RBS)", "(lab 699X0)"}}, {r0a, 1, []string{"(trust R0A)", "(lab 699X0)"}}, {rxs, 1, []string{"(trust RXS)", "(lab 699X0)"}}}
	journeys := make([]journeyView, len(trusts))
	for i, s := range trusts {
		journeys[i], _ = journeyOf(t, journeyURL(s.seen), s.token)
	}
	// Operators see everything: both versions, every delivery, every access.
	full, fullBody := journeyOf(t, journeyURL(seen{url: "/v1/reports/" + id}), operatorToken)
	for _, want := range []string{secret, "rbs-files", "r0a-files", "r0a-pdf", "(trust R0A)", "(trust RBS)", "(trust RXS)", "(operator)"} {
		if !strings.Contains(fullBody, want) {
			t.Errorf("the operator's journey lacks %q: %s", want, fullBody)
		}
	}
	if got := deliveriesOf(t, base+"/v1/reports/"+id, operatorToken); !slices.Equal(got, all) {
		t.Errorf("the operator's report lists deliveries %v, want %v", got, all)
	}
	if got := deliveriesOf(t, base+"/v1/reports/"+id, labToken); !slices.Equal(got, all) {
		t.Errorf("the lab's report lists deliveries %v, want %v", got, all)
	}

	// Each trust sees its own version's journey in full: every event the
	// operator sees of that version (here every delivery of it is the
	// trust's own, or by sharing R0A's), and its own and the lab's accesses.
	event := func(e any) string { b, _ := json.Marshal(e); return string(b) }
	for i, s := range trusts {
		j := journeys[i]
		got := map[string]bool{}
		for _, e := range j.Events {
			got[event(e)] = true
		}
		var want int
		for _, e := range full.Events {
			mine := e.Version == s.version
			if e.Version == 2 && strings.HasPrefix(e.Destination, "r0a-") {
				mine = s.ods == "R0A" // R0A's withdrawals are of version 2: R0A's own, not RBS's
			}
			for _, a := range s.actors {
				mine = mine || strings.HasSuffix(e.Actor, a)
			}
			if !mine {
				continue
			}
			want++
			if !got[event(e)] {
				t.Errorf("%s's journey lacks %s", s.ods, event(e))
			}
		}
		if want != len(j.Events) {
			t.Errorf("%s's journey has %d events, want %d", s.ods, len(j.Events), want)
		}
	}

	// The lab sees every version and delivery of its report, not the trusts' accesses.
	_, labBody := journeyOf(t, journeyURL(seen{url: "/v1/reports/" + id}), labToken)
	for _, want := range []string{secret, "rbs-files", "r0a-files"} {
		if !strings.Contains(labBody, want) {
			t.Errorf("the lab's journey lacks %q", want)
		}
	}
	for _, leak := range []string{"(trust R0A)", "(trust RBS)", "(operator)"} {
		if strings.Contains(labBody, leak) {
			t.Errorf("the lab's journey shows accesses %q", leak)
		}
	}
}
