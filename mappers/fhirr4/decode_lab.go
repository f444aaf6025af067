package fhirr4

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// labGroup reads a panel Observation (one test, an HL7 v2 OBR: a full blood
// count) and the results it has as members.
func (d *fhirDecoder) labGroup(e bundleEntry) gateway.ResultGroup {
	p := e.res
	g := gateway.ResultGroup{Status: d.statusIfDifferent(p.str("status")), Collected: p.str("effectiveDateTime")}
	if c := d.conceptBack(p.obj("code")); c != nil && !(c.Code == "" && c.Display == "Result") {
		g.Code = *c
	}
	for _, id := range p.list("identifier") {
		if strings.Contains(id.str("system"), "/Id/lab-number/") {
			g.ID = id.str("value")
		}
	}
	for _, n := range p.list("note") {
		g.Notes = append(g.Notes, n.str("text"))
	}
	if len(p.list("hasMember")) == 0 && hasValue(p) {
		// A single result named directly by the report (a blood pressure, an
		// HbA1c), not a panel: its own group of one.
		g.Observations = append(g.Observations, d.labResult(p))
		d.labComponents(e)
		return g
	}
	for i, m := range p.list("hasMember") {
		member, ok := d.resolve(m, e)
		if !ok {
			d.unmap(fmt.Sprintf("%s.hasMember[%d]", e.path, i), "", "", "the result is not in the Bundle")
			continue
		}
		g.Observations = append(g.Observations, d.labResult(member.res))
		d.labComponents(member)
	}
	return g
}

// hasValue says an Observation holds a result of its own: a value[x], a
// reason it has none, or components.
func hasValue(o jnode) bool {
	for k := range o {
		if strings.HasPrefix(k, "value") || k == "dataAbsentReason" || k == "component" {
			return true
		}
	}
	return false
}

// statusIfDifferent is an Observation's status when it differs from the
// report's (the gateway writes the report's when a result has none).
func (d *fhirDecoder) statusIfDifferent(s string) gateway.Status {
	st := reportStatus(s)
	if st == d.r.Status {
		return ""
	}
	return st
}

// labResult reads one result: its value as written, unit, range, flag, or
// why there is none.
func (d *fhirDecoder) labResult(o jnode) gateway.Observation {
	r := gateway.Observation{Status: d.statusIfDifferent(o.str("status")), ReferenceRange: firstRangeText(o)}
	if c := d.conceptBack(o.obj("code")); c != nil && !(c.Code == "" && c.Display == "Result") {
		r.Code = *c
	}
	r.Observed = o.str("effectiveDateTime")
	for _, i := range o.list("interpretation") {
		if code, _, ok := i.coding(systemInterpret); ok {
			r.Interpretation = code
		} else {
			r.Interpretation = i.str("text")
		}
	}
	for _, n := range o.list("note") {
		r.Notes = append(r.Notes, n.str("text"))
	}
	if dar := o.obj("dataAbsentReason"); dar != nil {
		r.AbsentReason, _, _ = dar.coding(systemDataAbsent)
		r.ValueType = gateway.ValueText
		for _, c := range dar.list("coding") {
			if c.str("system") != systemDataAbsent {
				lab := d.codingBack(c, dar.str("text"))
				r.Coded, r.ValueType = &lab, gateway.ValueCoded
			}
		}
		if r.Coded == nil {
			r.Value = dar.str("text")
		}
		if q := o.obj("valueQuantity"); q != nil {
			r.Unit = q.str("unit")
		}
		r.Unit = firstRangeUnit(o, r.Unit)
		return r
	}
	switch {
	case o.obj("valueQuantity") != nil:
		q := o.obj("valueQuantity")
		r.ValueType, r.Value, r.Unit, r.Comparator = gateway.ValueQuantity, decimalText(q["value"]), q.str("unit"), q.str("comparator")
		if code := q.str("code"); code != "" {
			if derived, ok := UCUM(r.Unit); !ok || derived != code {
				r.UnitCode = code // the lab's own UCUM code, not the gateway's reading of its unit
			}
		}
	case o.obj("valueRatio") != nil:
		q := o.obj("valueRatio")
		r.ValueType, r.Value = gateway.ValueRatio, decimalText(q.obj("numerator")["value"])+":"+decimalText(q.obj("denominator")["value"])
	case o.obj("valueRange") != nil:
		q := o.obj("valueRange")
		r.ValueType, r.Value, r.Unit = gateway.ValueRange, decimalText(q.obj("low")["value"])+"-"+decimalText(q.obj("high")["value"]), q.obj("low").str("unit")
	case o.obj("valueCodeableConcept") != nil:
		r.ValueType, r.Coded = gateway.ValueCoded, d.conceptBack(o.obj("valueCodeableConcept"))
	case o.str("valueDateTime") != "":
		r.ValueType, r.Value = gateway.ValueDateTime, o.str("valueDateTime")
	default:
		r.ValueType, r.Value = gateway.ValueText, o.str("valueString")
	}
	if r.Unit == "" {
		r.Unit = firstRangeUnit(o, "")
	}
	return r
}

// firstRangeText is the first reference range as text: its own, else
// its low and high ("115-165", "<=5", ">=30") in the result's unit.
func firstRangeText(o jnode) string {
	for _, rr := range o.list("referenceRange") {
		if t := rr.str("text"); t != "" {
			return t
		}
		low, high := decimalText(rr.obj("low")["value"]), decimalText(rr.obj("high")["value"])
		switch {
		case low != "" && high != "":
			return low + "-" + high
		case high != "": // FHIR's bounds are inclusive
			return "<=" + high
		case low != "":
			return ">=" + low
		}
	}
	return ""
}

// labComponents lists a result's components (a blood pressure's systolic
// and diastolic), which a laboratory result has no place for, as
// unmapped with their values: never dropped without a word.
func (d *fhirDecoder) labComponents(e bundleEntry) {
	for i, c := range e.res.list("component") {
		d.unmap(fmt.Sprintf("%s.component[%d]", e.path, i), firstCode(c.obj("code")), strings.TrimSpace(c.obj("code").text()+" "+componentValue(c)),
			"a component of a laboratory result: the gateway files a result's own value only")
	}
}

// firstRangeUnit is the unit the reference range was written in, for a
// result whose value carries none.
func firstRangeUnit(o jnode, unit string) string {
	if unit != "" {
		return unit
	}
	for _, rr := range o.list("referenceRange") {
		for _, b := range []string{"low", "high"} {
			if u := rr.obj(b).str("unit"); u != "" {
				return u
			}
		}
	}
	return ""
}

// decimalText is a FHIR decimal as written (read with json.Number).
func decimalText(v any) string {
	switch n := v.(type) {
	case json.Number:
		return n.String()
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}
