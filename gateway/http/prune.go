package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// prune is POST /v1/prune {"dryRun": true}: remove now what has outlived
// its retention period (the background pruner does the same every
// interval), or with dryRun say what would go. The answer lists each
// class's cutoff and count.
func (s *server) prune(c *gin.Context) {
	if s.Prune == nil {
		s.fail(c, gateway.Errorf(gateway.ENOTFOUND, "retention is not configured"))
		return
	}
	var req struct {
		DryRun bool `json:"dryRun"`
	}
	if c.Request.ContentLength != 0 {
		dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			s.fail(c, &gateway.Error{Code: gateway.EINVALID, Message: "bad request body", Problems: []gateway.Problem{{Path: "body", Message: err.Error()}}})
			return
		}
	}
	cutoffs := s.Prune.Retention.Cutoffs(s.Prune.Clock.Now())
	var counts map[gateway.RetentionClass]int
	var err error
	if req.DryRun {
		counts, err = s.Prune.Store.Prune(c.Request.Context(), cutoffs, 1_000_000, true)
	} else {
		counts, err = s.Prune.Once(c.Request.Context())
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	s.Log.Info("prune requested", "dry_run", req.DryRun, "caller", c.GetString(subjectKey))
	c.JSON(http.StatusOK, gin.H{"dryRun": req.DryRun, "before": cutoffs, "removed": counts})
}
