package redisstore

import (
	"context"
	"encoding/json"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/internal/blob"
)

// deliveryArgs appends n and, per delivery, the six script arguments
// (id, destination, description JSON, payload, created ms, due ms).
func deliveryArgs(args []any, deliveries []*gateway.Delivery) ([]any, error) {
	args = append(args, len(deliveries))
	for _, d := range deliveries {
		desc, err := json.Marshal(description(d))
		if err != nil {
			return nil, err
		}
		payload := []byte{} // the version's own Bundle or PDF, stored once
		if d.PayloadOf == "" {
			payload = blob.Pack(d.Payload)
		}
		args = append(args, d.ID, d.Destination, desc, payload, ms(d.CreatedAt), ms(d.NextAttemptAt))
	}
	return args, nil
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// HeldReports implements gateway.HeldReports.
func (s *Store) HeldReports(ctx context.Context, limit int) ([]*gateway.ReportRecord, error) {
	stop := int64(-1)
	if limit > 0 {
		stop = int64(limit - 1)
	}
	ids, err := s.rdb.ZRange(ctx, s.keys.held(), 0, stop).Result()
	if err != nil {
		return nil, unavailable(err, "list held reports")
	}
	return s.ReportMetas(ctx, ids)
}

// ReleaseHeld implements gateway.HeldReports.
func (s *Store) ReleaseHeld(ctx context.Context, id string, version int, deliveries []*gateway.Delivery) (bool, error) {
	args, err := deliveryArgs([]any{s.keys.tag, id, version}, deliveries)
	if err != nil {
		return false, err
	}
	n, err := releaseHeld.Run(ctx, s.rdb, []string{s.keys.report(id)}, args...).Int()
	if err != nil {
		return false, unavailable(err, "release held report")
	}
	return n == 1, nil
}
