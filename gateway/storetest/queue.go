package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
)

var t0 = time.Date(2026, 11, 2, 15, 0, 0, 0, time.UTC)

func runQueue(t *testing.T, newStore func(t *testing.T) gateway.Store) {
	t.Run("DeliveriesCreatedWithReport", func(t *testing.T) { testCreatedWithReport(t, newStore(t)) })
	t.Run("LeaseAndAck", func(t *testing.T) { testLeaseAck(t, newStore(t)) })
	t.Run("RetryAtATime", func(t *testing.T) { testRetry(t, newStore(t)) })
	t.Run("DeadLetterReplayCancel", func(t *testing.T) { testDead(t, newStore(t)) })
	t.Run("ExpiredLeaseComesBack", func(t *testing.T) { testExpiredLease(t, newStore(t)) })
	t.Run("VersionsInOrder", func(t *testing.T) { testVersionOrder(t, newStore(t)) })
	t.Run("NewVersionSupersedesWaiting", func(t *testing.T) { testNewVersionSupersedesWaiting(t, newStore(t)) })
	t.Run("DeadWithdrawalOutlivesANewVersion", func(t *testing.T) { testDeadWithdrawalStays(t, newStore(t)) })
	t.Run("DestinationsIndependent", func(t *testing.T) { testDestinations(t, newStore(t)) })
	t.Run("OneLeaseAtATime", func(t *testing.T) { testConcurrentLeases(t, newStore(t)) })
	t.Run("ListAndCount", func(t *testing.T) { testListCount(t, newStore(t)) })
	t.Run("PauseDestination", func(t *testing.T) { testPaused(t, newStore(t)) })
}

// Enqueue saves a report version with one delivery per destination, due at t0.
func Enqueue(t testing.TB, s gateway.Store, id string, version int, dests ...string) []*gateway.Delivery {
	t.Helper()
	rec := Record(id, version, "699X0")
	rec.ReceivedAt = t0
	var ds []*gateway.Delivery
	for _, dest := range dests {
		ds = append(ds, &gateway.Delivery{
			ID: gateway.DeliveryID(id, version, dest), ReportID: id, Version: version, Destination: dest,
			ContentType: "application/fhir+json", Payload: []byte(fmt.Sprintf("payload %s v%d %s", id, version, dest)),
			State: gateway.DeliveryPending, CreatedAt: t0, UpdatedAt: t0, NextAttemptAt: t0,
		})
	}
	if _, _, err := s.SaveReport(context.Background(), rec, ds); err != nil {
		t.Fatal(err)
	}
	return ds
}

func lease(t testing.TB, s gateway.Store, dest string, now time.Time) *gateway.Delivery {
	t.Helper()
	d, err := s.Lease(context.Background(), dest, now, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func complete(t testing.TB, s gateway.Store, d *gateway.Delivery, o gateway.Outcome) {
	t.Helper()
	if err := s.Complete(context.Background(), d.ID, d.Lease, o); err != nil {
		t.Fatal(err)
	}
}

func state(t testing.TB, s gateway.Store, id string) *gateway.Delivery {
	t.Helper()
	d, err := s.Delivery(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func delivered(at time.Time, ref string) gateway.Outcome {
	return gateway.Outcome{State: gateway.DeliveryDelivered, Attempt: gateway.Attempt{At: at, Outcome: "delivered", ReceiverRef: ref}}
}

func testCreatedWithReport(t *testing.T, s gateway.Store) {
	ds := Enqueue(t, s, "Q-1", 1, "epr", "files")
	for _, d := range ds {
		got := state(t, s, d.ID)
		if got.State != gateway.DeliveryPending || string(got.Payload) != string(d.Payload) || got.ContentType != d.ContentType || got.Withdrawal {
			t.Fatalf("delivery %s stored as %+v", d.ID, got)
		}
	}
	// What a delivery says of itself is kept: whom it is for, and that it
	// only withdraws an earlier version.
	rec := Record("Q-1W", 1, "699X0")
	rec.ReceivedAt = t0
	w := &gateway.Delivery{ID: "Q-1W~v1~epr", ReportID: "Q-1W", Version: 1, Destination: "epr", Recipient: "R0A", Withdrawal: true,
		ContentType: "application/fhir+json", Payload: []byte("withdrawn"), State: gateway.DeliveryPending, CreatedAt: t0, UpdatedAt: t0, NextAttemptAt: t0}
	if _, _, err := s.SaveReport(context.Background(), rec, []*gateway.Delivery{w}); err != nil {
		t.Fatal(err)
	}
	if got := state(t, s, w.ID); !got.Withdrawal || got.Recipient != "R0A" {
		t.Fatalf("a withdrawal stored as %+v", got)
	}
	// A resend of the report creates no new deliveries.
	rec = Record("Q-1", 1, "699X0")
	rec.ReceivedAt = t0
	if _, created, err := s.SaveReport(context.Background(), rec, []*gateway.Delivery{{ID: "extra", ReportID: "Q-1", Version: 1, Destination: "other", State: gateway.DeliveryPending}}); err != nil || created {
		t.Fatalf("resend: created=%v err=%v", created, err)
	}
	if _, err := s.Delivery(context.Background(), "extra"); gateway.ErrorCode(err) != gateway.ENOTFOUND {
		t.Fatalf("a resend enqueued a delivery: %v", err)
	}
	// A rejected report enqueues nothing.
	conflict := Record("Q-1", 1, "699X0")
	conflict.Digest = "different"
	if _, _, err := s.SaveReport(context.Background(), conflict, []*gateway.Delivery{{ID: "x2", ReportID: "Q-1", Version: 1, Destination: "other", State: gateway.DeliveryPending}}); gateway.ErrorCode(err) != gateway.ECONFLICT {
		t.Fatal(err)
	}
	if _, err := s.Delivery(context.Background(), "x2"); gateway.ErrorCode(err) != gateway.ENOTFOUND {
		t.Fatal("a rejected report left a delivery behind")
	}
}

func testLeaseAck(t *testing.T, s gateway.Store) {
	Enqueue(t, s, "Q-2", 1, "epr")
	if d := lease(t, s, "epr", t0.Add(-time.Second)); d != nil {
		t.Fatal("leased a delivery before it was due")
	}
	d := lease(t, s, "epr", t0)
	if d == nil || d.Lease == "" || string(d.Payload) != "payload Q-2 v1 epr" {
		t.Fatalf("lease = %+v", d)
	}
	if again := lease(t, s, "epr", t0); again != nil {
		t.Fatal("a delivery in flight was leased twice")
	}
	if err := s.Complete(context.Background(), d.ID, "wrong-token", delivered(t0, "x")); gateway.ErrorCode(err) != gateway.ELEASELOST {
		t.Fatalf("Complete with a wrong lease: %v", err)
	}
	complete(t, s, d, delivered(t0.Add(time.Second), "DiagnosticReport/42"))
	got := state(t, s, d.ID)
	if got.State != gateway.DeliveryDelivered || got.ReceiverRef != "DiagnosticReport/42" || len(got.Attempts) != 1 {
		t.Fatalf("after ack: %+v", got)
	}
	if lease(t, s, "epr", t0.Add(time.Hour)) != nil {
		t.Fatal("a delivered delivery came back")
	}
}

func testRetry(t *testing.T, s gateway.Store) {
	Enqueue(t, s, "Q-3", 1, "epr")
	d := lease(t, s, "epr", t0)
	next := t0.Add(30 * time.Second)
	complete(t, s, d, gateway.Outcome{State: gateway.DeliveryRetrying, NextAttemptAt: next,
		Attempt: gateway.Attempt{At: t0, Outcome: "retry", Error: "503 Service Unavailable"}})
	got := state(t, s, d.ID)
	if got.State != gateway.DeliveryRetrying || !got.NextAttemptAt.Equal(next) || got.LastError != "503 Service Unavailable" {
		t.Fatalf("after retry: %+v", got)
	}
	if lease(t, s, "epr", next.Add(-time.Millisecond)) != nil {
		t.Fatal("leased before the retry time")
	}
	d = lease(t, s, "epr", next)
	if d == nil || len(d.Attempts) != 1 {
		t.Fatalf("retry not leased at its time: %+v", d)
	}
}

func testDead(t *testing.T, s gateway.Store) {
	ctx := context.Background()
	Enqueue(t, s, "Q-4", 1, "epr")
	d := lease(t, s, "epr", t0)
	complete(t, s, d, gateway.Outcome{State: gateway.DeliveryDead, Reason: "rejected: 400 invalid resource",
		Attempt: gateway.Attempt{At: t0, Outcome: "permanent", Error: "400 Bad Request"}})
	got := state(t, s, d.ID)
	if got.State != gateway.DeliveryDead || got.Reason == "" || len(got.Attempts) != 1 {
		t.Fatalf("dead letter: %+v", got)
	}
	if lease(t, s, "epr", t0.Add(time.Hour)) != nil {
		t.Fatal("a dead letter was leased")
	}
	if err := s.Replay(ctx, d.ID, t0.Add(time.Hour), "ops-anna"); err != nil {
		t.Fatal(err)
	}
	d = lease(t, s, "epr", t0.Add(time.Hour))
	if d == nil || len(d.Attempts) != 2 || d.Attempts[0].Outcome != "permanent" || d.Attempts[1].Outcome != gateway.OutcomeReplayed ||
		!d.Attempts[1].At.Equal(t0.Add(time.Hour)) || d.Attempts[1].By != "ops-anna" {
		t.Fatalf("replayed delivery not leased, or its history (the failure, then the replay) lost: %+v", d)
	}
	if err := s.Cancel(ctx, d.ID, t0, "ops-anna"); gateway.ErrorCode(err) != gateway.ECONFLICT {
		t.Fatalf("cancelled a delivery in flight: %v", err)
	}
	if err := s.Replay(ctx, d.ID, t0, "ops-anna"); gateway.ErrorCode(err) != gateway.ECONFLICT {
		t.Fatalf("replayed a delivery in flight: %v", err)
	}
	complete(t, s, d, gateway.Outcome{State: gateway.DeliveryRetrying, NextAttemptAt: t0.Add(2 * time.Hour), Attempt: gateway.Attempt{At: t0, Outcome: "retry"}})
	// "Retry now": a retrying delivery replayed goes at once, not at the
	// end of its backoff, and waits from the replay.
	if lease(t, s, "epr", t0.Add(80*time.Minute)) != nil {
		t.Fatal("leased before its retry time")
	}
	if err := s.Replay(ctx, d.ID, t0.Add(80*time.Minute), "ops-cara"); err != nil {
		t.Fatal(err)
	}
	if got := state(t, s, d.ID); got.State != gateway.DeliveryRetrying || !got.NextAttemptAt.Equal(t0.Add(80*time.Minute)) {
		t.Fatalf("after retry now: %+v", got)
	}
	if old, err := s.OldestWaiting(ctx, []string{"epr"}); err != nil || !old["epr"].Equal(t0.Add(80*time.Minute)) {
		t.Fatalf("a replayed delivery waits from its replay: %v %v", old, err)
	}
	d = lease(t, s, "epr", t0.Add(80*time.Minute))
	if d == nil {
		t.Fatal("a retrying delivery replayed was not leased at once")
	}
	complete(t, s, d, gateway.Outcome{State: gateway.DeliveryRetrying, NextAttemptAt: t0.Add(2 * time.Hour), Attempt: gateway.Attempt{At: t0.Add(80 * time.Minute), Outcome: "retry"}})
	if err := s.Cancel(ctx, d.ID, t0.Add(90*time.Minute), "ops-ben"); err != nil {
		t.Fatal(err)
	}
	got = state(t, s, d.ID)
	if got.State != gateway.DeliveryCancelled || lease(t, s, "epr", t0.Add(3*time.Hour)) != nil {
		t.Fatalf("cancel did not stop the delivery: %+v", got)
	}
	// The history keeps each operator's action, with who, after the delivery moves on.
	if err := s.Replay(ctx, d.ID, t0.Add(100*time.Minute), "ops-anna"); err != nil {
		t.Fatal(err)
	}
	got = state(t, s, d.ID)
	var outcomes []string
	for _, a := range got.Attempts {
		outcomes = append(outcomes, a.Outcome+"/"+a.By)
	}
	if fmt.Sprint(outcomes) != "[permanent/ replayed/ops-anna retry/ replayed/ops-cara retry/ cancelled/ops-ben replayed/ops-anna]" || got.Sends() != 3 ||
		!got.Attempts[5].At.Equal(t0.Add(90*time.Minute)) {
		t.Fatalf("history after cancel and replay: %v (%d sends)", outcomes, got.Sends())
	}
}

func testExpiredLease(t *testing.T, s gateway.Store) {
	Enqueue(t, s, "Q-5", 1, "epr")
	first := lease(t, s, "epr", t0) // this worker dies
	if lease(t, s, "epr", t0.Add(59*time.Second)) != nil {
		t.Fatal("leased again before the lease expired")
	}
	second := lease(t, s, "epr", t0.Add(61*time.Second))
	if second == nil || second.ID != first.ID || second.Lease == first.Lease {
		t.Fatalf("an expired lease did not come back: %+v", second)
	}
	if err := s.Complete(context.Background(), first.ID, first.Lease, delivered(t0, "late")); gateway.ErrorCode(err) != gateway.ELEASELOST {
		t.Fatalf("the dead worker's late ack was taken: %v", err)
	}
	complete(t, s, second, delivered(t0.Add(62*time.Second), "ok"))
}

func testVersionOrder(t *testing.T, s gateway.Store) {
	Enqueue(t, s, "Q-6", 1, "epr")
	v1 := lease(t, s, "epr", t0)
	Enqueue(t, s, "Q-6", 2, "epr")
	if d := lease(t, s, "epr", t0); d != nil {
		t.Fatalf("v2 was leased while v1 is in flight: %s", d.ID)
	}
	complete(t, s, v1, gateway.Outcome{State: gateway.DeliveryRetrying, NextAttemptAt: t0, Attempt: gateway.Attempt{At: t0, Outcome: "retry"}})
	v2 := lease(t, s, "epr", t0.Add(time.Second))
	if v2 == nil || v2.Version != 2 {
		t.Fatalf("after v1 failed, v2 should go: %+v", v2)
	}
	if got := state(t, s, v1.ID); got.State != gateway.DeliverySuperseded || got.Reason == "" {
		t.Fatalf("the retried v1 must be superseded, not sent after v2: %+v", got)
	}
	complete(t, s, v2, delivered(t0, "ok"))
	// A dead v1 is not replayed after v2 was delivered.
	Enqueue(t, s, "Q-7", 1, "epr")
	d := lease(t, s, "epr", t0)
	complete(t, s, d, gateway.Outcome{State: gateway.DeliveryDead, Reason: "x", Attempt: gateway.Attempt{At: t0, Outcome: "permanent"}})
	Enqueue(t, s, "Q-7", 2, "epr")
	complete(t, s, lease(t, s, "epr", t0), delivered(t0, "ok"))
	if err := s.Replay(context.Background(), d.ID, t0, "ops"); gateway.ErrorCode(err) != gateway.ECONFLICT {
		t.Fatalf("replayed v1 after v2: %v", err)
	}
	if got := lease(t, s, "epr", t0); got != nil {
		t.Fatalf("v1 was sent after v2: %+v", got)
	}

	// A version the report has moved on from is not sent again where the
	// newer one was not queued (a correction moved the result to another
	// trust's patient): its replay is refused, and a retrying one is
	// superseded at its turn. A withdrawal still goes.
	Enqueue(t, s, "Q-8", 1, "epr")
	dead := lease(t, s, "epr", t0)
	complete(t, s, dead, gateway.Outcome{State: gateway.DeliveryDead, Reason: "x", Attempt: gateway.Attempt{At: t0, Outcome: "permanent"}})
	Enqueue(t, s, "Q-9", 1, "epr")
	retrying := lease(t, s, "epr", t0)
	complete(t, s, retrying, gateway.Outcome{State: gateway.DeliveryRetrying, NextAttemptAt: t0.Add(time.Minute), Attempt: gateway.Attempt{At: t0, Outcome: "retry"}})
	rec := Record("Q-10", 2, "699X0")
	rec.ReceivedAt = t0
	w := &gateway.Delivery{ID: "Q-10~v2~epr~withdrawal", ReportID: "Q-10", Version: 2, Destination: "epr", Withdrawal: true,
		ContentType: "application/fhir+json", Payload: []byte("withdrawn"), State: gateway.DeliveryPending, CreatedAt: t0, UpdatedAt: t0, NextAttemptAt: t0}
	if _, _, err := s.SaveReport(context.Background(), rec, []*gateway.Delivery{w}); err != nil {
		t.Fatal(err)
	}
	complete(t, s, lease(t, s, "epr", t0), gateway.Outcome{State: gateway.DeliveryDead, Reason: "x", Attempt: gateway.Attempt{At: t0, Outcome: "permanent"}})
	for _, id := range []string{"Q-8", "Q-9"} {
		Enqueue(t, s, id, 2, "other")
	}
	Enqueue(t, s, "Q-10", 3, "other")
	if err := s.Replay(context.Background(), dead.ID, t0, "ops"); gateway.ErrorCode(err) != gateway.ECONFLICT || !strings.Contains(err.Error(), "at version 2") {
		t.Fatalf("a replay of version 1 after version 2 went elsewhere: %v", err)
	}
	if err := s.Replay(context.Background(), w.ID, t0, "ops"); err != nil {
		t.Fatalf("a withdrawal of an earlier version could not be replayed: %v", err)
	}
	got := lease(t, s, "epr", t0.Add(time.Minute))
	if got == nil || got.ID != w.ID {
		t.Fatalf("leased %+v, want the withdrawal", got)
	}
	if got := lease(t, s, "epr", t0.Add(time.Minute)); got != nil {
		t.Fatalf("leased %s after the withdrawal, want nothing", got.ID)
	}
	if st := state(t, s, retrying.ID); st.State != gateway.DeliverySuperseded || !strings.Contains(st.Reason, "version 2") {
		t.Fatalf("a retrying version 1 after version 2 went elsewhere is %s (%s), want superseded", st.State, st.Reason)
	}
}

// testNewVersionSupersedesWaiting: a new version supersedes the earlier
// ones waiting for the same destination at once (pending or retrying, not
// when their retry falls due), and an earlier dead letter there, which may
// never be replayed once a newer version exists (it kept its destination's
// dead-letter alert open for good); one in flight is left to finish.
func testNewVersionSupersedesWaiting(t *testing.T, s gateway.Store) {
	ctx := context.Background()
	v1 := Enqueue(t, s, "Q-11", 1, "epr", "files", "other", "refusing")
	retried := lease(t, s, "epr", t0)
	complete(t, s, retried, gateway.Outcome{State: gateway.DeliveryRetrying, NextAttemptAt: t0.Add(time.Hour), Attempt: gateway.Attempt{At: t0, Outcome: "retry"}})
	refused := lease(t, s, "refusing", t0)
	complete(t, s, refused, gateway.Outcome{State: gateway.DeliveryDead, Reason: "the receiver rejected it", Attempt: gateway.Attempt{At: t0, Outcome: "permanent"}})
	inFlight := lease(t, s, "other", t0)
	v2 := Enqueue(t, s, "Q-11", 2, "epr", "files", "other", "refusing")
	for _, c := range []struct {
		id   string
		want gateway.DeliveryState
	}{{v1[0].ID, gateway.DeliverySuperseded}, {v1[1].ID, gateway.DeliverySuperseded}, {inFlight.ID, gateway.DeliveryInFlight},
		{v1[3].ID, gateway.DeliverySuperseded},
		{v2[0].ID, gateway.DeliveryPending}, {v2[1].ID, gateway.DeliveryPending}, {v2[2].ID, gateway.DeliveryPending}} {
		if got := state(t, s, c.id); got.State != c.want || (c.want == gateway.DeliverySuperseded && !strings.Contains(got.Reason, "version 2")) {
			t.Errorf("%s: %s %q, want %s", c.id, got.State, got.Reason, c.want)
		}
	}
	if next, ok, err := s.NextDue(ctx, "epr"); err != nil || !ok || !next.Equal(t0) {
		t.Errorf("epr's next due %v %v %v, want v2's, now (not v1's retry an hour on)", next, ok, err)
	}
	if d := lease(t, s, "epr", t0); d == nil || d.Version != 2 {
		t.Errorf("epr leased %+v, want version 2", d)
	}
	if counts, err := s.Counts(ctx); err != nil || counts["refusing"][gateway.DeliveryDead] != 0 {
		t.Errorf("dead letters counted at refusing: %v %v", counts["refusing"], err)
	}
}

// testDeadWithdrawalStays: a withdrawal that dead-lettered (the
// destination still holds the result for a patient a correction moved it
// away from) is not superseded when a later version is queued there: that
// version is for the other patient and takes nothing off the first, so
// the dead letter, and its alert, stay for an operator.
func testDeadWithdrawalStays(t *testing.T, s gateway.Store) {
	ctx := context.Background()
	rec := Record("Q-W", 2, "699X0")
	rec.ReceivedAt = t0
	w := &gateway.Delivery{ID: gateway.DeliveryID("Q-W", 2, "pdf") + "~withdrawal", ReportID: "Q-W", Version: 2, Destination: "pdf", Withdrawal: true,
		ContentType: "application/pdf", Payload: []byte("withdrawn"), State: gateway.DeliveryPending, CreatedAt: t0, UpdatedAt: t0, NextAttemptAt: t0}
	if _, _, err := s.SaveReport(ctx, rec, []*gateway.Delivery{w}); err != nil {
		t.Fatal(err)
	}
	refused := lease(t, s, "pdf", t0)
	if refused == nil || refused.ID != w.ID {
		t.Fatalf("leased %+v, want the withdrawal", refused)
	}
	complete(t, s, refused, gateway.Outcome{State: gateway.DeliveryDead, Reason: "the receiver rejected it", Attempt: gateway.Attempt{At: t0, Outcome: "permanent"}})
	Enqueue(t, s, "Q-W", 3, "pdf")
	if got := state(t, s, w.ID); got.State != gateway.DeliveryDead {
		t.Errorf("the dead withdrawal: %s %q, want still dead", got.State, got.Reason)
	}
	if counts, err := s.Counts(ctx); err != nil || counts["pdf"][gateway.DeliveryDead] != 1 {
		t.Errorf("dead letters counted at pdf: %v %v, want the withdrawal", counts["pdf"], err)
	}
}

func testDestinations(t *testing.T, s gateway.Store) {
	Enqueue(t, s, "Q-8", 1, "slow", "fast")
	slow := lease(t, s, "slow", t0)
	fast := lease(t, s, "fast", t0)
	if slow == nil || fast == nil || slow.Destination != "slow" || fast.Destination != "fast" {
		t.Fatal("each destination must have its own queue")
	}
}

func testConcurrentLeases(t *testing.T, s gateway.Store) {
	const n = 40
	for i := 0; i < n; i++ {
		Enqueue(t, s, fmt.Sprintf("L-%d", i), 1, "epr")
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				d, err := s.Lease(context.Background(), "epr", t0, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if d == nil {
					return
				}
				mu.Lock()
				seen[d.ID]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d of %d deliveries leased", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("%s leased %d times at once", id, c)
		}
	}
}

func testListCount(t *testing.T, s gateway.Store) {
	ctx := context.Background()
	Enqueue(t, s, "Q-9", 1, "epr", "files")
	Enqueue(t, s, "Q-10", 1, "epr")
	d := lease(t, s, "epr", t0)
	complete(t, s, d, gateway.Outcome{State: gateway.DeliveryDead, Reason: "bad", Attempt: gateway.Attempt{At: t0, Outcome: "permanent"}})
	dead, err := s.Deliveries(ctx, gateway.DeliveryFilter{State: gateway.DeliveryDead})
	if err != nil || len(dead) != 1 || dead[0].ID != d.ID || dead[0].Reason != "bad" {
		t.Fatalf("dead list = %v, %v", dead, err)
	}
	forReport, err := s.Deliveries(ctx, gateway.DeliveryFilter{ReportID: "Q-9"})
	if err != nil || len(forReport) != 2 {
		t.Fatalf("report's deliveries = %v, %v", forReport, err)
	}
	byDest, err := s.Deliveries(ctx, gateway.DeliveryFilter{Destination: "files"})
	if err != nil || len(byDest) != 1 {
		t.Fatalf("destination's deliveries = %v, %v", byDest, err)
	}
	counts, err := s.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts["epr"][gateway.DeliveryDead] != 1 || counts["epr"][gateway.DeliveryPending] != 1 || counts["files"][gateway.DeliveryPending] != 1 {
		t.Fatalf("counts = %v", counts)
	}
}

func testPaused(t *testing.T, s gateway.Store) {
	ctx := context.Background()
	if err := s.SetPaused(ctx, "epr", true); err != nil {
		t.Fatal(err)
	}
	s.SetPaused(ctx, "files", true)
	s.SetPaused(ctx, "files", false)
	p, err := s.Paused(ctx)
	if err != nil || !p["epr"] || p["files"] || len(p) != 1 {
		t.Fatalf("Paused = %v, %v", p, err)
	}
}
