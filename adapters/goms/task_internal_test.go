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

// TestSameInstant: a report GOMS holds already is recognised however GOMS
// writes its issued time back; the exact string compare posted it again.
func TestSameInstant(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"2026-11-02T14:30:00Z", "2026-11-02T14:30:00Z", true},
		{"2026-11-02T14:30:00Z", "2026-11-02T14:30:00.000+00:00", true},
		{"2026-11-02T14:30:00+01:00", "2026-11-02T13:30:00Z", true},
		{"2026-11-02T14:30:00Z", "2026-11-02T14:30:01Z", false},
		{"2026-11-02T14:30:00Z", "", false},
	} {
		if got := sameInstant(c.a, c.b); got != c.want {
			t.Errorf("sameInstant(%q, %q) = %v", c.a, c.b, got)
		}
	}
}
