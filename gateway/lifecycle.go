package gateway

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Relations a report may have to the one it follows.
var Relations = set("reinterpretation", "reanalysis")

// earlier is the report r revises or re-interprets, as stored: its own
// previous version, else the report it names as previous (that version, or
// the latest). nil when there is none (a first report, or a previous report
// this gateway never had: then there is nothing to compare with).
func (in *Intake) earlier(ctx context.Context, r *Report) (*Report, error) {
	if r.Version > 1 {
		if prev, err := in.previous(ctx, r); prev != nil || err != nil {
			return prev, err
		}
	}
	p := r.Previous
	if p == nil {
		return nil, nil
	}
	var rec *ReportRecord
	var err error
	if p.Version > 0 {
		rec, err = in.Reports.ReportVersion(ctx, p.ID, p.Version)
	} else {
		rec, err = in.Reports.Report(ctx, p.ID)
	}
	if ErrorCode(err) == ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return rec.DecodeReport()
}

// reclassifications lists r's variants whose class differs from the same
// variant's in before. A variant is the same when its most specific name
// (c. HGVS, else g. HGVS, ISCN ...) is.
func reclassifications(r, before *Report) []Change {
	if before == nil {
		return nil
	}
	was := map[string]string{}
	for i := range before.Variants {
		was[variantKey(&before.Variants[i])] = before.Variants[i].Classification.ACMG
	}
	on, _, _ := strings.Cut(r.Issued, "T")
	var changes []Change
	for i := range r.Variants {
		v := &r.Variants[i]
		from, ok := was[variantKey(v)]
		if !ok || from == v.Classification.ACMG {
			continue
		}
		c := Change{Variant: variantKey(v), From: from, To: v.Classification.ACMG, On: on}
		if before.ID != r.ID {
			c.Report, c.Version = before.ID, before.Version
		}
		changes = append(changes, c)
	}
	return changes
}

func variantKey(v *Variant) string {
	for _, s := range []string{v.HGVS.C, v.HGVS.G, v.ISCN, v.DisplayName, v.HGVS.P} {
		if s != "" {
			return s
		}
	}
	if v.Start > 0 {
		return v.Chromosome + ":" + strconv.FormatInt(v.Start, 10)
	}
	return v.Gene.Symbol + " " + v.ID
}

// Recipients are the organisations a report goes to: the ordering trust
// and each copy-to recipient, once each, in that order.
func (r *Report) Recipients() []string {
	var out []string
	seen := map[string]bool{}
	for _, o := range append([]Organisation{r.OrderingTrust}, r.CopyTo...) {
		if o.ODSCode != "" && !seen[o.ODSCode] {
			seen[o.ODSCode] = true
			out = append(out, o.ODSCode)
		}
	}
	return out
}

// addressed is a route and the recipient it serves.
type addressed struct {
	Route
	Recipient string
}

// DeliveryHistory lists a report's deliveries (both stores implement it).
type DeliveryHistory interface {
	Deliveries(ctx context.Context, f DeliveryFilter) ([]*Delivery, error)
}

// destinationRouter is a Router that also finds a route by destination
// name, so a destination that had an earlier version hears of a new one
// after routing has moved on.
type destinationRouter interface {
	Destination(name string) (Route, bool)
}

// lineage states what changed since the earlier report, and completes the
// link to the report r re-interprets with that report's order number.
func (in *Intake) lineage(ctx context.Context, r *Report) error {
	r.Changes = nil
	before, err := in.earlier(ctx, r)
	if err != nil || before == nil {
		return err
	}
	r.Changes = reclassifications(r, before)
	if p := r.Previous; p != nil && before.ID == p.ID {
		if p.Version == 0 {
			p.Version = before.Version
		}
		if p.OrderNumber == "" {
			p.OrderNumber = before.OrderNumber
		}
		if p.OrderingTrust == "" {
			p.OrderingTrust = before.OrderingTrust.ODSCode
		}
	}
	return nil
}

// routesFor is where r goes: the ordering trust's destinations, each
// copy-to recipient's, and every destination that received an earlier
// version of r or of the report it re-interprets (so everyone who had the
// old result hears of the new one, wherever routing points now). Each
// destination once. trustRouted says the ordering trust has a destination
// of its own (else the report is held for it).
func (in *Intake) routesFor(ctx context.Context, r *Report) (routes []addressed, trustRouted bool, notes []Warning, err error) {
	seen := map[string]bool{}
	add := func(rt Route, who string) {
		if !seen[rt.Destination] {
			seen[rt.Destination] = true
			routes = append(routes, addressed{rt, who})
		}
	}
	for i, ods := range r.Recipients() {
		rs := in.Router.Routes(ods)
		if i == 0 && ods == r.OrderingTrust.ODSCode {
			trustRouted = len(rs) > 0
		} else if len(rs) == 0 {
			notes = append(notes, Warning{Path: "copyTo", Message: fmt.Sprintf("copy-to recipient %s has no destination: it may pull the report, nothing is sent to it", ods)})
		}
		for _, rt := range rs {
			add(rt, ods)
		}
	}
	defer func() {
		if !trustRouted && len(routes) > 0 && err == nil { // the stores hold only a report with nowhere to go
			trust := r.OrderingTrust.ODSCode
			notes = append(notes, Warning{Path: "orderingTrust.odsCode", Message: fmt.Sprintf("the ordering trust %s has no destination: the report goes to its other recipients and is not held for %s, which may pull it", trust, trust)})
		}
	}()
	byName, _ := in.Router.(destinationRouter)
	if in.History == nil || byName == nil {
		return routes, trustRouted, notes, nil
	}
	var earlier []string
	if r.Version > 1 {
		earlier = append(earlier, r.ID)
	}
	if r.Previous != nil && r.Previous.ID != r.ID {
		earlier = append(earlier, r.Previous.ID)
	}
	for _, id := range earlier {
		ds, err := in.History.Deliveries(ctx, DeliveryFilter{ReportID: id, State: DeliveryDelivered, Limit: 1000})
		if err != nil {
			return nil, false, nil, err
		}
		for _, d := range ds {
			if d.ReportID == r.ID && d.Version >= r.Version || seen[d.Destination] {
				continue
			}
			rt, ok := byName.Destination(d.Destination)
			if !ok {
				notes = append(notes, Warning{Path: "previous", Message: fmt.Sprintf("destination %s, which received report %s version %d, is no longer configured: it is not told of this one", d.Destination, d.ReportID, d.Version)})
				continue
			}
			add(rt, d.Recipient)
		}
	}
	return routes, trustRouted, notes, nil
}

// linkBack records on the report r re-interprets that r now follows it,
// so the old report's journey leads to the new one.
func (in *Intake) linkBack(ctx context.Context, r *Report) {
	if r.Previous == nil || in.Audit == nil || r.Previous.ID == r.ID {
		return
	}
	e := AuditEntry{At: in.Now().UTC(), Subject: "gateway", Role: RoleOperator, Action: "followed-by",
		What: fmt.Sprintf("report %s version %d (%s)", r.ID, r.Version, r.Previous.relation()), Reports: []string{r.Previous.ID}, Outcome: "success"}
	if err := in.Audit.Audit(ctx, e); err != nil {
		in.Log.Error("could not link the earlier report to the new one", "report_id", r.ID, "previous_report_id", r.Previous.ID, "error", err)
	}
}

func (p *PreviousReport) relation() string {
	if p.Relation == "" {
		return "reinterpretation"
	}
	return p.Relation
}
