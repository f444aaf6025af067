package boltstore

import (
	"context"
	"encoding/binary"
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// bucketAudit: report id (or "" for accesses that touched no report), then
// a sequence number, -> entry JSON. Accesses that touch no report are kept
// under "" so denied or empty searches are recorded too.
var bucketAudit = []byte("audit")

// Audit implements gateway.AuditLog.
func (s *Store) Audit(ctx context.Context, e gateway.AuditEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return s.db.Batch(func(tx *bolt.Tx) error { return putAudit(tx, e, b) })
}

// putAudit writes an entry under each report it touched, in tx.
func putAudit(tx *bolt.Tx, e gateway.AuditEntry, b []byte) error {
	bucket, err := tx.CreateBucketIfNotExists(bucketAudit)
	if err != nil {
		return err
	}
	reports := e.Reports
	if len(reports) == 0 {
		reports = []string{""}
	}
	for _, id := range reports {
		seq, _ := bucket.NextSequence()
		if err := bucket.Put(key([]byte(id), binary.BigEndian.AppendUint64(nil, seq)), b); err != nil {
			return err
		}
	}
	return nil
}

// AuditFor implements gateway.AuditLog.
func (s *Store) AuditFor(ctx context.Context, reportID string) ([]gateway.AuditEntry, error) {
	var out []gateway.AuditEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		bucket := tx.Bucket(bucketAudit)
		if bucket == nil {
			return nil
		}
		prefix := append([]byte(reportID), 0)
		c := bucket.Cursor()
		for k, v := c.Seek(prefix); k != nil && len(k) == len(prefix)+8 && string(k[:len(prefix)]) == string(prefix); k, v = c.Next() {
			var e gateway.AuditEntry
			if json.Unmarshal(v, &e) == nil {
				out = append(out, e)
			}
		}
		return nil
	})
	return out, err
}
