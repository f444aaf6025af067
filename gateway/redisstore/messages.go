package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/internal/blob"
)

// RecordMessage implements gateway.MessageLog: the message's hash and its
// place in the arrival order, in one transaction.
func (s *Store) RecordMessage(ctx context.Context, m *gateway.InboundMessage) error {
	meta, raw, err := messageFields(m)
	if err != nil {
		return err
	}
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, s.keys.message(m.ID), "meta", meta, "raw", raw)
	pipe.ZAdd(ctx, s.keys.messages(), redis.Z{Score: float64(m.ReceivedAt.UnixMilli()), Member: m.ID})
	hour := s.keys.activity(gateway.HourOf(m.ReceivedAt).UnixMilli())
	pipe.HIncrBy(ctx, hour, gateway.ReceivedCounter(m.Source, m.Outcome), 1)
	pipe.PExpire(ctx, hour, gateway.ActivityRetention)
	_, err = pipe.Exec(ctx)
	return unavailable(err, "record message")
}

// messageFields is a message's hash fields: its metadata JSON and its packed raw content.
func messageFields(m *gateway.InboundMessage) (meta, raw []byte, err error) {
	if meta, err = json.Marshal(m); err != nil {
		return nil, nil, err
	}
	return meta, blob.PackMessage(m.Raw, m.PDF, m.PDFOf != nil, m.PDFAt), nil
}

// messageArgs appends saveReport's message arguments for m (nil: none).
func messageArgs(args []any, m *gateway.InboundMessage) ([]any, error) {
	if m == nil {
		return append(args, "", "", "", 0, ""), nil
	}
	meta, raw, err := messageFields(m)
	if err != nil {
		return nil, err
	}
	return append(args, m.ID, meta, raw, m.ReceivedAt.UnixMilli(), gateway.ReceivedCounter(m.Source, m.Outcome)), nil
}

// Messages implements gateway.MessageLog: newest first, reading back in
// pages (a retention policy bounds how far).
func (s *Store) Messages(ctx context.Context, f gateway.MessageFilter) ([]*gateway.InboundMessage, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	var out []*gateway.InboundMessage
	const page = 500
	window := &redis.ZRangeBy{Max: "+inf", Min: "-inf", Count: page}
	if upper := f.Upper(); upper != "" {
		window.Max = strconv.FormatInt(idMillis(upper), 10) // ids are nanoseconds: the same millisecond may hold newer ones, filtered below
	}
	if lower := f.Lower(); lower != "" {
		window.Min = strconv.FormatInt(idMillis(lower), 10)
	}
	for ; len(out) < limit; window.Offset += page {
		ids, err := s.rdb.ZRevRangeByScore(ctx, s.keys.messages(), window).Result()
		if err != nil {
			return nil, unavailable(err, "list messages")
		}
		if len(ids) == 0 {
			break
		}
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.StringCmd, len(ids))
		for i, id := range ids {
			cmds[i] = pipe.HGet(ctx, s.keys.message(id), "meta")
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, unavailable(err, "list messages")
		}
		for _, c := range cmds {
			var m gateway.InboundMessage
			if json.Unmarshal([]byte(c.Val()), &m) == nil && f.Matches(&m) && len(out) < limit {
				out = append(out, &m)
			}
		}
	}
	return out, nil
}

// idMillis is the arrival millisecond a message id starts with.
func idMillis(id string) int64 {
	n, _ := strconv.ParseInt(id[:min(len(id), 20)], 10, 64)
	return n / 1e6
}

// Message implements gateway.MessageLog.
func (s *Store) Message(ctx context.Context, id string) (*gateway.InboundMessage, error) {
	v, err := s.rdb.HMGet(ctx, s.keys.message(id), "meta", "raw").Result()
	if err != nil {
		return nil, unavailable(err, "read message")
	}
	meta, _ := v[0].(string)
	if meta == "" {
		return nil, gateway.Errorf(gateway.ENOTFOUND, "message %s not found", id)
	}
	m := &gateway.InboundMessage{}
	if err := json.Unmarshal([]byte(meta), m); err != nil {
		return nil, err
	}
	raw, _ := v[1].(string)
	var pdf []byte
	if m.PDFOf != nil {
		if _, pdf, err = s.readVersion(ctx, m.PDFOf.ReportID, m.PDFOf.Version); err != nil {
			return nil, err
		}
	}
	if m.Raw, err = blob.UnpackBundle([]byte(raw), pdf); err != nil {
		return nil, err
	}
	return m, nil
}
