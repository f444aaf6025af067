package httpapi

import (
	"github.com/gin-gonic/gin"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// routes lists every endpoint and who may call it.
func (s *server) routes(r *gin.Engine) {
	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)

	v1 := r.Group("/v1", s.authenticate)
	v1.POST("/reports", s.allow(gateway.RoleLab), s.postReport)
	v1.POST("/reports/$validate", s.allow(gateway.RoleLab, gateway.RoleOperator), s.validateReport)
	v1.POST("/hl7v2", s.allow(gateway.RoleLab), s.postHL7)
	v1.GET("/reports/:id", s.getReport)
	v1.GET("/reports/:id/fhir", s.getReportBundle)
	v1.GET("/reports/:id/pdf", s.getReportPDF)
	v1.GET("/reports/:id/journey", s.getJourney)

	ops := v1.Group("", s.allow(gateway.RoleOperator))
	ops.GET("/deliveries", s.listDeliveries)
	ops.GET("/deliveries/:delivery", s.getDelivery)
	ops.POST("/deliveries/:delivery/replay", s.replayDelivery)
	ops.POST("/deliveries/:delivery/cancel", s.cancelDelivery)
	ops.GET("/delivery-counts", s.deliveryCounts)
	ops.GET("/held", s.listHeld)
	ops.GET("/destinations", s.listDestinations)
	ops.POST("/destinations/:name/pause", s.pauseDestination(true))
	ops.POST("/destinations/:name/resume", s.pauseDestination(false))

	// FHIR R4 pull API. The CapabilityStatement is public (it holds no
	// patient data, and clients read it before they have a token).
	r.GET("/fhir/metadata", s.metadata)
	fhir := r.Group("/fhir", s.authenticate)
	fhir.GET("/:type", s.fhirType)
	fhir.GET("/:type/:id", s.fhirRead)
	fhir.GET("/:type/:id/:history/:vid", s.fhirRead)
}
