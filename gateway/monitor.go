package gateway

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Monitor checks, every Interval, the conditions that need a person and
// keeps their alerts open while they hold: a store that cannot write, a
// destination's queue older than its limit, dead letters waiting for a
// replay, reports held for want of a route. It reads the shared store, so
// what it sees is the deployment's state, not this process's.
type Monitor struct {
	Store interface {
		Queue
		HeldReports
		Ping(ctx context.Context) error
	}
	Alerts   *Alerts
	Clock    Clock
	Interval time.Duration
	// AcceptStoreDurability turns the store-durability alerts off, for a
	// store whose durability comes from elsewhere (a managed Redis kept by
	// replicas rather than an append-only file).
	AcceptStoreDurability bool
	// QueueAge is how old a destination's oldest waiting delivery may grow
	// before an alert, by destination name; absent or zero: no alert.
	QueueAge map[string]time.Duration
	// AcknowledgeWithin is how long after delivery a recipient may take to
	// acknowledge a report before an alert (once per report, version and
	// recipient); zero: no alert. Records is where the reports are read.
	AcknowledgeWithin time.Duration
	Records           TurnaroundStore
	// AcknowledgeEvery spaces the acknowledgement scans (it reads many
	// reports): ten minutes when zero.
	AcknowledgeEvery time.Duration
	lastAckScan      time.Time
}

// Run checks until ctx is cancelled.
func (m *Monitor) Run(ctx context.Context) {
	t := time.NewTicker(m.Interval)
	defer t.Stop()
	for {
		m.Check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Check runs every check once.
func (m *Monitor) Check(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := m.Store.Ping(ctx); err != nil {
		m.Alerts.Raise("store", "the store cannot be written: intake answers 503 and deliveries wait", "error", err)
		return // the other checks would only fail the same way
	}
	m.Alerts.Resolve("store", "the store can be written again")
	m.checkDurability(ctx)
	m.checkQueues(ctx)
	m.checkHeld(ctx)
	m.checkAcknowledgements(ctx)
}

// checkDurability keeps an alert open for each thing that, the store says,
// could lose accepted reports if it restarted (Redis without its
// append-only file, say): the gateway has told labs those reports are safe.
// One alert per risk, so a second risk is raised while the first is open.
func (m *Monitor) checkDurability(ctx context.Context) {
	d, ok := m.Store.(DurabilityReporter)
	if !ok || m.AcceptStoreDurability {
		return
	}
	risks, err := d.Durability(ctx)
	if err != nil {
		return // not known this time: leave the alerts as they are
	}
	const prefix = "store-durability/"
	current := map[string]bool{}
	for _, r := range risks {
		current[prefix+r.Name] = true
		m.Alerts.Raise(prefix+r.Name, "accepted reports could be lost if the store restarts: "+r.Why, "error", r.Why)
	}
	for _, key := range m.Alerts.Open() {
		if strings.HasPrefix(key, prefix) && !current[key] {
			m.Alerts.Resolve(key, "the store no longer risks accepted reports this way")
		}
	}
}

// checkAcknowledgements raises an alert, for the lab's operators, for each
// report a recipient has not acknowledged within AcknowledgeWithin of its
// delivery, and resolves it once acknowledged.
func (m *Monitor) checkAcknowledgements(ctx context.Context) {
	every := m.AcknowledgeEvery
	if every <= 0 {
		every = 10 * time.Minute
	}
	now := m.Clock.Now()
	if m.AcknowledgeWithin <= 0 || m.Records == nil || now.Sub(m.lastAckScan) < every {
		return
	}
	m.lastAckScan = now
	// One alert per report and recipient, about its latest version: a new
	// version takes over the open alert, and its acknowledgement ends it.
	key := func(rec *ReportRecord, st RecipientState) string {
		return fmt.Sprintf("unacknowledged/%s/%s", rec.ID, st.ODSCode)
	}
	UnacknowledgedReports(ctx, m.Records, now, m.AcknowledgeWithin, 5000,
		func(rec *ReportRecord, st RecipientState) {
			m.Alerts.Raise(key(rec, st), "a delivered report has not been acknowledged by its recipient: follow it up",
				"report_id", rec.ID, "version", rec.Version, "recipient", st.ODSCode, "lab", rec.LabODS,
				"delivered", st.Delivered.UTC().Format(time.RFC3339))
		},
		func(rec *ReportRecord, st RecipientState) {
			m.Alerts.Resolve(key(rec, st), "the report has been acknowledged", "report_id", rec.ID, "version", rec.Version, "recipient", st.ODSCode)
		})
}

func (m *Monitor) checkQueues(ctx context.Context) {
	names := make([]string, 0, len(m.QueueAge))
	for name := range m.QueueAge {
		names = append(names, name)
	}
	sort.Strings(names)
	counts, err := m.Store.Counts(ctx)
	if err != nil {
		return // the next check will see it; Ping passed, so it is passing
	}
	for _, name := range names {
		key := "dead-letters/" + name
		if n := counts[name][DeliveryDead]; n > 0 {
			m.Alerts.Raise(key, "dead letters wait for an operator: replay them once the cause is fixed", "destination", name, "count", n)
		} else {
			m.Alerts.Resolve(key, "no dead letters are left", "destination", name)
		}
	}
	oldest, err := m.Store.OldestWaiting(ctx, names)
	if err != nil {
		return
	}
	paused, err := m.Store.Paused(ctx)
	if err != nil {
		return
	}
	now := m.Clock.Now()
	for _, name := range names {
		if paused[name] {
			m.Alerts.Raise("paused/"+name, "a destination is paused: its deliveries wait until it is resumed", "destination", name)
		} else {
			m.Alerts.Resolve("paused/"+name, "the destination is running again", "destination", name)
		}
		limit, key := m.QueueAge[name], "queue-age/"+name
		since, waiting := oldest[name]
		age := now.Sub(since)
		// A paused destination is meant to wait: its pause is an alert of its own.
		if limit > 0 && waiting && age > limit && !paused[name] {
			m.Alerts.Raise(key, "a destination's queue is older than its limit", "destination", name,
				"oldest_waiting_seconds", int(age.Seconds()), "limit_seconds", int(limit.Seconds()))
		} else {
			m.Alerts.Resolve(key, "the destination's queue is within its age limit", "destination", name)
		}
	}
}

func (m *Monitor) checkHeld(ctx context.Context) {
	held, err := m.Store.HeldReports(ctx, 1000)
	if err != nil {
		return
	}
	byTrust := map[string][]*ReportRecord{}
	for _, r := range held {
		byTrust[r.TrustODS] = append(byTrust[r.TrustODS], r)
	}
	// One alert per trust, so a second trust without a route is news even
	// while the first is still open.
	for trust, reports := range byTrust {
		m.Alerts.Raise("unrouted/"+trust, "reports are held: no destination is configured for their trust",
			"trust", trust, "oldest_report_id", reports[0].ID)
	}
	if len(held) == 1000 {
		return // only the oldest 1000 were read: a trust missing from them may still have reports held
	}
	for _, key := range m.Alerts.Open() {
		if trust, ok := strings.CutPrefix(key, "unrouted/"); ok && byTrust[trust] == nil {
			m.Alerts.Resolve(key, "no reports are held for the trust any more", "trust", trust)
		}
	}
}
