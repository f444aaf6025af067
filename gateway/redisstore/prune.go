package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// Retention keys:
//
//	{p}:prune-lock          string  held by the replica pruning now (replicas take turns)
//	{p}:prune-mark:<state>  string  ms: delivered payloads pruned up to here
//	{p}:audit-orphans       zset    report id -> newest entry ms: trails kept after their report
func (k keys) pruneLock() string             { return k.tag + ":prune-lock" }
func (k keys) pruneMark(state string) string { return k.tag + ":prune-mark:" + state }
func (k keys) auditOrphans() string          { return k.tag + ":audit-orphans" }

// pruneLockTTL bounds how long a replica that died while pruning blocks the others.
const pruneLockTTL = 2 * time.Minute

var unlock = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

// Prune implements gateway.Pruner. One replica prunes at a time: another
// that finds the lock taken prunes nothing this time.
func (s *Store) Prune(ctx context.Context, before map[gateway.RetentionClass]time.Time, limit int, dryRun bool) (map[gateway.RetentionClass]int, error) {
	out := map[gateway.RetentionClass]int{}
	if !dryRun {
		b := make([]byte, 12)
		rand.Read(b)
		token := hex.EncodeToString(b)
		ok, err := s.rdb.SetNX(ctx, s.keys.pruneLock(), token, pruneLockTTL).Result()
		if err != nil {
			return out, unavailable(err, "prune")
		}
		if !ok {
			return out, gateway.Errorf(gateway.ECONFLICT, "another gateway is pruning this store now: try again shortly")
		}
		defer unlock.Run(context.WithoutCancel(ctx), s.rdb, []string{s.keys.pruneLock()}, token)
	}
	if t, ok := before[gateway.ClassMessages]; ok {
		if err := s.pruneMessages(ctx, t, limit, dryRun, out); err != nil {
			return out, err
		}
	}
	if t, ok := before[gateway.ClassPayloads]; ok {
		if err := s.prunePayloads(ctx, t, limit, dryRun, out); err != nil {
			return out, err
		}
	}
	audit, auditClass := before[gateway.ClassAudit]
	if t, ok := before[gateway.ClassReports]; ok {
		if err := s.pruneReports(ctx, t, audit, auditClass, limit, dryRun, out); err != nil {
			return out, err
		}
	}
	if auditClass {
		if err := s.pruneAudit(ctx, audit, limit, dryRun, out); err != nil {
			return out, err
		}
	}
	return out, nil
}

func below(t time.Time) string { return "(" + strconv.FormatInt(t.UnixMilli(), 10) }

func (s *Store) pruneMessages(ctx context.Context, before time.Time, limit int, dry bool, out map[gateway.RetentionClass]int) error {
	ids, err := s.rdb.ZRangeByScore(ctx, s.keys.messages(), &redis.ZRangeBy{Min: "-inf", Max: below(before), Count: int64(limit)}).Result()
	if err != nil || len(ids) == 0 {
		return unavailable(err, "prune messages")
	}
	if !dry {
		pipe := s.rdb.TxPipeline()
		for _, id := range ids {
			pipe.Del(ctx, s.keys.message(id))
			pipe.ZRem(ctx, s.keys.messages(), id)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return unavailable(err, "prune messages")
		}
	}
	out[gateway.ClassMessages] += len(ids)
	return nil
}

// prunePayloads empties the payloads of deliveries that are over, walking
// each terminal state's zset from where the last pass stopped. Entries
// with no bytes of their own (references to the report's Bundle or PDF,
// or emptied already) do not count against the limit, up to a scan bound,
// so a pass moves on even when many deliveries share one millisecond.
func (s *Store) prunePayloads(ctx context.Context, before time.Time, limit int, dry bool, out map[gateway.RetentionClass]int) error {
	for _, st := range []string{string(gateway.DeliveryDelivered), string(gateway.DeliverySuperseded)} {
		from, err := s.rdb.Get(ctx, s.keys.pruneMark(st)).Result()
		if err == redis.Nil {
			from, err = "-inf", nil
		}
		if err != nil {
			return unavailable(err, "prune payloads")
		}
		var ids []string
		mark, done := from, true
		for offset, scanned := int64(0), 0; ; {
			page, err := s.rdb.ZRangeByScoreWithScores(ctx, s.keys.state(st), &redis.ZRangeBy{Min: from, Max: below(before), Offset: offset, Count: 500}).Result()
			if err != nil {
				return unavailable(err, "prune payloads")
			}
			pipe := s.rdb.Pipeline()
			lens := make([]*redis.IntCmd, len(page))
			for i, z := range page {
				lens[i] = pipe.HStrLen(ctx, s.keys.delivery(z.Member.(string)), "payload")
			}
			if len(page) > 0 {
				if _, err := pipe.Exec(ctx); err != nil {
					return unavailable(err, "prune payloads")
				}
			}
			for i, z := range page {
				if len(ids) == limit || scanned == limit*20 {
					done = false
					break
				}
				scanned++
				mark = strconv.FormatInt(int64(z.Score), 10)
				if lens[i].Val() > 0 {
					ids = append(ids, z.Member.(string))
				}
			}
			if !done || len(page) < 500 {
				break
			}
			offset += int64(len(page))
		}
		if done {
			mark = strconv.FormatInt(before.UnixMilli(), 10) // everything before the cutoff was visited
		}
		out[gateway.ClassPayloads] += len(ids)
		if dry {
			continue
		}
		write := s.rdb.TxPipeline()
		for _, id := range ids {
			write.HSet(ctx, s.keys.delivery(id), "payload", "")
		}
		write.Set(ctx, s.keys.pruneMark(st), mark, 0)
		if _, err := write.Exec(ctx); err != nil {
			return unavailable(err, "prune payloads")
		}
	}
	return nil
}

// pruneReports removes reports last received before the cutoff whose every
// delivery is over and which are not held, oldest first, each in one
// script that checks again that nothing changed.
func (s *Store) pruneReports(ctx context.Context, before, audit time.Time, auditClass bool, limit int, dry bool, out map[gateway.RetentionClass]int) error {
	const page = 200
	pruned := 0
	for offset := int64(0); pruned < limit; {
		ids, err := s.rdb.ZRangeByScore(ctx, s.keys.updated("*"), &redis.ZRangeBy{Min: "-inf", Max: below(before), Offset: offset, Count: page}).Result()
		if err != nil {
			return unavailable(err, "prune reports")
		}
		if len(ids) == 0 {
			break
		}
		kept := 0
		for _, id := range ids {
			if pruned == limit {
				break
			}
			args, ok, err := s.pruneArgs(ctx, id)
			if err != nil {
				return err
			}
			if ok && !dry {
				res, err := pruneReport.Run(ctx, s.rdb, []string{s.keys.report(id)}, args...).Int()
				if err != nil {
					return unavailable(err, "prune report")
				}
				ok = res == 1 // 0: something changed since it was read; the next pass sees it again
			}
			if !ok {
				kept++
				continue
			}
			pruned++
			if err := s.settleAudit(ctx, id, audit, auditClass, dry, out); err != nil {
				return err
			}
		}
		offset += int64(kept) // what was pruned left the index
		if dry {
			offset += int64(len(ids) - kept)
		}
		if len(ids) < page {
			break
		}
	}
	out[gateway.ClassReports] += pruned
	return nil
}

// pruneArgs reads what removing a report touches, and whether it may go:
// not held, every delivery over.
func (s *Store) pruneArgs(ctx context.Context, id string) (args []any, ok bool, err error) {
	pipe := s.rdb.Pipeline()
	held := pipe.ZScore(ctx, s.keys.held(), id)
	latest := pipe.HGet(ctx, s.keys.report(id), "latest")
	versions := pipe.ZRange(ctx, s.keys.versions(id), 0, -1)
	dids := pipe.SMembers(ctx, s.keys.byReport(id))
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, false, unavailable(err, "prune report")
	}
	if held.Err() == nil {
		return nil, false, nil // unrouted: waits for a destination
	}
	states := s.rdb.Pipeline()
	stateCmds := make([]*redis.StringCmd, len(dids.Val()))
	for i, did := range dids.Val() {
		stateCmds[i] = states.HGet(ctx, s.keys.delivery(did), "state")
	}
	metaCmds := make([]*redis.StringCmd, len(versions.Val()))
	for i, v := range versions.Val() {
		n, _ := strconv.Atoi(v)
		metaCmds[i] = states.HGet(ctx, s.keys.reportVersion(id, n), "meta")
	}
	if _, err := states.Exec(ctx); err != nil && err != redis.Nil {
		return nil, false, unavailable(err, "prune report")
	}
	for _, c := range stateCmds {
		switch gateway.DeliveryState(c.Val()) {
		case gateway.DeliveryDelivered, gateway.DeliverySuperseded, gateway.DeliveryCancelled:
		default:
			return nil, false, nil // pending, in flight, retrying or dead: still needs delivering or a person
		}
	}
	args = []any{s.keys.tag, id, latest.Val(), len(dids.Val())}
	for _, did := range dids.Val() {
		args = append(args, did)
	}
	dels := []string{s.keys.versions(id), s.keys.byReport(id)}
	var zrem, srem []string
	for i, v := range versions.Val() {
		n, _ := strconv.Atoi(v)
		dels = append(dels, s.keys.reportVersion(id, n), s.keys.versionPDF(id, n))
		var meta gateway.ReportRecord
		if json.Unmarshal([]byte(metaCmds[i].Val()), &meta) != nil {
			continue
		}
		zrem = append(zrem, s.keys.updated(meta.TrustODS), s.keys.updated("*"))
		for _, ods := range meta.CopyTo {
			zrem = append(zrem, s.keys.updated(ods))
		}
		if meta.NHSNumber != "" {
			srem = append(srem, s.keys.patient(meta.NHSNumber))
		}
		for _, ref := range meta.Resources {
			srem = append(srem, s.keys.resource(ref))
		}
	}
	for _, list := range [][]string{dels, zrem, srem} {
		args = append(args, len(list))
		for _, k := range list {
			args = append(args, k)
		}
	}
	return args, true, nil
}

// settleAudit removes a pruned report's access records if the newest is
// older than the audit period, or keeps them as an orphan trail.
func (s *Store) settleAudit(ctx context.Context, id string, before time.Time, auditClass, dry bool, out map[gateway.RetentionClass]int) error {
	n, last, err := s.auditTrail(ctx, id)
	if err != nil || n == 0 {
		return err
	}
	if auditClass && last.Before(before) {
		out[gateway.ClassAudit] += n
		if !dry {
			return unavailable(s.rdb.Del(ctx, s.keys.audit(id)).Err(), "prune audit")
		}
		return nil
	}
	if dry {
		return nil
	}
	return unavailable(s.rdb.ZAdd(ctx, s.keys.auditOrphans(), redis.Z{Score: float64(last.UnixMilli()), Member: id}).Err(), "prune audit")
}

// pruneAudit removes orphan trails whose newest entry is older than the
// cutoff, and old entries that touched no report.
func (s *Store) pruneAudit(ctx context.Context, before time.Time, limit int, dry bool, out map[gateway.RetentionClass]int) error {
	zs, err := s.rdb.ZRangeByScoreWithScores(ctx, s.keys.auditOrphans(), &redis.ZRangeBy{Min: "-inf", Max: below(before), Count: int64(limit)}).Result()
	if err != nil {
		return unavailable(err, "prune audit")
	}
	for _, z := range zs {
		id := z.Member.(string)
		n, last, err := s.auditTrail(ctx, id)
		if err != nil {
			return err
		}
		if dry {
			if last.Before(before) {
				out[gateway.ClassAudit] += n
			}
			continue
		}
		pipe := s.rdb.TxPipeline()
		if last.Before(before) {
			pipe.Del(ctx, s.keys.audit(id))
			pipe.ZRem(ctx, s.keys.auditOrphans(), id)
			out[gateway.ClassAudit] += n
		} else { // accessed since: wait for the newest entry's time
			pipe.ZAdd(ctx, s.keys.auditOrphans(), redis.Z{Score: float64(last.UnixMilli()), Member: id})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return unavailable(err, "prune audit")
		}
	}
	// Entries that touched no report (a search that found nothing), oldest first.
	raw, err := s.rdb.LRange(ctx, s.keys.audit(""), 0, int64(limit)-1).Result()
	if err != nil {
		return unavailable(err, "prune audit")
	}
	old := 0
	for _, r := range raw {
		var e gateway.AuditEntry
		if json.Unmarshal([]byte(r), &e) != nil || !e.At.Before(before) {
			break
		}
		old++
	}
	if old > 0 && !dry {
		if err := s.rdb.LTrim(ctx, s.keys.audit(""), int64(old), -1).Err(); err != nil {
			return unavailable(err, "prune audit")
		}
	}
	out[gateway.ClassAudit] += old
	return nil
}

// auditTrail counts a report's access records and finds the newest.
func (s *Store) auditTrail(ctx context.Context, id string) (n int, last time.Time, err error) {
	raw, err := s.rdb.LRange(ctx, s.keys.audit(id), 0, -1).Result()
	if err != nil {
		return 0, last, unavailable(err, "read audit")
	}
	for _, r := range raw {
		var e gateway.AuditEntry
		if json.Unmarshal([]byte(r), &e) == nil && e.At.After(last) {
			last = e.At
		}
	}
	return len(raw), last, nil
}
