package main

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/nhs-genomics/results-gateway/fixtures"
)

// consoleGet fetches a console page with the session cookie and returns
// its status, content type and body.
func consoleGet(t *testing.T, base string, session *http.Cookie, path string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.AddCookie(session)
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// consolePost posts a console form with the session cookie and returns
// the response (redirects not followed).
func consolePost(t *testing.T, base string, session *http.Cookie, path string, form url.Values) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(session)
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func consoleSession(t *testing.T, base string) *http.Cookie {
	t.Helper()
	resp := consoleLogin(t, base, base)
	for _, c := range resp.Cookies() {
		if c.Name == "rg_session" {
			return c
		}
	}
	t.Fatalf("no session cookie: %v", resp.Cookies())
	return nil
}

// A console page that cannot be shown (a report id mistyped in the Find
// box, a search with a bad date, a form with a stale CSRF token) is a
// console page with its header, saying what went wrong, not the API's
// raw OperationOutcome JSON that leaves the operator without navigation.
func TestConsoleErrorsArePages(t *testing.T) {
	base := startGateway(t)
	session := consoleSession(t, base)
	for _, tc := range []struct {
		path   string
		status int
		says   string
	}{
		{"/console/reports/NO-SUCH-REPORT", http.StatusNotFound, "report NO-SUCH-REPORT not found"},
		{"/console/messages?from=2026-13-01", http.StatusUnprocessableEntity, "must be a date"},
		{"/console/reports/a%2Fb", http.StatusNotFound, "no such endpoint"},
	} {
		status, ctype, body := consoleGet(t, base, session, tc.path)
		if status != tc.status || !strings.HasPrefix(ctype, "text/html") || !strings.Contains(body, tc.says) ||
			!strings.Contains(body, `href="/console/messages"`) {
			t.Errorf("%s: %d %s\n%s", tc.path, status, ctype, body)
		}
	}
	_, _, page := consoleGet(t, base, session, "/console")
	if m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(page); m == nil {
		t.Fatalf("no CSRF token on the dashboard:\n%s", page)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/console/destinations/epr-files/pause", strings.NewReader("csrf=stale"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(session)
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(b), "reload the page") {
		t.Errorf("stale CSRF: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	// The API still answers OperationOutcomes.
	req, _ = http.NewRequest(http.MethodGet, base+"/v1/reports/NO-SUCH-REPORT", nil)
	req.Header.Set("Authorization", "Bearer "+operatorToken)
	if resp, err := noRedirects.Do(req); err != nil || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/fhir+json") {
		t.Errorf("the API's 404: %v %v", err, resp.Header)
	}
}

// A bulk action that could not act on some deliveries says which and why
// (the API's answer lists them), not just how many: the operator must see
// e.g. that an earlier version is never sent again, or that an id is gone.
func TestConsoleBulkSaysWhyDeliveriesCouldNotBeActedOn(t *testing.T) {
	base := startGateway(t)
	session := consoleSession(t, base)
	_, _, page := consoleGet(t, base, session, "/console/deliveries")
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the deliveries page:\n%s", page)
	}
	resp := consolePost(t, base, session, "/console/deliveries/replay",
		url.Values{"csrf": {m[1]}, "id": {"GONE-1~v1~epr-files", "GONE-2~v1~epr-files"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("replay ticked: %d", resp.StatusCode)
	}
	flash := ""
	for _, c := range resp.Cookies() {
		if c.Name == "rg_flash" {
			flash, _ = url.QueryUnescape(c.Value)
		}
	}
	if !strings.Contains(flash, "2 could not be") || !strings.Contains(flash, "GONE-1~v1~epr-files not found") ||
		!strings.Contains(flash, "GONE-2~v1~epr-files not found") {
		t.Errorf("flash %q", flash)
	}
}

// Every control has an accessible name that says what it acts on: the
// header's Find box (a placeholder is not a label), and each destination's
// Pause button (five buttons all named "Pause" tell a screen reader
// nothing).
func TestConsoleControlsHaveNames(t *testing.T) {
	base := startGateway(t)
	session := consoleSession(t, base)
	_, _, page := consoleGet(t, base, session, "/console")
	if !regexp.MustCompile(`<label for="find-report"[^>]*>|<input[^>]*id="find-report"[^>]*aria-label="[^"]+"`).MatchString(page) &&
		!regexp.MustCompile(`<input[^>]*aria-label="[^"]+"[^>]*id="find-report"`).MatchString(page) {
		t.Errorf("the Find box has no label:\n%s", page)
	}
	if !strings.Contains(page, `aria-label="Pause r0a-files"`) {
		t.Errorf("the Pause buttons do not name their destination:\n%s", page)
	}
}

// TestConsoleFindTakesWhatTheOperatorHas: the Find box takes a report id as
// typed in lower case, an HL7 message's control id, or the id of a report
// that was refused (never stored, so only the message log names it).
func TestConsoleFindTakesWhatTheOperatorHas(t *testing.T) {
	base, _, _ := startGatewayFull(t, nil)
	if r := post(t, base, labToken, withID(t, fixtures.Report("negative-wgs"), "FIND-1")); r.status != http.StatusAccepted {
		t.Fatalf("post: %d", r.status)
	}
	if r := do(t, http.MethodPost, base+"/v1/hl7v2", labToken, "application/hl7-v2+er7", oru(t, "compound-het-ar", "FIND-CTRL-7", nil)); r.status != http.StatusOK {
		t.Fatalf("hl7: %d", r.status)
	}
	refused := withID(t, fixtures.Report("negative-wgs"), "FIND-REFUSED")
	refused = []byte(strings.Replace(string(refused), `"status":"final"`, `"status":"no-such-status"`, 1))
	if r := post(t, base, labToken, refused); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("the refused report: %d %s", r.status, r.body)
	}
	session := consoleSession(t, base)
	_, _, page := consoleGet(t, base, session, "/console")
	csrf := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(page)[1]
	for typed, want := range map[string]string{
		"FIND-1": "/console/reports/FIND-1", " find-1 ": "/console/reports/FIND-1",
		"FIND-CTRL-7": "/console/messages?control=FIND-CTRL-7", "FIND-REFUSED": "/console/messages?report=FIND-REFUSED",
		"NOTHING-HERE": "/console/reports/NOTHING-HERE",
	} {
		if got := consolePost(t, base, session, "/console/reports", url.Values{"csrf": {csrf}, "id": {typed}}).Header.Get("Location"); got != want {
			t.Errorf("Find %q went to %q, want %q", typed, got, want)
		}
	}
}

// TestNothingToActOnSaysSo: with no dead letters the deliveries page offers
// no "Replay all 0" or "Cancel all 0", and the bulk API's failures are an
// empty list, not null.
func TestNothingToActOnSaysSo(t *testing.T) {
	base := startGateway(t)
	session := consoleSession(t, base)
	_, _, page := consoleGet(t, base, session, "/console/deliveries?state=dead")
	if strings.Contains(page, `id="replay-all"`) || strings.Contains(page, `id="cancel-all"`) {
		t.Errorf("bulk actions offered on nothing:\n%s", page)
	}
	r := do(t, http.MethodPost, base+"/v1/deliveries/replay", operatorToken, "application/json", []byte(`{"state": "dead", "destination": "*", "expect": 0}`))
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"failed":[]`) {
		t.Errorf("bulk replay of nothing: %d %s", r.status, r.body)
	}
}
