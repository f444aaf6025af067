package fhirr4

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// results reads the report's results: each variant Observation, and each
// implication derived from one (also when only the implication is listed).
func (d *fhirDecoder) results(dr bundleEntry) {
	variants := map[string]int{} // the variant entry's path → index in Variants
	var implications []bundleEntry
	for i, rr := range dr.res.list("result") {
		e, ok := d.resolve(rr, dr)
		if !ok {
			d.unmap(fmt.Sprintf("%s.result[%d]", dr.path, i), "", rr.str("reference"), "the result is not in the Bundle")
			continue
		}
		code := e.res.obj("code")
		switch {
		case hasCode(code, systemLOINC, "69548-6"):
			variants[e.path] = len(d.r.Variants)
			d.at(fmt.Sprintf("variants[%d]", len(d.r.Variants)), e.path)
			d.r.Variants = append(d.r.Variants, d.variant(e, len(d.r.Variants)))
		case hasCode(code, systemTBD, "diagnostic-implication"):
			implications = append(implications, e)
		default:
			d.at(fmt.Sprintf("resultGroups[%d]", len(d.r.ResultGroups)), e.path)
			d.r.ResultGroups = append(d.r.ResultGroups, d.labGroup(e))
		}
	}
	for _, e := range implications {
		target := -1
		for _, df := range e.res.list("derivedFrom") {
			if v, ok := d.resolve(df, e); ok {
				if n, found := variants[v.path]; found {
					target = n
				}
			}
		}
		if target < 0 {
			d.unmap(e.path, "diagnostic-implication", "", "an implication derived from no variant of the report")
			continue
		}
		d.implication(e, &d.r.Variants[target])
	}
}

func firstCode(cc jnode) string {
	for _, c := range cc.list("coding") {
		return c.str("code")
	}
	return ""
}

// components indexes an Observation's components by their code.
func componentsByCode(o jnode) map[string][]jnode {
	byCode := map[string][]jnode{}
	for _, c := range o.list("component") {
		for _, cd := range c.obj("code").list("coding") {
			byCode[cd.str("code")] = append(byCode[cd.str("code")], c)
		}
	}
	return byCode
}

func answerOf(c jnode, answers map[string]answer) (string, bool) {
	cc := c.obj("valueCodeableConcept")
	code, _, _ := cc.coding(systemLOINC)
	for key, a := range answers {
		if a.code == code && key != "" {
			return key, true
		}
	}
	return "", false
}

func conceptCode(c jnode, system string) string {
	code, _, _ := c.obj("valueCodeableConcept").coding(system)
	return code
}

func (d *fhirDecoder) variant(e bundleEntry, n int) gateway.Variant {
	o := e.res
	v := gateway.Variant{ID: "v" + strconv.Itoa(n+1)}
	for _, id := range o.list("identifier") {
		if key, ok := strings.CutPrefix(id.str("value"), d.r.ID+"-"); ok && strings.HasSuffix(id.str("system"), "/Id/variant") {
			v.ID = key
		}
	}
	if code, _, _ := o.obj("valueCodeableConcept").coding(systemLOINC); code != "" {
		for key, a := range assessmentAnswers {
			if a.code == code && key != "" && key != "present" {
				v.Assessment = key
			}
		}
	}
	// The gateway writes "Sequencing" (no text) when the lab named no method
	// and the test was sequenced; a lab's own method carries its text.
	if m := o.obj("method"); m != nil && (m.str("text") != "" || !hasCode(m, systemLOINC, "LA26398-0")) {
		for _, c := range m.list("coding") {
			mc := d.codingBack(c, m.str("text"))
			v.Method = &mc
			break
		}
	}
	comps := componentsByCode(o)
	read := map[string]bool{} // the component codes looked for: any other is listed below
	all := func(code string) []jnode {
		read[code] = true
		return comps[code]
	}
	one := func(code string) jnode {
		if list := all(code); len(list) > 0 {
			return list[0]
		}
		return nil
	}
	defer d.unreadVariantParts(e, read)
	// A repeat's motif is in its HGVS, which is read. The positions are
	// filed 1-based, as HGVS counts: another coordinate system is said.
	all("repeat-motif")
	if c := one("92822-6"); c != nil {
		if code, _, _ := c.obj("valueCodeableConcept").coding(systemLOINC); code != "LA30102-0" {
			at := e.path + ".component"
			d.warn("variants", at, "the variant's coordinates are %q, not 1-based character counting: its positions are filed as given, which the report reads as 1-based", c.obj("valueCodeableConcept").text())
			d.unmap(at, code, c.obj("valueCodeableConcept").text(), "a coordinate system other than 1-based: the positions were not converted")
		}
	}
	if g := one("48018-6"); g != nil {
		cc := g.obj("valueCodeableConcept")
		if code, display, ok := cc.coding(systemHGNC); ok {
			v.Gene = gateway.Gene{Symbol: display, HGNCID: code}
		} else {
			v.Gene.Symbol = cc.text()
		}
	}
	v.HGVS.C = conceptCode(one("48004-6"), systemHGVS)
	v.HGVS.P = conceptCode(one("48005-3"), systemHGVS)
	v.HGVS.G = conceptCode(one("81290-9"), systemHGVS)
	if c := one("48013-7"); c != nil {
		ref := conceptCode(c, systemRefSeq)
		if t := c.obj("valueCodeableConcept").str("text"); t != "" {
			v.GenomicReference = t
		} else if g, _, _ := strings.Cut(v.HGVS.G, ":"); ref != g {
			v.GenomicReference = ref // named by the lab, not implied by the g. HGVS
		}
	}
	v.Transcript = conceptCode(one("51958-7"), systemRefSeq)
	if c := one("62374-4"); c != nil {
		v.GenomeBuild, _ = answerOf(c, buildAnswers)
	}
	if c := one("48000-4"); c != nil {
		v.Chromosome, _ = answerOf(c, chromosomeAnswers)
	}
	if c := one("48001-2"); c != nil {
		v.CytogeneticLocation = c.obj("valueCodeableConcept").text()
	}
	for _, code := range []string{"81254-5", "81302-2"} {
		if c := one(code); c != nil {
			rng := c.obj("valueRange")
			v.Start = int64(number(rng.obj("low")["value"]))
			if end := int64(number(rng.obj("high")["value"])); end != v.Start {
				v.End = end
			}
		}
	}
	if c := one("69547-8"); c != nil {
		v.Ref = c.str("valueString")
	}
	if v.End != 0 && v.End == impliedEnd(&v) {
		v.End = 0 // the end the reference allele implies: the report gave only the start
	}
	if c := one("69551-0"); c != nil {
		v.Alt = c.str("valueString")
	}
	if c := one("48019-4"); c != nil {
		cc := c.obj("valueCodeableConcept")
		for t, name := range gateway.VariantTypeNames {
			if cc.str("text") == name {
				v.Type = t
			}
		}
		for _, cd := range cc.list("coding") {
			if cd.str("system") != systemSO {
				lab := d.codingBack(cd, "")
				v.ChangeType = &lab
			}
		}
	}
	if c := one("48006-1"); c != nil {
		v.AminoAcidChangeType = d.conceptBack(c.obj("valueCodeableConcept"))
	}
	if c := one("83005-9"); c != nil {
		v.Category = d.conceptBack(c.obj("valueCodeableConcept"))
	}
	for _, c := range all("81252-9") {
		if cc := d.conceptBack(c.obj("valueCodeableConcept")); cc != nil {
			v.Identifiers = append(v.Identifiers, *cc)
		}
	}
	if c := one("47998-0"); c != nil {
		v.DisplayName = c.str("valueString")
	}
	if c := one("48002-0"); c != nil {
		if source, ok := answerOf(c, sourceAnswers); ok {
			if source == "de-novo" {
				v.Origin, v.Inheritance = "germline", "de-novo"
			} else {
				v.Origin = source
			}
		}
	}
	if c := one("53034-5"); c != nil {
		v.Zygosity, _ = answerOf(c, zygosityAnswers)
	}
	if c := one("94186-4"); c != nil {
		if inh, ok := answerOf(c, inheritanceAnswers); ok {
			v.Inheritance = inh
		} else if c.obj("valueCodeableConcept").str("text") == "Biparental (maternal and paternal)" {
			v.Inheritance = "biparental"
		}
	}
	for _, c := range all("81258-6") {
		f := d.fraction(c.obj("valueQuantity"), e.path+".component")
		if v.Zygosity == "heteroplasmic" || v.Zygosity == "homoplasmic" || v.Chromosome == "" && v.HeteroplasmyFraction == nil && isMito(o) {
			v.HeteroplasmyFraction = &f
		} else {
			v.AlleleFrequency = &f
		}
	}
	if c := one("82155-3"); c != nil {
		n := int(number(c.obj("valueQuantity")["value"]))
		v.CopyNumber = &n
	}
	v.ISCN = conceptCode(one("81291-7"), systemISCN)
	var counts []string
	for _, c := range all("repeat-number") {
		counts = append(counts, decimalText(c.obj("valueQuantity")["value"]))
	}
	if len(counts) > 0 { // stated in the FHIR, so stated in the report (the HGVS may say it too)
		v.RepeatCount = strings.Join(counts, ";")
	}
	for _, note := range o.list("note") {
		if chr, ok := strings.CutPrefix(note.str("text"), "Chromosome: "); ok {
			v.Chromosome = chr
			continue
		}
		v.Comment = note.str("text")
	}
	if v.Type == "" {
		v.Type = typeFromSO(one("48019-4"))
	}
	return v
}

// unreadVariantParts lists what a variant Observation carries that the
// gateway does not read: components whose codes it never looked for (a
// read depth, a lab's QC), and the Observation's interpretation.
func (d *fhirDecoder) unreadVariantParts(e bundleEntry, read map[string]bool) {
	for i, c := range e.res.list("component") {
		known := false
		for _, cd := range c.obj("code").list("coding") {
			known = known || read[cd.str("code")]
		}
		if !known {
			d.unmap(fmt.Sprintf("%s.component[%d]", e.path, i), firstCode(c.obj("code")), strings.TrimSpace(c.obj("code").text()+" "+componentValue(c)),
				"a component of a variant the gateway does not read")
		}
	}
	for i, in := range e.res.list("interpretation") {
		d.unmap(fmt.Sprintf("%s.interpretation[%d]", e.path, i), firstCode(in), in.text(), "a variant's interpretation: its classification is read from its diagnostic implication")
	}
}

// componentValue is a component's value as text.
func componentValue(c jnode) string {
	switch {
	case c.obj("valueQuantity") != nil:
		q := c.obj("valueQuantity")
		return strings.TrimSpace(decimalText(q["value"]) + " " + q.str("unit"))
	case c.obj("valueCodeableConcept") != nil:
		return c.obj("valueCodeableConcept").text()
	case c.obj("valueRange") != nil:
		return decimalText(c.obj("valueRange").obj("low")["value"]) + "-" + decimalText(c.obj("valueRange").obj("high")["value"])
	}
	for k, v := range c {
		if strings.HasPrefix(k, "value") {
			return fmt.Sprint(v)
		}
	}
	return ""
}

// isMito says the variant is on the mitochondrial chromosome (noted, as
// LOINC's chromosome list lacks it).
func isMito(o jnode) bool {
	for _, n := range o.list("note") {
		if n.str("text") == "Chromosome: MT" || n.str("text") == "Chromosome: M" {
			return true
		}
	}
	return false
}

// typeFromSO is the variant type its Sequence Ontology change type implies,
// for a Bundle the gateway did not write (its text names the type).
func typeFromSO(c jnode) string {
	if c == nil {
		return ""
	}
	code := conceptCode(c, systemSO)
	for t, a := range changeTypes {
		if a.code == code {
			return t
		}
	}
	switch code {
	case "SO:0000159", "SO:0000667", "SO:1000035", "SO:1000036":
		return "indel"
	}
	return ""
}

func number(v any) float64 {
	switch n := v.(type) {
	case json.Number:
		f, _ := n.Float64()
		return f
	case float64:
		return n
	case string:
		f, _ := strconv.ParseFloat(n, 64)
		return f
	}
	return 0
}

// conceptBack is a report coding from a CodeableConcept the gateway wrote
// with conceptOf: its first coding, its text as the display.
func (d *fhirDecoder) conceptBack(cc jnode) *gateway.Coding {
	if cc == nil {
		return nil
	}
	for _, c := range cc.list("coding") {
		out := d.codingBack(c, "")
		out.Display = cc.str("text")
		return &out
	}
	if t := cc.str("text"); t != "" {
		return &gateway.Coding{Display: t}
	}
	return nil
}

// classification reads a variant's ACMG class: LOINC's answer code, else
// the lab's words for it in the text, a coding's display or code ("Likely
// pathogenic", "Class 5", an ACGS code). One it cannot read is warned of
// and listed, never dropped: a positive report's variant with a blank
// class reads as nothing to act on.
func (d *fhirDecoder) classification(c jnode, path string) string {
	if class, ok := answerOf(c, acmgAnswers); ok {
		return class
	}
	cc := c.obj("valueCodeableConcept")
	words := []string{cc.str("text")}
	for _, cd := range cc.list("coding") {
		words = append(words, cd.str("display"), cd.str("code"))
	}
	for _, w := range words {
		if class, ok := gateway.ACMGClass(w); ok && w != "" {
			d.warn("variants", path, "the classification %q is not a LOINC answer code: read as %s", w, class)
			return class
		}
	}
	d.warn("variants", path, "the classification %q could not be read as an ACMG class: the variant is filed without one", cc.text())
	d.unmap(path, firstCode(cc), cc.text(), "an ACMG classification the gateway cannot read")
	return ""
}

// fraction reads an allele or heteroplasmy frequency by its UCUM unit: %
// (as the gateway writes it) or 1, a fraction (as the Genomics IG's
// examples write it). With neither, a value above 1 can only be a
// percentage; one of 1 or below is read as a fraction, with a warning:
// read the wrong way it is a hundred times out, a germline call reading as
// a low-level mosaic.
func (d *fhirDecoder) fraction(q jnode, path string) float64 {
	f := number(q["value"])
	switch code, unit := q.str("code"), q.str("unit"); {
	case code == "%" || code == "" && unit == "%":
		return f / 100
	case code == "1":
		return f
	case f > 1:
		d.warn("variants", path, "allele frequency %v has no UCUM unit (%% or 1): read as a percentage", f)
		return f / 100
	default:
		d.warn("variants", path, "allele frequency %v has no UCUM unit (%% or 1): read as a fraction", f)
		return f
	}
}

// implication reads a diagnostic implication into its variant: the ACMG
// class and criteria, the conditions and their modes of inheritance.
func (d *fhirDecoder) implication(e bundleEntry, v *gateway.Variant) {
	var conditions []gateway.Condition
	for _, c := range e.res.list("component") {
		code := firstCode(c.obj("code"))
		switch code {
		case "53037-8":
			v.Classification.ACMG = d.classification(c, e.path+".component")
		case "81259-4":
			cc := c.obj("valueCodeableConcept")
			cond := gateway.Condition{Name: cc.text()}
			for _, cd := range cc.list("coding") {
				for name, system := range conditionSystems {
					if cd.str("system") == system {
						cond.System, cond.Code = name, cd.str("code")
					}
				}
			}
			conditions = append(conditions, cond)
		case "condition-inheritance":
			if len(conditions) > 0 {
				hpo := conceptCode(c, systemHPO)
				for mode, a := range inheritanceModes {
					if a.code == hpo {
						conditions[len(conditions)-1].ModeOfInheritance = mode
					}
				}
			}
		case "conclusion-string":
			if _, criteria, ok := strings.Cut(c.str("valueString"), "(ACMG criteria met: "); ok {
				v.Classification.Criteria = strings.Split(strings.TrimSuffix(criteria, ")"), ", ")
			}
		}
	}
	if len(conditions) > 0 {
		v.Condition = &conditions[0]
		v.AdditionalConditions = conditions[1:]
		if len(v.AdditionalConditions) == 0 {
			v.AdditionalConditions = nil
		}
	}
}

// study reads the Genomic Study Analysis the report points at: the method
// and the virtual panels (and genes or regions studied outside them).
func (d *fhirDecoder) study(dr bundleEntry) {
	var study bundleEntry
	found := false
	for _, ext := range dr.res.list("extension") {
		if ext.str("url") == igBase+"genomic-study-reference" {
			study, found = d.resolve(ext.obj("valueReference"), dr)
		}
	}
	if !found {
		return
	}
	var analysis bundleEntry
	for _, ext := range study.res.list("extension") {
		switch ext.str("url") {
		case igBase + "genomic-study-analysis-ext":
			analysis, found = d.resolve(ext.obj("valueReference"), study)
		case igBase + "genomic-study-referrer-ext":
			d.resolve(ext.obj("valueReference"), study)
		}
	}
	if !found || analysis.res == nil {
		return
	}
	t := &d.r.Test
	for _, ext := range analysis.res.list("extension") {
		switch ext.str("url") {
		case igBase + "genomic-study-analysis-method-type":
			cc := ext.obj("valueCodeableConcept")
			for method, name := range gateway.TestMethodNames {
				if cc.str("text") == name {
					t.Method = method
				}
			}
		case igBase + "genomic-study-analysis-regions":
			d.regions(ext, analysis)
		case igBase + "genomic-study-analysis-focus", igBase + "genomic-study-analysis-specimen":
			d.resolve(ext.obj("valueReference"), analysis)
		}
	}
}

func (d *fhirDecoder) regions(ext jnode, analysis bundleEntry) {
	t := &d.r.Test
	var description string
	var genes []gateway.Gene
	for _, sub := range ext.list("extension") {
		switch sub.str("url") {
		case "description":
			description = sub.str("valueString")
		case "studied":
			cc := sub.obj("valueCodeableConcept")
			if code, display, ok := cc.coding(systemHGNC); ok {
				genes = append(genes, gateway.Gene{Symbol: display, HGNCID: code})
			} else if cc.text() != "" {
				genes = append(genes, gateway.Gene{Symbol: cc.text()})
			}
		}
	}
	if rest, ok := strings.CutPrefix(description, "PanelApp panel "); ok {
		// "PanelApp panel <id> <name> version <version>"
		id, rest, _ := strings.Cut(rest, " ")
		i := strings.LastIndex(rest, " version ")
		p := gateway.Panel{PanelAppID: id, Genes: genes}
		if i >= 0 {
			p.Name, p.Version = rest[:i], rest[i+len(" version "):]
		} else {
			p.Name = rest
		}
		t.Panels = append(t.Panels, p)
		return
	}
	for _, part := range strings.Split(description, "; ") {
		if r, ok := strings.CutPrefix(part, "Regions examined: "); ok {
			t.RegionsStudied = strings.Split(r, ", ")
		}
		if v, ok := strings.CutPrefix(part, "Variants tested: "); ok {
			t.VariantsTested = strings.Split(v, ", ")
		}
	}
	t.GenesStudied = append(t.GenesStudied, genes...)
}

// family reads each relative tested with the patient (FamilyMemberHistory).
func (d *fhirDecoder) family() {
	for i, e := range d.entries {
		if e.res.str("resourceType") != "FamilyMemberHistory" {
			continue
		}
		d.used[i] = true
		rel := gateway.Relative{Relationship: e.res.obj("relationship").text()}
		code, _, _ := e.res.obj("relationship").coding(systemRoleCode)
		for name, a := range relationshipCodes {
			if a.code == code {
				rel.Relationship = name
			}
		}
		for _, n := range e.res.list("note") {
			for key, words := range affectedWords {
				if strings.HasPrefix(n.str("text"), words+" ") {
					rel.Affected = key
				}
			}
		}
		for _, ext := range e.res.list("extension") {
			if ext.str("url") != extPatientRecord {
				continue
			}
			if p, ok := d.resolve(ext.obj("valueReference"), e); ok {
				for _, id := range p.res.list("identifier") {
					switch {
					case id.str("system") == systemNHSNumber:
						rel.NHSNumber = id.str("value")
					case strings.HasSuffix(id.str("system"), "/Id/relative"):
						rel.LabID = strings.TrimPrefix(id.str("value"), d.r.PerformingLab.ODSCode+"-")
					}
				}
			}
		}
		d.at(fmt.Sprintf("relatives[%d]", len(d.r.Relatives)), e.path)
		d.r.Relatives = append(d.r.Relatives, rel)
	}
}

// document marks the gateway's own DocumentReference (it indexes the PDF
// the report already carries) as read.
func (d *fhirDecoder) document() {
	for i, e := range d.entries {
		if e.res.str("resourceType") == "DocumentReference" && strings.HasSuffix(e.res.obj("masterIdentifier").str("system"), "/Id/document-version") {
			d.used[i] = true
		}
	}
}
