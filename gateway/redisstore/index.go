package redisstore

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// ReportsForPatient implements gateway.ReportIndex.
func (s *Store) ReportsForPatient(ctx context.Context, nhs string) ([]string, error) {
	ids, err := s.rdb.SMembers(ctx, s.keys.patient(nhs)).Result()
	return ids, unavailable(err, "search")
}

// ResourceReports implements gateway.ReportIndex.
func (s *Store) ResourceReports(ctx context.Context, ref string) ([]string, error) {
	ids, err := s.rdb.SMembers(ctx, s.keys.resource(ref)).Result()
	return ids, unavailable(err, "read")
}

// ResourceHolders implements gateway.ReportIndex: the set's size first,
// so a lab's Organization, held by every report, is not read whole.
func (s *Store) ResourceHolders(ctx context.Context, ref string, limit int) ([]string, bool, error) {
	n, err := s.rdb.SCard(ctx, s.keys.resource(ref)).Result()
	if err != nil {
		return nil, false, unavailable(err, "read")
	}
	if n > int64(limit) {
		return nil, true, nil
	}
	ids, err := s.ResourceReports(ctx, ref)
	return ids, false, err
}

// HoldResource implements gateway.ReportIndex with one SMISMEMBER.
func (s *Store) HoldResource(ctx context.Context, ref string, ids []string) ([]bool, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	members := make([]any, len(ids))
	for i, id := range ids {
		members[i] = id
	}
	held, err := s.rdb.SMIsMember(ctx, s.keys.resource(ref), members...).Result()
	return held, unavailable(err, "read")
}

// ReportsUpdated implements gateway.ReportIndex with a score range on the
// trust's last-updated sorted set; ties on the cursor's millisecond are
// broken by id, as the embedded store does.
func (s *Store) ReportsUpdated(ctx context.Context, trust string, before time.Time, beforeID string, limit int) ([]string, error) {
	if trust == "" {
		trust = "*"
	}
	max := "+inf"
	if !before.IsZero() {
		max = strconv.FormatInt(before.UnixMilli(), 10)
	}
	var out []string
	for offset := int64(0); len(out) < limit; {
		batch, err := s.rdb.ZRevRangeByScoreWithScores(ctx, s.keys.updated(trust), &redis.ZRangeBy{
			Max: max, Min: "-inf", Offset: offset, Count: int64(limit + 16)}).Result()
		if err != nil {
			return nil, unavailable(err, "search")
		}
		for _, z := range batch {
			id := z.Member.(string)
			if !before.IsZero() && int64(z.Score) == before.UnixMilli() && id >= beforeID {
				continue // at or before the cursor
			}
			if len(out) < limit {
				out = append(out, id)
			}
		}
		if len(batch) < limit+16 {
			break
		}
		offset += int64(len(batch))
	}
	return out, nil
}

// ReportMetas implements gateway.ReportIndex with one pipeline.
func (s *Store) ReportMetas(ctx context.Context, ids []string) ([]*gateway.ReportRecord, error) {
	pipe := s.rdb.Pipeline()
	latest := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		latest[i] = pipe.HGet(ctx, s.keys.report(id), "latest")
	}
	pipe.Exec(ctx)
	pipe = s.rdb.Pipeline()
	metas := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		if v, err := latest[i].Int(); err == nil {
			metas[i] = pipe.HGet(ctx, s.keys.reportVersion(id, v), "meta")
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, unavailable(err, "read reports")
	}
	out := make([]*gateway.ReportRecord, 0, len(ids))
	for _, m := range metas {
		if m == nil || m.Err() != nil {
			continue
		}
		var rec gateway.ReportRecord
		if err := json.Unmarshal([]byte(m.Val()), &rec); err == nil {
			out = append(out, &rec)
		}
	}
	return out, nil
}
