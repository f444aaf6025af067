package httpapi

import (
	"regexp"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// turnaroundLimit bounds the reports one month's turnaround reads (a GLH
// issues roughly 40,000 a month; the answer says when it is partial).
const turnaroundLimit = 50000

var odsPattern = regexp.MustCompile(`^[A-Z0-9]{3,6}$`)

type turnaroundStore struct {
	gateway.Reports
	gateway.ReportIndex
	gateway.Queue
	gateway.AuditLog
}

// turnaround reads ?month=YYYY-MM (default: this month) and ?trust=.
func (s *server) turnaround(c *gin.Context) (*gateway.TurnaroundReport, error) {
	if s.Targets == nil {
		return nil, gateway.Errorf(gateway.ENOTFOUND, "turnaround targets are not configured")
	}
	month := s.Clock.Now().UTC()
	if m := c.Query("month"); m != "" {
		t, err := time.Parse("2006-01", m)
		if err != nil {
			return nil, &gateway.Error{Code: gateway.EINVALID, Message: "bad month",
				Problems: []gateway.Problem{{Path: "month", Message: "must be YYYY-MM"}}}
		}
		month = t
	}
	trust := c.Query("trust")
	if trust != "" && !odsPattern.MatchString(trust) {
		return nil, &gateway.Error{Code: gateway.EINVALID, Message: "bad trust",
			Problems: []gateway.Problem{{Path: "trust", Message: "must be an ODS code"}}}
	}
	return gateway.Turnaround(c.Request.Context(), turnaroundStore{s.Reports, s.Index, s.Queue, s.Audit}, s.Targets, month, trust, turnaroundLimit)
}

// getTurnaround is GET /v1/turnaround?month=YYYY-MM&trust=ODS.
func (s *server) getTurnaround(c *gin.Context) {
	rep, err := s.turnaround(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(200, gin.H{"month": rep.Month, "trust": rep.Trust, "rows": rep.Rows, "truncated": rep.Truncated, "targets": s.TargetsVersion})
}

// consoleTurnaround is the Turnaround page: the same rows as a table.
func (s *server) consoleTurnaround(c *gin.Context) {
	rep, err := s.turnaround(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, "turnaround.html", gin.H{"Title": "Turnaround " + rep.Month, "Report": rep, "TargetsVersion": s.TargetsVersion,
		"Previous": prevMonth(rep.Month), "Next": nextMonth(rep.Month)})
}

func prevMonth(m string) string {
	t, _ := time.Parse("2006-01", m)
	return t.AddDate(0, -1, 0).Format("2006-01")
}
func nextMonth(m string) string {
	t, _ := time.Parse("2006-01", m)
	return t.AddDate(0, 1, 0).Format("2006-01")
}
