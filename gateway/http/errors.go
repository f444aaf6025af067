package httpapi

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// statuses is the one table from application error codes to HTTP, with the
// FHIR OperationOutcome issue type for each.
var statuses = map[string]struct {
	status    int
	issueType string
}{
	gateway.EMALFORMED:     {http.StatusBadRequest, "structure"},
	gateway.EINVALID:       {http.StatusUnprocessableEntity, "invalid"},
	gateway.ECONFLICT:      {http.StatusConflict, "conflict"},
	gateway.ENOTFOUND:      {http.StatusNotFound, "not-found"},
	gateway.EUNAUTHORIZED:  {http.StatusUnauthorized, "login"},
	gateway.EFORBIDDEN:     {http.StatusForbidden, "forbidden"},
	gateway.ETOOLARGE:      {http.StatusRequestEntityTooLarge, "too-long"},
	gateway.EUNSUPPORTED:   {http.StatusUnsupportedMediaType, "not-supported"},
	gateway.EMETHOD:        {http.StatusMethodNotAllowed, "not-supported"},
	gateway.ENOTACCEPTABLE: {http.StatusNotAcceptable, "not-supported"},
	gateway.EUNAVAILABLE:   {http.StatusServiceUnavailable, "transient"},
	gateway.EGONE:          {http.StatusGone, "deleted"},
	gateway.EINTERNAL:      {http.StatusInternalServerError, "exception"},
}

// operationOutcome is FHIR R4 OperationOutcome, written with encoding/json:
// it is small, and errors must not depend on the FHIR marshaller working.
type operationOutcome struct {
	ResourceType string  `json:"resourceType"`
	Issue        []issue `json:"issue"`
}

type issue struct {
	Severity    string   `json:"severity"`
	Code        string   `json:"code"`
	Diagnostics string   `json:"diagnostics"`
	Location    []string `json:"location,omitempty"`
	Expression  []string `json:"expression,omitempty"`
}

// fail answers with an OperationOutcome. Internal errors are logged with the
// report id and answered with a generic message: their text may hold anything.
func (s *server) fail(c *gin.Context, err error) {
	var e *gateway.Error
	if !errors.As(err, &e) {
		s.Log.Error("request failed", "route", c.FullPath(), "report_id", c.GetString(reportIDKey), "error", err)
		e = gateway.Errorf(gateway.EINTERNAL, "internal error")
	}
	st, ok := statuses[e.Code]
	if !ok {
		st = statuses[gateway.EINTERNAL]
	}
	oo := outcome(e, st.issueType)
	if consolePath(c.Request.URL.Path) {
		s.consoleError(c, st.status, oo)
		return
	}
	if st.status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="results-gateway"`)
	}
	c.Header("Content-Type", "application/fhir+json")
	c.AbortWithStatusJSON(st.status, oo)
}

func outcome(e *gateway.Error, issueType string) operationOutcome {
	oo := operationOutcome{ResourceType: "OperationOutcome"}
	if len(e.Problems) == 0 {
		oo.Issue = []issue{{Severity: "error", Code: issueType, Diagnostics: e.Message}}
		return oo
	}
	for _, p := range e.Problems {
		code := issueType
		if p.Message == "is required" {
			code = "required"
		}
		oo.Issue = append(oo.Issue, issue{Severity: "error", Code: code, Diagnostics: p.Path + " " + p.Message,
			Location: []string{p.Path}, Expression: []string{p.Path}})
	}
	return oo
}
