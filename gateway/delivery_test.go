package gateway_test

import (
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// An operator's replay is listed among a delivery's attempts, but it is
// not a send: the API's attemptCount (and the CLI's ATTEMPTS) count sends.
func TestSendsLeaveOutReplays(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	d := &gateway.Delivery{CreatedAt: t0, Attempts: []gateway.Attempt{
		{At: t0, Outcome: "permanent"}, gateway.ReplayMarker(t0.Add(time.Hour), "ops"), {At: t0.Add(time.Hour), Outcome: "delivered"}}}
	if n := d.Sends(); n != 2 {
		t.Fatalf("%d sends, want 2 (a failure and a delivery; the replay between them is not one)", n)
	}
	if !d.WaitingSince().Equal(t0.Add(time.Hour)) {
		t.Fatalf("waiting since %v, want the replay's time", d.WaitingSince())
	}
}
