package gateway

// Payload formats a destination can take. The payload is encoded at intake.
const (
	FormatFHIRBundle = "fhir-bundle" // the transaction Bundle, application/fhir+json
	FormatPDF        = "pdf"         // the report PDF, application/pdf
)

// Formats maps each format to its content type.
var Formats = map[string]string{
	FormatFHIRBundle: "application/fhir+json",
	FormatPDF:        "application/pdf",
}

// Route is one destination a trust's reports go to, and the format it takes.
type Route struct {
	Destination string
	Format      string
}

// Router says where a trust's reports go.
type Router interface {
	Routes(trustODS string) []Route
}
