package httpapi

import (
	"mime"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// hl7Types are the content types HL7 over HTTP uses.
var hl7Types = map[string]bool{"application/hl7-v2+er7": true, "x-application/hl7-v2+er7": true, "application/hl7-v2": true}

// postHL7 is POST /v1/hl7v2: an ORU^R01 in, its acknowledgement out. The
// HTTP status is 200 whenever there is an ACK to read (AA or AE), 503 with
// the AR when the gateway cannot take the message now.
func (s *server) postHL7(c *gin.Context) {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || !hl7Types[mt] {
		s.fail(c, gateway.Errorf(gateway.EUNSUPPORTED, "send HL7 v2 as application/hl7-v2+er7 (got %q)", c.GetHeader("Content-Type")))
		return
	}
	body, err := s.readBody(c, "the message")
	if err != nil {
		s.fail(c, err)
		return
	}
	ack, unavailable := s.HL7(c.Request.Context(), principal(c), body)
	status := http.StatusOK
	if unavailable {
		status = http.StatusServiceUnavailable
	}
	c.Data(status, mt, ack)
}
