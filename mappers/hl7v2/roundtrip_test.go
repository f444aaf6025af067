package hl7v2_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/hl7"
	"github.com/nhs-genomics/results-gateway/mappers/fhirr4"
	"github.com/nhs-genomics/results-gateway/mappers/hl7v2"
	"github.com/nhs-genomics/results-gateway/mappers/labjson"
)

var testPDF = []byte("%PDF-1.4\n% synthetic report\n%%EOF\n")

func decode(t *testing.T, msg []byte) *hl7v2.Decoded {
	t.Helper()
	m, err := hl7.Parse(msg)
	if err != nil {
		t.Fatal(err)
	}
	d, err := hl7v2.Decode(m, "699X0", hl7v2.SenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestReportRoundTrip: report -> ORU^R01 -> report is the same report, and
// maps to the same FHIR, in every supported HL7 version.
func TestReportRoundTrip(t *testing.T) {
	mapper, _ := fhirr4.New("")
	for _, version := range []string{"2.5.1", "2.4", "2.3"} {
		for _, f := range fixtures.Reports() {
			t.Run(version+"/"+f.Name, func(t *testing.T) {
				r, err := labjson.Decode(f.Body)
				if err != nil {
					t.Fatal(err)
				}
				msg := hl7v2.Encode(r, testPDF, "CTRL-1", hl7v2.Options{Version: version})
				d := decode(t, msg)
				if len(d.Unmapped) != 0 {
					t.Fatalf("our own ORU left OBX unmapped: %+v", d.Unmapped)
				}
				if d.Report.PDF == nil || !bytes.Equal(d.Report.PDF.Data, testPDF) {
					t.Fatal("the PDF did not come back")
				}
				back := *d.Report
				back.PDF = nil
				want, _ := json.Marshal(r)
				got, _ := json.Marshal(&back)
				if !bytes.Equal(want, got) {
					t.Fatalf("report changed in the round trip:\nwant %s\n got %s", want, got)
				}
				a, _, _ := mapper.EncodeBundle(r, testPDF)
				b, _, _ := mapper.EncodeBundle(d.Report, d.Report.PDF.Data)
				if !bytes.Equal(a, b) {
					t.Fatal("the FHIR Bundle differs after the round trip")
				}
			})
		}
	}
}

func TestEncodeOptions(t *testing.T) {
	r, _ := labjson.Decode(fixtures.Report("trio-wgs-denovo-positive"))
	for _, tc := range []struct {
		o     hl7v2.Options
		check func(m *hl7.Message) bool
		what  string
	}{
		{hl7v2.Options{}, func(m *hl7.Message) bool {
			return m.Value(m.First("PID"), 3, 1) == "9990000018" && m.Value(m.First("PID"), 3, 5) == "NH"
		}, "NHS number in PID-3 typed NH"},
		{hl7v2.Options{NHSNumberField: 2}, func(m *hl7.Message) bool { return m.Value(m.First("PID"), 2, 1) == "9990000018" }, "NHS number in PID-2"},
		{hl7v2.Options{PDFLabel: "IM"}, func(m *hl7.Message) bool { return bytes.Contains(m.Bytes(), []byte("|MOL^IM^PDF^Base64^JVBER")) }, "PDF labelled MOL^IM^PDF^Base64"},
		{hl7v2.Options{}, func(m *hl7.Message) bool {
			return bytes.Contains(m.Bytes(), []byte("|ED|1054161000000101^Genetic report^SCT||^AP^PDF^Base64^JVBER"))
		}, "PDF in an ED OBX ^AP^PDF^Base64^"},
		{hl7v2.Options{OmitPDF: true}, func(m *hl7.Message) bool { return !bytes.Contains(m.Bytes(), []byte("JVBER")) }, "no PDF"},
		{hl7v2.Options{Version: "2.3"}, func(m *hl7.Message) bool {
			return m.Value(m.First("MSH"), 12, 0) == "2.3" && m.First("SPM") == nil && m.Value(m.First("MSH"), 9, 3) == ""
		}, "2.3: no SPM, ORU^R01"},
		{hl7v2.Options{}, func(m *hl7.Message) bool {
			return m.Value(m.First("OBR"), 4, 1) == "R14.1" && m.Value(m.First("OBR"), 25, 0) == "F" && m.First("SPM") != nil
		}, "OBR-4 R-code, OBR-25 F, SPM"},
	} {
		m, err := hl7.Parse(hl7v2.Encode(r, testPDF, "X", tc.o))
		if err != nil {
			t.Fatal(err)
		}
		if !tc.check(m) {
			t.Errorf("%s: not so in\n%s", tc.what, bytes.ReplaceAll(m.Bytes(), []byte("\r"), []byte("\n")))
		}
	}
}

func TestVariantGroupsUseLOINC(t *testing.T) {
	r, _ := labjson.Decode(fixtures.Report("compound-het-ar"))
	m, _ := hl7.Parse(hl7v2.Encode(r, nil, "X", hl7v2.Options{}))
	want := map[string]string{"48018-6": "HGNC:12601", "48004-6": "NM_206933.4:c.2276G>T", "53037-8": "LA6668-3", "94186-4": "LA26321-2", "53034-5": "LA6706-1"}
	found := map[string]bool{}
	for _, s := range m.Segments {
		if s.Name() == "OBX" && m.Value(s, 4, 0) == "2b" && m.Value(s, 3, 3) == "LN" {
			if v, ok := want[m.Value(s, 3, 1)]; ok && m.Value(s, 5, 1) == v {
				found[m.Value(s, 3, 1)] = true
			}
		}
	}
	if len(found) != len(want) {
		t.Fatalf("second variant's LOINC rows (sub-ID 2b): found %v of %v", found, want)
	}
}

// TestAlleleFrequencyUnitIsUCUM: the allele fraction's unit is UCUM "1",
// coded as such in OBX-6 (CE/CWE), as an EPR reading units by their system
// needs; a bare "1" named no system.
func TestAlleleFrequencyUnitIsUCUM(t *testing.T) {
	r, _ := labjson.Decode(fixtures.Report("mito-heteroplasmy"))
	m, _ := hl7.Parse(hl7v2.Encode(r, nil, "X", hl7v2.Options{}))
	rows := 0
	for _, s := range m.Segments {
		if s.Name() == "OBX" && m.Value(s, 3, 1) == "81258-6" {
			rows++
			if m.Value(s, 6, 1) != "1" || m.Value(s, 6, 3) != "UCUM" {
				t.Errorf("OBX-6 %q, want 1^^UCUM", s.Fields[6])
			}
		}
	}
	if rows == 0 {
		t.Fatal("no allele frequency row")
	}
}

// The lifecycle rides in the ORU: copy-to recipients in OBR-28, the report
// re-interpreted in OBR-29, and the gateway's statement of what changed
// first among the results; it reads back to the same report (the statement
// is the gateway's own, made again at intake, so it is not read back).
func TestLifecycleInTheORU(t *testing.T) {
	r, err := labjson.Decode(fixtures.Report("reinterpretation-likely-pathogenic"))
	if err != nil {
		t.Fatal(err)
	}
	r.Changes = []gateway.Change{{Variant: "NM_001165963.4:c.2589+3A>G", From: "uncertain-significance", To: "likely-pathogenic", On: "2026-11-30"}}
	msg := hl7v2.Encode(r, testPDF, "RT-LIFE", hl7v2.Options{})
	m, err := hl7.Parse(msg)
	if err != nil {
		t.Fatal(err)
	}
	obr := m.First("OBR")
	if got := m.Value(obr, 28, 1) + "|" + m.Value(obr, 28, 9) + "|" + m.Value(obr, 29, 2); got != "A81001|ODS|NWGLH-2026-000103" {
		t.Errorf("OBR-28/29 = %q", got)
	}
	if !bytes.Contains(msg, []byte("Reclassified: NM_001165963.4:c.2589+3A\\T\\G from uncertain significance (VUS) to likely pathogenic on 2026-11-30")) &&
		!bytes.Contains(msg, []byte("Reclassified: NM_001165963.4:c.2589+3A>G from uncertain significance (VUS) to likely pathogenic on 2026-11-30")) {
		t.Errorf("the ORU does not state the change:\n%s", msg)
	}
	back := decode(t, msg).Report
	if back.Previous == nil || *back.Previous != *r.Previous || len(back.CopyTo) != 1 || back.CopyTo[0] != r.CopyTo[0] || back.Changes != nil {
		t.Errorf("read back: previous %+v, copy to %+v, changes %+v", back.Previous, back.CopyTo, back.Changes)
	}
}

// TestEnteredInErrorUsesTableCodes: a withdrawn report goes as OBR-25 C
// (table 0123 has no W) with every OBX-11 W, and reads back as entered in
// error; OBR-25 W, which earlier releases wrote, is still read, with a
// warning.
func TestEnteredInErrorUsesTableCodes(t *testing.T) {
	r, err := labjson.Decode(fixtures.Report("trio-wgs-denovo-positive"))
	if err != nil {
		t.Fatal(err)
	}
	r.Status = gateway.StatusEnteredInError
	oru := hl7v2.Encode(r, testPDF, "RT-EIE", hl7v2.Options{})
	m, err := hl7.Parse(oru)
	if err != nil {
		t.Fatal(err)
	}
	var obrs, obxs int
	for _, s := range m.Segments {
		switch s.Name() {
		case "OBR":
			obrs++
			if got := m.Value(s, 25, 0); got != "C" {
				t.Errorf("OBR-25 = %q, want C (table 0123)", got)
			}
		case "OBX":
			obxs++
			if got := m.Value(s, 11, 0); got != "W" {
				t.Errorf("OBX-%s-11 = %q, want W", m.Value(s, 1, 0), got)
			}
		}
	}
	if obrs == 0 || obxs < 5 {
		t.Fatalf("%d OBR and %d OBX", obrs, obxs)
	}
	d := decode(t, oru)
	if d.Report.Status != gateway.StatusEnteredInError {
		t.Errorf("read back as %q", d.Report.Status)
	}
	for _, w := range d.Warnings {
		if w.Path == "status" {
			t.Errorf("warning on our own status: %+v", w)
		}
	}

	legacy := decodeWith(t, msg("2.5.1", pid1286, "OBR|1||REP-W|R14.1^Genome^England-GenomicTestDirectory|||20260901|||||||||||||||20261104120000|||W",
		"OBX|1|TX|RES1^Result^LOCAL||Withdrawn||||||W"), hl7v2.SenderOptions{})
	if legacy.Report.Status != gateway.StatusEnteredInError || !hasWarning(legacy.Warnings, "status", "not in HL7 table 0123") {
		t.Errorf("OBR-25 W: status %q, warnings %+v", legacy.Report.Status, legacy.Warnings)
	}
	fromOBX := decodeWith(t, msg("2.5.1", pid1286, "OBR|1||REP-X|R14.1^Genome^England-GenomicTestDirectory|||20260901|||||||||||||||20261104120000|||",
		"OBX|1|TX|RES1^Result^LOCAL||Withdrawn||||||W"), hl7v2.SenderOptions{})
	if fromOBX.Report.Status != gateway.StatusEnteredInError || hasWarning(fromOBX.Warnings, "status", "not in HL7 table 0123") {
		t.Errorf("no OBR-25, OBX-11 W: status %q, warnings %+v", fromOBX.Report.Status, fromOBX.Warnings)
	}
	mixed := decodeWith(t, msg("2.5.1", pid1286, "OBR|1||REP-C|R14.1^Genome^England-GenomicTestDirectory|||20260901|||||||||||||||20261104120000|||C",
		"OBX|1|TX|RES1^Result^LOCAL||Wrong line||||||W", "OBX|2|TX|RES2^Result^LOCAL||Right line||||||C"), hl7v2.SenderOptions{})
	if mixed.Report.Status != gateway.StatusCorrected {
		t.Errorf("OBR-25 C with one OBX-11 C read as %q, want corrected", mixed.Report.Status)
	}
}
