package gateway

// Payload formats a destination can take. The payload is encoded at intake.
const (
	FormatFHIRBundle = "fhir-bundle" // the transaction Bundle, application/fhir+json
	FormatPDF        = "pdf"         // the report PDF, application/pdf
	FormatHL7v2      = "hl7v2-oru"   // ORU^R01 in ER7, for EPRs that take only HL7 v2
	FormatNotice     = "notice"      // a small "report available" JSON notice, for EPRs that pull
)

// Formats maps each format to its content type.
var Formats = map[string]string{
	FormatFHIRBundle: "application/fhir+json",
	FormatPDF:        "application/pdf",
	FormatHL7v2:      "application/hl7-v2+er7",
	FormatNotice:     "application/json",
}

// Route is one destination a trust's reports go to, and the format it takes.
type Route struct {
	Destination string
	Format      string
	// Encode makes the payload for formats with per-destination choices
	// (HL7 v2); nil for the Bundle and the PDF, which are made once per report.
	Encode func(r *Report, rec *ReportRecord, deliveryID string) ([]byte, error)
}

// Router says where a trust's reports go.
type Router interface {
	Routes(trustODS string) []Route
}
