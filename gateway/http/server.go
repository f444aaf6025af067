// Package httpapi is the gateway's HTTP API on gin: report intake, status,
// the FHIR Bundle and the PDF, health. routes.go lists every route;
// errors.go holds the one table from error codes to HTTP statuses.
package httpapi

import (
	"context"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// Deps is what the server needs; cmd wires it.
type Deps struct {
	Intake     *gateway.Intake
	DecodeJSON func([]byte) (*gateway.Report, error) // the native lab report decoder
	// DecodeFHIR reads a lab's FHIR Bundle as lab (its ODS code, from its
	// credentials) sent it; nil: POST /fhir is not offered. With an error it
	// may still return the report's id (FHIRDecoded.Report.ID alone), which
	// the message log files the refusal under.
	DecodeFHIR func(body []byte, lab string) (*FHIRDecoded, error)
	// HL7 takes an HL7 v2 message from a lab and returns the acknowledgement
	// to answer with, and whether the failure was temporary (503).
	HL7          func(ctx context.Context, who gateway.Principal, msg []byte) (ack []byte, unavailable bool)
	Reports      gateway.Reports
	Index        gateway.ReportIndex
	Audit        gateway.AuditLog
	Queue        gateway.Queue
	Held         gateway.HeldReports
	Destinations []string              // configured destination names
	PauseChanged func(context.Context) // tells this process's dispatcher at once
	Clock        gateway.Clock
	Notify       func(destinations []string) // wakes the dispatcher after a replay
	Auth         gateway.Authenticator
	MaxBodyBytes int64
	Log          *slog.Logger
	Observer     gateway.Observer   // metrics of intake; nil: none
	Messages     gateway.MessageLog // every inbound message as received; nil: none
	// EncodeHL7 writes a report as HL7 v2 ORU^R01 with default options (the
	// console's "HL7 out" view); nil: not offered.
	EncodeHL7 func(r *gateway.Report, pdf []byte) []byte
	// Targets are the tests' national turnaround categories, from the
	// release TargetsVersion names (turnaround page and API); nil: none.
	Targets        gateway.TurnaroundTargets
	TargetsVersion string
	Activity       gateway.ActivityLog // hourly intake and delivery counts (dashboard, /v1/activity)
	Prune          *gateway.PruneLoop  // POST /v1/prune; nil: 404
	Metrics        http.Handler        // GET /metrics (Prometheus text), for operators; nil: 404
	// SMART is where clients get tokens the gateway accepts, for SMART
	// discovery (/fhir/.well-known/smart-configuration); nil: not published.
	SMART *SMART
}

// SMART is what SMART Backend Services clients discover: the issuer whose
// tokens the gateway takes, and its token endpoint.
type SMART struct {
	Issuer, TokenEndpoint string
}

type server struct {
	Deps
	rules    map[string]rule // "METHOD /path" -> who may call it (routes.go)
	sessions sessions        // the console's logins
	pages    *template.Template
}

// NewServer returns the gateway's HTTP handler.
func NewServer(d Deps) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	s := &server{Deps: d, pages: consolePages}
	r := gin.New()
	r.Use(s.logRequests, s.recover)
	r.HandleMethodNotAllowed = true
	r.NoRoute(func(c *gin.Context) { s.fail(c, gateway.Errorf(gateway.ENOTFOUND, "no such endpoint")) })
	r.NoMethod(func(c *gin.Context) {
		s.fail(c, &gateway.Error{Code: gateway.EMETHOD, Message: "method not allowed on this endpoint"})
	})
	s.routes(r)
	return r
}

// logRequests logs one line per request: the route template and the id of
// the report served or filed, never the query string (searches carry NHS
// numbers), bodies, or ids from the path as the caller wrote them: a
// Patient's id is derived from its NHS number, and a mistyped report id
// may be anything (an NHS number and a name, say).
func (s *server) logRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	s.Log.Info("http request", "method", c.Request.Method, "route", c.FullPath(), "report_id", c.GetString(reportIDKey),
		"delivery_id", c.Param("delivery"), "status", c.Writer.Status(), "duration_ms", time.Since(start).Milliseconds(),
		"caller", c.GetString(subjectKey))
}

func (s *server) recover(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			s.Log.Error("panic in handler", "route", c.FullPath(), "report_id", c.GetString(reportIDKey), "panic", v)
			s.fail(c, gateway.Errorf(gateway.EINTERNAL, "internal error"))
		}
	}()
	c.Next()
}

// reportIDKey carries, for the request log, the id of the report a
// request's body named, or of the report it found and served.
const reportIDKey = "rg-report-id"
