package storetest

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
)

func runActivity(t *testing.T, newStore func(t *testing.T) gateway.Store) {
	t.Run("ActivityCountedPerHour", func(t *testing.T) { testActivity(t, newStore(t)) })
	t.Run("OldestWaitingPerDestination", func(t *testing.T) { testOldestWaiting(t, newStore(t)) })
	t.Run("ListingPages", func(t *testing.T) { testListingPages(t, newStore(t)) })
	t.Run("PayloadReferences", func(t *testing.T) { testPayloadReferences(t, newStore(t)) })
	t.Run("CompleteAndLease", func(t *testing.T) { testCompleteAndLease(t, newStore(t)) })
	t.Run("MessageWithStoredPDF", func(t *testing.T) { testMessageWithStoredPDF(t, newStore(t)) })
	t.Run("NextDue", func(t *testing.T) { testNextDue(t, newStore(t)) })
}

func testActivity(t *testing.T, s gateway.Store) {
	ctx := context.Background()
	for i, m := range []struct {
		source, outcome string
		at              time.Duration
	}{{"json", "accepted", 0}, {"json", "accepted", time.Minute}, {"hl7v2-mllp", "refused", 2 * time.Minute}, {"json", "accepted", time.Hour}} {
		at := t0.Add(m.at)
		msg := &gateway.InboundMessage{ID: gateway.NewMessageID(at), ReceivedAt: at, Source: m.source, Outcome: m.outcome, Sender: "lab", ControlID: string(rune('A' + i))}
		if err := s.RecordMessage(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	ds := Enqueue(t, s, "A-1", 1, "epr", "files")
	complete(t, s, lease(t, s, "epr", t0), delivered(t0.Add(time.Minute), "ok"))
	d := lease(t, s, "files", t0)
	complete(t, s, d, gateway.Outcome{State: gateway.DeliveryRetrying, NextAttemptAt: t0.Add(time.Minute), Attempt: gateway.Attempt{At: t0, Outcome: "retry"}})
	d = lease(t, s, "files", t0.Add(time.Minute))
	complete(t, s, d, gateway.Outcome{State: gateway.DeliveryDead, Reason: "no", Attempt: gateway.Attempt{At: t0.Add(90 * time.Minute), Outcome: "permanent"}})
	if d.ID != ds[1].ID {
		t.Fatalf("leased %s", d.ID)
	}

	hours, err := s.Activity(ctx, t0.Add(-time.Hour), t0.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(hours) != 2 || !hours[0].Hour.Equal(t0) || !hours[1].Hour.Equal(t0.Add(time.Hour)) {
		t.Fatalf("hours: %+v", hours)
	}
	first := map[string]int{gateway.ReceivedCounter("json", "accepted"): 2, gateway.ReceivedCounter("hl7v2-mllp", "refused"): 1,
		gateway.FinishedCounter("epr", gateway.DeliveryDelivered): 1}
	second := map[string]int{gateway.ReceivedCounter("json", "accepted"): 1, gateway.FinishedCounter("files", gateway.DeliveryDead): 1}
	for i, want := range []map[string]int{first, second} {
		if len(hours[i].Counts) != len(want) {
			t.Errorf("hour %d: %v, want %v (a retry is not counted)", i, hours[i].Counts, want)
		}
		for k, n := range want {
			if hours[i].Counts[k] != n {
				t.Errorf("hour %d %s = %d, want %d", i, k, hours[i].Counts[k], n)
			}
		}
	}
	if got := gateway.Sum(hours, "received|json|"); got["accepted"] != 3 {
		t.Errorf("Sum: %v", got)
	}
	if later, err := s.Activity(ctx, t0.Add(2*time.Hour), t0.Add(5*time.Hour)); err != nil || len(later) != 0 {
		t.Errorf("a window after the activity: %+v %v", later, err)
	}
}

func testOldestWaiting(t *testing.T, s gateway.Store) {
	ctx := context.Background()
	oldest := func() map[string]time.Time {
		t.Helper()
		got, err := s.OldestWaiting(ctx, []string{"epr", "files", "idle"})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	Enqueue(t, s, "W-1", 1, "epr", "files")
	later := Record("W-2", 1, "699X0")
	if _, _, err := s.SaveReport(ctx, later, []*gateway.Delivery{{ID: gateway.DeliveryID("W-2", 1, "epr"), ReportID: "W-2", Version: 1,
		Destination: "epr", State: gateway.DeliveryPending, CreatedAt: t0.Add(time.Hour), UpdatedAt: t0.Add(time.Hour), NextAttemptAt: t0.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if got := oldest(); len(got) != 2 || !got["epr"].Equal(t0) || !got["files"].Equal(t0) {
		t.Fatalf("oldest waiting: %v", got)
	}
	// In flight still waits; delivered does not.
	d := lease(t, s, "epr", t0)
	if got := oldest(); !got["epr"].Equal(t0) {
		t.Fatalf("in flight: %v", got)
	}
	complete(t, s, d, delivered(t0.Add(time.Minute), "ok"))
	if got := oldest(); !got["epr"].Equal(t0.Add(time.Hour)) {
		t.Fatalf("after the oldest was delivered: %v", got)
	}
	// Dead does not wait; a replay waits again from the replay.
	d = lease(t, s, "files", t0)
	complete(t, s, d, gateway.Outcome{State: gateway.DeliveryDead, Reason: "no", Attempt: gateway.Attempt{At: t0, Outcome: "permanent"}})
	if _, ok := oldest()["files"]; ok {
		t.Fatal("a dead delivery counted as waiting")
	}
	replayAt := t0.Add(2 * time.Hour)
	if err := s.Replay(ctx, d.ID, replayAt, "ops"); err != nil {
		t.Fatal(err)
	}
	if got := oldest(); !got["files"].Equal(replayAt) {
		t.Fatalf("after replay: %v", got)
	}
	if err := s.Cancel(ctx, d.ID, replayAt, "ops"); err != nil {
		t.Fatal(err)
	}
	if _, ok := oldest()["files"]; ok {
		t.Fatal("a cancelled delivery counted as waiting")
	}
}

// testListingPages: listing by state, destination or both, a page at a
// time, visits every delivery once, newest first, with ties on the same
// millisecond broken by id.
func testListingPages(t *testing.T, s gateway.Store) {
	ctx := context.Background()
	for i := range 7 {
		dests := []string{"epr"}
		if i%2 == 0 {
			dests = append(dests, "files")
		}
		id := fmt.Sprintf("P-%d", i)
		rec := Record(id, 1, "699X0")
		at := t0.Add(time.Duration(i/2) * time.Second) // pairs share a millisecond
		var ds []*gateway.Delivery
		for _, dest := range dests {
			ds = append(ds, &gateway.Delivery{ID: gateway.DeliveryID(id, 1, dest), ReportID: id, Version: 1, Destination: dest,
				State: gateway.DeliveryPending, CreatedAt: at, UpdatedAt: at, NextAttemptAt: at})
		}
		if _, _, err := s.SaveReport(ctx, rec, ds); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []gateway.DeliveryFilter{{}, {State: gateway.DeliveryPending}, {Destination: "epr"}, {Destination: "files", State: gateway.DeliveryPending}} {
		all, err := s.Deliveries(ctx, gateway.DeliveryFilter{State: f.State, Destination: f.Destination, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var paged []*gateway.Delivery
		f.Limit = 3
		for range 10 {
			page, err := s.Deliveries(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			paged = append(paged, page...)
			if len(page) < f.Limit {
				break
			}
			f.After = gateway.CursorOf(page[len(page)-1])
		}
		want := map[string]int{"": 11, "epr": 7, "files": 4}[f.Destination]
		if len(all) != want || len(paged) != want {
			t.Fatalf("%+v: %d in one page, %d in pages of 3, want %d", f, len(all), len(paged), want)
		}
		for i := range all {
			if all[i].ID != paged[i].ID {
				t.Fatalf("%+v: item %d is %s in one page, %s in pages", f, i, all[i].ID, paged[i].ID)
			}
			if i > 0 && !gateway.CursorOf(all[i-1]).Passes(all[i].UpdatedAt, all[i].ID) {
				t.Fatalf("%+v: not newest first at %d: %s then %s", f, i, all[i-1].ID, all[i].ID)
			}
		}
	}
}

// testPayloadReferences: a delivery whose payload is the version's own
// Bundle or PDF is stored as a reference and leased with those bytes; an
// encoded payload (an ORU) round-trips exactly, compressed or not.
func testPayloadReferences(t *testing.T, s gateway.Store) {
	ctx := context.Background()
	rec := Record("REF-1", 1, "699X0")
	// The Bundle carries the PDF as its Binary's base64, as the mapper makes it:
	// stored without it, it must come back byte for byte.
	rec.PDF = append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte{0xfe, 0x01, 0x7f}, 5000)...)
	head := `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Binary","data":`
	rec.Bundle = []byte(head + `"` + base64.StdEncoding.EncodeToString(rec.PDF) + `"}},` + strings.Repeat(`{"resource":{"resourceType":"Observation"}},`, 300) + `{}]}`)
	rec.BundlePDFAt = len(head) // as the mapper says where it wrote it
	oru := []byte("MSH|^~\\&|RG|GW|EPR|R0A|20261102||ORU^R01|C1|P|2.5.1\r" + strings.Repeat("OBX|1|TX|X^Y||some text||||||F\r", 200))
	mk := func(dest, of string, payload []byte) *gateway.Delivery {
		return &gateway.Delivery{ID: gateway.DeliveryID("REF-1", 1, dest), ReportID: "REF-1", Version: 1, Destination: dest, PayloadOf: of,
			Payload: payload, State: gateway.DeliveryPending, CreatedAt: t0, UpdatedAt: t0, NextAttemptAt: t0}
	}
	if _, _, err := s.SaveReport(ctx, rec, []*gateway.Delivery{
		mk("fhir", gateway.PayloadBundle, nil), mk("pdf", gateway.PayloadPDF, nil), mk("hl7", "", oru)}); err != nil {
		t.Fatal(err)
	}
	for dest, want := range map[string][]byte{"fhir": rec.Bundle, "pdf": rec.PDF, "hl7": oru} {
		d := lease(t, s, dest, t0)
		if d == nil || !bytes.Equal(d.Payload, want) {
			t.Fatalf("%s: leased %v", dest, d)
		}
		again := state(t, s, d.ID)
		if !bytes.Equal(again.Payload, want) {
			t.Fatalf("%s: Delivery returned other bytes", dest)
		}
	}
	got, err := s.ReportVersion(ctx, "REF-1", 1)
	if err != nil || !bytes.Equal(got.Bundle, rec.Bundle) || !bytes.Equal(got.Report, rec.Report) {
		t.Fatalf("the version's blobs: %v", err)
	}
	b, err := s.ReportBundle(ctx, "REF-1", 1)
	if err != nil || !bytes.Equal(b.Bundle, rec.Bundle) {
		t.Fatalf("ReportBundle: %v", err)
	}
}

// testCompleteAndLease: recording an attempt and leasing the next due
// delivery in one call; a lost lease leases nothing.
func testCompleteAndLease(t *testing.T, s gateway.Store) {
	ctx := context.Background()
	Enqueue(t, s, "CL-1", 1, "epr")
	Enqueue(t, s, "CL-2", 1, "epr")
	first := lease(t, s, "epr", t0)
	next, err := s.CompleteAndLease(ctx, first.ID, first.Lease, delivered(t0.Add(time.Second), "ok"), "epr", t0.Add(time.Second), time.Minute)
	if err != nil || next == nil || next.ID == first.ID || next.Lease == "" || len(next.Payload) == 0 {
		t.Fatalf("complete and lease: %+v %v", next, err)
	}
	if got := state(t, s, first.ID); got.State != gateway.DeliveryDelivered {
		t.Fatalf("the first is %s", got.State)
	}
	Enqueue(t, s, "CL-3", 1, "epr")
	if lost, err := s.CompleteAndLease(ctx, next.ID, "wrong", delivered(t0, "x"), "epr", t0, time.Minute); gateway.ErrorCode(err) != gateway.ELEASELOST || lost != nil {
		t.Fatalf("a lost lease: %+v %v", lost, err)
	}
	// The lost lease leased nothing: CL-3 is still there for the next step.
	third, err := s.CompleteAndLease(ctx, next.ID, next.Lease, delivered(t0.Add(2*time.Second), "ok"), "epr", t0.Add(2*time.Second), time.Minute)
	if err != nil || third == nil || third.ReportID != "CL-3" || third.State != gateway.DeliveryInFlight || len(third.Payload) == 0 {
		t.Fatalf("the third: %+v %v", third, err)
	}
	if got := state(t, s, next.ID); got.State != gateway.DeliveryDelivered || len(got.Attempts) != 1 {
		t.Fatalf("the second is %s with %d attempts", got.State, len(got.Attempts))
	}
	// A retry recorded with the lease: the attempt is kept, and it is not
	// leased again before its time.
	retry := gateway.Outcome{State: gateway.DeliveryRetrying, NextAttemptAt: t0.Add(time.Hour),
		Attempt: gateway.Attempt{At: t0.Add(3 * time.Second), Outcome: "retry", Error: "503"}}
	last, err := s.CompleteAndLease(ctx, third.ID, third.Lease, retry, "epr", t0.Add(3*time.Second), time.Minute)
	if err != nil || last != nil {
		t.Fatalf("nothing left to lease: %+v %v", last, err)
	}
	if got := state(t, s, third.ID); got.State != gateway.DeliveryRetrying || len(got.Attempts) != 1 || got.Attempts[0].Error != "503" {
		t.Fatalf("the third: %+v", got)
	}
	again, err := s.Lease(ctx, "epr", t0.Add(2*time.Hour), time.Minute)
	if err != nil || again == nil || again.ID != third.ID || len(again.Attempts) != 1 || again.LeaseUntil.IsZero() {
		t.Fatalf("the retry, leased when due: %+v %v", again, err)
	}
}

// testMessageWithStoredPDF: a message whose raw content carries the PDF of
// the report version it filed is read back byte for byte.
func testMessageWithStoredPDF(t *testing.T, s gateway.Store) {
	ctx := context.Background()
	rec := Record("MSGPDF-1", 1, "699X0")
	rec.PDF = append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte{0xfe, 0x01, 0x7f}, 5000)...)
	if _, _, err := s.SaveReport(ctx, rec, nil); err != nil {
		t.Fatal(err)
	}
	head := `{"id":"MSGPDF-1","pdf":{"contentType":"application/pdf","data":`
	raw := []byte(head + `"` + base64.StdEncoding.EncodeToString(rec.PDF) + `"}}`)
	// Found by the store, and where the decoder said it read the PDF.
	for _, at := range []int{0, len(head)} {
		m := &gateway.InboundMessage{ID: gateway.NewMessageID(t0), ReceivedAt: t0, Source: "json", Outcome: "accepted", ReportID: "MSGPDF-1",
			Raw: raw, PDFOf: &gateway.VersionRef{ReportID: "MSGPDF-1", Version: 1}, PDF: rec.PDF, PDFAt: at}
		if err := s.RecordMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		got, err := s.Message(ctx, m.ID)
		if err != nil || !bytes.Equal(got.Raw, raw) {
			t.Fatalf("PDFAt %d: the message as received: %v (%d bytes, want %d)", at, err, len(got.Raw), len(raw))
		}
	}
}

// testNextDue: when dest's earliest delivery falls due.
func testNextDue(t *testing.T, s gateway.Store) {
	ctx := context.Background()
	if _, ok, err := s.NextDue(ctx, "epr"); err != nil || ok {
		t.Fatalf("an empty queue: %v %v", ok, err)
	}
	Enqueue(t, s, "ND-1", 1, "epr")
	d := lease(t, s, "epr", t0)
	retry := t0.Add(90 * time.Second)
	complete(t, s, d, gateway.Outcome{State: gateway.DeliveryRetrying, NextAttemptAt: retry, Attempt: gateway.Attempt{At: t0, Outcome: "retry"}})
	if at, ok, err := s.NextDue(ctx, "epr"); err != nil || !ok || !at.Equal(retry) {
		t.Fatalf("next due %v %v %v, want %v", at, ok, err, retry)
	}
	if _, ok, _ := s.NextDue(ctx, "other"); ok {
		t.Fatal("another destination has nothing due")
	}
}
