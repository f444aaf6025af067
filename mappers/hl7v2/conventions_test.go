package hl7v2_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/hl7"
	"github.com/nhs-genomics/results-gateway/mappers/hl7v2"
)

func decodeWith(t *testing.T, msg string, o hl7v2.SenderOptions) *hl7v2.Decoded {
	t.Helper()
	m, err := hl7.Parse([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	d, err := hl7v2.Decode(m, "699X0", o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSenderOptionsCheckNamesTheKey(t *testing.T) {
	err := hl7v2.SenderOptions{
		NHSNumberField: "PV1-2", TrustFields: []string{"ORC-21", "ZZZ-1"}, FacilityAliases: map[string]string{"MFT": "Manchester"},
		TestCodes: map[string]string{"SANGER": "X1"}, MRNAuthority: "r0a", ReportKind: "radiology",
	}.Check()
	if err == nil {
		t.Fatal("bad options accepted")
	}
	for _, want := range []string{"nhsNumberField", "trustFields[1]", `facilityAliases["MFT"]`, `testCodes["SANGER"]`, "mrnAuthority", "reportKind"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
	if err := (hl7v2.SenderOptions{TrustFields: []string{"PV1-3.11", "MSH-6"}, TestCodes: map[string]string{"SANGER": "M4.14"}}).Check(); err != nil {
		t.Fatalf("good options refused: %v", err)
	}
}

func TestOrderingTrustFromConfiguredFields(t *testing.T) {
	msg := string(fixtures.HL7Message("pdf-bare-tx-mrn")) // ORC-21 names RBS; MSH-6 is RECV
	if got := decodeWith(t, msg, hl7v2.SenderOptions{}).Report.OrderingTrust.ODSCode; got != "RBS" {
		t.Fatalf("default fields: trust %q, want RBS from ORC-21", got)
	}
	d := decodeWith(t, msg, hl7v2.SenderOptions{TrustFields: []string{"MSH-6"}, FacilityAliases: map[string]string{"RECV": "RR8"}})
	if got := d.Report.OrderingTrust.ODSCode; got != "RR8" {
		t.Fatalf("MSH-6 with an alias: trust %q, want RR8", got)
	}
	noTrust := strings.Replace(msg, "Synthetic Trust^^RBS^^^ODS", "", 1)
	noTrust = strings.Replace(noTrust, "|RECV|RECV|", "|RECV|Some Hospital|", 1)
	d = decodeWith(t, noTrust, hl7v2.SenderOptions{})
	if d.Report.OrderingTrust.ODSCode != "SOME HOSPITAL" || !hasWarning(d.Warnings, "orderingTrust.odsCode", "held until an operator routes it") {
		t.Fatalf("no ODS code anywhere: trust %q, warnings %v", d.Report.OrderingTrust.ODSCode, d.Warnings)
	}
}

func hasWarning(ws []gateway.Warning, path, text string) bool {
	for _, w := range ws {
		if w.Path == path && strings.Contains(w.Message, text) {
			return true
		}
	}
	return false
}

func TestTestCodeSources(t *testing.T) {
	mito := decodeWith(t, string(fixtures.HL7Message("mito-81258")), hl7v2.SenderOptions{})
	if tc := mito.Report.Test; tc.Code != "R54.1" || tc.Name != "Mitochondrial disorders: mitochondrial DNA testing" || tc.LocalCode == nil || tc.LocalCode.Code != "MITO" {
		t.Fatalf("NTE R-code: %+v", tc)
	}
	cancer := decodeWith(t, string(fixtures.HL7Message("cancer-mcode-ce-pdf")), hl7v2.SenderOptions{})
	if tc := cancer.Report.Test; tc.Code != "M84.2" || !hasWarning(cancer.Warnings, "test.code", "read from the test's name") {
		t.Fatalf("M-code from OBR-4's text: %+v %v", tc, cancer.Warnings)
	}
	lri := decodeWith(t, string(fixtures.HL7Message("lri-variant-cwe")), hl7v2.SenderOptions{})
	if tc := lri.Report.Test; tc.Code != "R208.1" {
		t.Fatalf("R-code from an OBX coded in the directory: %+v", tc)
	}
	local := strings.Replace(string(fixtures.HL7Message("cancer-mcode-ce-pdf")), "PACKAGE: M84.2 - Synthetic", "Synthetic", -1)
	if tc := decodeWith(t, local, hl7v2.SenderOptions{TestCodes: map[string]string{"ctDNA_M84": "M84.2"}}).Report.Test; tc.Code != "M84.2" {
		t.Fatalf("the sender's local code map: %+v", tc)
	}
}

// TestDecodingIsDeterministic: the same message always gives the same
// report, whatever order Go visits maps in (OBR-32 and OBR-33 repeat here).
func TestDecodingIsDeterministic(t *testing.T) {
	msg := string(fixtures.HL7Message("lri-variant-cwe"))
	first, _ := json.Marshal(decodeWith(t, msg, hl7v2.SenderOptions{}).Report)
	for i := 0; i < 50; i++ {
		again, _ := json.Marshal(decodeWith(t, strings.Replace(msg, "LRI-CWE-1", "LRI-CWE-X", 1), hl7v2.SenderOptions{}).Report)
		if !bytes.Equal(first, again) {
			t.Fatalf("decode %d differs:\n%s\n%s", i, first, again)
		}
	}
	var r gateway.Report
	json.Unmarshal(first, &r)
	var names []string
	for _, a := range r.Authorisers {
		names = append(names, a.Name)
	}
	if strings.Join(names, ",") != "Alex Scientist,Sam Scientist,Kim Checker" {
		t.Fatalf("authorisers %v, want OBR-32 in order then OBR-33", names)
	}
}

// TestLOINCVariantGroup: the LRI convention read component by component.
func TestLOINCVariantGroup(t *testing.T) {
	d := decodeWith(t, string(fixtures.HL7Message("lri-variant-cwe")), hl7v2.SenderOptions{})
	r := d.Report
	if len(r.Variants) != 1 {
		t.Fatalf("variants %+v", r.Variants)
	}
	v := r.Variants[0]
	for got, want := range map[string]string{
		v.HGVS.C: "NM_000059.4:c.5946del", v.Transcript: "NM_000059.4", v.Chromosome: "13", v.Gene.Symbol: "BRCA2",
		v.Gene.HGNCID: "HGNC:1101", v.Zygosity: "heterozygous", v.Origin: "germline", v.Classification.ACMG: "pathogenic",
		v.Comment: "Confirmed by Sanger sequencing.", r.Patient.Name.Prefix: "Ms", r.Patient.MRNAuthority: "R0A",
		r.Result.Outcome: "positive", r.Test.Reason: "Family history of breast cancer.", r.Notes[0]: "Reported under the synthetic test programme.",
	} {
		if got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
	if v.Condition == nil || v.Condition.Code != "718220008" || len(v.AdditionalConditions) != 1 || v.AdditionalConditions[0].System != "omim" {
		t.Errorf("two phenotypes: %+v %+v", v.Condition, v.AdditionalConditions)
	}
	if len(v.Identifiers) != 2 || !strings.Contains(r.Result.Conclusion, "Cascade testing is recommended.") {
		t.Errorf("identifiers %+v, conclusion %q", v.Identifiers, r.Result.Conclusion)
	}
	if len(r.Test.Conditions) != 1 || r.Test.Conditions[0].Code != "254843006" {
		t.Errorf("disease assessed: %+v", r.Test.Conditions)
	}
	if len(d.Unmapped) != 0 {
		t.Errorf("unmapped: %+v", d.Unmapped)
	}
}

func TestHeteroplasmyAsAllelicFrequency(t *testing.T) {
	d := decodeWith(t, string(fixtures.HL7Message("mito-81258")), hl7v2.SenderOptions{})
	v := d.Report.Variants[0]
	if v.HeteroplasmyFraction == nil || *v.HeteroplasmyFraction != 0.45 || !v.IsMitochondrial() {
		t.Fatalf("81258-6 45%% on MT-TL1: %+v", v)
	}
	if refuse, warnings := gateway.ValidateLenient(d.Report); len(refuse) != 0 || hasWarning(warnings, "variants[0].zygosity", "") {
		t.Fatalf("a heteroplasmic mitochondrial variant: refuse %v, warnings %v", refuse, warnings)
	}
}

func TestPathologyResults(t *testing.T) {
	d := decodeWith(t, string(fixtures.HL7Message("pathology-fbc")), hl7v2.SenderOptions{})
	r := d.Report
	if r.Kind != gateway.KindLaboratory || len(r.ResultGroups) != 2 {
		t.Fatalf("kind %q, %d groups", r.Kind, len(r.ResultGroups))
	}
	fbc := r.ResultGroups[1]
	if fbc.Code.Code != "B0001" || len(fbc.Observations) != 5 {
		t.Fatalf("FBC group %+v", fbc)
	}
	wbc, hb, rbc, mcv, titre := fbc.Observations[0], fbc.Observations[1], fbc.Observations[2], fbc.Observations[3], fbc.Observations[4]
	if wbc.Value != "3.5" || wbc.Unit != "x10^9/L" || wbc.ReferenceRange != "4.0-11.0" || wbc.Interpretation != "L" {
		t.Errorf("WBC %+v", wbc)
	}
	if hb.Comparator != "<" || hb.Value != "149" || hb.Notes[0] != "Sample slightly haemolysed." {
		t.Errorf("Hb (SN <^149) %+v", hb)
	}
	if rbc.Value != "6.00" {
		t.Errorf("RBC lost its trailing zeros: %q", rbc.Value)
	}
	if mcv.AbsentReason != "not-performed" || mcv.Coded == nil || mcv.Coded.Display != "Not assayed" {
		t.Errorf("MCV (NA^Not assayed) %+v", mcv)
	}
	if titre.ValueType != gateway.ValueRatio || titre.Value != "1:128" {
		t.Errorf("titre (SN ^1^:^128) %+v", titre)
	}
	if len(r.ResultGroups[0].Notes) != 1 || len(r.Specimens) != 1 || r.Specimens[0].ID != "9146949283" {
		t.Errorf("group notes %v, specimens %+v", r.ResultGroups[0].Notes, r.Specimens)
	}
	if refuse, _ := gateway.ValidateLenient(r); len(refuse) != 0 {
		t.Errorf("refused: %v", refuse)
	}
	if r.Status != gateway.StatusFinal {
		t.Errorf("both tests final: status %s", r.Status)
	}
	// The second test still running: the report is preliminary, said at its OBR-25.
	lines := strings.Split(string(fixtures.HL7Message("pathology-fbc")), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "OBR|2|") {
			lines[i] = strings.TrimSuffix(l, "|F") + "|P"
		}
	}
	d = decodeWith(t, strings.Join(lines, "\n"), hl7v2.SenderOptions{})
	if d.Report.Status != gateway.StatusPreliminary || !hasWarning(d.Warnings, "status", "OBR[2]-25") {
		t.Errorf("the second test preliminary: status %s, warnings %v", d.Report.Status, d.Warnings)
	}
}

// TestPDFsWhereverLabsPutThem: ED, CE/CWE/TX carrying a Base64 marker, a
// bare base64 body, and an ED split over two rows.
func TestPDFsWhereverLabsPutThem(t *testing.T) {
	for _, name := range []string{"cancer-mcode-ce-pdf", "pdf-bare-tx-mrn"} {
		d := decodeWith(t, string(fixtures.HL7Message(name)), hl7v2.SenderOptions{})
		if d.Report.PDF == nil || !bytes.HasPrefix(d.Report.PDF.Data, []byte("%PDF-")) {
			t.Errorf("%s: no PDF", name)
		}
	}
	pdf := []byte("%PDF-1.4\n% a report long enough to be sent in two parts\n" + strings.Repeat("0123456789", 20) + "\n%%EOF\n")
	b64 := base64.StdEncoding.EncodeToString(pdf)
	msg := "MSH|^~\\&|LIMS|699X0|EPR|R0A|20261105093000||ORU^R01|SPLIT-1|P|2.5.1\r" +
		"PID|1||9990001251^^^NHS^NH||PATIENT^Split||19800101|F\r" +
		"OBR|1||SPLIT-1|R27^Congenital malformation^England-GenomicTestDirectory|||20261001|||||||||||||||20261104120000|||F\r" +
		"OBX|1|ED|1054161000000101^Genetic report^SCT|1|^AP^PDF^Base64^" + b64[:100] + "||||||F\r" +
		"OBX|2|ED|1054161000000101^Genetic report^SCT|1|^AP^PDF^Base64^" + b64[100:] + "||||||F\r"
	d := decodeWith(t, msg, hl7v2.SenderOptions{})
	if d.Report.PDF == nil || !bytes.Equal(d.Report.PDF.Data, pdf) || len(d.Unmapped) != 0 {
		t.Fatalf("split ED: pdf %v, unmapped %+v", d.Report.PDF != nil, d.Unmapped)
	}
}

func TestReportKindOption(t *testing.T) {
	shire := string(fixtures.HL7Message("scottish-chi"))
	if d := decodeWith(t, shire, hl7v2.SenderOptions{}); d.Report.Kind != "" || !d.Report.Unstructured {
		t.Fatalf("text-only cytogenetics: kind %q unstructured %v", d.Report.Kind, d.Report.Unstructured)
	}
	if d := decodeWith(t, shire, hl7v2.SenderOptions{ReportKind: gateway.KindLaboratory}); d.Report.Kind != gateway.KindLaboratory {
		t.Fatalf("forced laboratory: %q", d.Report.Kind)
	}
}

// TestNoteTypes: a note's comment type (NTE-4) that only says "remark" is
// part of the note; another (patient instructions) is listed as unmapped,
// never dropped.
func TestNoteTypes(t *testing.T) {
	order := "OBR|1||REP-N|R208^Inherited breast and ovarian cancer^England-GenomicTestDirectory|||20260901|||||||||||||||20261104120000|||F"
	for typ, listed := range map[string]bool{"Remark^HL70364": false, "RE^Remark^HL70364": false, "": false, "PI^Patient Instructions^HL70364": true, "GI^General Instructions^HL70364": true} {
		d := decodeWith(t, msg("2.5.1", pid1286, order, "NTE|1|L|Fasting sample.|"+typ,
			"OBX|1|TX|RES1^Result^LOCAL||No variant detected.||||||F"), hl7v2.SenderOptions{})
		found := false
		for _, u := range d.Unmapped {
			found = found || strings.HasPrefix(u.Location, "NTE[1]-4")
		}
		if found != listed {
			t.Errorf("NTE-4 %q: listed as unmapped %v, want %v (%+v)", typ, found, listed, d.Unmapped)
		}
	}
}

// Lab numbers an id cannot hold as written stay apart once made safe: two
// numbers that differ only in a character replaced, or after the 64th, are
// two reports; the same number is always the same id; a clean number is
// the id as written.
func TestUnsafeReportNumbersStayApart(t *testing.T) {
	msg := string(fixtures.HL7Message("lri-variant-cwe")) // OBR-3 SYN-1200^699X0
	idOf := func(number string) string {
		t.Helper()
		return decodeWith(t, strings.ReplaceAll(msg, "|SYN-1200^699X0|", "|"+number+"^699X0|"), hl7v2.SenderOptions{}).Report.ID
	}
	long := strings.Repeat("G", 64)
	ids := map[string]string{}
	for _, number := range []string{"T-COL/1", "T-COL 1", "T-COL-1", long + "A", long + "B"} {
		id := idOf(number)
		if other, ok := ids[id]; ok {
			t.Errorf("%q and %q are both filed as %s", other, number, id)
		}
		ids[id] = number
		if again := idOf(number); again != id {
			t.Errorf("%q is %s once and %s again", number, id, again)
		}
		if len(id) > 64 || strings.ContainsAny(id, "/ ") {
			t.Errorf("%q filed as %q: not a safe id", number, id)
		}
	}
	if id := idOf("T-COL-1"); id != "T-COL-1" {
		t.Errorf("a clean number became %s", id)
	}
}
