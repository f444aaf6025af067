package httpapi

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// readBody reads the request body up to MaxBodyBytes; what names it in the
// error ("the report", "the message", "the Bundle"). The buffer is sized
// from Content-Length when the client sent one: a 70 KB report read by
// io.ReadAll grows its buffer a dozen times, and that was a sixth of
// intake's allocations.
func (s *server) readBody(c *gin.Context, what string) ([]byte, error) {
	var buf bytes.Buffer
	if n := c.Request.ContentLength; n > 0 && n <= s.MaxBodyBytes {
		buf.Grow(int(n) + bytes.MinRead) // ReadFrom wants MinRead spare to see the end without growing
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(c.Writer, c.Request.Body, s.MaxBodyBytes)); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, gateway.Errorf(gateway.ETOOLARGE, "%s is larger than the limit of %d bytes", what, s.MaxBodyBytes)
		}
		return nil, gateway.Errorf(gateway.EMALFORMED, "could not read the request body")
	}
	return buf.Bytes(), nil
}
