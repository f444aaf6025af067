package adapters

import (
	"strings"
	"testing"
)

// A receiver's text that echoes a conditional URL or a national number is
// kept without them: it ends up on the delivery, in the console and logs.
func TestDiagnosticsWithholdPatientIdentifiers(t *testing.T) {
	body := []byte(`{"resourceType":"OperationOutcome","issue":[
	  {"severity":"error","code":"duplicate","diagnostics":"Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018 matched 2 resources"},
	  {"severity":"error","code":"invalid","details":{"text":"NHS number 999 000 0018 is not registered; MRN check failed for Specimen?identifier=x|S-1&subject=Patient/12"}}]}`)
	got := Diagnostics(body)
	for _, leak := range []string{"9990000018", "999 000 0018", "S-1", "Patient/12"} {
		if strings.Contains(got, leak) {
			t.Errorf("%q kept in %q", leak, got)
		}
	}
	for _, kept := range []string{"matched 2 resources", "is not registered", "Patient?identifier=[withheld]"} {
		if !strings.Contains(got, kept) {
			t.Errorf("%q lost from %q", kept, got)
		}
	}
}
