package gateway_test

import (
	"context"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/gateway/boltstore"
	"github.com/nhs-genomics/results-gateway/gateway/storetest"
)

type fixedTargets map[string]int

func (f fixedTargets) TargetFor(code string) (gateway.TurnaroundTarget, bool) {
	d, ok := f[code]
	return gateway.TurnaroundTarget{Days: d, Category: "test", Basis: "configured"}, ok
}

// Three R14.1 reports for R0A in November (issued 10, 20 and 50 days after
// the sample arrived; target 42), one delivered 2 h after issue and read a
// day later; an M4 report for another trust; and reports issued in October
// and December, which do not count — one of them amended in November.
func TestTurnaroundByTrustTestAndMonth(t *testing.T) {
	ctx := context.Background()
	store, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	save := func(id string, version int, trust, code string, sample time.Time, labDays int, dest string) *gateway.Delivery {
		t.Helper()
		rec := storetest.Record(id, version, "699X0")
		rec.TrustODS, rec.TestCode, rec.SampleReceived = trust, code, sample
		rec.Issued = sample.Add(time.Duration(labDays) * 24 * time.Hour)
		rec.ReceivedAt = rec.Issued.Add(time.Minute)
		var ds []*gateway.Delivery
		if dest != "" {
			ds = []*gateway.Delivery{{ID: gateway.DeliveryID(id, version, dest), ReportID: id, Version: version, Destination: dest,
				State: gateway.DeliveryPending, CreatedAt: rec.ReceivedAt, UpdatedAt: rec.ReceivedAt, NextAttemptAt: rec.ReceivedAt}}
		}
		if _, _, err := store.SaveReport(ctx, rec, ds); err != nil {
			t.Fatal(err)
		}
		if ds == nil {
			return nil
		}
		return ds[0]
	}
	d := save("T-1", 1, "R0A", "R14.1", nov.AddDate(0, 0, -5), 10, "epr") // issued 6 November
	save("T-2", 1, "R0A", "R14.1", nov.AddDate(0, 0, -10), 20, "")        // 21 November, never delivered
	save("T-3", 1, "R0A", "R14.1", nov.AddDate(0, 0, -5), 50, "")         // 16 December: not November
	save("T-4", 1, "R0A", "R14.1", nov.AddDate(0, 0, -15), 40, "")        // 26 November
	save("T-5", 1, "RXX", "M4", nov.AddDate(0, 0, 1), 3, "")              // 5 November
	save("T-6", 1, "R0A", "R14.1", nov.AddDate(0, 0, -40), 20, "")        // 12 October
	save("T-6", 2, "R0A", "R14.1", nov.AddDate(0, 0, -40), 50, "")        // amended on 11 November: still October's

	leased, err := store.Lease(ctx, "epr", d.CreatedAt.Add(2*time.Hour), time.Minute)
	if err != nil || leased == nil {
		t.Fatal(leased, err)
	}
	deliveredAt := d.CreatedAt.Add(2 * time.Hour)
	if err := store.Complete(ctx, leased.ID, leased.Lease, gateway.Outcome{State: gateway.DeliveryDelivered,
		Attempt: gateway.Attempt{At: deliveredAt, Outcome: "delivered"}}); err != nil {
		t.Fatal(err)
	}
	for _, e := range []gateway.AuditEntry{
		{At: deliveredAt.Add(time.Hour), Role: gateway.RoleOperator, Action: "read", Reports: []string{"T-1"}, Outcome: "success"},
		{At: deliveredAt.Add(12 * time.Hour), Role: gateway.RoleTrust, ODSCode: "R0A", Action: "read", Reports: []string{"T-1"}, Outcome: "denied"},
		{At: deliveredAt.Add(24 * time.Hour), Role: gateway.RoleTrust, ODSCode: "R0A", Action: "read", Reports: []string{"T-1"}, Outcome: "success"},
	} {
		if err := store.Audit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}

	rep, err := gateway.Turnaround(ctx, store, fixedTargets{"R14.1": 42, "M4": 21}, nov.AddDate(0, 0, 14), "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Month != "2026-11" || len(rep.Rows) != 2 || rep.Truncated {
		t.Fatalf("report: %+v", rep)
	}
	r := rep.Rows[0]
	if r.Trust != "R0A" || r.TestCode != "R14.1" || r.Reports != 3 || r.Target == nil || r.Target.Days != 42 {
		t.Fatalf("R0A row: %+v", r)
	}
	// Lab: 10, 20, 40 days: median 20, p90 40; all three within 42.
	if r.SampleToIssued != (gateway.Spread{N: 3, Median: 20, P90: 40}) || r.WithinTarget != 3 || r.Share != 1 {
		t.Errorf("lab turnaround: %+v within %d share %v", r.SampleToIssued, r.WithinTarget, r.Share)
	}
	// Delivered 2 h 1 min after issue (0.1 day); read by the trust a day later (the denied read does not count).
	if r.IssuedToDelivered != (gateway.Spread{N: 1, Median: 0.1, P90: 0.1}) || r.DeliveredToRead != (gateway.Spread{N: 1, Median: 1, P90: 1}) ||
		r.SampleToDelivered != (gateway.Spread{N: 1, Median: 10.1, P90: 10.1}) {
		t.Errorf("steps: %+v %+v %+v", r.IssuedToDelivered, r.DeliveredToRead, r.SampleToDelivered)
	}
	if m := rep.Rows[1]; m.Trust != "RXX" || m.TestCode != "M4" || m.Reports != 1 || m.WithinTarget != 1 {
		t.Errorf("M4 row: %+v", m)
	}
	// One trust only; and a limit says the rows are partial.
	only, err := gateway.Turnaround(ctx, store, fixedTargets{}, nov, "RXX", 1000)
	if err != nil || len(only.Rows) != 1 || only.Rows[0].Trust != "RXX" || only.Rows[0].Target != nil || only.Rows[0].Share != 0 {
		t.Fatalf("one trust: %+v %v", only, err)
	}
	capped, err := gateway.Turnaround(ctx, store, fixedTargets{}, nov, "", 2)
	if err != nil || !capped.Truncated {
		t.Fatalf("limit: %+v %v", capped, err)
	}
	oct, err := gateway.Turnaround(ctx, store, fixedTargets{}, nov.AddDate(0, -1, 0), "", 1000)
	if err != nil || len(oct.Rows) != 1 || oct.Rows[0].Reports != 1 || oct.Rows[0].SampleToIssued.Median != 20 {
		t.Fatalf("October (the amended report counts by its first version): %+v %v", oct, err)
	}
}
