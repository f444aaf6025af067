// Package storetest is one conformance suite for gateway.Reports, run
// against every implementation so they keep the same semantics.
package storetest

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// Run exercises a store. newStore returns a fresh, empty store for each subtest.
func Run(t *testing.T, newStore func(t *testing.T) gateway.Store) {
	newStore = countsChecked(newStore)
	t.Run("SaveAndRead", func(t *testing.T) { testSaveAndRead(t, newStore(t)) })
	t.Run("ResendIsIdempotent", func(t *testing.T) { testResend(t, newStore(t)) })
	t.Run("Conflicts", func(t *testing.T) { testConflicts(t, newStore(t)) })
	t.Run("Versions", func(t *testing.T) { testVersions(t, newStore(t)) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, newStore(t)) })
	t.Run("ConcurrentSaves", func(t *testing.T) { testConcurrent(t, newStore(t)) })
	t.Run("AuditStoredWithTheWrite", func(t *testing.T) { testAuditWithWrite(t, newStore(t)) })
	t.Run("InboundMessages", func(t *testing.T) { testMessages(t, newStore(t)) })
	t.Run("MessageStoredWithTheWrite", func(t *testing.T) { testMessageWithWrite(t, newStore(t)) })
	runQueue(t, newStore)
	runIndex(t, newStore)
	runHeld(t, newStore)
	runActivity(t, newStore)
	runPrune(t, newStore)
}

// countsChecked makes every subtest end by checking that Counts agrees with
// the deliveries themselves, whatever transitions the subtest made: a store
// that keeps its counts as it goes (both do) must move them on every path.
func countsChecked(newStore func(t *testing.T) gateway.Store) func(t *testing.T) gateway.Store {
	return func(t *testing.T) gateway.Store {
		s := newStore(t)
		t.Cleanup(func() { // before the store's own clean-up closes it
			if !t.Failed() {
				countsAgree(t, s)
			}
		})
		return s
	}
}

// countsAgree lists every delivery and compares the tally with Counts.
func countsAgree(t *testing.T, s gateway.Store) {
	ctx := context.Background()
	want := map[string]map[gateway.DeliveryState]int{}
	var after gateway.DeliveryCursor
	for {
		page, err := s.Deliveries(ctx, gateway.DeliveryFilter{Limit: 100, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page {
			if want[d.Destination] == nil {
				want[d.Destination] = map[gateway.DeliveryState]int{}
			}
			want[d.Destination][d.State]++
			after = gateway.CursorOf(d)
		}
		if len(page) < 100 {
			break
		}
	}
	got, err := s.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Counts = %v, but the deliveries listed are %v", got, want)
	}
}

// Record returns a record with recognisable blobs.
func Record(id string, version int, lab string) *gateway.ReportRecord {
	return &gateway.ReportRecord{
		ID: id, Version: version, Status: gateway.StatusFinal, Outcome: "positive",
		LabODS: lab, TrustODS: "R0A", Source: "json", Digest: fmt.Sprintf("digest-%s-%d", id, version),
		ReceivedAt: time.Date(2026, 11, 2, 14, 30, 0, 0, time.UTC),
		Report:     []byte(`{"id":"` + id + `"}`),
		Bundle:     []byte(fmt.Sprintf(`{"resourceType":"Bundle","v":%d}`, version)),
		PDF:        []byte(fmt.Sprintf("%%PDF-1.4 %s v%d", id, version)),
	}
}

func save(t *testing.T, s gateway.Reports, rec *gateway.ReportRecord) (*gateway.ReportRecord, bool) {
	t.Helper()
	got, created, err := s.SaveReport(context.Background(), rec, nil)
	if err != nil {
		t.Fatalf("SaveReport(%s v%d): %v", rec.ID, rec.Version, err)
	}
	return got, created
}

func same(t *testing.T, got, want *gateway.ReportRecord) {
	t.Helper()
	if got.ID != want.ID || got.Version != want.Version || got.Digest != want.Digest || got.LabODS != want.LabODS ||
		got.TrustODS != want.TrustODS || got.Status != want.Status || !got.ReceivedAt.Equal(want.ReceivedAt) ||
		!bytes.Equal(got.Report, want.Report) || !bytes.Equal(got.Bundle, want.Bundle) || !bytes.Equal(got.PDF, want.PDF) {
		t.Fatalf("stored record differs:\n got %+v\nwant %+v", got, want)
	}
}

func testSaveAndRead(t *testing.T, s gateway.Reports) {
	rec := Record("R-1", 1, "699X0")
	if _, created := save(t, s, rec); !created {
		t.Fatal("first save must create")
	}
	got, err := s.Report(context.Background(), "R-1")
	if err != nil {
		t.Fatal(err)
	}
	same(t, got, rec)
}

func testResend(t *testing.T, s gateway.Reports) {
	rec := Record("R-2", 1, "699X0")
	save(t, s, rec)
	again := Record("R-2", 1, "699X0")
	again.ReceivedAt = rec.ReceivedAt.Add(time.Hour)
	got, created := save(t, s, again)
	if created {
		t.Fatal("a resend with the same digest must not create a new version")
	}
	same(t, got, rec) // the first receipt stands
}

func testConflicts(t *testing.T, s gateway.Reports) {
	ctx := context.Background()
	save(t, s, Record("R-3", 2, "699X0"))
	changed := Record("R-3", 2, "699X0")
	changed.Digest = "other"
	for name, c := range map[string]struct {
		rec  *gateway.ReportRecord
		want string // the conflict's location (gateway.Error's problem path)
	}{
		"same version, different content":  {changed, "version"},
		"older version":                    {Record("R-3", 1, "699X0"), "version"},
		"another lab's id":                 {Record("R-3", 3, "7A1X0"), "id"},
		"another lab's id, at its version": {Record("R-3", 2, "7A1X0"), "id"}, // not "send a higher version"
	} {
		_, _, err := s.SaveReport(ctx, c.rec, nil)
		var e *gateway.Error
		if gateway.ErrorCode(err) != gateway.ECONFLICT || !errors.As(err, &e) || len(e.Problems) == 0 || e.Problems[0].Path != c.want {
			t.Errorf("%s: err = %v, want %s at %s", name, err, gateway.ECONFLICT, c.want)
		}
	}
	got, err := s.Report(ctx, "R-3")
	if err != nil || got.Version != 2 || got.Digest != "digest-R-3-2" {
		t.Fatalf("a rejected save changed the stored report: %+v %v", got, err)
	}
}

func testVersions(t *testing.T, s gateway.Reports) {
	ctx := context.Background()
	v1, v2 := Record("R-4", 1, "699X0"), Record("R-4", 2, "699X0")
	v2.Status = gateway.StatusAmended
	save(t, s, v1)
	save(t, s, v2)
	save(t, s, Record("R-40", 1, "699X0")) // an id that shares a prefix must not leak in
	latest, err := s.Report(ctx, "R-4")
	if err != nil {
		t.Fatal(err)
	}
	same(t, latest, v2)
	old, err := s.ReportVersion(ctx, "R-4", 1)
	if err != nil {
		t.Fatal(err)
	}
	same(t, old, v1)
	light, err := s.ReportBundle(ctx, "R-4", 1)
	if err != nil || string(light.Bundle) != string(v1.Bundle) || light.PDF != nil || light.Digest != v1.Digest {
		t.Fatalf("ReportBundle = %+v, %v", light, err)
	}
	if _, err := s.ReportBundle(ctx, "R-4", 9); gateway.ErrorCode(err) != gateway.ENOTFOUND {
		t.Fatalf("ReportBundle of a missing version: %v", err)
	}
	versions, err := s.ReportVersions(ctx, "R-4")
	if err != nil || fmt.Sprint(versions) != "[1 2]" {
		t.Fatalf("ReportVersions = %v, %v; want [1 2]", versions, err)
	}
}

func testNotFound(t *testing.T, s gateway.Reports) {
	ctx := context.Background()
	if _, err := s.Report(ctx, "nope"); gateway.ErrorCode(err) != gateway.ENOTFOUND {
		t.Fatalf("Report(missing) err = %v", err)
	}
	save(t, s, Record("R-5", 1, "699X0"))
	if _, err := s.ReportVersion(ctx, "R-5", 2); gateway.ErrorCode(err) != gateway.ENOTFOUND {
		t.Fatalf("ReportVersion(missing) err = %v", err)
	}
	if v, err := s.ReportVersions(ctx, "nope"); err != nil || len(v) != 0 {
		t.Fatalf("ReportVersions(missing) = %v, %v", v, err)
	}
}

// testConcurrent saves many reports at once, with resends racing their originals.
func testConcurrent(t *testing.T, s gateway.Reports) {
	const n = 50
	var wg sync.WaitGroup
	created := make([]int, n)
	var mu sync.Mutex
	for i := 0; i < n; i++ {
		for copyNo := 0; copyNo < 2; copyNo++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, c, err := s.SaveReport(context.Background(), Record(fmt.Sprintf("C-%d", i), 1, "699X0"), nil)
				if err != nil {
					t.Error(err)
					return
				}
				if c {
					mu.Lock()
					created[i]++
					mu.Unlock()
				}
			}(i)
		}
	}
	wg.Wait()
	for i, c := range created {
		if c != 1 {
			t.Fatalf("report C-%d was created %d times, want exactly once", i, c)
		}
		if _, err := s.Report(context.Background(), fmt.Sprintf("C-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
}

// testAuditWithWrite: a new version's audit entry is stored with it, in
// the same step; a resend stores neither again.
func testAuditWithWrite(t *testing.T, s gateway.Store) {
	ctx := context.Background()
	rec := Record("AUD-1", 1, "699X0")
	rec.Audit = &gateway.AuditEntry{At: rec.ReceivedAt, Subject: "lab", Role: gateway.RoleLab, ODSCode: "699X0",
		Action: "create", What: "report AUD-1", Reports: []string{"AUD-1"}, Outcome: "success"}
	save(t, s, rec)
	resend := Record("AUD-1", 1, "699X0")
	resend.Audit = rec.Audit
	if _, created := save(t, s, resend); created {
		t.Fatal("a resend was stored again")
	}
	entries, err := s.AuditFor(ctx, "AUD-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Action != "create" || entries[0].Subject != "lab" {
		t.Fatalf("audit entries %+v, want the one create stored with the report", entries)
	}
}

// testMessageWithWrite: the message that brings a new version is logged
// in the same step, raw content (its PDF left to the version) and arrival
// count included; a resend, or a version refused, logs nothing.
func testMessageWithWrite(t *testing.T, s gateway.Store) {
	ctx := context.Background()
	rec := Record("MSGW-1", 1, "699X0")
	rec.PDF = append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte{0xfe, 0x01, 0x7f}, 5000)...)
	head := `{"id":"MSGW-1","pdf":{"contentType":"application/pdf","data":`
	raw := []byte(head + `"` + base64.StdEncoding.EncodeToString(rec.PDF) + `"}}`)
	message := func(rec *gateway.ReportRecord, at time.Time) *gateway.InboundMessage {
		return &gateway.InboundMessage{ID: gateway.NewMessageID(at), ReceivedAt: at, Source: "json", Sender: "lab", Outcome: "accepted",
			ReportID: rec.ID, Raw: raw, PDFOf: &gateway.VersionRef{ReportID: rec.ID, Version: rec.Version}, PDF: rec.PDF, PDFAt: len(head)}
	}
	rec.Message = message(rec, rec.ReceivedAt)
	save(t, s, rec)
	resend := Record("MSGW-1", 1, "699X0")
	resend.PDF, resend.Message = rec.PDF, message(resend, rec.ReceivedAt.Add(time.Second))
	if _, created := save(t, s, resend); created {
		t.Fatal("a resend was stored again")
	}
	other := Record("MSGW-1", 1, "699X0")
	other.Digest, other.Message = "other content", message(other, rec.ReceivedAt.Add(2*time.Second))
	if _, _, err := s.SaveReport(ctx, other, nil); gateway.ErrorCode(err) != gateway.ECONFLICT {
		t.Fatalf("other content under a stored version: %v, want a conflict", err)
	}
	all, err := s.Messages(ctx, gateway.MessageFilter{})
	if err != nil || len(all) != 1 || all[0].ID != rec.Message.ID || all[0].ReportID != "MSGW-1" || all[0].Outcome != "accepted" {
		t.Fatalf("messages %+v %v, want only the one stored with the report", all, err)
	}
	got, err := s.Message(ctx, rec.Message.ID)
	if err != nil || !bytes.Equal(got.Raw, raw) {
		t.Fatalf("the message as received: %v (%d bytes, want %d)", err, len(got.Raw), len(raw))
	}
	hours, err := s.Activity(ctx, rec.ReceivedAt.Add(-time.Hour), rec.ReceivedAt.Add(time.Hour))
	if err != nil || len(hours) != 1 || hours[0].Counts[gateway.ReceivedCounter("json", "accepted")] != 1 {
		t.Fatalf("arrivals counted: %+v %v, want one json accepted", hours, err)
	}
}

// testMessages: inbound messages come back newest first, filtered, and one
// with its raw content exactly as received.
func testMessages(t *testing.T, s gateway.Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 2, 14, 30, 0, 0, time.UTC)
	var ids []string
	for i, outcome := range []string{"accepted", "refused", "accepted"} {
		at := t0.Add(time.Duration(i) * time.Second)
		m := &gateway.InboundMessage{ID: gateway.NewMessageID(at), ReceivedAt: at, Source: "hl7v2-mllp", Sender: "LIMS/699X0",
			ControlID: fmt.Sprintf("CTRL-%d", i), Outcome: outcome, Reasons: []string{"reason " + outcome},
			Raw: []byte(fmt.Sprintf("MSH|^~\\&|LIMS|699X0|||||ORU^R01|CTRL-%d|P|2.5.1\r", i))}
		if err := s.RecordMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	all, err := s.Messages(ctx, gateway.MessageFilter{})
	if err != nil || len(all) != 3 || all[0].ControlID != "CTRL-2" || all[2].ControlID != "CTRL-0" || len(all[0].Raw) != 0 {
		t.Fatalf("newest first, without raw content: %+v %v", all, err)
	}
	refused, err := s.Messages(ctx, gateway.MessageFilter{Outcome: "refused"})
	if err != nil || len(refused) != 1 || refused[0].ControlID != "CTRL-1" || refused[0].Reasons[0] != "reason refused" {
		t.Fatalf("refused: %+v %v", refused, err)
	}
	for _, c := range []struct {
		f    gateway.MessageFilter
		want string
	}{
		{gateway.MessageFilter{Limit: 2}, "CTRL-2 CTRL-1"},
		{gateway.MessageFilter{Limit: 2, Before: ids[1]}, "CTRL-0"}, // the next page
		{gateway.MessageFilter{From: t0.Add(time.Second)}, "CTRL-2 CTRL-1"},
		{gateway.MessageFilter{To: t0.Add(time.Second)}, "CTRL-0"},
		{gateway.MessageFilter{From: t0.Add(time.Second), To: t0.Add(2 * time.Second), Outcome: "refused"}, "CTRL-1"},
	} {
		list, err := s.Messages(ctx, c.f)
		var got []string
		for _, m := range list {
			got = append(got, m.ControlID)
		}
		if err != nil || strings.Join(got, " ") != c.want {
			t.Errorf("%+v: %v %v, want %s", c.f, got, err, c.want)
		}
	}
	one, err := s.Message(ctx, ids[1])
	if err != nil || string(one.Raw) != "MSH|^~\\&|LIMS|699X0|||||ORU^R01|CTRL-1|P|2.5.1\r" {
		t.Fatalf("one message with its raw content: %+v %v", one, err)
	}
	if _, err := s.Message(ctx, "no-such"); gateway.ErrorCode(err) != gateway.ENOTFOUND {
		t.Fatalf("a missing message: %v", err)
	}
}
