package boltstore

import (
	"context"
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// bucketMessages: message id (sorts by arrival) -> metadata JSON;
// bucketMessageRaw: message id -> the content as received.
var (
	bucketMessages   = []byte("messages")
	bucketMessageRaw = []byte("message_raw")
)

// RecordMessage implements gateway.MessageLog.
func (s *Store) RecordMessage(ctx context.Context, m *gateway.InboundMessage) error {
	meta, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return s.db.Batch(func(tx *bolt.Tx) error {
		for name, v := range map[string][]byte{string(bucketMessages): meta, string(bucketMessageRaw): m.Raw} {
			b, err := tx.CreateBucketIfNotExists([]byte(name))
			if err != nil {
				return err
			}
			if err := b.Put([]byte(m.ID), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// Messages implements gateway.MessageLog: newest first, scanning back from
// the latest (a retention policy bounds how far).
func (s *Store) Messages(ctx context.Context, f gateway.MessageFilter) ([]*gateway.InboundMessage, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	var out []*gateway.InboundMessage
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMessages)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && len(out) < limit; k, v = c.Prev() {
			var m gateway.InboundMessage
			if json.Unmarshal(v, &m) == nil && f.Matches(&m) {
				out = append(out, &m)
			}
		}
		return nil
	})
	return out, err
}

// Message implements gateway.MessageLog.
func (s *Store) Message(ctx context.Context, id string) (*gateway.InboundMessage, error) {
	var m *gateway.InboundMessage
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMessages)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(id))
		if v == nil {
			return nil
		}
		m = &gateway.InboundMessage{}
		if err := json.Unmarshal(v, m); err != nil {
			return err
		}
		if raw := tx.Bucket(bucketMessageRaw); raw != nil {
			m.Raw = append([]byte(nil), raw.Get([]byte(id))...)
		}
		return nil
	})
	if err == nil && m == nil {
		err = gateway.Errorf(gateway.ENOTFOUND, "message %s not found", id)
	}
	return m, err
}
