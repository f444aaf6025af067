package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/internal/receiver"
)

// TestBulkReplayOfADestinationsDeadLetters: an EPR rejects two reports
// (dead letters); once it is fixed, one call replays every dead letter of
// that destination, after checking the count the operator confirmed, and
// both are delivered.
func TestBulkReplayOfADestinationsDeadLetters(t *testing.T) {
	base, epr := rejectingEPR(t, "BULK-1", "BULK-2")
	count := func(state string) int {
		var list struct{ Deliveries []json.RawMessage }
		json.Unmarshal(get(t, base+"/v1/deliveries?destination=r0a-epr&state="+state, operatorToken).body, &list)
		return len(list.Deliveries)
	}
	waitFor := func(state string, n int) {
		for i := 0; count(state) != n; i++ {
			if i > 400 {
				t.Fatalf("%d deliveries %s, want %d", count(state), state, n)
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
	waitFor("dead", 2)
	// A page at a time: each page's next link continues where it stopped.
	var seen []string
	for next := "/v1/deliveries?destination=r0a-epr&state=dead&limit=1"; next != ""; {
		var page struct {
			Deliveries []struct{ ID string }
			Next       string
		}
		if r := get(t, base+next, operatorToken); r.status != http.StatusOK || json.Unmarshal(r.body, &page) != nil {
			t.Fatalf("%s: %d %s", next, r.status, r.body)
		}
		for _, d := range page.Deliveries {
			seen = append(seen, d.ID)
		}
		if next = page.Next; len(seen) > 3 {
			t.Fatalf("paging does not end: %v", seen)
		}
	}
	if len(seen) != 2 || seen[0] == seen[1] {
		t.Fatalf("pages of one: %v", seen)
	}
	epr.Set(receiver.Accept) // the trust fixes its EPR

	replay := func(body string) response {
		return do(t, http.MethodPost, base+"/v1/deliveries/replay", operatorToken, "application/json", []byte(body))
	}
	if r := replay(`{"destination": "r0a-epr", "state": "dead", "expect": 3}`); r.status != http.StatusConflict || !strings.Contains(string(r.body), "now 2 deliveries") {
		t.Fatalf("a stale confirmation: %d %s", r.status, r.body)
	}
	if count("dead") != 2 {
		t.Fatal("a refused bulk replay replayed something")
	}
	r := replay(`{"destination": "r0a-epr", "state": "dead", "expect": 2}`)
	var res struct {
		Done int  `json:"done"`
		More bool `json:"more"`
	}
	if json.Unmarshal(r.body, &res); r.status != http.StatusOK || res.Done != 2 || res.More {
		t.Fatalf("bulk replay: %d %s", r.status, r.body)
	}
	waitFor("delivered", 2)
	for _, body := range []string{`{"destination": "r0a-epr"}`, `{"state": "dead"}`, `{"destination": "", "state": "dead"}`, `{"destination": "*", "state": "dead"}`} {
		if r := replay(body); r.status != http.StatusUnprocessableEntity && r.status != http.StatusBadRequest {
			t.Fatalf("a bulk replay naming no state, or no destination, or every one without a confirmed count (%s): %d", body, r.status)
		}
	}
	if r := replay(`{"destination": "*", "state": "dead", "expect": 0}`); r.status != http.StatusOK {
		t.Fatalf("every destination's, confirmed: %d %s", r.status, r.body)
	}
}

// rejectingEPR runs a gateway whose R0A reports also go to a FHIR EPR
// (destination r0a-epr) that rejects them, and posts reports with the
// given ids: they become dead letters there.
func rejectingEPR(t *testing.T, ids ...string) (base string, epr *receiver.Receiver) {
	t.Helper()
	return withEPR(t, func(epr *receiver.Receiver) { epr.Set(receiver.Reject) }, ids...)
}

// withEPR is rejectingEPR with the EPR answering as set tells it.
func withEPR(t *testing.T, set func(*receiver.Receiver), ids ...string) (base string, epr *receiver.Receiver) {
	t.Helper()
	epr = receiver.Start(t)
	set(epr)
	dir := t.TempDir()
	cfg := strings.ReplaceAll(testConfig, "OUTBOX", filepath.Join(dir, "outbox"))
	cfg = strings.Replace(cfg, `"destinations": [`, `"destinations": [{"name": "r0a-epr", "trusts": ["R0A"], "kind": "fhir-rest", "format": "fhir-bundle", "config": {"baseUrl": "`+epr.URL+`"}},`, 1)
	base, _ = startWithConfig(t, dir, cfg)
	for _, id := range ids {
		if r := post(t, base, labToken, withID(t, fixtures.Report("negative-wgs"), id)); r.status != http.StatusAccepted {
			t.Fatalf("post %s: %d", id, r.status)
		}
	}
	return base, epr
}

// TestJourneyKeepsOperatorsActions: a dead letter cancelled, then replayed
// and delivered, keeps every step in the report's journey and its audit
// trail (the dead letter, who cancelled, who replayed), and the console
// counts only the sends as attempts.
func TestJourneyKeepsOperatorsActions(t *testing.T) {
	base, epr := rejectingEPR(t, "JRNY-1")
	id := "JRNY-1~v1~r0a-epr"
	state := func() (d struct {
		State        string
		AttemptCount int
	}) {
		json.Unmarshal(get(t, base+"/v1/deliveries/"+id, operatorToken).body, &d)
		return d
	}
	for i := 0; state().State != "dead"; i++ {
		if i > 400 {
			t.Fatalf("delivery %s is %s, want dead", id, state().State)
		}
		time.Sleep(25 * time.Millisecond)
	}
	// The trust has the report through its other destinations; the page
	// says where it still does not.
	notDelivered := func() string {
		var j struct {
			Recipients []struct {
				ODSCode, Delivered string
				NotDelivered       []string
			}
		}
		json.Unmarshal(get(t, base+"/v1/reports/JRNY-1/journey", operatorToken).body, &j)
		for _, r := range j.Recipients {
			if r.ODSCode == "R0A" {
				return fmt.Sprintf("delivered %v: %s", r.Delivered != "", strings.Join(r.NotDelivered, ","))
			}
		}
		return "no R0A"
	}
	for i := 0; notDelivered() != "delivered true: r0a-epr dead"; i++ { // its file destinations may still be at work
		if i > 400 {
			t.Fatalf("R0A's state with r0a-epr dead: %q", notDelivered())
		}
		time.Sleep(25 * time.Millisecond)
	}
	if page := consolePage(t, base, "/console/reports/JRNY-1"); !strings.Contains(page, "not yet at r0a-epr dead") {
		t.Error("the console's recipients table does not say the report is not yet at r0a-epr")
	}
	for _, action := range []string{"cancel", "replay"} {
		if action == "replay" {
			epr.Set(receiver.Accept) // the trust fixes its EPR
		}
		if r := do(t, http.MethodPost, base+"/v1/deliveries/"+id+"/"+action, operatorToken, "application/json", nil); r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", action, r.status, r.body)
		}
	}
	for i := 0; state().State != "delivered"; i++ {
		if i > 400 {
			t.Fatalf("delivery %s is %s, want delivered", id, state().State)
		}
		time.Sleep(25 * time.Millisecond)
	}
	if got := notDelivered(); got != "delivered true: " {
		t.Errorf("R0A after the replay was delivered: %q", got)
	}
	if n := state().AttemptCount; n != 2 {
		t.Errorf("attemptCount %d, want 2 sends", n)
	}
	var j struct {
		Events []struct{ Event, Outcome, Actor, Destination string }
	}
	json.Unmarshal(get(t, base+"/v1/reports/JRNY-1/journey", operatorToken).body, &j)
	var steps []string
	for _, e := range j.Events {
		if e.Destination == "r0a-epr" {
			step := e.Event
			if e.Outcome != "" {
				step += ":" + e.Outcome
			}
			if e.Actor != "" {
				step += "(" + e.Actor + ")"
			}
			steps = append(steps, step)
		}
	}
	if got := strings.Join(steps, " "); got != "queued attempt:permanent dead cancelled(operator) replayed(operator) attempt:delivered" {
		t.Errorf("journey at r0a-epr: %s", got)
	}
	var found searchset
	json.Unmarshal(get(t, base+"/fhir/DiagnosticReport?identifier=JRNY-1", operatorToken).body, &found)
	if len(found.Entry) != 1 {
		t.Fatalf("JRNY-1: %d reports found", len(found.Entry))
	}
	audit := string(get(t, base+"/fhir/AuditEvent?entity=DiagnosticReport/"+found.Entry[0].Resource["id"].(string), operatorToken).body)
	for _, code := range []string{`"code":"dead"`, `"code":"cancelled"`, `"code":"replayed"`} {
		if !strings.Contains(audit, code) {
			t.Errorf("the audit trail lacks %s", code)
		}
	}
	page := consolePage(t, base, "/console/reports/JRNY-1")
	if !strings.Contains(page, `data-destination="r0a-epr" data-state="delivered"`) || !strings.Contains(page, `>delivered</td><td>2</td>`) {
		t.Errorf("the console's deliveries table does not show 2 attempts:\n%s", page)
	}
}

// TestBulkCancelLeavesWithdrawals: a correction moves a report to RBS's
// patient, and R0A's EPR, which rejects everything, dead-letters the
// report, then the withdrawal of it (which supersedes the report's dead
// letter), and another report. Cancelling every dead letter there cancels
// the other report's but not the withdrawal (cancelled, it would leave the
// result with a patient it is not about): that is named as not done, and
// an operator can still cancel it on its own.
func TestBulkCancelLeavesWithdrawals(t *testing.T) {
	base, _ := rejectingEPR(t, "WDBULK-1")
	waitState := func(id, want string) {
		t.Helper()
		for i := 0; ; i++ {
			var d struct{ State string }
			json.Unmarshal(get(t, base+"/v1/deliveries/"+id, operatorToken).body, &d)
			if d.State == want {
				return
			}
			if i > 400 {
				t.Fatalf("%s is %s, want %s", id, d.State, want)
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
	waitState("WDBULK-1~v1~r0a-epr", "dead")
	postMovedToRBS(t, base, withID(t, fixtures.Report("negative-wgs"), "WDBULK-1"))
	withdrawal := "WDBULK-1~v2~r0a-epr~withdrawal"
	waitState(withdrawal, "dead")
	waitState("WDBULK-1~v1~r0a-epr", "superseded")
	if r := post(t, base, labToken, withID(t, fixtures.Report("negative-wgs"), "WDBULK-2")); r.status != http.StatusAccepted {
		t.Fatalf("WDBULK-2: %d %s", r.status, r.body)
	}
	waitState("WDBULK-2~v1~r0a-epr", "dead")
	r := do(t, http.MethodPost, base+"/v1/deliveries/cancel", operatorToken, "application/json", []byte(`{"destination": "r0a-epr", "state": "dead", "expect": 2}`))
	var res struct {
		Done   int
		Failed []struct{ ID, Error string }
	}
	if json.Unmarshal(r.body, &res); r.status != http.StatusOK || res.Done != 1 || len(res.Failed) != 1 || res.Failed[0].ID != withdrawal ||
		!strings.Contains(res.Failed[0].Error, "cancel it on its own") {
		t.Fatalf("bulk cancel: %d %s", r.status, r.body)
	}
	waitState("WDBULK-2~v1~r0a-epr", "cancelled")
	waitState(withdrawal, "dead")
	if r := do(t, http.MethodPost, base+"/v1/deliveries/"+withdrawal+"/cancel", operatorToken, "application/json", nil); r.status != http.StatusOK {
		t.Fatalf("cancelling the withdrawal on its own: %d %s", r.status, r.body)
	}
}
