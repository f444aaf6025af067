package gateway

import (
	"regexp"
	"strconv"
	"strings"
)

// The closed vocabularies of the native report. Mappers translate these into
// LOINC, HL7 v2 or SNOMED codes; validation rejects anything else.
var (
	Statuses           = set("preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error")
	Outcomes           = set("positive", "negative", "inconclusive", "failed")
	Genders            = set("male", "female", "other", "unknown")
	TestMethods        = set("wgs", "wes", "panel", "targeted", "array", "mlpa", "sanger")
	VariantTypes       = set("snv", "indel", "cnv", "sv", "repeat")
	Zygosities         = set("heterozygous", "homozygous", "hemizygous", "heteroplasmic", "homoplasmic")
	Origins            = set("germline", "somatic")
	Inheritances       = set("maternal", "paternal", "de-novo", "biparental", "unknown")
	ACMGClasses        = set("pathogenic", "likely-pathogenic", "uncertain-significance", "likely-benign", "benign")
	Relationships      = set("mother", "father", "sibling", "other")
	AffectedStatuses   = set("affected", "unaffected", "unknown")
	RegistrationBodies = set("GMC", "HCPC", "NMC", "SDS", "LOCAL") // LOCAL: the lab's own staff id (e.g. from HL7 OBR-32)
	GenomeBuilds       = set("GRCh37", "GRCh38")
	ModesOfInheritance = set("autosomal-dominant", "autosomal-recessive", "x-linked", "x-linked-recessive", "x-linked-dominant", "mitochondrial")
	ConditionSystems   = set("snomed", "omim", "mondo", "hpo", "medgen", "icd10")
	Assessments        = set("present", "absent", "no-call", "indeterminate")
	ValueTypes         = set(ValueQuantity, ValueText, ValueCoded, ValueRatio, ValueRange, ValueDateTime)
	Comparators        = set("<", "<=", ">", ">=")
	AbsentReasons      = set("not-performed", "error", "unknown", "not-applicable", "asked-unknown", "temp-unknown", "masked")
	ReportKinds        = set(KindGenomic, KindLaboratory)
)

// TestMethodNames and VariantTypeNames are how people read those codes:
// the PDF prints them and FHIR uses them as display text.
var (
	TestMethodNames = map[string]string{
		"wgs": "Whole genome sequencing", "wes": "Whole exome sequencing", "panel": "Gene panel sequencing",
		"targeted": "Targeted variant analysis", "array": "Microarray", "mlpa": "MLPA", "sanger": "Sanger sequencing",
	}
	ACMGNames = map[string]string{
		"pathogenic": "pathogenic", "likely-pathogenic": "likely pathogenic",
		"uncertain-significance": "uncertain significance (VUS)", "likely-benign": "likely benign", "benign": "benign",
		"": "unclassified",
	}
	VariantTypeNames = map[string]string{
		"snv": "Single nucleotide variant", "indel": "Insertion/deletion", "cnv": "Copy number variant",
		"sv": "Structural variant", "repeat": "Repeat expansion",
	}
)

// Vocab is a closed set of codes.
type Vocab map[string]bool

func set(codes ...string) Vocab {
	v := make(Vocab, len(codes))
	for _, c := range codes {
		v[c] = true
	}
	return v
}

// Has reports whether code is in the vocabulary.
func (v Vocab) Has(code string) bool { return v[code] }

// IsSequenceVariant reports whether the variant is described at base level
// (and so needs c. or g. HGVS and ref/alt) rather than as a copy-number or structural change.
func (v *Variant) IsSequenceVariant() bool {
	return v.Type == "snv" || v.Type == "indel" || v.Type == "repeat"
}

// IsMitochondrial reports whether the variant lies on the mitochondrial
// genome: chromosome MT, an m. description or the mitochondrial reference
// NC_012920, or an MT- gene. Labs that follow the LOINC variant convention
// often send no chromosome at all, so the HGVS and the gene count too.
func (v *Variant) IsMitochondrial() bool {
	return v.Chromosome == "MT" || strings.HasPrefix(v.HGVS.G, "NC_012920.") || strings.Contains(v.HGVS.G, ":m.") ||
		strings.HasPrefix(v.Gene.Symbol, "MT-")
}

// NotFound is what a reader is told, in place of a zygosity, of a variant
// that was looked for and not found (a pertinent negative, such as the
// familial variant a relative does not carry) or not called: "" for one
// that was found. A row "BRCA2 heterozygous pathogenic" reads as a finding.
func (v *Variant) NotFound() string {
	return notFoundWords[v.Assessment]
}

var notFoundWords = map[string]string{
	"absent": "NOT DETECTED", "no-call": "NO CALL", "indeterminate": "INDETERMINATE",
}

var repeatHGVS = regexp.MustCompile(`([ACGTN]*)\[(\d+)\](?:;\[(\d+)\])?$`)

// Repeats returns a repeat expansion's unit and repeat counts (one per
// allele): the lab's repeat count when given, else read from its HGVS
// (c.52_54CAG[17];[42] is CAG, 17 and 42). No counts for other variants.
func (v *Variant) Repeats() (motif string, counts []string) {
	for _, h := range []string{v.HGVS.C, v.HGVS.G} {
		if m := repeatHGVS.FindStringSubmatch(h); m != nil {
			motif, counts = m[1], []string{m[2]}
			if m[3] != "" {
				counts = append(counts, m[3])
			}
			break
		}
	}
	if v.RepeatCount != "" {
		counts = strings.Split(v.RepeatCount, ";")
	}
	return motif, counts
}

// Plural is n with the noun's singular or plural form, for messages people
// read ("1 delivery", "2 deliveries").
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
