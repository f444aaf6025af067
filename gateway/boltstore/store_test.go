package boltstore_test

import (
	"testing"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/gateway/boltstore"
	"github.com/nhs-genomics/results-gateway/gateway/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) gateway.Store {
		s, err := boltstore.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestReopenKeepsReports(t *testing.T) {
	dir := t.TempDir()
	s, err := boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	rec := storetest.Record("R-9", 1, "699X0")
	if _, _, err := s.SaveReport(t.Context(), rec, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Report(t.Context(), "R-9")
	if err != nil || string(got.PDF) != string(rec.PDF) {
		t.Fatalf("after reopen: %v %v", got, err)
	}
}

func BenchmarkQueue(b *testing.B) {
	s, err := boltstore.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchmarkQueue(b, s)
}
