package storetest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
)

func runIndex(t *testing.T, newStore func(t *testing.T) gateway.Store) {
	t.Run("IndexPatientAndResource", func(t *testing.T) { testIndexPatient(t, newStore(t)) })
	t.Run("IndexUpdatedPaging", func(t *testing.T) { testIndexUpdated(t, newStore(t)) })
}

func indexed(id string, version int, trust, nhs string, at time.Time, refs ...string) *gateway.ReportRecord {
	rec := Record(id, version, "699X0")
	rec.TrustODS, rec.NHSNumber, rec.ReceivedAt, rec.Resources = trust, nhs, at, refs
	return rec
}

func testIndexPatient(t *testing.T, s gateway.Store) {
	ctx := context.Background()
	save(t, s, indexed("P-1", 1, "R0A", "9990000018", t0, "Patient/p1", "DiagnosticReport/d1"))
	save(t, s, indexed("P-2", 1, "RBS", "9990000018", t0, "Patient/p1", "DiagnosticReport/d2"))
	save(t, s, indexed("P-3", 1, "R0A", "9990000026", t0, "Patient/p2", "DiagnosticReport/d3"))
	ids, err := s.ReportsForPatient(ctx, "9990000018")
	if err != nil || fmt.Sprint(sorted(ids)) != "[P-1 P-2]" {
		t.Fatalf("ReportsForPatient = %v, %v", ids, err)
	}
	ids, _ = s.ResourceReports(ctx, "Patient/p1")
	if fmt.Sprint(sorted(ids)) != "[P-1 P-2]" {
		t.Fatalf("ResourceReports(Patient/p1) = %v", ids)
	}
	ids, _ = s.ResourceReports(ctx, "DiagnosticReport/d3")
	if fmt.Sprint(ids) != "[P-3]" {
		t.Fatalf("ResourceReports(DiagnosticReport/d3) = %v", ids)
	}
	if ids, more, err := s.ResourceHolders(ctx, "Patient/p1", 2); err != nil || more || fmt.Sprint(sorted(ids)) != "[P-1 P-2]" {
		t.Fatalf("ResourceHolders(Patient/p1, 2) = %v, %v, %v", ids, more, err)
	}
	if ids, more, err := s.ResourceHolders(ctx, "Patient/p1", 1); err != nil || !more || len(ids) != 0 {
		t.Fatalf("ResourceHolders(Patient/p1, 1) = %v, %v, %v: want more and none listed", ids, more, err)
	}
	if ids, more, err := s.ResourceHolders(ctx, "Patient/p", 5); err != nil || more || len(ids) != 0 {
		t.Fatalf("ResourceHolders(Patient/p, a prefix of a ref) = %v, %v, %v", ids, more, err)
	}
	held, err := s.HoldResource(ctx, "Patient/p1", []string{"P-3", "P-2", "missing", "P-1"})
	if err != nil || fmt.Sprint(held) != "[false true false true]" {
		t.Fatalf("HoldResource(Patient/p1) = %v, %v", held, err)
	}
	if held, err := s.HoldResource(ctx, "Patient/p", []string{"P-1"}); err != nil || fmt.Sprint(held) != "[false]" {
		t.Fatalf("HoldResource(Patient/p, a prefix of a ref) = %v, %v", held, err)
	}
	metas, err := s.ReportMetas(ctx, []string{"P-3", "missing", "P-1"})
	if err != nil || len(metas) != 2 || metas[0].ID != "P-3" || metas[0].NHSNumber != "9990000026" || metas[0].Bundle != nil {
		t.Fatalf("ReportMetas = %+v, %v", metas, err)
	}
}

func testIndexUpdated(t *testing.T, s gateway.Store) {
	ctx := context.Background()
	for i := 0; i < 12; i++ {
		trust := "R0A"
		if i%3 == 0 {
			trust = "RBS"
		}
		at := t0.Add(time.Duration(i/2) * time.Minute) // pairs share a time: ties broken by id
		save(t, s, indexed(fmt.Sprintf("U-%02d", i), 1, trust, "9990000018", at))
	}
	// U-01 gets a new version: it moves to the front, once.
	save(t, s, indexed("U-01", 2, "R0A", "9990000018", t0.Add(time.Hour)))
	var pages []string
	var at time.Time
	var id string
	for {
		ids, err := s.ReportsUpdated(ctx, "R0A", at, id, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) == 0 {
			break
		}
		pages = append(pages, strings.Join(ids, ","))
		metas, _ := s.ReportMetas(ctx, ids[len(ids)-1:])
		at, id = metas[0].ReceivedAt, metas[0].ID
	}
	want := "U-01,U-11,U-10|U-08,U-07,U-05|U-04,U-02"
	if got := strings.Join(pages, "|"); got != want {
		t.Fatalf("R0A pages = %s, want %s", got, want)
	}
	all, _ := s.ReportsUpdated(ctx, "", time.Time{}, "", 100)
	if len(all) != 12 || all[0] != "U-01" {
		t.Fatalf("every trust = %v", all)
	}
	// A copy-to recipient the next version drops no longer lists it: left
	// under the old time, it sent walks paging by the latest record's
	// time back to where they had been, for ever.
	copied := indexed("C-1", 1, "R0A", "9990000018", t0.Add(2*time.Hour))
	copied.CopyTo = []string{"RCC", "RDD"}
	save(t, s, copied)
	amended := indexed("C-1", 2, "R0A", "9990000018", t0.Add(3*time.Hour))
	amended.CopyTo = []string{"RDD"}
	save(t, s, amended)
	for trust, want := range map[string]string{"RCC": "[]", "RDD": "[C-1]", "R0A": "[C-1 U-01]"} {
		ids, err := s.ReportsUpdated(ctx, trust, time.Time{}, "", 2)
		if err != nil || fmt.Sprint(ids) != want {
			t.Errorf("after C-1 v2 dropped RCC, %s lists %v (%v), want %s", trust, ids, err, want)
		}
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
