package boltstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/internal/blob"
)

// Delivery buckets. Index keys are built from parts joined by 0x00; times
// are big-endian Unix milliseconds so keys sort by time.
var (
	bucketDeliveries = []byte("delivery")           // id -> record JSON (no payload)
	bucketPayloads   = []byte("delivery_payload")   // id -> payload
	bucketDue        = []byte("delivery_due")       // dest, due ms, id -> "" (pending, retrying, and in flight until the lease ends)
	bucketOrder      = []byte("delivery_order")     // dest, report id -> orderState JSON
	bucketByState    = []byte("delivery_by_state")  // state, dest, id -> ""
	bucketByReport   = []byte("delivery_by_report") // report id, id -> ""
	bucketWaiting    = []byte("delivery_waiting")   // dest, waiting-since ms, id -> "" (pending, retrying, in flight)
	bucketCounts     = []byte("delivery_counts")    // state, dest -> how many (uint64)
)

// record is a delivery as stored: the public fields plus the lease token.
type record struct {
	gateway.Delivery
	LeaseToken string `json:"leaseToken,omitempty"`
}

// orderState keeps one report's versions in order at one destination.
type orderState struct {
	Max       int `json:"max"`       // highest version enqueued
	InFlight  int `json:"inFlight"`  // version leased now, 0 if none
	Delivered int `json:"delivered"` // highest version delivered
}

func key(parts ...[]byte) []byte { return bytes.Join(parts, []byte{0}) }

func ms(t time.Time) []byte { return binary.BigEndian.AppendUint64(nil, uint64(t.UnixMilli())) }

func dueKey(r *record) []byte {
	at := r.NextAttemptAt
	if r.State == gateway.DeliveryInFlight {
		at = r.LeaseUntil
	}
	return key([]byte(r.Destination), ms(at), []byte(r.ID))
}

func stateKey(r *record) []byte {
	return key([]byte(r.State), []byte(r.Destination), []byte(r.ID))
}

func isQueued(s gateway.DeliveryState) bool {
	return s == gateway.DeliveryPending || s == gateway.DeliveryRetrying || s == gateway.DeliveryInFlight
}

// put writes r and its index entries; unindex must have removed the old ones.
func put(tx *bolt.Tx, r *record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketDeliveries).Put([]byte(r.ID), b); err != nil {
		return err
	}
	if err := tx.Bucket(bucketByState).Put(stateKey(r), nil); err != nil {
		return err
	}
	if err := countState(tx, r, 1); err != nil {
		return err
	}
	if err := putListing(tx, r); err != nil {
		return err
	}
	if isQueued(r.State) {
		if err := tx.Bucket(bucketWaiting).Put(waitingKey(r), nil); err != nil {
			return err
		}
		return tx.Bucket(bucketDue).Put(dueKey(r), nil)
	}
	return nil
}

// countState moves the number of r's destination's deliveries in r's state by
// delta, in the transaction that indexes or unindexes it, so Counts reads
// a few keys rather than the state index of every delivery ever stored.
func countState(tx *bolt.Tx, r *record, delta int64) error {
	k := key([]byte(r.State), []byte(r.Destination))
	b := tx.Bucket(bucketCounts)
	var n int64
	if v := b.Get(k); len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	if n += delta; n <= 0 {
		return b.Delete(k)
	}
	return b.Put(k, binary.BigEndian.AppendUint64(nil, uint64(n)))
}

// buildCounts fills the counts of a store written before they were kept,
// from the state index.
func buildCounts(tx *bolt.Tx) error {
	counts := map[string]uint64{}
	err := tx.Bucket(bucketByState).ForEach(func(k, _ []byte) error {
		if i := bytes.LastIndexByte(k, 0); i > 0 && bytes.IndexByte(k, 0) < i {
			counts[string(k[:i])]++
		}
		return nil
	})
	if err != nil {
		return err
	}
	b := tx.Bucket(bucketCounts)
	for k, n := range counts {
		if err := b.Put([]byte(k), binary.BigEndian.AppendUint64(nil, n)); err != nil {
			return err
		}
	}
	return nil
}

func waitingKey(r *record) []byte {
	return key([]byte(r.Destination), ms(r.WaitingSince()), []byte(r.ID))
}

func unindex(tx *bolt.Tx, r *record) error {
	if err := tx.Bucket(bucketByState).Delete(stateKey(r)); err != nil {
		return err
	}
	if err := countState(tx, r, -1); err != nil {
		return err
	}
	if err := deleteListing(tx, r); err != nil {
		return err
	}
	if isQueued(r.State) {
		if err := tx.Bucket(bucketWaiting).Delete(waitingKey(r)); err != nil {
			return err
		}
		return tx.Bucket(bucketDue).Delete(dueKey(r))
	}
	return nil
}

func get(tx *bolt.Tx, id string) (*record, error) {
	b := tx.Bucket(bucketDeliveries).Get([]byte(id))
	if b == nil {
		return nil, gateway.Errorf(gateway.ENOTFOUND, "delivery %s not found", id)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode delivery %s: %w", id, err)
	}
	return &r, nil
}

func getOrder(tx *bolt.Tx, dest, reportID string) (orderState, []byte) {
	k := key([]byte(dest), []byte(reportID))
	var o orderState
	if b := tx.Bucket(bucketOrder).Get(k); b != nil {
		json.Unmarshal(b, &o)
	}
	return o, k
}

func putOrder(tx *bolt.Tx, k []byte, o orderState) error {
	b, _ := json.Marshal(o)
	return tx.Bucket(bucketOrder).Put(k, b)
}

// enqueue adds a new delivery inside the report's transaction.
func enqueue(tx *bolt.Tx, d *gateway.Delivery) error {
	if tx.Bucket(bucketDeliveries).Get([]byte(d.ID)) != nil {
		return nil // already enqueued: deliveries are created once
	}
	r := &record{Delivery: *d}
	r.Payload = nil
	if d.PayloadOf == "" { // otherwise it is the version's own Bundle or PDF, stored once
		if err := tx.Bucket(bucketPayloads).Put([]byte(d.ID), blob.Pack(d.Payload)); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bucketByReport).Put(key([]byte(d.ReportID), []byte(d.ID)), nil); err != nil {
		return err
	}
	o, k := getOrder(tx, d.Destination, d.ReportID)
	o.Max = max(o.Max, d.Version)
	if err := putOrder(tx, k, o); err != nil {
		return err
	}
	if err := supersedeWaiting(tx, d); err != nil {
		return err
	}
	return put(tx, r)
}

// supersedeWaiting marks the deliveries of earlier versions of d's report
// to d's destination that are waiting (pending or retrying) superseded at
// once, not when their next attempt falls due (up to the retry cap later),
// so the counts, the console and the oldest-waiting alert stop counting
// them now. One in flight finishes first; Lease orders what follows it.
// A dead letter there is superseded too: it may not be replayed once a
// newer version exists, and would hold the dead-letter alert open for good.
// A dead withdrawal is not: the destination still holds another patient's
// result, which a newer version (for the patient it moved to) does not take
// off; it stays a dead letter, its alert open, for an operator.
func supersedeWaiting(tx *bolt.Tx, d *gateway.Delivery) error {
	if d.Version <= 1 {
		return nil // the first version: nothing earlier
	}
	for _, id := range idsWithPrefix(tx, bucketByReport, []byte(d.ReportID)) {
		if id == d.ID {
			continue // d itself, not stored yet
		}
		r, err := get(tx, id)
		if gateway.ErrorCode(err) == gateway.ENOTFOUND {
			continue // an index entry without its delivery must not stop a report being filed
		}
		if err != nil {
			return err
		}
		if r.Destination != d.Destination || r.Version >= d.Version || (r.State != gateway.DeliveryPending && r.State != gateway.DeliveryRetrying && r.State != gateway.DeliveryDead) {
			continue
		}
		if r.State == gateway.DeliveryDead && r.Withdrawal {
			continue // a withdrawal that never got there: the newer version need not withdraw what it still holds
		}
		if err := updateTx(tx, id, func(_ *bolt.Tx, r *record) error {
			r.State, r.Reason, r.UpdatedAt = gateway.DeliverySuperseded, supersededBy(d.Version), d.CreatedAt
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// supersededBy is the reason a delivery of an earlier version gives.
// latestVersion is the report's latest stored version (0 if none).
func latestVersion(tx *bolt.Tx, reportID string) int {
	if cur := tx.Bucket(bucketLatest).Get([]byte(reportID)); len(cur) >= 4 {
		return int(binary.BigEndian.Uint32(cur))
	}
	return 0
}

func supersededBy(version int) string {
	return fmt.Sprintf("version %d of the report replaces it", version)
}

// payload reads a delivery's payload: its own, or the report version's
// Bundle or PDF it refers to.
func payload(tx *bolt.Tx, r *record) ([]byte, error) {
	var stored []byte
	switch r.PayloadOf {
	case gateway.PayloadBundle:
		return bundleOf(tx, versionKey(r.ReportID, r.Version))
	case gateway.PayloadPDF:
		stored = tx.Bucket(bucketPDF).Get(versionKey(r.ReportID, r.Version))
	default:
		stored = tx.Bucket(bucketPayloads).Get([]byte(r.ID))
	}
	return unpack(stored)
}

// bundleOf reads a version's Bundle, its PDF's base64 put back in (see
// blob.PackBundle), as a copy the caller may keep.
func bundleOf(tx *bolt.Tx, key []byte) ([]byte, error) {
	return blob.UnpackBundle(clone(tx.Bucket(bucketBundle).Get(key)), tx.Bucket(bucketPDF).Get(key))
}

// unpack returns a stored value as a copy the caller may keep after the transaction.
func unpack(stored []byte) ([]byte, error) {
	if blob.Packed(stored) {
		return blob.Unpack(stored)
	}
	return clone(stored), nil
}

// update applies change to one delivery atomically, keeping the indexes right.
func (s *Store) update(id string, change func(tx *bolt.Tx, r *record) error) error {
	return s.db.Batch(func(tx *bolt.Tx) error { return updateTx(tx, id, change) })
}

func updateTx(tx *bolt.Tx, id string, change func(tx *bolt.Tx, r *record) error) error {
	r, err := get(tx, id)
	if err != nil {
		return err
	}
	if err := unindex(tx, r); err != nil {
		return err
	}
	if err := change(tx, r); err != nil {
		return err
	}
	return put(tx, r)
}

// leaseScan bounds how many due deliveries one Lease call examines.
const leaseScan = 64

// Lease implements gateway.Queue.
func (s *Store) Lease(ctx context.Context, dest string, now time.Time, ttl time.Duration) (*gateway.Delivery, error) {
	var leased *gateway.Delivery
	err := s.db.Batch(func(tx *bolt.Tx) error {
		var err error
		leased, err = leaseTx(tx, dest, now, ttl)
		return err
	})
	return leased, err
}

// leaseTx leases the earliest due delivery for dest inside tx.
func leaseTx(tx *bolt.Tx, dest string, now time.Time, ttl time.Duration) (*gateway.Delivery, error) {
	var leased *gateway.Delivery
	prefix := append([]byte(dest), 0)
	limit := key([]byte(dest), ms(now), []byte{0xff})
	c := tx.Bucket(bucketDue).Cursor()
	// Look at the earliest few due deliveries only, so a long queue costs
	// no more than a short one; the cursor cannot stay open while we write.
	var candidates []string
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && bytes.Compare(k, limit) <= 0 && len(candidates) < leaseScan; k, _ = c.Next() {
		candidates = append(candidates, string(k[len(prefix)+9:]))
	}
	for _, id := range candidates {
		r, err := get(tx, id)
		if err != nil {
			return nil, err
		}
		o, ok := getOrder(tx, r.Destination, r.ReportID)
		if err := unindex(tx, r); err != nil {
			return nil, err
		}
		newer := o.Max
		if !r.Withdrawal {
			newer = max(newer, latestVersion(tx, r.ReportID))
		}
		switch {
		case newer > r.Version:
			// A newer version of the report will replace this one at the
			// receiver; or, not queued here, it is no longer this receiver's
			// to have (a correction moved it to another patient): either way
			// this one is not sent.
			r.State, r.Reason, r.UpdatedAt = gateway.DeliverySuperseded, supersededBy(newer), now
			if o.InFlight == r.Version {
				o.InFlight = 0
			}
			if err := putOrder(tx, ok, o); err != nil {
				return nil, err
			}
		case o.InFlight != 0 && o.InFlight != r.Version:
			// An older version is still in flight: this one waits its turn.
		default:
			r.State, r.LeaseUntil, r.LeaseToken, r.UpdatedAt = gateway.DeliveryInFlight, now.Add(ttl), token(), now
			o.InFlight = r.Version
			if err := putOrder(tx, ok, o); err != nil {
				return nil, err
			}
			leased = &gateway.Delivery{}
			*leased = r.Delivery
			leased.Lease = r.LeaseToken
			if leased.Payload, err = payload(tx, r); err != nil {
				return nil, err
			}
		}
		if err := put(tx, r); err != nil {
			return nil, err
		}
		if leased != nil {
			return leased, nil
		}
	}
	return nil, nil
}

func token() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func leasedBy(tx *bolt.Tx, r *record, lease string) error {
	if r.State != gateway.DeliveryInFlight || r.LeaseToken != lease {
		return gateway.Errorf(gateway.ELEASELOST, "the lease on delivery %s was lost", r.ID)
	}
	o, k := getOrder(tx, r.Destination, r.ReportID)
	if o.InFlight == r.Version {
		o.InFlight = 0
	}
	return putOrder(tx, k, o)
}

// Complete implements gateway.Queue.
func (s *Store) Complete(ctx context.Context, id, lease string, out gateway.Outcome) error {
	return s.db.Batch(func(tx *bolt.Tx) error { return completeTx(tx, id, lease, out) })
}

// CompleteAndLease implements gateway.Queue: both in one commit, so a
// worker pays one fsync per delivery, not two.
func (s *Store) CompleteAndLease(ctx context.Context, id, lease string, out gateway.Outcome, dest string, now time.Time, ttl time.Duration) (*gateway.Delivery, error) {
	var next *gateway.Delivery
	err := s.db.Batch(func(tx *bolt.Tx) error {
		next = nil
		if err := completeTx(tx, id, lease, out); err != nil {
			return err
		}
		var err error
		next, err = leaseTx(tx, dest, now, ttl)
		return err
	})
	return next, err
}

func completeTx(tx *bolt.Tx, id, lease string, out gateway.Outcome) error {
	return updateTx(tx, id, func(tx *bolt.Tx, r *record) error {
		if err := leasedBy(tx, r, lease); err != nil {
			return err
		}
		r.Attempts = append(r.Attempts, out.Attempt)
		r.State, r.UpdatedAt, r.LeaseToken, r.LeaseUntil = out.State, out.Attempt.At, "", time.Time{}
		r.LastError, r.NextAttemptAt = out.Attempt.Error, time.Time{}
		switch out.State {
		case gateway.DeliveryDelivered:
			r.ReceiverRef = out.Attempt.ReceiverRef
			o, k := getOrder(tx, r.Destination, r.ReportID)
			o.Delivered = max(o.Delivered, r.Version)
			if err := putOrder(tx, k, o); err != nil {
				return err
			}
		case gateway.DeliveryRetrying:
			r.NextAttemptAt = out.NextAttemptAt
		case gateway.DeliveryDead:
			r.Reason = out.Reason
		default:
			return fmt.Errorf("complete delivery %s: bad outcome state %q", id, out.State)
		}
		if gateway.CountsFinal(out.State) {
			return count(tx, out.Attempt.At, gateway.FinishedCounter(r.Destination, out.State))
		}
		return nil
	})
}

// Release implements gateway.Queue.
func (s *Store) Release(ctx context.Context, id, lease string) error {
	return s.update(id, func(tx *bolt.Tx, r *record) error {
		if err := leasedBy(tx, r, lease); err != nil {
			return err
		}
		r.State, r.LeaseToken, r.LeaseUntil = gateway.DeliveryPending, "", time.Time{}
		if len(r.Attempts) > 0 {
			r.State = gateway.DeliveryRetrying
		}
		return nil
	})
}

// Replay implements gateway.Queue.
func (s *Store) Replay(ctx context.Context, id string, now time.Time, by string) error {
	return s.update(id, func(tx *bolt.Tx, r *record) error {
		if !gateway.Replayable(r.State) {
			return gateway.Errorf(gateway.ECONFLICT, "only a dead, cancelled or retrying delivery can be replayed; %s is %s", id, r.State)
		}
		if latest := latestVersion(tx, r.ReportID); !r.Withdrawal && latest > r.Version {
			return gateway.Errorf(gateway.ECONFLICT, gateway.ReplacedMessage, id, r.Version, latest)
		}
		r.State, r.NextAttemptAt, r.UpdatedAt, r.Reason = gateway.DeliveryRetrying, now, now, ""
		r.Attempts = append(r.Attempts, gateway.ReplayMarker(now, by))
		return nil
	})
}

// Cancel implements gateway.Queue.
func (s *Store) Cancel(ctx context.Context, id string, now time.Time, by string) error {
	return s.update(id, func(tx *bolt.Tx, r *record) error {
		switch r.State {
		case gateway.DeliveryPending, gateway.DeliveryRetrying, gateway.DeliveryDead:
		default:
			return gateway.Errorf(gateway.ECONFLICT, "a delivery that is %s cannot be cancelled", r.State)
		}
		r.State, r.UpdatedAt, r.Reason = gateway.DeliveryCancelled, now, gateway.CancelReason(by)
		r.Attempts = append(r.Attempts, gateway.CancelMarker(now, by))
		return nil
	})
}

// Delivery implements gateway.Queue.
func (s *Store) Delivery(ctx context.Context, id string) (*gateway.Delivery, error) {
	var d *gateway.Delivery
	err := s.db.View(func(tx *bolt.Tx) error {
		r, err := get(tx, id)
		if err != nil {
			return err
		}
		d = &r.Delivery
		d.Payload, err = payload(tx, r)
		return err
	})
	return d, err
}

// Deliveries implements gateway.Queue, from the report index or the
// listing indexes (by state, or by destination and state, in time order).
func (s *Store) Deliveries(ctx context.Context, f gateway.DeliveryFilter) ([]*gateway.Delivery, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	var out []*gateway.Delivery
	err := s.db.View(func(tx *bolt.Tx) error {
		var ids []string
		if f.ReportID != "" {
			prefix := append([]byte(f.ReportID), 0)
			c := tx.Bucket(bucketByReport).Cursor()
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				ids = append(ids, string(k[len(prefix):]))
			}
		} else {
			states := gateway.DeliveryStates
			if f.State != "" {
				states = []gateway.DeliveryState{f.State}
			}
			var lists [][]gateway.Listed
			for _, st := range states {
				if f.Destination != "" {
					lists = append(lists, newestFirst(tx.Bucket(bucketDestStateTime), key([]byte(f.Destination), []byte(st), nil), f.After, limit))
				} else {
					lists = append(lists, newestFirst(tx.Bucket(bucketStateTime), key([]byte(st), nil), f.After, limit))
				}
			}
			ids = gateway.MergeNewest(lists, limit)
		}
		for _, id := range ids {
			r, err := get(tx, id)
			if err != nil {
				return err
			}
			if (f.State == "" || r.State == f.State) && (f.Destination == "" || r.Destination == f.Destination) && f.After.Passes(r.UpdatedAt, r.ID) {
				d := r.Delivery
				out = append(out, &d)
			}
		}
		return nil
	})
	gateway.SortNewestFirst(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, err
}

// Counts implements gateway.Queue by walking the state index's keys.
func (s *Store) Counts(ctx context.Context) (map[string]map[gateway.DeliveryState]int, error) {
	counts := map[string]map[gateway.DeliveryState]int{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCounts).ForEach(func(k, v []byte) error {
			state, dest, ok := bytes.Cut(k, []byte{0})
			if !ok || len(v) != 8 {
				return nil
			}
			if counts[string(dest)] == nil {
				counts[string(dest)] = map[gateway.DeliveryState]int{}
			}
			counts[string(dest)][gateway.DeliveryState(state)] = int(binary.BigEndian.Uint64(v))
			return nil
		})
	})
	return counts, err
}

// NextDue implements gateway.Queue: the first key of dest's due index.
func (s *Store) NextDue(ctx context.Context, dest string) (time.Time, bool, error) {
	var at time.Time
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := append([]byte(dest), 0)
		if k, _ := tx.Bucket(bucketDue).Cursor().Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) >= len(prefix)+8 {
			at, ok = time.UnixMilli(int64(binary.BigEndian.Uint64(k[len(prefix):]))).UTC(), true
		}
		return nil
	})
	return at, ok, err
}

// OldestWaiting implements gateway.Queue: the first key of each
// destination's waiting index.
func (s *Store) OldestWaiting(ctx context.Context, destinations []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketWaiting).Cursor()
		for _, dest := range destinations {
			prefix := append([]byte(dest), 0)
			if k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) >= len(prefix)+8 {
				out[dest] = time.UnixMilli(int64(binary.BigEndian.Uint64(k[len(prefix):]))).UTC()
			}
		}
		return nil
	})
	return out, err
}

// buildWaiting fills the waiting index of a store written before it
// existed, from the state index.
func buildWaiting(tx *bolt.Tx) error {
	for _, st := range []gateway.DeliveryState{gateway.DeliveryPending, gateway.DeliveryRetrying, gateway.DeliveryInFlight} {
		prefix := append([]byte(st), 0)
		c := tx.Bucket(bucketByState).Cursor()
		var ids []string
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			ids = append(ids, string(k[bytes.LastIndexByte(k, 0)+1:]))
		}
		for _, id := range ids {
			r, err := get(tx, id)
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketWaiting).Put(waitingKey(r), nil); err != nil {
				return err
			}
		}
	}
	return nil
}

var bucketPaused = []byte("destination_paused") // destination -> "" while paused

// SetPaused implements gateway.Queue.
func (s *Store) SetPaused(ctx context.Context, dest string, paused bool) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketPaused)
		if err != nil {
			return err
		}
		if paused {
			return b.Put([]byte(dest), nil)
		}
		return b.Delete([]byte(dest))
	})
}

// Paused implements gateway.Queue.
func (s *Store) Paused(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketPaused); b != nil {
			return b.ForEach(func(k, _ []byte) error { out[string(k)] = true; return nil })
		}
		return nil
	})
	return out, err
}
