// Package gateway holds the Results Gateway's domain: the normalised lab
// report, validation rules, errors and the interfaces the rest implements.
// It imports only the standard library.
package gateway

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
	Patient             Patient      `json:"patient"`
	Test                Test         `json:"test"`
	Specimens           []Specimen   `json:"specimens"`
	Relatives           []Relative   `json:"relatives,omitempty"`
	Result              Result       `json:"result"`
	Variants            []Variant    `json:"variants,omitempty"`
	Authorisers         []Authoriser `json:"authorisers"`
	PDF                 *Attachment  `json:"pdf,omitempty"`
	// Unstructured marks a report that is only a PDF and text (common from
	// HL7 v2 senders): no outcome, variants or authorisers are required.
	Unstructured bool `json:"unstructured,omitempty"`
}

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

// Patient is the proband.
type Patient struct {
	NHSNumber string `json:"nhsNumber"`
	Name      Name   `json:"name"`
	BirthDate string `json:"birthDate"`
	Gender    string `json:"gender"`
	MRN       string `json:"mrn,omitempty"`
}

// Name is a person's name.
type Name struct {
	Given  []string `json:"given"`
	Family string   `json:"family"`
}

// Test is what was ordered and how it was done.
type Test struct {
	Code             string  `json:"code"`
	Name             string  `json:"name"`
	DirectoryVersion string  `json:"directoryVersion,omitempty"`
	Method           string  `json:"method"`
	Panels           []Panel `json:"panels,omitempty"`
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

// Attachment is a lab-supplied document (the report PDF).
type Attachment struct {
	Title string `json:"title,omitempty"`
	Data  []byte `json:"data"`
}

// Renderer turns a report into a readable PDF.
type Renderer interface {
	Render(r *Report) ([]byte, error)
}
