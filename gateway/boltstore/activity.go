package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// bucketActivity: hour start ms, counter name -> count (big-endian uint64).
var bucketActivity = []byte("activity")

// count adds one to counter for at's hour, inside the caller's
// transaction. The first count of a new hour also drops the hours older
// than gateway.ActivityRetention, so the bucket stays small without a job.
func count(tx *bolt.Tx, at time.Time, counter string) error {
	b := tx.Bucket(bucketActivity)
	hour := gateway.HourOf(at)
	k := key(ms(hour), []byte(counter))
	var n uint64
	if v := b.Get(k); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	} else if err := dropOldActivity(b, hour); err != nil {
		return err
	}
	return b.Put(k, binary.BigEndian.AppendUint64(nil, n+1))
}

func dropOldActivity(b *bolt.Bucket, hour time.Time) error {
	limit := ms(hour.Add(-gateway.ActivityRetention))
	c := b.Cursor()
	for k, _ := c.First(); k != nil && bytes.Compare(k[:8], limit) < 0; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// Activity implements gateway.ActivityLog.
func (s *Store) Activity(ctx context.Context, from, to time.Time) ([]gateway.ActivityHour, error) {
	var out []gateway.ActivityHour
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketActivity).Cursor()
		end := ms(gateway.HourOf(to))
		for k, v := c.Seek(ms(gateway.HourOf(from))); k != nil && bytes.Compare(k[:8], end) <= 0; k, v = c.Next() {
			hour := time.UnixMilli(int64(binary.BigEndian.Uint64(k[:8]))).UTC()
			if len(out) == 0 || !out[len(out)-1].Hour.Equal(hour) {
				out = append(out, gateway.ActivityHour{Hour: hour, Counts: map[string]int{}})
			}
			out[len(out)-1].Counts[string(k[9:])] += int(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	return out, err
}
