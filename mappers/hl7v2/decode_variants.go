package hl7v2

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// genomicRows are the LOINC codes of the HL7 v2 clinical genomics
// convention (LRI, vcf2hl7v2) and the gateway's own variant rows, read in
// OBX-4 sub-ID groups: one group per variant (2a, 2b ...), others for the
// regions studied (1a, 1.a ...).
var genomicRows = map[string]bool{
	lnGene: true, lnCHGVS: true, lnCHGVSLegacy: true, lnPHGVS: true, lnGHGVS: true, lnTranscript: true, lnRefSeq: true,
	lnBuild: true, lnChromosome: true, lnStartEnd: true, lnRefAllele: true, lnAltAllele: true, lnZygosity: true,
	lnSourceClass: true, lnInheritance: true, lnSignificance: true, lnPhenotype: true, lnCopyNumber: true, lnISCN: true,
	lnChangeType: true, lnAssessment: true, lnVariantCat: true, lnDisplayName: true, lnAnalysisMethod: true,
	lnDbSNP: true, lnClinVar: true, lnCytoLocation: true, lnAlleleFreq: true, lnAAChangeType: true, lnRangeExamined: true,
	rgwVariantID: true, rgwVariantType: true, rgwCriteria: true, rgwModeOfInh: true, rgwHeteroplasmy: true,
	rgwComment: true, rgwOrigin: true, rgwInheritance: true, rgwRepeatCount: true, rgwIdentifier: true,
}

// variantRows make a sub-ID group a variant rather than a region studied.
var variantRows = map[string]bool{
	lnCHGVS: true, lnCHGVSLegacy: true, lnGHGVS: true, lnPHGVS: true, lnAssessment: true, lnSignificance: true,
	lnClinVar: true, lnDbSNP: true, lnISCN: true, lnCopyNumber: true, lnZygosity: true, rgwVariantID: true,
}

// variants reads the genomic OBX groups. Report-wide rows (a transcript or
// build in group 1) are defaults for variants that do not say.
func (d *decoder) variants() {
	var subs []string
	bySub := map[string][]*obx{}
	for _, row := range d.rows {
		if row.used || !genomicRows[row.code] {
			continue
		}
		if _, ok := bySub[row.sub]; !ok {
			subs = append(subs, row.sub)
		}
		bySub[row.sub] = append(bySub[row.sub], row)
	}
	subs, bySub = d.splitRepeats(subs, bySub)
	defaults := map[string]*obx{} // transcript and build given outside any variant
	var variantSubs, regionSubs []string
	for _, sub := range subs {
		isVariant := false
		for _, row := range bySub[sub] {
			isVariant = isVariant || variantRows[row.code]
		}
		if isVariant {
			variantSubs = append(variantSubs, sub)
		} else {
			regionSubs = append(regionSubs, sub)
			for _, row := range bySub[sub] {
				if (row.code == lnTranscript || row.code == lnBuild) && defaults[row.code] == nil {
					defaults[row.code] = row
				}
			}
		}
	}
	usedDefault := map[*obx]bool{}
	for i, sub := range variantSubs {
		d.variant(i, bySub[sub], defaults, usedDefault)
	}
	for _, sub := range regionSubs {
		d.region(bySub[sub], subs, bySub, usedDefault)
	}
}

// repeatable are the variant rows a group may hold more than once.
var repeatable = map[string]bool{lnPhenotype: true, lnDbSNP: true, lnClinVar: true, rgwIdentifier: true, rgwModeOfInh: true}

// splitRepeats tells apart variants sent without OBX-4 sub-IDs (or with
// one reused): a row that can occur once per variant, seen again, starts
// the next variant, so a second variant never overwrites the first.
func (d *decoder) splitRepeats(subs []string, bySub map[string][]*obx) ([]string, map[string][]*obx) {
	var outSubs []string
	out := map[string][]*obx{}
	for _, sub := range subs {
		part, seen := 0, map[string]bool{}
		key := sub
		for _, row := range bySub[sub] {
			if seen[row.code] && !repeatable[row.code] {
				part++
				seen = map[string]bool{}
				key = sub + "\x00" + strconv.Itoa(part)
				d.warn("variants", row.seg, 4, "variant rows without their own OBX-4 sub-ID: a new variant is taken to start at %s, where %s comes again",
					where(d.loc(row.seg, 3, 0)), first(row.codeText, row.code))
			}
			seen[row.code] = true
			if _, ok := out[key]; !ok {
				outSubs = append(outSubs, key)
			}
			out[key] = append(out[key], row)
		}
	}
	return outSubs, out
}

// region reads a group that describes what was studied: genes, reference
// sequences and the ranges examined.
func (d *decoder) region(rows []*obx, subs []string, bySub map[string][]*obx, usedDefault map[*obx]bool) {
	t := &d.r.Test
	for _, row := range rows {
		switch row.code {
		case lnGene:
			row.used = true
			t.GenesStudied = append(t.GenesStudied, d.gene(row.value))
		case lnRangeExamined:
			row.used = true
			span := d.span(row.value)
			if !strings.Contains(span, ":") {
				if ref := d.regionReference(row.sub, bySub); ref != "" {
					span = ref + ":" + span
				}
			}
			t.RegionsStudied = append(t.RegionsStudied, span)
		case lnRefSeq:
			row.used = true
			if !d.hasRanges(row.sub, subs, bySub) {
				t.RegionsStudied = append(t.RegionsStudied, d.comp(row.value, 1))
			}
		case lnTranscript, lnBuild:
			row.used = true
			if !usedDefault[row] { // not a default any variant took: keep it as a note
				d.r.Notes = append(d.r.Notes, first(row.codeText, row.code)+": "+first(d.comp(row.value, 2), d.comp(row.value, 1)))
			}
		}
	}
}

// regionReference is the 48013-7 reference of the region a range belongs
// to: the group whose sub-ID prefixes the range's (1a for 1a.a).
func (d *decoder) regionReference(sub string, bySub map[string][]*obx) string {
	parent := sub
	if i := strings.LastIndex(sub, "."); i > 0 {
		parent = sub[:i] // 1a for 1a.a, 1.a for 1.a.1
	}
	for _, row := range bySub[parent] {
		if row.code == lnRefSeq {
			return d.comp(row.value, 1)
		}
	}
	return ""
}

func (d *decoder) hasRanges(sub string, subs []string, bySub map[string][]*obx) bool {
	for _, s := range subs {
		if strings.HasPrefix(s, sub+".") {
			for _, row := range bySub[s] {
				if row.code == lnRangeExamined {
					return true
				}
			}
		}
	}
	return false
}

// span reads a range sent as NR (start^end) or as text.
func (d *decoder) span(value string) string {
	if end := d.comp(value, 2); end != "" {
		return d.comp(value, 1) + "-" + end
	}
	return d.comp(value, 1)
}

// gene reads an HGNC gene: "HGNC:1100^BRCA1^HGNC", "4135^GALT^HGNC-Symb"
// (the number without its prefix), or "BRCA1^HGNC" (a symbol alone).
func (d *decoder) gene(value string) gateway.Gene {
	a, b := d.comp(value, 1), d.comp(value, 2)
	isID := func(s string) bool { return strings.HasPrefix(strings.ToUpper(s), "HGNC:") || isDigits(s) }
	switch {
	case isID(b) && !isID(a): // symbol first: "BRCA1^HGNC:1100"
		a, b = b, a
	case !isID(a): // a symbol alone ("BRCA1^HGNC", "CFTR^CFTR^HGNC-Symb"): never passed off as an id
		return gateway.Gene{Symbol: a}
	}
	if isDigits(a) {
		a = "HGNC:" + a
	}
	return gateway.Gene{HGNCID: "HGNC:" + a[5:], Symbol: b}
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// variant reads one variant group.
func (d *decoder) variant(i int, rows []*obx, defaults map[string]*obx, usedDefault map[*obx]bool) {
	path := fmt.Sprintf("variants[%d]", i)
	v := gateway.Variant{}
	var source, origin, inheritance string
	var haveOrigin, haveInheritance bool
	var frequency *float64
	var lastCondition *gateway.Condition
	for _, row := range rows {
		row.used = true
		at := func(field string) { d.at(path+field, row.seg, 5, 0) }
		switch row.code {
		case rgwVariantID:
			v.ID = d.text(row)
		case rgwVariantType:
			v.Type = d.text(row)
		case lnAssessment:
			if v.Assessment = d.answer(row, path+".assessment", fromAssessment); v.Assessment == "present" {
				v.Assessment = "" // present is what a reported variant is unless it says otherwise
			}
		case lnGene:
			v.Gene = d.gene(row.value)
			at(".gene")
		case lnTranscript:
			v.Transcript = d.comp(row.value, 1)
			at(".transcript")
		case lnCHGVS, lnCHGVSLegacy:
			v.HGVS.C = d.comp(row.value, 1)
			at(".hgvs.c")
		case lnPHGVS:
			v.HGVS.P = d.comp(row.value, 1)
			at(".hgvs.p")
		case lnGHGVS:
			v.HGVS.G = d.comp(row.value, 1)
			at(".hgvs.g")
		case lnRefSeq:
			v.GenomicReference = d.comp(row.value, 1)
		case lnChromosome:
			v.Chromosome = chromosome(d.comp(row.value, 1), d.comp(row.value, 2))
			at(".chromosome")
		case lnBuild:
			v.GenomeBuild = d.build(row)
			at(".genomeBuild")
		case lnStartEnd:
			start, end := d.comp(row.value, 1), d.comp(row.value, 2)
			if a, b, ok := strings.Cut(start, "-"); ok && end == "" { // sent as text, "117559590-117559592"
				start, end = strings.TrimSpace(a), strings.TrimSpace(b)
			}
			var errStart, errEnd error
			v.Start, errStart = strconv.ParseInt(start, 10, 64)
			if end != "" {
				v.End, errEnd = strconv.ParseInt(end, 10, 64)
			}
			if errStart != nil || errEnd != nil {
				v.Start, v.End = 0, 0
				d.unreadable(row, "start-end is not two whole numbers")
			}
			at(".start")
		case lnRefAllele:
			v.Ref = d.text(row)
		case lnAltAllele:
			v.Alt = d.text(row)
		case lnCopyNumber:
			if n, err := strconv.Atoi(d.comp(row.value, 1)); err == nil {
				v.CopyNumber = &n
			} else {
				d.unreadable(row, "copy number is not a whole number")
			}
			at(".copyNumber")
		case lnISCN:
			v.ISCN = d.text(row)
		case lnZygosity:
			v.Zygosity = d.answer(row, path+".zygosity", fromZygosity)
			at(".zygosity")
		case lnSourceClass:
			source = d.answer(row, path+".origin", fromSource)
		case rgwOrigin:
			origin, haveOrigin = d.text(row), true
		case lnInheritance:
			if !haveInheritance {
				inheritance = d.answer(row, path+".inheritance", fromInheritance)
			}
		case rgwInheritance:
			inheritance, haveInheritance = d.text(row), true
		case rgwHeteroplasmy:
			if x, err := strconv.ParseFloat(d.text(row), 64); err == nil {
				v.HeteroplasmyFraction = &x
			}
		case lnAlleleFreq:
			frequency = d.fraction(row)
		case lnSignificance:
			v.Classification.ACMG = d.answerBy(row, path+".classification.acmg", fromACMG, gateway.ACMGClass)
			at(".classification.acmg")
		case rgwCriteria:
			if c := d.text(row); c != "" {
				v.Classification.Criteria = strings.Split(c, ",")
			}
		case lnPhenotype:
			c := d.condition(row)
			if v.Condition == nil {
				v.Condition = &c
				lastCondition = v.Condition
			} else {
				v.AdditionalConditions = append(v.AdditionalConditions, c)
				lastCondition = &v.AdditionalConditions[len(v.AdditionalConditions)-1]
			}
			at(".condition")
		case rgwModeOfInh:
			if lastCondition != nil {
				lastCondition.ModeOfInheritance = fromMode[d.comp(row.value, 1)]
			} else {
				d.unreadable(row, "a mode of inheritance with no condition before it")
			}
		case rgwComment:
			v.Comment = d.text(row)
		case lnDbSNP, lnClinVar, rgwIdentifier:
			c := d.coding(row.value)
			if c.System == "" || c.System == row.code {
				c.System = map[string]string{lnDbSNP: "http://www.ncbi.nlm.nih.gov/projects/SNP", lnClinVar: "http://www.ncbi.nlm.nih.gov/clinvar"}[row.code]
			}
			v.Identifiers = append(v.Identifiers, c)
		case lnCytoLocation:
			v.CytogeneticLocation = d.comp(row.value, 1)
		case lnChangeType:
			v.ChangeType = d.codingPtr(row)
		case lnAAChangeType:
			v.AminoAcidChangeType = d.codingPtr(row)
		case lnVariantCat:
			v.Category = d.codingPtr(row)
		case lnAnalysisMethod:
			v.Method = d.codingPtr(row)
		case lnDisplayName:
			v.DisplayName = d.text(row)
		case rgwRepeatCount:
			v.RepeatCount = d.text(row)
		default:
			row.used = false // not a variant row after all: read with the other results
			continue
		}
		for _, nte := range row.notes {
			d.claimed[nte] = true
			if t := d.noteText(nte); t != "" {
				v.Comment = strings.TrimSpace(v.Comment + "\n" + t)
			}
		}
	}
	d.variantDefaults(&v, path, defaults, usedDefault)
	v.Origin, v.Inheritance = source, inheritance
	if source == "de-novo" {
		v.Origin = "germline"
		if !haveInheritance {
			v.Inheritance = "de-novo"
		}
	}
	if haveOrigin {
		v.Origin = origin
	}
	if frequency != nil {
		if v.IsMitochondrial() {
			v.HeteroplasmyFraction = frequency
		} else {
			v.AlleleFrequency = frequency
		}
	}
	if v.ID == "" {
		v.ID = "v" + strconv.Itoa(i+1)
	}
	if v.Type == "" {
		v.Type = variantType(&v)
	}
	d.r.Variants = append(d.r.Variants, v)
}

func (d *decoder) codingPtr(row *obx) *gateway.Coding {
	c := d.coding(row.value)
	return &c
}

// variantDefaults completes a variant from the report-wide transcript and
// build, and puts its c. HGVS on its transcript when the lab sent them
// apart (LRI sends "c.563A>G" and the transcript NM_000155.3 in separate rows).
func (d *decoder) variantDefaults(v *gateway.Variant, path string, defaults map[string]*obx, usedDefault map[*obx]bool) {
	if v.GenomeBuild == "" {
		if row := defaults[lnBuild]; row != nil {
			v.GenomeBuild = d.build(row)
			usedDefault[row] = true
		}
	}
	if v.Transcript == "" && strings.HasPrefix(v.HGVS.C, "c.") {
		if row := defaults[lnTranscript]; row != nil {
			v.Transcript = d.comp(row.value, 1)
			usedDefault[row] = true
		}
	}
	if strings.HasPrefix(v.HGVS.C, "c.") && v.Transcript != "" {
		v.HGVS.C = v.Transcript + ":" + v.HGVS.C
	}
}

// variantType infers the variant's type from what describes it.
func variantType(v *gateway.Variant) string {
	text := ""
	if v.ChangeType != nil {
		text = strings.ToLower(v.ChangeType.Text())
	}
	hgvs := v.HGVS.C + v.HGVS.G
	switch {
	case v.CopyNumber != nil || strings.Contains(text, "copy number"):
		return "cnv"
	case v.RepeatCount != "" || strings.Contains(hgvs, "["):
		return "repeat"
	case strings.Contains(text, "del") || strings.Contains(text, "ins") || strings.Contains(text, "dup") ||
		strings.Contains(hgvs, "del") || strings.Contains(hgvs, "ins") || strings.Contains(hgvs, "dup"):
		return "indel"
	case v.ISCN != "" && hgvs == "":
		return "sv"
	}
	return "snv"
}

// text is a row's value as text: the first component, unescaped; for
// text types the whole value (which may hold ^ as content in a TX).
func (d *decoder) text(row *obx) string {
	switch row.valueType {
	case "TX", "FT", "ST":
		return strings.TrimSpace(d.m.Unescape(strings.Split(row.value, string(d.m.Delims.Repetition))[0]))
	}
	return d.comp(row.value, 1)
}

// answer reads a coded answer by its LOINC answer code or its text. One it
// does not know is a warning, and the row is listed as unmapped.
func (d *decoder) answer(row *obx, path string, vocab map[string]string) string {
	return d.answerBy(row, path, vocab, nil)
}

// answerBy is answer with a further reader, more, for the ways labs write
// an answer that no list of words covers (ACMG classes: "VUS (Class 3)").
func (d *decoder) answerBy(row *obx, path string, vocab map[string]string, more func(string) (string, bool)) string {
	code, text := d.comp(row.value, 1), d.comp(row.value, 2)
	if k, ok := vocab[code]; ok {
		return k
	}
	k, ok := vocab[strings.ToLower(first(text, code))]
	if !ok {
		k, ok = vocab[answerAliases[strings.ToLower(first(text, code))]]
	}
	if !ok && more != nil {
		k, ok = more(first(text, code))
	}
	if ok && more != nil && text != "" {
		// "C5^Uncertain significance": a code and a text that name two
		// different answers; neither is filed as if the other were not there.
		if byCode, known := more(code); known && byCode != k {
			d.unreadable(row, fmt.Sprintf("the answer code %s and its text %q disagree", code, text))
			d.warn(path, row.seg, 5, "OBX %s %s answer code %s and text %q name different answers: left out of the outputs, listed as unmapped", row.code, first(row.codeText, "value"), code, text)
			return ""
		}
	}
	if ok {
		if text != "" && code != "" && !strings.EqualFold(code, text) {
			// read by its text: the lab's own code is not carried, say so
			d.unmap(row.seg, 5, row.code, code+"^"+text, "the lab's own answer code "+code+" is replaced by the LOINC answer for "+strconv.Quote(text))
		}
		return k
	}
	d.unreadable(row, fmt.Sprintf("answer %q (%s) is not one the gateway knows", first(text, code), code))
	d.warn(path, row.seg, 5, "OBX %s %s answer %q is not recognised: left out of the outputs, listed as unmapped", row.code, first(row.codeText, "value"), first(text, code))
	return ""
}

// answerAliases are other words labs use for the same answers.
var answerAliases = map[string]string{
	"vus": "uncertain significance", "variant of uncertain significance": "uncertain significance",
	"uncertain": "uncertain significance", "likely pathogenic variant": "likely pathogenic", "pathogenic variant": "pathogenic",
	"het": "heterozygous", "hom": "homozygous", "hemi": "hemizygous", "denovo": "de novo", "de-novo": "de novo",
	"detected": "present", "not detected": "absent", "fail": "failure", "failed": "failure",
}

// unreadable lists a row whose value the gateway could not use.
func (d *decoder) unreadable(row *obx, reason string) {
	d.unmap(row.seg, 5, row.code, d.m.Unescape(row.value), reason)
}

// build reads a genome build: a LOINC answer, its text, or a common alias.
func (d *decoder) build(row *obx) string {
	code, text := d.comp(row.value, 1), d.comp(row.value, 2)
	if b, ok := fromBuild[code]; ok {
		return b
	}
	for _, s := range []string{text, code} {
		switch strings.ToLower(s) {
		case "grch37", "hg19", "b37", "grch37.p13":
			return "GRCh37"
		case "grch38", "hg38", "b38":
			return "GRCh38"
		}
	}
	d.unreadable(row, "genome build not recognised")
	return ""
}

// fraction reads an allele fraction sent as 0.45 or as 45 with unit %.
func (d *decoder) fraction(row *obx) *float64 {
	x, err := strconv.ParseFloat(d.comp(row.value, 1), 64)
	if err != nil {
		d.unreadable(row, "allele frequency is not a number")
		return nil
	}
	d.use(row.seg, 6)
	if unit := d.val(row.seg, 6, 1); unit == "%" || x > 1 {
		x /= 100
	}
	return &x
}

// condition reads a phenotype or disease (CWE) with its code system.
func (d *decoder) condition(row *obx) gateway.Condition {
	code, name, system := d.comp(row.value, 1), d.comp(row.value, 2), d.comp(row.value, 3)
	c := gateway.Condition{Code: code, Name: first(name, code), System: fromCondition[strings.ToUpper(system)]}
	if c.System == "" {
		c.System = conditionAliases[strings.ToUpper(system)]
	}
	if c.System == "" {
		if c.Code != "" && system != "" {
			c.Name = first(name, code) + " (" + system + " " + code + ")"
		}
		c.Code = ""
	}
	return c
}

// chromosome normalises "chr7", "7", "M" or a LOINC answer's text "Chromosome 22".
func chromosome(code, text string) string {
	if c, ok := chromosomeLA[code]; ok {
		return c
	}
	for _, s := range []string{code, text} {
		s = strings.TrimSpace(s)
		for _, p := range []string{"Chromosome ", "chromosome ", "chr", "Chr", "CHR"} {
			s = strings.TrimPrefix(s, p)
		}
		switch strings.ToUpper(s) {
		case "M", "MT":
			return "MT"
		case "X", "Y":
			return strings.ToUpper(s)
		}
		if n, err := strconv.Atoi(s); err == nil && n >= 1 && n <= 22 {
			return s
		}
	}
	return code
}
