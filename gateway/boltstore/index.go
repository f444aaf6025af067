package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// Index buckets; keys are parts joined by 0x00.
var (
	bucketByPatient  = []byte("idx_patient")  // nhs number, report id -> ""
	bucketByUpdated  = []byte("idx_updated")  // trust ("*" for all), received ms, report id -> ""
	bucketByResource = []byte("idx_resource") // "Type/id", report id -> ""
)

const allTrusts = "*"

// index adds a new report version to the indexes, replacing the previous
// version's place in the last-updated order.
func index(tx *bolt.Tx, rec *gateway.ReportRecord, previous *gateway.ReportRecord) error {
	if previous != nil {
		for _, trust := range readers(previous) {
			if err := tx.Bucket(bucketByUpdated).Delete(key([]byte(trust), ms(previous.ReceivedAt), []byte(rec.ID))); err != nil {
				return err
			}
		}
	}
	for _, trust := range readers(rec) {
		if err := tx.Bucket(bucketByUpdated).Put(key([]byte(trust), ms(rec.ReceivedAt), []byte(rec.ID)), nil); err != nil {
			return err
		}
	}
	if rec.NHSNumber != "" {
		if err := tx.Bucket(bucketByPatient).Put(key([]byte(rec.NHSNumber), []byte(rec.ID)), nil); err != nil {
			return err
		}
	}
	for _, ref := range rec.Resources {
		if err := tx.Bucket(bucketByResource).Put(key([]byte(ref), []byte(rec.ID)), nil); err != nil {
			return err
		}
	}
	return nil
}

// idsWithPrefix lists the last part of every key under prefix.
func idsWithPrefix(tx *bolt.Tx, bucket, prefix []byte) []string {
	return idsWithPrefixUpTo(tx, bucket, prefix, -1)
}

// idsWithPrefixUpTo is idsWithPrefix stopping one past limit ids (a
// negative limit: none).
func idsWithPrefixUpTo(tx *bolt.Tx, bucket, prefix []byte, limit int) []string {
	var ids []string
	prefix = append(append([]byte{}, prefix...), 0)
	c := tx.Bucket(bucket).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && (limit < 0 || len(ids) <= limit); k, _ = c.Next() {
		ids = append(ids, string(k[len(prefix):]))
	}
	return ids
}

// ReportsForPatient implements gateway.ReportIndex.
func (s *Store) ReportsForPatient(ctx context.Context, nhs string) ([]string, error) {
	var ids []string
	err := s.db.View(func(tx *bolt.Tx) error { ids = idsWithPrefix(tx, bucketByPatient, []byte(nhs)); return nil })
	return ids, err
}

// ResourceReports implements gateway.ReportIndex.
func (s *Store) ResourceReports(ctx context.Context, ref string) ([]string, error) {
	var ids []string
	err := s.db.View(func(tx *bolt.Tx) error { ids = idsWithPrefix(tx, bucketByResource, []byte(ref)); return nil })
	return ids, err
}

// ResourceHolders implements gateway.ReportIndex: the prefix walk stops
// one past limit.
func (s *Store) ResourceHolders(ctx context.Context, ref string, limit int) ([]string, bool, error) {
	var ids []string
	err := s.db.View(func(tx *bolt.Tx) error { ids = idsWithPrefixUpTo(tx, bucketByResource, []byte(ref), limit); return nil })
	if len(ids) > limit {
		return nil, true, err
	}
	return ids, false, err
}

// HoldResource implements gateway.ReportIndex: one seek per id.
func (s *Store) HoldResource(ctx context.Context, ref string, ids []string) ([]bool, error) {
	held := make([]bool, len(ids))
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketByResource).Cursor()
		for i, id := range ids {
			want := key([]byte(ref), []byte(id))
			k, _ := c.Seek(want)
			held[i] = bytes.Equal(k, want)
		}
		return nil
	})
	return held, err
}

// ReportsUpdated implements gateway.ReportIndex: a backwards walk of the
// trust's last-updated index from the cursor.
func (s *Store) ReportsUpdated(ctx context.Context, trust string, before time.Time, beforeID string, limit int) ([]string, error) {
	if trust == "" {
		trust = allTrusts
	}
	prefix := append([]byte(trust), 0)
	var ids []string
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketByUpdated).Cursor()
		var k []byte
		if before.IsZero() {
			// Start after the last key of this trust.
			if k, _ = c.Seek(append([]byte(trust), 1)); k == nil {
				k, _ = c.Last()
			} else {
				k, _ = c.Prev()
			}
		} else {
			k, _ = c.Seek(key([]byte(trust), ms(before), []byte(beforeID)))
			if k == nil {
				k, _ = c.Last()
			}
			for k != nil && bytes.Compare(k, key([]byte(trust), ms(before), []byte(beforeID))) >= 0 {
				k, _ = c.Prev()
			}
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(ids) < limit; k, _ = c.Prev() {
			ids = append(ids, string(k[len(prefix)+9:]))
		}
		return nil
	})
	return ids, err
}

// ReportMetas implements gateway.ReportIndex.
func (s *Store) ReportMetas(ctx context.Context, ids []string) ([]*gateway.ReportRecord, error) {
	out := make([]*gateway.ReportRecord, 0, len(ids))
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, id := range ids {
			cur := tx.Bucket(bucketLatest).Get([]byte(id))
			if cur == nil {
				continue
			}
			meta := tx.Bucket(bucketMeta).Get(versionKey(id, int(binary.BigEndian.Uint32(cur))))
			if meta == nil {
				continue // a tombstone: pruned under the retention policy
			}
			var rec gateway.ReportRecord
			if err := json.Unmarshal(meta, &rec); err != nil {
				return err
			}
			out = append(out, &rec)
		}
		return nil
	})
	return out, err
}

// readers are the last-updated lists a version is on: its ordering
// trust's, each copy-to recipient's (they may read it too), and everyone's.
func readers(rec *gateway.ReportRecord) []string {
	return append(append([]string{rec.TrustODS}, rec.CopyTo...), allTrusts)
}
