package gateway

import (
	"context"
	"strings"
	"time"
)

// Hourly activity: how many messages came in from each source with each
// outcome, and how many deliveries each destination finished, per hour.
// The stores count in the same atomic step as the message or the
// delivery's state change, so every replica sharing a store sees the same
// numbers, and a count costs no extra durable write.

// ActivityRetention is how long hourly counts are kept: a week and a day,
// enough for "today", the last 24 hours and the same hour last week.
const ActivityRetention = 8 * 24 * time.Hour

// ReceivedCounter names the count of messages from source with outcome.
func ReceivedCounter(source, outcome string) string { return "received|" + source + "|" + outcome }

// FinishedCounter names the count of deliveries to destination that ended
// an attempt as state (delivered or dead).
func FinishedCounter(destination string, state DeliveryState) string {
	return "finished|" + destination + "|" + string(state)
}

// CountsFinal says whether the stores count a delivery's change to state.
func CountsFinal(state DeliveryState) bool {
	return state == DeliveryDelivered || state == DeliveryDead
}

// ActivityHour is one hour's counters (the hour's start, UTC).
type ActivityHour struct {
	Hour   time.Time      `json:"hour"`
	Counts map[string]int `json:"counts"`
}

// HourOf is the start of t's hour, as the stores key it.
func HourOf(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// ActivityLog reads the hourly counters.
type ActivityLog interface {
	// Activity returns the hours from the one holding from to the one
	// holding to, oldest first; hours with no counts are left out.
	Activity(ctx context.Context, from, to time.Time) ([]ActivityHour, error)
}

// Sum adds the counters whose names start with prefix over hours, by the
// rest of their name: Sum(h, "received|") gives "json|accepted" -> n.
func Sum(hours []ActivityHour, prefix string) map[string]int {
	out := map[string]int{}
	for _, h := range hours {
		for k, n := range h.Counts {
			if rest, ok := strings.CutPrefix(k, prefix); ok {
				out[rest] += n
			}
		}
	}
	return out
}
