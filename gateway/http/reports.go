package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nhs-genomics/results-gateway/gateway"
)

const fhirJSON = "application/fhir+json"

// acceptedReport is the answer to a report submission.
type acceptedReport struct {
	ID         string         `json:"id"`
	Version    int            `json:"version"`
	Status     gateway.Status `json:"status"`
	ReceivedAt time.Time      `json:"receivedAt"`
	Duplicate  bool           `json:"duplicate,omitempty"`
	// Held says it waits for a destination for its trust (see GET /v1/held):
	// stored, not yet on its way to anyone.
	Held  bool  `json:"held,omitempty"`
	Links links `json:"links"`
}

type links struct {
	Self string `json:"self"`
	FHIR string `json:"fhir"`
	PDF  string `json:"pdf"`
}

func reportLinks(id string) links {
	base := "/v1/reports/" + id
	return links{Self: base, FHIR: base + "/fhir", PDF: base + "/pdf"}
}

// readReport reads and decodes a native JSON report body: 415 for another
// content type, 413 over the limit, 400 for broken JSON, 422 for broken rules.
func (s *server) readReport(c *gin.Context) (*gateway.Report, error) {
	r, _, err := s.readReportBody(c)
	return r, err
}

// readReportBody also returns the body as received, for the message log.
func (s *server) readReportBody(c *gin.Context) (*gateway.Report, []byte, error) {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || (mt != "application/json" && mt != fhirJSON) {
		return nil, nil, gateway.Errorf(gateway.EUNSUPPORTED, "send the report as application/json (got %q)", c.GetHeader("Content-Type"))
	}
	body, err := s.readBody(c, "the report")
	if err != nil {
		return nil, nil, err
	}
	r, err := s.DecodeJSON(body)
	return r, body, err
}

// logMessage keeps a report as it arrived, with its outcome, in the
// message log (refused, unavailable, or resent: an accepted report's entry
// is stored with it, see inbound).
func (s *server) logMessage(c *gin.Context, reportID, outcome string, body []byte, err error, stored ...*gateway.ReportRecord) {
	if s.Messages == nil {
		return
	}
	m := s.newMessage(c, reportID, outcome, body)
	if len(stored) == 1 && len(stored[0].PDF) > 0 { // the lab's PDF is stored with the report: the log need not keep it again
		m.PDFOf, m.PDF = &gateway.VersionRef{ReportID: stored[0].ID, Version: stored[0].Version}, stored[0].PDF
	}
	var e *gateway.Error
	if errors.As(err, &e) {
		m.Reasons = append(m.Reasons, e.Message)
		for _, p := range e.Problems {
			m.Reasons = append(m.Reasons, p.Path+": "+p.Message)
		}
	}
	if err := s.Messages.RecordMessage(context.WithoutCancel(c.Request.Context()), m); err != nil {
		s.Log.Error("message log write failed", "report_id", reportID, "error", err)
	}
}

// inbound is the message log's entry for r as accepted, for Intake to store
// with the report when it is new (gateway.Submission.Message); nil without
// a message log. When r came with the lab's PDF the entry leaves its base64
// to the stored version: the PDF is kept once.
func (s *server) inbound(c *gin.Context, r *gateway.Report, body []byte) *gateway.InboundMessage {
	if s.Messages == nil {
		return nil
	}
	m := s.newMessage(c, r.ID, "accepted", body)
	if r.PDF != nil && len(r.PDF.Data) > 0 {
		m.PDFOf, m.PDF, m.PDFAt = &gateway.VersionRef{ReportID: r.ID, Version: r.Version}, r.PDF.Data, r.PDF.DataAt
	}
	return m
}

func (s *server) newMessage(c *gin.Context, reportID, outcome string, body []byte) *gateway.InboundMessage {
	now := s.Clock.Now().UTC()
	return &gateway.InboundMessage{ID: gateway.NewMessageID(now), ReceivedAt: now, Source: sourceOf(c), Sender: c.GetString(subjectKey),
		ReportID: reportID, Outcome: outcome, Raw: body}
}

// postReport is POST /v1/reports: 202 once the report and everything made
// from it are durably stored; 200 for an exact resend of a stored version.
func (s *server) postReport(c *gin.Context) {
	r, body, err := s.readReportBody(c)
	if err != nil {
		s.refused(c, namedReport(body), body, err)
		return
	}
	c.Set(reportIDKey, r.ID)
	p := principal(c)
	entry := &gateway.AuditEntry{At: s.Clock.Now().UTC(), Subject: p.Subject, Role: p.Role, ODSCode: p.ODSCode,
		Action: "create", What: "report " + r.ID, Outcome: "success"} // stored with the report, in one step
	rec, created, err := s.Intake.Accept(c.Request.Context(), p, r, gateway.Submission{Source: "json", Audit: entry, Message: s.inbound(c, r, body)})
	if err != nil {
		s.audit(c, "create", "report "+r.ID, nil, "invalid")
		s.refused(c, r.ID, body, err)
		return
	}
	outcome := "accepted"
	if !created {
		outcome = "resent"
		s.audit(c, "resend", "report "+rec.ID, []string{rec.ID}, "success")
	}
	s.observer().Received("json", outcome, len(rec.Warnings), 0)
	if !created {
		s.logMessage(c, rec.ID, outcome, body, nil, rec)
	}
	status := http.StatusAccepted
	if !created {
		status = http.StatusOK
	}
	c.Header("Location", "/v1/reports/"+rec.ID)
	c.JSON(status, acceptedReport{ID: rec.ID, Version: rec.Version, Status: rec.Status, ReceivedAt: rec.ReceivedAt,
		Duplicate: !created, Held: rec.Held, Links: reportLinks(rec.ID)})
}

// namedReport is the id a report body names, if it can be read, for the
// message log of a report refused before it was decoded: a lab asking
// about its report then finds the refusal under that id.
func namedReport(body []byte) string {
	var named struct {
		ID string `json:"id"`
	}
	json.Unmarshal(body, &named) // a body that is not JSON names nothing; a type error elsewhere leaves the id read
	if !gateway.ValidReportID(named.ID) {
		return "" // nothing a report could be filed under
	}
	return named.ID
}

// refused answers a report that was not stored, and says so in one log
// line (report id and error code, never the content), the message log and
// the metrics.
func (s *server) refused(c *gin.Context, reportID string, body []byte, err error) {
	outcome := "refused"
	if code := gateway.ErrorCode(err); code == gateway.EUNAVAILABLE || code == gateway.EINTERNAL {
		outcome = "unavailable"
	}
	args := []any{"report_id", reportID, "outcome", outcome, "code", gateway.ErrorCode(err), "caller", c.GetString(subjectKey)}
	if e, ok := errors.AsType[*gateway.Error](err); ok && e.Cause != nil && outcome == "unavailable" {
		args = append(args, "cause", e.Cause.Error()) // the store's own words (Redis out of memory, a refused connection): no report content
	}
	s.Log.Info("report not stored", args...)
	s.observer().Received(sourceOf(c), outcome, 0, 0)
	s.logMessage(c, reportID, outcome, body, err)
	s.fail(c, err)
}

// sourceKey names, for the message log and metrics, how a report came in
// when it was not native JSON (POST /fhir sets "fhir").
const sourceKey = "rg-source"

func sourceOf(c *gin.Context) string {
	if s := c.GetString(sourceKey); s != "" {
		return s
	}
	return "json"
}

func (s *server) observer() gateway.Observer {
	if s.Observer == nil {
		return gateway.NoObserver{}
	}
	return s.Observer
}

// validateReport is POST /v1/reports/$validate: the Bundle the report would
// make, or the OperationOutcome listing what is wrong. Nothing is stored.
func (s *server) validateReport(c *gin.Context) {
	r, err := s.readReport(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	bundle, err := s.Intake.Preview(r)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Data(http.StatusOK, fhirJSON, bundle)
}

// reportStatus is the answer to GET /v1/reports/{id}.
type reportStatus struct {
	ID         string         `json:"id"`
	Version    int            `json:"version"`
	Versions   []int          `json:"versions"`
	Status     gateway.Status `json:"status"`
	Outcome    string         `json:"outcome"`
	LabODS     string         `json:"labOds"`
	TrustODS   string         `json:"trustOds"`
	Source     string         `json:"source"`
	ReceivedAt time.Time      `json:"receivedAt"`
	Links      links          `json:"links"`
	// Held says the report waits for a destination for its trust.
	Held       bool               `json:"held,omitempty"`
	Warnings   []gateway.Warning  `json:"warnings"`   // what was missing or odd in the current version
	Unmapped   []gateway.Unmapped `json:"unmapped"`   // what the gateway could not map, with where it was
	Deliveries []deliveryView     `json:"deliveries"` // the deliveries of the versions the caller may read (for a trust, its own); an operator's: all
}

// versionsAndDeliveries is what a report's status shows besides its record:
// its stored versions and every delivery of them (the API and the console).
func (s *server) versionsAndDeliveries(ctx context.Context, id string) ([]int, []*gateway.Delivery, error) {
	versions, err := s.Reports.ReportVersions(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	deliveries, err := s.Queue.Deliveries(ctx, gateway.DeliveryFilter{ReportID: id, Limit: 1000})
	return versions, deliveries, err
}

func (s *server) getReport(c *gin.Context) {
	rec, ok := s.readable(c)
	if !ok {
		return
	}
	versions, deliveries, err := s.versionsAndDeliveries(c.Request.Context(), rec.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	held := rec.Held
	for _, d := range deliveries {
		if d.Version == rec.Version {
			held = false // released to a destination since
		}
	}
	// Only the deliveries of versions the caller may read, and of those a
	// trust's own (see visibility): a correction may have sent the report
	// to another trust's patient.
	vis := newVisibility(principal(c), rec)
	if err := s.loadFor(c.Request.Context(), vis, deliveries); err != nil {
		s.fail(c, err)
		return
	}
	views := make([]deliveryView, 0, len(deliveries))
	for _, d := range vis.deliveries(deliveries) {
		views = append(views, view(d))
	}
	st := reportStatus{ID: rec.ID, Version: rec.Version, Versions: versions, Status: rec.Status,
		Outcome: rec.Outcome, LabODS: rec.LabODS, TrustODS: rec.TrustODS, Source: rec.Source,
		ReceivedAt: rec.ReceivedAt, Links: reportLinks(rec.ID), Held: held, Warnings: rec.Warnings, Unmapped: rec.Unmapped, Deliveries: views}
	if st.Warnings == nil {
		st.Warnings = []gateway.Warning{}
	}
	if st.Unmapped == nil {
		st.Unmapped = []gateway.Unmapped{}
	}
	c.JSON(http.StatusOK, st)
}

func (s *server) getReportBundle(c *gin.Context) {
	if rec, ok := s.readable(c); ok {
		c.Data(http.StatusOK, fhirJSON, rec.Bundle)
	}
}

func (s *server) getReportPDF(c *gin.Context) {
	if rec, ok := s.readable(c); ok {
		c.Header("Content-Disposition", `inline; filename="`+rec.ID+"-v"+strconv.Itoa(rec.Version)+`.pdf"`)
		c.Data(http.StatusOK, "application/pdf", rec.PDF)
	}
}

// readable loads the report (or ?version=N) if the caller may see it. A
// report the caller may not see is "not found", exactly like a missing one.
func (s *server) readable(c *gin.Context) (*gateway.ReportRecord, bool) {
	ctx, id := c.Request.Context(), c.Param("id")
	var rec *gateway.ReportRecord
	var err error
	if v := c.Query("version"); v != "" {
		n, convErr := strconv.Atoi(v)
		if convErr != nil || n < 1 {
			s.fail(c, &gateway.Error{Code: gateway.EINVALID, Message: "bad version",
				Problems: []gateway.Problem{{Path: "version", Message: "must be a positive whole number"}}})
			return nil, false
		}
		rec, err = s.Reports.ReportVersion(ctx, id, n)
	} else {
		rec, err = s.Reports.Report(ctx, id)
	}
	what := "report " + id + strings.TrimPrefix(strings.TrimPrefix(c.FullPath(), "/v1/reports/:id"), "/console/reports/:id")
	if strings.HasPrefix(c.FullPath(), "/console/") {
		what += " (console)"
	}
	if err == nil && !principal(c).CanRead(rec) {
		s.audit(c, "read", what, []string{id}, "denied")
		err = gateway.Errorf(gateway.ENOTFOUND, "report %s not found", id)
	} else if gateway.ErrorCode(err) == gateway.ENOTFOUND {
		s.audit(c, "read", what, nil, "not-found")
		// A report its retention removed is gone, not unknown, to those who
		// may know it was there: its lab and operators. To anyone else it
		// stays not found, as any report they may not see is.
		if pruned, ok := errors.AsType[*gateway.PrunedReport](err); ok {
			if p := principal(c); p.Role == gateway.RoleOperator || p.Role == gateway.RoleLab && p.ODSCode == pruned.Lab {
				err = gateway.Errorf(gateway.EGONE, "%s (retention.reportsDays): only its audit trail is kept", pruned.Error())
			}
		}
	}
	if err != nil {
		s.fail(c, err)
		return nil, false
	}
	if strings.HasSuffix(c.FullPath(), "/fhir") { // the Bundle holds many resource types: the scopes must cover each
		if typ, ok := scopesCover(principal(c), rec.Resources); !ok {
			s.deny(c, "the Bundle holds "+typ+" resources, which the token's scopes do not allow reading")
			return nil, false
		}
	}
	c.Set(reportIDKey, rec.ID) // found and the caller's: its id may be logged
	if !s.auditedRead(c, "read", what, []string{id}) {
		return nil, false
	}
	return rec, true
}

func (s *server) healthz(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }

// readyz answers 503 while the store cannot take writes, so a load balancer
// stops sending reports this replica cannot accept.
func (s *server) readyz(c *gin.Context) {
	if err := s.Reports.Ping(c.Request.Context()); err != nil {
		s.Log.Warn("not ready", "error", err)
		s.fail(c, gateway.Errorf(gateway.EUNAVAILABLE, "the store is not available"))
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

// heldReport is one entry of GET /v1/held.
type heldReport struct {
	ID         string    `json:"id"`
	Version    int       `json:"version"`
	TrustODS   string    `json:"trustOds"`
	LabODS     string    `json:"labOds"`
	ReceivedAt time.Time `json:"receivedAt"`
	Warnings   int       `json:"warnings"`
	Links      links     `json:"links"`
}

// listHeld is GET /v1/held: the reports accepted for a trust that has no
// destination, oldest first. Add the trust to a destination and restart (or
// start another replica) and they go out.
func (s *server) listHeld(c *gin.Context) {
	limit := 1000
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			s.fail(c, &gateway.Error{Code: gateway.EINVALID, Message: "bad limit",
				Problems: []gateway.Problem{{Path: "limit", Message: "must be a whole number from 1 to 10000"}}})
			return
		}
		limit = n
	}
	recs, err := s.Held.HeldReports(c.Request.Context(), limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]heldReport, 0, len(recs))
	for _, r := range recs {
		out = append(out, heldReport{ID: r.ID, Version: r.Version, TrustODS: r.TrustODS, LabODS: r.LabODS,
			ReceivedAt: r.ReceivedAt, Warnings: len(r.Warnings), Links: reportLinks(r.ID)})
	}
	c.JSON(http.StatusOK, gin.H{"held": out})
}
