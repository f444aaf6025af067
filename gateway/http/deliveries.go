package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// deliveryView is a delivery as operators see it; the payload stays out.
type deliveryView struct {
	*gateway.Delivery
	AttemptCount int `json:"attemptCount"` // sends: an operator's replay, listed among the attempts, is not one
}

func view(d *gateway.Delivery) deliveryView { return deliveryView{d, d.Sends()} }

// listDeliveries is GET /v1/deliveries?state=&destination=&report=&limit=.
func (s *server) listDeliveries(c *gin.Context) {
	f, problems := deliveryFilter(c)
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			problems = append(problems, gateway.Problem{Path: "limit", Message: "must be 1 to 1000"})
		}
		f.Limit = n
	}
	for k := range c.Request.URL.Query() {
		if k != "state" && k != "destination" && k != "report" && k != "limit" && k != "after" {
			problems = append(problems, gateway.Problem{Path: k, Message: "is not a supported parameter"})
		}
	}
	if len(problems) > 0 {
		s.fail(c, &gateway.Error{Code: gateway.EINVALID, Message: "bad query", Problems: problems})
		return
	}
	list, err := s.Queue.Deliveries(c.Request.Context(), f)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]deliveryView, 0, len(list))
	for _, d := range list {
		out = append(out, view(d))
	}
	body := gin.H{"deliveries": out}
	limit := f.Limit
	if limit == 0 {
		limit = 100
	}
	if len(list) == limit { // a full page: there may be more
		q := c.Request.URL.Query()
		q.Set("after", formatCursor(gateway.CursorOf(list[len(list)-1])))
		body["next"] = "/v1/deliveries?" + q.Encode()
	}
	c.JSON(http.StatusOK, body)
}

// deliveryFilter reads the filter the API's and the console's delivery
// lists share: state, destination, report and the page cursor.
func deliveryFilter(c *gin.Context) (gateway.DeliveryFilter, []gateway.Problem) {
	f := gateway.DeliveryFilter{State: gateway.DeliveryState(c.Query("state")), Destination: c.Query("destination"), ReportID: c.Query("report")}
	var problems []gateway.Problem
	if f.State != "" && !validState(f.State) {
		problems = append(problems, gateway.Problem{Path: "state", Message: "is not a delivery state (pending, in-flight, retrying, delivered, dead, superseded, cancelled)"})
	}
	if v := c.Query("after"); v != "" {
		cur, ok := parseCursor(v)
		if !ok {
			problems = append(problems, gateway.Problem{Path: "after", Message: "is not a cursor from a previous page's next link"})
		}
		f.After = cur
	}
	return f, problems
}

// Cursors in next links: "<last change, Unix ms>_<delivery id>".
func formatCursor(c gateway.DeliveryCursor) string {
	return strconv.FormatInt(c.UpdatedAt.UnixMilli(), 10) + "_" + c.ID
}

func parseCursor(s string) (gateway.DeliveryCursor, bool) {
	ms, id, ok := strings.Cut(s, "_")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || n <= 0 || id == "" {
		return gateway.DeliveryCursor{}, false
	}
	return gateway.DeliveryCursor{UpdatedAt: time.UnixMilli(n), ID: id}, true
}

func validState(st gateway.DeliveryState) bool {
	for _, s := range gateway.DeliveryStates {
		if s == st {
			return true
		}
	}
	return false
}

func (s *server) getDelivery(c *gin.Context) {
	d, err := s.Queue.Delivery(c.Request.Context(), c.Param("delivery"))
	if err != nil {
		s.fail(c, err)
		return
	}
	d.Payload = nil
	c.JSON(http.StatusOK, view(d))
}

// replayDelivery is POST /v1/deliveries/{id}/replay: a dead or cancelled
// delivery goes again, a retrying one now.
func (s *server) replayDelivery(c *gin.Context) {
	id := c.Param("delivery")
	if err := s.Queue.Replay(c.Request.Context(), id, s.Clock.Now(), c.GetString(subjectKey)); err != nil {
		s.fail(c, err)
		return
	}
	s.Log.Info("delivery replayed", "delivery_id", id, "caller", c.GetString(subjectKey))
	if s.Notify != nil {
		if d, err := s.Queue.Delivery(c.Request.Context(), id); err == nil {
			s.Notify([]string{d.Destination})
		}
	}
	s.getDelivery(c)
}

// bulkRequest selects deliveries for a bulk replay or cancel: the listed
// ids, or every delivery in a state, at one destination or (Destination
// "*", with Expect) at all of them. Expect, when set, is
// the count the operator was shown and confirmed: if the selection has
// changed since, nothing is done and the answer says how many it is now.
type bulkRequest struct {
	IDs         []string              `json:"ids"`
	Destination string                `json:"destination"`
	State       gateway.DeliveryState `json:"state"`
	Expect      *int                  `json:"expect"`
}

// everyDestination, as a bulk request's destination, selects deliveries at
// every destination.
const everyDestination = "*"

// bulkLimit caps one bulk action; the answer says when more match.
const bulkLimit = 1000

// bulk is POST /v1/deliveries/replay and /v1/deliveries/cancel: one
// action on many deliveries, each done (or not) on its own.
func (s *server) bulk(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		var req bulkRequest
		dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			s.fail(c, &gateway.Error{Code: gateway.EINVALID, Message: "bad request body",
				Problems: []gateway.Problem{{Path: "body", Message: err.Error()}}})
			return
		}
		done, failed, more, err := s.bulkAct(c, action, req)
		if err != nil {
			s.fail(c, err)
			return
		}
		if failed == nil {
			failed = []gin.H{} // a list, empty, not null
		}
		c.JSON(http.StatusOK, gin.H{"done": done, "failed": failed, "more": more})
	}
}

// bulkAct replays or cancels the deliveries a bulk request selects, each
// on its own, and wakes the dispatcher for what it replayed. A filter
// selects everything it matches: the confirmed count is checked against
// the store's count (what the dashboard and the list show), and the
// deliveries are acted on a page at a time until none is left, or until
// bulkMax or bulkTime is reached (more says so: act again).
func (s *server) bulkAct(c *gin.Context, action string, req bulkRequest) (done int, failed []gin.H, more bool, err error) {
	ctx := c.Request.Context()
	pages, err := s.selection(ctx, req)
	if err != nil {
		return 0, nil, false, err
	}
	destinations := map[string]bool{}
	deadline := time.Now().Add(bulkTime)
	for {
		ids, withdrawals, last, err := pages()
		if err != nil {
			return done, failed, false, err
		}
		if last {
			break
		}
		if done+len(failed) >= bulkMax || time.Now().After(deadline) {
			more = true
			break
		}
		for _, id := range ids {
			var err error
			if action == "cancel" && withdrawals[id] {
				// Cancelled, it leaves the result with a patient it is not
				// about: an operator does that one delivery at a time.
				failed = append(failed, gin.H{"id": id, "error": "a withdrawal (" + id + "): cancel it on its own, from its report's page, if the EPR has taken the result off already"})
				continue
			}
			if action == "replay" {
				err = s.Queue.Replay(ctx, id, s.Clock.Now(), c.GetString(subjectKey))
			} else {
				err = s.Queue.Cancel(ctx, id, s.Clock.Now(), c.GetString(subjectKey))
			}
			if err != nil {
				failed = append(failed, gin.H{"id": id, "error": err.Error()})
				continue
			}
			done++
			if d, err := s.Queue.Delivery(ctx, id); err == nil {
				destinations[d.Destination] = true
			}
		}
	}
	s.Log.Info("deliveries "+action+"ed in bulk", "count", done, "failed", len(failed), "more", more, "destination", req.Destination,
		"state", req.State, "caller", c.GetString(subjectKey))
	if action == "replay" && s.Notify != nil && done > 0 {
		var names []string
		for d := range destinations {
			names = append(names, d)
		}
		s.Notify(names)
	}
	return done, failed, more, nil
}

// bulkMax and bulkTime bound one bulk request; bulkPage is how many
// deliveries it reads at a time.
const (
	bulkMax  = 20000
	bulkTime = 60 * time.Second
	bulkPage = 500
)

// selection checks a bulk request and returns its pages: the ids it
// names (one page), or a page at a time of the deliveries matching its
// filter, saying which are withdrawals; last is true when there are no
// more.
func (s *server) selection(ctx context.Context, req bulkRequest) (pages func() (ids []string, withdrawals map[string]bool, last bool, err error), err error) {
	if len(req.IDs) > 0 {
		if len(req.IDs) > bulkLimit {
			return nil, gateway.Errorf(gateway.EINVALID, "at most %d ids at once", bulkLimit)
		}
		if req.Expect != nil && *req.Expect != len(req.IDs) {
			return nil, gateway.Errorf(gateway.ECONFLICT, "%d ids are listed, not the %d confirmed", len(req.IDs), *req.Expect)
		}
		given := false
		return func() ([]string, map[string]bool, bool, error) {
			if given {
				return nil, nil, true, nil
			}
			given = true
			return req.IDs, nil, false, nil
		}, nil
	}
	if req.State == "" || !validState(req.State) || req.Destination == "" {
		return nil, &gateway.Error{Code: gateway.EINVALID, Message: "name the deliveries",
			Problems: []gateway.Problem{{Path: "ids", Message: `list ids, or give a state (e.g. dead) and a destination ("*" for every one) to act on every delivery matching them`}}}
	}
	destination := req.Destination
	if destination == everyDestination {
		if req.Expect == nil { // an unset variable must not reach every EPR unconfirmed
			return nil, &gateway.Error{Code: gateway.EINVALID, Message: "confirm the count",
				Problems: []gateway.Problem{{Path: "expect", Message: "acting on every destination's deliveries needs the count confirmed (expect)"}}}
		}
		destination = ""
	}
	counts, err := s.Queue.Counts(ctx)
	if err != nil {
		return nil, err
	}
	if n := matching(counts, destination, req.State); req.Expect != nil && *req.Expect != n {
		return nil, gateway.Errorf(gateway.ECONFLICT, "the selection is now %d deliveries, not the %d confirmed: look again", n, *req.Expect)
	}
	f := gateway.DeliveryFilter{Destination: destination, State: req.State, Limit: bulkPage}
	return func() ([]string, map[string]bool, bool, error) {
		list, err := s.Queue.Deliveries(ctx, f)
		if err != nil || len(list) == 0 {
			return nil, nil, true, err
		}
		f.After = gateway.CursorOf(list[len(list)-1]) // past the ones that could not be done
		ids := make([]string, len(list))
		withdrawals := map[string]bool{}
		for i, d := range list {
			ids[i] = d.ID
			withdrawals[d.ID] = d.Withdrawal
		}
		return ids, withdrawals, false, nil
	}, nil
}

// matching counts the deliveries in state at destination, or at every
// destination when it is "".
func matching(counts map[string]map[gateway.DeliveryState]int, destination string, state gateway.DeliveryState) int {
	if destination != "" {
		return counts[destination][state]
	}
	n := 0
	for _, byState := range counts {
		n += byState[state]
	}
	return n
}

// cancelDelivery is POST /v1/deliveries/{id}/cancel.
func (s *server) cancelDelivery(c *gin.Context) {
	id := c.Param("delivery")
	if err := s.Queue.Cancel(c.Request.Context(), id, s.Clock.Now(), c.GetString(subjectKey)); err != nil {
		s.fail(c, err)
		return
	}
	s.Log.Info("delivery cancelled", "delivery_id", id, "caller", c.GetString(subjectKey))
	s.getDelivery(c)
}

// deliveryCounts is GET /v1/delivery-counts: per destination and state.
func (s *server) deliveryCounts(c *gin.Context) {
	counts, err := s.Queue.Counts(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"counts": counts})
}

// metrics is GET /metrics: the Prometheus text format.
func (s *server) metrics(c *gin.Context) {
	if s.Metrics == nil {
		s.fail(c, gateway.Errorf(gateway.ENOTFOUND, "metrics are not enabled"))
		return
	}
	s.Metrics.ServeHTTP(c.Writer, c.Request)
}

// destinationView is one destination as operators see it.
// pauseDestination is POST /v1/destinations/{name}/pause (and /resume):
// deliveries to it wait, for every gateway sharing the store, until resumed.
func (s *server) pauseDestination(pause bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := s.setPaused(c, c.Param("name"), pause); err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"name": c.Param("name"), "paused": pause})
	}
}

// setPaused pauses or resumes a configured destination, tells this
// process's dispatcher at once, and wakes it on resume (API and console).
func (s *server) setPaused(c *gin.Context, name string, pause bool) error {
	if !slices.Contains(s.Destinations, name) {
		return gateway.Errorf(gateway.ENOTFOUND, "no destination %s", name)
	}
	if err := s.Queue.SetPaused(c.Request.Context(), name, pause); err != nil {
		return err
	}
	if s.PauseChanged != nil {
		s.PauseChanged(c.Request.Context())
	}
	// The alert is the Monitor's (paused/<destination>), raised while the
	// store says the destination is paused, on every replica alike.
	s.Log.Info("destination paused or resumed", "destination", name, "paused", pause, "caller", c.GetString(subjectKey))
	if !pause && s.Notify != nil {
		s.Notify([]string{name})
	}
	return nil
}
