package labjson_test

import (
	"errors"
	"sort"
	"testing"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/mappers/labjson"
)

func TestValidFixturesDecode(t *testing.T) {
	for _, f := range fixtures.Reports() {
		t.Run(f.Name, func(t *testing.T) {
			r, err := labjson.Decode(f.Body)
			if err != nil {
				t.Fatalf("Decode: %v %+v", err, problems(err))
			}
			if r.ID == "" || r.Patient.NHSNumber == "" {
				t.Fatalf("decoded report lost its identity: %+v", r)
			}
		})
	}
}

func TestInvalidFixturesReportEveryProblem(t *testing.T) {
	want := fixtures.InvalidExpectations()
	for _, f := range fixtures.Invalid() {
		t.Run(f.Name, func(t *testing.T) {
			exp, ok := want[f.Name]
			if !ok {
				t.Fatalf("no expectation for %s in invalid/expected.json", f.Name)
			}
			_, err := labjson.Decode(f.Body)
			if err == nil {
				t.Fatal("Decode accepted an invalid report")
			}
			code := gateway.ErrorCode(err)
			if exp.Status == 400 && code != gateway.EMALFORMED || exp.Status == 422 && code != gateway.EINVALID {
				t.Fatalf("code = %s, want HTTP %d", code, exp.Status)
			}
			got := paths(err)
			if !equal(got, exp.Paths) {
				t.Fatalf("problem paths = %q, want %q\n%+v", got, exp.Paths, problems(err))
			}
		})
	}
}

func problems(err error) []gateway.Problem {
	var e *gateway.Error
	if errors.As(err, &e) {
		return e.Problems
	}
	return nil
}

func paths(err error) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range problems(err) {
		if !seen[p.Path] {
			out = append(out, p.Path)
			seen[p.Path] = true
		}
	}
	sort.Strings(out)
	return out
}

func equal(a, b []string) bool {
	b = append([]string(nil), b...)
	sort.Strings(b)
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
