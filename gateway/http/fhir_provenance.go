package httpapi

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// provenanceSearch is GET /fhir/Provenance?target=DiagnosticReport/{id}:
// the Provenance of each version of the report the caller may read, oldest
// first. NHS England asks that an updated genomic report be accompanied by
// Provenance saying when, by whom and why it changed; a client pulling
// reports finds it here (or with _revinclude=Provenance:target).
func (s *server) provenanceSearch(c *gin.Context) {
	values := c.Request.URL.Query()
	var problems []gateway.Problem
	for k, v := range values {
		switch {
		case k != "target" && k != "_format":
			problems = append(problems, gateway.Problem{Path: k, Message: "is not a supported search parameter for Provenance"})
		case len(v) > 1:
			problems = append(problems, gateway.Problem{Path: k, Message: "may be given once"})
		}
	}
	target := values.Get("target")
	if !strings.HasPrefix(target, "DiagnosticReport/") || strings.Contains(target, ",") {
		problems = append(problems, gateway.Problem{Path: "target", Message: "is required: DiagnosticReport/<id>"})
	}
	if len(problems) > 0 {
		s.audit(c, "search", "Provenance", nil, "invalid")
		s.fail(c, &gateway.Error{Code: gateway.EMALFORMED, Message: "bad search", Problems: problems}) // 400, as a search that cannot run
		return
	}
	ctx, who := c.Request.Context(), principal(c)
	readable, _, err := s.locate(ctx, who, target)
	if err != nil {
		s.fail(c, err)
		return
	}
	base := fhirBase(c)
	entries := []any{}
	var served []string
	if len(readable) > 0 {
		meta := readable[0]
		for v := 1; v <= meta.Version; v++ {
			rec, err := s.Reports.ReportBundle(ctx, meta.ID, v)
			if gateway.ErrorCode(err) == gateway.ENOTFOUND {
				continue // pruned
			}
			if err != nil {
				s.fail(c, err)
				return
			}
			if !who.CanRead(rec) { // that version was for someone else
				continue
			}
			b, err := openBundle(rec)
			if err != nil {
				s.fail(c, err)
				return
			}
			for _, res := range b.ofType("Provenance") {
				entries = append(entries, entry(base, res, "match"))
			}
			served = []string{meta.ID}
		}
	}
	if !s.auditedRead(c, "search", "Provenance?target", served) {
		return
	}
	writeFHIR(c, http.StatusOK, map[string]any{"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries})
}
