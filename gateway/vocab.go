package gateway

// The closed vocabularies of the native report. Mappers translate these into
// LOINC, HL7 v2 or SNOMED codes; validation rejects anything else.
var (
	Statuses           = set("preliminary", "final", "amended", "corrected", "entered-in-error")
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
	ConditionSystems   = set("snomed", "omim", "mondo", "hpo")
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

// IsMitochondrial reports whether the variant lies on the mitochondrial genome.
func (v *Variant) IsMitochondrial() bool { return v.Chromosome == "MT" }
