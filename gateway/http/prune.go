package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// prune is POST /v1/prune {"dryRun": true} (or ?dryRun=true): remove now what has outlived
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
	// A destructive call must not ignore what it is told: dryRun may come
	// as a query parameter too, and any other parameter is refused.
	for name, values := range c.Request.URL.Query() {
		dry, err := strconv.ParseBool(values[0])
		if name != "dryRun" || len(values) != 1 || err != nil {
			s.fail(c, &gateway.Error{Code: gateway.EMALFORMED, Message: "bad query: nothing was removed",
				Problems: []gateway.Problem{{Path: name, Message: "only dryRun=true or dryRun=false is taken here (or {\"dryRun\": true} as the body)"}}})
			return
		}
		req.DryRun = dry
	}
	query := req.DryRun
	if c.Request.ContentLength != 0 {
		dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			s.fail(c, &gateway.Error{Code: gateway.EINVALID, Message: "bad request body", Problems: []gateway.Problem{{Path: "body", Message: err.Error()}}})
			return
		}
	}
	req.DryRun = req.DryRun || query // either way of asking for a dry run is one
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
	removed := map[gateway.RetentionClass]int{}
	for _, class := range gateway.RetentionClasses { // every class, 0 where nothing went, whatever the store says of it
		removed[class] = counts[class]
	}
	counts = removed
	s.Log.Info("prune requested", "dry_run", req.DryRun, "caller", c.GetString(subjectKey))
	c.JSON(http.StatusOK, gin.H{"dryRun": req.DryRun, "before": cutoffs, "removed": counts})
}
