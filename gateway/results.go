package gateway

// ResultGroup is one test's results that are not genomic findings, such as
// a full blood count: in HL7 v2 one OBR and its OBX rows; in FHIR a panel
// Observation whose members are the results.
type ResultGroup struct {
	ID           string        `json:"id,omitempty"` // the lab's number for this test (HL7 OBR-3)
	Code         Coding        `json:"code"`
	Status       Status        `json:"status,omitempty"`    // when it differs from the report's
	Collected    string        `json:"collected,omitempty"` // when the sample for this test was taken
	Observations []Observation `json:"observations,omitempty"`
	Notes        []string      `json:"notes,omitempty"`
}

// Observation value types.
const (
	ValueQuantity = "quantity" // a number, with a unit and maybe a comparator (<, <=, >, >=)
	ValueText     = "text"
	ValueCoded    = "coded"
	ValueRatio    = "ratio"    // Value "1:128"
	ValueRange    = "range"    // Value "2-5"
	ValueDateTime = "datetime" // RFC 3339 or a date
)

// Observation is one result, kept as the lab wrote it: the number as a
// string (so 6.00 stays 6.00), the unit as sent; mappers derive UCUM codes.
type Observation struct {
	Code      Coding  `json:"code"`
	ValueType string  `json:"valueType"`
	Value     string  `json:"value,omitempty"`
	Coded     *Coding `json:"coded,omitempty"` // for ValueCoded
	// Comparator is <, <=, > or >= for a quantity written as "<149".
	Comparator string `json:"comparator,omitempty"`
	Unit       string `json:"unit,omitempty"`
	// UnitCode is the unit's UCUM code when the lab sent one (OBX-6 coded UCUM).
	UnitCode string `json:"unitCode,omitempty"`
	// ReferenceRange is the lab's normal range as written, e.g. "130-180" or "<48".
	ReferenceRange string `json:"referenceRange,omitempty"`
	// Interpretation is the abnormal flag (HL7 table 0078): H, L, N, A, HH, LL ...
	Interpretation string `json:"interpretation,omitempty"`
	// AbsentReason says why there is no value, e.g. "not-performed" for
	// "Not assayed"; the lab's own words stay in Value or Coded.
	AbsentReason string   `json:"absentReason,omitempty"`
	Status       Status   `json:"status,omitempty"`   // when it differs from the report's
	Observed     string   `json:"observed,omitempty"` // when it was observed
	Notes        []string `json:"notes,omitempty"`
}

// Warning is something the gateway noticed in a report it accepted:
// content that was missing, odd or not understood. Path is the field of the
// normalised report it concerns ("specimens[0].collected"); Source is where
// in the sender's message it came from ("OBR[1]-7", a JSON path or a FHIRPath).
type Warning struct {
	Path    string `json:"path,omitempty"`
	Source  string `json:"source,omitempty"`
	Message string `json:"message"`
}
