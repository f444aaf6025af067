package hl7v2

import (
	"strings"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// Coding systems: HL7 v2 names (CWE-3, table 0396 and what labs send) to
// the URIs the gateway's report and FHIR use, and back. A name not listed
// stays as the sender wrote it.
var systemURIs = map[string]string{
	"LN": "http://loinc.org", "LOINC": "http://loinc.org",
	"SCT": "http://snomed.info/sct", "SNM": "http://snomed.info/sct", "SNOMED": "http://snomed.info/sct", "SNOMEDCT": "http://snomed.info/sct",
	"HGNC": "http://www.genenames.org", "HGNC-SYMB": "http://www.genenames.org",
	"DBSNP":   "http://www.ncbi.nlm.nih.gov/projects/SNP",
	"CLINVAR": "http://www.ncbi.nlm.nih.gov/clinvar", "CLINVAR-V": "http://www.ncbi.nlm.nih.gov/clinvar",
	"HPO": "http://human-phenotype-ontology.org", "OMIM": "http://www.omim.org",
	"MEDGEN": "http://www.ncbi.nlm.nih.gov/medgen", "MEDGEN-DIS": "http://www.ncbi.nlm.nih.gov/medgen",
	"ENGLAND-GENOMICTESTDIRECTORY":      "https://fhir.nhs.uk/CodeSystem/England-GenomicTestDirectory",
	"ENGLAND-DIGITALGENOMICTESTSERVICE": "https://fhir.nhs.uk/CodeSystem/England-DigitalGenomicTestService",
}

// GMSOrderSystem is NHS England's system for the Genomic Medicine Service's
// order numbers: in an EI's universal id (EI-3, type URI) it says the
// placer order number is one.
const GMSOrderSystem = "https://fhir.nhs.uk/Id/GMSOrder"

// systemNames is the name written for each URI.
var systemNames = map[string]string{
	"http://loinc.org": "LN", "http://snomed.info/sct": "SCT", "http://www.genenames.org": "HGNC",
	"http://www.ncbi.nlm.nih.gov/projects/SNP": "dbSNP", "http://www.ncbi.nlm.nih.gov/clinvar": "ClinVar",
	"http://human-phenotype-ontology.org": "HPO", "http://www.omim.org": "OMIM", "http://www.ncbi.nlm.nih.gov/medgen": "MEDGEN",
	"https://fhir.nhs.uk/CodeSystem/England-GenomicTestDirectory":      "England-GenomicTestDirectory",
	"https://fhir.nhs.uk/CodeSystem/England-DigitalGenomicTestService": "England-DigitalGenomicTestService",
}

func systemURI(name string) string {
	if uri, ok := systemURIs[strings.ToUpper(strings.TrimSpace(name))]; ok {
		return uri
	}
	return strings.TrimSpace(name)
}

func systemName(uri string) string {
	if name, ok := systemNames[uri]; ok {
		return name
	}
	return uri
}

// coding reads a CWE/CE/CNE value's first triplet: code, text, system.
func (d *decoder) coding(value string) gateway.Coding {
	return gateway.Coding{Code: d.comp(value, 1), Display: d.comp(value, 2), System: systemURI(d.comp(value, 3))}
}
