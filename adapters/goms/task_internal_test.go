package goms

import "testing"

func TestRefersTo(t *testing.T) {
	for ref, want := range map[string]bool{
		"ServiceRequest/sr1": true, "https://goms.example/FHIR/R4/ServiceRequest/sr1": true,
		"ServiceRequest/sr1/_history/3": true, "ServiceRequest/sr10": false, "Task/sr1": false,
	} {
		if got := refersTo(ref, "ServiceRequest/sr1"); got != want {
			t.Errorf("refersTo(%q) = %v", ref, got)
		}
	}
}
