package httpapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// consoleReport shows a report's journey: each version received and
// validated (warnings, unmapped content), stored, each delivery and its
// attempts, every access; with the FHIR, the PDF and the HL7 one click
// away. It reads through the same functions as GET /v1/reports/{id} and
// /journey, and is audited as they are (once, by readable).
func (s *server) consoleReport(c *gin.Context) {
	rec, ok := s.readable(c)
	if !ok {
		return
	}
	j, err := s.buildJourney(c, rec)
	if err != nil {
		s.fail(c, err)
		return
	}
	versions, deliveries, err := s.versionsAndDeliveries(c.Request.Context(), rec.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	var previous *gateway.PreviousReport
	var changes []gateway.Change
	if r, err := rec.DecodeReport(); err == nil {
		previous, changes = r.Previous, r.Changes
	}
	var followedBy []string // the reports that re-interpret this one, from its journey
	for _, e := range j.Events {
		if e.Event == "followed-by" {
			if id, _, ok := strings.Cut(strings.TrimPrefix(e.Detail, "followed-by report "), " "); ok {
				followedBy = append(followedBy, id)
			}
		}
	}
	latest := 0
	if len(versions) > 0 {
		latest = slices.Max(versions)
	}
	paused, err := s.Queue.Paused(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, "report.html", gin.H{"Title": "Report " + rec.ID, "Refresh": refreshSeconds, "Report": rec, "Versions": versions, "Latest": latest, "Journey": j,
		"Deliveries": deliveries, "HL7": s.EncodeHL7 != nil, "Previous": previous, "NotLinked": gateway.NotLinked(rec.Warnings),
		"Changes": changes, "FollowedBy": followedBy, "Paused": paused})
}

// consoleReportHL7 shows the report as a legacy EPR would receive it:
// HL7 v2.5.1 ORU^R01 with default options, one segment per line.
func (s *server) consoleReportHL7(c *gin.Context) {
	if s.EncodeHL7 == nil {
		s.fail(c, gateway.Errorf(gateway.ENOTFOUND, "HL7 v2 output is not available"))
		return
	}
	rec, ok := s.readable(c)
	if !ok {
		return
	}
	r, err := rec.DecodeReport()
	if err != nil {
		s.fail(c, err)
		return
	}
	msg := s.EncodeHL7(r, rec.PDF)
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(strings.ReplaceAll(string(msg), "\r", "\n")))
}
