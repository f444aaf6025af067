package gateway

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Relations a report may have to the one it follows.
var Relations = set("reinterpretation", "reanalysis")

// named is the report r names as previous, as stored (that version, or
// the latest); nil when this gateway does not have it.
func (in *Intake) named(ctx context.Context, p *PreviousReport) (*Report, error) {
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

// samePatient says two reports identify their patient the same way: the
// same national number, else the same MRN from the same authority.
func samePatient(a, b *Report) bool {
	pa, pb := a.Patient, b.Patient
	for _, n := range [][2]string{{pa.NHSNumber, pb.NHSNumber}, {pa.CHINumber, pb.CHINumber}, {pa.HCNumber, pb.HCNumber}} {
		if n[0] != "" || n[1] != "" {
			return n[0] == n[1]
		}
	}
	return pa.MRN != "" && pa.MRN == pb.MRN && pa.MRNAuthority == pb.MRNAuthority
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
	// holds is the version of the report the destination was last sent in
	// full (nil: none, or it was told to withdraw it). An HL7 v2
	// destination is told to withdraw what it holds, not what it never had.
	holds *Report
	// withdraw, when set, is the version the destination holds for a
	// patient the new version is not about: it gets that version
	// withdrawn, and nothing of the new one.
	withdraw *Report
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

// lineage links r to the report it names as previous, if that report is
// stored here, is the same lab's and is about the same patient (linked;
// otherwise a warning says why not, and nobody is sent r on its account),
// completing the link with that report's version and order; and it states
// what changed since the earlier report: r's own previous version (given,
// as the caller has read it), else the linked one.
func (in *Intake) lineage(ctx context.Context, r *Report, previousVersion *Report) (linked bool, notes []Warning, err error) {
	r.Changes = nil
	var before *Report
	if p := r.Previous; p != nil && p.ID != "" && p.ID != r.ID {
		named, err := in.named(ctx, p)
		if err != nil {
			return false, nil, err
		}
		why := ""
		switch {
		case named == nil:
			why = "is not stored here"
		case named.PerformingLab.ODSCode != r.PerformingLab.ODSCode:
			why = "is another laboratory's"
		case !samePatient(named, r):
			why = "is about another patient"
		}
		if why != "" {
			notes = append(notes, Warning{Path: previousPath, Message: fmt.Sprintf("report %s %s: this report is not linked to it, and its recipients are not told of this one", p.ID, why)})
		} else {
			linked, before = true, named
			if p.Version == 0 {
				p.Version = named.Version
			}
			p.OrderNumber, p.OrderNumberLocal, p.OrderingTrust = named.OrderNumber, named.OrderNumberLocal, named.OrderingTrust.ODSCode
		}
	}
	if previousVersion != nil {
		before = previousVersion
	}
	r.Changes = reclassifications(r, before)
	return linked, notes, nil
}

// previousPath is where a report names the one it follows: every warning
// there (an id that cannot be, its own, or one lineage could not link)
// means the report was filed without that link.
const previousPath = "previous.id"

// NotLinked is why a report filed with warnings was not linked to the
// earlier report it names ("" when it was, or names none): what the
// console shows instead of a link.
func NotLinked(warnings []Warning) string {
	var why []string
	for _, w := range warnings {
		if w.Path == previousPath {
			why = append(why, w.Message)
		}
	}
	return strings.Join(why, "; ")
}

// routesFor is where r goes: the ordering trust's destinations, each
// copy-to recipient's, and every destination that holds an earlier version
// of r or of the report it re-interprets for r's patient (so everyone who
// had the old result hears of the new one, wherever routing points now).
// A destination holding a version of r for another patient (a correction
// moved the result) is routed to withdraw it, and gets nothing of r; one
// told to withdraw it already gets nothing more. Each destination once.
// trustRouted says the ordering trust has a destination of its own (else
// the report is held for it).
func (in *Intake) routesFor(ctx context.Context, r *Report, linked bool) (routes []addressed, trustRouted bool, notes []Warning, err error) {
	seen := map[string]bool{}
	add := func(rt Route, who string) {
		if !seen[rt.Destination] {
			seen[rt.Destination] = true
			routes = append(routes, addressed{Route: rt, Recipient: who})
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
	byName, _ := in.Router.(destinationRouter)
	if in.History == nil || byName == nil {
		return routes, trustRouted, notes, nil
	}
	var earlier []string
	if r.Version > 1 {
		earlier = append(earlier, r.ID)
	}
	if linked {
		earlier = append(earlier, r.Previous.ID)
	}
	versions := map[string]*Report{}
	versionOf := func(id string, v int) (*Report, error) {
		key := fmt.Sprint(id, "/", v)
		if got, ok := versions[key]; ok {
			return got, nil
		}
		rec, err := in.Reports.ReportVersion(ctx, id, v)
		if ErrorCode(err) == ENOTFOUND {
			return nil, nil // pruned: nothing of it is held to speak of
		}
		if err != nil {
			return nil, err
		}
		got, err := rec.DecodeReport()
		versions[key] = got
		return got, err
	}
	for _, id := range earlier {
		// What each destination holds: the version it was last sent (or is
		// still to be sent), leaving aside deliveries an operator cancelled.
		ds, err := in.History.Deliveries(ctx, DeliveryFilter{ReportID: id, Limit: 1000})
		if err != nil {
			return nil, false, nil, err
		}
		last := map[string]*Delivery{}
		var order []string
		for _, d := range ds {
			if d.ReportID != id || d.State == DeliveryCancelled || id == r.ID && d.Version >= r.Version {
				continue
			}
			if last[d.Destination] == nil {
				order = append(order, d.Destination)
			}
			// The latest version it was sent; of one version sent both ways
			// (a PDF destination told to withdraw the old patient's copy and
			// given the new one), the report itself.
			if l := last[d.Destination]; l == nil || d.Version > l.Version || d.Version == l.Version && l.Withdrawal && !d.Withdrawal {
				last[d.Destination] = d
			}
		}
		for _, dest := range order {
			d := last[dest]
			var held *Report
			if !d.Withdrawal {
				if held, err = versionOf(id, d.Version); err != nil {
					return nil, false, nil, err
				}
			}
			if id == r.ID {
				for i := range routes {
					if routes[i].Destination == dest {
						routes[i].holds = held
					}
				}
			}
			if seen[dest] || held == nil {
				continue // a recipient's own destination; or it holds nothing of the report
			}
			rt, ok := byName.Destination(dest)
			if !ok {
				notes = append(notes, Warning{Path: "previous", Message: fmt.Sprintf("destination %s, which had report %s version %d, is no longer configured: it is not told of this one", dest, d.ReportID, d.Version)})
				continue
			}
			switch {
			case !PatientChanged(held, r): // it has the result for this patient: it hears of the new one
				add(rt, d.Recipient)
			case id == r.ID: // it has the result for another patient: it is told to take it off
				add(rt, d.Recipient)
				routes[len(routes)-1].withdraw = held
			}
			// A re-interpretation of a report it holds for another patient
			// is not its business.
		}
	}
	return withdrawPDFs(routes, r), trustRouted, notes, nil
}

// withdrawPDFs adds, for each PDF destination of a current recipient that
// holds the report for another patient (a correction moved the result
// between patients of one trust), a withdrawal of what it holds beside
// the new version. An HL7 v2 EPR is told within the new message, and a
// FHIR one moves its DiagnosticReport by identifier; a PDF is a document
// filed under the patient it names, and stays there unless a withdrawal
// notice is filed under that patient too.
func withdrawPDFs(routes []addressed, r *Report) []addressed {
	for _, rt := range routes {
		if rt.Format == FormatPDF && rt.withdraw == nil && rt.holds != nil && PatientChanged(rt.holds, r) {
			routes = append(routes, addressed{Route: rt.Route, Recipient: rt.Recipient, withdraw: rt.holds})
		}
	}
	return routes
}

// linkBack records on the report r re-interprets that r now follows it,
// so the old report's journey leads to the new one.
func (in *Intake) linkBack(ctx context.Context, r *Report, linked bool) {
	if !linked || in.Audit == nil {
		return
	}
	e := AuditEntry{At: in.Now().UTC(), Subject: GatewaySubject, Role: RoleOperator, Action: "followed-by",
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
