package gateway

import (
	"context"
	"fmt"
)

// RouteHeld queues every held report whose trust now has a destination —
// after an operator adds the route and restarts the gateway. It is safe to
// run on several replicas at once: each report is released once. It returns
// how many reports were queued.
func (in *Intake) RouteHeld(ctx context.Context) (int, error) {
	held, err := in.Held.HeldReports(ctx, 0)
	if err != nil {
		return 0, err
	}
	queued := 0
	releasedFor := map[string]bool{} // trusts
	defer func() {
		for trust := range releasedFor {
			if in.Alerts != nil {
				in.Alerts.Settle("unrouted/"+trust, "the reports held for the trust were queued: it has a destination now", "trust", trust)
			}
		}
	}()
	for _, meta := range held {
		routes := in.Router.Routes(meta.TrustODS)
		if len(routes) == 0 {
			continue
		}
		rec, err := in.Reports.ReportVersion(ctx, meta.ID, meta.Version)
		if err != nil {
			return queued, err
		}
		r, err := rec.DecodeReport()
		if err != nil {
			return queued, fmt.Errorf("decode held report %s: %w", rec.ID, err)
		}
		r.Warnings = rec.Warnings
		in.nameTest(r) // the official name is not stored with the report
		// Deliveries start now: their retry budget counts from the release,
		// not from when the report arrived.
		// Its copies to other recipients may be queued already: only the
		// trust's destinations that have no delivery of this version get one.
		queuedTo := map[string]bool{}
		if in.History != nil {
			ds, err := in.History.Deliveries(ctx, DeliveryFilter{ReportID: rec.ID, Limit: 1000})
			if err != nil {
				return queued, err
			}
			for _, d := range ds {
				if d.Version == rec.Version && !d.Withdrawal { // a withdrawal there is of another patient's version
					queuedTo[d.Destination] = true
				}
			}
		}
		var trustRoutes []addressed
		for _, rt := range routes {
			if !queuedTo[rt.Destination] {
				trustRoutes = append(trustRoutes, addressed{Route: rt, Recipient: meta.TrustODS})
			}
		}
		deliveries, err := in.deliveries(r, rec, trustRoutes, in.Now().UTC())
		if err != nil {
			return queued, err
		}
		released, err := in.Held.ReleaseHeld(ctx, rec.ID, rec.Version, deliveries)
		if err != nil {
			return queued, err
		}
		if !released {
			continue
		}
		queued++
		releasedFor[rec.TrustODS] = true
		in.Log.Info("held report queued: its trust now has a destination", "report_id", rec.ID, "version", rec.Version,
			"trust", rec.TrustODS, "deliveries", len(deliveries))
		if in.Enqueued != nil {
			names := make([]string, 0, len(deliveries))
			for _, d := range deliveries {
				names = append(names, d.Destination)
			}
			in.Enqueued(names)
		}
	}
	return queued, nil
}
