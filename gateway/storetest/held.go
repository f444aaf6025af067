package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
)

func runHeld(t *testing.T, newStore func(t *testing.T) gateway.Store) {
	t.Run("HeldUntilReleased", func(t *testing.T) { testHeldReleased(t, newStore(t)) })
	t.Run("HeldVersionReplaced", func(t *testing.T) { testHeldReplaced(t, newStore(t)) })
	t.Run("HeldListOldestFirst", func(t *testing.T) { testHeldOrder(t, newStore(t)) })
}

// hold saves a version for a trust with no destination.
func hold(t *testing.T, s gateway.Store, id string, version int, at time.Time) {
	t.Helper()
	rec := Record(id, version, "699X0")
	rec.Held, rec.ReceivedAt, rec.TrustODS = true, at, "RXX"
	if _, _, err := s.SaveReport(context.Background(), rec, nil); err != nil {
		t.Fatal(err)
	}
}

func heldIDs(t *testing.T, s gateway.Store) []string {
	t.Helper()
	recs, err := s.HeldReports(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		out = append(out, fmt.Sprintf("%s v%d", r.ID, r.Version))
	}
	return out
}

func deliveryFor(id string, version int, dest string) *gateway.Delivery {
	return &gateway.Delivery{ID: gateway.DeliveryID(id, version, dest), ReportID: id, Version: version, Destination: dest,
		ContentType: "application/fhir+json", Payload: []byte("released " + id), State: gateway.DeliveryPending,
		CreatedAt: t0, UpdatedAt: t0, NextAttemptAt: t0}
}

func testHeldReleased(t *testing.T, s gateway.Store) {
	ctx := context.Background()
	hold(t, s, "H-1", 1, t0)
	if got := heldIDs(t, s); fmt.Sprint(got) != "[H-1 v1]" {
		t.Fatalf("held = %v", got)
	}
	if d := lease(t, s, "rxx-epr", t0); d != nil {
		t.Fatalf("a held report has a delivery: %v", d.ID)
	}
	released, err := s.ReleaseHeld(ctx, "H-1", 1, []*gateway.Delivery{deliveryFor("H-1", 1, "rxx-epr")})
	if err != nil || !released {
		t.Fatalf("release = %v %v", released, err)
	}
	if got := heldIDs(t, s); len(got) != 0 {
		t.Fatalf("still held after release: %v", got)
	}
	d := lease(t, s, "rxx-epr", t0)
	if d == nil || string(d.Payload) != "released H-1" {
		t.Fatalf("the released delivery is not due: %v", d)
	}
	// A second replica releasing the same report queues nothing more.
	again, err := s.ReleaseHeld(ctx, "H-1", 1, []*gateway.Delivery{deliveryFor("H-1", 1, "rxx-other")})
	if err != nil || again {
		t.Fatalf("second release = %v %v", again, err)
	}
	if d := lease(t, s, "rxx-other", t0); d != nil {
		t.Fatal("a second release queued a delivery")
	}
}

func testHeldReplaced(t *testing.T, s gateway.Store) {
	ctx := context.Background()
	hold(t, s, "H-2", 1, t0)
	hold(t, s, "H-2", 2, t0.Add(time.Minute)) // still no destination: the newer version is what waits
	if got := heldIDs(t, s); fmt.Sprint(got) != "[H-2 v2]" {
		t.Fatalf("held = %v", got)
	}
	if ok, _ := s.ReleaseHeld(ctx, "H-2", 1, []*gateway.Delivery{deliveryFor("H-2", 1, "d")}); ok {
		t.Fatal("an older version was released")
	}
	// A version saved with deliveries (the trust got a route) ends the hold.
	Enqueue(t, s, "H-2", 3, "d")
	if got := heldIDs(t, s); len(got) != 0 {
		t.Fatalf("still held after a routed version: %v", got)
	}
	if ok, _ := s.ReleaseHeld(ctx, "H-2", 2, []*gateway.Delivery{deliveryFor("H-2", 2, "d")}); ok {
		t.Fatal("a superseded held version was released")
	}
}

func testHeldOrder(t *testing.T, s gateway.Store) {
	hold(t, s, "H-b", 1, t0.Add(2*time.Minute))
	hold(t, s, "H-a", 1, t0.Add(time.Minute))
	hold(t, s, "H-c", 1, t0.Add(3*time.Minute))
	if got := heldIDs(t, s); fmt.Sprint(got) != "[H-a v1 H-b v1 H-c v1]" {
		t.Fatalf("held = %v, want oldest first", got)
	}
	recs, _ := s.HeldReports(context.Background(), 2)
	if len(recs) != 2 || recs[0].TrustODS != "RXX" || !recs[0].Held {
		t.Fatalf("limit 2 = %v", recs)
	}
}
