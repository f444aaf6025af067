package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
)

func runPrune(t *testing.T, newStore func(t *testing.T) gateway.Store) {
	t.Run("PruneByClass", func(t *testing.T) { testPrune(t, newStore(t)) })
	t.Run("PruneNeverTakesWaitingWork", func(t *testing.T) { testPruneKeepsWaiting(t, newStore(t)) })
	t.Run("PrunePayloadsSharingAMillisecond", func(t *testing.T) { testPrunePayloadTies(t, newStore(t)) })
}

// saveAt stores a report version received at `at` for trust R0A with a
// patient and a resource in the indexes, and one delivery per destination
// ("-oru" destinations carry their own payload, others the Bundle).
func saveAt(t *testing.T, s gateway.Store, id string, at time.Time, held bool, dests ...string) {
	t.Helper()
	rec := Record(id, 1, "699X0")
	rec.ReceivedAt, rec.NHSNumber, rec.Resources, rec.Held = at, "9990000018", []string{"DiagnosticReport/" + id, "Patient/P-1"}, held
	var ds []*gateway.Delivery
	for _, dest := range dests {
		d := &gateway.Delivery{ID: gateway.DeliveryID(id, 1, dest), ReportID: id, Version: 1, Destination: dest, PayloadOf: gateway.PayloadBundle,
			State: gateway.DeliveryPending, CreatedAt: at, UpdatedAt: at, NextAttemptAt: at}
		if dest == "epr-oru" {
			d.PayloadOf, d.Payload = "", []byte("MSH|^~\\&|ORU for "+id)
		}
		ds = append(ds, d)
	}
	if _, _, err := s.SaveReport(context.Background(), rec, ds); err != nil {
		t.Fatal(err)
	}
}

// finish leases dest's delivery of id at `at` and ends it in state.
func finish(t *testing.T, s gateway.Store, id, dest string, at time.Time, st gateway.DeliveryState) {
	t.Helper()
	d := lease(t, s, dest, at)
	if d == nil || d.ReportID != id {
		t.Fatalf("lease %s at %s: %+v", dest, at, d)
	}
	o := gateway.Outcome{State: st, Attempt: gateway.Attempt{At: at, Outcome: "delivered"}}
	if st == gateway.DeliveryDead {
		o.Attempt.Outcome, o.Reason = "permanent", "refused"
	}
	complete(t, s, d, o)
}

func prune(t *testing.T, s gateway.Store, before map[gateway.RetentionClass]time.Time, limit int, dry bool) map[gateway.RetentionClass]int {
	t.Helper()
	n, err := s.Prune(context.Background(), before, limit, dry)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func gone(t *testing.T, s gateway.Store, id string) bool {
	t.Helper()
	_, err := s.Report(context.Background(), id)
	if err != nil && gateway.ErrorCode(err) != gateway.ENOTFOUND {
		t.Fatal(err)
	}
	return err != nil
}

func testPrune(t *testing.T, s gateway.Store) {
	ctx := context.Background()
	day := 24 * time.Hour
	for i, at := range []time.Time{t0, t0.Add(30 * day)} {
		m := &gateway.InboundMessage{ID: gateway.NewMessageID(at), ReceivedAt: at, Source: "json", Outcome: "accepted", ControlID: fmt.Sprint("M", i), Raw: []byte("{}")}
		if err := s.RecordMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	saveAt(t, s, "OLD-DONE", t0, false, "epr", "epr-oru")
	finish(t, s, "OLD-DONE", "epr", t0.Add(time.Hour), gateway.DeliveryDelivered)
	finish(t, s, "OLD-DONE", "epr-oru", t0.Add(time.Hour), gateway.DeliveryDelivered)
	saveAt(t, s, "OLD-CANCELLED", t0.Add(time.Minute), false, "files")
	if err := s.Cancel(ctx, gateway.DeliveryID("OLD-CANCELLED", 1, "files"), t0.Add(2*time.Minute), "ops"); err != nil {
		t.Fatal(err)
	}
	saveAt(t, s, "NEW", t0.Add(30*day), false, "epr", "epr-oru")
	finish(t, s, "NEW", "epr", t0.Add(30*day+time.Hour), gateway.DeliveryDelivered)
	finish(t, s, "NEW", "epr-oru", t0.Add(30*day+time.Hour), gateway.DeliveryDelivered)
	for _, e := range []gateway.AuditEntry{
		{At: t0.Add(2 * time.Hour), Subject: "trust", Role: gateway.RoleTrust, ODSCode: "R0A", Action: "read", Reports: []string{"OLD-DONE"}, Outcome: "success"},
		{At: t0.Add(25 * day), Subject: "trust", Role: gateway.RoleTrust, ODSCode: "R0A", Action: "read", Reports: []string{"OLD-CANCELLED"}, Outcome: "success"},
	} {
		if err := s.Audit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	counts, _ := s.Counts(ctx)
	before := map[gateway.RetentionClass]time.Time{gateway.ClassMessages: t0.Add(10 * day), gateway.ClassPayloads: t0.Add(40 * day),
		gateway.ClassReports: t0.Add(10 * day), gateway.ClassAudit: t0.Add(20 * day)}

	// A dry run says what would go and changes nothing.
	dry := prune(t, s, before, 100, true)
	if dry[gateway.ClassMessages] != 1 || dry[gateway.ClassReports] != 2 || dry[gateway.ClassPayloads] < 1 {
		t.Fatalf("dry run: %v", dry)
	}
	if gone(t, s, "OLD-DONE") || gone(t, s, "OLD-CANCELLED") {
		t.Fatal("a dry run removed a report")
	}
	if msgs, _ := s.Messages(ctx, gateway.MessageFilter{}); len(msgs) != 2 {
		t.Fatalf("a dry run removed messages: %d left", len(msgs))
	}
	if d := state(t, s, gateway.DeliveryID("NEW", 1, "epr-oru")); len(d.Payload) == 0 {
		t.Fatal("a dry run emptied a payload")
	}
	if a, _ := s.AuditFor(ctx, "OLD-DONE"); len(a) != 1 {
		t.Fatalf("a dry run removed audit entries: %v", a)
	}
	if again := prune(t, s, before, 100, true); fmt.Sprint(again) != fmt.Sprint(dry) {
		t.Fatalf("a second dry run counts differently: %v, then %v", dry, again)
	}

	// One report at a time with a limit of one.
	if n := prune(t, s, map[gateway.RetentionClass]time.Time{gateway.ClassReports: before[gateway.ClassReports]}, 1, false); n[gateway.ClassReports] != 1 {
		t.Fatalf("limit 1: %v", n)
	}
	n := prune(t, s, before, 100, false)
	if n[gateway.ClassMessages] != 1 || n[gateway.ClassReports] != 1 {
		t.Fatalf("pruned %v", n)
	}
	if again := prune(t, s, before, 100, false); again[gateway.ClassMessages]+again[gateway.ClassReports]+again[gateway.ClassPayloads]+again[gateway.ClassAudit] != 0 {
		t.Fatalf("a second pass found more: %v", again)
	}

	// A resend of a pruned report is refused, never delivered twice.
	again := Record("OLD-DONE", 1, "699X0")
	if _, _, err := s.SaveReport(ctx, again, nil); gateway.ErrorCode(err) != gateway.ECONFLICT || !strings.Contains(err.Error(), "retention") {
		t.Errorf("a resend of a pruned report: %v", err)
	}
	// Messages: the old one is gone, the new one stays.
	msgs, err := s.Messages(ctx, gateway.MessageFilter{})
	if err != nil || len(msgs) != 1 || msgs[0].ControlID != "M1" {
		t.Fatalf("messages after pruning: %+v %v", msgs, err)
	}
	// Old reports are gone with their deliveries and every index entry;
	// the store says they were pruned, and whose they were, not only "not
	// found" (the API tells their lab and operators they are gone).
	for _, id := range []string{"OLD-DONE", "OLD-CANCELLED"} {
		if !gone(t, s, id) {
			t.Errorf("%s is still there", id)
		}
		_, err := s.Report(ctx, id)
		if p, ok := errors.AsType[*gateway.PrunedReport](err); !ok || p.Lab != "699X0" || p.ID != id || p.Version != 1 {
			t.Errorf("%s after pruning: %v, want its PrunedReport", id, err)
		}
		if ds, err := s.Deliveries(ctx, gateway.DeliveryFilter{ReportID: id}); err != nil || len(ds) != 0 {
			t.Errorf("%s's deliveries: %d %v", id, len(ds), err)
		}
		if _, err := s.Delivery(ctx, gateway.DeliveryID(id, 1, "epr")); gateway.ErrorCode(err) != gateway.ENOTFOUND && id == "OLD-DONE" {
			t.Errorf("%s's delivery: %v", id, err)
		}
	}
	if _, err := s.Report(ctx, "NEVER-STORED"); gateway.ErrorCode(err) != gateway.ENOTFOUND || errors.As(err, new(*gateway.PrunedReport)) {
		t.Errorf("a report never stored: %v", err)
	}
	if ids, _ := s.ReportsForPatient(ctx, "9990000018"); len(ids) != 1 || ids[0] != "NEW" {
		t.Errorf("patient index: %v", ids)
	}
	if ids, _ := s.ResourceReports(ctx, "Patient/P-1"); len(ids) != 1 || ids[0] != "NEW" {
		t.Errorf("resource index: %v", ids)
	}
	if ids, _ := s.ReportsUpdated(ctx, "", time.Time{}, "", 10); len(ids) != 1 || ids[0] != "NEW" {
		t.Errorf("updated index: %v", ids)
	}
	if ids, _ := s.ReportsUpdated(ctx, "R0A", time.Time{}, "", 10); len(ids) != 1 {
		t.Errorf("the trust's updated index: %v", ids)
	}
	if all, _ := s.Deliveries(ctx, gateway.DeliveryFilter{Limit: 100}); len(all) != 2 {
		t.Errorf("deliveries left: %d, want NEW's two", len(all))
	}
	after, _ := s.Counts(ctx)
	if after["epr"][gateway.DeliveryDelivered] != counts["epr"][gateway.DeliveryDelivered]-1 || after["files"][gateway.DeliveryCancelled] != 0 {
		t.Errorf("counts: %v, before %v", after, counts)
	}
	// NEW stays, but its delivered ORU's bytes are pruned; the Bundle it
	// refers to is the report's own and stays.
	if gone(t, s, "NEW") {
		t.Fatal("NEW was pruned within its period")
	}
	oru := state(t, s, gateway.DeliveryID("NEW", 1, "epr-oru"))
	if len(oru.Payload) != 0 || oru.State != gateway.DeliveryDelivered || len(oru.Attempts) != 1 {
		t.Errorf("NEW's delivered ORU: %d bytes, %s, %d attempts", len(oru.Payload), oru.State, len(oru.Attempts))
	}
	if fhir := state(t, s, gateway.DeliveryID("NEW", 1, "epr")); len(fhir.Payload) == 0 {
		t.Error("a Bundle reference lost its bytes")
	}
	// Audit: OLD-DONE's access went with it (older than the audit period);
	// OLD-CANCELLED's is younger and stays until its own time.
	if a, _ := s.AuditFor(ctx, "OLD-DONE"); len(a) != 0 {
		t.Errorf("OLD-DONE's audit: %v", a)
	}
	if a, _ := s.AuditFor(ctx, "OLD-CANCELLED"); len(a) != 1 {
		t.Errorf("OLD-CANCELLED's audit must outlive the report: %v", a)
	}
	if n := prune(t, s, map[gateway.RetentionClass]time.Time{gateway.ClassAudit: t0.Add(26 * day)}, 100, false); n[gateway.ClassAudit] != 1 {
		t.Errorf("audit pass: %v", n)
	}
	if a, _ := s.AuditFor(ctx, "OLD-CANCELLED"); len(a) != 0 {
		t.Errorf("OLD-CANCELLED's audit after its period: %v", a)
	}
}

// testPruneKeepsWaiting: a report with a delivery pending, retrying, in
// flight or dead, or held for want of a route, is never pruned however old.
func testPruneKeepsWaiting(t *testing.T, s gateway.Store) {
	saveAt(t, s, "W-PENDING", t0, false, "a")
	saveAt(t, s, "W-DEAD", t0, false, "b")
	finish(t, s, "W-DEAD", "b", t0, gateway.DeliveryDead)
	saveAt(t, s, "W-RETRYING", t0, false, "c")
	d := lease(t, s, "c", t0)
	complete(t, s, d, gateway.Outcome{State: gateway.DeliveryRetrying, NextAttemptAt: t0.Add(time.Hour), Attempt: gateway.Attempt{At: t0, Outcome: "retry"}})
	saveAt(t, s, "W-INFLIGHT", t0, false, "e")
	lease(t, s, "e", t0)
	saveAt(t, s, "W-HELD", t0, true)
	everything := map[gateway.RetentionClass]time.Time{}
	for _, c := range gateway.RetentionClasses {
		everything[c] = t0.AddDate(10, 0, 0)
	}
	if n := prune(t, s, everything, 100, false); n[gateway.ClassReports] != 0 {
		t.Fatalf("pruned waiting work: %v", n)
	}
	for _, id := range []string{"W-PENDING", "W-DEAD", "W-RETRYING", "W-INFLIGHT", "W-HELD"} {
		if gone(t, s, id) {
			t.Errorf("%s was pruned", id)
		}
	}
	if ds, _ := s.Deliveries(context.Background(), gateway.DeliveryFilter{ReportID: "W-DEAD"}); len(ds) != 1 || ds[0].State != gateway.DeliveryDead {
		t.Errorf("the dead letter: %+v", ds)
	}
}

// testPrunePayloadTies: more delivered payloads share one millisecond than
// one pass may prune; later passes still reach them all.
func testPrunePayloadTies(t *testing.T, s gateway.Store) {
	for i := range 5 {
		id := fmt.Sprintf("TIE-%d", i)
		saveAt(t, s, id, t0, false, "epr-oru")
		finish(t, s, id, "epr-oru", t0.Add(time.Hour), gateway.DeliveryDelivered)
	}
	cutoff := map[gateway.RetentionClass]time.Time{gateway.ClassPayloads: t0.Add(2 * time.Hour)}
	total := 0
	for range 5 {
		total += prune(t, s, cutoff, 2, false)[gateway.ClassPayloads]
	}
	if total != 5 {
		t.Fatalf("%d of 5 payloads pruned in passes of 2", total)
	}
	for i := range 5 {
		if d := state(t, s, gateway.DeliveryID(fmt.Sprintf("TIE-%d", i), 1, "epr-oru")); len(d.Payload) != 0 {
			t.Errorf("TIE-%d keeps its payload", i)
		}
	}
}
