package redisstore

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// Activity implements gateway.ActivityLog: one HGETALL per hour, pipelined.
func (s *Store) Activity(ctx context.Context, from, to time.Time) ([]gateway.ActivityHour, error) {
	var hours []time.Time
	for h := gateway.HourOf(from); !h.After(to); h = h.Add(time.Hour) {
		hours = append(hours, h)
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(hours))
	for i, h := range hours {
		cmds[i] = pipe.HGetAll(ctx, s.keys.activity(h.UnixMilli()))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, unavailable(err, "read activity")
	}
	var out []gateway.ActivityHour
	for i, c := range cmds {
		if len(c.Val()) == 0 {
			continue
		}
		counts := map[string]int{}
		for k, v := range c.Val() {
			counts[k], _ = strconv.Atoi(v)
		}
		out = append(out, gateway.ActivityHour{Hour: hours[i], Counts: counts})
	}
	return out, nil
}
