// Package gateway holds the Results Gateway's domain: the normalised lab
// report, validation rules, errors and the interfaces the rest implements.
// It imports only the standard library.
package gateway

import (
	"bytes"
	"encoding/base64"
	"strings"
)

// SchemaVersion is the native JSON lab report schema this build accepts.
const SchemaVersion = 1

// Report is one normalised genomic lab report, whatever format it arrived in.
// Its JSON form is the native lab report (docs/lab-report.schema.json).
// Dates stay strings so that validation can report a bad one with its location.
type Report struct {
	SchemaVersion       int          `json:"schemaVersion"`
	ID                  string       `json:"id"`
	Version             int          `json:"version"`
	Status              Status       `json:"status"`
	Issued              string       `json:"issued"`
	PerformingLab       Organisation `json:"performingLab"`
	OrderingTrust       Organisation `json:"orderingTrust"`
	RequestingClinician *Clinician   `json:"requestingClinician,omitempty"`
	OrderNumber         string       `json:"orderNumber,omitempty"`
	// OrderNumberLocal says OrderNumber is the ordering system's own number
	// (an EPR's placer order number, HL7 ORC-2/OBR-2), not the Genomic
	// Medicine Service's order number that NHS England's GMSOrder
	// identifier names, which GOMS assigns and matches reports by.
	OrderNumberLocal bool         `json:"orderNumberLocal,omitempty"`
	Patient          Patient      `json:"patient"`
	Test             Test         `json:"test"`
	Specimens        []Specimen   `json:"specimens"`
	Relatives        []Relative   `json:"relatives,omitempty"`
	Result           Result       `json:"result"`
	Variants         []Variant    `json:"variants,omitempty"`
	Authorisers      []Authoriser `json:"authorisers"`
	PDF              *Attachment  `json:"pdf,omitempty"`
	// Unstructured marks a report that is only a PDF and text (common from
	// HL7 v2 senders): no outcome, variants or authorisers are required.
	Unstructured bool `json:"unstructured,omitempty"`

	// Kind is KindGenomic (the default when empty) or KindLaboratory: an
	// ordinary pathology report (an FBC, an HbA1c) that is filed, not refused.
	Kind string `json:"kind,omitempty"`
	// ResultGroups are results that are not genomic findings: one group per
	// test the lab ran (an HL7 v2 OBR), each with its observations.
	ResultGroups []ResultGroup `json:"resultGroups,omitempty"`
	// Notes are the lab's comments on the whole report (HL7 v2 NTE after OBR).
	Notes []string `json:"notes,omitempty"`
	// Attachments are further documents the lab sent beside the report PDF.
	Attachments []Attachment `json:"attachments,omitempty"`
	// Previous is the report this one re-interprets or re-analyses: a new
	// report of its own, linked to the old one, never an overwrite of it.
	Previous *PreviousReport `json:"previous,omitempty"`
	// CopyTo are further recipients (trusts or GP practices, by ODS code):
	// each gets the report through its own destinations.
	CopyTo []Organisation `json:"copyTo,omitempty"`
	// Changes say what changed since the earlier report (a previous version,
	// or the report this one re-interprets): variants reclassified. The
	// gateway sets them at intake from what it stored; a lab's are replaced.
	Changes []Change `json:"changes,omitempty"`

	// Warnings are what the gateway noticed while reading the report: missing
	// or odd content that did not stop it from being filed. The gateway sets
	// them; they are not part of the lab's report (nor of its digest).
	Warnings []Warning `json:"-"`
}

// Report kinds.
const (
	KindGenomic    = "genomic"
	KindLaboratory = "laboratory"
)

// The codes that say what kind of report it is: the FHIR DiagnosticReport
// carries them in code and the DocumentReference in type, and the pull API
// finds reports by them, so both read them from here.
const (
	CodeGeneticAnalysis = "51969-4"          // LOINC: Genetic analysis report (a genomic report)
	CodeGeneticReport   = "1054161000000101" // SNOMED CT: Genetic report (a genomic report)
	CodeLabReport       = "4241000179101"    // SNOMED CT: Laboratory report (any other kind)
)

// IsGenomic reports whether the report is a genomic report (the default).
func (r *Report) IsGenomic() bool { return r.Kind == "" || r.Kind == KindGenomic }

// Status is the report's lifecycle state (FHIR DiagnosticReport.status subset).
type Status string

const (
	StatusPreliminary    Status = "preliminary"
	StatusFinal          Status = "final"
	StatusAmended        Status = "amended"
	StatusCorrected      Status = "corrected"
	StatusCancelled      Status = "cancelled"
	StatusEnteredInError Status = "entered-in-error"
)

// Organisation is an NHS organisation identified by its ODS code.
type Organisation struct {
	ODSCode string `json:"odsCode"`
	Name    string `json:"name,omitempty"`
}

// Clinician is the requesting clinician.
type Clinician struct {
	Name         string        `json:"name"`
	Registration *Registration `json:"registration,omitempty"`
}

// Registration is a professional registration (GMC, HCPC, NMC) or SDS user id.
type Registration struct {
	Body   string `json:"body"`
	Number string `json:"number"`
}

// Patient is the proband. A patient is identified by a national number
// (NHS number in England and Wales, CHI number in Scotland, Health and Care
// number in Northern Ireland) or by a local MRN with its assigning authority.
type Patient struct {
	NHSNumber    string `json:"nhsNumber,omitempty"`
	CHINumber    string `json:"chiNumber,omitempty"`
	HCNumber     string `json:"hcNumber,omitempty"`
	Name         Name   `json:"name"`
	BirthDate    string `json:"birthDate"`
	Gender       string `json:"gender"`
	MRN          string `json:"mrn,omitempty"`
	MRNAuthority string `json:"mrnAuthority,omitempty"` // who issued the MRN, usually the trust's ODS code
	// PedigreeNumber is the clinical genetics family (pedigree) number: it
	// names the family, so it is carried but never used to match a patient.
	PedigreeNumber string   `json:"pedigreeNumber,omitempty"`
	Address        *Address `json:"address,omitempty"`
}

// Address is a postal address.
type Address struct {
	Lines    []string `json:"lines,omitempty"`
	City     string   `json:"city,omitempty"`
	District string   `json:"district,omitempty"`
	Postcode string   `json:"postcode,omitempty"`
}

// Name is a person's name.
type Name struct {
	Given  []string `json:"given"`
	Family string   `json:"family"`
	Prefix string   `json:"prefix,omitempty"` // a title such as Mr, Ms or Dr
}

// InDigitalService says whether a test code is the Digital Genomic Test
// Service's (GT..., TP...) rather than the National Genomic Test
// Directory's (R..., M...): the two are coded under different systems.
func InDigitalService(code string) bool {
	return strings.HasPrefix(code, "GT") || strings.HasPrefix(code, "TP")
}

// Test is what was ordered and how it was done.
type Test struct {
	Code             string  `json:"code"`
	Name             string  `json:"name"`
	DirectoryVersion string  `json:"directoryVersion,omitempty"`
	Method           string  `json:"method"`
	Panels           []Panel `json:"panels,omitempty"`
	// LocalCode is the lab's own code for the test, when it sent one
	// (e.g. iGene's "SANGER" beside the directory code R240.1).
	LocalCode *Coding `json:"localCode,omitempty"`
	// Reason is why the test was done (LOINC 53577-3 "Reason for study").
	Reason string `json:"reason,omitempty"`
	// Conditions are the diseases the test assessed (LOINC 51967-8).
	Conditions []Coding `json:"conditions,omitempty"`
	// VariantsTested are the specific variants a targeted test looked for (LOINC 36908-2).
	VariantsTested []string `json:"variantsTested,omitempty"`
	// DirectoryName is the Genomic Test Directory's official name for Code,
	// set by the gateway (never by the lab) when the directory knows it.
	DirectoryName string `json:"-"`
	// GenesStudied are genes analysed outside any virtual panel (LOINC 48018-6
	// in a region-studied group); RegionsStudied are the genomic ranges
	// examined, as "reference:start-end" (LOINC 51959-5).
	GenesStudied   []Gene   `json:"genesStudied,omitempty"`
	RegionsStudied []string `json:"regionsStudied,omitempty"`
}

// Coding is a code in a code system, with its text.
type Coding struct {
	System  string `json:"system,omitempty"` // a URI, or the sender's system name (HL7 v2 CWE-3) when it has none
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// Text is the most readable form of the coding.
func (c Coding) Text() string {
	if c.Display != "" {
		return c.Display
	}
	return c.Code
}

// Panel is a PanelApp virtual gene panel applied to the analysis.
type Panel struct {
	PanelAppID string `json:"panelAppId"`
	Name       string `json:"name"`
	Version    string `json:"version"`
	Genes      []Gene `json:"genes,omitempty"`
}

// Gene is an HGNC gene.
type Gene struct {
	Symbol string `json:"symbol"`
	HGNCID string `json:"hgncId"`
}

// Specimen is a sample the report is based on.
type Specimen struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Collected string `json:"collected"`
	Received  string `json:"received"`
}

// Relative is a family member tested alongside the proband (trio testing).
type Relative struct {
	Relationship string `json:"relationship"`
	NHSNumber    string `json:"nhsNumber,omitempty"`
	LabID        string `json:"labId,omitempty"`
	Affected     string `json:"affected"`
}

// Result is the overall outcome.
type Result struct {
	Outcome        string `json:"outcome"`
	Conclusion     string `json:"conclusion"`
	Interpretation string `json:"interpretation,omitempty"`
	Limitations    string `json:"limitations,omitempty"`
}

// Variant is one reported sequence, copy-number or structural variant.
type Variant struct {
	ID                   string         `json:"id"`
	Type                 string         `json:"type"`
	Gene                 Gene           `json:"gene"`
	Transcript           string         `json:"transcript,omitempty"`
	HGVS                 HGVS           `json:"hgvs"`
	GenomeBuild          string         `json:"genomeBuild"`
	Chromosome           string         `json:"chromosome"`
	Start                int64          `json:"start"`
	End                  int64          `json:"end,omitempty"`
	Ref                  string         `json:"ref,omitempty"`
	Alt                  string         `json:"alt,omitempty"`
	CopyNumber           *int           `json:"copyNumber,omitempty"`
	ISCN                 string         `json:"iscn,omitempty"`
	Zygosity             string         `json:"zygosity"`
	HeteroplasmyFraction *float64       `json:"heteroplasmyFraction,omitempty"`
	Origin               string         `json:"origin,omitempty"`
	Inheritance          string         `json:"inheritance,omitempty"`
	Classification       Classification `json:"classification"`
	Condition            *Condition     `json:"condition,omitempty"`
	Comment              string         `json:"comment,omitempty"`

	// Assessment says whether the variant was found: "present" (the
	// default), "absent" (a pertinent negative), "no-call" or "indeterminate".
	Assessment string `json:"assessment,omitempty"`
	// CytogeneticLocation is the chromosome band, e.g. 9p13.
	CytogeneticLocation string `json:"cytogeneticLocation,omitempty"`
	// GenomicReference is the genomic reference sequence as the lab sent it
	// (LOINC 48013-7), e.g. NG_009029.1 or an HGVS on it.
	GenomicReference string `json:"genomicReference,omitempty"`
	// Identifiers are the variant's ids in public databases (dbSNP, ClinVar).
	Identifiers []Coding `json:"identifiers,omitempty"`
	// ChangeType is the DNA change type as the lab coded it (LOINC 48019-4);
	// AminoAcidChangeType the amino acid change type (LOINC 48006-1).
	ChangeType          *Coding `json:"changeType,omitempty"`
	AminoAcidChangeType *Coding `json:"aminoAcidChangeType,omitempty"`
	// Category is the variant category (LOINC 83005-9), e.g. simple.
	Category *Coding `json:"category,omitempty"`
	// Method is how the variant was found (LOINC 81304-8), e.g. sequencing or PCR.
	Method *Coding `json:"method,omitempty"`
	// AlleleFrequency is the sample's variant allele fraction (0-1) for a
	// nuclear variant; a mitochondrial variant's is HeteroplasmyFraction.
	AlleleFrequency *float64 `json:"alleleFrequency,omitempty"`
	// DisplayName is the lab's own name for the variant (LOINC 47998-0), e.g. an SPDI.
	DisplayName string `json:"displayName,omitempty"`
	// RepeatCount is the number of repeat units of a repeat expansion.
	RepeatCount string `json:"repeatCount,omitempty"`
	// AdditionalConditions are further conditions the variant is associated with.
	AdditionalConditions []Condition `json:"additionalConditions,omitempty"`
}

// HGVS holds a variant's descriptions; each is a full HGVS expression
// with its reference sequence, e.g. NM_000059.4:c.68_69del.
type HGVS struct {
	C string `json:"c,omitempty"`
	P string `json:"p,omitempty"`
	G string `json:"g,omitempty"`
}

// Classification is the ACMG/ACGS class and the criteria met.
type Classification struct {
	ACMG     string   `json:"acmg"`
	Criteria []string `json:"criteria,omitempty"`
}

// Condition is the disorder a variant is associated with.
type Condition struct {
	Name              string `json:"name"`
	System            string `json:"system,omitempty"`
	Code              string `json:"code,omitempty"`
	ModeOfInheritance string `json:"modeOfInheritance,omitempty"`
}

// Authoriser is a person who checked or authorised the report.
type Authoriser struct {
	Name         string       `json:"name"`
	Role         string       `json:"role"`
	Registration Registration `json:"registration"`
	AuthorisedAt string       `json:"authorisedAt"`
}

// PreviousReport names an earlier report by its id and, optionally, version.
type PreviousReport struct {
	ID      string `json:"id"`
	Version int    `json:"version,omitempty"` // 0: its latest version
	// Relation is "reinterpretation" (the default: the same data read again,
	// NHS England's R442) or "reanalysis" (the data analysed again, R387).
	Relation string `json:"relation,omitempty"`
	// OrderNumber and OrderingTrust are the earlier report's order, so the
	// new order can point at it; the gateway fills them from what it stored.
	OrderNumber      string `json:"orderNumber,omitempty"`
	OrderNumberLocal bool   `json:"orderNumberLocal,omitempty"`
	OrderingTrust    string `json:"orderingTrust,omitempty"`
}

// Change is one finding that changed since the earlier report.
type Change struct {
	Variant string `json:"variant"` // its most specific name (c. HGVS, g. HGVS, ISCN ...)
	From    string `json:"from"`    // ACMG classes (Classification.ACMG)
	To      string `json:"to"`
	On      string `json:"on"`                // the date of the report that changed it
	Report  string `json:"report,omitempty"`  // the earlier report, when it is another one
	Version int    `json:"version,omitempty"` // and its version
}

// Statement is the change as a clinician reads it at the top of a report:
// "Reclassified: NM_000059.4:c.68_69del from uncertain significance (VUS) to
// likely pathogenic on 2026-11-02".
func (c Change) Statement() string {
	return "Reclassified: " + c.Variant + " from " + ACMGNames[c.From] + " to " + ACMGNames[c.To] + " on " + c.On
}

// Attachment is a lab-supplied document: the report PDF, or another
// document the lab sent with it (then Data or, for a document the lab only
// points to, URL).
type Attachment struct {
	Title       string `json:"title,omitempty"`
	ContentType string `json:"contentType,omitempty"` // default application/pdf
	Data        []byte `json:"data,omitempty"`
	URL         string `json:"url,omitempty"`
	// Encoded is Data's standard base64 as it was received, and DataAt
	// where that string (its opening quote) is in the message, when the
	// decoder read it there exactly so (a slice of the message, no copy);
	// nil and 0 otherwise. The Bundle is then written with that text rather
	// than by encoding the PDF again, and the message log keeps the message
	// without the PDF it stores anyway. Whatever changes Data clears both.
	Encoded []byte `json:"-"`
	DataAt  int    `json:"-"`
}

// EncodedIsData reports whether Encoded is Data's standard base64 as far
// as a fixed few bytes tell: its length, first and last characters. Code
// that changes Data must clear Encoded; this catches what it forgets.
//
// internal/pdfbase64.SameEnds is the same check; this package imports
// only the standard library, so it keeps its own.
func (a *Attachment) EncodedIsData() bool {
	enc := base64.StdEncoding
	if a == nil || len(a.Data) == 0 || len(a.Encoded) != enc.EncodedLen(len(a.Data)) {
		return false
	}
	head := a.Data[:min(len(a.Data), 45)]            // whole quanta: a prefix of the full encoding
	tail := a.Data[len(a.Data)-(len(a.Data)-1)%3-1:] // the last quantum's bytes
	var buf [64]byte
	return bytes.HasPrefix(a.Encoded, enc.AppendEncode(buf[:0], head)) && bytes.HasSuffix(a.Encoded, enc.AppendEncode(buf[:0], tail))
}

// TestDirectory knows the National Genomic Test Directory's codes.
type TestDirectory interface {
	// Lookup returns the official name of a test or clinical indication
	// code; ok is false for a code the directory does not have.
	Lookup(code string) (name string, ok bool)
	Version() string
}

// Renderer turns a report into a readable PDF. warnings say what the PDF
// could not show as written (e.g. characters its font lacks), for the record.
type Renderer interface {
	Render(r *Report) (pdf []byte, warnings []Warning, err error)
}
