package hl7v2

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/hl7"
)

// take returns the rows with code (and sub-ID, when given) not yet read, and marks them read.
func (d *decoder) take(code, sub string) []*obx {
	var out []*obx
	for _, r := range d.rows {
		if !r.used && r.code == code && (sub == "" || r.sub == sub) {
			r.used = true
			out = append(out, r)
		}
	}
	return out
}

// one is the text of the first row with code and sub-ID ("" if none).
func (d *decoder) one(code, sub string) (string, *obx) {
	rows := d.take(code, sub)
	if len(rows) == 0 {
		return "", nil
	}
	return d.text(rows[0]), rows[0]
}

// localRows reads the report-wide rows: the LOINC overall interpretation,
// narrative, reason for study, diseases assessed and variants tested, and
// the rows the gateway itself writes (local system 99RGW) for what LOINC
// has no code for, so its own ORU reads back to the same report.
func (d *decoder) localRows() {
	r := d.r
	if v, row := d.one(rgwKind, ""); row != nil {
		r.Kind = v
	}
	if v, row := d.one(rgwReportID, ""); row != nil {
		r.ID = v // the report's own id, when OBR-3 holds its first test's number
	}
	if v, row := d.one(rgwVersion, ""); row != nil {
		r.Version, _ = strconv.Atoi(v)
	}
	if s, row := d.one(rgwStatus, ""); row != nil {
		r.Status = gateway.Status(s)
	}
	if name, row := d.one(rgwLabName, ""); row != nil {
		r.PerformingLab.Name = name
	}
	if name, row := d.one(rgwTrustName, ""); row != nil {
		r.OrderingTrust.Name = name
	}
	r.Test.Method, _ = d.one(rgwMethod, "")
	for _, row := range d.take(lnOverall, "") {
		if r.Result.Outcome != "" {
			d.unreadable(row, "a second overall interpretation")
			continue
		}
		r.Result.Outcome = d.answer(row, "result.outcome", fromOutcome)
		d.at("result.outcome", row.seg, 5, 0)
	}
	for _, row := range d.take(lnReason, "") {
		r.Test.Reason = strings.TrimSpace(strings.Join(nonEmpty(r.Test.Reason, d.text(row)), "\n"))
	}
	for _, row := range d.take(lnDisease, "") {
		r.Test.Conditions = append(r.Test.Conditions, d.coding(row.value))
	}
	for _, row := range d.take(lnTested, "") {
		r.Test.VariantsTested = append(r.Test.VariantsTested, d.comp(row.value, 1))
	}
	for _, row := range d.take(lnNarrative, "") {
		d.narrative = append(d.narrative, d.textBlock(row))
	}
	d.take(rgwChanges, "") // the gateway's own statement of what changed: made again at intake
	if r.Previous != nil {
		if v, row := d.one(rgwPrevVersion, ""); row != nil {
			r.Previous.Version, _ = strconv.Atoi(v)
		}
		r.Previous.Relation, _ = d.one(rgwRelation, "")
		if r.Previous.Relation == "" {
			r.Previous.Relation = "reinterpretation"
		}
	}
	r.Result.Conclusion, _ = d.one(rgwConclusion, "")
	r.Result.Interpretation, _ = d.one(rgwInterpretation, "")
	r.Result.Limitations, _ = d.one(rgwLimitations, "")
	d.panels()
	d.relatives()
	d.ownAuthorisers()
	d.ownSpecimens()
}

func nonEmpty(values ...string) []string {
	var out []string
	for _, v := range values {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

func (d *decoder) panels() {
	for i := 1; ; i++ {
		sub := "P" + strconv.Itoa(i)
		rows := d.take(rgwPanel, sub)
		if len(rows) == 0 {
			return
		}
		p := gateway.Panel{PanelAppID: d.comp(rows[0].value, 1), Name: d.comp(rows[0].value, 2), Version: d.comp(rows[0].value, 7)}
		for _, g := range d.take(rgwPanelGene, sub) {
			p.Genes = append(p.Genes, gateway.Gene{HGNCID: d.comp(g.value, 1), Symbol: d.comp(g.value, 2)})
		}
		d.r.Test.Panels = append(d.r.Test.Panels, p)
	}
}

// numbered calls fn for each of the gateway's numbered sub-ID groups
// (prefix F for relatives: F1, F2 ...) while the group's first row is there.
func (d *decoder) numbered(prefix, code string, fn func(i int, sub, value string, row *obx)) {
	for i := 1; ; i++ {
		sub := prefix + strconv.Itoa(i)
		value, row := d.one(code, sub)
		if row == nil {
			return
		}
		fn(i-1, sub, value, row)
	}
}

func (d *decoder) relatives() {
	d.numbered("F", rgwRelationship, func(i int, sub, rel string, row *obx) {
		nhs, _ := d.one(rgwRelativeNHS, sub)
		labID, _ := d.one(rgwRelativeLabID, sub)
		affected, _ := d.one(rgwAffected, sub)
		d.r.Relatives = append(d.r.Relatives, gateway.Relative{Relationship: rel, NHSNumber: nhs, LabID: labID, Affected: affected})
		d.at(fmt.Sprintf("relatives[%d]", i), row.seg, 5, 0)
	})
}

func (d *decoder) ownAuthorisers() {
	d.numbered("A", rgwAuthName, func(i int, sub, name string, row *obx) {
		role, _ := d.one(rgwAuthRole, sub)
		at, _ := d.one(rgwAuthAt, sub)
		a := gateway.Authoriser{Name: name, Role: role, AuthorisedAt: at}
		if rows := d.take(rgwAuthReg, sub); len(rows) > 0 {
			a.Registration = gateway.Registration{Number: d.comp(rows[0].value, 1), Body: d.comp(rows[0].value, 3)}
		}
		d.r.Authorisers = append(d.r.Authorisers, a)
		d.at(fmt.Sprintf("authorisers[%d]", i), row.seg, 5, 0)
	})
}

func (d *decoder) ownSpecimens() {
	d.numbered("S", rgwSpecimenID, func(i int, sub, id string, row *obx) {
		typ, _ := d.one(rgwSpecimenType, sub)
		collected, _ := d.one(rgwCollected, sub)
		received, _ := d.one(rgwReceived, sub)
		d.r.Specimens = append(d.r.Specimens, gateway.Specimen{ID: id, Type: typ, Collected: collected, Received: received})
		d.at(fmt.Sprintf("specimens[%d]", i), row.seg, 5, 0)
	})
}

// specimens reads SPM segments (2.5), else OBR-7 collected, OBR-14
// received and OBR-15 source (2.3, 2.4), else OBX-14. What is not in the
// message stays out of the report: nothing is invented.
func (d *decoder) specimens() {
	r := d.r
	if len(r.Specimens) > 0 { // the gateway's own rows; SPM and OBR say the same for other readers
		for _, g := range d.groups {
			d.use(g.obr, 7, 14, 15)
			for _, s := range g.spms {
				d.use(s, fieldsOf(s)...)
			}
		}
		return
	}
	for _, g := range d.groups {
		for _, s := range g.spms {
			d.use(s, 1)
			id := first(d.m.Subcomponent(d.m.Component(d.raw(s, 2), 1), 1), d.m.Subcomponent(d.m.Component(s.Field(2), 2), 1))
			id = strings.Trim(idUnsafe.ReplaceAllString(d.m.Unescape(id), "-"), "-._")
			if id == "" {
				id = r.ID + "-S" + strconv.Itoa(len(r.Specimens)+1)
			}
			r.Specimens = append(r.Specimens, gateway.Specimen{ID: id, Type: first(d.val(s, 4, 2), d.val(s, 4, 1)),
				Collected: hlTime(d.val(s, 17, 1)), Received: hlTime(d.val(s, 18, 1))})
			d.at(fmt.Sprintf("specimens[%d]", len(r.Specimens)-1), s, 2, 0)
		}
	}
	if len(r.Specimens) > 0 || !r.IsGenomic() {
		return // a laboratory report's sample times are on each test (OBR-7)
	}
	obr := d.groups[0].obr
	collected, received := hlTime(d.val(obr, 7, 1)), hlTime(d.val(obr, 14, 1))
	source := first(d.val(obr, 15, 2), d.val(obr, 15, 1))
	d.at("specimens[0].collected", obr, 7, 0)
	d.at("specimens[0].received", obr, 14, 0)
	if collected == "" {
		for _, row := range d.rows {
			if t := hlTime(d.val(row.seg, 14, 1)); t != "" {
				collected = t
				d.warn("specimens[0].collected", obr, 7, "no collection time in OBR-7: the observation time %s is used", where(d.loc(row.seg, 14, 0)))
				break
			}
		}
	}
	if collected == "" && received == "" && source == "" {
		d.warn("specimens", obr, 7, "no specimen (SPM, or OBR-7, OBR-14, OBR-15): the report names none")
		return
	}
	r.Specimens = []gateway.Specimen{{ID: r.ID + "-S1", Type: source, Collected: collected, Received: received}}
	d.at("specimens[0]", obr, 7, 0)
}

// rowNotes are the NTEs after a row, as text.
func (d *decoder) rowNotes(row *obx) []string { return d.claim(row.notes) }

// groupNotes are the NTEs after an OBR, as text.
func (d *decoder) groupNotes(g *group) []string { return d.claim(g.notes) }

// claim takes the text of NTEs not yet kept elsewhere, so each is kept once.
func (d *decoder) claim(notes []*hl7.Segment) []string {
	var out []string
	for _, nte := range notes {
		if d.claimed[nte] {
			continue
		}
		d.claimed[nte] = true
		if t := d.noteText(nte); t != "" {
			out = append(out, t)
		}
	}
	return out
}
