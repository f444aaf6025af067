package gateway

import (
	"context"
	"log/slog"
	"time"
)

// Retention: what the gateway keeps, and for how long. Every class is
// pruned by age; nothing that still needs a person or a delivery —
// pending, in flight, retrying, dead or held (unrouted) — is ever pruned,
// whatever its age.

// RetentionClass names one kind of stored data.
type RetentionClass string

const (
	// ClassMessages: inbound messages as received (metadata and raw content).
	ClassMessages RetentionClass = "messages"
	// ClassPayloads: the bytes of deliveries that are over (delivered or
	// superseded); the delivery's record and attempts stay with its report.
	ClassPayloads RetentionClass = "deliveredPayloads"
	// ClassReports: report versions, their Bundles, PDFs and FHIR resources
	// (the pull API), their deliveries and index entries — once every
	// delivery of the report is over (delivered, superseded or cancelled).
	ClassReports RetentionClass = "reports"
	// ClassAudit: access records, kept after their report is pruned until
	// they are this old.
	ClassAudit RetentionClass = "audit"
)

// RetentionClasses lists the classes in the order the pruner visits them.
var RetentionClasses = []RetentionClass{ClassMessages, ClassPayloads, ClassReports, ClassAudit}

// Pruner removes what has outlived its class's period. Implementations:
// both stores, tested once in storetest with times chosen by the test.
type Pruner interface {
	// Prune removes at most limit items of each class in before, those
	// older than its time (a class absent from before is kept), and says
	// how many it removed (or, with dryRun, would remove: nothing is
	// changed). Index entries go with their data, in the same step.
	Prune(ctx context.Context, before map[RetentionClass]time.Time, limit int, dryRun bool) (map[RetentionClass]int, error)
}

// Retention is how long each class is kept; zero keeps it forever.
type Retention map[RetentionClass]time.Duration

// Cutoffs turns periods into the times Prune takes.
func (r Retention) Cutoffs(now time.Time) map[RetentionClass]time.Time {
	out := map[RetentionClass]time.Time{}
	for class, d := range r {
		if d > 0 {
			out[class] = now.Add(-d)
		}
	}
	return out
}

// PruneLoop prunes in the background: every Interval, batch after batch
// until a pass removes nothing. Redis replicas take turns through a lock
// inside the store's Prune, so running it on every replica is safe.
type PruneLoop struct {
	Store     Pruner
	Retention Retention
	Clock     Clock
	Interval  time.Duration
	Batch     int
	Log       *slog.Logger
	Observer  Observer
}

// Run prunes until ctx is cancelled.
func (p *PruneLoop) Run(ctx context.Context) {
	t := time.NewTicker(p.Interval)
	defer t.Stop()
	for {
		p.Once(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Once prunes everything due now, a batch at a time.
func (p *PruneLoop) Once(ctx context.Context) (map[RetentionClass]int, error) {
	total := map[RetentionClass]int{}
	cutoffs := p.Retention.Cutoffs(p.Clock.Now())
	if len(cutoffs) == 0 {
		return total, nil
	}
	for ctx.Err() == nil {
		n, err := p.Store.Prune(ctx, cutoffs, p.Batch, false)
		if ErrorCode(err) == ECONFLICT {
			p.Log.Info("another gateway is pruning the store: this one waits for its next interval")
			return total, err
		}
		if err != nil {
			p.Log.Error("pruning failed: will try again at the next interval", "error", err)
			return total, err
		}
		done := 0
		for class, k := range n {
			total[class] += k
			done += k
			if p.Observer != nil && k > 0 {
				p.Observer.Pruned(string(class), k)
			}
		}
		if done == 0 {
			break
		}
	}
	if len(total) > 0 {
		p.Log.Info("pruned what outlived its retention", "messages", total[ClassMessages], "delivered_payloads", total[ClassPayloads],
			"reports", total[ClassReports], "audit_entries", total[ClassAudit])
	}
	return total, nil
}
