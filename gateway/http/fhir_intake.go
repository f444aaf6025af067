package httpapi

import (
	"errors"
	"mime"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// FHIRDecoded is a report read from a lab's FHIR Bundle (mappers/fhirr4).
type FHIRDecoded struct {
	Report   *gateway.Report
	Unmapped []gateway.Unmapped
	Warnings []gateway.Warning
	// Locate is the FHIRPath a report path was read from, so a problem
	// validation finds is answered where the lab wrote it.
	Locate func(reportPath string) string
}

// postFHIR is POST /fhir: a lab's report as a FHIR Bundle (transaction,
// batch, collection, document or message). It is read into the same report
// as JSON and HL7 v2 are, checked by the same rules (as HL7 v2 is: only
// what makes a report unfileable refuses it; the rest are warnings kept on
// it), stored, rendered and routed; the answer is 202 with the report's
// Location and an OperationOutcome listing the warnings and what was not
// read, or 200 for a resend. A refusal is an OperationOutcome whose
// expressions are FHIRPaths into the posted Bundle.
func (s *server) postFHIR(c *gin.Context) {
	c.Set(sourceKey, "fhir")
	if s.DecodeFHIR == nil {
		s.fail(c, gateway.Errorf(gateway.EUNSUPPORTED, "this gateway takes no FHIR intake"))
		return
	}
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || (mt != fhirJSON && mt != "application/json") {
		s.refused(c, "", nil, gateway.Errorf(gateway.EUNSUPPORTED, "send the Bundle as application/fhir+json (got %q)", c.GetHeader("Content-Type")))
		return
	}
	body, err := s.readBody(c, "the Bundle")
	if err != nil {
		s.refused(c, "", nil, err)
		return
	}
	p := principal(c)
	d, err := s.DecodeFHIR(body, p.ODSCode)
	if err != nil {
		named := ""
		if d != nil && d.Report != nil && gateway.ValidReportID(d.Report.ID) {
			named = d.Report.ID
		}
		s.refused(c, named, body, err)
		return
	}
	r := d.Report
	c.Set(reportIDKey, r.ID)
	entry := &gateway.AuditEntry{At: s.Clock.Now().UTC(), Subject: p.Subject, Role: p.Role, ODSCode: p.ODSCode,
		Action: "create", What: "report " + r.ID, Outcome: "success"}
	rec, created, err := s.Intake.Accept(c.Request.Context(), p, r, gateway.Submission{Source: "fhir", Audit: entry,
		Lenient: true, Unmapped: d.Unmapped, Warnings: d.Warnings, Message: s.inbound(c, r, body)})
	if err != nil {
		s.audit(c, "create", "report "+r.ID, nil, "invalid")
		s.refused(c, r.ID, body, locateProblems(err, d.Locate))
		return
	}
	outcome := "accepted"
	if !created {
		outcome = "resent"
		s.audit(c, "resend", "report "+rec.ID, []string{rec.ID}, "success")
	}
	s.observer().Received("fhir", outcome, len(rec.Warnings), len(rec.Unmapped))
	if !created {
		s.logMessage(c, rec.ID, outcome, body, nil, rec)
	}
	status := http.StatusAccepted
	if !created {
		status = http.StatusOK
	}
	c.Header("Location", "/v1/reports/"+rec.ID)
	c.Header("Content-Type", fhirJSON)
	c.JSON(status, acceptedOutcome(rec, created))
}

// locateProblems points each problem of a refusal at the FHIRPath it was
// read from, keeping the report field in the message.
func locateProblems(err error, locate func(string) string) error {
	var e *gateway.Error
	if !errors.As(err, &e) || len(e.Problems) == 0 || locate == nil {
		return err
	}
	located := *e
	located.Problems = nil
	for _, p := range e.Problems {
		located.Problems = append(located.Problems, gateway.Problem{Path: locate(p.Path), Message: "(" + p.Path + ") " + p.Message})
	}
	return &located
}

// acceptedOutcome says what was stored: the report and version, then each
// warning and each piece of content that was not read, with where it was.
func acceptedOutcome(rec *gateway.ReportRecord, created bool) operationOutcome {
	what := "accepted: report " + rec.ID + " version " + strconv.Itoa(rec.Version)
	if !created {
		what = "already stored: report " + rec.ID + " version " + strconv.Itoa(rec.Version) + " (a resend; nothing new was stored)"
	}
	oo := operationOutcome{ResourceType: "OperationOutcome", Issue: []issue{{Severity: "information", Code: "informational", Diagnostics: what}}}
	for _, w := range rec.Warnings {
		i := issue{Severity: "warning", Code: "business-rule", Diagnostics: w.Message}
		if w.Source != "" {
			i.Expression = []string{w.Source}
		}
		oo.Issue = append(oo.Issue, i)
	}
	for _, u := range rec.Unmapped {
		oo.Issue = append(oo.Issue, issue{Severity: "information", Code: "not-supported", Diagnostics: "not read: " + u.Reason,
			Expression: []string{u.Location}})
	}
	return oo
}
