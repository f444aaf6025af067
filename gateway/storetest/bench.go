package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// BenchmarkQueue measures the queue's cost per delivery: enqueue (with its
// report), lease and ack, with a 20 KB payload.
func BenchmarkQueue(b *testing.B, s gateway.Store) {
	ctx := context.Background()
	payload := make([]byte, 20<<10)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		id := fmt.Sprintf("B-%d", i)
		rec := Record(id, 1, "699X0")
		d := &gateway.Delivery{ID: gateway.DeliveryID(id, 1, "epr"), ReportID: id, Version: 1, Destination: "epr",
			ContentType: "application/fhir+json", Payload: payload, State: gateway.DeliveryPending,
			CreatedAt: t0, UpdatedAt: t0, NextAttemptAt: t0}
		if _, _, err := s.SaveReport(ctx, rec, []*gateway.Delivery{d}); err != nil {
			b.Fatal(err)
		}
		leased, err := s.Lease(ctx, "epr", t0.Add(time.Second), time.Minute)
		if err != nil || leased == nil {
			b.Fatalf("lease: %v %v", leased, err)
		}
		if err := s.Complete(ctx, leased.ID, leased.Lease, gateway.Outcome{State: gateway.DeliveryDelivered,
			Attempt: gateway.Attempt{At: t0, Outcome: "delivered"}}); err != nil {
			b.Fatal(err)
		}
	}
}
