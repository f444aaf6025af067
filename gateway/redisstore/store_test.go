package redisstore_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/gateway/redisstore"
	"github.com/nhs-genomics/results-gateway/gateway/storetest"
	"github.com/nhs-genomics/results-gateway/internal/testredis"
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
	s, _, _ := newStoreWithClient(t)
	return s
}

// newStoreWithClient is newStore with its client and key prefix, for tests
// that reach past the store.
func newStoreWithClient(t *testing.T) (*redisstore.Store, *redis.Client, string) {
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
	return redisstore.New(rdb, prefix, []byte("test-index-key-0123456789")), rdb, prefix
}

// TestCompleteAndLeaseReportsARecordedOutcome: once the outcome is
// written, a failure leasing the next delivery (here a delivery whose
// description cannot be read) leases nothing and is not an error, since
// the worker would take the recorded outcome for a lost one.
func TestCompleteAndLeaseReportsARecordedOutcome(t *testing.T) {
	s, rdb, prefix := newStoreWithClient(t)
	ctx := context.Background()
	at := time.Date(2027, 1, 1, 9, 0, 0, 0, time.UTC) // after every Enqueue'd delivery falls due
	storetest.Enqueue(t, s, "CLR-1", 1, "epr")
	broken := storetest.Enqueue(t, s, "CLR-2", 1, "epr")[0]
	first, err := s.Lease(ctx, "epr", at, time.Minute)
	if err != nil || first == nil || first.ReportID != "CLR-1" {
		t.Fatalf("lease: %+v %v", first, err)
	}
	if err := rdb.HSet(ctx, "{"+prefix+"}:d:"+broken.ID, "json", "not json").Err(); err != nil {
		t.Fatal(err)
	}
	out := gateway.Outcome{State: gateway.DeliveryDelivered, Attempt: gateway.Attempt{At: at, Outcome: "delivered", ReceiverRef: "ok"}}
	next, err := s.CompleteAndLease(ctx, first.ID, first.Lease, out, "epr", at, time.Minute)
	if err != nil || next != nil {
		t.Fatalf("complete and lease past a broken delivery = %+v, %v; want nothing leased and no error", next, err)
	}
	got, err := s.Delivery(ctx, first.ID)
	if err != nil || got.State != gateway.DeliveryDelivered || len(got.Attempts) != 1 {
		t.Fatalf("the first: %+v %v", got, err)
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, newStore)
}

// TestConformancePDFKeys: the same, with each version's PDF under its own key.
func TestConformancePDFKeys(t *testing.T) {
	storetest.Run(t, func(t *testing.T) gateway.Store {
		s := newStore(t).(*redisstore.Store)
		s.PDFKeys = true
		return s
	})
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
	storetest.BenchmarkQueue(b, redisstore.New(rdb, prefix, []byte("test-index-key-0123456789")))
}

// TestNoPatientIdentifierInKeyNames: after reports are stored, no key name
// holds the NHS number (anyone with SCAN or MONITOR sees key names), yet
// the patient's reports are still found; an index written under raw NHS
// numbers by an earlier version is renamed when the store opens.
func TestNoPatientIdentifierInKeyNames(t *testing.T) {
	const nhs, key = "9990000018", "test-index-key-0123456789"
	opts, _ := redis.ParseURL(RedisURL())
	rdb := redis.NewClient(opts)
	ctx := t.Context()
	prefix := fmt.Sprintf("test-keys-%d", time.Now().UnixNano())
	keysOf := func() []string { k, _ := rdb.Keys(context.Background(), "{"+prefix+"}:*").Result(); return k }
	t.Cleanup(func() { // after the test: no key left in the shared Redis
		if k := keysOf(); len(k) > 0 {
			rdb.Del(context.Background(), k...)
		}
		rdb.Close()
	})
	s := redisstore.New(rdb, prefix, []byte(key))
	rec := storetest.Record("KEYS-1", 1, "699X0")
	rec.NHSNumber = nhs
	if _, _, err := s.SaveReport(ctx, rec, nil); err != nil {
		t.Fatal(err)
	}
	for _, k := range keysOf() {
		if strings.Contains(k, nhs) {
			t.Fatalf("key %q names the patient", k)
		}
	}
	if ids, err := s.ReportsForPatient(ctx, nhs); err != nil || len(ids) != 1 || ids[0] != "KEYS-1" {
		t.Fatalf("search by NHS number: %v %v", ids, err)
	}

	rdb.SAdd(ctx, "{"+prefix+"}:idx:pat:9990000026", "OLD-1") // as an earlier version wrote it
	migrated, err := redisstore.Open(ctx, RedisURL(), prefix, []byte(key))
	if err != nil {
		t.Fatal(err)
	}
	defer migrated.Close()
	if ids, err := migrated.ReportsForPatient(ctx, "9990000026"); err != nil || len(ids) != 1 || ids[0] != "OLD-1" {
		t.Fatalf("the old index was not migrated: %v %v", ids, err)
	}
	for _, k := range keysOf() {
		if strings.Contains(k, "9990000026") {
			t.Fatalf("key %q still names the patient after the migration", k)
		}
	}
}

// TestReplicasMustShareTheIndexKey: a gateway opening a store whose
// patient index another key named refuses to start, rather than filing
// and finding patients' reports under names of its own; the same key
// opens it again.
func TestReplicasMustShareTheIndexKey(t *testing.T) {
	_, rdb, prefix := newStoreWithClient(t)
	ctx := t.Context()
	first, err := redisstore.Open(ctx, RedisURL(), prefix, []byte("test-index-key-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	if s, err := redisstore.Open(ctx, RedisURL(), prefix, []byte("another-index-key-0123456789")); err == nil || !strings.Contains(err.Error(), "GATEWAY_INDEX_KEY") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("a replica with another index key: %v, want a refusal naming GATEWAY_INDEX_KEY", err)
	}
	again, err := redisstore.Open(ctx, RedisURL(), prefix, []byte("test-index-key-0123456789"))
	if err != nil {
		t.Fatalf("the same key: %v", err)
	}
	again.Close()
	keys, _ := rdb.Keys(ctx, "{"+prefix+"}:*").Result()
	for _, k := range keys {
		if v, _ := rdb.Get(ctx, k).Result(); strings.Contains(v, "test-index-key") {
			t.Fatalf("%s holds the index key itself", k)
		}
	}
}

// TestIndexesBuiltForAnOlderStore: a store written before the waiting and
// per-destination listing indexes existed gets them when it opens, for the
// deliveries still in the states they index.
func TestIndexesBuiltForAnOlderStore(t *testing.T) {
	opts, _ := redis.ParseURL(RedisURL())
	rdb := redis.NewClient(opts)
	ctx := t.Context()
	prefix := fmt.Sprintf("test-migrate-%d", time.Now().UnixNano())
	keysOf := func(pattern string) []string {
		k, _ := rdb.Keys(context.Background(), "{"+prefix+"}:"+pattern).Result()
		return k
	}
	t.Cleanup(func() {
		if k := keysOf("*"); len(k) > 0 {
			rdb.Del(context.Background(), k...)
		}
		rdb.Close()
	})
	s := redisstore.New(rdb, prefix, []byte("test-index-key-0123456789"))
	ds := storetest.Enqueue(t, s, "MIG-1", 1, "epr", "files")
	d, err := s.Lease(ctx, "files", ds[1].NextAttemptAt, time.Minute)
	if err != nil || d == nil {
		t.Fatal(d, err)
	}
	if err := s.Complete(ctx, d.ID, d.Lease, gateway.Outcome{State: gateway.DeliveryDelivered, Attempt: gateway.Attempt{At: d.NextAttemptAt, Outcome: "delivered"}}); err != nil {
		t.Fatal(err)
	}
	// As an earlier version left it: no waiting or per-destination indexes, no markers.
	old := append(keysOf("waiting*"), keysOf("dstate*")...)
	if len(old) == 0 {
		t.Fatal("the indexes were not written in the first place")
	}
	rdb.Del(ctx, old...)
	migrated, err := redisstore.Open(ctx, RedisURL(), prefix, []byte("test-index-key-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	defer migrated.Close()
	oldest, err := migrated.OldestWaiting(ctx, []string{"epr", "files"})
	if err != nil || len(oldest) != 1 || oldest["epr"].IsZero() {
		t.Fatalf("waiting index after opening: %v %v (files' delivery is delivered: not waiting)", oldest, err)
	}
	list, err := migrated.Deliveries(ctx, gateway.DeliveryFilter{Destination: "files", State: gateway.DeliveryDelivered})
	if err != nil || len(list) != 1 {
		t.Fatalf("per-destination listing after opening: %d %v", len(list), err)
	}
}

// With PDFKeys a version's PDF reaches Redis beside the save script, not
// through it: it is kept under its own key when the version is stored, and
// the upload is gone whatever the save's outcome, even after Redis has lost
// its scripts. Without it (the default, while earlier replicas may share
// the Redis) the PDF goes into the version's hash, where they read it; both
// layouts read whole, pruning removes the PDF with its version, and a
// message whose report was pruned says so rather than showing an empty PDF.
func TestVersionPDFKeptBesideTheSaveScript(t *testing.T) {
	ctx := t.Context()
	opts, _ := redis.ParseURL(testredis.Server(t))
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	s := redisstore.New(rdb, "rg", []byte("test-index-key-0123456789"))
	s.PDFKeys = true
	uploads := func() []string { k, _ := rdb.Keys(ctx, "{rg}:up:*").Result(); return k }
	rec := storetest.Record("PDF-1", 1, "699X0")
	if _, created, err := s.SaveReport(ctx, rec, nil); err != nil || !created {
		t.Fatal(created, err)
	}
	if got, _ := rdb.Get(ctx, "{rg}:pdf:PDF-1:1").Bytes(); !bytes.Equal(got, rec.PDF) {
		t.Fatalf("the version's PDF key holds %q", got)
	}
	if ttl, err := rdb.TTL(ctx, "{rg}:pdf:PDF-1:1").Result(); err != nil || ttl > 0 {
		t.Fatalf("the stored PDF expires (the upload's TTL kept): %v %v", ttl, err)
	}
	if n, _ := rdb.HExists(ctx, "{rg}:rv:PDF-1:1", "pdf").Result(); n {
		t.Fatal("the PDF was written into the version's hash too")
	}

	// Every refusal deletes its upload and leaves what is stored alone.
	if _, created, err := s.SaveReport(ctx, storetest.Record("PDF-1", 1, "699X0"), nil); err != nil || created {
		t.Fatal("exact resend:", created, err)
	}
	changed := storetest.Record("PDF-1", 1, "699X0")
	changed.Digest, changed.PDF = "other", []byte("%PDF-1.4 another")
	if _, _, err := s.SaveReport(ctx, changed, nil); gateway.ErrorCode(err) != gateway.ECONFLICT {
		t.Fatal("changed content:", err)
	}
	other := storetest.Record("PDF-1", 2, "699Y0")
	if _, _, err := s.SaveReport(ctx, other, nil); gateway.ErrorCode(err) != gateway.ECONFLICT {
		t.Fatal("another lab's id:", err)
	}
	if k := uploads(); len(k) != 0 {
		t.Fatalf("uploads left: %v", k)
	}
	if n, _ := rdb.Exists(ctx, "{rg}:pdf:PDF-1:2", "{rg}:rv:PDF-1:2").Result(); n != 0 {
		t.Fatal("a refused version left keys")
	}
	if got, err := s.ReportVersion(ctx, "PDF-1", 1); err != nil || !bytes.Equal(got.PDF, rec.PDF) || !bytes.Equal(got.Bundle, rec.Bundle) {
		t.Fatalf("stored version after refusals: %v", err)
	}

	// Redis restarted or flushed its scripts: the save still goes through.
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	second := storetest.Record("PDF-1", 2, "699X0")
	if _, created, err := s.SaveReport(ctx, second, nil); err != nil || !created {
		t.Fatal("after SCRIPT FLUSH:", created, err)
	}
	if k := uploads(); len(k) != 0 {
		t.Fatalf("uploads left after SCRIPT FLUSH: %v", k)
	}

	// Without PDFKeys: the PDF in the version's hash, as earlier releases
	// wrote and read it; read whole by a store with PDFKeys too.
	legacy := redisstore.New(rdb, "rg", []byte("test-index-key-0123456789"))
	third := storetest.Record("PDF-2", 1, "699X0")
	if _, created, err := legacy.SaveReport(ctx, third, nil); err != nil || !created {
		t.Fatal(created, err)
	}
	if got, _ := rdb.HGet(ctx, "{rg}:rv:PDF-2:1", "pdf").Bytes(); !bytes.Equal(got, third.PDF) {
		t.Fatalf("without PDFKeys the hash's pdf holds %q", got)
	}
	if n, _ := rdb.Exists(ctx, "{rg}:pdf:PDF-2:1").Result(); n != 0 {
		t.Fatal("without PDFKeys a PDF key was written")
	}
	for _, reader := range []*redisstore.Store{s, legacy} {
		if got, err := reader.ReportVersion(ctx, "PDF-2", 1); err != nil || !bytes.Equal(got.PDF, third.PDF) {
			t.Fatalf("a version with its PDF in its hash (PDFKeys %v): %v", reader.PDFKeys, err)
		}
		if got, err := reader.ReportBundle(ctx, "PDF-1", 2); err != nil || !bytes.Equal(got.Bundle, second.Bundle) {
			t.Fatalf("ReportBundle (PDFKeys %v): %v", reader.PDFKeys, err)
		}
	}

	// A message that keeps its PDF with its report, which is then pruned.
	b64 := base64.StdEncoding.EncodeToString(rec.PDF)
	raw := []byte(`{"id":"PDF-1","pdf":{"data":"` + b64 + `"}}`)
	msg := &gateway.InboundMessage{ID: "MSG-PDF-1", ReceivedAt: time.Now().UTC(), Source: "json", ReportID: "PDF-1", Outcome: "accepted",
		Raw: raw, PDF: rec.PDF, PDFOf: &gateway.VersionRef{ReportID: "PDF-1", Version: 1}, PDFAt: bytes.Index(raw, []byte(b64))}
	if err := s.RecordMessage(ctx, msg); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Message(ctx, "MSG-PDF-1"); err != nil || !bytes.Equal(got.Raw, raw) {
		t.Fatalf("message before pruning: %v", err)
	}
	if _, err := s.Prune(ctx, map[gateway.RetentionClass]time.Time{gateway.ClassReports: time.Now().Add(time.Hour)}, 10, false); err != nil {
		t.Fatal(err)
	}
	if k, _ := rdb.Keys(ctx, "{rg}:pdf:*").Result(); len(k) != 0 {
		t.Fatalf("PDFs left after pruning their versions: %v", k)
	}
	got, err := s.Message(ctx, "MSG-PDF-1")
	if err != nil || bytes.Contains(got.Raw, []byte(`"data":""`)) || !bytes.Contains(got.Raw, []byte("since been removed")) {
		t.Fatalf("message after its report was pruned: %s %v", got.Raw, err)
	}
}

// An evicting maxmemory policy drops whatever keys it picks (stored
// reports, queued deliveries) without refusing a write: a risk to accepted
// reports like running without the append-only file. noeviction is none.
// The private Redis listens on 23901 (this package's tests may be run where
// only a fixed range of ports is free).
func TestDurabilityFlagsAnEvictingRedis(t *testing.T) {
	ctx := context.Background()
	proc := testredis.Start(t, t.TempDir(), 23901, "--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru")
	t.Cleanup(func() { proc.Kill(); proc.Wait() })
	store, err := redisstore.Open(ctx, "redis://127.0.0.1:23901/0", "eviction", []byte("test-index-key-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	risks, err := store.Durability(ctx)
	if err != nil || len(risks) != 1 || risks[0].Name != "eviction" || !strings.Contains(risks[0].Why, "allkeys-lru") {
		t.Fatalf("allkeys-lru: %+v %v", risks, err)
	}
	admin := redis.NewClient(&redis.Options{Addr: "127.0.0.1:23901"})
	defer admin.Close()
	if err := admin.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if risks, err := store.Durability(ctx); err != nil || len(risks) != 0 {
		t.Fatalf("noeviction: %+v %v", risks, err)
	}
}

// Ping says whether the store takes writes: a Redis over its maxmemory
// with noeviction still answers PING but refuses every save, and readiness
// (GET /readyz) and the store alert rely on Ping to say so.
func TestPingFailsWhileRedisRefusesWrites(t *testing.T) {
	ctx := context.Background()
	proc := testredis.Start(t, t.TempDir(), 23902)
	t.Cleanup(func() { proc.Kill(); proc.Wait() })
	store, err := redisstore.Open(ctx, "redis://127.0.0.1:23902/0", "oom", []byte("test-index-key-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Ping(ctx); err != nil {
		t.Fatalf("a writable Redis: %v", err)
	}
	admin := redis.NewClient(&redis.Options{Addr: "127.0.0.1:23902"})
	defer admin.Close()
	if err := admin.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil { // far below what it uses: every write is refused
		t.Fatal(err)
	}
	if err := admin.Set(ctx, "probe", "x", 0).Err(); err == nil || !strings.Contains(err.Error(), "OOM") {
		t.Fatalf("the test needs a Redis that refuses writes: %v", err)
	}
	if err := store.Ping(ctx); err == nil {
		t.Fatal("Ping is fine while Redis refuses every write")
	}
	admin.ConfigSet(ctx, "maxmemory", "0")
	if err := store.Ping(ctx); err != nil {
		t.Fatalf("writable again: %v", err)
	}
}
