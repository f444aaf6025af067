package hl7v2

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/hl7"
)

// variantRows are the LOINC codes that make an OBX group a variant.
var variantRows = map[string]bool{lnGene: true, lnCHGVS: true, lnGHGVS: true, lnAssessment: true, lnSignificance: true}

func (d *decoder) variants() {
	var subs []string
	seen := map[string]bool{}
	for _, row := range d.rows {
		if variantRows[row.code] && !seen[row.sub] {
			seen[row.sub] = true
			subs = append(subs, row.sub)
		}
	}
	for i, sub := range subs {
		d.variant(i, sub)
	}
}

func (d *decoder) variant(i int, sub string) {
	path := fmt.Sprintf("variants[%d]", i)
	v := gateway.Variant{}
	loc := func(field string, row *obx) {
		if row != nil {
			d.origins[path+field] = hl7.ErrorLocation{Segment: "OBX", Sequence: row.seq, Field: 5}
		}
	}
	var row *obx
	v.ID, _ = d.text(rgwVariantID, sub)
	if v.ID == "" {
		v.ID = "v" + strconv.Itoa(i+1)
	}
	v.Type, _ = d.text(rgwVariantType, sub)
	d.find(lnAssessment, sub)
	d.find(lnVariantCat, sub)
	d.find(lnDisplayName, sub)
	d.find(lnAnalysisMethod, sub)
	d.find(lnRefSeq, sub)
	if rows := d.find(lnGene, sub); len(rows) > 0 {
		v.Gene = gateway.Gene{HGNCID: d.comp(rows[0], 1), Symbol: d.comp(rows[0], 2)}
		if !strings.HasPrefix(v.Gene.HGNCID, "HGNC:") && strings.HasPrefix(d.comp(rows[0], 2), "HGNC:") {
			v.Gene = gateway.Gene{HGNCID: d.comp(rows[0], 2), Symbol: d.comp(rows[0], 1)}
		}
		loc(".gene", rows[0])
	}
	v.Transcript, row = d.text(lnTranscript, sub)
	loc(".transcript", row)
	v.HGVS.C, row = d.codedText(lnCHGVS, sub)
	loc(".hgvs.c", row)
	v.HGVS.P, row = d.codedText(lnPHGVS, sub)
	loc(".hgvs.p", row)
	v.HGVS.G, row = d.codedText(lnGHGVS, sub)
	loc(".hgvs.g", row)
	v.Chromosome, row = d.text(lnChromosome, sub)
	v.Chromosome = strings.TrimPrefix(strings.TrimPrefix(v.Chromosome, "chr"), "Chr")
	loc(".chromosome", row)
	v.Ref, _ = d.text(lnRefAllele, sub)
	v.Alt, _ = d.text(lnAltAllele, sub)
	v.ISCN, _ = d.text(lnISCN, sub)
	if rows := d.find(lnBuild, sub); len(rows) > 0 {
		v.GenomeBuild = fromBuild[d.comp(rows[0], 1)]
		loc(".genomeBuild", rows[0])
	}
	if rows := d.find(lnStartEnd, sub); len(rows) > 0 {
		v.Start, _ = strconv.ParseInt(d.comp(rows[0], 1), 10, 64)
		v.End, _ = strconv.ParseInt(d.comp(rows[0], 2), 10, 64)
		loc(".start", rows[0])
	}
	if n, row := d.text(lnCopyNumber, sub); row != nil {
		c, _ := strconv.Atoi(n)
		v.CopyNumber = &c
	}
	v.Zygosity, row = d.answer(lnZygosity, sub, fromZygosity)
	loc(".zygosity", row)
	source, _ := d.answer(lnSourceClass, sub, fromSource)
	v.Origin, row = d.text(rgwOrigin, sub)
	if row == nil && source != "de-novo" {
		v.Origin = source
	}
	v.Inheritance, row = d.text(rgwInheritance, sub)
	inh, _ := d.answer(lnInheritance, sub, fromInheritance)
	if row == nil {
		v.Inheritance = inh
		if source == "de-novo" {
			v.Inheritance, v.Origin = "de-novo", "germline"
		}
	}
	if f, row := d.text(rgwHeteroplasmy, sub); row != nil {
		x, _ := strconv.ParseFloat(f, 64)
		v.HeteroplasmyFraction = &x
	}
	v.Classification.ACMG, row = d.answer(lnSignificance, sub, fromACMG)
	loc(".classification.acmg", row)
	if c, _ := d.text(rgwCriteria, sub); c != "" {
		v.Classification.Criteria = strings.Split(c, ",")
	}
	if rows := d.find(lnPhenotype, sub); len(rows) > 0 {
		v.Condition = &gateway.Condition{Code: d.comp(rows[0], 1), Name: d.comp(rows[0], 2),
			System: fromCondition[d.comp(rows[0], 3)]}
		if v.Condition.Name == "" {
			v.Condition.Name = v.Condition.Code
		}
		if v.Condition.System == "" {
			v.Condition.Code = ""
		}
		if rows := d.find(rgwModeOfInh, sub); len(rows) > 0 {
			v.Condition.ModeOfInheritance = fromMode[d.comp(rows[0], 1)]
		}
		loc(".condition", rows[0])
	}
	v.Comment, _ = d.text(rgwComment, sub)
	if v.Type == "" {
		v.Type = "snv"
		if v.CopyNumber != nil {
			v.Type = "cnv"
		} else if len(v.Ref) != 1 || len(v.Alt) != 1 {
			v.Type = "indel"
		}
	}
	d.r.Variants = append(d.r.Variants, v)
}

// codedText reads a value sent as ST, or as CWE with the text in component 1.
func (d *decoder) codedText(code, sub string) (string, *obx) {
	rows := d.find(code, sub)
	if len(rows) == 0 {
		return "", nil
	}
	return d.comp(rows[0], 1), rows[0]
}

// answer reads a coded value by LOINC answer code, or by its text.
func (d *decoder) answer(code, sub string, rev map[string]string) (string, *obx) {
	rows := d.find(code, sub)
	if len(rows) == 0 {
		return "", nil
	}
	if k, ok := rev[d.comp(rows[0], 1)]; ok {
		return k, rows[0]
	}
	return rev[strings.ToLower(first(d.comp(rows[0], 2), d.comp(rows[0], 1)))], rows[0]
}
