package gateway

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DeliveryState is where a delivery is in its life.
type DeliveryState string

const (
	DeliveryPending    DeliveryState = "pending"    // waiting for its first attempt
	DeliveryInFlight   DeliveryState = "in-flight"  // leased by a worker
	DeliveryRetrying   DeliveryState = "retrying"   // failed, next attempt at NextAttemptAt
	DeliveryDelivered  DeliveryState = "delivered"  // the receiver took it (terminal)
	DeliveryDead       DeliveryState = "dead"       // parked for a person: permanent error or gave up
	DeliverySuperseded DeliveryState = "superseded" // a newer version of the report replaces it (terminal)
	DeliveryCancelled  DeliveryState = "cancelled"  // an operator stopped it
)

// DeliveryStates lists every state, for validation and counts.
var DeliveryStates = []DeliveryState{DeliveryPending, DeliveryInFlight, DeliveryRetrying, DeliveryDelivered,
	DeliveryDead, DeliverySuperseded, DeliveryCancelled}

// Delivery is one report version on its way to one destination. The payload
// is encoded before enqueueing, so a delivery is self-contained bytes and
// can be replayed exactly.
type Delivery struct {
	ID          string `json:"id"`
	ReportID    string `json:"reportId"`
	Version     int    `json:"version"`
	Destination string `json:"destination"`
	ContentType string `json:"contentType"`
	Payload     []byte `json:"-"`
	// PayloadOf, when set, says the payload is the report version's own
	// Bundle ("bundle") or PDF ("pdf"): stores keep a reference, not a
	// copy, and Lease and Delivery return those very bytes.
	PayloadOf string `json:"payloadOf,omitempty"`
	// Recipient is the organisation (ODS code) this delivery is for: the
	// ordering trust, a copy-to recipient, or one that had an earlier version.
	Recipient string `json:"recipient,omitempty"`
	// Withdrawal says the payload withdraws an earlier version from a
	// patient this version moved the result away from, and holds nothing
	// of this version: its destination is told no more of the report
	// unless it is a recipient again.
	Withdrawal    bool          `json:"withdrawal,omitempty"`
	State         DeliveryState `json:"state"`
	CreatedAt     time.Time     `json:"createdAt"`
	UpdatedAt     time.Time     `json:"updatedAt"`
	NextAttemptAt time.Time     `json:"nextAttemptAt,omitzero"`
	LeaseUntil    time.Time     `json:"leaseUntil,omitzero"`
	Lease         string        `json:"-"`                     // token of the current lease
	ReceiverRef   string        `json:"receiverRef,omitempty"` // the receiver's id or ACK for the delivered payload
	LastError     string        `json:"lastError,omitempty"`
	Reason        string        `json:"reason,omitempty"` // why it is dead, superseded or cancelled
	Attempts      []Attempt     `json:"attempts"`
}

// Values of Delivery.PayloadOf.
const (
	PayloadBundle = "bundle"
	PayloadPDF    = "pdf"
)

// DeliveryID is deterministic, so creating a report's deliveries twice cannot duplicate them.
func DeliveryID(reportID string, version int, destination string) string {
	return reportID + "~v" + strconv.Itoa(version) + "~" + destination
}

// Attempt is one try at delivering.
type Attempt struct {
	At          time.Time `json:"at"`
	DurationMS  int64     `json:"durationMs"`
	Outcome     string    `json:"outcome"` // delivered, retry, permanent, gave-up
	Error       string    `json:"error,omitempty"`
	ReceiverRef string    `json:"receiverRef,omitempty"`
	By          string    `json:"by,omitempty"` // on an operator's replay or cancel: who
}

// Operators' actions are kept in a delivery's attempts as markers, so its
// history (and the report's journey) keeps each one, with who did it, after
// the delivery moves on. OutcomeReplayed marks a replay: its attempt
// budget and age count again from there. OutcomeCancelled marks a cancel.
const (
	OutcomeReplayed  = "replayed"
	OutcomeCancelled = "cancelled"
)

// ReplayMarker is the entry a replay by an operator adds to a delivery's attempts.
func ReplayMarker(at time.Time, by string) Attempt {
	return Attempt{At: at.UTC(), Outcome: OutcomeReplayed, By: by}
}

// CancelMarker is the entry a cancel by an operator adds to a delivery's
// attempts; CancelReason is the delivery's reason then.
func CancelMarker(at time.Time, by string) Attempt {
	return Attempt{At: at.UTC(), Outcome: OutcomeCancelled, By: by}
}

// CancelReason is why a delivery an operator cancelled is cancelled.
func CancelReason(by string) string { return "cancelled by " + by }

// IsSend reports whether the attempt was a send, not an operator's marker.
func (a Attempt) IsSend() bool { return a.Outcome != OutcomeReplayed && a.Outcome != OutcomeCancelled }

// ReplacedMessage is the refusal of a replay of a version the report has
// moved on from (delivery id, its version, the latest): it would send an
// outdated result, perhaps to an EPR that the newer version took it away
// from. A withdrawal, which tells a destination to take a result off,
// can still be replayed.
const ReplacedMessage = "%s is of version %d, and the report is at version %d: an earlier version is never sent again (the latest goes to its recipients)"

// Replayable says whether an operator can replay a delivery in state st:
// dead or cancelled (it goes again), or retrying (it goes now rather than
// when its backoff ends).
func Replayable(st DeliveryState) bool {
	return st == DeliveryDead || st == DeliveryCancelled || st == DeliveryRetrying
}

// sinceReplay returns the attempts made since the last replay (all of them
// if it was never replayed) and when that budget started.
func (d *Delivery) sinceReplay() (failures int, from time.Time) {
	from = d.CreatedAt
	for _, a := range d.Attempts {
		if a.Outcome == OutcomeReplayed {
			failures, from = 0, a.At
		} else if a.IsSend() {
			failures++
		}
	}
	return failures, from
}

// Sends counts the attempts that were sends: its attempts but the
// replay markers among them.
func (d *Delivery) Sends() int {
	n := 0
	for _, a := range d.Attempts {
		if a.IsSend() {
			n++
		}
	}
	return n
}

// WaitingSince is when the delivery started waiting: its creation, or its
// last replay. The queue's age (the oldest waiting delivery per
// destination) is measured from it.
func (d *Delivery) WaitingSince() time.Time {
	_, from := d.sinceReplay()
	return from
}

// Outcome is what a worker reports after an attempt.
type Outcome struct {
	State         DeliveryState // DeliveryDelivered, DeliveryRetrying or DeliveryDead
	Attempt       Attempt
	NextAttemptAt time.Time // when State is DeliveryRetrying
	Reason        string    // when State is DeliveryDead
	logReason     string    // Reason without the receiver's words (LogSafe)
}

// DeliveryFilter selects deliveries to list. Empty fields match everything.
type DeliveryFilter struct {
	State       DeliveryState
	Destination string
	ReportID    string
	Limit       int // 0 means 100
	// After continues a listing: only deliveries that come after it in the
	// newest-first order (last change, then id) are listed.
	After DeliveryCursor
}

// DeliveryCursor is a place in the newest-first order of deliveries: the
// last one seen's last change and id. The zero cursor is the start.
type DeliveryCursor struct {
	UpdatedAt time.Time
	ID        string
}

// CursorOf is the cursor just past d.
func CursorOf(d *Delivery) DeliveryCursor { return DeliveryCursor{UpdatedAt: d.UpdatedAt, ID: d.ID} }

// Passes says whether a delivery last changed at (ms precision) with id
// comes after the cursor in newest-first order.
func (c DeliveryCursor) Passes(at time.Time, id string) bool {
	if c.UpdatedAt.IsZero() {
		return true
	}
	a, b := at.UnixMilli(), c.UpdatedAt.UnixMilli()
	return a < b || a == b && id < c.ID
}

// Listed is one entry of a store's listing index: a delivery's last
// change (Unix ms) and id.
type Listed struct {
	UpdatedMS int64
	ID        string
}

// MergeNewest merges listing-index walks (each newest first) into one
// page of at most limit ids.
func MergeNewest(lists [][]Listed, limit int) []string {
	var all []Listed
	for _, l := range lists {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool {
		return all[i].UpdatedMS > all[j].UpdatedMS || all[i].UpdatedMS == all[j].UpdatedMS && all[i].ID > all[j].ID
	})
	ids := make([]string, 0, min(len(all), limit))
	for _, e := range all[:min(len(all), limit)] {
		ids = append(ids, e.ID)
	}
	return ids
}

// SortNewestFirst orders deliveries as listings do: last change, then id, descending.
func SortNewestFirst(ds []*Delivery) {
	sort.Slice(ds, func(i, j int) bool {
		a, b := ds[i].UpdatedAt.UnixMilli(), ds[j].UpdatedAt.UnixMilli()
		return a > b || a == b && ds[i].ID > ds[j].ID
	})
}

// Queue is the delivery ledger. Every state change is atomic, and a
// delivery is leased to at most one worker at a time across all processes
// sharing the store.
type Queue interface {
	// Lease claims the earliest due delivery for destination until now+ttl and
	// returns it with its payload and a lease token; nil when nothing is due.
	// Due: pending or retrying with NextAttemptAt <= now, or in flight with an
	// expired lease (its worker died). Versions of one report go out in order:
	// a delivery whose report has a newer version queued for the destination
	// becomes superseded instead, and one whose older version is still in
	// flight waits.
	Lease(ctx context.Context, destination string, now time.Time, ttl time.Duration) (*Delivery, error)

	// Complete records a leased attempt's outcome. ELEASELOST if the lease
	// expired and another worker took the delivery.
	Complete(ctx context.Context, id, lease string, o Outcome) error

	// CompleteAndLease is Complete, then Lease for dest: what a worker does
	// between attempts. A store may do both in one durable step (the
	// embedded store does: one fsync per delivery instead of two). The
	// returned delivery is nil when nothing is due; an error from Complete
	// leaves nothing leased.
	CompleteAndLease(ctx context.Context, id, lease string, o Outcome, dest string, now time.Time, ttl time.Duration) (*Delivery, error)

	// Release gives a leased delivery back without an attempt (shutdown).
	Release(ctx context.Context, id, lease string) error

	// Delivery returns one delivery with its attempts (ENOTFOUND).
	Delivery(ctx context.Context, id string) (*Delivery, error)

	// Deliveries lists deliveries, newest first (last change, then id),
	// without payloads, from an index: a page costs the same however long
	// the list.
	Deliveries(ctx context.Context, f DeliveryFilter) ([]*Delivery, error)

	// Counts returns the number of deliveries per destination and state.
	Counts(ctx context.Context) (map[string]map[DeliveryState]int, error)

	// NextDue says when dest's earliest delivery falls due (a retry's time,
	// or an in-flight lease's end); ok is false when none waits. Workers
	// sleep until then rather than polling.
	NextDue(ctx context.Context, dest string) (at time.Time, ok bool, err error)

	// OldestWaiting returns, for each of destinations with a delivery
	// waiting (pending, retrying or in flight), when the longest-waiting one
	// started waiting (Delivery.WaitingSince): how old the queue is.
	OldestWaiting(ctx context.Context, destinations []string) (map[string]time.Time, error)

	// Replay makes a dead, cancelled or retrying delivery due now ("retry
	// now" for a retrying one: the receiver is back before the backoff is
	// over), keeping its history and adding a ReplayMarker naming the
	// operator (by); attempts and age count again from it. ECONFLICT for a
	// delivery in another state (pending is due already; in flight is being
	// sent), and for one of a version older than the report's latest that
	// is not a withdrawal (ReplacedMessage). Leasing likewise supersedes
	// such a delivery rather than send it.
	Replay(ctx context.Context, id string, now time.Time, by string) error

	// Cancel stops a delivery that is pending, retrying or dead, adding a
	// CancelMarker naming the operator (by); its reason is CancelReason(by).
	// ECONFLICT for one in flight or finished.
	Cancel(ctx context.Context, id string, now time.Time, by string) error

	// SetPaused pauses or resumes a destination for every gateway sharing
	// the store: while paused its deliveries wait, nothing is lost.
	SetPaused(ctx context.Context, destination string, paused bool) error

	// Paused lists the paused destinations.
	Paused(ctx context.Context) (map[string]bool, error)
}

// Store is everything the gateway keeps: reports and their deliveries.
type Store interface {
	Reports
	HeldReports
	Queue
	ReportIndex
	AuditLog
	MessageLog
	ActivityLog
	Pruner
}

// ELEASELOST means a worker's lease expired and the delivery moved on.
const ELEASELOST = "lease_lost"

// Adapter moves a delivery's bytes to one receiver. It returns the
// receiver's reference on success; an error wrapped with Permanent when
// retrying cannot help; or any other error to retry, optionally wrapped with
// RetryAfter when the receiver said when to come back.
type Adapter interface {
	Deliver(ctx context.Context, d *Delivery) (receiverRef string, err error)
}

// ReplaySafe is implemented by an adapter whose deliveries have one effect
// however often the receiver takes them (FHIR conditional creates and
// updates on business identifiers). Its workers record one attempt's
// outcome while the next attempt is under way, so after a crash up to two
// deliveries per worker may be sent again, rather than one.
type ReplaySafe interface {
	ReplaySafe() bool
}

func replaySafe(a Adapter) bool {
	r, ok := a.(ReplaySafe)
	return ok && r.ReplaySafe()
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying (FHIR 4xx other than 408/429, HL7 AE).
func Permanent(err error) error { return &permanentError{err} }

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// saidError marks words in err's text as the receiver's own: an
// OperationOutcome's diagnostics, an ACK's ERR text.
type saidError struct {
	err   error
	words []string
}

func (e *saidError) Error() string { return e.err.Error() }
func (e *saidError) Unwrap() error { return e.err }

// ReceiverSaid marks words, which err's text includes, as what the
// receiver answered. They are kept with the delivery's attempt for
// operators but never logged: an EPR may echo the patient's name or
// NHS number ("Patient 9990000018 (SMITH^JOHN) not registered").
func ReceiverSaid(err error, words ...string) error {
	var kept []string
	for _, w := range words {
		if w = strings.TrimLeft(w, ": "); w != "" { // Diagnostics' ": text"
			kept = append(kept, w)
		}
	}
	if err == nil || len(kept) == 0 {
		return err
	}
	return &saidError{err, kept}
}

// ReceiverWords lists the words marked with ReceiverSaid anywhere in
// err's chain (errors.Join's branches too).
func ReceiverWords(err error) []string {
	var out []string
	if s, ok := err.(*saidError); ok {
		out = append(out, s.words...)
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		out = append(out, ReceiverWords(u.Unwrap())...)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			out = append(out, ReceiverWords(e)...)
		}
	}
	return out
}

// LogSafe is text (err's, or what was made of it) with the receiver's
// words in err withheld, for the log.
func LogSafe(err error, text string) string {
	for _, w := range ReceiverWords(err) {
		text = strings.ReplaceAll(text, w, "[withheld from the log: the receiver's words, kept with the delivery]")
	}
	return text
}

type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// RetryAfter marks a retryable err with the receiver's requested wait (HTTP Retry-After).
func RetryAfter(err error, after time.Duration) error { return &retryAfterError{err, after} }

// RetryAfterOf returns the wait requested with RetryAfter, if any.
func RetryAfterOf(err error) (time.Duration, bool) {
	var r *retryAfterError
	if errors.As(err, &r) {
		return r.after, true
	}
	return 0, false
}
