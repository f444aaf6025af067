package redisstore

import (
	"context"
	"encoding/json"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// Audit implements gateway.AuditLog: one list per report, {p}:audit:<id>
// ("" for accesses that touched no report).
func (s *Store) Audit(ctx context.Context, e gateway.AuditEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	reports := e.Reports
	if len(reports) == 0 {
		reports = []string{""}
	}
	pipe := s.rdb.TxPipeline()
	for _, id := range reports {
		pipe.RPush(ctx, s.keys.audit(id), b)
	}
	_, err = pipe.Exec(ctx)
	return unavailable(err, "audit")
}

// AuditFor implements gateway.AuditLog.
func (s *Store) AuditFor(ctx context.Context, reportID string) ([]gateway.AuditEntry, error) {
	raw, err := s.rdb.LRange(ctx, s.keys.audit(reportID), 0, -1).Result()
	if err != nil {
		return nil, unavailable(err, "audit")
	}
	out := make([]gateway.AuditEntry, 0, len(raw))
	for _, r := range raw {
		var e gateway.AuditEntry
		if json.Unmarshal([]byte(r), &e) == nil {
			out = append(out, e)
		}
	}
	return out, nil
}
