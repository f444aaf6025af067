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
	// previous is the version of the report the destination holds, if any
	// (nil when it was never sent one, or was told to withdraw it): an HL7
	// v2 EPR must be told to withdraw a result from a patient a correction
	// moves it away from.
	// recipient is the organisation (ODS code) the delivery serves: the
	// ordering trust or a copy-to recipient ("" when not known).
	Encode func(r, previous *Report, rec *ReportRecord, deliveryID, recipient string) ([]byte, error)
}

// PatientChanged reports whether two versions of a report are about
// different patients (a correction that moves a result to another patient).
func PatientChanged(a, b *Report) bool {
	pa, pb := a.Patient, b.Patient
	for _, n := range [][2]string{{pa.NHSNumber, pb.NHSNumber}, {pa.CHINumber, pb.CHINumber}, {pa.HCNumber, pb.HCNumber}} {
		if n[0] != "" && n[1] != "" {
			return n[0] != n[1]
		}
	}
	return pa.MRN+"|"+pa.MRNAuthority != pb.MRN+"|"+pb.MRNAuthority
}

// Router says where a trust's reports go.
type Router interface {
	Routes(trustODS string) []Route
}
