package gateway_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/gateway/boltstore"
	"github.com/nhs-genomics/results-gateway/gateway/redisstore"
	"github.com/nhs-genomics/results-gateway/gateway/storetest"
	"github.com/nhs-genomics/results-gateway/internal/testredis"
	"github.com/redis/go-redis/v9"
)

type recorded struct {
	mu     sync.Mutex
	alerts []gateway.Alert
}

func (r *recorded) Notify(a gateway.Alert) {
	r.mu.Lock()
	r.alerts = append(r.alerts, a)
	r.mu.Unlock()
}

// take returns the alerts since the last take as "+key" (raised) and "-key" (resolved).
func (r *recorded) take() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []string
	for _, a := range r.alerts {
		sign := "+"
		if a.Resolved {
			sign = "-"
		}
		s = append(s, sign+a.Key)
	}
	r.alerts = nil
	return strings.Join(s, " ")
}

// Each condition is raised once when it starts and resolved once when it
// ends, however many checks see it.
func TestMonitorRaisesAndResolvesOnce(t *testing.T) {
	ctx := context.Background()
	store, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	t0 := time.Date(2026, 11, 2, 15, 0, 0, 0, time.UTC)
	clock := &fakeClock{now: t0}
	rec := &recorded{}
	m := &gateway.Monitor{Store: store, Alerts: &gateway.Alerts{Log: slog.New(slog.DiscardHandler), Notifier: rec}, Clock: clock,
		QueueAge: map[string]time.Duration{"epr": time.Hour, "files": 0}}

	storetest.Enqueue(t, store, "M-1", 1, "epr", "files")
	m.Check(ctx)
	if got := rec.take(); got != "" {
		t.Fatalf("a young queue alerted: %s", got)
	}
	clock.Set(t0.Add(2 * time.Hour))
	m.Check(ctx)
	m.Check(ctx)
	if got := rec.take(); got != "+queue-age/epr" {
		t.Fatalf("an old queue (files has no limit): %q", got)
	}
	// Paused on purpose: resolved, not raised again while paused.
	if err := store.SetPaused(ctx, "epr", true); err != nil {
		t.Fatal(err)
	}
	m.Check(ctx)
	m.Check(ctx)
	if got := rec.take(); got != "+paused/epr -queue-age/epr" {
		t.Fatalf("paused: %q", got)
	}
	store.SetPaused(ctx, "epr", false)
	m.Check(ctx)
	if got := rec.take(); got != "-paused/epr +queue-age/epr" {
		t.Fatalf("resumed: %q", got)
	}

	// A dead letter opens its destination's alert until it is dealt with.
	d, err := store.Lease(ctx, "epr", clock.Now(), time.Minute)
	if err != nil || d == nil {
		t.Fatal(d, err)
	}
	if err := store.Complete(ctx, d.ID, d.Lease, gateway.Outcome{State: gateway.DeliveryDead, Reason: "refused",
		Attempt: gateway.Attempt{At: clock.Now(), Outcome: "permanent"}}); err != nil {
		t.Fatal(err)
	}
	m.Check(ctx)
	if got := rec.take(); got != "+dead-letters/epr -queue-age/epr" {
		t.Fatalf("dead letter: %q", got)
	}
	if err := store.Cancel(ctx, d.ID, clock.Now(), "ops"); err != nil {
		t.Fatal(err)
	}
	m.Check(ctx)
	if got := rec.take(); got != "-dead-letters/epr" {
		t.Fatalf("cancelled: %q", got)
	}

	// A report held for a trust without a route, until it is released.
	held := storetest.Record("M-2", 1, "699X0")
	held.TrustODS, held.Held = "RXX", true
	if _, _, err := store.SaveReport(ctx, held, nil); err != nil {
		t.Fatal(err)
	}
	m.Check(ctx)
	if got := rec.take(); got != "+unrouted/RXX" {
		t.Fatalf("held: %q", got)
	}
	if ok, err := store.ReleaseHeld(ctx, "M-2", 1, nil); err != nil || !ok {
		t.Fatal(ok, err)
	}
	m.Check(ctx)
	if got := rec.take(); got != "-unrouted/RXX" {
		t.Fatalf("released: %q", got)
	}

	// A store that cannot be written.
	store.Close()
	m.Check(ctx)
	if got := rec.take(); got != "+store" {
		t.Fatalf("closed store: %q", got)
	}
}

// A delivered report that its recipient does not acknowledge within the
// configured time raises one alert, however many scans see it; the
// acknowledgement resolves it. Scans are spaced by AcknowledgeEvery.
func TestMonitorUnacknowledgedReportOnce(t *testing.T) {
	ctx := context.Background()
	store, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	t0 := time.Date(2026, 11, 2, 15, 0, 0, 0, time.UTC)
	clock := &fakeClock{now: t0}
	rec := &recorded{}
	m := &gateway.Monitor{Store: store, Alerts: &gateway.Alerts{Log: slog.New(slog.DiscardHandler), Notifier: rec}, Clock: clock,
		Records: store, AcknowledgeWithin: 3 * 24 * time.Hour, AcknowledgeEvery: time.Hour}

	r := storetest.Record("ACK-1", 1, "699X0")
	r.TrustODS, r.ReceivedAt = "R0A", t0
	d := &gateway.Delivery{ID: gateway.DeliveryID("ACK-1", 1, "epr"), ReportID: "ACK-1", Version: 1, Destination: "epr", Recipient: "R0A",
		ContentType: "application/fhir+json", Payload: []byte("x"), State: gateway.DeliveryPending, CreatedAt: t0, UpdatedAt: t0, NextAttemptAt: t0}
	if _, _, err := store.SaveReport(ctx, r, []*gateway.Delivery{d}); err != nil {
		t.Fatal(err)
	}
	leased, err := store.Lease(ctx, "epr", t0, time.Minute)
	if err != nil || leased == nil {
		t.Fatal(leased, err)
	}
	if err := store.Complete(ctx, leased.ID, leased.Lease, gateway.Outcome{State: gateway.DeliveryDelivered,
		Attempt: gateway.Attempt{At: t0.Add(time.Minute), Outcome: "delivered"}}); err != nil {
		t.Fatal(err)
	}
	const key = "unacknowledged/ACK-1/R0A"
	for _, step := range []struct {
		after time.Duration
		want  string
	}{
		{2 * 24 * time.Hour, ""},                  // delivered two days ago: not yet
		{3*24*time.Hour + 2*time.Hour, "+" + key}, // past three days: raised
		{3*24*time.Hour + 4*time.Hour, ""},        // and not again
		{3*24*time.Hour + 6*time.Hour, ""},
	} {
		clock.Set(t0.Add(step.after))
		m.Check(ctx)
		if got := rec.take(); got != step.want {
			t.Fatalf("after %v: %q, want %q", step.after, got, step.want)
		}
	}
	if err := store.Audit(ctx, gateway.AuditEntry{At: t0.Add(3*24*time.Hour + 6*time.Hour + 15*time.Minute), Subject: "epr", Role: gateway.RoleTrust, ODSCode: "R0A",
		Action: gateway.ActionAcknowledge, What: gateway.AcknowledgementWhat("ACK-1", 1, "Dr A"), Reports: []string{"ACK-1"}, Outcome: "success"}); err != nil {
		t.Fatal(err)
	}
	clock.Set(t0.Add(3*24*time.Hour + 6*time.Hour + 30*time.Minute))
	m.Check(ctx)
	if got := rec.take(); got != "" {
		t.Fatalf("a scan within the hour ran: %q", got)
	}
	clock.Set(t0.Add(3*24*time.Hour + 7*time.Hour + 30*time.Minute))
	m.Check(ctx)
	if got := rec.take(); got != "-"+key {
		t.Fatalf("acknowledged: %q", got)
	}
}

// A Redis that could lose accepted reports on its restart opens an alert
// for each way it could, while it could: without its append-only file, or
// with fsyncing left to the operating system. A Redis run as the README
// says raises none, and a deployment that accepts its store's durability
// (a managed Redis kept by replicas) is not told.
func TestMonitorStoreDurabilityOnRedis(t *testing.T) {
	ctx := context.Background()
	url := testredis.Server(t, "--appendonly", "no")
	store, err := redisstore.Open(ctx, url, "durability", []byte("test-index-key-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rec := &recorded{}
	m := &gateway.Monitor{Store: store, Alerts: &gateway.Alerts{Log: slog.New(slog.DiscardHandler), Notifier: rec},
		Clock: &fakeClock{now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}}
	risks, err := store.Durability(ctx)
	if err != nil || len(risks) != 1 || !strings.Contains(risks[0].Why, "appendonly no") {
		t.Fatalf("appendonly no: %+v %v", risks, err)
	}
	m.Check(ctx)
	m.Check(ctx)
	if got := rec.take(); got != "+store-durability/appendonly" {
		t.Fatalf("appendonly no: %q", got)
	}

	opts, _ := redis.ParseURL(url)
	admin := redis.NewClient(opts)
	defer admin.Close()
	if err := admin.ConfigSet(ctx, "appendonly", "yes").Err(); err != nil {
		t.Fatal(err)
	}
	if err := admin.ConfigSet(ctx, "appendfsync", "no").Err(); err != nil {
		t.Fatal(err)
	}
	m.Check(ctx)
	if got := rec.take(); got != "+store-durability/appendfsync -store-durability/appendonly" {
		t.Fatalf("appendonly yes, appendfsync no: %q", got)
	}
	admin.ConfigSet(ctx, "appendfsync", "everysec")
	m.Check(ctx)
	if got := rec.take(); got != "-store-durability/appendfsync" {
		t.Fatalf("appendfsync everysec: %q", got)
	}
	if risks, err := store.Durability(ctx); err != nil || len(risks) != 0 {
		t.Fatalf("run as the README says: %+v %v", risks, err)
	}

	admin.ConfigSet(ctx, "appendonly", "no")
	accepting := &gateway.Monitor{Store: store, Alerts: &gateway.Alerts{Log: slog.New(slog.DiscardHandler), Notifier: rec},
		Clock: m.Clock, AcceptStoreDurability: true}
	accepting.Check(ctx)
	if got := rec.take(); got != "" {
		t.Fatalf("durability accepted, yet: %q", got)
	}
}
