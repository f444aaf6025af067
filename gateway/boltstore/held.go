package boltstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// hold keeps a version whose ordering trust has no destination in the
// held list (its copies to other recipients may be queued already), or
// ends the hold when a later version has somewhere to go.
func hold(tx *bolt.Tx, rec *gateway.ReportRecord) error {
	if rec.Held {
		return tx.Bucket(bucketHeld).Put([]byte(rec.ID), binary.BigEndian.AppendUint32(nil, uint32(rec.Version)))
	}
	return tx.Bucket(bucketHeld).Delete([]byte(rec.ID))
}

// HeldReports implements gateway.HeldReports.
func (s *Store) HeldReports(ctx context.Context, limit int) ([]*gateway.ReportRecord, error) {
	var out []*gateway.ReportRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketHeld).ForEach(func(id, v []byte) error {
			var rec gateway.ReportRecord
			meta := tx.Bucket(bucketMeta).Get(versionKey(string(id), int(binary.BigEndian.Uint32(v))))
			if meta == nil {
				return nil
			}
			if err := json.Unmarshal(meta, &rec); err != nil {
				return fmt.Errorf("decode stored report: %w", err)
			}
			out = append(out, &rec)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool {
		if !out[i].ReceivedAt.Equal(out[j].ReceivedAt) {
			return out[i].ReceivedAt.Before(out[j].ReceivedAt)
		}
		return out[i].ID < out[j].ID
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, err
}

// ReleaseHeld implements gateway.HeldReports.
func (s *Store) ReleaseHeld(ctx context.Context, id string, version int, deliveries []*gateway.Delivery) (bool, error) {
	released := false
	err := s.db.Batch(func(tx *bolt.Tx) error {
		released = false
		v := tx.Bucket(bucketHeld).Get([]byte(id))
		if v == nil || int(binary.BigEndian.Uint32(v)) != version {
			return nil
		}
		for _, d := range deliveries {
			if err := enqueue(tx, d); err != nil {
				return err
			}
		}
		released = true
		return tx.Bucket(bucketHeld).Delete([]byte(id))
	})
	if err != nil {
		return false, fmt.Errorf("release held report %s v%d: %w", id, version, err)
	}
	return released, nil
}
