package gateway

import (
	"context"
	"math"
	"sort"
	"time"
)

// Turnaround: for one month's reports, per ordering trust and test code,
// how long each step took — sample received at the lab -> report issued
// (the lab's turnaround, against the test's national category) -> first
// delivered to the trust -> first read by the trust through the pull API —
// as median and 90th percentile, and the share issued within the target.
// Read from what the store keeps (each report's first version, its
// deliveries and its audit trail), so it needs no bookkeeping of its own.

// TurnaroundTarget is a test's national turnaround category.
type TurnaroundTarget struct {
	Days     int    `json:"days"`
	Category string `json:"category"`
	Basis    string `json:"basis"` // "configured" or the default it fell back to
}

// TurnaroundTargets gives each test code its target.
type TurnaroundTargets interface {
	TargetFor(testCode string) (TurnaroundTarget, bool)
}

// Spread is a step's median and 90th percentile, in days, over N reports.
type Spread struct {
	N      int     `json:"n"`
	Median float64 `json:"medianDays"`
	P90    float64 `json:"p90Days"`
}

// TurnaroundRow is one trust and test code in one month.
type TurnaroundRow struct {
	Trust    string            `json:"trust"`
	TestCode string            `json:"testCode"`
	Target   *TurnaroundTarget `json:"target,omitempty"`
	Reports  int               `json:"reports"`
	// The steps: sample received -> issued -> delivered -> read, and the whole.
	SampleToIssued    Spread `json:"sampleToIssued"`
	IssuedToDelivered Spread `json:"issuedToDelivered"`
	DeliveredToRead   Spread `json:"deliveredToRead"`
	SampleToDelivered Spread `json:"sampleToDelivered"`
	// IssuedToAcknowledged: issued -> a clinician at the ordering trust
	// acknowledged it (POST /v1/reports/{id}/acknowledgements).
	IssuedToAcknowledged Spread `json:"issuedToAcknowledged"`
	// WithinTarget: reports issued within the target of those whose sample
	// receipt is known; Share is that as a fraction (0 when none is known).
	WithinTarget int     `json:"withinTarget"`
	Share        float64 `json:"withinTargetShare"`
}

// TurnaroundReport is one month's rows.
type TurnaroundReport struct {
	Month     string          `json:"month"` // YYYY-MM: reports whose first version the lab issued that month (UTC)
	Trust     string          `json:"trust,omitempty"`
	Rows      []TurnaroundRow `json:"rows"`
	Truncated bool            `json:"truncated"` // more than the limit of reports: the rows cover the most recent
}

// TurnaroundStore is what Turnaround reads.
type TurnaroundStore interface {
	Reports
	ReportIndex
	Queue
	AuditLog
}

// TurnaroundWindow is how long after its month a report may be amended and
// still be found (the walk goes back from the month's end plus this).
const TurnaroundWindow = 62 * 24 * time.Hour

// Turnaround computes month's rows (trust "" for all), reading at most
// limit reports.
func Turnaround(ctx context.Context, s TurnaroundStore, targets TurnaroundTargets, month time.Time, trust string, limit int) (*TurnaroundReport, error) {
	start := time.Date(month.Year(), month.Month(), 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(0, 1, 0)
	out := &TurnaroundReport{Month: start.Format("2006-01"), Trust: trust, Rows: []TurnaroundRow{}}
	groups := map[[2]string]*turnaroundGroup{}
	counted := 0
	err := WalkUpdated(ctx, s, trust, UpdatedCursor{At: end.Add(TurnaroundWindow)}, 500, func(m *ReportRecord) (bool, error) {
		if m.ReceivedAt.Before(start) {
			return true, nil // received before the month: neither it nor older ones were issued in it
		}
		first, err := firstVersion(ctx, s, m)
		if err != nil {
			return true, err
		}
		issued := first.Issued
		if issued.IsZero() {
			issued = first.ReceivedAt
		}
		if issued.Before(start) || !issued.Before(end) {
			return false, nil
		}
		if counted == limit {
			out.Truncated = true
			return true, nil
		}
		counted++
		delivered, read, acknowledged, err := milestones(ctx, s, first)
		if err != nil {
			return true, err
		}
		key := [2]string{first.TrustODS, first.TestCode}
		if groups[key] == nil {
			groups[key] = &turnaroundGroup{}
		}
		groups[key].add(first.SampleReceived, issued, delivered, read, targets, first.TestCode)
		if !acknowledged.IsZero() {
			groups[key].acked = append(groups[key].acked, days(acknowledged.Sub(issued)))
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	return finish(out, groups, targets), nil
}

// turnaroundGroup collects one trust and test's step times, in days.
type turnaroundGroup struct {
	reports, within              int
	lab, out, read, whole, acked []float64
}

func (g *turnaroundGroup) add(sample, issued, delivered, read time.Time, targets TurnaroundTargets, code string) {
	g.reports++
	if !sample.IsZero() {
		g.lab = append(g.lab, days(issued.Sub(sample)))
		if t, ok := targets.TargetFor(code); ok && issued.Sub(sample) <= time.Duration(t.Days)*24*time.Hour {
			g.within++
		}
	}
	if delivered.IsZero() {
		return
	}
	g.out = append(g.out, days(delivered.Sub(issued)))
	if !sample.IsZero() {
		g.whole = append(g.whole, days(delivered.Sub(sample)))
	}
	if !read.IsZero() {
		g.read = append(g.read, days(read.Sub(delivered)))
	}
}

func finish(out *TurnaroundReport, groups map[[2]string]*turnaroundGroup, targets TurnaroundTargets) *TurnaroundReport {
	for key, g := range groups {
		row := TurnaroundRow{Trust: key[0], TestCode: key[1], Reports: g.reports, WithinTarget: g.within,
			SampleToIssued: spread(g.lab), IssuedToDelivered: spread(g.out), DeliveredToRead: spread(g.read), SampleToDelivered: spread(g.whole),
			IssuedToAcknowledged: spread(g.acked)}
		if t, ok := targets.TargetFor(key[1]); ok {
			row.Target = &t
		}
		if len(g.lab) > 0 {
			row.Share = float64(g.within) / float64(len(g.lab))
		}
		out.Rows = append(out.Rows, row)
	}
	sort.Slice(out.Rows, func(i, j int) bool {
		a, b := out.Rows[i], out.Rows[j]
		return a.Trust < b.Trust || a.Trust == b.Trust && a.TestCode < b.TestCode
	})
	return out
}

// firstVersion is the report's first stored version (its turnaround is
// the original report's, not an amendment's).
func firstVersion(ctx context.Context, s TurnaroundStore, latest *ReportRecord) (*ReportRecord, error) {
	versions, err := s.ReportVersions(ctx, latest.ID)
	if err != nil || len(versions) == 0 || versions[0] == latest.Version {
		return latest, err
	}
	return s.ReportVersion(ctx, latest.ID, versions[0])
}

// milestones finds when the first version first reached the ordering
// trust (a delivered attempt), when the trust's system first read it, and
// when a clinician there acknowledged it.
func milestones(ctx context.Context, s TurnaroundStore, first *ReportRecord) (delivered, read, acknowledged time.Time, err error) {
	deliveries, err := s.Deliveries(ctx, DeliveryFilter{ReportID: first.ID, Limit: 1000})
	if err != nil {
		return
	}
	for _, d := range deliveries {
		if d.Version != first.Version || d.Recipient != "" && d.Recipient != first.TrustODS {
			continue
		}
		for _, a := range d.Attempts {
			if a.Outcome == "delivered" && (delivered.IsZero() || a.At.Before(delivered)) {
				delivered = a.At
			}
		}
	}
	entries, err := s.AuditFor(ctx, first.ID)
	if err != nil {
		return
	}
	for _, e := range entries { // oldest first
		if e.Role != RoleTrust || e.ODSCode != first.TrustODS || e.Outcome != "success" {
			continue
		}
		switch {
		case e.Action == ActionAcknowledge && acknowledged.IsZero():
			acknowledged = e.At
		case e.Action != "create" && e.Action != ActionAcknowledge && read.IsZero():
			read = e.At
		}
	}
	return delivered, read, acknowledged, nil
}

func days(d time.Duration) float64 { return d.Hours() / 24 }

// spread is the median and 90th percentile (nearest rank), to a tenth of a day.
func spread(xs []float64) Spread {
	if len(xs) == 0 {
		return Spread{}
	}
	sort.Float64s(xs)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(xs)))) - 1
		return math.Round(xs[max(i, 0)]*10) / 10
	}
	return Spread{N: len(xs), Median: rank(0.5), P90: rank(0.9)}
}
