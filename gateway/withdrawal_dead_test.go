package gateway_test

import (
	"context"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// drain leases every due delivery at dest and completes it: a withdrawal
// dead-lettered (the EPR refused it), anything else delivered.
func drain(t *testing.T, e *lifecycleEnv, dest string) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	for i := 0; i < 10; i++ {
		d, err := e.store.Lease(ctx, dest, now, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if d == nil {
			return
		}
		out := gateway.Outcome{State: gateway.DeliveryDelivered, Attempt: gateway.Attempt{At: now, Outcome: "delivered"}}
		if d.Withdrawal {
			out = gateway.Outcome{State: gateway.DeliveryDead, Reason: "the receiver rejected it", Attempt: gateway.Attempt{At: now, Outcome: "permanent"}}
		}
		if err := e.store.Complete(ctx, d.ID, d.Lease, out); err != nil {
			t.Fatal(err)
		}
	}
}

// A withdrawal that dead-lettered (the first patient still holds the
// result at the trust's PDF destination) must stay a dead letter, its
// alert open, when a later correction for the second patient is
// queued there: that correction goes as the second patient's PDF alone
// and withdraws nothing, so superseding the withdrawal leaves a wrong
// patient's result filed with no alert.
func TestDeadWithdrawalIsNotSupersededByALaterVersion(t *testing.T) {
	e := newLifecycle(t, nil)
	e.in.Router = pdfRoutes{trustRoutes{"R0A": {"r0a-pdf"}}}
	e.acceptFirst(t)
	drain(t, e, "r0a-pdf")
	rec, _ := e.accept(t, movedTo9990001316(t))
	drain(t, e, "r0a-pdf")
	wid := gateway.DeliveryID(rec.ID, 2, "r0a-pdf") + "~withdrawal"
	ctx := context.Background()
	if d, err := e.store.Delivery(ctx, wid); err != nil || d.State != gateway.DeliveryDead {
		t.Fatalf("setup: the withdrawal %v %+v", err, d)
	}
	v3 := movedTo9990001316(t)
	v3.Version, v3.Result.Conclusion = 3, v3.Result.Conclusion+" Corrected again."
	e.accept(t, v3)
	ds, _ := e.store.Deliveries(ctx, gateway.DeliveryFilter{ReportID: rec.ID})
	var v3ids []string
	for _, d := range ds {
		if d.Version == 3 {
			v3ids = append(v3ids, d.ID)
		}
	}
	d, err := e.store.Delivery(ctx, wid)
	if err != nil || d.State != gateway.DeliveryDead {
		t.Fatalf("the dead withdrawal of the first patient's PDF is now %s (%q); version 3 sent %v, none withdrawing it", d.State, d.Reason, v3ids)
	}
}
