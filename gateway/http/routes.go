package httpapi

import (
	"github.com/gin-gonic/gin"

	"github.com/nhs-genomics/results-gateway/gateway"
)

var (
	labs      = []gateway.Role{gateway.RoleLab}
	operators = []gateway.Role{gateway.RoleOperator}
	readers   = []gateway.Role{gateway.RoleLab, gateway.RoleTrust, gateway.RoleOperator}
)

// routes lists every endpoint and who may call it: the roles, and for a
// token with SMART scopes the resource types the endpoint reveals or
// changes and how (authz.go applies the rule). Which reports a caller sees
// is decided per report: a lab its own, a trust those it ordered.
func (s *server) routes(r *gin.Engine) {
	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	// The CapabilityStatement holds no patient data, and clients read it
	// before they have a token.
	r.GET("/fhir/metadata", s.metadata)
	r.GET("/fhir/.well-known/smart-configuration", s.smartConfiguration)

	v1 := r.Group("/v1", s.authenticate)
	report := []string{"DiagnosticReport"}
	s.handle(v1, "POST", "/reports", rule{labs, report, gateway.AccessCreate}, s.postReport)
	s.handle(v1, "POST", "/reports/$validate", rule{[]gateway.Role{gateway.RoleLab, gateway.RoleOperator}, report, gateway.AccessCreate}, s.validateReport)
	s.handle(v1, "POST", "/hl7v2", rule{labs, report, gateway.AccessCreate}, s.postHL7)
	s.handle(v1, "GET", "/reports/:id", rule{readers, report, gateway.AccessRead}, s.getReport)
	// The Bundle holds many resource types: getReportBundle also checks the
	// scopes cover every type in it.
	s.handle(v1, "GET", "/reports/:id/fhir", rule{readers, report, gateway.AccessRead}, s.getReportBundle)
	s.handle(v1, "GET", "/reports/:id/pdf", rule{readers, report, gateway.AccessRead}, s.getReportPDF) // the report's presentedForm
	// A recipient's clinician has seen the report: recorded like a FHIR
	// Communication from the trust, so a scoped token needs Communication.c.
	s.handle(v1, "POST", "/reports/:id/acknowledgements", rule{[]gateway.Role{gateway.RoleTrust}, []string{"Communication"}, gateway.AccessCreate}, s.postAcknowledgement)
	s.handle(v1, "GET", "/reports/:id/journey", rule{readers, []string{"DiagnosticReport", "AuditEvent"}, gateway.AccessRead}, s.getJourney)

	// Operations see and steer every report's flow: a scoped token needs
	// scopes over all resource types (system/*.rs to look, system/*.cu to act).
	all := []string{"*"}
	s.handle(v1, "GET", "/deliveries", rule{operators, all, gateway.AccessSearch}, s.listDeliveries)
	s.handle(v1, "GET", "/deliveries/:delivery", rule{operators, all, gateway.AccessRead}, s.getDelivery)
	s.handle(v1, "POST", "/deliveries/:delivery/replay", rule{operators, all, gateway.AccessUpdate}, s.replayDelivery)
	s.handle(v1, "POST", "/deliveries/:delivery/cancel", rule{operators, all, gateway.AccessUpdate}, s.cancelDelivery)
	s.handle(v1, "POST", "/deliveries/replay", rule{operators, all, gateway.AccessUpdate}, s.bulk("replay"))
	s.handle(v1, "POST", "/deliveries/cancel", rule{operators, all, gateway.AccessUpdate}, s.bulk("cancel"))
	s.handle(v1, "GET", "/delivery-counts", rule{operators, all, gateway.AccessSearch}, s.deliveryCounts)
	s.handle(v1, "GET", "/held", rule{operators, all, gateway.AccessSearch}, s.listHeld)
	s.handle(v1, "GET", "/destinations", rule{operators, all, gateway.AccessRead}, s.listDestinations)
	s.handle(v1, "GET", "/activity", rule{operators, all, gateway.AccessSearch}, s.getActivity)
	s.handle(v1, "GET", "/turnaround", rule{operators, all, gateway.AccessSearch}, s.getTurnaround)
	s.handle(v1, "POST", "/prune", rule{operators, all, gateway.AccessDelete}, s.prune)
	s.handle(v1, "POST", "/destinations/:name/pause", rule{operators, all, gateway.AccessUpdate}, s.pauseDestination(true))
	s.handle(v1, "POST", "/destinations/:name/resume", rule{operators, all, gateway.AccessUpdate}, s.pauseDestination(false))

	// Prometheus metrics: counts and timings, no patient data.
	s.handle(r.Group("", s.authenticate), "GET", "/metrics", rule{operators, nil, gateway.AccessRead}, s.metrics)

	// The console: operators' browser sessions (console.go, session.go).
	s.consoleRoutes(r)

	// FHIR R4 pull API: the resource type is the one in the URL.
	fhir := r.Group("/fhir", s.authenticate)
	s.handle(fhir, "POST", "", rule{labs, report, gateway.AccessCreate}, s.postFHIR) // a lab's report as a Bundle, to the FHIR base
	s.handle(fhir, "GET", "/:type", rule{readers, []string{typeInPath}, gateway.AccessSearch}, s.fhirType)
	s.handle(fhir, "GET", "/:type/:id", rule{readers, []string{typeInPath}, gateway.AccessRead}, s.fhirRead)
	s.handle(fhir, "GET", "/:type/:id/:history/:vid", rule{readers, []string{typeInPath}, gateway.AccessRead}, s.fhirRead)
}

// Public lists the endpoints anyone may call, unauthenticated.
var Public = map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /fhir/metadata": true,
	"GET /fhir/.well-known/smart-configuration": true}
