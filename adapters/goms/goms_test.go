package goms_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/adapters/goms"
	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/internal/gomsstub"
)

// A delivery stores the report and completes the order's Task with it;
// a resend changes nothing.
func TestDeliveryCompletesTask(t *testing.T) {
	e := newEnv(t, true)
	a := newAdapter(t, e.config(""))
	ref, err := deliver(t, a, delivery(t, "r1~v1~goms"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ref, "DiagnosticReport/") || e.stub.Resource("DiagnosticReport", strings.TrimPrefix(ref, "DiagnosticReport/")) == nil {
		t.Fatalf("receiver reference %q does not name the stored DiagnosticReport", ref)
	}
	task := e.stub.Resource("Task", e.taskID)
	if task["status"] != "completed" {
		t.Fatalf("Task status %v, want completed", task["status"])
	}
	bs := task["businessStatus"].(map[string]any)["coding"].([]any)[0].(map[string]any)
	if bs["system"] != goms.BusinessStatusSystem || bs["code"] != goms.BusinessStatusCode {
		t.Errorf("businessStatus %v", bs)
	}
	outputs := task["output"].([]any)
	if len(outputs) != 1 || outputs[0].(map[string]any)["valueReference"].(map[string]any)["reference"] != ref {
		t.Errorf("Task output %v, want one reference to %s", outputs, ref)
	}
	if _, ok := task["statusReason"]; ok {
		t.Error("the earlier statusReason (awaiting-sample) was kept on a completed Task")
	}
	if n := e.stub.Count("ServiceRequest"); n != 1 {
		t.Errorf("%d ServiceRequests on GOMS, want the requester's one", n)
	}
	version := task["meta"].(map[string]any)["versionId"]

	// A resend (the same report again, e.g. after a lost answer) is success and leaves the Task alone.
	again, err := deliver(t, a, delivery(t, "r1~v1~goms"))
	if err != nil || again != ref {
		t.Fatalf("resend = %q, %v; want %q", again, err, ref)
	}
	if v := e.stub.Resource("Task", e.taskID)["meta"].(map[string]any)["versionId"]; v != version {
		t.Errorf("the resend updated the completed Task again (version %v -> %v)", version, v)
	}
	if n := e.stub.Count("DiagnosticReport"); n != 1 {
		t.Errorf("%d DiagnosticReports after a resend, want 1", n)
	}
}

// One token serves many deliveries, concurrent ones included; a 401 (the
// token ended early) gets a new token and the call is made again.
func TestTokenReusedAndRefreshedAfter401(t *testing.T) {
	e := newEnv(t, true)
	a := newAdapter(t, e.config(""))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := deliver(t, a, delivery(t, fmt.Sprintf("r1~v1~goms-%d", i)))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := e.stub.TokenRequests(); n != 1 {
		t.Fatalf("%d token requests for 8 concurrent deliveries, want 1", n)
	}
	e.stub.ExpireTokens()
	if _, err := deliver(t, a, delivery(t, "r1~v1~goms-after")); err != nil {
		t.Fatalf("after the token ended early: %v", err)
	}
	if n := e.stub.TokenRequests(); n != 2 {
		t.Fatalf("%d token requests after a 401, want 2", n)
	}
	for _, s := range e.stub.Seen() {
		if s.Authorization == "" {
			t.Errorf("%s %s without Authorization", s.Method, s.Path)
		}
	}
}

// The stand-in checks the assertion's signature, alg, kid, iss, sub, aud,
// exp and jti; a key GOMS does not know is refused, and that is permanent.
func TestWrongKeyRefused(t *testing.T) {
	e := newEnv(t, true)
	e.stub.ExpectRefusals()
	otherKey, _ := keyFile(t)
	a := newAdapter(t, strings.Replace(e.config(""), e.keyFile, otherKey, 1))
	_, err := deliver(t, a, delivery(t, "r1~v1~goms"))
	if !gateway.IsPermanent(err) || !strings.Contains(err.Error(), "token endpoint refused") {
		t.Fatalf("a wrong key must be a permanent error saying the token endpoint refused it, got %v", err)
	}
	if r := e.stub.Refusals(); len(r) != 1 || !strings.Contains(r[0], "signature") {
		t.Errorf("stand-in refusals %q, want one for the signature", r)
	}
	// The right key under another kid is refused too.
	a = newAdapter(t, strings.Replace(e.config(""), kid, "not-registered", 1))
	if _, err := deliver(t, a, delivery(t, "r1~v1~goms")); !gateway.IsPermanent(err) {
		t.Fatalf("an unknown kid must be permanent, got %v", err)
	}
	if r := e.stub.Refusals(); len(r) != 2 || !strings.Contains(r[1], "kid") {
		t.Errorf("stand-in refusals %q, want the second for the kid", r)
	}
	if e.stub.Reports() != 0 {
		t.Error("a report went through without a token")
	}
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// Every call carries an X-Request-ID of its own and the delivery's X-Correlation-ID, and the apikey.
func TestHeaders(t *testing.T) {
	e := newEnv(t, true)
	a := newAdapter(t, e.config(""))
	for _, id := range []string{"r1~v1~goms", "r1~v2~goms"} {
		if _, err := deliver(t, a, delivery(t, id)); err != nil {
			t.Fatal(err)
		}
	}
	seen := e.stub.Seen()
	if len(seen) < 5 { // per delivery: the report, the order search, the Task update (the resend: no update)
		t.Fatalf("only %d calls", len(seen))
	}
	requestIDs := map[string]bool{}
	correlations := map[string]int{}
	for _, s := range seen {
		if !uuidPattern.MatchString(s.RequestID) || requestIDs[s.RequestID] {
			t.Errorf("%s %s: X-Request-ID %q is not a new UUID", s.Method, s.Path, s.RequestID)
		}
		requestIDs[s.RequestID] = true
		correlations[s.CorrelationID]++
		if s.APIKey != clientID {
			t.Errorf("apikey %q", s.APIKey)
		}
	}
	first, second := goms.CorrelationID("r1~v1~goms"), goms.CorrelationID("r1~v2~goms")
	if len(correlations) != 2 || correlations[first] < 2 || correlations[second] < 2 || !uuidPattern.MatchString(first) {
		t.Errorf("X-Correlation-IDs %v: want two, %s and %s, each on every call of its delivery", correlations, first, second)
	}
}

// 429 and 503 are retried, with the wait GOMS asked for.
func TestThrottledAndUnavailable(t *testing.T) {
	e := newEnv(t, true)
	a := newAdapter(t, e.config(""))
	for _, c := range []struct {
		mode       gomsstub.Mode
		retryAfter string
		want       time.Duration
	}{
		{gomsstub.Throttle, "7", 7 * time.Second},
		{gomsstub.Throttle, time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat), 90 * time.Second},
		{gomsstub.Fail, "120", 2 * time.Minute},
		{gomsstub.Fail, "", 0},
	} {
		e.stub.Set(c.mode, c.retryAfter)
		_, err := deliver(t, a, delivery(t, "r1~v1~goms"))
		if err == nil || gateway.IsPermanent(err) {
			t.Fatalf("%v %q: want a retryable error, got %v", c.mode, c.retryAfter, err)
		}
		wait, ok := gateway.RetryAfterOf(err)
		if ok != (c.want > 0) || wait > c.want || wait < c.want-2*time.Second {
			t.Errorf("%v Retry-After %q: the error carries %v (%v), want %v", c.mode, c.retryAfter, wait, ok, c.want)
		}
	}
	e.stub.Set(gomsstub.Accept, "")
	if _, err := deliver(t, a, delivery(t, "r1~v1~goms")); err != nil {
		t.Fatalf("after GOMS came back: %v", err)
	}
	// GOMS de-duplicates by X-Request-ID and asks that a failed request sent
	// again carry the same one: every post of the report did; the Task's
	// update is another request.
	posts := map[string]int{}
	for _, s := range e.stub.Seen() {
		if s.Method == http.MethodPost && s.Path == gomsstub.Prefix+"/FHIR/R4" {
			posts[s.RequestID]++
		}
	}
	if len(posts) != 2 {
		t.Errorf("X-Request-IDs of the transactions posted: %v, want the report's five posts under one and the Task's under another", posts)
	}
}

// A transaction-response with one failed entry names that entry; a business
// rule is permanent, a transient issue is retried.
func TestFailedEntry(t *testing.T) {
	e := newEnv(t, true)
	a := newAdapter(t, e.config(""))
	e.stub.FailEntry("Specimen", "422 Unprocessable Entity", "business-rule")
	_, err := deliver(t, a, delivery(t, "r1~v1~goms"))
	if !gateway.IsPermanent(err) || !regexp.MustCompile(`entry \d+ \(Specimen\): 422 Unprocessable Entity: .*business rules`).MatchString(err.Error()) {
		t.Fatalf("want a permanent error naming the Specimen entry, got %v", err)
	}
	if strings.Contains(err.Error(), "9990000018") {
		t.Error("the error carries an NHS number")
	}
	e.stub.FailEntry("Patient", "500 Internal Server Error", "transient")
	if _, err := deliver(t, a, delivery(t, "r1~v1~goms")); err == nil || gateway.IsPermanent(err) || !strings.Contains(err.Error(), "(Patient)") || strings.Contains(err.Error(), "urn:uuid:") {
		t.Fatalf("a transient entry failure must be retryable and name the entry, got %v", err)
	}
	if e.stub.Count("DiagnosticReport") != 0 || e.stub.Resource("Task", e.taskID)["status"] != "accepted" {
		t.Fatal("a failed transaction stored something or completed the Task")
	}
}

// No Task for the order: retried while the delivery is young, then parked
// for a person; once the order is there a replay completes it.
func TestNoTask(t *testing.T) {
	e := newEnv(t, false)
	e.stub.SeedOrder(orderSystem, orderValue, "") // the order, its Task not created yet
	a := newAdapter(t, e.config(`,"taskWaitMinutes":30`))
	d := delivery(t, "r1~v1~goms")
	_, err := deliver(t, a, d)
	if err == nil || gateway.IsPermanent(err) || !strings.Contains(err.Error(), "no Task") {
		t.Fatalf("a young delivery without a Task must be retried, got %v", err)
	}
	// The retry finds the report stored already and does not post it again.
	d.Attempts = append(d.Attempts, gateway.Attempt{At: time.Now(), Error: err.Error()})
	if _, err := deliver(t, a, d); err == nil || !strings.Contains(err.Error(), "no Task") {
		t.Fatalf("the retry: %v", err)
	}
	if n := e.stub.Reports(); n != 1 {
		t.Fatalf("the report was posted %d times while waiting for its Task, want once", n)
	}
	d.CreatedAt = time.Now().Add(-31 * time.Minute)
	_, err = deliver(t, a, d)
	if !gateway.IsPermanent(err) || !strings.Contains(err.Error(), "link the report to its order") {
		t.Fatalf("after taskWaitMinutes the delivery must be parked, got %v", err)
	}
	task := e.stub.AddTask(orderSystem, orderValue, "in-progress")
	d.Attempts = append(d.Attempts, gateway.ReplayMarker(time.Now(), "ops"))
	if _, err := deliver(t, a, d); err != nil {
		t.Fatalf("replayed after the order arrived: %v", err)
	}
	if e.stub.Resource("Task", task)["status"] != "completed" {
		t.Fatal("the Task was not completed")
	}
}

// A cancelled order is not reopened by a report.
func TestCancelledTask(t *testing.T) {
	e := newEnv(t, false)
	e.stub.SeedOrder(orderSystem, orderValue, "cancelled")
	_, err := deliver(t, newAdapter(t, e.config("")), delivery(t, "r1~v1~goms"))
	if !gateway.IsPermanent(err) || !strings.Contains(err.Error(), "is cancelled") {
		t.Fatalf("want a permanent error for a cancelled Task, got %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	path, _ := keyFile(t)
	for _, c := range []struct{ config, want string }{
		{`{"baseUrl":"http://goms.example/x","tokenUrl":"https://t.example/token","clientId":"a","keyId":"k","privateKeyFile":"` + path + `"}`, "in clear"},
		{`{"baseUrl":"http://goms.example/x","tokenUrl":"https://t.example/token","clientId":"a","keyId":"k","privateKeyFile":"` + path + `","allowInsecure":true}`, "only for a stand-in on this machine"},
		{`{"baseUrl":"https://goms.example","tokenUrl":"https://t.example/token","clientId":"a","privateKeyFile":"` + path + `"}`, "keyId is required"},
		{`{"baseUrl":"https://goms.example","tokenUrl":"https://t.example/token","clientId":"a","keyId":"k"}`, "privateKeyFile is required"},
		{`{"baseUrl":"https://goms.example","tokenUrl":"https://t.example/token","clientId":"a","keyId":"k","privateKeyFile":"` + path + `","scope":"x"}`, "unknown field"},
	} {
		if _, err := goms.New([]byte(c.config)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.config, err, c.want)
		}
	}
}

// Someone else changes the Task between the adapter's read and its write:
// the write's ifMatch fails, and the adapter reads the Task again and
// completes it — whether GOMS says so in the transaction-response or as
// the request's own HTTP 412.
func TestTaskChangedMeanwhile(t *testing.T) {
	for _, asStatus := range []bool{false, true} {
		e := newEnv(t, true)
		a := newAdapter(t, e.config(""))
		e.stub.ChangeBeforeNextWrite("Task/"+e.taskID, asStatus)
		if _, err := deliver(t, a, delivery(t, "r1~v1~goms")); err != nil {
			t.Fatalf("HTTP 412: %v; the conflict was not read again: %v", asStatus, err)
		}
		task := e.stub.Resource("Task", e.taskID)
		if task["status"] != "completed" || task["meta"].(map[string]any)["versionId"] != "3" {
			t.Fatalf("HTTP 412: %v; Task %v version %v, want completed at version 3 (seeded, changed, completed)", asStatus, task["status"], task["meta"])
		}
	}
}

// TestNoGMSOrderNumber: GOMS knows an order by its GMS order number alone.
// A report without one was posted under the gateway's own order
// identifier, creating an order no requester placed; it is refused, for a
// person, before anything is sent.
func TestNoGMSOrderNumber(t *testing.T) {
	e := newEnv(t, true)
	a := newAdapter(t, e.config(""))
	orders := e.stub.Count("ServiceRequest") // the orders GOMS holds already
	d := delivery(t, "r9~v1~goms")
	d.Payload = mappedBundle(t, "trio-wgs-denovo-positive", func(m map[string]any) { delete(m, "orderNumber") })
	_, err := deliver(t, a, d)
	if !gateway.IsPermanent(err) || !strings.Contains(err.Error(), "no GMS order number") {
		t.Fatalf("want a permanent refusal naming the missing GMS order number, got %v", err)
	}
	if n := e.stub.Count("DiagnosticReport"); n != 0 {
		t.Errorf("%d DiagnosticReports stored on GOMS", n)
	}
	if n := e.stub.Count("ServiceRequest"); n != orders {
		t.Errorf("%d orders on GOMS, %d before", n, orders)
	}
}

// TestReplayIsANewRequest: a retry carries the X-Request-ID of the request
// it repeats; an operator's replay, after GOMS refused the report and the
// cause was fixed, is a new request with an id of its own (GOMS, had it
// de-duplicated, would only give the refusal again).
func TestReplayIsANewRequest(t *testing.T) {
	e := newEnv(t, true)
	a := newAdapter(t, e.config(""))
	posts := func() []string {
		var ids []string
		for _, s := range e.stub.Seen() {
			if s.Method == http.MethodPost && s.Path == gomsstub.Prefix+"/FHIR/R4" {
				ids = append(ids, s.RequestID)
			}
		}
		return ids
	}
	d := delivery(t, "r1~v1~goms")
	for range 2 {
		e.stub.FailEntry("Specimen", "422 Unprocessable Entity", "business-rule")
		if _, err := deliver(t, a, d); !gateway.IsPermanent(err) {
			t.Fatalf("want GOMS's refusal, got %v", err)
		}
	}
	d.Attempts = append(d.Attempts, gateway.ReplayMarker(time.Now(), "ops"))
	deliver(t, a, d)
	ids := posts()
	if len(ids) < 3 || ids[0] != ids[1] || ids[2] == ids[1] {
		t.Fatalf("X-Request-IDs of the posts: %v; want the retry's the same as the first, the replay's new", ids)
	}
}
