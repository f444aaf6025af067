package httpapi

import (
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// The console: server-rendered pages for integration staff (operators
// only), embedded so it works offline. Every number comes from the same
// store queries the API uses.

//go:embed console/*.html console/console.js console/favicon.svg
var consoleFiles embed.FS

var consolePages = template.Must(template.New("").Funcs(template.FuncMap{
	"list":     func(items ...string) []string { return items },
	"duration": func(seconds int64) string { return (time.Duration(seconds) * time.Second).String() },
	"percent":  func(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" },
	"seconds": func(s float64) string {
		return time.Duration(s * float64(time.Second)).Round(time.Millisecond).String()
	},
	"until": func(t time.Time) string { // "in 4m10s", or "now" when due
		if d := time.Until(t).Truncate(time.Second); d > 0 {
			return "in " + d.String()
		}
		return "now"
	},
	"since": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return time.Since(t).Round(time.Second).String()
	},
}).ParseFS(consoleFiles, "console/*.html"))

// refreshSeconds is how often the pages that watch the flow (the
// destinations, deliveries and a report's page) reload themselves, while
// the operator is not in the middle of something (console.js).
const refreshSeconds = 30

// consoleRoutes registers the console; routes.go calls it.
func (s *server) consoleRoutes(r *gin.Engine) {
	r.GET("/console/login", s.consoleLoginPage)
	r.GET("/console/console.js", func(c *gin.Context) {
		c.Header("Cache-Control", "no-cache")
		c.FileFromFS("console/console.js", http.FS(consoleFiles))
	})
	r.GET("/console/favicon.svg", func(c *gin.Context) {
		c.Header("Cache-Control", "max-age=86400")
		c.FileFromFS("console/favicon.svg", http.FS(consoleFiles))
	})
	r.POST("/console/login", s.consoleLogin)
	c := r.Group("/console", s.consoleAuth)
	c.GET("", s.consoleDashboard)
	c.GET("/deliveries", s.consoleDeliveries)
	c.POST("/deliveries/replay", s.consoleBulk("replay"))
	c.POST("/deliveries/cancel", s.consoleBulk("cancel"))
	c.POST("/destinations/:name/:action", s.consolePause)
	c.POST("/logout", s.consoleLogout)
	c.GET("/messages", s.consoleMessages)
	c.GET("/messages/:id", s.consoleMessage)
	c.GET("/turnaround", s.consoleTurnaround)
	c.GET("/reports/:id", s.consoleReport)
	c.GET("/reports/:id/fhir", s.getReportBundle)
	c.GET("/reports/:id/pdf", s.getReportPDF)
	c.GET("/reports/:id/hl7", s.consoleReportHL7)
	c.POST("/reports", s.consoleFind) // the header's Find box
}

// consoleFind takes what an operator has to hand: a report id (as
// written, or in capitals, as LIMS numbers mostly are), else an HL7
// message's control id (MSH-10) or a report id the message log names
// (a refused report was never stored). Nothing found: the report page
// says so, with a way on.
func (s *server) consoleFind(c *gin.Context) {
	ctx := c.Request.Context()
	q := strings.TrimSpace(c.PostForm("id"))
	for _, id := range slices.Compact([]string{q, strings.ToUpper(q)}) {
		if _, err := s.Reports.Report(ctx, id); err == nil {
			c.Redirect(http.StatusSeeOther, "/console/reports/"+url.PathEscape(id))
			return
		}
	}
	if s.Messages != nil && q != "" {
		for _, f := range []struct {
			param  string
			filter gateway.MessageFilter
		}{{"control", gateway.MessageFilter{ControlID: q, Limit: 1}}, {"report", gateway.MessageFilter{ReportID: q, Limit: 1}}} {
			if found, err := s.Messages.Messages(ctx, f.filter); err == nil && len(found) > 0 {
				c.Redirect(http.StatusSeeOther, "/console/messages?"+url.Values{f.param: {q}}.Encode())
				return
			}
		}
	}
	c.Redirect(http.StatusSeeOther, "/console/reports/"+url.PathEscape(q))
}

// consoleMessages lists inbound messages, newest first, by outcome,
// report id, control id (MSH-10) or sender.
func (s *server) consoleMessages(c *gin.Context) {
	if s.Messages == nil {
		s.fail(c, gateway.Errorf(gateway.ENOTFOUND, "the message log is not enabled"))
		return
	}
	f := gateway.MessageFilter{Outcome: c.Query("outcome"), ReportID: c.Query("report"), ControlID: c.Query("control"),
		Sender: c.Query("sender"), Source: c.Query("source"), Before: c.Query("before"), Limit: 200}
	var problems []gateway.Problem
	for name, into := range map[string]*time.Time{"from": &f.From, "to": &f.To} {
		if v := c.Query(name); v != "" {
			t, err := time.Parse(time.DateOnly, v)
			if err != nil {
				problems = append(problems, gateway.Problem{Path: name, Message: "must be a date, YYYY-MM-DD"})
			}
			*into = t
		}
	}
	if !f.To.IsZero() {
		f.To = f.To.Add(24 * time.Hour) // "to" is a whole day
	}
	if len(problems) > 0 {
		s.fail(c, &gateway.Error{Code: gateway.EINVALID, Message: "bad search", Problems: problems})
		return
	}
	list, err := s.Messages.Messages(c.Request.Context(), f)
	if err != nil {
		s.fail(c, err)
		return
	}
	older := ""
	if len(list) == f.Limit {
		q := c.Request.URL.Query()
		q.Set("before", list[len(list)-1].ID)
		older = "/console/messages?" + q.Encode()
	}
	s.render(c, "messages.html", gin.H{"Title": "Messages", "Messages": list, "Filter": f, "From": c.Query("from"), "To": c.Query("to"),
		"Older": older, "Paged": f.Before != ""})
}

// consoleMessage shows one message with its raw content; the view is
// audited, and nothing is shown if the audit cannot be written.
func (s *server) consoleMessage(c *gin.Context) {
	if s.Messages == nil {
		s.fail(c, gateway.Errorf(gateway.ENOTFOUND, "the message log is not enabled"))
		return
	}
	m, err := s.Messages.Message(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	var reports []string
	if m.ReportID != "" {
		reports = []string{m.ReportID}
	}
	if !s.auditedRead(c, "read", "inbound message "+m.ID+" (raw)", reports) {
		return
	}
	s.render(c, "message.html", gin.H{"Title": "Message " + m.ControlID, "Message": m, "Raw": strings.ReplaceAll(string(m.Raw), "\r", "\n")})
}

func (s *server) render(c *gin.Context, page string, data gin.H) {
	s.renderStatus(c, http.StatusOK, page, data)
}

// consolePath reports whether path is a console page, whose errors are
// pages too rather than the API's OperationOutcome JSON.
func consolePath(path string) bool {
	return path == "/console" || strings.HasPrefix(path, "/console/")
}

// consoleError shows what went wrong as a console page, with its header,
// so the operator keeps the navigation (and, for a report not found, a
// way on to the messages that name that id).
func (s *server) consoleError(c *gin.Context, status int, oo operationOutcome) {
	var problems []string
	for _, i := range oo.Issue {
		problems = append(problems, i.Diagnostics)
	}
	missing := ""
	if c.FullPath() == "/console/reports/:id" && status == http.StatusNotFound {
		missing = c.Param("id")
	}
	s.renderStatus(c, status, "error.html", gin.H{"Title": http.StatusText(status), "Problems": problems, "Missing": missing})
	c.Abort()
}

func (s *server) renderStatus(c *gin.Context, status int, page string, data gin.H) {
	data["CSRF"] = c.GetString("csrf")
	data["Who"] = c.GetString(subjectKey)
	// The outcome of the action that led here, from a cookie the action set
	// (not from the URL, where a link could put any text on the page).
	if f, err := c.Cookie(flashCookie); err == nil {
		data["Flash"], _ = url.QueryUnescape(f)
		http.SetCookie(c.Writer, &http.Cookie{Name: flashCookie, Value: "", Path: "/console", MaxAge: -1, HttpOnly: true})
	}
	if refresh, ok := data["Refresh"]; ok && refresh != 0 {
		data["AsOf"] = s.Clock.Now().UTC().Format("15:04:05")
	}
	c.Header("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'")
	c.Header("X-Frame-Options", "DENY")
	c.Status(status)
	c.Header("Content-Type", "text/html; charset=utf-8")
	if err := s.pages.ExecuteTemplate(c.Writer, page, data); err != nil {
		s.Log.Error("console page failed", "page", page, "error", err)
	}
}

func (s *server) consoleLoginPage(c *gin.Context) {
	next := c.Query("next")
	if !localConsolePath(next) {
		next = ""
	}
	s.render(c, "login.html", gin.H{"Title": "Log in", "Next": next, "Ended": c.Query("ended")})
}

// consoleLogin takes an operator's token (configured or JWT) once and
// gives the browser a session cookie instead.
func (s *server) consoleLogin(c *gin.Context) {
	// No session yet, so no CSRF token: refuse a login posted from another
	// site's page (login CSRF), as the browser's Origin header shows.
	if crossSite(c.Request) {
		s.fail(c, gateway.Errorf(gateway.EFORBIDDEN, "the login form was posted from another site"))
		return
	}
	p, err := s.Auth.Authenticate(c.PostForm("token"))
	refuse := ""
	switch {
	case err != nil || p.Role != gateway.RoleOperator:
		refuse = "That is not an operator's token."
	case !consoleScopes(p):
		refuse = "This token's scopes do not cover the console, which reads, searches and acts on every kind of resource: it needs system/*.rus (or no scope claim)."
	}
	if refuse != "" {
		c.Set(subjectKey, "")
		s.Log.Info("console login refused")
		c.Status(http.StatusUnauthorized)
		s.pages.ExecuteTemplate(c.Writer, "login.html", gin.H{"Title": "Log in", "Error": refuse, "Next": c.PostForm("next")})
		return
	}
	id, sess := s.sessions.start(p)
	http.SetCookie(c.Writer, &http.Cookie{Name: sessionCookie, Value: id, Path: "/console", HttpOnly: true,
		Secure: c.Request.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: int(time.Until(sess.expires).Seconds())})
	s.Log.Info("console login", "caller", p.Subject)
	next := c.PostForm("next")
	if !localConsolePath(next) {
		next = "/console"
	}
	c.Redirect(http.StatusSeeOther, next)
}

func (s *server) consoleLogout(c *gin.Context) {
	id, _ := c.Cookie(sessionCookie)
	s.sessions.end(id)
	http.SetCookie(c.Writer, &http.Cookie{Name: sessionCookie, Value: "", Path: "/console", MaxAge: -1, HttpOnly: true})
	c.Redirect(http.StatusSeeOther, "/console/login")
}

// consoleDashboard: each destination's queue by state, its age and what
// it delivered today; the last 24 hours' intake by source and a chart of
// it; the reports held for want of a destination.
func (s *server) consoleDashboard(c *gin.Context) {
	ctx := c.Request.Context()
	rows, err := s.destinationStatus(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	act, err := s.activity(ctx, 24)
	if err != nil {
		s.fail(c, err)
		return
	}
	held, err := s.Held.HeldReports(ctx, 1000)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, "dashboard.html", gin.H{"Title": "Destinations", "Refresh": refreshSeconds, "Destinations": rows, "Held": held, "States": gateway.DeliveryStates,
		"Activity": act, "Sources": sourceRows(act), "Chart": throughputChart(act)})
}

// consoleDeliveries lists deliveries by destination and state, 200 to a
// page, with the bulk actions for everything the filter matches, at one
// destination or all (the count shown and confirmed is the store's count
// of them all): replay for dead, cancelled and retrying deliveries (for
// these, "retry now"), cancel for pending, retrying and dead ones.
func (s *server) consoleDeliveries(c *gin.Context) {
	f, problems := deliveryFilter(c)
	if len(problems) > 0 {
		s.fail(c, &gateway.Error{Code: gateway.EINVALID, Message: "bad filter", Problems: problems})
		return
	}
	f.Limit = 200
	ctx := c.Request.Context()
	list, err := s.Queue.Deliveries(ctx, f)
	if err != nil {
		s.fail(c, err)
		return
	}
	counts, err := s.Queue.Counts(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	next := ""
	if len(list) == f.Limit {
		next = "/console/deliveries?" + url.Values{"destination": {f.Destination}, "state": {string(f.State)},
			"after": {formatCursor(gateway.CursorOf(list[len(list)-1]))}}.Encode()
	}
	paused, err := s.Queue.Paused(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	destinations := slices.Sorted(slices.Values(s.Destinations))
	if f.Destination != "" && !slices.Contains(destinations, f.Destination) {
		destinations = append(destinations, f.Destination) // no longer configured, still holding deliveries
	}
	count := matching(counts, f.Destination, f.State)
	s.render(c, "deliveries.html", gin.H{"Title": "Deliveries", "Refresh": refreshSeconds, "Deliveries": list, "Destination": f.Destination, "State": string(f.State),
		"Paused":       paused,
		"Destinations": destinations, "States": gateway.DeliveryStates,
		"Count": count, "Next": next, "Paged": !f.After.UpdatedAt.IsZero(),
		"ReplayAll": count > 0 && f.State != "" && gateway.Replayable(f.State), // nothing to act on: no "Replay all 0"
		"CancelAll": count > 0 && (f.State == gateway.DeliveryDead || f.State == gateway.DeliveryPending || f.State == gateway.DeliveryRetrying)})
}

// consoleBulk replays or cancels everything a filter matches, if it still
// matches the count the operator confirmed.
func (s *server) consoleBulk(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		req := bulkRequest{Destination: c.PostForm("destination"), State: gateway.DeliveryState(c.PostForm("state"))}
		if ids := c.PostFormArray("id"); len(ids) > 0 { // the ticked deliveries, not the whole filter
			req = bulkRequest{IDs: ids}
		} else {
			expect, err := strconv.Atoi(c.PostForm("expect"))
			if err != nil {
				s.fail(c, gateway.Errorf(gateway.EINVALID, "expect: the confirmed count is missing"))
				return
			}
			req.Expect = &expect
		}
		done, failed, more, err := s.bulkAct(c, action, req)
		msg := gateway.Plural(done, "delivery", "deliveries") + " " + pastTense[action]
		if err != nil {
			msg = err.Error()
		} else if len(failed) > 0 {
			msg += ", " + strconv.Itoa(len(failed)) + " could not be: " + failures(failed)
		}
		if more {
			msg += "; more match: " + action + " again"
		}
		flash(c, msg)
		if report := c.PostForm("report"); report != "" { // acted on from the report's page: back to it
			c.Redirect(http.StatusSeeOther, "/console/reports/"+url.PathEscape(report))
			return
		}
		back := req.Destination
		if back == everyDestination {
			back = "" // the list of every destination's
		}
		c.Redirect(http.StatusSeeOther, "/console/deliveries?destination="+template.URLQueryEscaper(back)+
			"&state="+template.URLQueryEscaper(string(req.State)))
	}
}

// consolePause pauses or resumes a destination.
func (s *server) consolePause(c *gin.Context) {
	name, action := c.Param("name"), c.Param("action")
	if action != "pause" && action != "resume" {
		s.fail(c, gateway.Errorf(gateway.ENOTFOUND, "no such action"))
		return
	}
	if err := s.setPaused(c, name, action == "pause"); err != nil {
		s.fail(c, err)
		return
	}
	flash(c, name+" "+action+"d")
	c.Redirect(http.StatusSeeOther, "/console")
}

// failures says why the first few deliveries a bulk action could not act
// on were refused (the flash is a cookie, so not all of them), as the
// API's answer lists them.
func failures(failed []gin.H) string {
	const shown = 3
	var why []string
	for _, f := range failed[:min(len(failed), shown)] {
		e := fmt.Sprint(f["error"])
		if len(e) > 300 {
			e = e[:300] + "…"
		}
		why = append(why, e)
	}
	s := strings.Join(why, "; ")
	if len(failed) > shown {
		s += fmt.Sprintf("; and %d more", len(failed)-shown)
	}
	return s
}

// pastTense names what a bulk action did.
var pastTense = map[string]string{"replay": "replayed", "cancel": "cancelled"}

// sameOrigin says whether an Origin header names this gateway as the
// browser reached it.
func sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

// crossSite reports whether a request came from another site's page, by
// what browsers send: Sec-Fetch-Site, Origin, and failing both the Referer
// (older browsers send no Origin on a same-origin form post).
func crossSite(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return true
	}
	if origin := r.Header.Get("Origin"); origin != "" && origin != "null" {
		return !sameOrigin(origin, r)
	}
	if referer := r.Header.Get("Referer"); referer != "" {
		return !sameOrigin(referer, r)
	}
	return false
}

// consoleScopes reports whether p's scopes cover what the console does:
// read and search every resource type, and act on deliveries and
// destinations, as the /v1 operations it stands for require.
func consoleScopes(p gateway.Principal) bool {
	for _, a := range []gateway.Access{gateway.AccessRead, gateway.AccessSearch, gateway.AccessUpdate} {
		if !p.Allows("*", a) {
			return false
		}
	}
	return true
}

const flashCookie = "rg_flash"

// flash leaves a one-time message for the page an action redirects to.
func flash(c *gin.Context, msg string) {
	http.SetCookie(c.Writer, &http.Cookie{Name: flashCookie, Value: url.QueryEscape(msg), Path: "/console", MaxAge: 60,
		HttpOnly: true, Secure: c.Request.TLS != nil, SameSite: http.SameSiteStrictMode})
}
