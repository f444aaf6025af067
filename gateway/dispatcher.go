package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// leaseMargin is how long a lease outlasts its attempt's timeout.
const leaseMargin = 5 * time.Second

// Destination is one receiving system and how hard to try it.
type Destination struct {
	Name        string
	Adapter     Adapter
	Workers     int           // concurrent deliveries to this destination
	Timeout     time.Duration // one attempt
	MaxAttempts int           // give up (dead letter) after this many failures; 0 = no limit
	MaxAge      time.Duration // or once a delivery is this old; 0 = no limit
}

// Dispatcher delivers queued deliveries. Each destination has its own bounded
// pool of workers, so a slow or dead EPR never holds up the others.
type Dispatcher struct {
	Queue        Queue
	Destinations []*Destination
	Retry        RetryPolicy
	Clock        Clock
	Log          *slog.Logger
	PollInterval time.Duration // how often idle workers look for due work
	Observer     Observer      // metrics; nil observes nothing
	Alerts       *Alerts       // dead letters and failing destinations; nil: log only

	mu     sync.Mutex
	wake   map[string]chan struct{}
	paused map[string]bool // read from the store every poll interval
}

// RefreshPaused reads which destinations operators have paused. The API
// calls it after a pause so this process stops at once; other replicas
// sharing the store read it within a poll interval.
func (d *Dispatcher) RefreshPaused(ctx context.Context) {
	paused, err := d.Queue.Paused(ctx)
	if err != nil {
		d.Log.Error("could not read paused destinations", "error", err)
		return
	}
	d.mu.Lock()
	d.paused = paused
	d.mu.Unlock()
}

func (d *Dispatcher) isPaused(dest string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.paused[dest]
}

// Notify wakes the named destinations' workers: new deliveries are due.
func (d *Dispatcher) Notify(destinations []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, name := range destinations {
		if ch, ok := d.wake[name]; ok {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// Run delivers until ctx is cancelled, then lets attempts in flight finish
// (each is bounded by its destination's timeout) and returns.
func (d *Dispatcher) Run(ctx context.Context) {
	d.mu.Lock()
	d.wake = map[string]chan struct{}{}
	for _, dest := range d.Destinations {
		d.wake[dest.Name] = make(chan struct{}, 1)
	}
	d.mu.Unlock()
	d.RefreshPaused(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d.PollInterval):
				d.RefreshPaused(ctx)
			}
		}
	}()
	for _, dest := range d.Destinations {
		for w := 0; w < max(1, dest.Workers); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d.work(ctx, dest)
			}()
		}
	}
	wg.Wait()
}

// work is one worker of dest: lease, attempt, then record the outcome and
// lease the next in one commit, for as long as work is due; then wait for
// a wake-up (new deliveries, a replay) or the next delivery's due time.
//
// For a replay-safe destination (see ReplaySafe) that commit runs while
// the next delivery is attempted: the commit (an fsync on the embedded
// store, a round trip on Redis) overlaps the receiver's work instead of
// following it, so the receiver has the next request without waiting for
// the gateway's bookkeeping. The lease ahead is taken for both attempts'
// time. If the gateway dies, the attempt in flight and the one whose
// outcome was being recorded are both sent again (two per worker rather
// than one), which such a receiver takes with no further effect. Other
// destinations record each outcome before the next attempt.
func (d *Dispatcher) work(ctx context.Context, dest *Destination) {
	overlap := replaySafe(dest.Adapter)
	var next *Delivery
	var prev *attempted // attempted, its outcome not yet recorded
	defer func() {
		// flush writes with a context of its own; ctx, done now, stops its retries.
		d.flush(ctx, dest, prev)
		if next != nil { // leased for the next round as the gateway stopped: give it back at once
			d.Queue.Release(context.WithoutCancel(ctx), next.ID, next.Lease)
		}
	}()
	for ctx.Err() == nil {
		if next != nil && d.isPaused(dest.Name) { // paused since it was leased: it waits with the rest
			if err := d.Queue.Release(context.WithoutCancel(ctx), next.ID, next.Lease); err != nil {
				d.Log.Error("delivery queue error", "destination", dest.Name, "error", err)
			}
			next = nil
		}
		if next == nil {
			d.flush(ctx, dest, prev)
			prev = nil
			var err error
			var tried time.Time // when the lease was tried; zero if paused
			if !d.isPaused(dest.Name) {
				tried = d.Clock.Now()
				next, err = d.Queue.Lease(ctx, dest.Name, tried, leaseFor(dest))
			}
			if err != nil {
				d.Log.Error("delivery queue error", "destination", dest.Name, "error", err)
			}
			if next == nil {
				select {
				case <-ctx.Done():
				case <-d.wake[dest.Name]:
				case <-time.After(d.idle(ctx, dest, tried)):
				}
				continue
			}
			// There was work: another worker may find more, and wakes the next
			// in turn, so every worker joins a burst, not just the one woken.
			d.Notify([]string{dest.Name})
		}
		var r leasedAhead
		if overlap { // record the one before while this one is attempted
			ahead := d.recordAndLeaseAhead(ctx, dest, prev, dest.Timeout+leaseFor(dest))
			out, took := d.attempt(ctx, dest, next)
			r = <-ahead
			d.afterRecording(dest, prev, r.err)
			prev = &attempted{del: next, out: out, took: took}
		} else { // record this one before the next is attempted
			out, took := d.attempt(ctx, dest, next)
			done := &attempted{del: next, out: out, took: took}
			r = <-d.recordAndLeaseAhead(ctx, dest, done, leaseFor(dest))
			d.afterRecording(dest, done, r.err)
		}
		next = r.next
	}
}

// afterRecording reports a's outcome once it is recorded (a nil: only a
// lease was taken), or the store's error.
func (d *Dispatcher) afterRecording(dest *Destination, a *attempted, err error) {
	switch {
	case err != nil && a != nil:
		d.Log.Error("delivery queue error", "destination", dest.Name, "error", fmt.Errorf("record attempt of %s: %w", a.del.ID, err))
	case err != nil:
		d.Log.Error("delivery queue error", "destination", dest.Name, "error", err)
	case a != nil:
		d.recorded(dest, a.del, a.out, a.took)
	}
}

// attempted is a delivery attempted, with its outcome.
type attempted struct {
	del  *Delivery
	out  Outcome
	took time.Duration
}

type leasedAhead struct {
	next *Delivery
	err  error
}

// recordAndLeaseAhead records prev's outcome (if any) and leases the next
// delivery for ttl, in one commit, in the background. Once the gateway is
// stopping or the destination is paused it only records: nothing is
// leased to be given back.
func (d *Dispatcher) recordAndLeaseAhead(ctx context.Context, dest *Destination, prev *attempted, ttl time.Duration) <-chan leasedAhead {
	ahead := make(chan leasedAhead, 1)
	go func() {
		var r leasedAhead
		stopping := ctx.Err() != nil || d.isPaused(dest.Name)
		store := context.WithoutCancel(ctx)
		switch {
		case prev == nil && stopping:
		case prev == nil:
			r.next, r.err = d.Queue.Lease(store, dest.Name, d.Clock.Now(), ttl)
		case stopping:
			r.err = d.Queue.Complete(store, prev.del.ID, prev.del.Lease, prev.out)
		default:
			r.next, r.err = d.Queue.CompleteAndLease(store, prev.del.ID, prev.del.Lease, prev.out, dest.Name, d.Clock.Now(), ttl)
		}
		if prev != nil {
			r.err = d.recordAgain(ctx, prev, r.err)
		}
		ahead <- r
	}()
	return ahead
}

// flush records a's outcome, when a worker is about to wait or stop. The
// store is written whether or not ctx is done; ctx ends only the retries
// (recordAgain), so a stopping gateway is not held to the lease's end.
func (d *Dispatcher) flush(ctx context.Context, dest *Destination, a *attempted) {
	if a == nil {
		return
	}
	d.afterRecording(dest, a, d.recordAgain(ctx, a, d.Queue.Complete(context.WithoutCancel(ctx), a.del.ID, a.del.Lease, a.out)))
}

// recordPause is how long a worker waits before trying again to record an
// outcome the store could not take.
const recordPause = 200 * time.Millisecond

// recordAgain tries again to record a's outcome while the store is
// unavailable (err) and a's lease still holds. An outcome left unrecorded
// is attempted again once the lease ends: a store outage of a second or two
// (a Redis restart or failover) would send each delivery then in flight a
// second time, which an HL7 v2 EPR files twice. Once the lease has ended
// (or the gateway is stopping) it gives up, as before: another worker may
// have the delivery now.
func (d *Dispatcher) recordAgain(ctx context.Context, a *attempted, err error) error {
	for ErrorCode(err) == EUNAVAILABLE && !a.del.LeaseUntil.IsZero() && d.Clock.Now().Before(a.del.LeaseUntil) {
		select {
		case <-ctx.Done():
			return err
		case <-time.After(recordPause):
		}
		err = d.Queue.Complete(context.WithoutCancel(ctx), a.del.ID, a.del.Lease, a.out)
	}
	return err
}

// idle is how long a worker with nothing due sleeps: until the next
// delivery falls due (a retry's backoff ends), at most PollInterval, which
// also picks up what other replicas enqueue. tried is when its lease found
// nothing (zero: paused, so it polls). A delivery due by then was passed
// over for a reason (an older version of its report still in flight) and
// waits for a poll; one that fell due since, while the lease ran on a busy
// machine, is leased again at once rather than a poll later.
func (d *Dispatcher) idle(ctx context.Context, dest *Destination, tried time.Time) time.Duration {
	at, ok, err := d.Queue.NextDue(ctx, dest.Name)
	if err != nil || !ok || tried.IsZero() {
		return d.PollInterval
	}
	wait := at.Sub(d.Clock.Now())
	switch {
	case wait <= 0 && at.UnixMilli() > tried.UnixMilli(): // the index is in whole milliseconds, as the lease compares
		return time.Millisecond
	case wait <= 0 || wait > d.PollInterval: // due when the lease passed it over, or later than a poll
		return d.PollInterval
	}
	return wait + time.Millisecond
}

// leaseFor is how long a lease lasts: the attempt's own timeout and a
// margin for recording the outcome, so only a worker that died loses it.
func leaseFor(dest *Destination) time.Duration { return dest.Timeout + leaseMargin }

// DeliverOne leases one due delivery for dest and attempts it. It reports
// whether there was one. Exposed so tests can step the dispatcher.
func (d *Dispatcher) DeliverOne(ctx context.Context, dest *Destination) (bool, error) {
	del, err := d.Queue.Lease(ctx, dest.Name, d.Clock.Now(), leaseFor(dest))
	if err != nil || del == nil {
		return false, err
	}
	out, took := d.attempt(ctx, dest, del)
	if err := d.Queue.Complete(context.WithoutCancel(ctx), del.ID, del.Lease, out); err != nil {
		return true, fmt.Errorf("record attempt of %s: %w", del.ID, err)
	}
	d.recorded(dest, del, out, took)
	return true, nil
}

// attempt delivers a leased delivery and classifies the outcome.
func (d *Dispatcher) attempt(ctx context.Context, dest *Destination, del *Delivery) (Outcome, time.Duration) {
	// The attempt runs to its own timeout even during shutdown: finishing it
	// is better than abandoning a request the receiver may already be processing.
	attemptCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dest.Timeout)
	start := d.Clock.Now()
	ref, deliverErr := dest.Adapter.Deliver(attemptCtx, del)
	cancel()
	end := d.Clock.Now()
	out := d.outcome(dest, del, start, end, ref, deliverErr)
	d.health(dest, deliverErr)
	return out, end.Sub(start)
}

// recorded reports an attempt whose outcome is stored: metrics, the log
// line, and a dead letter's alert.
func (d *Dispatcher) recorded(dest *Destination, del *Delivery, out Outcome, took time.Duration) {
	if d.Observer != nil {
		d.Observer.Attempted(dest.Name, out.Attempt.Outcome, took)
	}
	d.Log.Info("delivery attempt", "delivery_id", del.ID, "report_id", del.ReportID, "version", del.Version,
		"destination", dest.Name, "outcome", out.Attempt.Outcome, "attempt", del.Sends()+1, "duration_ms", out.Attempt.DurationMS)
	if out.State == DeliveryDead {
		// A dead letter needs a person: the receiver refused it or it gave up.
		// One line per dead letter (its ids), and one alert per destination
		// until its dead letters are replayed or cancelled (the Monitor resolves it).
		d.Log.Error("delivery dead-lettered: replay it once the cause is fixed", "delivery_id", del.ID,
			"report_id", del.ReportID, "version", del.Version, "destination", dest.Name, "reason", out.logReason)
		d.alerts().Raise("dead-letters/"+dest.Name, "dead letters wait for an operator: replay them once the cause is fixed",
			"destination", dest.Name, "delivery_id", del.ID)
	}
}

// outcome classifies an attempt: delivered, retry at a backed-off time, or dead.
func (d *Dispatcher) outcome(dest *Destination, del *Delivery, start, end time.Time, ref string, err error) Outcome {
	a := Attempt{At: start, DurationMS: end.Sub(start).Milliseconds(), ReceiverRef: ref}
	if err == nil {
		a.Outcome = "delivered"
		return Outcome{State: DeliveryDelivered, Attempt: a}
	}
	a.Error = err.Error()
	failures, since := del.sinceReplay() // a replay is a fresh start: a new budget of attempts and age
	failures++
	dead := func(reason string) Outcome {
		return Outcome{State: DeliveryDead, Attempt: a, Reason: reason, logReason: LogSafe(err, reason)}
	}
	if IsPermanent(err) {
		a.Outcome = "permanent"
		return dead("the receiver rejected it: " + err.Error())
	}
	wait := d.Retry.Backoff(failures)
	if after, ok := RetryAfterOf(err); ok && after > wait {
		wait = after
	}
	next := end.Add(wait)
	switch {
	case dest.MaxAttempts > 0 && failures >= dest.MaxAttempts:
		a.Outcome = "gave-up"
		return dead(fmt.Sprintf("gave up after %d attempts; last error: %s", failures, err))
	case dest.MaxAge > 0 && next.Sub(since) > dest.MaxAge:
		a.Outcome = "gave-up"
		return dead(fmt.Sprintf("gave up after %s (%d attempts); last error: %s", dest.MaxAge, failures, err))
	}
	a.Outcome = "retry"
	return Outcome{State: DeliveryRetrying, Attempt: a, NextAttemptAt: next}
}

// health raises an alert once when a destination starts failing and
// resolves it once when it recovers, not once per attempt.
func (d *Dispatcher) health(dest *Destination, err error) {
	key := "failing/" + dest.Name
	switch {
	case err != nil && !IsPermanent(err):
		d.alerts().Raise(key, "destination failing: deliveries are retrying", "destination", dest.Name, "error", LogSafe(err, err.Error()))
	case err == nil:
		d.alerts().Resolve(key, "destination recovered", "destination", dest.Name)
	}
}

func (d *Dispatcher) alerts() *Alerts {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.Alerts == nil {
		d.Alerts = &Alerts{Log: d.Log}
	}
	return d.Alerts
}
