package httpapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// recipientStates is the state for rec's version of each recipient the
// caller may see (as in the journey: a trust its own, see visibility).
func (s *server) recipientStates(c *gin.Context, rec *gateway.ReportRecord) ([]gateway.RecipientState, error) {
	ctx := c.Request.Context()
	deliveries, err := s.Queue.Deliveries(ctx, gateway.DeliveryFilter{ReportID: rec.ID, Limit: 1000})
	if err != nil {
		return nil, err
	}
	audit, err := s.Audit.AuditFor(ctx, rec.ID)
	if err != nil {
		return nil, err
	}
	return newVisibility(principal(c), rec).recipients(gateway.RecipientStates(rec, deliveries, audit), rec), nil
}

// postAcknowledgement is POST /v1/reports/{id}/acknowledgements: a
// recipient trust's EPR (or a SMART app in it) records that a clinician has
// seen the report. Body {"by": "<who>", "version": N}; the latest version
// when none is given. 201 with every recipient's state; 200 if this trust
// had acknowledged that version already. Stored in the audit trail, as
// every access is.
func (s *server) postAcknowledgement(c *gin.Context) {
	p := principal(c)
	var body struct {
		By      string `json:"by"`
		Version int    `json:"version"`
	}
	if err := c.ShouldBindJSON(&body); err != nil {
		s.fail(c, gateway.Errorf(gateway.EMALFORMED, "send {\"by\": \"<who acknowledged it>\", \"version\": N} as JSON"))
		return
	}
	body.By = strings.TrimSpace(body.By)
	if body.By == "" || len(body.By) > 200 {
		s.fail(c, &gateway.Error{Code: gateway.EINVALID, Message: "bad acknowledgement",
			Problems: []gateway.Problem{{Path: "by", Message: "is required: who acknowledged the report (at most 200 characters)"}}})
		return
	}
	rec, ok := s.readable(c) // only a recipient may acknowledge: others see "not found"
	if !ok {
		return
	}
	if body.Version != 0 && body.Version != rec.Version {
		var err error
		if rec, err = s.Reports.ReportVersion(c.Request.Context(), rec.ID, body.Version); err != nil {
			s.fail(c, err)
			return
		}
	}
	// Only a recipient of that very version acknowledges it (a trust that
	// reads it through a sharing agreement, or was added on a later version,
	// is not one); others see "not found", as for any report they cannot read.
	if !p.CanRead(rec) || p.ODSCode != rec.TrustODS && !slices.Contains(rec.CopyTo, p.ODSCode) {
		s.fail(c, gateway.Errorf(gateway.ENOTFOUND, "report %s version %d not found", rec.ID, rec.Version))
		return
	}
	states, err := s.recipientStates(c, rec)
	if err != nil {
		s.fail(c, err)
		return
	}
	for _, st := range states {
		if st.ODSCode == p.ODSCode && !st.Acknowledged.IsZero() {
			c.JSON(http.StatusOK, gin.H{"reportId": rec.ID, "version": rec.Version, "recipients": states})
			return
		}
	}
	if !s.audit(c, gateway.ActionAcknowledge, gateway.AcknowledgementWhat(rec.ID, rec.Version, body.By), []string{rec.ID}, "success") {
		s.fail(c, gateway.Errorf(gateway.EUNAVAILABLE, "the acknowledgement could not be stored: send it again"))
		return
	}
	if states, err = s.recipientStates(c, rec); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"reportId": rec.ID, "version": rec.Version, "recipients": states})
}
