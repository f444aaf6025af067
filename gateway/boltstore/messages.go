package boltstore

import (
	"context"
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/internal/blob"
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
	return s.db.Batch(func(tx *bolt.Tx) error { return putMessage(tx, m, meta) })
}

// putMessage writes a message, its raw content and its arrival count in
// tx (RecordMessage, and SaveReport for the message that brought a new
// version). meta is m's JSON.
func putMessage(tx *bolt.Tx, m *gateway.InboundMessage, meta []byte) error {
	if err := tx.Bucket(bucketMessages).Put([]byte(m.ID), meta); err != nil {
		return err
	}
	raw := blob.PackMessage(m.Raw, m.PDF, m.PDFOf != nil, m.PDFAt)
	if err := tx.Bucket(bucketMessageRaw).Put([]byte(m.ID), raw); err != nil {
		return err
	}
	return count(tx, m.ReceivedAt, gateway.ReceivedCounter(m.Source, m.Outcome))
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
		c := tx.Bucket(bucketMessages).Cursor()
		k, v := c.Last()
		if upper := f.Upper(); upper != "" {
			if k, v = c.Seek([]byte(upper)); k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		}
		lower := f.Lower()
		for ; k != nil && len(out) < limit && (lower == "" || string(k) >= lower); k, v = c.Prev() {
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
		v := tx.Bucket(bucketMessages).Get([]byte(id))
		if v == nil {
			return nil
		}
		m = &gateway.InboundMessage{}
		if err := json.Unmarshal(v, m); err != nil {
			return err
		}
		var err error
		var pdf []byte
		if m.PDFOf != nil {
			pdf = tx.Bucket(bucketPDF).Get(versionKey(m.PDFOf.ReportID, m.PDFOf.Version))
		}
		m.Raw, err = blob.UnpackBundle(clone(tx.Bucket(bucketMessageRaw).Get([]byte(id))), pdf)
		return err
	})
	if err == nil && m == nil {
		err = gateway.Errorf(gateway.ENOTFOUND, "message %s not found", id)
	}
	return m, err
}
