package boltstore_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/gateway/boltstore"
	"github.com/nhs-genomics/results-gateway/gateway/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) gateway.Store { return open(t, t.TempDir()) })
}

// open opens the store in dir, closed when the test ends (closing it
// sooner, to open it again, is allowed).
func open(t testing.TB, dir string) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestReopenKeepsReports(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	rec := storetest.Record("R-9", 1, "699X0")
	if _, _, err := s.SaveReport(t.Context(), rec, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	got, err := open(t, dir).Report(t.Context(), "R-9")
	if err != nil || string(got.PDF) != string(rec.PDF) {
		t.Fatalf("after reopen: %v %v", got, err)
	}
}

// A store written before the delivery counts were kept has them built when
// it is opened, from the deliveries it holds.
func TestOpenBuildsCountsOfAnOlderStore(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	storetest.Enqueue(t, s, "C-1", 1, "epr", "files")
	storetest.Enqueue(t, s, "C-2", 1, "epr")
	d, err := s.Lease(t.Context(), "epr", time.Now(), time.Minute)
	if err != nil || d == nil {
		t.Fatalf("lease: %v %v", d, err)
	}
	want, _ := s.Counts(t.Context())
	s.Close()

	db, err := bolt.Open(filepath.Join(dir, "gateway.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("delivery_counts")) }); err != nil {
		t.Fatal(err)
	}
	db.Close()

	got, err := open(t, dir).Counts(t.Context())
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) || got["epr"][gateway.DeliveryInFlight] != 1 || got["epr"][gateway.DeliveryPending] != 1 || got["files"][gateway.DeliveryPending] != 1 {
		t.Fatalf("counts after reopening = %v, %v; before = %v", got, err, want)
	}
}

// BenchmarkCounts: reading the delivery counts of a store holding ten times
// as many deliveries as another (10,000 against 1,000 over 10 destinations),
// as a ratio of the two times (goal: about 1; it was 5.5 while Counts read
// the state index of every delivery). The console, the status and
// metrics endpoints and the monitor all read them, every few seconds.
func BenchmarkCounts(b *testing.B) {
	dests := []string{"d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9"}
	filled := func(reports int) *boltstore.Store {
		s := open(b, b.TempDir())
		for i := range reports {
			storetest.Enqueue(b, s, fmt.Sprintf("B-%d", i), 1, dests...)
		}
		return s
	}
	timeCounts := func(s *boltstore.Store, reports int) time.Duration {
		start := time.Now()
		for range b.N {
			if c, err := s.Counts(b.Context()); err != nil || c["d9"][gateway.DeliveryPending] != reports {
				b.Fatalf("counts = %v, %v", c["d9"], err)
			}
		}
		return time.Since(start)
	}
	small, large := filled(100), filled(1000)
	smallTime := timeCounts(small, 100)
	b.ResetTimer() // ns/op: the larger store's
	largeTime := timeCounts(large, 1000)
	b.ReportMetric(float64(largeTime)/float64(smallTime), "10x-deliveries/1x")
}

func BenchmarkQueue(b *testing.B) {
	storetest.BenchmarkQueue(b, open(b, b.TempDir()))
}
