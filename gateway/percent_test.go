package gateway

import "testing"

func TestFormatPercentAsWritten(t *testing.T) {
	for f, want := range map[float64]string{
		0.07: "7%", 0.004: "0.4%", 0.125: "12.5%", 0.995: "99.5%", 0.29: "29%", 0.57: "57%",
		1: "100%", 0.48: "48%", 0.0001: "0.01%", 0.333: "33.3%",
	} {
		if got := FormatPercent(f); got != want {
			t.Errorf("FormatPercent(%v) = %q, want %q", f, got, want)
		}
	}
}
