package httpapi

import (
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// FHIR token search: "system|code" matches the code only in that system,
// "|code" only a coding without a system, "code" in any system. The search
// once dropped the system, so code=http://snomed.info/sct|51969-4 (a LOINC
// code under SNOMED) or code=http://example.org|51969-4 answered every
// report, and an EPR filtering by a coded test got results it did not ask for.
func TestCodeSearchHonoursTheSystem(t *testing.T) {
	report := &gateway.ReportRecord{TestCode: "R208.1"}
	matches := func(typ, param, value string) bool {
		t.Helper()
		return searchMatches(t, report, typ, param, value)
	}
	for _, c := range []struct {
		value string
		want  bool
	}{
		{"51969-4", true},
		{"http://loinc.org|51969-4", true},
		{"http://snomed.info/sct|1054161000000101", true},
		{"R208.1", true},
		{"https://fhir.nhs.uk/CodeSystem/England-GenomicTestDirectory|R208.1", true},
		{"http://example.org/nonsense|R999,R208.1", true},
		{"http://snomed.info/sct|51969-4", false},
		{"http://example.org/nonsense|51969-4", false},
		{"http://loinc.org|R208.1", false},
		{"|51969-4", false},
		{"R14.1", false},
		{"https://fhir.nhs.uk/CodeSystem/England-GenomicTestDirectory|R14.1", false},
		// The R-code is coded in the test directory's system, never the digital service's.
		{"https://fhir.nhs.uk/CodeSystem/England-DigitalGenomicTestService|R208.1", false},
	} {
		if got := matches("DiagnosticReport", "code", c.value); got != c.want {
			t.Errorf("DiagnosticReport?code=%s: %v, want %v", c.value, got, c.want)
		}
	}
	for _, c := range []struct {
		value string
		want  bool
	}{
		{"1054161000000101", true}, {"http://snomed.info/sct|1054161000000101", true},
		{"http://loinc.org|1054161000000101", false}, {"|1054161000000101", false},
	} {
		if got := matches("DocumentReference", "type", c.value); got != c.want {
			t.Errorf("DocumentReference?type=%s: %v, want %v", c.value, got, c.want)
		}
	}
}

// searchMatches says whether a search of typ with one parameter matches
// the report.
func searchMatches(t *testing.T, report *gateway.ReportRecord, typ, param, value string) bool {
	t.Helper()
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest("GET", "/fhir/"+typ+"?"+url.Values{param: {value}}.Encode(), nil)
	q, err := (&server{}).parseQuery(c, typ)
	if err != nil {
		t.Fatalf("%s=%s: %v", param, value, err)
	}
	return q.matches(report)
}

// TestLaboratoryReportCodes: a laboratory report that is not genomic (a
// pathology ORU) is coded SNOMED 4241000179101 Laboratory report, and its
// document too; searches for genetic reports (51969-4, 1054161000000101)
// found it all the same.
func TestLaboratoryReportCodes(t *testing.T) {
	lab := &gateway.ReportRecord{Kind: "laboratory", TestCode: "FBC"}
	for _, c := range []struct {
		typ, param, value string
		want              bool
	}{
		{"DiagnosticReport", "code", "51969-4", false},
		{"DiagnosticReport", "code", "http://snomed.info/sct|1054161000000101", false},
		{"DiagnosticReport", "code", "http://snomed.info/sct|4241000179101", true},
		{"DiagnosticReport", "code", "4241000179101", true},
		{"DocumentReference", "type", "1054161000000101", false},
		{"DocumentReference", "type", "http://snomed.info/sct|4241000179101", true},
	} {
		if got := searchMatches(t, lab, c.typ, c.param, c.value); got != c.want {
			t.Errorf("%s?%s=%s: %v, want %v", c.typ, c.param, c.value, got, c.want)
		}
	}
	if searchMatches(t, &gateway.ReportRecord{TestCode: "R208.1"}, "DiagnosticReport", "code", "4241000179101") {
		t.Error("a genomic report matched the laboratory report code")
	}
}
