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
		{cx: "9990000093^^^RR8^XX", unmapped: true}, // a type the decoder does not know, from a trust: listed, never an NHS number
		// What UK PAS feeds call the hospital number: its MRN, with a warning.
		{cx: "PAS558^^^R0A^PAS", mrn: "PAS558", auth: "R0A", warning: "patient.mrn"},
		{cx: "9990000093^^^RR8^PAS", mrn: "9990000093", auth: "RR8", warning: "patient.mrn"},
		{cx: "H123456^^^RR8^HN", mrn: "H123456", auth: "RR8", warning: "patient.mrn"},
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

// TestRepeatedFieldsListedNotDropped: of PID-5's names the legal one (XPN-7
// L) is filed, whatever its place; every repetition or component the
// report has no place for (an alias, a second address, its country, a
// second clinician in ORC-12 or OBR-16) is listed as unmapped at its
// repetition, never dropped.
func TestRepeatedFieldsListedNotDropped(t *testing.T) {
	pid := func(name, address string) string {
		return "PID|1||9990000093^^^NHS^NH||" + name + "||19800101|F|||" + address
	}
	order := "OBR|1|ORD-1|REP-1|R240.1^Diagnostic testing for known variant(s)^England-GenomicTestDirectory|||20260901|||||||||||||||20261104120000|||F"
	result := "OBX|1|TX|RES^Result^L||No variant detected.||||||F"
	cases := []struct {
		name, pid, orc, obr string
		family, given       string   // the name filed
		listed              []string // unmapped entries: location and a part of the text
	}{
		{name: "the alias sent first", pid: pid("BLOGGS^Joe^^^^^A~SMITH^Jane^^^Mrs^^L", ""),
			family: "SMITH", given: "Jane", listed: []string{"PID[1]-5[1] BLOGGS^Joe"}},
		{name: "legal, maiden and alias names; two addresses with countries", pid: pid("SMITH^Jane^^^Mrs^^L~JONES^Jane^^^Miss^^M~SMYTHE^Janey^^^^^A",
			"1 High Street^^Manchester^^M1 1AA^GBR^H~PO Box 9^^Leeds^^LS1 1AA^GBR^M"),
			family: "SMITH", given: "Jane", listed: []string{"PID[1]-5[2] JONES^Jane", "PID[1]-5[3] SMYTHE^Janey",
				"PID[1]-11[1] PID-11.6 GBR; PID-11.7 H", "PID[1]-11[2] PO Box 9^^Leeds^^LS1 1AA^GBR^M"}},
		{name: "no legal name: the untyped one", pid: pid("BLOGGS^Joe^^^^^A~SMITH^Jane", ""), family: "SMITH", given: "Jane",
			listed: []string{"PID[1]-5[1] BLOGGS^Joe"}},
		{name: "no types: the first", pid: pid("SMITH^Jane~SMYTHE^Janey", ""), family: "SMITH", given: "Jane",
			listed: []string{"PID[1]-5[2] SMYTHE^Janey"}},
		{name: "one name with a degree; one address with its country", pid: pid("SMITH^Jane^^^Dr^PhD", "1 High Street^^Manchester^^M1 1AA^GBR"),
			family: "SMITH", given: "Jane", listed: []string{"PID[1]-5 PID-5.6 PhD", "PID[1]-11 PID-11.6 GBR"}},
		{name: "a second clinician in ORC-12 and OBR-16", pid: pid("SMITH^Jane", ""),
			orc:    "ORC|RE|ORD-1|REP-1|||||||||C1234567^Darwin^Samuel^^^Dr^^^GMC~C7654321^Other^Olive^^^Dr^^^GMC",
			obr:    strings.Replace(order, "|20260901|||||||||", "|20260901|||||||||C1234567^Darwin^Samuel^^^Dr^^^GMC~G1234567^Smith^Sam^^^Dr", 1),
			family: "SMITH", given: "Jane", listed: []string{"ORC[1]-12[2] C7654321^Other^Olive", "OBR[1]-16[2] G1234567^Smith^Sam"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lines := []string{}
			if c.orc != "" {
				lines = append(lines, c.orc)
			}
			lines = append(lines, first(c.obr, order), result)
			d := decodeWith(t, msg("2.5.1", c.pid, lines...), hl7v2.SenderOptions{})
			if n := d.Report.Patient.Name; n.Family != c.family || strings.Join(n.Given, " ") != c.given {
				t.Errorf("name %+v, want %s %s", n, c.given, c.family)
			}
			for _, want := range c.listed {
				loc, text, _ := strings.Cut(want, " ")
				found := false
				for _, u := range d.Unmapped {
					found = found || u.Location == loc && strings.Contains(u.Text, text)
				}
				if !found {
					t.Errorf("%s %q is not listed as unmapped: %+v", loc, text, d.Unmapped)
				}
			}
			if c.orc != "" && (d.Report.RequestingClinician == nil || d.Report.RequestingClinician.Name != "Dr Samuel Darwin") {
				t.Errorf("requesting clinician %+v", d.Report.RequestingClinician)
			}
		})
	}
}

func first(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// TestSexWrittenAsAWord: PID-8 "Female" (a word, not a table 0001 code) is
// read as female, with a warning; a value that is neither is left out,
// with a warning.
func TestSexWrittenAsAWord(t *testing.T) {
	order := "OBR|1|ORD-1|REP-1|R240.1^Diagnostic testing for known variant(s)^England-GenomicTestDirectory|||20260901|||||||||||||||20261104120000|||F"
	result := "OBX|1|TX|RES^Result^L||No variant detected.||||||F"
	for sex, want := range map[string]string{"Female": "female", "MALE": "male", "F": "female", "Woman": ""} {
		d := decodeWith(t, msg("2.5.1", "PID|1||9990000093^^^NHS^NH||PATIENT^Test||19800101|"+sex, order, result), hl7v2.SenderOptions{})
		if got := d.Report.Patient.Gender; got != want {
			t.Errorf("PID-8 %q read as %q, want %q", sex, got, want)
		}
		if warned := hasWarning(d.Warnings, "patient.gender", "PID-8"); warned != (sex != "F") {
			t.Errorf("PID-8 %q: warned %v", sex, warned)
		}
	}
}
