package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/nhs-genomics/results-gateway/gateway"
)

var (
	bucketPruneMarks   = []byte("prune_marks")   // state -> ms: delivered payloads pruned up to here
	bucketAuditOrphans = []byte("audit_orphans") // last entry ms, report id -> "": audit trails kept after their report
)

// Prune implements gateway.Pruner: one transaction per call. A dry run is
// a read-only transaction that counts what a real one would remove (every
// write below is skipped when the transaction is not writable), so it
// never holds up intake or delivery.
func (s *Store) Prune(ctx context.Context, before map[gateway.RetentionClass]time.Time, limit int, dryRun bool) (map[gateway.RetentionClass]int, error) {
	out := map[gateway.RetentionClass]int{}
	run := s.db.Update
	if dryRun {
		run = s.db.View
	}
	err := run(func(tx *bolt.Tx) error {
		clear(out)
		audit, keepAudit := before[gateway.ClassAudit]
		steps := []struct {
			class gateway.RetentionClass
			prune func(*bolt.Tx, time.Time, int, map[gateway.RetentionClass]int) error
		}{
			{gateway.ClassMessages, pruneMessages},
			{gateway.ClassPayloads, prunePayloads},
			{gateway.ClassReports, func(tx *bolt.Tx, t time.Time, limit int, out map[gateway.RetentionClass]int) error {
				return pruneReports(tx, t, audit, keepAudit, limit, out)
			}},
			{gateway.ClassAudit, pruneAudit},
		}
		for _, step := range steps {
			if t, ok := before[step.class]; ok {
				if err := step.prune(tx, t, limit, out); err != nil {
					return fmt.Errorf("prune %s: %w", step.class, err)
				}
			}
		}
		return nil
	})
	return out, err
}

func pruneMessages(tx *bolt.Tx, before time.Time, limit int, out map[gateway.RetentionClass]int) error {
	limitID := []byte(fmt.Sprintf("%020d", before.UnixNano())) // ids start with their arrival in nanoseconds
	var ids [][]byte
	c := tx.Bucket(bucketMessages).Cursor()
	for k, _ := c.First(); k != nil && bytes.Compare(k, limitID) < 0 && len(ids) < limit; k, _ = c.Next() {
		ids = append(ids, clone(k))
	}
	for _, id := range ids {
		if !tx.Writable() {
			break
		}
		if err := tx.Bucket(bucketMessages).Delete(id); err != nil {
			return err
		}
		if err := tx.Bucket(bucketMessageRaw).Delete(id); err != nil {
			return err
		}
	}
	out[gateway.ClassMessages] += len(ids)
	return nil
}

// prunePayloads drops the bytes of deliveries that are over, walking each
// terminal state's time index from where the last pass stopped (their
// times never change again). Entries without bytes of their own (a
// reference to the report's Bundle or PDF, or pruned already) are passed
// over without counting against the limit, up to a scan bound, so a pass
// always moves on even when many deliveries share one millisecond.
func prunePayloads(tx *bolt.Tx, before time.Time, limit int, out map[gateway.RetentionClass]int) error {
	for _, st := range []gateway.DeliveryState{gateway.DeliveryDelivered, gateway.DeliverySuperseded} {
		marks := tx.Bucket(bucketPruneMarks)
		from := marks.Get([]byte(st))
		prefix := key([]byte(st), nil)
		c := tx.Bucket(bucketStateTime).Cursor()
		var ids []string
		reached, scanned, done := from, 0, true
		for k, _ := c.Seek(append(append([]byte{}, prefix...), from...)); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			at := k[len(prefix) : len(prefix)+8]
			if bytes.Compare(at, ms(before)) >= 0 {
				break
			}
			if len(ids) == limit || scanned == limit*20 {
				done = false
				break
			}
			scanned++
			reached = clone(at)
			if id := k[len(prefix)+9:]; tx.Bucket(bucketPayloads).Get(id) != nil {
				ids = append(ids, string(id))
			}
		}
		if done {
			reached = ms(before) // everything before the cutoff was visited
		}
		out[gateway.ClassPayloads] += len(ids)
		if !tx.Writable() {
			continue
		}
		for _, id := range ids {
			if err := tx.Bucket(bucketPayloads).Delete([]byte(id)); err != nil {
				return err
			}
		}
		if bytes.Compare(reached, from) > 0 {
			if err := marks.Put([]byte(st), reached); err != nil {
				return err
			}
		}
	}
	return nil
}

func isOver(s gateway.DeliveryState) bool {
	return s == gateway.DeliveryDelivered || s == gateway.DeliverySuperseded || s == gateway.DeliveryCancelled
}

// pruneReports removes reports last received before the cutoff whose every
// delivery is over and which are not held, oldest first. The id's latest
// version and lab stay as a tombstone, so a resend is refused rather than
// delivered twice.
func pruneReports(tx *bolt.Tx, before, audit time.Time, auditClass bool, limit int, out map[gateway.RetentionClass]int) error {
	prefix := key([]byte(allTrusts), nil)
	c := tx.Bucket(bucketByUpdated).Cursor()
	var candidates []string
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if bytes.Compare(k[len(prefix):len(prefix)+8], ms(before)) >= 0 {
			break
		}
		candidates = append(candidates, string(k[len(prefix)+9:]))
	}
	pruned := 0
	for _, id := range candidates {
		if pruned == limit {
			break
		}
		ok, err := prunable(tx, id)
		if err != nil || !ok {
			if err != nil {
				return err
			}
			continue
		}
		if tx.Writable() {
			if err := removeReport(tx, id); err != nil {
				return err
			}
		}
		if err := settleAudit(tx, id, audit, auditClass, out); err != nil {
			return err
		}
		pruned++
	}
	out[gateway.ClassReports] += pruned
	return nil
}

func prunable(tx *bolt.Tx, id string) (bool, error) {
	if tx.Bucket(bucketHeld).Get([]byte(id)) != nil {
		return false, nil // unrouted: waits for a destination
	}
	for _, did := range idsWithPrefix(tx, bucketByReport, []byte(id)) {
		r, err := get(tx, did)
		if err != nil {
			return false, err
		}
		if !isOver(r.State) {
			return false, nil // pending, in flight, retrying or dead: still needs delivering or a person
		}
	}
	return true, nil
}

// removeReport deletes every version, its blobs and index entries, and
// every delivery of the report with theirs.
func removeReport(tx *bolt.Tx, id string) error {
	prefix := append([]byte(id), 0)
	var versions [][]byte
	c := tx.Bucket(bucketMeta).Cursor()
	for k, _ := c.Seek(prefix); k != nil && len(k) == len(prefix)+4 && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		versions = append(versions, clone(k))
	}
	for _, vk := range versions {
		var meta gateway.ReportRecord
		if err := json.Unmarshal(tx.Bucket(bucketMeta).Get(vk), &meta); err != nil {
			return fmt.Errorf("decode stored report %s: %w", id, err)
		}
		dels := []struct{ bucket, key []byte }{{bucketMeta, vk}, {bucketReport, vk}, {bucketBundle, vk}, {bucketPDF, vk}}
		for _, trust := range readers(&meta) {
			dels = append(dels, struct{ bucket, key []byte }{bucketByUpdated, key([]byte(trust), ms(meta.ReceivedAt), []byte(id))})
		}
		if meta.NHSNumber != "" {
			dels = append(dels, struct{ bucket, key []byte }{bucketByPatient, key([]byte(meta.NHSNumber), []byte(id))})
		}
		for _, ref := range meta.Resources {
			dels = append(dels, struct{ bucket, key []byte }{bucketByResource, key([]byte(ref), []byte(id))})
		}
		for _, d := range dels {
			if err := tx.Bucket(d.bucket).Delete(d.key); err != nil {
				return err
			}
		}
	}
	for _, did := range idsWithPrefix(tx, bucketByReport, []byte(id)) {
		r, err := get(tx, did)
		if err != nil {
			return err
		}
		if err := unindex(tx, r); err != nil {
			return err
		}
		for _, d := range []struct{ bucket, key []byte }{
			{bucketDeliveries, []byte(did)}, {bucketPayloads, []byte(did)}, {bucketByReport, key([]byte(id), []byte(did))},
			{bucketOrder, key([]byte(r.Destination), []byte(id))},
		} {
			if err := tx.Bucket(d.bucket).Delete(d.key); err != nil {
				return err
			}
		}
	}
	return nil
}

// settleAudit removes a pruned report's access records if the newest is
// older than the audit period, or else keeps them as an orphan trail that
// pruneAudit removes when it is.
func settleAudit(tx *bolt.Tx, id string, before time.Time, auditClass bool, out map[gateway.RetentionClass]int) error {
	entries, last, err := auditEntries(tx, id)
	if err != nil || len(entries) == 0 {
		return err
	}
	if auditClass && last.Before(before) {
		return deleteAudit(tx, entries, out)
	}
	if !tx.Writable() {
		return nil
	}
	return tx.Bucket(bucketAuditOrphans).Put(key(ms(last), []byte(id)), nil)
}

func auditEntries(tx *bolt.Tx, id string) (keys [][]byte, last time.Time, err error) {
	prefix := append([]byte(id), 0)
	c := tx.Bucket(bucketAudit).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8; k, v = c.Next() {
		var e gateway.AuditEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, last, err
		}
		keys = append(keys, clone(k))
		if e.At.After(last) {
			last = e.At
		}
	}
	return keys, last, nil
}

func deleteAudit(tx *bolt.Tx, keys [][]byte, out map[gateway.RetentionClass]int) error {
	for _, k := range keys {
		if !tx.Writable() {
			break
		}
		if err := tx.Bucket(bucketAudit).Delete(k); err != nil {
			return err
		}
	}
	out[gateway.ClassAudit] += len(keys)
	return nil
}

// pruneAudit removes orphan trails (their report pruned) whose newest entry
// is older than the cutoff, and old entries that touched no report.
func pruneAudit(tx *bolt.Tx, before time.Time, limit int, out map[gateway.RetentionClass]int) error {
	c := tx.Bucket(bucketAuditOrphans).Cursor()
	var orphans [][]byte
	for k, _ := c.First(); k != nil && bytes.Compare(k[:8], ms(before)) < 0 && len(orphans) < limit; k, _ = c.Next() {
		orphans = append(orphans, clone(k))
	}
	for _, k := range orphans {
		id := string(k[9:])
		entries, last, err := auditEntries(tx, id)
		if err != nil {
			return err
		}
		if !last.Before(before) { // accessed since: wait for the newest entry's time
			if tx.Writable() {
				if err := tx.Bucket(bucketAuditOrphans).Delete(k); err != nil {
					return err
				}
				if err := tx.Bucket(bucketAuditOrphans).Put(key(ms(last), []byte(id)), nil); err != nil {
					return err
				}
			}
			continue
		}
		if tx.Writable() {
			if err := tx.Bucket(bucketAuditOrphans).Delete(k); err != nil {
				return err
			}
		}
		if err := deleteAudit(tx, entries, out); err != nil {
			return err
		}
	}
	// Entries that touched no report (a search that found nothing) sit under "".
	var old [][]byte
	ac := tx.Bucket(bucketAudit).Cursor()
	for k, v := ac.Seek([]byte{0}); k != nil && k[0] == 0 && len(old) < limit; k, v = ac.Next() {
		var e gateway.AuditEntry
		if json.Unmarshal(v, &e) != nil || !e.At.Before(before) {
			break // entries are in the order they were written
		}
		old = append(old, clone(k))
	}
	return deleteAudit(tx, old, out)
}
