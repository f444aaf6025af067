package fhirr4

import (
	"strconv"
	"strings"

	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	r4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	obspb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/observation_go_proto"

	"github.com/nhs-genomics/results-gateway/gateway"
)

var observationStatuses = map[gateway.Status]c4pb.ObservationStatusCode_Value{
	gateway.StatusPreliminary: c4pb.ObservationStatusCode_PRELIMINARY, gateway.StatusFinal: c4pb.ObservationStatusCode_FINAL,
	gateway.StatusAmended: c4pb.ObservationStatusCode_AMENDED, gateway.StatusCorrected: c4pb.ObservationStatusCode_CORRECTED,
	gateway.StatusEnteredInError: c4pb.ObservationStatusCode_ENTERED_IN_ERROR,
	gateway.StatusCancelled:      c4pb.ObservationStatusCode_CANCELLED,
}

// variantEntries adds a Variant Observation per variant and, when it is
// classified or tied to a condition, a Diagnostic Implication derived from it.
func (b *builder) variantEntries() {
	for i := range b.r.Variants {
		v := &b.r.Variants[i]
		key := b.r.ID + "-" + v.ID
		variant := b.conditionalUpdate("variant-"+v.ID, "Observation", identifier{b.m.system("variant"), key},
			observation(b.variantObservation(v, key)))
		b.variants = append(b.variants, variant)
		if v.Classification.ACMG == "" && v.Condition == nil && len(v.AdditionalConditions) == 0 {
			b.implications = append(b.implications, "") // nothing to imply: no implication
			continue
		}
		implication := b.conditionalUpdate("implication-"+v.ID, "Observation", identifier{b.m.system("implication"), key},
			observation(b.implicationObservation(v, key, variant)))
		b.implications = append(b.implications, implication)
	}
}

func observation(o *obspb.Observation) *r4pb.ContainedResource {
	return &r4pb.ContainedResource{OneofResource: &r4pb.ContainedResource_Observation{Observation: o}}
}

// genomicObservation fills what every genomic-base Observation shares.
func (b *builder) genomicObservation(profile, kind, key string, c *d4pb.CodeableConcept) *obspb.Observation {
	return &obspb.Observation{
		Meta:       meta(profile),
		Identifier: []*d4pb.Identifier{ident(b.m.system(kind), key)},
		Status:     &obspb.Observation_StatusCode{Value: observationStatuses[b.r.Status]},
		Category: []*d4pb.CodeableConcept{
			concept(systemObsCategory, "laboratory", "Laboratory"),
			concept(systemV20074, "GE", "Genetics"),
		},
		Code:      c,
		Subject:   ref(b.patient, ""),
		Issued:    instant(b.r.Issued),
		Performer: []*d4pb.Reference{ref(b.lab, b.r.PerformingLab.Name)},
	}
}

func (b *builder) variantObservation(v *gateway.Variant, key string) *obspb.Observation {
	o := b.genomicObservation(profileVariant, "variant", key, loinc("69548-6", "Genetic variant assessment"))
	present := assessmentAnswers[v.Assessment]
	o.Value = &obspb.Observation_ValueX{Choice: &obspb.Observation_ValueX_CodeableConcept{
		CodeableConcept: loinc(present.code, present.display)}}
	switch {
	case v.Method != nil:
		o.Method = b.conceptOf(*v.Method)
	case b.r.Test.Method != "array" && b.r.Test.Method != "mlpa" && b.r.Test.Method != "":
		o.Method = loinc("LA26398-0", "Sequencing")
	}
	if len(b.specimens) > 0 {
		o.Specimen = ref(b.specimens[0], "")
	}
	c := &components{}
	if gene := geneConcept(v.Gene); gene != nil {
		c.concept("48018-6", "Gene studied [ID]", gene)
	}
	if v.HGVS.C != "" {
		c.concept("48004-6", "DNA change (c.HGVS)", concept(systemHGVS, v.HGVS.C, ""))
	}
	if v.HGVS.P != "" {
		c.concept("48005-3", "Amino acid change (pHGVS)", concept(systemHGVS, v.HGVS.P, ""))
	}
	if v.HGVS.G != "" {
		c.concept("81290-9", "Genomic DNA change (gHGVS)", concept(systemHGVS, v.HGVS.G, ""))
	}
	if refSeq := genomicReference(v); refSeq != "" {
		cc := concept(systemRefSeq, refSeq, "")
		if v.GenomicReference != "" && v.GenomicReference != refSeq {
			cc.Text = str(v.GenomicReference) // the lab's own description on that reference
		}
		c.concept("48013-7", "Genomic reference sequence [ID]", cc)
	}
	if v.Transcript != "" {
		c.concept("51958-7", "Transcript reference sequence [ID]", concept(systemRefSeq, v.Transcript, ""))
	}
	if a, ok := buildAnswers[v.GenomeBuild]; ok {
		c.concept("62374-4", "Human reference sequence assembly version", loinc(a.code, a.display))
	}
	if a, ok := chromosomeAnswers[v.Chromosome]; ok {
		c.concept("48000-4", "Chromosome", loinc(a.code, a.display))
	}
	if v.CytogeneticLocation != "" {
		c.concept("48001-2", "Cytogenetic (chromosome) location", text(v.CytogeneticLocation))
	}
	if v.Start > 0 {
		c.concept("92822-6", "Genomic coordinate system", loinc("LA30102-0", "1-based character counting"))
		end := v.End
		if end == 0 {
			end = impliedEnd(v)
		}
		positions := &d4pb.Range{Low: simpleQuantity(float64(v.Start)), High: simpleQuantity(float64(end))}
		if v.Type == "cnv" || v.Type == "sv" {
			c.rangeValue("81302-2", "Genomic allele inner start-end", positions)
		} else {
			c.rangeValue("81254-5", "Genomic allele start-end", positions)
		}
	}
	if v.Ref != "" {
		c.stringValue("69547-8", "Genomic ref allele [ID]", v.Ref)
	}
	if v.Alt != "" {
		c.stringValue("69551-0", "Genomic alt allele [ID]", v.Alt)
	}
	if change := b.changeType(v); change != nil {
		c.concept("48019-4", "DNA change type", change)
	}
	if v.AminoAcidChangeType != nil {
		if cc := b.conceptOf(*v.AminoAcidChangeType); cc != nil {
			c.concept("48006-1", "Amino acid change type", cc)
		}
	}
	if v.Category != nil {
		if cc := b.conceptOf(*v.Category); cc != nil {
			c.concept("83005-9", "Variant category", cc)
		}
	}
	for _, id := range v.Identifiers {
		if cc := b.conceptOf(id); cc != nil {
			c.concept("81252-9", "Discrete genetic variant", cc)
		}
	}
	if v.DisplayName != "" {
		c.stringValue("47998-0", "Variant display name", v.DisplayName)
	}
	source := v.Origin
	if v.Inheritance == "de-novo" {
		source = "de-novo"
	}
	if a, ok := sourceAnswers[source]; ok {
		c.concept("48002-0", "Genomic source class", loinc(a.code, a.display))
	}
	if a, ok := zygosityAnswers[v.Zygosity]; ok {
		c.concept("53034-5", "Allelic state", loinc(a.code, a.display))
	}
	if a, ok := inheritanceAnswers[v.Inheritance]; ok {
		c.concept("94186-4", "Variant inheritance", loinc(a.code, a.display))
	} else if v.Inheritance == "biparental" {
		c.concept("94186-4", "Variant inheritance", text("Biparental (maternal and paternal)"))
	}
	for _, f := range []*float64{v.HeteroplasmyFraction, v.AlleleFrequency} {
		if f != nil {
			c.quantity("81258-6", "Sample variant allelic frequency [NFr]", gateway.Percent(*f), "%", "%")
		}
	}
	if v.CopyNumber != nil {
		c.quantity("82155-3", "Genomic structural variant copy number", float64(*v.CopyNumber), "copies", "1")
	}
	if v.ISCN != "" {
		c.concept("81291-7", "Variant ISCN", concept(systemISCN, v.ISCN, ""))
	}
	b.repeatComponents(c, v)
	o.Component = c.list
	if v.Comment != "" {
		o.Note = []*d4pb.Annotation{{Text: &d4pb.Markdown{Value: v.Comment}}}
	}
	if _, coded := chromosomeAnswers[v.Chromosome]; v.Chromosome != "" && !coded {
		// LOINC's chromosome list (LL2938-0, a required binding) has no
		// mitochondrial chromosome: say it in a note rather than drop it.
		o.Note = append(o.Note, &d4pb.Annotation{Text: &d4pb.Markdown{Value: "Chromosome: " + v.Chromosome}})
	}
	return o
}

// repeatComponents adds a repeat expansion's unit and its number of repeats
// per allele, as the IG's repeat-motif and repeat-number slices do.
func (b *builder) repeatComponents(c *components, v *gateway.Variant) {
	motif, counts := v.Repeats()
	order := extension(igBase+"repeat-motif-order", &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_PositiveInt{
		PositiveInt: &d4pb.PositiveInt{Value: 1}}})
	if motif != "" {
		c.list = append(c.list, &obspb.Observation_Component{
			Extension: []*d4pb.Extension{order},
			Code:      concept(systemTBD, "repeat-motif", "Repeat Expansion Motif"),
			Value:     &obspb.Observation_Component_ValueX{Choice: &obspb.Observation_Component_ValueX_StringValue{StringValue: str(motif)}},
		})
	}
	for _, n := range counts {
		c.list = append(c.list, &obspb.Observation_Component{
			Extension: []*d4pb.Extension{order},
			Code:      concept(systemTBD, "repeat-number", "Number of Repeat Expansions"),
			Value: &obspb.Observation_Component_ValueX{Choice: &obspb.Observation_Component_ValueX_Quantity{
				Quantity: &d4pb.Quantity{Value: &d4pb.Decimal{Value: n}, Unit: str("repeats"), System: uri(systemUCUM), Code: code("{repeats}")}}},
		})
	}
}

// soChange is the Sequence Ontology term for what the variant's HGVS says
// changed (a deletion, a duplication ...), else for its type; none when
// neither says (an "indel" could be any of several).
func soChange(v *gateway.Variant) (answer, bool) {
	hgvs := v.HGVS.C
	if hgvs == "" {
		hgvs = v.HGVS.G
	}
	_, change, _ := strings.Cut(hgvs, ":")
	switch {
	case strings.Contains(change, "delins"):
		return answer{"SO:1000032", "delins"}, true
	case strings.Contains(change, "del"):
		return answer{"SO:0000159", "deletion"}, true
	case strings.Contains(change, "dup"):
		return answer{"SO:1000035", "duplication"}, true
	case strings.Contains(change, "ins"):
		return answer{"SO:0000667", "insertion"}, true
	case strings.Contains(change, "inv"):
		return answer{"SO:1000036", "inversion"}, true
	case strings.Contains(change, "["):
		return answer{"SO:0000657", "repeat_region"}, true
	case strings.Contains(change, ">"):
		return answer{"SO:0001483", "SNV"}, true
	}
	if v.Type == "indel" {
		return answer{}, false
	}
	a, ok := changeTypes[v.Type]
	return a, ok
}

// geneConcept codes a gene by its HGNC id, or names it when only the symbol is known.
func geneConcept(g gateway.Gene) *d4pb.CodeableConcept {
	switch {
	case g.HGNCID != "":
		return concept(systemHGNC, g.HGNCID, g.Symbol)
	case g.Symbol != "":
		return text(g.Symbol)
	}
	return nil
}

// genomicReference is the reference sequence id the variant is described
// on: the lab's own, or the one its g. HGVS names.
func genomicReference(v *gateway.Variant) string {
	if v.GenomicReference != "" {
		id, _, _ := strings.Cut(v.GenomicReference, ":")
		return id
	}
	if v.HGVS.G != "" {
		id, _, _ := strings.Cut(v.HGVS.G, ":")
		return id
	}
	return ""
}

// changeType is the Sequence Ontology term for the variant type, with the
// lab's own coding of the change beside it.
func (b *builder) changeType(v *gateway.Variant) *d4pb.CodeableConcept {
	var cc *d4pb.CodeableConcept
	if a, ok := soChange(v); ok {
		cc = concept(systemSO, a.code, a.display)
	}
	if v.ChangeType != nil {
		if lab := b.codingOf(*v.ChangeType); lab != nil {
			if cc == nil {
				cc = &d4pb.CodeableConcept{}
			}
			cc.Coding = append(cc.Coding, lab)
		}
	}
	if name := gateway.VariantTypeNames[v.Type]; cc != nil && name != "" {
		cc.Text = str(name) // the lab's type (copy number variant), which the HGVS may refine (deletion)
	}
	return cc
}

func (b *builder) implicationObservation(v *gateway.Variant, key, variant string) *obspb.Observation {
	o := b.genomicObservation(profileImplication, "implication", key,
		concept(systemTBD, "diagnostic-implication", "Diagnostic Implication"))
	name := strings.TrimSpace(v.Gene.Symbol + " " + variantName(v))
	o.DerivedFrom = []*d4pb.Reference{ref(variant, name)}
	c := &components{}
	summary := ""
	if a, ok := acmgAnswers[v.Classification.ACMG]; ok {
		c.concept("53037-8", "Genetic variation clinical significance [Imp]", loinc(a.code, a.display))
		summary = a.display
		if len(v.Classification.Criteria) > 0 {
			summary += " (ACMG criteria met: " + strings.Join(v.Classification.Criteria, ", ") + ")"
		}
	}
	conditions := v.AdditionalConditions
	if v.Condition != nil {
		conditions = append([]gateway.Condition{*v.Condition}, conditions...)
	}
	for _, cond := range conditions {
		cc := text(cond.Name)
		if cond.Code != "" {
			cc = concept(conditionSystems[cond.System], cond.Code, cond.Name)
			cc.Text = str(cond.Name)
		}
		c.concept("81259-4", "Associated phenotype", cc)
		if m, ok := inheritanceModes[cond.ModeOfInheritance]; ok {
			c.conceptCoded(coding(systemTBD, "condition-inheritance", "Condition Inheritance"), concept(systemHPO, m.code, m.display))
		}
	}
	if summary != "" {
		c.list = append(c.list, &obspb.Observation_Component{
			Code: concept(systemTBD, "conclusion-string", "Conclusion String"),
			Value: &obspb.Observation_Component_ValueX{Choice: &obspb.Observation_Component_ValueX_StringValue{
				StringValue: str(summary)}},
		})
	}
	o.Component = c.list
	return o
}

// variantName is the most specific human-readable description of a variant.
func variantName(v *gateway.Variant) string {
	for _, s := range []string{v.HGVS.C, v.HGVS.G, v.ISCN, v.DisplayName, v.HGVS.P} {
		if s != "" {
			return s
		}
	}
	if v.Start > 0 {
		return v.Chromosome + ":" + strconv.FormatInt(v.Start, 10)
	}
	return v.ID
}

// components collects Observation.component entries.
type components struct {
	list []*obspb.Observation_Component
}

func (c *components) concept(loincCode, display string, value *d4pb.CodeableConcept) {
	c.conceptCoded(coding(systemLOINC, loincCode, display), value)
}

func (c *components) conceptCoded(cd *d4pb.Coding, value *d4pb.CodeableConcept) {
	c.list = append(c.list, &obspb.Observation_Component{
		Code:  &d4pb.CodeableConcept{Coding: []*d4pb.Coding{cd}},
		Value: &obspb.Observation_Component_ValueX{Choice: &obspb.Observation_Component_ValueX_CodeableConcept{CodeableConcept: value}},
	})
}

func (c *components) stringValue(loincCode, display, value string) {
	c.list = append(c.list, &obspb.Observation_Component{
		Code:  loinc(loincCode, display),
		Value: &obspb.Observation_Component_ValueX{Choice: &obspb.Observation_Component_ValueX_StringValue{StringValue: str(value)}},
	})
}

func (c *components) rangeValue(loincCode, display string, r *d4pb.Range) {
	c.list = append(c.list, &obspb.Observation_Component{
		Code:  loinc(loincCode, display),
		Value: &obspb.Observation_Component_ValueX{Choice: &obspb.Observation_Component_ValueX_Range{Range: r}},
	})
}

func (c *components) quantity(loincCode, display string, value float64, unit, ucum string) {
	q := &d4pb.Quantity{Value: decimal(value), Unit: str(unit), System: uri(systemUCUM), Code: code(ucum)}
	c.list = append(c.list, &obspb.Observation_Component{
		Code:  loinc(loincCode, display),
		Value: &obspb.Observation_Component_ValueX{Choice: &obspb.Observation_Component_ValueX_Quantity{Quantity: q}},
	})
}

func decimal(f float64) *d4pb.Decimal {
	return &d4pb.Decimal{Value: strconv.FormatFloat(f, 'f', -1, 64)}
}

func simpleQuantity(f float64) *d4pb.SimpleQuantity { return &d4pb.SimpleQuantity{Value: decimal(f)} }

// impliedEnd is where the reference allele ends (1-based, inclusive) when
// the report gives only its start: a reference of several bases spans
// them (a deletion's GT at 32340300 ends at 32340301); otherwise the
// start itself.
func impliedEnd(v *gateway.Variant) int64 {
	if n := len(v.Ref); n > 1 && strings.Trim(strings.ToUpper(v.Ref), "ACGTN") == "" {
		return v.Start + int64(n) - 1
	}
	return v.Start
}
