// Package hl7v2 maps HL7 v2 ORU^R01 messages to and from gateway.Report.
// Structured genomic results use LOINC-coded OBX groups, one OBX-4 sub-ID
// per variant (2a, 2b, ...) as in the HL7 v2.5.1 LRI Clinical Genomics
// convention; what LOINC has no code for travels under the local code
// system 99RGW (HL7 reserves "99" prefixes for local tables), so a report
// survives a round trip through ORU^R01 unchanged.
package hl7v2

import "strings"

// Local is the gateway's local coding system for OBX-3.
const Local = "99RGW"

// LOINC observation codes used in variant groups (OBX-3, system LN).
const (
	lnGene           = "48018-6"
	lnCHGVS          = "48004-6"
	lnPHGVS          = "48005-3"
	lnGHGVS          = "81290-9"
	lnTranscript     = "51958-7"
	lnRefSeq         = "48013-7"
	lnBuild          = "62374-4"
	lnChromosome     = "48000-4"
	lnStartEnd       = "81254-5"
	lnRefAllele      = "69547-8"
	lnAltAllele      = "69551-0"
	lnZygosity       = "53034-5"
	lnSourceClass    = "48002-0"
	lnInheritance    = "94186-4"
	lnSignificance   = "53037-8"
	lnPhenotype      = "81259-4"
	lnCopyNumber     = "82155-3"
	lnISCN           = "81291-7"
	lnChangeType     = "48019-4"
	lnAssessment     = "69548-6"
	lnOverall        = "51968-6"
	lnVariantCat     = "83005-9"
	lnDisplayName    = "47998-0"
	lnAnalysisMethod = "81304-8"
	lnRangeExamined  = "51959-5"
	lnCHGVSLegacy    = "41103-3" // "Transcript DNA change (c.HGVS)", as LRI messages send it
	lnDbSNP          = "81255-2"
	lnClinVar        = "81252-9" // "Discrete genetic variant", valued by ClinVar id
	lnCytoLocation   = "48001-2"
	lnAlleleFreq     = "81258-6" // sample variant allelic frequency; heteroplasmy for mitochondrial variants
	lnAAChangeType   = "48006-1"
	lnDisease        = "51967-8" // genetic disease(s) assessed
	lnReason         = "53577-3" // reason for study
	lnNarrative      = "51969-4" // full narrative report
	lnTested         = "36908-2" // gene mutations tested
	lnGeneticReport  = "1054161000000101"
	lnLabReport      = "11502-2" // LOINC Laboratory report: the PDF of a pathology report
)

// gatewayWarning types an NTE the gateway writes for one of its warnings (NTE-4).
const gatewayWarning = "GW"

// Local observation codes (OBX-3, system 99RGW).
const (
	rgwVersion        = "report-version"
	rgwLabName        = "performing-lab-name"
	rgwTrustName      = "ordering-trust-name"
	rgwStatus         = "report-status"
	rgwMethod         = "test-method"
	rgwConclusion     = "conclusion"
	rgwInterpretation = "interpretation"
	rgwLimitations    = "limitations"
	rgwPanel          = "panel"
	rgwPanelGene      = "panel-gene"
	rgwSpecimenID     = "specimen-id"
	rgwSpecimenType   = "specimen-type"
	rgwCollected      = "specimen-collected"
	rgwReceived       = "specimen-received"
	rgwRelationship   = "relative-relationship"
	rgwRelativeNHS    = "relative-nhs-number"
	rgwRelativeLabID  = "relative-lab-id"
	rgwAffected       = "relative-affected"
	rgwVariantID      = "variant-id"
	rgwVariantType    = "variant-type"
	rgwCriteria       = "acmg-criteria"
	rgwModeOfInh      = "mode-of-inheritance"
	rgwHeteroplasmy   = "heteroplasmy-fraction"
	rgwComment        = "variant-comment"
	rgwOrigin         = "origin"
	rgwInheritance    = "inheritance"
	rgwAuthName       = "authoriser-name"
	rgwAuthRole       = "authoriser-role"
	rgwAuthReg        = "authoriser-registration"
	rgwAuthAt         = "authorised-at"
	rgwKind           = "report-kind"
	rgwRepeatCount    = "repeat-count"
	rgwAttachment     = "attachment"
	rgwReportID       = "report-id"
	rgwIdentifier     = "variant-identifier"
	rgwPrevVersion    = "previous-version"
	rgwRelation       = "previous-relation"
	rgwChanges        = "changes"
)

type answer struct{ code, text string }

// LOINC answers, both ways (the same lists the FHIR mapper uses).
var (
	zygosityLA = map[string]answer{
		"heterozygous": {"LA6706-1", "Heterozygous"}, "homozygous": {"LA6705-3", "Homozygous"},
		"hemizygous": {"LA6707-9", "Hemizygous"}, "heteroplasmic": {"LA6703-8", "Heteroplasmic"},
		"homoplasmic": {"LA6704-6", "Homoplasmic"},
	}
	acmgLA = map[string]answer{
		"pathogenic": {"LA6668-3", "Pathogenic"}, "likely-pathogenic": {"LA26332-9", "Likely pathogenic"},
		"uncertain-significance": {"LA26333-7", "Uncertain significance"},
		"likely-benign":          {"LA26334-5", "Likely benign"}, "benign": {"LA6675-8", "Benign"},
	}
	sourceLA = map[string]answer{
		"germline": {"LA6683-2", "Germline"}, "somatic": {"LA6684-0", "Somatic"}, "de-novo": {"LA26807-0", "De novo"},
	}
	inheritanceLA = map[string]answer{
		"maternal": {"LA26320-4", "Maternal"}, "paternal": {"LA26321-2", "Paternal"}, "unknown": {"LA4489-6", "Unknown"},
	}
	// LL1971-2, variant assessment.
	assessmentLA = map[string]answer{
		"present": {"LA9633-4", "Present"}, "absent": {"LA9634-2", "Absent"},
		"no-call": {"LA18198-4", "No call"}, "indeterminate": {"LA11884-6", "Indeterminate"},
	}
	buildLA   = map[string]answer{"GRCh37": {"LA14029-5", "GRCh37"}, "GRCh38": {"LA26806-2", "GRCh38"}}
	outcomeLA = map[string]answer{
		"positive": {"LA6576-8", "Positive"}, "negative": {"LA6577-6", "Negative"},
		"inconclusive": {"LA9663-1", "Inconclusive"}, "failed": {"LA9664-9", "Failure"},
	}
	modeHPO = map[string]answer{
		"autosomal-dominant":  {"HP:0000006", "Autosomal dominant inheritance"},
		"autosomal-recessive": {"HP:0000007", "Autosomal recessive inheritance"},
		"x-linked":            {"HP:0001417", "X-linked inheritance"}, "x-linked-recessive": {"HP:0001419", "X-linked recessive inheritance"},
		"x-linked-dominant": {"HP:0001423", "X-linked dominant inheritance"}, "mitochondrial": {"HP:0001427", "Mitochondrial inheritance"},
	}
	// Condition code systems: report vocabulary <-> HL7 coding system names.
	conditionSystemsV2 = map[string]string{"snomed": "SCT", "omim": "OMIM", "mondo": "MONDO", "hpo": "HPO", "medgen": "MEDGEN", "icd10": "I10"}
	// Other names senders give the same condition code systems.
	conditionAliases = map[string]string{"SNM": "snomed", "SNOMED": "snomed", "SNOMEDCT": "snomed", "SNOMED-CT": "snomed",
		"MIM": "omim", "HP": "hpo", "MEDGEN-DIS": "medgen", "MEDGEN": "medgen", "ICD10": "icd10", "ICD-10": "icd10"}
	// OBX-11 (table 0085) for a result's status; OBR-25 (table 0123) is the
	// same but for entered-in-error, which 0123 has no code for: see obrStatus.
	statusV2 = map[string]string{"final": "F", "amended": "C", "corrected": "C", "preliminary": "P", "cancelled": "X", "entered-in-error": "W"}
	sexV2    = map[string]string{"male": "M", "female": "F", "other": "O", "unknown": "U"}
)

// chromosomeLA reads LOINC LL2938-0 answers (48000-4) to chromosome names.
var chromosomeLA = map[string]string{
	"LA21254-0": "1",
	"LA21255-7": "2",
	"LA21256-5": "3",
	"LA21257-3": "4",
	"LA21258-1": "5",
	"LA21259-9": "6",
	"LA21260-7": "7",
	"LA21261-5": "8",
	"LA21262-3": "9",
	"LA21263-1": "10",
	"LA21264-9": "11",
	"LA21265-6": "12",
	"LA21266-4": "13",
	"LA21267-2": "14",
	"LA21268-0": "15",
	"LA21269-8": "16",
	"LA21270-6": "17",
	"LA21271-4": "18",
	"LA21272-2": "19",
	"LA21273-0": "20",
	"LA21274-8": "21",
	"LA21275-5": "22",
	"LA21276-3": "X",
	"LA21277-1": "Y",
}

// Decoding lookups (answer code or lower-case text -> report vocabulary),
// built once rather than on every field read.
var (
	fromZygosity    = reverse(zygosityLA)
	fromACMG        = reverse(acmgLA)
	fromSource      = reverse(sourceLA)
	fromInheritance = reverse(inheritanceLA)
	fromBuild       = reverse(buildLA)
	fromOutcome     = reverse(outcomeLA)
	fromMode        = reverse(modeHPO)
	fromAssessment  = reverse(assessmentLA)
	fromCondition   = reverseStrings(conditionSystemsV2)
	fromSex         = reverseStrings(sexV2)
)

// reverse builds code -> key maps for decoding.
func reverse(m map[string]answer) map[string]string {
	out := make(map[string]string, len(m))
	for k, a := range m {
		out[a.code] = k
		out[strings.ToLower(a.text)] = k
	}
	return out
}

func reverseStrings(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}
