package boltstore

import (
	"bytes"
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// Listing indexes: deliveries by state, and by destination and state, each
// ordered by last change, so a page of a listing reads only that page.
var (
	bucketStateTime     = []byte("delivery_state_time")      // state, updated ms, id -> ""
	bucketDestStateTime = []byte("delivery_dest_state_time") // dest, state, updated ms, id -> ""
)

func listingKeys(r *record) (byState, byDest []byte) {
	return key([]byte(r.State), ms(r.UpdatedAt), []byte(r.ID)), key([]byte(r.Destination), []byte(r.State), ms(r.UpdatedAt), []byte(r.ID))
}

func putListing(tx *bolt.Tx, r *record) error {
	a, b := listingKeys(r)
	if err := tx.Bucket(bucketStateTime).Put(a, nil); err != nil {
		return err
	}
	return tx.Bucket(bucketDestStateTime).Put(b, nil)
}

func deleteListing(tx *bolt.Tx, r *record) error {
	a, b := listingKeys(r)
	if err := tx.Bucket(bucketStateTime).Delete(a); err != nil {
		return err
	}
	return tx.Bucket(bucketDestStateTime).Delete(b)
}

// buildListing fills the listing indexes of a store written before they existed.
func buildListing(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketStateTime, bucketDestStateTime} {
		if _, err := tx.CreateBucket(name); err != nil {
			return err
		}
	}
	deliveries := tx.Bucket(bucketDeliveries)
	if deliveries == nil {
		return nil
	}
	return deliveries.ForEach(func(id, _ []byte) error {
		r, err := get(tx, string(id))
		if err != nil {
			return err
		}
		return putListing(tx, r)
	})
}

// newestFirst walks one index prefix backwards from the cursor, collecting
// at most limit entries that come after it.
func newestFirst(b *bolt.Bucket, prefix []byte, after gateway.DeliveryCursor, limit int) []gateway.Listed {
	var out []gateway.Listed
	c := b.Cursor()
	start := append(append([]byte{}, prefix...), 0xff) // past every key under prefix
	if !after.UpdatedAt.IsZero() {
		start = append(append([]byte{}, prefix...), ms(after.UpdatedAt.Add(1e6))...) // the next millisecond
	}
	k, _ := c.Seek(start)
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	for ; k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, _ = c.Prev() {
		rest := k[len(prefix):]
		if len(rest) < 9 {
			continue
		}
		at := time.UnixMilli(int64(binary.BigEndian.Uint64(rest[:8])))
		if id := string(rest[9:]); after.Passes(at, id) {
			out = append(out, gateway.Listed{UpdatedMS: at.UnixMilli(), ID: id})
		}
	}
	return out
}
