package gateway_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// minimal is a genomic report an HL7 v2 lab might send: an NHS number, a
// test code, a line of text, and little else.
func minimal() *gateway.Report {
	return &gateway.Report{SchemaVersion: gateway.SchemaVersion, ID: "R-1", Status: gateway.StatusFinal,
		Issued: "2026-11-02T14:30:00Z", PerformingLab: gateway.Organisation{ODSCode: "699X0"},
		OrderingTrust: gateway.Organisation{ODSCode: "R0A"}, Patient: gateway.Patient{NHSNumber: "9990000018"},
		Test: gateway.Test{Code: "R240.1"}, Result: gateway.Result{Conclusion: "No variant detected."}}
}

func paths(ps []gateway.Problem) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Path)
	}
	return strings.Join(out, ",")
}

// TestLenientRefusesOnlyTheUnfileable: missing or odd fields are warnings;
// no patient identity, nothing to file, or MLLP framing bytes refuse.
func TestLenientRefusesOnlyTheUnfileable(t *testing.T) {
	r := minimal()
	refuse, warnings := gateway.ValidateLenient(r)
	if len(refuse) != 0 || len(warnings) == 0 {
		t.Fatalf("minimal report: refuse %v, warnings %d", refuse, len(warnings))
	}
	if strict := gateway.Validate(r); len(strict) == 0 {
		t.Fatal("the strict JSON rules accepted a report with no specimens or authorisers")
	}
	for _, c := range []struct {
		name, path string
		edit       func(*gateway.Report)
	}{
		{"no patient identity", "patient.nhsNumber", func(r *gateway.Report) { r.Patient.NHSNumber = "" }},
		{"a bad check digit and nothing else", "patient.nhsNumber", func(r *gateway.Report) { r.Patient.NHSNumber = "9990000017" }},
		{"an MRN without authority", "patient.mrnAuthority", func(r *gateway.Report) { r.Patient = gateway.Patient{MRN: "X1"} }},
		{"nothing to file", "result", func(r *gateway.Report) { r.Result = gateway.Result{} }},
		{"framing bytes", "result.conclusion", func(r *gateway.Report) { r.Result.Conclusion = "a\x1cb" }},
		{"no report id", "id", func(r *gateway.Report) { r.ID = "" }},
	} {
		r := minimal()
		c.edit(r)
		refuse, _ := gateway.ValidateLenient(r)
		if len(refuse) != 1 || refuse[0].Path != c.path {
			t.Errorf("%s: refusals %v, want one at %s", c.name, refuse, c.path)
		}
	}
	// Identified in other ways: an MRN with its authority, a CHI or H&C number.
	for _, p := range []gateway.Patient{{MRN: "X1", MRNAuthority: "R0A"}, {CHINumber: "1503901009"}, {HCNumber: "3201234567"}} {
		r := minimal()
		r.Patient = p
		if refuse, _ := gateway.ValidateLenient(r); len(refuse) != 0 {
			t.Errorf("%+v: refused %v", p, refuse)
		}
	}
	// A corrupt document that was the only result: filed with a warning.
	r = minimal()
	r.Result = gateway.Result{}
	refuse, _ = gateway.ValidateLenient(r)
	kept, w := gateway.FileUnreadable(refuse)
	if len(kept) != 0 || w == nil {
		t.Fatalf("FileUnreadable: kept %v, warning %v", kept, w)
	}
}

func TestVariantConventionsLabsUse(t *testing.T) {
	r := minimal()
	r.Result.Outcome = "positive"
	r.Variants = []gateway.Variant{
		// LOINC convention: an HGVS on a transcript, no build, chromosome or position
		{ID: "v1", Type: "snv", Gene: gateway.Gene{Symbol: "GALT", HGNCID: "HGNC:4135"}, Transcript: "NM_000155.3",
			HGVS: gateway.HGVS{C: "NM_000155.3:c.563A>G"}, Zygosity: "heterozygous", Classification: gateway.Classification{ACMG: "pathogenic"}},
		// a mitochondrial variant named by its m. HGVS and MT- gene, heteroplasmic
		{ID: "v2", Type: "snv", Gene: gateway.Gene{Symbol: "MT-TL1", HGNCID: "HGNC:7490"}, HGVS: gateway.HGVS{G: "NC_012920.1:m.3243A>G"},
			Zygosity: "heteroplasmic", HeteroplasmyFraction: ptr(0.45), Classification: gateway.Classification{ACMG: "pathogenic"}},
	}
	for _, c := range []string{"c.52_54[42]", "c.52_54CAG[42]", "c.52CAG[42]", "c.52_54CAG[17];[42]"} {
		r.Variants = append(r.Variants, gateway.Variant{ID: "rep" + c, Type: "repeat", Gene: gateway.Gene{Symbol: "HTT", HGNCID: "HGNC:4851"},
			HGVS: gateway.HGVS{C: "NM_002111.8:" + c}, Zygosity: "heterozygous", Classification: gateway.Classification{ACMG: "pathogenic"}})
	}
	r.Variants[2].ID = "rep1"
	r.Variants[3].ID = "rep2"
	r.Variants[4].ID = "rep3"
	r.Variants[5].ID = "rep4"
	_, warnings := gateway.ValidateLenient(r)
	for _, w := range warnings {
		if strings.HasPrefix(w.Path, "variants") {
			t.Errorf("warning on a conventional variant: %s %s", w.Path, w.Message)
		}
	}
}

func ptr(f float64) *float64 { return &f }

func TestFutureTimesRefused(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	r := minimal()
	r.Issued = "2031-01-01T00:00:00Z"
	r.Patient.BirthDate = "2031-01-01"
	r.Specimens = []gateway.Specimen{{ID: "S1", Collected: now.Add(30 * time.Minute).Format(time.RFC3339)}} // within the skew
	if got := paths(gateway.FutureTimes(r, now, gateway.DefaultClockSkew)); got != "issued,patient.birthDate" {
		t.Fatalf("future times at %q, want issued and birth date", got)
	}
}

func TestClassifyNationalNumber(t *testing.T) {
	for n, want := range map[string]string{
		"9990000018": gateway.NumberNHS, "3201234567": gateway.NumberHC, "1503901009": gateway.NumberCHI, "9990000017": "",
	} {
		if got := gateway.ClassifyNationalNumber(n, "1990-03-15"); got != want {
			t.Errorf("%s: %q, want %q", n, got, want)
		}
	}
	if got := gateway.ClassifyNationalNumber("1503901009", "1991-01-01"); got != gateway.NumberNHS {
		t.Errorf("a number not starting with the birth date is not a CHI number: %q", got)
	}
}

// TestGenesAgreeAcrossTheReport: an HGNC id named by two symbols, or a
// symbol given two HGNC ids, is said (a warning in lenient mode, where the
// LRI sample's 3614^GALT beside GALT's HGNC:4135 was passed through silently).
func TestGenesAgreeAcrossTheReport(t *testing.T) {
	for name, second := range map[string]gateway.Gene{
		"one id, two symbols": {Symbol: "GALK1", HGNCID: "HGNC:4135"},
		"one symbol, two ids": {Symbol: "GALT", HGNCID: "HGNC:3614"},
	} {
		r := minimal()
		r.Result.Outcome = "positive"
		v := gateway.Variant{Type: "snv", Transcript: "NM_000155.3", HGVS: gateway.HGVS{C: "NM_000155.3:c.563A>G"}, Zygosity: "heterozygous",
			Classification: gateway.Classification{ACMG: "pathogenic"}}
		v.ID, v.Gene = "v1", gateway.Gene{Symbol: "GALT", HGNCID: "HGNC:4135"}
		r.Variants = append(r.Variants, v)
		v.ID, v.Gene = "v2", second
		r.Variants = append(r.Variants, v)
		refuse, warnings := gateway.ValidateLenient(r)
		found := false
		for _, w := range warnings {
			found = found || strings.HasPrefix(w.Path, "variants[1].") && strings.Contains(w.Message, "elsewhere in the report")
		}
		if len(refuse) != 0 || !found {
			t.Errorf("%s: refused %v, warnings %v", name, refuse, warnings)
		}
	}
}
