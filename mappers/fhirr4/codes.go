package fhirr4

// Code systems, profiles and answer codes (see ../shared/STANDARDS.md §1-2).
// LOINC answer codes were checked against LOINC's check digit.
const (
	systemLOINC         = "http://loinc.org"
	systemSNOMED        = "http://snomed.info/sct"
	systemHGNC          = "http://www.genenames.org"
	systemHGVS          = "http://varnomen.hgvs.org"
	systemRefSeq        = "http://www.ncbi.nlm.nih.gov/refseq"
	systemSO            = "http://www.sequenceontology.org"
	systemISCN          = "https://iscn.karger.com"
	systemHPO           = "http://human-phenotype-ontology.org"
	systemUCUM          = "http://unitsofmeasure.org"
	systemV20074        = "http://terminology.hl7.org/CodeSystem/v2-0074"
	systemV20203        = "http://terminology.hl7.org/CodeSystem/v2-0203"
	systemObsCategory   = "http://terminology.hl7.org/CodeSystem/observation-category"
	systemTBD           = "http://hl7.org/fhir/uv/genomics-reporting/CodeSystem/tbd-codes-cs"
	systemMethodType    = "http://hl7.org/fhir/uv/genomics-reporting/CodeSystem/genomic-study-method-type-cs"
	systemDataOp        = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
	systemProvAgent     = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
	systemSignatureType = "urn:iso-astm:E1762-95:2013"
	systemNHSNumber     = "https://fhir.nhs.uk/Id/nhs-number"
	systemCHINumber     = "urn:oid:2.16.840.1.113883.2.1.3.2.4.16.53" // Scotland's CHI number, as UK implementers name it
	systemHCNumber      = "https://fhir.nhs.uk/Id/hsc-number"         // Northern Ireland's Health and Care number
	systemDataAbsent    = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
	systemInterpret     = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
	systemClinVar       = "http://www.ncbi.nlm.nih.gov/clinvar"
	systemDbSNP         = "http://www.ncbi.nlm.nih.gov/projects/SNP"
	extNoteR5           = "http://hl7.org/fhir/5.0/StructureDefinition/extension-DiagnosticReport.note"
	systemODS           = "https://fhir.nhs.uk/Id/ods-organization-code"
	systemNHSELocalDR   = "https://fhir.nhs.uk/local-identifier/diagnosticreport"
	systemTestDirectory = "https://fhir.nhs.uk/CodeSystem/England-GenomicTestDirectory"
	systemDGTS          = "https://fhir.nhs.uk/CodeSystem/England-DigitalGenomicTestService"
	extTestCodeVersion  = "https://fhir.nhs.uk/England/StructureDefinition/Extension-GenomicTestCode-Version"

	igBase             = "http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition/"
	profileReport      = igBase + "genomic-report"
	profileVariant     = igBase + "variant"
	profileImplication = igBase + "diagnostic-implication"
	profileStudy       = igBase + "genomic-study"
	profileAnalysis    = igBase + "genomic-study-analysis"

	// NHS England's genomics profiles (differential on UK Core), claimed
	// beside the Genomics Reporting IG's where a resource meets them; see
	// the README's "NHS England profiles" for what is claimed and why not.
	nhseBase                = "https://fhir.nhs.uk/StructureDefinition/"
	profileNHSEReport       = nhseBase + "NHSDigital-DiagnosticReport-Genomics"
	profileNHSESpecimen     = nhseBase + "NHSDigital-Specimen-Genomics"
	profileNHSEPractitioner = nhseBase + "NHSDigital-Practitioner-Genomics"
	// NHS England's NamingSystems.
	systemGMSOrder       = "https://fhir.nhs.uk/Id/GMSOrder"
	systemPedigreeNumber = "https://fhir.nhs.uk/Id/genomics-pedigree-number"
)

var registrationSystems = map[string]string{
	"GMC":  "https://fhir.hl7.org.uk/Id/gmc-number",
	"HCPC": "https://fhir.hl7.org.uk/Id/hcpc-number",
	"NMC":  "https://fhir.hl7.org.uk/Id/nmc-number",
	"SDS":  "https://fhir.nhs.uk/Id/sds-user-id",
}

type answer struct{ code, display string }

// relationWords name how a report follows an earlier one (Report.Previous).
var relationWords = map[string]string{
	"": "Variant re-interpretation", "reinterpretation": "Variant re-interpretation", "reanalysis": "Re-analysis",
}

var (
	// LL541-4, DiagnosticReport.conclusionCode.
	outcomeAnswers = map[string]answer{
		"positive": {"LA6576-8", "Positive"}, "negative": {"LA6577-6", "Negative"},
		"inconclusive": {"LA9663-1", "Inconclusive"}, "failed": {"LA9664-9", "Failure"},
	}
	// LL4034-6, clinical significance.
	acmgAnswers = map[string]answer{
		"pathogenic": {"LA6668-3", "Pathogenic"}, "likely-pathogenic": {"LA26332-9", "Likely pathogenic"},
		"uncertain-significance": {"LA26333-7", "Uncertain significance"},
		"likely-benign":          {"LA26334-5", "Likely benign"}, "benign": {"LA6675-8", "Benign"},
	}
	// LL381-5, allelic state.
	zygosityAnswers = map[string]answer{
		"heterozygous": {"LA6706-1", "Heterozygous"}, "homozygous": {"LA6705-3", "Homozygous"},
		"hemizygous": {"LA6707-9", "Hemizygous"}, "heteroplasmic": {"LA6703-8", "Heteroplasmic"},
		"homoplasmic": {"LA6704-6", "Homoplasmic"},
	}
	// LL378-1, genomic source class; a de novo variant is reported as such.
	sourceAnswers = map[string]answer{
		"germline": {"LA6683-2", "Germline"}, "somatic": {"LA6684-0", "Somatic"}, "de-novo": {"LA26807-0", "De novo"},
	}
	// LL5489-1, variant inheritance.
	inheritanceAnswers = map[string]answer{
		"maternal": {"LA26320-4", "Maternal"}, "paternal": {"LA26321-2", "Paternal"}, "unknown": {"LA4489-6", "Unknown"},
	}
	// LL1040-6, reference assembly.
	buildAnswers = map[string]answer{"GRCh37": {"LA14029-5", "GRCh37"}, "GRCh38": {"LA26806-2", "GRCh38"}}
	// LL2938-0, chromosome (the list has no mitochondrial entry).
	chromosomeAnswers = map[string]answer{
		"1": {"LA21254-0", "Chromosome 1"}, "2": {"LA21255-7", "Chromosome 2"}, "3": {"LA21256-5", "Chromosome 3"},
		"4": {"LA21257-3", "Chromosome 4"}, "5": {"LA21258-1", "Chromosome 5"}, "6": {"LA21259-9", "Chromosome 6"},
		"7": {"LA21260-7", "Chromosome 7"}, "8": {"LA21261-5", "Chromosome 8"}, "9": {"LA21262-3", "Chromosome 9"},
		"10": {"LA21263-1", "Chromosome 10"}, "11": {"LA21264-9", "Chromosome 11"}, "12": {"LA21265-6", "Chromosome 12"},
		"13": {"LA21266-4", "Chromosome 13"}, "14": {"LA21267-2", "Chromosome 14"}, "15": {"LA21268-0", "Chromosome 15"},
		"16": {"LA21269-8", "Chromosome 16"}, "17": {"LA21270-6", "Chromosome 17"}, "18": {"LA21271-4", "Chromosome 18"},
		"19": {"LA21272-2", "Chromosome 19"}, "20": {"LA21273-0", "Chromosome 20"}, "21": {"LA21274-8", "Chromosome 21"},
		"22": {"LA21275-5", "Chromosome 22"}, "X": {"LA21276-3", "Chromosome X"}, "Y": {"LA21277-1", "Chromosome Y"},
	}
	// Sequence Ontology terms for the variant type (48019-4).
	changeTypes = map[string]answer{
		"snv": {"SO:0001483", "SNV"}, "indel": {"SO:1000032", "delins"},
		"cnv": {"SO:0001019", "copy_number_variation"}, "sv": {"SO:0001537", "structural_variant"},
		"repeat": {"SO:0000657", "repeat_region"},
	}
	// HPO modes of inheritance (condition-inheritance-mode-vs).
	inheritanceModes = map[string]answer{
		"autosomal-dominant":  {"HP:0000006", "Autosomal dominant inheritance"},
		"autosomal-recessive": {"HP:0000007", "Autosomal recessive inheritance"},
		"x-linked":            {"HP:0001417", "X-linked inheritance"},
		"x-linked-recessive":  {"HP:0001419", "X-linked recessive inheritance"},
		"x-linked-dominant":   {"HP:0001423", "X-linked dominant inheritance"},
		"mitochondrial":       {"HP:0001427", "Mitochondrial inheritance"},
	}
	conditionSystems = map[string]string{
		"snomed": systemSNOMED, "omim": "http://www.omim.org", "mondo": "http://purl.obolibrary.org/obo/mondo.owl", "hpo": systemHPO,
		"medgen": "http://www.ncbi.nlm.nih.gov/medgen", "icd10": "http://hl7.org/fhir/sid/icd-10",
	}
	// LL1971-2, variant assessment (Observation.value of a Variant).
	assessmentAnswers = map[string]answer{
		"": {"LA9633-4", "Present"}, "present": {"LA9633-4", "Present"}, "absent": {"LA9634-2", "Absent"},
		"no-call": {"LA18198-4", "No call"}, "indeterminate": {"LA11884-6", "Indeterminate"},
	}
	// genomic-study-method-type-cs codes and readable names for the test method.
	methodTypes = map[string]string{ // the names are gateway.TestMethodNames
		"wgs": "ngs-mps", "wes": "ngs-mps", "panel": "ngs-mps", "targeted": "targeted-variant-analysis",
		"array": "microarray", "mlpa": "mlpa", "sanger": "bi-directional-sanger-sequence-analysis",
	}
)
