package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nhs-genomics/results-gateway/adapters/fhirrest"
	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/gateway/boltstore"
	"github.com/nhs-genomics/results-gateway/gateway/redisstore"
	"github.com/nhs-genomics/results-gateway/gateway/storetest"
	"github.com/nhs-genomics/results-gateway/internal/receiver"
)

// fakeClock only moves when the test moves it: no test sleeps for a backoff.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Set(t time.Time)     { c.mu.Lock(); c.now = t; c.mu.Unlock() }
func (c *fakeClock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

type harness struct {
	store *boltstore.Store
	clock *fakeClock
	recv  *receiver.Receiver
	dest  *gateway.Destination
	disp  *gateway.Dispatcher
	logs  *bytes.Buffer
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	store, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	recv := receiver.Start(t)
	adapter, err := fhirrest.New(json.RawMessage(`{"baseUrl":"` + recv.URL + `"}`))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{store: store, recv: recv, logs: &bytes.Buffer{},
		clock: &fakeClock{now: time.Date(2026, 11, 2, 15, 0, 0, 0, time.UTC)}}
	h.dest = &gateway.Destination{Name: "epr", Adapter: adapter, Workers: 1, Timeout: 2 * time.Second, MaxAge: 73 * time.Hour}
	h.disp = &gateway.Dispatcher{Queue: store, Destinations: []*gateway.Destination{h.dest}, Clock: h.clock,
		Log: slog.New(slog.NewTextHandler(h.logs, nil)), PollInterval: 10 * time.Millisecond,
		// Rand just under 1 makes full jitter land on its ceiling, so the schedule is checkable.
		Retry: gateway.ExponentialBackoff{Base: 10 * time.Second, Cap: time.Hour, Rand: func() float64 { return 0.999999 }}}
	return h
}

// enqueue adds a report whose payload is a real Bundle naming report id.
func (h *harness) enqueue(t *testing.T, id string, version int) string {
	t.Helper()
	rec := storetest.Record(id, version, "699X0")
	rec.ReceivedAt = h.clock.Now()
	d := &gateway.Delivery{ID: gateway.DeliveryID(id, version, "epr"), ReportID: id, Version: version, Destination: "epr",
		ContentType: "application/fhir+json", State: gateway.DeliveryPending, CreatedAt: rec.ReceivedAt, UpdatedAt: rec.ReceivedAt,
		NextAttemptAt: rec.ReceivedAt,
		Payload:       []byte(`{"resourceType":"Bundle","entry":[{"request":{"method":"PUT","url":"DiagnosticReport?identifier=https://x/report|` + id + `"}}]}`)}
	if _, _, err := h.store.SaveReport(context.Background(), rec, []*gateway.Delivery{d}); err != nil {
		t.Fatal(err)
	}
	return d.ID
}

func (h *harness) step(t *testing.T) bool {
	t.Helper()
	did, err := h.disp.DeliverOne(context.Background(), h.dest)
	if err != nil {
		t.Fatal(err)
	}
	return did
}

func (h *harness) get(t *testing.T, id string) *gateway.Delivery {
	t.Helper()
	d, err := h.store.Delivery(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestUnavailableThenRecoveredWithBackoff(t *testing.T) {
	h := newHarness(t)
	id := h.enqueue(t, "D-1", 1)
	h.recv.FailFirst(3, "")
	var gaps []time.Duration
	for i := 0; i < 3; i++ {
		before := h.clock.Now()
		if !h.step(t) {
			t.Fatalf("attempt %d: nothing was due", i+1)
		}
		d := h.get(t, id)
		if d.State != gateway.DeliveryRetrying || !strings.Contains(d.LastError, "503") {
			t.Fatalf("after failure %d: %s %q", i+1, d.State, d.LastError)
		}
		gaps = append(gaps, d.NextAttemptAt.Sub(before))
		if h.step(t) {
			t.Fatal("a retry went before its time")
		}
		h.clock.Set(d.NextAttemptAt)
	}
	if !h.step(t) {
		t.Fatal("the retry after recovery did not happen")
	}
	d := h.get(t, id)
	if d.State != gateway.DeliveryDelivered || !strings.HasPrefix(d.ReceiverRef, "DiagnosticReport/D-1/_history/1 (1 entries: 1×200)") || len(d.Attempts) != 4 {
		t.Fatalf("after recovery: %+v", d)
	}
	// Exponential: each ceiling doubles (10 s, 20 s, 40 s).
	for i, want := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second} {
		if gaps[i] < want-time.Second || gaps[i] > want+time.Second {
			t.Errorf("backoff %d = %s, want about %s", i+1, gaps[i], want)
		}
	}
	if got := strings.Count(h.logs.String(), "destination failing"); got != 1 {
		t.Errorf("'destination failing' logged %d times, want once", got)
	}
	if got := strings.Count(h.logs.String(), "destination recovered"); got != 1 {
		t.Errorf("'destination recovered' logged %d times, want once", got)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	h := newHarness(t)
	id := h.enqueue(t, "D-2", 1)
	h.recv.FailFirst(1, "600")
	start := h.clock.Now()
	h.step(t)
	if next := h.get(t, id).NextAttemptAt; next.Sub(start) < 600*time.Second {
		t.Fatalf("Retry-After 600 ignored: next attempt after %s", next.Sub(start))
	}
}

func TestPermanentRejectionIsDeadLetteredThenReplayed(t *testing.T) {
	h := newHarness(t)
	id := h.enqueue(t, "D-3", 1)
	h.recv.Set(receiver.Reject)
	h.step(t)
	d := h.get(t, id)
	if d.State != gateway.DeliveryDead || !strings.Contains(d.Reason, "unknown NHS number system") || len(d.Attempts) != 1 {
		t.Fatalf("a 400 must dead-letter at once with the OperationOutcome text: %+v", d)
	}
	// The receiver's words stay with the delivery, out of the log: an EPR
	// may echo the patient's name or number in them.
	if logs := h.logs.String(); !strings.Contains(logs, "dead-lettered") || strings.Contains(logs, "unknown NHS number system") {
		t.Fatalf("the log line of the dead letter: %s", logs)
	}
	h.recv.Set(receiver.Accept) // the trust fixes its EPR
	if err := h.store.Replay(context.Background(), id, h.clock.Now(), "ops"); err != nil {
		t.Fatal(err)
	}
	h.step(t)
	if d := h.get(t, id); d.State != gateway.DeliveryDelivered || len(d.Attempts) != 3 || d.Attempts[1].Outcome != gateway.OutcomeReplayed {
		t.Fatalf("replay: %+v", d)
	}
	if got := h.recv.Arrivals()["D-3"]; got != 1 {
		t.Fatalf("receiver holds %d copies", got)
	}
}

func TestHangTimesOutAndRetries(t *testing.T) {
	h := newHarness(t)
	h.dest.Timeout = 200 * time.Millisecond
	id := h.enqueue(t, "D-4", 1)
	h.recv.Set(receiver.Hang)
	h.step(t)
	if d := h.get(t, id); d.State != gateway.DeliveryRetrying || !strings.Contains(d.LastError, "deadline") {
		t.Fatalf("a hung receiver must time out and retry: %s %q", d.State, d.LastError)
	}
}

func TestGivesUpAfterMaxAttemptsAndMaxAge(t *testing.T) {
	h := newHarness(t)
	h.dest.MaxAttempts = 3
	id := h.enqueue(t, "D-5", 1)
	h.recv.Set(receiver.Fail)
	for i := 0; i < 3; i++ {
		h.step(t)
		h.clock.Add(time.Hour)
	}
	d := h.get(t, id)
	if d.State != gateway.DeliveryDead || !strings.Contains(d.Reason, "gave up after 3 attempts") {
		t.Fatalf("max attempts: %s %q", d.State, d.Reason)
	}
	if h.step(t) {
		t.Fatal("kept trying after giving up")
	}

	h.dest.MaxAttempts, h.dest.MaxAge = 0, 2*time.Minute
	id = h.enqueue(t, "D-6", 1)
	for i := 0; i < 10 && h.get(t, id).State != gateway.DeliveryDead; i++ {
		h.step(t)
		h.clock.Set(h.get(t, id).NextAttemptAt)
	}
	if d := h.get(t, id); d.State != gateway.DeliveryDead || !strings.Contains(d.Reason, "gave up after 2m0s") {
		t.Fatalf("max age: %s %q", d.State, d.Reason)
	}
}

func TestSlowDestinationDoesNotBlockOthers(t *testing.T) {
	h := newHarness(t)
	fast := receiver.Start(t)
	fastAdapter, _ := fhirrest.New(json.RawMessage(`{"baseUrl":"` + fast.URL + `"}`))
	h.recv.Set(receiver.Hang)
	h.dest.Timeout = time.Second
	h.disp.Clock = gateway.SystemClock{}
	h.disp.Destinations = append(h.disp.Destinations, &gateway.Destination{Name: "fast", Adapter: fastAdapter, Workers: 1, Timeout: time.Second})
	for i := 0; i < 5; i++ {
		rec := storetest.Record("S-"+string(rune('a'+i)), 1, "699X0")
		now := time.Now()
		var ds []*gateway.Delivery
		for _, dest := range []string{"epr", "fast"} {
			ds = append(ds, &gateway.Delivery{ID: gateway.DeliveryID(rec.ID, 1, dest), ReportID: rec.ID, Version: 1, Destination: dest,
				ContentType: "application/fhir+json", State: gateway.DeliveryPending, CreatedAt: now, NextAttemptAt: now,
				Payload: []byte(`{"url":"DiagnosticReport?identifier=x|` + rec.ID + `"}`)})
		}
		if _, _, err := h.store.SaveReport(context.Background(), rec, ds); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.disp.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for i := 0; i < 300 && len(fast.Arrivals()) < 5; i++ { // bounded wait
		time.Sleep(10 * time.Millisecond)
	}
	if got := len(fast.Arrivals()); got != 5 {
		t.Fatalf("the healthy destination got %d of 5 reports while the other hung", got)
	}
}

func TestBackoffIsFullJitterWithCap(t *testing.T) {
	for _, r := range []float64{0, 0.5, 0.999} {
		b := gateway.ExponentialBackoff{Base: time.Second, Cap: time.Minute, Rand: func() float64 { return r }}
		for failures := 1; failures < 70; failures++ {
			got := b.Backoff(failures)
			ceiling := min(time.Minute, time.Second<<min(failures-1, 30))
			if got < 0 || got > ceiling {
				t.Fatalf("Backoff(%d) with rand %v = %s, want within [0, %s]", failures, r, got, ceiling)
			}
		}
	}
}

// TestShutdownFinishesAttemptInFlight stops the dispatcher while an attempt
// is under way: the attempt completes and is recorded, not left leased.
func TestShutdownFinishesAttemptInFlight(t *testing.T) {
	h := newHarness(t)
	h.disp.Clock = gateway.SystemClock{}
	h.recv.SetDelay(300 * time.Millisecond)
	h.clock.Set(time.Now().Add(-time.Second))
	id := h.enqueue(t, "D-7", 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.disp.Run(ctx); close(done) }()
	for i := 0; i < 200; i++ { // bounded: wait for the request to reach the receiver
		if n, _ := h.recv.Requests(); n > 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if d := h.get(t, id); d.State != gateway.DeliveryDelivered {
		t.Fatalf("after shutdown the delivery is %s, want delivered", d.State)
	}
}

// BenchmarkHeapWhileDeliveriesWait reports the gateway's live heap while
// 1 000 or 100 000 deliveries wait on Redis for an EPR that keeps failing:
// the queue lives in the store, so the heap must not grow with it.
func BenchmarkHeapWhileDeliveriesWait(b *testing.B) {
	for _, waiting := range []int{1000, 100000} {
		b.Run(strconv.Itoa(waiting), func(b *testing.B) {
			opts, _ := redis.ParseURL("redis://127.0.0.1:6379/0")
			rdb := redis.NewClient(opts)
			prefix := fmt.Sprintf("heap-%d", time.Now().UnixNano())
			defer func() {
				var cursor uint64
				for {
					keys, next, _ := rdb.Scan(context.Background(), cursor, "{"+prefix+"}:*", 5000).Result()
					if len(keys) > 0 {
						rdb.Unlink(context.Background(), keys...)
					}
					if cursor = next; cursor == 0 {
						break
					}
				}
				rdb.Close()
			}()
			store := redisstore.New(rdb, prefix, []byte("test-index-key-0123456789"))
			recv := receiver.Start(b)
			recv.Set(receiver.Fail)
			adapter, _ := fhirrest.New(json.RawMessage(`{"baseUrl":"` + recv.URL + `"}`))
			var wg sync.WaitGroup
			jobs := make(chan int)
			for w := 0; w < 16; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range jobs {
						id := fmt.Sprintf("H-%d", i)
						now := time.Now()
						d := &gateway.Delivery{ID: gateway.DeliveryID(id, 1, "down"), ReportID: id, Version: 1, Destination: "down",
							ContentType: "application/fhir+json", Payload: make([]byte, 2048), State: gateway.DeliveryPending,
							CreatedAt: now, NextAttemptAt: now}
						if _, _, err := store.SaveReport(context.Background(), storetest.Record(id, 1, "699X0"), []*gateway.Delivery{d}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			for i := 0; i < waiting; i++ {
				jobs <- i
			}
			close(jobs)
			wg.Wait()
			disp := &gateway.Dispatcher{Queue: store, Clock: gateway.SystemClock{}, PollInterval: 10 * time.Millisecond,
				Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Retry: gateway.ExponentialBackoff{Base: time.Hour, Cap: time.Hour},
				Destinations: []*gateway.Destination{{Name: "down", Adapter: adapter, Workers: 4, Timeout: time.Second}}}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { disp.Run(ctx); close(done) }()
			b.ResetTimer()
			var heap uint64
			for i := 0; i < b.N; i++ {
				time.Sleep(100 * time.Millisecond) // let the workers churn through leases
				runtime.GC()
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				heap = max(heap, m.HeapInuse)
			}
			b.StopTimer()
			cancel()
			<-done
			b.ReportMetric(float64(heap)/(1<<20), "heap-MB")
		})
	}
}

// TestPausedDestinationWaits: a paused destination's deliveries stay queued
// and go once it is resumed.
func TestPausedDestinationWaits(t *testing.T) {
	h := newHarness(t)
	h.disp.Clock = gateway.SystemClock{}
	h.clock.Set(time.Now().Add(-time.Second))
	id := h.enqueue(t, "D-8", 1)
	if err := h.store.SetPaused(context.Background(), "epr", true); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.disp.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	time.Sleep(100 * time.Millisecond) // ten poll intervals
	if n, _ := h.recv.Requests(); n != 0 || h.get(t, id).State != gateway.DeliveryPending {
		t.Fatalf("a paused destination was sent %d requests", n)
	}
	h.store.SetPaused(context.Background(), "epr", false)
	for i := 0; i < 200 && h.get(t, id).State != gateway.DeliveryDelivered; i++ { // bounded wait
		time.Sleep(10 * time.Millisecond)
	}
	if st := h.get(t, id).State; st != gateway.DeliveryDelivered {
		t.Fatalf("after resume the delivery is %s", st)
	}
}

// TestReplayIsAFreshStart: a delivery that gave up after its attempts and
// age is replayed days later with a new budget of both: its first failure
// after the replay is retried, not dead-lettered.
func TestReplayIsAFreshStart(t *testing.T) {
	h := newHarness(t)
	h.dest.MaxAttempts = 2
	id := h.enqueue(t, "D-9", 1)
	h.recv.Set(receiver.Fail)
	for i := 0; i < 2; i++ {
		h.clock.Set(h.get(t, id).NextAttemptAt)
		h.step(t)
	}
	if d := h.get(t, id); d.State != gateway.DeliveryDead || len(d.Attempts) != 2 {
		t.Fatalf("after two failures: %+v", d)
	}
	h.clock.Add(100 * time.Hour) // beyond MaxAge too
	if err := h.store.Replay(context.Background(), id, h.clock.Now(), "ops"); err != nil {
		t.Fatal(err)
	}
	h.step(t)
	if d := h.get(t, id); d.State != gateway.DeliveryRetrying {
		t.Fatalf("the first failure after a replay dead-lettered it: %+v", d)
	}
	h.clock.Set(h.get(t, id).NextAttemptAt)
	h.step(t)
	if d := h.get(t, id); d.State != gateway.DeliveryDead || !strings.Contains(d.Reason, "2 attempts") {
		t.Fatalf("the replay's own budget of two attempts was not applied: %+v", d)
	}
}

// TestRetryWakesAtItsTime: a worker with nothing due sleeps until the next
// retry falls due, not until its next poll (here a minute away).
func TestRetryWakesAtItsTime(t *testing.T) {
	store, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	recv := receiver.Start(t)
	recv.FailFirst(1, "")
	adapter, err := fhirrest.New(json.RawMessage(`{"baseUrl":"` + recv.URL + `"}`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, _, err := store.SaveReport(context.Background(), storetest.Record("WAKE-1", 1, "699X0"), []*gateway.Delivery{{
		ID: gateway.DeliveryID("WAKE-1", 1, "epr"), ReportID: "WAKE-1", Version: 1, Destination: "epr", ContentType: "application/fhir+json",
		Payload: []byte(`{"resourceType":"Bundle","type":"transaction","entry":[]}`), State: gateway.DeliveryPending,
		CreatedAt: now, UpdatedAt: now, NextAttemptAt: now}}); err != nil {
		t.Fatal(err)
	}
	d := &gateway.Dispatcher{Queue: store, Clock: gateway.SystemClock{}, Log: slog.New(slog.DiscardHandler), PollInterval: time.Minute,
		Retry:        gateway.ExponentialBackoff{Base: 300 * time.Millisecond, Cap: 300 * time.Millisecond},
		Destinations: []*gateway.Destination{{Name: "epr", Adapter: adapter, Workers: 1, Timeout: 5 * time.Second}}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for i := 0; ; i++ {
		got, err := store.Delivery(context.Background(), gateway.DeliveryID("WAKE-1", 1, "epr"))
		if err == nil && got.State == gateway.DeliveryDelivered {
			break
		}
		if i > 600 { // 15 s: far less than the minute a poll would take, far more than the backoff
			t.Fatalf("not delivered after its retry time: %+v %v", got, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// stepAdapter accepts every delivery and says when each starts.
type stepAdapter struct {
	replaySafe bool
	started    map[string]chan struct{} // by report id
	onStart    func(reportID string)
}

func (a *stepAdapter) Deliver(_ context.Context, d *gateway.Delivery) (string, error) {
	if a.onStart != nil {
		a.onStart(d.ReportID)
	}
	close(a.started[d.ReportID])
	return "ok", nil
}

func (a *stepAdapter) ReplaySafe() bool { return a.replaySafe }

// recordingQueue holds back the recording of the first delivery's outcome
// until the second delivery has started (up to wait), and says whether it
// had: the overlap a replay-safe destination's worker is built on.
type recordingQueue struct {
	gateway.Queue
	first         string
	secondStarted chan struct{}
	wait          time.Duration
	overlapped    bool
	recorded      chan struct{} // closed once the first outcome is recorded
}

func (q *recordingQueue) CompleteAndLease(ctx context.Context, id, lease string, o gateway.Outcome, dest string, now time.Time, ttl time.Duration) (*gateway.Delivery, error) {
	if id != q.first {
		return q.Queue.CompleteAndLease(ctx, id, lease, o, dest, now, ttl)
	}
	select {
	case <-q.secondStarted:
		q.overlapped = true
	case <-time.After(q.wait):
	}
	next, err := q.Queue.CompleteAndLease(ctx, id, lease, o, dest, now, ttl)
	close(q.recorded)
	return next, err
}

// A replay-safe destination's worker records one outcome while it sends
// the next delivery; any other records it first.
func TestWorkerOverlapsRecordingOnlyWhereReplaySafe(t *testing.T) {
	for _, safe := range []bool{true, false} {
		t.Run(fmt.Sprintf("replay-safe=%v", safe), func(t *testing.T) {
			h := newHarness(t)
			ids := []string{h.enqueue(t, "OV-1", 1), h.enqueue(t, "OV-2", 1), h.enqueue(t, "OV-3", 1)}
			a := &stepAdapter{replaySafe: safe, started: map[string]chan struct{}{"OV-1": make(chan struct{}), "OV-2": make(chan struct{}), "OV-3": make(chan struct{})}}
			q := &recordingQueue{Queue: h.store, first: ids[0], secondStarted: a.started["OV-2"], recorded: make(chan struct{})}
			if safe {
				q.wait = 10 * time.Second // only waited out if the worker does not overlap
			}
			recordedFirst := false
			a.onStart = func(reportID string) {
				if reportID == "OV-2" {
					select {
					case <-q.recorded:
						recordedFirst = true
					default:
					}
				}
			}
			h.dest.Adapter, h.disp.Queue = a, q
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { h.disp.Run(ctx); close(done) }()
			for i := 0; ; i++ {
				if h.get(t, ids[2]).State == gateway.DeliveryDelivered && h.get(t, ids[0]).State == gateway.DeliveryDelivered {
					break
				}
				if i > 2000 {
					t.Fatal("the deliveries were not all delivered")
				}
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			<-done
			for _, id := range ids {
				if d := h.get(t, id); d.State != gateway.DeliveryDelivered {
					t.Errorf("%s is %s after the worker stopped, want delivered (recorded)", id, d.State)
				}
			}
			if safe && (!q.overlapped || recordedFirst) {
				t.Errorf("replay-safe: the first outcome was recorded before the second delivery started (overlapped=%v)", q.overlapped)
			}
			if !safe && (q.overlapped || !recordedFirst) {
				t.Errorf("not replay-safe: the second delivery started before the first outcome was recorded")
			}
		})
	}
}

// serialOnly hides an adapter's ReplaySafe, so its worker records each
// outcome before the next attempt.
type serialOnly struct{ gateway.Adapter }

// BenchmarkRecordingOverlap: 2 workers delivering 300 deliveries from the
// embedded store to a loopback receiver that takes 3 ms a request, with
// each outcome recorded before the next attempt (serial) and recorded
// while the next attempt is under way (overlapped, what a replay-safe
// destination gets). Reports deliveries/s of each and overlapped/serial.
func BenchmarkRecordingOverlap(b *testing.B) {
	rate := map[bool]float64{}
	for range b.N {
		for _, overlapped := range []bool{false, true} {
			rate[overlapped] += deliverAll(b, overlapped, 300) / float64(b.N)
		}
	}
	b.ReportMetric(rate[false], "serial-deliveries/s")
	b.ReportMetric(rate[true], "overlapped-deliveries/s")
	b.ReportMetric(rate[true]/rate[false], "overlapped/serial")
}

func deliverAll(b *testing.B, overlapped bool, n int) float64 {
	store, err := boltstore.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	recv := receiver.Start(b)
	recv.SetDelay(3 * time.Millisecond)
	fhir, err := fhirrest.New(json.RawMessage(`{"baseUrl":"` + recv.URL + `"}`))
	if err != nil {
		b.Fatal(err)
	}
	var adapter gateway.Adapter = fhir
	if !overlapped {
		adapter = serialOnly{fhir}
	}
	now := time.Now()
	for i := range n {
		id := fmt.Sprintf("OVB-%d", i)
		d := &gateway.Delivery{ID: gateway.DeliveryID(id, 1, "epr"), ReportID: id, Version: 1, Destination: "epr", ContentType: "application/fhir+json",
			Payload: []byte(`{"resourceType":"Bundle","type":"transaction","entry":[]}`), State: gateway.DeliveryPending,
			CreatedAt: now, UpdatedAt: now, NextAttemptAt: now}
		if _, _, err := store.SaveReport(context.Background(), storetest.Record(id, 1, "699X0"), []*gateway.Delivery{d}); err != nil {
			b.Fatal(err)
		}
	}
	disp := &gateway.Dispatcher{Queue: store, Clock: gateway.SystemClock{}, Log: slog.New(slog.DiscardHandler), PollInterval: time.Second,
		Retry:        gateway.ExponentialBackoff{Base: time.Second, Cap: time.Second},
		Destinations: []*gateway.Destination{{Name: "epr", Adapter: adapter, Workers: 2, Timeout: 5 * time.Second}}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start := time.Now()
	go func() { disp.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for i := 0; ; i++ {
		got, _ := recv.Requests()
		if got >= n {
			break
		}
		if i > 30000 {
			b.Fatalf("not all delivered: %d of %d requests", got, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return float64(n) / time.Since(start).Seconds()
}

// TestIdleAfterAnEmptyLease: a worker whose lease found nothing sleeps until
// the next delivery falls due; if it fell due after the lease looked (the
// lease ran long on a busy machine) it leases again at once, where it once
// slept a whole poll; if it was due when the lease looked, it was passed
// over (an older version in flight) and waits for a poll, as a paused
// worker does.
func TestIdleAfterAnEmptyLease(t *testing.T) {
	h := newHarness(t)
	h.disp.PollInterval = time.Minute
	due := h.clock.Now()
	h.enqueue(t, "IDLE-1", 1)
	for _, c := range []struct {
		name       string
		now, tried time.Time
		want       time.Duration
	}{
		{"not due yet", due.Add(-20 * time.Millisecond), due.Add(-30 * time.Millisecond), 21 * time.Millisecond},
		{"fell due after the lease looked", due.Add(10 * time.Millisecond), due.Add(-5 * time.Millisecond), time.Millisecond},
		{"due when the lease looked", due.Add(10 * time.Millisecond), due.Add(5 * time.Millisecond), time.Minute},
		{"paused", due.Add(10 * time.Millisecond), time.Time{}, time.Minute},
	} {
		h.clock.Set(c.now)
		if got := h.disp.Idle(h.dest, c.tried); got != c.want {
			t.Errorf("%s: sleeps %v, want %v", c.name, got, c.want)
		}
	}
}

// unavailableQueue refuses the first fails recordings of an outcome, as a
// store does while Redis restarts.
type unavailableQueue struct {
	gateway.Queue
	mu    sync.Mutex
	fails int
}

func (q *unavailableQueue) down() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fails > 0 {
		q.fails--
		return true
	}
	return false
}

func (q *unavailableQueue) Complete(ctx context.Context, id, lease string, o gateway.Outcome) error {
	if q.down() {
		return gateway.Errorf(gateway.EUNAVAILABLE, "the store is not available: complete")
	}
	return q.Queue.Complete(ctx, id, lease, o)
}

func (q *unavailableQueue) CompleteAndLease(ctx context.Context, id, lease string, o gateway.Outcome, dest string, now time.Time, ttl time.Duration) (*gateway.Delivery, error) {
	if q.down() {
		return nil, gateway.Errorf(gateway.EUNAVAILABLE, "the store is not available: complete")
	}
	return q.Queue.CompleteAndLease(ctx, id, lease, o, dest, now, ttl)
}

// countingAdapter delivers at once and counts what it was sent, by report.
type countingAdapter struct {
	mu   sync.Mutex
	sent map[string]int
}

func (a *countingAdapter) Deliver(_ context.Context, d *gateway.Delivery) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sent[d.ReportID]++
	return "ok", nil
}

func (a *countingAdapter) count(id string) int { a.mu.Lock(); defer a.mu.Unlock(); return a.sent[id] }

// A store outage shorter than a lease (Redis restarting) while an outcome
// is being recorded does not send the delivery again: the worker records
// the outcome once the store is back, while its lease still holds, rather
// than leaving the delivery in flight to be leased and sent once more
// when the lease ends. The receiver here is not replay-safe (HL7 v2).
func TestOutcomeRecordedAfterAStoreBlipIsNotSentAgain(t *testing.T) {
	h := newHarness(t)
	id := h.enqueue(t, "BLIP-1", 1)
	a := &countingAdapter{sent: map[string]int{}}
	h.dest.Adapter, h.disp.Queue = a, &unavailableQueue{Queue: h.store, fails: 3}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.disp.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for i := 0; a.count("BLIP-1") == 0 || h.get(t, id).State == gateway.DeliveryInFlight; i++ {
		if i == 150 { // 1.5 s: the outcome was not recorded once the store was back
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.clock.Add(time.Minute) // any lease is over: an unrecorded delivery is due again
	time.Sleep(300 * time.Millisecond)
	if n, st := a.count("BLIP-1"), h.get(t, id).State; n != 1 || st != gateway.DeliveryDelivered {
		t.Fatalf("sent %d times, state %s: want sent once, delivered", n, st)
	}
}
