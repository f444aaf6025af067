// Package boltstore is the embedded single-file store (bbolt), the default:
// every write is one fsynced transaction, so a report answered 202 survives
// kill -9. Concurrent writes are coalesced into shared transactions.
package boltstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/internal/blob"
)

var _ gateway.Store = (*Store)(nil)

// Buckets. Version keys are id + 0x00 + big-endian version, so a cursor
// walks one report's versions in order.
var (
	bucketLatest = []byte("report_latest") // id -> latest version (uint32) + lab ODS
	bucketMeta   = []byte("report_meta")   // version key -> ReportRecord JSON (no blobs)
	bucketReport = []byte("report_json")   // version key -> normalised report JSON
	bucketBundle = []byte("report_bundle") // version key -> FHIR Bundle JSON
	bucketPDF    = []byte("report_pdf")    // version key -> PDF
	bucketHeld   = []byte("report_held")   // id -> held version (uint32): accepted for a trust with no destination
	allBuckets   = [][]byte{bucketLatest, bucketMeta, bucketReport, bucketBundle, bucketPDF, bucketHeld,
		bucketDeliveries, bucketPayloads, bucketDue, bucketOrder, bucketByState, bucketCounts, bucketByReport,
		bucketByPatient, bucketByUpdated, bucketByResource, bucketAudit, bucketActivity, bucketMessages, bucketMessageRaw,
		bucketPruneMarks, bucketAuditOrphans}
)

// Store implements gateway.Reports on one bbolt file.
type Store struct{ db *bolt.DB }

// Open opens (creating if needed) the store in dir.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data folder: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dir, "gateway.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open embedded store (is another gateway using %s?): %w", dir, err)
	}
	// Batches amortise one fsync over concurrent intakes; keep the wait short.
	db.MaxBatchDelay = 2 * time.Millisecond
	err = db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketStateTime) == nil {
			if err := buildListing(tx); err != nil {
				return err
			}
		}
		if tx.Bucket(bucketWaiting) == nil {
			if _, err := tx.CreateBucket(bucketWaiting); err != nil {
				return err
			}
			if tx.Bucket(bucketByState) != nil {
				if err := buildWaiting(tx); err != nil {
					return err
				}
			}
		}
		counted := tx.Bucket(bucketCounts) != nil
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if !counted {
			return buildCounts(tx)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("create buckets: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks the database is open and writable.
func (s *Store) Ping(context.Context) error {
	if s.db.IsReadOnly() {
		return errors.New("embedded store is read-only")
	}
	return s.db.View(func(tx *bolt.Tx) error { return nil })
}

func versionKey(id string, version int) []byte {
	k := make([]byte, len(id)+5)
	copy(k, id)
	binary.BigEndian.PutUint32(k[len(id)+1:], uint32(version))
	return k
}

// SaveReport implements gateway.Reports.
func (s *Store) SaveReport(ctx context.Context, rec *gateway.ReportRecord, deliveries []*gateway.Delivery) (*gateway.ReportRecord, bool, error) {
	meta, err := json.Marshal(rec)
	if err != nil {
		return nil, false, err
	}
	var messageMeta []byte
	if rec.Message != nil {
		if messageMeta, err = json.Marshal(rec.Message); err != nil {
			return nil, false, err
		}
	}
	var stored *gateway.ReportRecord
	var created bool
	// Batch may run the function more than once: it sets its results afresh each time.
	err = s.db.Batch(func(tx *bolt.Tx) error {
		stored, created = nil, false
		key := versionKey(rec.ID, rec.Version)
		if tx.Bucket(bucketMeta).Get(key) != nil {
			old, err := load(tx, key)
			if err != nil {
				return err
			}
			if old.LabODS != rec.LabODS { // before content: "send a higher version" is no advice to another lab
				return gateway.ErrOtherLabsReport(rec.ID)
			}
			if old.Digest != rec.Digest {
				return gateway.ErrOtherContent(rec.ID, rec.Version)
			}
			stored = old
			return nil
		}
		latest := tx.Bucket(bucketLatest)
		var previous *gateway.ReportRecord
		if cur := latest.Get([]byte(rec.ID)); cur != nil {
			curVersion, lab := int(binary.BigEndian.Uint32(cur)), string(cur[4:])
			if lab != rec.LabODS {
				return gateway.ErrOtherLabsReport(rec.ID)
			}
			stored := tx.Bucket(bucketMeta).Get(versionKey(rec.ID, curVersion))
			if stored == nil { // a tombstone: the retention policy pruned the report
				if curVersion >= rec.Version {
					return gateway.ErrPruned(rec.ID, rec.Version)
				}
			} else {
				previous = &gateway.ReportRecord{}
				if err := json.Unmarshal(stored, previous); err != nil {
					return err
				}
			}
			if curVersion > rec.Version {
				return gateway.ErrOlder(rec.ID, rec.Version, strconv.Itoa(curVersion))
			}
		}
		val := binary.BigEndian.AppendUint32(nil, uint32(rec.Version))
		for _, put := range []struct {
			bucket, key, value []byte
		}{
			{bucketLatest, []byte(rec.ID), append(val, rec.LabODS...)},
			{bucketMeta, key, meta},
			{bucketReport, key, blob.Pack(rec.Report)},
			{bucketBundle, key, blob.PackBundleAt(rec.Bundle, rec.PDF, rec.BundlePDFAt)}, // the PDF's base64 left out: it is stored once, below
			{bucketPDF, key, rec.PDF},
		} {
			if err := tx.Bucket(put.bucket).Put(put.key, put.value); err != nil {
				return err
			}
		}
		for _, d := range deliveries {
			if err := enqueue(tx, d); err != nil {
				return err
			}
		}
		if err := hold(tx, rec); err != nil {
			return err
		}
		if err := index(tx, rec, previous); err != nil {
			return err
		}
		if rec.Audit != nil { // in the same transaction: never a report without its audit entry
			b, err := json.Marshal(rec.Audit)
			if err != nil {
				return err
			}
			if err := putAudit(tx, *rec.Audit, b); err != nil {
				return err
			}
		}
		if rec.Message != nil { // and the message log never misses a stored report
			if err := putMessage(tx, rec.Message, messageMeta); err != nil {
				return err
			}
		}
		stored, created = rec, true
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("save report %s v%d: %w", rec.ID, rec.Version, err)
	}
	return stored, created, nil
}

// Report implements gateway.Reports.
func (s *Store) Report(ctx context.Context, id string) (*gateway.ReportRecord, error) {
	var rec *gateway.ReportRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bucketLatest).Get([]byte(id))
		if cur == nil {
			return gateway.Errorf(gateway.ENOTFOUND, "report %s not found", id)
		}
		version := int(binary.BigEndian.Uint32(cur))
		var err error
		rec, err = load(tx, versionKey(id, version))
		if gateway.ErrorCode(err) == gateway.ENOTFOUND { // its tombstone: the retention policy pruned it
			return gateway.ErrReportPruned(id, string(cur[4:]), version)
		}
		return err
	})
	return rec, err
}

// ReportVersion implements gateway.Reports.
func (s *Store) ReportVersion(ctx context.Context, id string, version int) (*gateway.ReportRecord, error) {
	var rec *gateway.ReportRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		rec, err = load(tx, versionKey(id, version))
		return err
	})
	return rec, err
}

// ReportBundle implements gateway.Reports.
func (s *Store) ReportBundle(ctx context.Context, id string, version int) (*gateway.ReportRecord, error) {
	var rec gateway.ReportRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		key := versionKey(id, version)
		meta := tx.Bucket(bucketMeta).Get(key)
		if meta == nil {
			return gateway.Errorf(gateway.ENOTFOUND, "report version not found")
		}
		if err := json.Unmarshal(meta, &rec); err != nil {
			return fmt.Errorf("decode stored report: %w", err)
		}
		var err error
		rec.Bundle, err = bundleOf(tx, key)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &rec, nil
}

// ReportVersions implements gateway.Reports.
func (s *Store) ReportVersions(ctx context.Context, id string) ([]int, error) {
	var versions []int
	prefix := append([]byte(id), 0)
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketMeta).Cursor()
		for k, _ := c.Seek(prefix); k != nil && len(k) == len(prefix)+4 && string(k[:len(prefix)]) == string(prefix); k, _ = c.Next() {
			versions = append(versions, int(binary.BigEndian.Uint32(k[len(prefix):])))
		}
		return nil
	})
	return versions, err
}

// load reads one version; blobs are copied out because bbolt's memory is
// only valid inside the transaction.
func load(tx *bolt.Tx, key []byte) (*gateway.ReportRecord, error) {
	meta := tx.Bucket(bucketMeta).Get(key)
	if meta == nil {
		return nil, gateway.Errorf(gateway.ENOTFOUND, "report version not found")
	}
	var rec gateway.ReportRecord
	if err := json.Unmarshal(meta, &rec); err != nil {
		return nil, fmt.Errorf("decode stored report: %w", err)
	}
	var err error
	if rec.Report, err = unpack(tx.Bucket(bucketReport).Get(key)); err != nil {
		return nil, err
	}
	if rec.Bundle, err = bundleOf(tx, key); err != nil {
		return nil, err
	}
	rec.PDF = clone(tx.Bucket(bucketPDF).Get(key))
	return &rec, nil
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// DiskBytes is the size of the data the file holds (its pages in use,
// not the file's preallocated length): what storage benchmarks measure.
func (s *Store) DiskBytes() (int64, error) {
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil })
	return n, err
}
