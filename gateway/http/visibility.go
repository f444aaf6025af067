package httpapi

import (
	"context"
	"slices"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// visibility is what one caller may see of a report's history (its
// journey, its deliveries). A correction can move a report to another
// patient at another trust, so who may read it changes from version to
// version: a caller sees only the versions it may read, by the rule the
// pull API and vread use (Principal.CanRead), and of those a trust sees
// only its own organisation's deliveries (or those of a trust whose
// reports it reads by configured sharing). A lab sends the report: it
// sees every delivery of its versions. Accesses are shown only when made
// by the caller's organisation, the report's lab or the gateway itself.
// Operators see everything.
type visibility struct {
	p        gateway.Principal
	reportID string
	lab      string
	readable map[int]*gateway.ReportRecord // the versions p may read
}

func newVisibility(p gateway.Principal, rec *gateway.ReportRecord) *visibility {
	v := &visibility{p: p, reportID: rec.ID, lab: rec.LabODS, readable: map[int]*gateway.ReportRecord{}}
	v.add(rec)
	return v
}

// all says the caller sees everything: operators.
func (v *visibility) all() bool { return v.p.Role == gateway.RoleOperator }

// add notes a version of the report, readable or not.
func (v *visibility) add(rec *gateway.ReportRecord) {
	if rec.ID == v.reportID && v.p.CanRead(rec) {
		v.readable[rec.Version] = rec
	}
}

// loadFor reads the versions the deliveries are of (the Bundle only, as
// the pull API does), so delivery can tell which the caller may read. A
// pruned version is not readable. Operators need none of it.
func (s *server) loadFor(ctx context.Context, v *visibility, deliveries []*gateway.Delivery) error {
	if v.all() {
		return nil
	}
	seen := map[int]bool{}
	for _, d := range deliveries {
		if _, ok := v.readable[d.Version]; ok || seen[d.Version] || d.ReportID != v.reportID {
			continue
		}
		seen[d.Version] = true
		rec, err := s.Reports.ReportBundle(ctx, v.reportID, d.Version)
		if gateway.ErrorCode(err) == gateway.ENOTFOUND {
			continue
		}
		if err != nil {
			return err
		}
		v.add(rec)
	}
	return nil
}

// version says whether the caller may see version n: its receipt,
// warnings and unmapped content.
func (v *visibility) version(n int) bool {
	if v.all() {
		return true
	}
	_, ok := v.readable[n]
	return ok
}

// recipient says whether the caller may see what went to organisation ods
// with version rec: a trust its own deliveries, or those to a trust whose
// reports it may read by sharing when rec is that trust's order (the rule
// of CanRead); a lab everything of its report.
func (v *visibility) recipient(ods string, rec *gateway.ReportRecord) bool {
	switch {
	case v.all():
		return true
	case v.p.Role == gateway.RoleLab:
		return true // rec is readable, so it is the lab's own
	case v.p.Role != gateway.RoleTrust || v.p.ODSCode == "":
		return false
	}
	return ods == v.p.ODSCode || ods == rec.TrustODS && slices.Contains(v.p.AlsoTrusts, ods)
}

// delivery says whether the caller may see d: a delivery of a version it
// may read, to a recipient it may see.
func (v *visibility) delivery(d *gateway.Delivery) bool {
	if v.all() {
		return true
	}
	if d.Withdrawal && d.ReportID == v.reportID && v.p.Role == gateway.RoleTrust && d.Recipient != "" && d.Recipient == v.p.ODSCode {
		// The trust's own destination told to take back what it holds of
		// an earlier version: about the trust's own patient, and what the
		// trust must know went (or is dead) there.
		return true
	}
	rec, ok := v.readable[d.Version]
	if !ok || d.ReportID != v.reportID {
		return false
	}
	who := d.Recipient
	if who == "" {
		who = rec.TrustODS // a delivery made before recipients were recorded
	}
	return v.recipient(who, rec)
}

// deliveries is the ones of ds the caller may see.
func (v *visibility) deliveries(ds []*gateway.Delivery) []*gateway.Delivery {
	if v.all() {
		return ds
	}
	var out []*gateway.Delivery
	for _, d := range ds {
		if v.delivery(d) {
			out = append(out, d)
		}
	}
	return out
}

// access says whether the caller may see an access to the report: one by
// its own organisation, by the report's lab, or by the gateway itself (a
// later report following this one). Other organisations' and operators'
// accesses are theirs.
func (v *visibility) access(e gateway.AuditEntry) bool {
	switch {
	case v.all():
		return true
	case e.Subject == gateway.GatewaySubject && e.Role == gateway.RoleOperator && e.ODSCode == "":
		return true
	case e.ODSCode == "":
		return false
	case e.Role == v.p.Role && e.ODSCode == v.p.ODSCode:
		return true
	}
	return e.Role == gateway.RoleLab && e.ODSCode == v.lab
}

// recipients is the states of rec's recipients the caller may see.
func (v *visibility) recipients(states []gateway.RecipientState, rec *gateway.ReportRecord) []gateway.RecipientState {
	if v.all() {
		return states
	}
	out := []gateway.RecipientState{}
	for _, st := range states {
		if v.recipient(st.ODSCode, rec) {
			out = append(out, st)
		}
	}
	return out
}
