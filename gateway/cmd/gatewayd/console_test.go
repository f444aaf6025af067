package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/internal/receiver"
)

// dialogs records the messages of the confirm() dialogs the browser showed.
type dialogs struct {
	mu   sync.Mutex
	seen []string
}

func (d *dialogs) last() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.seen) == 0 {
		return ""
	}
	return d.seen[len(d.seen)-1]
}

// browser starts headless Chromium (Debian's; .ci/ensure-deps installs it)
// for one test, accepting confirm() dialogs as an operator would (and
// recording what they asked), and stops it when the test ends.
func browser(t *testing.T) (context.Context, *dialogs) {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs Chromium (apt-get install chromium): %v", err)
		}
		t.Skip("Chromium is not installed (apt-get install chromium): skipping the browser test")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	asked := &dialogs{}
	if err := chromedp.Listen(ctx, func(ev any) {
		if ev, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			asked.mu.Lock()
			asked.seen = append(asked.seen, ev.Message)
			asked.mu.Unlock()
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true}) // not from inside the listener
		}
	}); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx, asked
}

// pageText is the text of the element sel finds on the browser's page.
func pageText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("%s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// screenshotOnFailure keeps what the browser showed when a step failed.
func screenshotOnFailure(t *testing.T, ctx context.Context, name string) {
	if !t.Failed() {
		return
	}
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		dir := filepath.Join(os.TempDir(), "results-gateway-test-screenshots")
		os.MkdirAll(dir, 0o755)
		path := filepath.Join(dir, name+".png")
		os.WriteFile(path, png, 0o644)
		t.Logf("screenshot: %s", path)
	}
}

// TestConsoleInABrowser: an operator logs in, finds a refused HL7 message
// and why it was refused, finds the dead letters an EPR rejected, replays
// them all in one action once it is fixed, and sees them delivered — in
// headless Chromium.
func TestConsoleInABrowser(t *testing.T) {
	ctx, asked := browser(t)
	base, epr := rejectingEPR(t, "CONSOLE-1", "CONSOLE-2")
	defer screenshotOnFailure(t, ctx, "console")

	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/console"), // no session: the login page
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), "not-a-token"),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("error")),
		chromedp.SendKeys(chromedp.ID("token"), operatorToken),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("destinations")),
	); err != nil {
		t.Fatalf("log in: %v", err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(title, "Destinations") {
		t.Fatalf("after login the page is %q", title)
	}
	// A link cannot put its own words in the console's banner.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/console?msg=Call+0800+000+000+now"), chromedp.WaitVisible(chromedp.ID("destinations"))); err != nil {
		t.Fatal(err)
	}
	if shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("flash") !== null`)); err != nil || shown {
		t.Fatalf("a banner from the URL: %v %v", shown, err)
	}

	// A lab asks what happened to a message the gateway refused.
	if r := do(t, "POST", base+"/v1/hl7v2", labToken, "application/hl7-v2+er7", fixtures.HL7Message("no-patient")); !strings.Contains(string(r.body), "MSA|AE") {
		t.Fatalf("the message was not refused: %s", r.body)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/console/messages?outcome=refused"),
		chromedp.WaitVisible(chromedp.ID("messages")),
		chromedp.Click(chromedp.CSS(`#messages tr[data-control="NOPAT-1"] a`)),
		chromedp.WaitVisible(chromedp.ID("raw")),
	); err != nil {
		t.Fatalf("find the refused message: %v", err)
	}
	raw, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("raw")))
	if err != nil {
		t.Fatal(err)
	}
	reasons, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("reasons")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(raw, "NOPAT-1") || !strings.Contains(reasons, "does not identify the patient") {
		t.Fatalf("the refused message's page: reasons %q, raw %.80q", reasons, raw)
	}

	// Searching by source and date finds it; a window before it does not.
	today := time.Now().UTC().Format(time.DateOnly)
	for query, want := range map[string]int{"source=hl7v2-http&from=" + today + "&to=" + today: 1, "control=NOPAT-1&to=2000-01-01": 0} {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/console/messages?"+query), chromedp.WaitVisible(chromedp.ID("messages"))); err != nil {
			t.Fatal(err)
		}
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#messages tr[data-control="NOPAT-1"]').length`))
		if err != nil || n != want {
			t.Errorf("messages?%s lists NOPAT-1 %d times, want %d (%v)", query, n, want, err)
		}
	}

	deadPage := base + "/console/deliveries?destination=r0a-epr&state=dead"
	rows := func(state string) int {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#deliveries tr[data-state="`+state+`"]').length`))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// until shows page again and again (bounded) until it lists n deliveries in state.
	until := func(page, state string, n int) {
		for i := 0; ; i++ { // deliveries happen in the background
			if err := chromedp.Do(ctx, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.ID("deliveries"))); err != nil {
				t.Fatal(err)
			}
			if rows(state) == n {
				return
			}
			if i > 100 {
				t.Fatalf("the console shows %d %s, want %d", rows(state), state, n)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	until(deadPage, "dead", 2)

	if dir := os.Getenv("RG_SCREENSHOT_DIR"); dir != "" { // the README's picture of the dashboard
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/console"), chromedp.WaitVisible(chromedp.ID("destinations"))); err != nil {
			t.Fatal(err)
		}
		if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
			os.WriteFile(filepath.Join(dir, "console-dashboard.png"), png, 0o644)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(deadPage), chromedp.WaitVisible(chromedp.ID("deliveries"))); err != nil {
			t.Fatal(err)
		}
	}
	epr.Set(receiver.Accept) // the trust fixes its EPR
	flash := func() string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("flash")))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// One ticked delivery first, then all that are left.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#deliveries tr[data-report="CONSOLE-1"] input[name="id"]`)),
		chromedp.Click(chromedp.ID("replay-selected")), // confirm() is accepted
		chromedp.WaitVisible(chromedp.ID("flash")),
	); err != nil {
		t.Fatalf("replay the ticked one: %v", err)
	}
	if got := asked.last(); got != "Replay the 1 ticked deliveries?" {
		t.Errorf("the confirmation asked %q", got)
	}
	if f := flash(); !strings.Contains(f, "1 delivery replayed") {
		t.Fatalf("after replaying the ticked one the page says %q", f)
	}
	until(deadPage, "dead", 1)
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("replay")),
		chromedp.WaitVisible(chromedp.ID("flash")),
	); err != nil {
		t.Fatalf("replay all: %v", err)
	}
	if got := asked.last(); got != "Replay all 1 dead deliveries to r0a-epr?" {
		t.Errorf("the confirmation asked %q", got)
	}
	if f := flash(); !strings.Contains(f, "1 delivery replayed") {
		t.Fatalf("after replay all the page says %q", f)
	}
	until(base+"/console/deliveries?destination=r0a-epr&state=delivered", "delivered", 2)

	// The dashboard counts what came in by source and what each destination delivered today.
	text := func(sel string) string { t.Helper(); return pageText(t, ctx, sel) }
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/console"), chromedp.WaitVisible(chromedp.ID("sources"))); err != nil {
		t.Fatal(err)
	}
	if got := text(`#sources tr[data-source="json"] td.accepted`); got != "2" {
		t.Errorf("JSON accepted = %q, want 2", got)
	}
	if got := text(`#sources tr[data-source="hl7v2-http"] td.refused`); got != "1" {
		t.Errorf("HL7 over HTTP refused = %q, want 1", got)
	}
	if got := text(`#destinations tr[data-destination="r0a-epr"] td.today`); got != "2" {
		t.Errorf("r0a-epr delivered today = %q, want 2", got)
	}
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#throughput rect.out').length`))
	if err != nil || bars < 1 {
		t.Errorf("the throughput chart has %d delivered bars (%v)", bars, err)
	}

	// The report's journey, found by id, with its outputs one click away.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("find-report"), "CONSOLE-1\n"),
		chromedp.WaitVisible(chromedp.ID("journey")),
	); err != nil {
		t.Fatalf("find the report: %v", err)
	}
	events, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#journey tr[data-event]')].map(r => r.dataset.event)`))
	if err != nil {
		t.Fatal(err)
	}
	if j := strings.Join(events, " "); !strings.Contains(j, "received queued") || !strings.Contains(j, "attempt") {
		t.Errorf("journey events: %s", j)
	}
	if got := text(`#report-deliveries tr[data-destination="r0a-epr"]`); !strings.Contains(got, "delivered") {
		t.Errorf("the report's r0a-epr delivery: %q", got)
	}
	for link, want := range map[string]string{"out-fhir": `"resourceType":"Bundle"`, "out-hl7": "MSH|^~\\&|"} {
		href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("`+link+`").href`))
		if err != nil {
			t.Fatalf("%s: %v", link, err)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(href)); err != nil {
			t.Fatalf("%s: %v", link, err)
		}
		if body := text("body"); !strings.Contains(body, want) || !strings.Contains(body, "CONSOLE-1") {
			t.Errorf("%s: %.200q", link, body)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/console/reports/CONSOLE-1"), chromedp.WaitVisible(chromedp.ID("journey"))); err != nil {
			t.Fatal(err)
		}
	}

	// Each console view is in the report's audit trail once, named plainly.
	journey := string(get(t, base+"/v1/reports/CONSOLE-1/journey", operatorToken).body)
	if views := strings.Count(journey, "(console)"); views != 5 { // the report page three times, its FHIR and its HL7
		t.Errorf("%d console views in the audit trail, want 5", views)
	}
	if strings.Contains(journey, "/console/reports") {
		t.Error("an audit entry names the console's route instead of what was read")
	}

	// Turnaround: the fixture's sample reached the lab on 2 September and the
	// report was issued on 2 November, 61 days: outside R27.1's 42.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/console/turnaround?month=2026-11&trust=R0A"), chromedp.WaitVisible(chromedp.ID("turnaround"))); err != nil {
		t.Fatal(err)
	}
	row := `#turnaround tr[data-trust="R0A"][data-test="R27.1"]`
	if got := text(row + " td.reports"); got != "2" {
		t.Errorf("turnaround reports = %q, want 2", got)
	}
	if got := text(row + " td.within"); !strings.HasPrefix(got, "0.0% (0/2)") {
		t.Errorf("within target = %q, want 0.0%% (0/2)", got)
	}
	if got := text(row + " td.out"); got == "" {
		t.Error("no issued -> delivered time")
	}
}

// TestConsoleRetryNowAndActingFromAReport: an EPR answers 503 with
// Retry-After of an hour, so two deliveries wait an hour to retry. The
// operator, told the EPR is back, sends one now from its report's page
// and the other from the list of every destination's retrying
// deliveries; both are delivered at once. Pausing asks first.
func TestConsoleRetryNowAndActingFromAReport(t *testing.T) {
	ctx, asked := browser(t)
	base, epr := withEPR(t, func(epr *receiver.Receiver) { epr.FailFirst(2, "3600") }, "RETRY-1", "RETRY-2")
	defer screenshotOnFailure(t, ctx, "console-retry-now")
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/console/login"),
		chromedp.SendKeys(chromedp.ID("token"), operatorToken),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("destinations")),
	); err != nil {
		t.Fatalf("log in: %v", err)
	}
	text := func(sel string) string { t.Helper(); return pageText(t, ctx, sel) }
	state := func(report string) string {
		t.Helper()
		var d struct{ State string }
		json.Unmarshal(get(t, base+"/v1/deliveries/"+report+"~v1~r0a-epr", operatorToken).body, &d)
		return d.State
	}
	waitState := func(report, want string) {
		t.Helper()
		for i := 0; state(report) != want; i++ {
			if i > 400 {
				t.Fatalf("%s is %s at r0a-epr, want %s", report, state(report), want)
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
	waitState("RETRY-1", "retrying")
	waitState("RETRY-2", "retrying")

	// From the report's page: it says when the next attempt is, and sends it now.
	reportRow := `#report-deliveries tr[data-destination="r0a-epr"]`
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/console/reports/RETRY-1"), chromedp.WaitVisible(chromedp.ID("report-deliveries"))); err != nil {
		t.Fatal(err)
	}
	if got := text(reportRow); !strings.Contains(got, "next attempt in 59m") {
		t.Errorf("the report page's delivery: %q", got)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(reportRow+" button.replay")), chromedp.WaitVisible(chromedp.ID("flash"))); err != nil {
		t.Fatalf("retry now: %v", err)
	}
	if got := asked.last(); got != "Send version 1 to r0a-epr now?" {
		t.Errorf("the confirmation asked %q", got)
	}
	if f := text("#flash"); !strings.Contains(f, "1 delivery replayed") {
		t.Errorf("after retry now the report page says %q", f)
	}
	waitState("RETRY-1", "delivered")
	if state("RETRY-2") != "retrying" {
		t.Fatalf("retrying one report's delivery moved the other's: %s", state("RETRY-2"))
	}

	// Every destination's retrying deliveries, chosen from the lists, with
	// the next attempt shown, all sent now.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/console/deliveries"),
		chromedp.SetValue(chromedp.CSS(`select[name="state"]`), "retrying"),
		chromedp.Click(chromedp.CSS(`form[action="/console/deliveries"] button`)),
		chromedp.WaitVisible(chromedp.ID("replay")),
	); err != nil {
		t.Fatalf("list the retrying deliveries: %v", err)
	}
	if got := text(`#deliveries tr[data-report="RETRY-2"] td.next`); !strings.HasPrefix(got, "in 59m") {
		t.Errorf("next attempt shown as %q", got)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("replay")), chromedp.WaitVisible(chromedp.ID("flash"))); err != nil {
		t.Fatalf("retry all now: %v", err)
	}
	if got := asked.last(); got != "Retry all 1 retrying deliveries to every destination now?" {
		t.Errorf("the confirmation asked %q", got)
	}
	waitState("RETRY-2", "delivered")
	if n, _ := epr.Requests(); n != 4 {
		t.Errorf("the EPR had %d requests, want 4: two failures, then each report once", n)
	}

	// Pausing a destination asks first.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/console"),
		chromedp.Click(chromedp.CSS(`#destinations tr[data-destination="r0a-epr"] button`)),
		chromedp.WaitVisible(chromedp.ID("flash")),
	); err != nil {
		t.Fatalf("pause: %v", err)
	}
	if got := asked.last(); got != "Pause r0a-epr? Nothing is sent to it until it is resumed." {
		t.Errorf("the confirmation asked %q", got)
	}
	if got := text(`#destinations tr[data-destination="r0a-epr"]`); !strings.Contains(got, "paused") {
		t.Errorf("after pausing: %q", got)
	}
	// The pause shows where its deliveries are looked at, not only on the
	// dashboard: a retry there waits for the resume.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/console/deliveries?destination=r0a-epr"), chromedp.WaitVisible(chromedp.ID("paused"))); err != nil {
		t.Fatalf("the deliveries to a paused destination do not say it is paused: %v", err)
	}
	if got := text(`#deliveries tr[data-report="RETRY-1"]`); !strings.Contains(got, "r0a-epr paused") {
		t.Errorf("a delivery to the paused destination: %q", got)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/console/reports/RETRY-1"), chromedp.WaitVisible(chromedp.ID("report-deliveries"))); err != nil {
		t.Fatal(err)
	}
	if got := text(reportRow); !strings.Contains(got, "paused") {
		t.Errorf("the report page's delivery to the paused destination: %q", got)
	}
	if got := text("#as-of"); !strings.Contains(got, "refreshes itself every 30 seconds") {
		t.Errorf("the report page says nothing of when it was drawn: %q", got)
	}
}

// TestConsoleLoginRefusesOtherSites: a login form posted from another
// site's page (login CSRF) gets no session; from the console's own page it does.
func TestConsoleLoginRefusesOtherSites(t *testing.T) {
	base := startGateway(t)
	login := func(origin string) *http.Response { return consoleLogin(t, base, origin) }
	if resp := login("https://evil.example"); resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
		t.Fatalf("a login from another site: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	if resp := login(base); resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) == 0 {
		t.Fatalf("a login from the console's own page: %d", resp.StatusCode)
	}
}

// consoleLogin posts the operator's token to the console's login form, as
// a page at origin would.
func consoleLogin(t *testing.T, base, origin string) *http.Response {
	t.Helper()
	return consoleLoginWith(t, base, operatorToken, map[string]string{"Origin": origin})
}

// TestConsoleLoginChecksWhereFromAndWhatTheTokenAllows: a login from
// another site is refused whichever header shows it; a JWT whose scopes do
// not cover the console gets no session; a session ends when its JWT does.
func TestConsoleLoginChecksWhereFromAndWhatTheTokenAllows(t *testing.T) {
	base, iss := pullGateway(t, "embedded")
	for _, h := range []map[string]string{{"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}, {"Referer": "https://evil.example/page"}} {
		if resp := consoleLoginWith(t, base, operatorToken, h); resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
			t.Errorf("a login with %v: %d, cookies %v", h, resp.StatusCode, resp.Cookies())
		}
	}
	for _, h := range []map[string]string{{}, {"Sec-Fetch-Site": "same-origin", "Referer": base + "/console/login"}} {
		if resp := consoleLoginWith(t, base, operatorToken, h); resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) == 0 {
			t.Errorf("a login with %v: %d, want a session", h, resp.StatusCode)
		}
	}
	operatorJWT := func(scope string, exp time.Time) string {
		return iss.Sign("ES384", map[string]any{"iss": "https://auth.example.nhs.uk", "aud": "results-gateway", "sub": "ops",
			"exp": exp.Unix(), "role": "operator", "scope": scope})
	}
	narrow := operatorJWT("system/DiagnosticReport.read", time.Now().Add(time.Hour))
	if resp := consoleLoginWith(t, base, narrow, nil); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Errorf("an operator JWT that may only read DiagnosticReports: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	expires := time.Now().Add(3 * time.Second).Truncate(time.Second) // exp is in whole seconds
	resp := consoleLoginWith(t, base, operatorJWT("system/*.rus", expires), nil)
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) == 0 {
		t.Fatalf("an operator JWT with system/*.rus: %d", resp.StatusCode)
	}
	page := func() int {
		req, _ := http.NewRequest(http.MethodGet, base+"/console/deliveries", nil)
		req.AddCookie(resp.Cookies()[0])
		r, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	if got := page(); got != http.StatusOK && time.Now().Before(expires) {
		t.Fatalf("the session's first page: %d", got)
	}
	for deadline := time.Now().Add(time.Minute); page() == http.StatusOK; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the console session outlived its JWT by a minute")
		}
	}
	if time.Now().Before(expires) {
		t.Error("the session ended before its JWT expired")
	}
}

// consoleLoginWith posts token to the console's login form with the given headers.
func consoleLoginWith(t *testing.T, base, token string, headers map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/console/login", strings.NewReader("token="+url.QueryEscape(token)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestConsoleLoginReturnsToThePageAsked: a link to a console page, opened
// without a session (a bookmark, a link in an alert), leads back to that
// page after the login, never to another site; a session that has ended
// says so, and says an action posted with it was not done.
func TestConsoleLoginReturnsToThePageAsked(t *testing.T) {
	base := startGateway(t)
	open := func(method, path string, cookie *http.Cookie) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader("csrf=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Referer", base+"/console/deliveries?state=dead")
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := open(http.MethodGet, "/console/reports/LINKED-1?x=1", nil)
	loginAt := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loginAt, "/console/login?") {
		t.Fatalf("no session: %d %s", resp.StatusCode, loginAt)
	}
	u, _ := url.Parse(loginAt)
	if next := u.Query().Get("next"); next != "/console/reports/LINKED-1?x=1" || u.Query().Get("ended") != "" {
		t.Fatalf("the login is sent next=%q ended=%q", next, u.Query().Get("ended"))
	}
	if page := string(get(t, base+loginAt, "").body); !strings.Contains(page, `name="next" value="/console/reports/LINKED-1?x=1"`) {
		t.Fatalf("the login form does not carry the page asked for:\n%s", page)
	}
	for next, want := range map[string]string{"/console/reports/LINKED-1?x=1": "/console/reports/LINKED-1?x=1",
		"https://evil.example/console": "/console", "//evil.example/console": "/console", "/consolex": "/console", "/v1/reports": "/console"} {
		form := "token=" + url.QueryEscape(operatorToken) + "&next=" + url.QueryEscape(next)
		req, _ := http.NewRequest(http.MethodPost, base+"/console/login", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", base)
		r, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if got := r.Header.Get("Location"); r.StatusCode != http.StatusSeeOther || got != want {
			t.Errorf("login with next=%q: %d to %q, want %q", next, r.StatusCode, got, want)
		}
	}
	ended := &http.Cookie{Name: "rg_session", Value: "a-session-that-ended"}
	for _, c := range []struct{ method, path, ended, next string }{
		{http.MethodGet, "/console/deliveries", "1", "/console/deliveries"},
		{http.MethodPost, "/console/deliveries/replay", "action", "/console/deliveries?state=dead"},
	} {
		u, _ := url.Parse(open(c.method, c.path, ended).Header.Get("Location"))
		if u.Query().Get("ended") != c.ended || u.Query().Get("next") != c.next {
			t.Errorf("%s %s with an ended session: to %s", c.method, c.path, u)
		}
		if page := string(get(t, base+u.String(), "").body); !strings.Contains(page, "Your session has ended") ||
			strings.Contains(page, "was not done") != (c.ended == "action") {
			t.Errorf("%s %s: the login page does not say what happened:\n%s", c.method, c.path, page)
		}
	}
}
