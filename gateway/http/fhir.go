package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/nhs-genomics/results-gateway/gateway"
)

const fhirJSONType = "application/fhir+json"

// acceptable checks _format and Accept: the server speaks FHIR JSON only
// (and raw PDF for Binary); asking for XML is answered 406, not ignored.
func (s *server) acceptable(c *gin.Context, allowPDF bool) (pdf bool, ok bool) {
	format := c.Query("_format")
	if format == "" {
		format = c.GetHeader("Accept")
	}
	for _, f := range strings.Split(format, ",") {
		f = strings.TrimSpace(strings.SplitN(f, ";", 2)[0])
		switch f {
		case "", "*/*", "json", "application/json", fhirJSONType, "application/fhir+json;fhirVersion=4.0":
			return false, true
		case "application/pdf":
			if allowPDF {
				return true, true
			}
		}
	}
	s.fail(c, &gateway.Error{Code: gateway.ENOTACCEPTABLE, Message: "this server returns FHIR JSON (application/fhir+json) only"})
	return false, false
}

func writeFHIR(c *gin.Context, status int, v any) {
	b, _ := json.Marshal(v)
	c.Data(status, fhirJSONType+"; charset=utf-8", b)
}

// audit records an access; a failure to audit is logged, not hidden, and
// reported so a read can fail closed.
func (s *server) audit(c *gin.Context, action, what string, reports []string, outcome string) bool {
	p := principal(c)
	e := gateway.AuditEntry{At: s.Clock.Now().UTC(), Subject: p.Subject, Role: p.Role, ODSCode: p.ODSCode,
		Action: action, What: what, Reports: reports, Outcome: outcome}
	if err := s.Audit.Audit(context.WithoutCancel(c.Request.Context()), e); err != nil {
		s.Log.Error("audit write failed", "action", action, "what", what, "error", err)
		return false
	}
	return true
}

// auditedRead records a successful read before any result is served. A
// read whose audit entry cannot be stored is answered 503 and serves
// nothing (fail closed): every access to a patient's results is on record.
func (s *server) auditedRead(c *gin.Context, action, what string, reports []string) bool {
	if s.audit(c, action, what, reports, "success") {
		return true
	}
	s.fail(c, gateway.Errorf(gateway.EUNAVAILABLE, "the access could not be recorded in the audit trail, so nothing is served: try again"))
	return false
}

// fhirType handles GET /fhir/{type}: the CapabilityStatement or a search.
func (s *server) fhirType(c *gin.Context) {
	typ := c.Param("type")
	if _, ok := s.acceptable(c, false); !ok {
		return
	}
	switch typ {
	case "DiagnosticReport", "DocumentReference":
		s.search(c, typ)
	case "AuditEvent":
		s.auditSearch(c)
	case "Provenance":
		s.provenanceSearch(c)
	default:
		s.fail(c, &gateway.Error{Code: gateway.EINVALID, Message: "search is not supported on " + typ,
			Problems: []gateway.Problem{{Path: typ, Message: "searchable types: DiagnosticReport, DocumentReference, Provenance, AuditEvent"}}})
	}
}

// fhirRead handles GET /fhir/{type}/{id} and .../_history/{vid}.
func (s *server) fhirRead(c *gin.Context) {
	typ, id, vid := c.Param("type"), c.Param("id"), c.Param("vid")
	action := "read"
	if c.Param("history") != "" {
		if c.Param("history") != "_history" || vid == "" {
			s.fail(c, gateway.Errorf(gateway.ENOTFOUND, "no such endpoint"))
			return
		}
		action = "vread"
	}
	pdf, ok := s.acceptable(c, typ == "Binary")
	if !ok {
		return
	}
	ref := typ + "/" + id
	if !readableTypes[typ] {
		s.audit(c, action, ref, nil, "denied")
		s.fail(c, gateway.Errorf(gateway.ENOTFOUND, "%s not found", ref))
		return
	}
	readable, denied, err := s.locate(c.Request.Context(), principal(c), ref)
	if err != nil {
		s.fail(c, err)
		return
	}
	deniedIDs := ids(denied)
	notFound := func(outcome string) {
		s.audit(c, action, ref, deniedIDs, outcome)
		s.fail(c, gateway.Errorf(gateway.ENOTFOUND, "%s not found", ref)) // the same answer whether absent or not yours
	}
	// A read serves the newest report holding ref that the caller may
	// read, at its latest version. A vread asks for one version, and who
	// may read a report can change between versions (a copy-to added, a
	// correction for another trust's patient): each holder's version is
	// checked itself, as /v1/reports/{id}?version= does.
	// A report's own resources are versioned with it, so their vread names
	// the report's version; a shared one's (a patient's) names a version
	// of its content (contentVersion), which any version of any report
	// holding it may be.
	version := 0
	if action == "vread" {
		n, err := strconv.Atoi(vid)
		switch {
		case err == nil && n >= 1:
			version = n
		case !contentVersionPattern.MatchString(vid):
			// Neither a report's version nor a shared resource's content
			// version: answered at once, not by reading every version of
			// every report that holds the resource.
			notFound("not-found")
			return
		}
	}
	candidates := readable[:min(len(readable), 1)]
	if action == "vread" || typ == "Provenance" { // one version's, or each version's own Provenance
		candidates = append(append([]*gateway.ReportRecord{}, readable...), denied...)
	}
	load := s.Reports.ReportBundle // the PDF is only needed for Binary
	if typ == "Binary" {
		load = s.Reports.ReportVersion
	}
	outcome := "not-found"
	if len(readable) == 0 && len(denied) > 0 {
		outcome = "denied"
	}
	// Each version's Provenance has an id of its own, held by that version
	// alone: a read of an earlier version's Provenance is served from it.
	var versions []*gateway.ReportRecord
	for _, meta := range candidates {
		versions = append(versions, meta)
		if action == "read" && typ == "Provenance" || action == "vread" && version == 0 {
			for v := meta.Version - 1; v >= 1; v-- {
				older := *meta
				older.Version = v
				versions = append(versions, &older)
			}
		}
	}
	for _, meta := range versions {
		v := meta.Version
		if action == "vread" && version > 0 {
			if version > meta.Version {
				continue
			}
			v = version
		}
		rec, err := load(c.Request.Context(), meta.ID, v)
		if gateway.ErrorCode(err) == gateway.ENOTFOUND {
			continue
		}
		if err != nil {
			s.fail(c, err)
			return
		}
		if !principal(c).CanRead(rec) {
			if !slices.Contains(deniedIDs, rec.ID) {
				deniedIDs = append(deniedIDs, rec.ID)
			}
			outcome = "denied"
			continue
		}
		if s.serveResource(c, typ, id, ref, action, vid, rec, pdf) {
			return
		}
	}
	notFound(outcome)
}

// serveResource answers with ref as rec's Bundle holds it (Binary: its
// PDF), reporting false when that version does not hold it, or, for a
// vread, holds another version of it.
func (s *server) serveResource(c *gin.Context, typ, id, ref, action, vid string, rec *gateway.ReportRecord, pdf bool) bool {
	bundle, err := openBundle(rec)
	if err != nil {
		s.fail(c, err)
		return true
	}
	var res map[string]any
	if typ == "Binary" {
		var binID string
		if binID, res = binaryFor(bundle); binID != id {
			res = nil
		}
	} else {
		res = bundle.resources[ref]
	}
	if res == nil {
		return false // not in that version
	}
	versionID, _ := res["meta"].(map[string]any)["versionId"].(string)
	if action == "vread" && versionID != vid {
		return false
	}
	c.Set(reportIDKey, rec.ID) // the report served, not the resource id asked for
	if !s.auditedRead(c, action, ref, []string{rec.ID}) {
		return true
	}
	if pdf {
		c.Data(http.StatusOK, "application/pdf", rec.PDF)
		return true
	}
	// What is served depends on who asks (the newest report each may read),
	// so a cache must not hand one caller's answer to another.
	c.Header("Vary", "Authorization")
	etag := `W/"` + versionID + `"`
	c.Header("ETag", etag)
	c.Header("Last-Modified", rec.ReceivedAt.UTC().Format(http.TimeFormat))
	if notModified(c.GetHeader("If-None-Match"), etag) {
		c.Status(http.StatusNotModified)
		return true
	}
	writeFHIR(c, http.StatusOK, res)
	return true
}

// notModified says whether an If-None-Match header names etag (weakly
// compared, as RFC 9110 has it for GET), or is "*".
func notModified(ifNoneMatch, etag string) bool {
	for _, tag := range strings.Split(ifNoneMatch, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == strings.TrimPrefix(etag, "W/") {
			return true
		}
	}
	return false
}

// metadata is GET /fhir/metadata.
func (s *server) metadata(c *gin.Context) {
	if _, ok := s.acceptable(c, false); ok {
		writeFHIR(c, http.StatusOK, capabilityStatement(s.SMART))
	}
}

// smartConfiguration is GET /fhir/.well-known/smart-configuration: how a
// SMART Backend Services client gets a token the gateway accepts.
func (s *server) smartConfiguration(c *gin.Context) {
	if s.SMART == nil {
		s.fail(c, gateway.Errorf(gateway.ENOTFOUND, "this gateway publishes no token endpoint (jwt.tokenEndpoint is not configured)"))
		return
	}
	// What the gateway knows of the issuer: where its token endpoint is and
	// what the gateway accepts. How that endpoint authenticates clients
	// (its signing algorithms, its own keys) is the issuer's to say.
	c.JSON(http.StatusOK, gin.H{
		"issuer":                                s.SMART.Issuer,
		"token_endpoint":                        s.SMART.TokenEndpoint,
		"grant_types_supported":                 []string{"client_credentials"},
		"token_endpoint_auth_methods_supported": []string{"private_key_jwt"},
		"scopes_supported": []string{"system/DiagnosticReport.rs", "system/Observation.rs", "system/Patient.r",
			"system/DocumentReference.rs", "system/Binary.r", "system/Provenance.rs", "system/*.rs"},
		"capabilities": []string{"client-confidential-asymmetric", "permission-v1", "permission-v2"},
	})
}
