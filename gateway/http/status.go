package httpapi

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// What the dashboard shows, and the API serves, about the flow: each
// destination's queue and its age, and the last hours' activity. The API
// and the console call the same functions, so their numbers agree.

type destinationView struct {
	Name   string                        `json:"name"`
	Paused bool                          `json:"paused"`
	Counts map[gateway.DeliveryState]int `json:"counts"`
	// OldestWaiting: when the longest-waiting delivery (pending, retrying,
	// in flight) started waiting; absent when nothing waits.
	OldestWaiting  *time.Time `json:"oldestWaiting,omitempty"`
	WaitingSeconds int64      `json:"oldestWaitingSeconds"`
	DeliveredToday int        `json:"deliveredToday"` // since 00:00 UTC
	DeadToday      int        `json:"deadToday"`
}

func (s *server) destinationStatus(ctx context.Context) ([]destinationView, error) {
	paused, err := s.Queue.Paused(ctx)
	if err != nil {
		return nil, err
	}
	counts, err := s.Queue.Counts(ctx)
	if err != nil {
		return nil, err
	}
	oldest, err := s.Queue.OldestWaiting(ctx, s.Destinations)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now().UTC()
	var today []gateway.ActivityHour
	if s.Activity != nil {
		if today, err = s.Activity.Activity(ctx, now.Truncate(24*time.Hour), now); err != nil {
			return nil, err
		}
	}
	finished := gateway.Sum(today, "finished|")
	out := make([]destinationView, 0, len(s.Destinations))
	for _, name := range s.Destinations {
		v := destinationView{Name: name, Paused: paused[name], Counts: counts[name],
			DeliveredToday: finished[name+"|"+string(gateway.DeliveryDelivered)], DeadToday: finished[name+"|"+string(gateway.DeliveryDead)]}
		if since, ok := oldest[name]; ok {
			v.OldestWaiting, v.WaitingSeconds = &since, int64(max(now.Sub(since), 0).Seconds())
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// listDestinations is GET /v1/destinations.
func (s *server) listDestinations(c *gin.Context) {
	out, err := s.destinationStatus(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"destinations": out})
}

// activityView is the last hours' intake and deliveries.
type activityView struct {
	From  time.Time              `json:"from"`
	To    time.Time              `json:"to"`
	Hours []gateway.ActivityHour `json:"hours"`
	// Sources: messages received in the window by source and outcome
	// (accepted, resent, refused, unavailable).
	Sources map[string]map[string]int `json:"sources"`
	// Destinations: deliveries finished in the window by destination and
	// state (delivered, dead).
	Destinations map[string]map[string]int `json:"destinations"`
}

func (s *server) activity(ctx context.Context, hours int) (*activityView, error) {
	if s.Activity == nil {
		return nil, gateway.Errorf(gateway.ENOTFOUND, "activity counts are not enabled")
	}
	to := s.Clock.Now().UTC()
	from := gateway.HourOf(to).Add(-time.Duration(hours-1) * time.Hour)
	list, err := s.Activity.Activity(ctx, from, to)
	if err != nil {
		return nil, err
	}
	v := &activityView{From: from, To: to, Hours: list, Sources: split(gateway.Sum(list, "received|")), Destinations: split(gateway.Sum(list, "finished|"))}
	if v.Hours == nil {
		v.Hours = []gateway.ActivityHour{}
	}
	return v, nil
}

// split turns "a|b" -> n into a -> b -> n.
func split(flat map[string]int) map[string]map[string]int {
	out := map[string]map[string]int{}
	for k, n := range flat {
		a, b, _ := strings.Cut(k, "|")
		if out[a] == nil {
			out[a] = map[string]int{}
		}
		out[a][b] += n
	}
	return out
}

// getActivity is GET /v1/activity?hours=24 (1 to 192: the counts are
// kept for gateway.ActivityRetention).
func (s *server) getActivity(c *gin.Context) {
	hours := 24
	if h := c.Query("hours"); h != "" {
		n, err := strconv.Atoi(h)
		if err != nil || n < 1 || n > int(gateway.ActivityRetention/time.Hour) {
			s.fail(c, gateway.Errorf(gateway.EINVALID, "hours: a whole number from 1 to %d", int(gateway.ActivityRetention/time.Hour)))
			return
		}
		hours = n
	}
	v, err := s.activity(c.Request.Context(), hours)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}
