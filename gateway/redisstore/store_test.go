package redisstore_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/gateway/redisstore"
	"github.com/nhs-genomics/results-gateway/gateway/storetest"
)

var seq atomic.Int64

// RedisURL is the test Redis: a real server, 127.0.0.1:6379 unless
// GATEWAY_TEST_REDIS_URL says otherwise (.ci/ensure-deps starts it).
func RedisURL() string {
	if u := os.Getenv("GATEWAY_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// newStore gives each test its own key prefix instead of flushing the database.
func newStore(t *testing.T) gateway.Store {
	opts, err := redis.ParseURL(RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis is needed at %s (make test starts it): %v", RedisURL(), err)
	}
	prefix := fmt.Sprintf("test-%d-%d", time.Now().UnixNano(), seq.Add(1))
	t.Cleanup(func() {
		keys, _ := rdb.Keys(context.Background(), "{"+prefix+"}:*").Result()
		if len(keys) > 0 {
			rdb.Del(context.Background(), keys...)
		}
		rdb.Close()
	})
	return redisstore.New(rdb, prefix)
}

func TestConformance(t *testing.T) {
	storetest.Run(t, newStore)
}

func BenchmarkQueue(b *testing.B) {
	opts, err := redis.ParseURL(RedisURL())
	if err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	prefix := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	defer func() {
		keys, _ := rdb.Keys(context.Background(), "{"+prefix+"}:*").Result()
		for len(keys) > 0 {
			n := min(len(keys), 1000)
			rdb.Del(context.Background(), keys[:n]...)
			keys = keys[n:]
		}
		rdb.Close()
	}()
	storetest.BenchmarkQueue(b, redisstore.New(rdb, prefix))
}
