package fhirr4

import (
	"regexp"
	"strings"

	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	obspb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/observation_go_proto"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// resultEntries adds the ordinary results: an Observation per result and,
// per group (an HL7 v2 OBR such as a full blood count), a panel Observation
// whose hasMember lists them. The report's result points at the panels.
func (b *builder) resultEntries() {
	for i := range b.r.ResultGroups {
		g := &b.r.ResultGroups[i]
		gkey := b.r.ID + "-g" + itoa(i+1)
		var members []*d4pb.Reference
		for j := range g.Observations {
			o := b.labObservation(g, &g.Observations[j], gkey+"-o"+itoa(j+1))
			members = append(members, ref(b.conditionalUpdate("result-"+gkey+"-"+itoa(j+1), "Observation",
				identifier{b.m.system("observation"), gkey + "-o" + itoa(j+1)}, observation(o)), g.Observations[j].Code.Text()))
		}
		panel := b.labBase(g, g.Code, g.Status, g.Collected, gkey)
		panel.HasMember = members
		for _, n := range g.Notes {
			panel.Note = append(panel.Note, &d4pb.Annotation{Text: &d4pb.Markdown{Value: n}})
		}
		if g.ID != "" {
			panel.Identifier = append(panel.Identifier, ident(b.m.system("lab-number/"+b.r.PerformingLab.ODSCode), g.ID))
		}
		b.panels = append(b.panels, b.conditionalUpdate("panel-"+gkey, "Observation",
			identifier{b.m.system("observation"), gkey}, observation(panel)))
	}
}

// labBase fills what every laboratory Observation shares.
func (b *builder) labBase(g *gateway.ResultGroup, code gateway.Coding, status gateway.Status, when, key string) *obspb.Observation {
	if status == "" {
		status = b.r.Status
	}
	o := &obspb.Observation{
		Identifier: []*d4pb.Identifier{ident(b.m.system("observation"), key)},
		Status:     &obspb.Observation_StatusCode{Value: observationStatuses[status]},
		Category:   []*d4pb.CodeableConcept{concept(systemObsCategory, "laboratory", "Laboratory")},
		Code:       b.conceptOf(code),
		Subject:    ref(b.patient, ""),
		Issued:     instant(b.r.Issued),
		Performer:  []*d4pb.Reference{ref(b.lab, b.r.PerformingLab.Name)},
	}
	if o.Code == nil {
		o.Code = text("Result")
	}
	if when == "" {
		when = g.Collected
	}
	if t := dateTime(when); t != nil {
		o.Effective = &obspb.Observation_EffectiveX{Choice: &obspb.Observation_EffectiveX_DateTime{DateTime: t}}
	}
	return o
}

// labObservation maps one result: its value as the lab wrote it (the
// number's digits kept), UCUM where the unit maps, the reference range,
// the abnormal flag, or why there is no value.
func (b *builder) labObservation(g *gateway.ResultGroup, r *gateway.Observation, key string) *obspb.Observation {
	o := b.labBase(g, r.Code, r.Status, r.Observed, key)
	if r.AbsentReason != "" {
		cc := concept(systemDataAbsent, r.AbsentReason, absentDisplays[r.AbsentReason])
		if r.Coded != nil {
			cc.Text = optStr(r.Coded.Text()) // the lab's own words: "Not assayed"
			if lab := b.codingOf(*r.Coded); lab != nil {
				cc.Coding = append(cc.Coding, lab) // and its code
			}
		} else {
			cc.Text = optStr(r.Value)
		}
		o.DataAbsentReason = cc
	} else if v := b.labValue(r); v != nil {
		o.Value = v
	}
	if r.Interpretation != "" {
		o.Interpretation = []*d4pb.CodeableConcept{interpretation(r.Interpretation)}
	}
	if r.ReferenceRange != "" {
		o.ReferenceRange = []*obspb.Observation_ReferenceRange{referenceRange(r.ReferenceRange, r.Unit)}
	}
	for _, n := range r.Notes {
		o.Note = append(o.Note, &d4pb.Annotation{Text: &d4pb.Markdown{Value: n}})
	}
	return o
}

func (b *builder) labValue(r *gateway.Observation) *obspb.Observation_ValueX {
	switch r.ValueType {
	case gateway.ValueQuantity:
		q := quantity(r.Value, r.Unit, r.Comparator)
		if r.UnitCode != "" { // the lab's own UCUM code beats the gateway's reading of its unit text
			q.System, q.Code = uri(systemUCUM), &d4pb.Code{Value: r.UnitCode}
		}
		return &obspb.Observation_ValueX{Choice: &obspb.Observation_ValueX_Quantity{Quantity: q}}
	case gateway.ValueRatio:
		x, y, _ := strings.Cut(r.Value, ":")
		return &obspb.Observation_ValueX{Choice: &obspb.Observation_ValueX_Ratio{Ratio: &d4pb.Ratio{
			Numerator: quantity(x, "", ""), Denominator: quantity(y, "", "")}}}
	case gateway.ValueRange:
		x, y := splitRange(r.Value)
		return &obspb.Observation_ValueX{Choice: &obspb.Observation_ValueX_Range{Range: &d4pb.Range{
			Low: simple(x, r.Unit), High: simple(y, r.Unit)}}}
	case gateway.ValueCoded:
		if r.Coded != nil {
			if cc := b.conceptOf(*r.Coded); cc != nil {
				return &obspb.Observation_ValueX{Choice: &obspb.Observation_ValueX_CodeableConcept{CodeableConcept: cc}}
			}
		}
	case gateway.ValueDateTime:
		if t := dateTime(r.Value); t != nil {
			return &obspb.Observation_ValueX{Choice: &obspb.Observation_ValueX_DateTime{DateTime: t}}
		}
	}
	if r.Value == "" {
		return nil
	}
	text := r.Value
	if r.Unit != "" { // a number sent as text keeps its unit: "68 /min", never a bare 68
		text += " " + r.Unit
	}
	return &obspb.Observation_ValueX{Choice: &obspb.Observation_ValueX_StringValue{StringValue: str(text)}}
}

// splitRange splits "2-5" (or "-3--1") into its two numbers.
func splitRange(s string) (string, string) {
	if i := strings.Index(s[min(1, len(s)):], "-"); i >= 0 {
		return s[:i+1], s[i+2:]
	}
	return s, ""
}

var comparators = map[string]c4pb.QuantityComparatorCode_Value{
	"<": c4pb.QuantityComparatorCode_LESS_THAN, "<=": c4pb.QuantityComparatorCode_LESS_THAN_OR_EQUAL_TO,
	">": c4pb.QuantityComparatorCode_GREATER_THAN, ">=": c4pb.QuantityComparatorCode_GREATER_THAN_OR_EQUAL_TO,
}

// quantity keeps the number as written and the unit as sent, with its UCUM code when it has one.
func quantity(value, unit, comparator string) *d4pb.Quantity {
	q := &d4pb.Quantity{Value: &d4pb.Decimal{Value: value}, Unit: optStr(unit)}
	if code, ok := UCUM(unit); ok {
		q.System, q.Code = uri(systemUCUM), &d4pb.Code{Value: code}
	}
	if c, ok := comparators[comparator]; ok {
		q.Comparator = &d4pb.Quantity_ComparatorCode{Value: c}
	}
	return q
}

func simple(value, unit string) *d4pb.SimpleQuantity {
	if value == "" {
		return nil
	}
	q := &d4pb.SimpleQuantity{Value: &d4pb.Decimal{Value: value}, Unit: optStr(unit)}
	if code, ok := UCUM(unit); ok {
		q.System, q.Code = uri(systemUCUM), &d4pb.Code{Value: code}
	}
	return q
}

var rangePattern = regexp.MustCompile(`^\s*(-?\d+(?:\.\d+)?)\s*-\s*(-?\d+(?:\.\d+)?)\s*$`)
var boundPattern = regexp.MustCompile(`^\s*([<>]=?)\s*(-?\d+(?:\.\d+)?)\s*$`)

// referenceRange keeps the lab's text and reads its bounds when it can:
// "130-180", "<48", ">5".
func referenceRange(s, unit string) *obspb.Observation_ReferenceRange {
	rr := &obspb.Observation_ReferenceRange{Text: str(s)}
	if m := rangePattern.FindStringSubmatch(s); m != nil {
		rr.Low, rr.High = simple(m[1], unit), simple(m[2], unit)
	} else if m := boundPattern.FindStringSubmatch(s); m != nil {
		if strings.HasPrefix(m[1], "<") {
			rr.High = simple(m[2], unit)
		} else {
			rr.Low = simple(m[2], unit)
		}
	}
	return rr
}

// interpretation maps an HL7 v2 abnormal flag (table 0078) to the FHIR
// ObservationInterpretation code with the same meaning.
func interpretation(flag string) *d4pb.CodeableConcept {
	if display, ok := interpretations[flag]; ok {
		return concept(systemInterpret, flag, display)
	}
	return text(flag)
}

var interpretations = map[string]string{
	"N": "Normal", "A": "Abnormal", "AA": "Critical abnormal", "H": "High", "HH": "Critical high", "L": "Low",
	"LL": "Critical low", "<": "Off scale low", ">": "Off scale high", "I": "Intermediate", "R": "Resistant",
	"S": "Susceptible", "POS": "Positive", "NEG": "Negative", "IND": "Indeterminate", "DET": "Detected", "ND": "Not detected",
	"U": "Significant change up", "D": "Significant change down", "B": "Better", "W": "Worse",
}

var absentDisplays = map[string]string{
	"not-performed": "Not Performed", "error": "Error", "unknown": "Unknown", "not-applicable": "Not Applicable",
	"asked-unknown": "Asked But Unknown", "temp-unknown": "Temporarily Unknown", "masked": "Masked",
}
