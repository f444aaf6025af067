package gateway

import "testing"

func TestValidNHSNumber(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"9990000018", true},  // fixture range
		{"9449305552", true},  // NHS England example
		{"9912003888", true},  // UK Core example
		{"9000000009", true},  // NHS sandbox test patient
		{"9990000019", false}, // wrong check digit
		{"999000001", false},  // nine digits
		{"99900000180", false},
		{"999000001X", false},
		{"999 000 0018", false}, // spaces must be normalised first
		{"0000000000", true},    // check digit 11 -> 0
		{"1000000010", false},   // remainder gives check 10: never valid
	} {
		if got := ValidNHSNumber(tc.in); got != tc.want {
			t.Errorf("ValidNHSNumber(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if got := NormaliseNHSNumber("999 000-0018"); got != "9990000018" {
		t.Errorf("NormaliseNHSNumber = %q", got)
	}
}
