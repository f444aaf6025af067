package hl7v2_test

import (
	"strings"
	"testing"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/mappers/hl7v2"
)

// TestPatientIdentifiers: what each way of writing a PID-3 repetition is
// filed as. A number is an NHS number only when its type or its assigning
// authority says so, or when nothing says otherwise.
func TestPatientIdentifiers(t *testing.T) {
	order := "OBR|1|ORD-1|REP-1|R240.1^Diagnostic testing for known variant(s)^England-GenomicTestDirectory|||20260901|||||||||||||||20261104120000|||F"
	result := "OBX|1|TX|RES^Result^L||No variant detected.||||||F"
	cases := []struct {
		cx        string
		nhs       string // the NHS number filed
		mrn, auth string
		warning   string // a warning on this path, "" for none expected
		unmapped  bool
	}{
		// A trust's hospital number that happens to pass the check digit (defect: filed as the NHS number).
		{cx: "9990000093^^^RR8", mrn: "9990000093", auth: "RR8", warning: "patient.mrn"},
		{cx: "9990000093^^^&2.16.840.1.113883.2.1.4.1.1.1&ISO", mrn: "9990000093", auth: "2.16.840.1.113883.2.1.4.1.1.1", warning: "patient.mrn"},
		{cx: "MRN556^^^RR8", mrn: "MRN556", auth: "RR8", warning: "patient.mrn"},
		{cx: "9990000093^^^RR8^PAS", unmapped: true}, // a type the decoder does not know, from a trust: listed, never an NHS number
		// The NHS named as the authority, however it is spelt.
		{cx: "9990000093^^^NHS", nhs: "9990000093"},
		{cx: "9990000093^^^NHSNBR", nhs: "9990000093"},
		{cx: "9990000093^^^nhsnmbr", nhs: "9990000093"},
		{cx: "9990000093^^^2.16.840.1.113883.2.1.4.1", nhs: "9990000093"},
		{cx: "9990000093^^^NHS&2.16.840.1.113883.2.1.4.1&ISO^NH", nhs: "9990000093"},
		{cx: "9990000093^^^&2.16.840.1.113883.2.1.4.1&ISO", nhs: "9990000093"},
		// Nothing says whose it is: a valid ten-digit number is still read as the NHS number, with a warning.
		{cx: "9990000093", nhs: "9990000093", warning: "patient.nhsNumber"},
	}
	for _, c := range cases {
		t.Run(c.cx, func(t *testing.T) {
			d := decodeWith(t, msg("2.5.1", "PID|1||"+c.cx+"||PATIENT^Test||19800101|F", order, result), hl7v2.SenderOptions{})
			p := d.Report.Patient
			if p.NHSNumber != c.nhs || p.MRN != c.mrn || p.MRNAuthority != c.auth {
				t.Errorf("NHS number %q, MRN %q of %q; want %q, %q of %q", p.NHSNumber, p.MRN, p.MRNAuthority, c.nhs, c.mrn, c.auth)
			}
			if c.warning != "" && !hasWarning(d.Warnings, c.warning, "PID-3 repetition 1") {
				t.Errorf("no %s warning: %v", c.warning, d.Warnings)
			}
			if got := hasUnmapped(d.Unmapped, "PID[1]-3"); got != c.unmapped {
				t.Errorf("listed as unmapped: %v, want %v (%v)", got, c.unmapped, d.Unmapped)
			}
		})
	}
	if !gateway.ValidNHSNumber("9990000093") {
		t.Fatal("the fixture's number fails its check digit")
	}
}

func hasUnmapped(us []gateway.Unmapped, location string) bool {
	for _, u := range us {
		if strings.HasPrefix(u.Location, location) {
			return true
		}
	}
	return false
}
