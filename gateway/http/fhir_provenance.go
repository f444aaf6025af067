package httpapi

import (
	"context"
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
	readable, denied, err := s.locate(ctx, who, target)
	if err != nil {
		s.fail(c, err)
		return
	}
	base := fhirBase(c)
	entries := []any{}
	var served []string
	// One report holds a DiagnosticReport. Whether its latest version is
	// the caller's or not, each version is the caller's or not on its own
	// (a copy added later, a correction for another trust's patient).
	if holders := append(append([]*gateway.ReportRecord{}, readable...), denied...); len(holders) > 0 {
		found, err := s.versionsProvenance(ctx, who, holders[0], holders[0].Version)
		if err != nil {
			s.fail(c, err)
			return
		}
		for _, res := range found {
			entries = append(entries, entry(base, res, "match"))
		}
		if len(found) > 0 {
			served = []string{holders[0].ID}
		}
	}
	if !s.auditedRead(c, "search", "Provenance?target", served) {
		return
	}
	writeFHIR(c, http.StatusOK, map[string]any{"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries})
}

// versionsProvenance is the Provenance of each stored version of a report
// up to upTo that who may read, oldest first.
func (s *server) versionsProvenance(ctx context.Context, who gateway.Principal, meta *gateway.ReportRecord, upTo int) ([]map[string]any, error) {
	var out []map[string]any
	for v := 1; v <= upTo; v++ {
		rec, err := s.Reports.ReportBundle(ctx, meta.ID, v)
		if gateway.ErrorCode(err) == gateway.ENOTFOUND {
			continue // pruned
		}
		if err != nil {
			return nil, err
		}
		if !who.CanRead(rec) { // that version was for someone else
			continue
		}
		b, err := openBundle(rec)
		if err != nil {
			return nil, err
		}
		out = append(out, b.ofType("Provenance")...)
	}
	return out, nil
}
