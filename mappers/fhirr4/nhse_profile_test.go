package fhirr4_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/hl7"
	"github.com/nhs-genomics/results-gateway/internal/peers"
	"github.com/nhs-genomics/results-gateway/internal/profilecheck"
	"github.com/nhs-genomics/results-gateway/mappers/fhirr4"
	"github.com/nhs-genomics/results-gateway/mappers/hl7v2"
)

const nhseBase = "https://fhir.nhs.uk/StructureDefinition/"

// claimedNHSE are the resource types whose NHS England profile the gateway
// claims whenever a resource meets it (and only then).
var claimedNHSE = []string{"DiagnosticReport", "Specimen", "Practitioner"}

// nhseGaps are the resource types a claimed profile points at (by target
// profile) whose own NHS England profile the gateway cannot meet, and why.
// The README's "NHS England profiles" says the same; the test checks that
// each gap is real: such a resource must fail its profile.
var nhseGaps = map[string]string{
	"Patient":          "asks for ethnic category, residential status and an address, which lab reports do not carry",
	"ServiceRequest":   "asks for the order's coverage, priority and authoredOn, which belong to the order, not the report",
	"Organization":     "asks for an organisation type and address, which lab reports do not carry",
	"PractitionerRole": "asks for exactly two telecoms",
	"Observation": "forbids derivedFrom, hasMember and issued, which the Genomics Reporting IG uses to link " +
		"implications to variants; NHS England's own examples claim only the IG's profiles for these",
}

func loadNHSEProfiles(t *testing.T) profilecheck.Set {
	t.Helper()
	set, err := profilecheck.Load(filepath.Join(peers.DataDir(t), "nhse-genomics-ig", "StructureDefinition"))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

type bundleJSON struct {
	Entry []struct {
		FullURL  string         `json:"fullUrl"`
		Resource map[string]any `json:"resource"`
	} `json:"entry"`
}

func claims(resource map[string]any) []string {
	meta, _ := resource["meta"].(map[string]any)
	var out []string
	for _, p := range asSlice(meta["profile"]) {
		out = append(out, p.(string))
	}
	return out
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// TestBundlesMeetNHSEnglandProfiles applies NHS England's genomics profiles,
// read from their StructureDefinitions, to every fixture's Bundle: each
// claim holds (cardinality, types, fixed values, the types its references
// point at); each resource of a claimed type that meets its profile claims
// it; and each referenced resource that does not claim its target profile
// is a documented gap that really fails it. The Genomics Reporting IG's
// profiles are checked by the third-party validator (validator_test.go).
func TestBundlesMeetNHSEnglandProfiles(t *testing.T) {
	set := loadNHSEProfiles(t)
	for _, f := range fixtures.Reports() {
		t.Run(f.Name, func(t *testing.T) {
			_, out := mapFixture(t, f.Body)
			checkNHSE(t, set, out, true)
		})
	}
	// The same for HL7 v2 input: the project's fixtures and the real-world
	// UK messages in ../shared/data (those that can be filed).
	m, err := fhirr4.New("")
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range hl7Inputs(t) {
		t.Run(name, func(t *testing.T) {
			r := filedHL7Report(t, raw)
			out, _, err := m.EncodeBundle(r, testPDF)
			if err != nil {
				t.Fatal(err)
			}
			checkNHSE(t, set, out, false)
		})
	}
}

// hl7Inputs are the project's HL7 v2 fixtures and the real-world messages
// in ../shared/data, by name.
func hl7Inputs(t *testing.T) map[string][]byte {
	inputs := map[string][]byte{}
	for _, f := range fixtures.HL7() {
		inputs["fixtures/"+f.Name] = f.Body
	}
	for _, s := range peers.HL7Samples(t) {
		inputs[s.Name] = s.Raw
	}
	return inputs
}

// filedHL7Report is the report an HL7 v2 message files as (version 1, as
// intake numbers it); the test skips a message the gateway refuses, since
// no Bundle is written for it (those refusals are tested in mappers/hl7v2).
func filedHL7Report(t *testing.T, raw []byte) *gateway.Report {
	t.Helper()
	msg, err := hl7.Parse(raw)
	if err != nil {
		t.Skipf("not a message the gateway parses: %v", err)
	}
	d, err := hl7v2.Decode(msg, "699X0", hl7v2.SenderOptions{})
	if err != nil {
		t.Skipf("a message the gateway refuses: %v", err)
	}
	if refused, _ := gateway.ValidateLenient(d.Report); len(refused) > 0 {
		t.Skipf("a report the gateway refuses: %v", refused)
	}
	d.Report.Version = max(d.Report.Version, 1)
	return d.Report
}

// checkNHSE checks one Bundle; mustClaim says its report carries what
// NHS England's profiles need (the JSON fixtures do; a real-world HL7
// message may not name a specimen type or collection time).
func checkNHSE(t *testing.T, set profilecheck.Set, out []byte, mustClaim bool) {
	t.Helper()
	var b bundleJSON
	if err := json.Unmarshal(out, &b); err != nil {
		t.Fatal(err)
	}
	byURL := map[string]map[string]any{}
	genomic := false // NHS England's genomics profiles are for genomic reports, not a blood count
	for _, e := range b.Entry {
		byURL[e.FullURL] = e.Resource
		if e.Resource["resourceType"] == "DiagnosticReport" {
			genomic = strings.Contains(string(mustJSON(e.Resource["category"])), `"GE"`)
		}
	}
	resolve := func(ref string) map[string]any { return byURL[ref] }
	claimedCount := 0
	for i, e := range b.Entry {
		typ, _ := e.Resource["resourceType"].(string)
		profile := set.ForType(typ)
		if profile == nil {
			continue
		}
		problems, refs := profile.Check(e.Resource, resolve)
		for _, r := range refs {
			problems = append(problems, targetProblems(set, r, resolve)...)
		}
		claimed := slices.Contains(claims(e.Resource), profile.URL)
		switch {
		case claimed && len(problems) > 0:
			t.Errorf("entry %d (%s) claims %s but:\n  %s", i, typ, profile.URL, strings.Join(problems, "\n  "))
		case claimed && !genomic:
			t.Errorf("entry %d (%s) claims %s in a report that is not genomic", i, typ, profile.URL)
		case !claimed && len(problems) == 0 && genomic && slices.Contains(claimedNHSE, typ):
			t.Errorf("entry %d (%s) meets %s but does not claim it", i, typ, profile.URL)
		}
		if claimed {
			claimedCount++
		}
	}
	if mustClaim && genomic && claimedCount == 0 {
		t.Errorf("no resource of a genomic report claims an NHS England profile")
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

// targetProblems: a reference must point at a resource that claims one of
// its NHS England target profiles, or at a documented gap that really
// fails it (else the gateway should claim it).
func targetProblems(set profilecheck.Set, r profilecheck.Reference, resolve profilecheck.Resolver) []string {
	if r.Target == nil {
		return nil // a reference outside the Bundle (or by identifier only)
	}
	typ, _ := r.Target["resourceType"].(string)
	var nhse []string
	for _, p := range r.TargetProfiles {
		if strings.HasPrefix(p, nhseBase) {
			nhse = append(nhse, p)
		}
	}
	if len(nhse) == 0 || slices.ContainsFunc(claims(r.Target), func(p string) bool { return slices.Contains(nhse, p) }) {
		return nil // nothing asked, or the target is checked in its own right
	}
	reason, gap := nhseGaps[typ]
	if !gap {
		return []string{fmt.Sprintf("%s points at a %s that claims none of %v", r.Path, typ, nhse)}
	}
	profile := set.ForType(typ)
	if problems, _ := profile.Check(r.Target, resolve); len(problems) == 0 {
		return []string{fmt.Sprintf("%s points at a %s that meets %s but does not claim it (documented gap: %s)", r.Path, typ, profile.URL, reason)}
	}
	return nil
}

// The checker finds what a profile forbids or requires: a report that
// drifted from NHS England's profile fails this test.
func TestNHSEnglandProfileCheckFindsDrift(t *testing.T) {
	set := loadNHSEProfiles(t)
	_, out := mapFixture(t, fixtures.Report("trio-wgs-denovo-positive"))
	var b bundleJSON
	if err := json.Unmarshal(out, &b); err != nil {
		t.Fatal(err)
	}
	var report map[string]any
	for _, e := range b.Entry {
		if e.Resource["resourceType"] == "DiagnosticReport" {
			report = e.Resource
		}
	}
	resolve := func(string) map[string]any { return nil }
	profile := set[nhseBase+"NHSDigital-DiagnosticReport-Genomics"]
	if problems, _ := profile.Check(report, resolve); len(problems) != 0 {
		t.Fatalf("the mapped report should pass: %v", problems)
	}
	for name, c := range map[string]struct {
		change func(map[string]any)
		want   string
	}{
		"no specimen":  {func(r map[string]any) { delete(r, "specimen") }, "DiagnosticReport.specimen: 0 present, at least 1 required"},
		"an encounter": {func(r map[string]any) { r["encounter"] = map[string]any{"reference": "Encounter/1"} }, "DiagnosticReport.encounter: 1 present, at most 0 allowed"},
		"a wrong type": {func(r map[string]any) { r["basedOn"] = []any{map[string]any{"reference": "CarePlan/1"}} }, "DiagnosticReport.basedOn: refers to a CarePlan"},
		"no issued":    {func(r map[string]any) { delete(r, "issued") }, "DiagnosticReport.issued: 0 present, at least 1 required"},
	} {
		t.Run(name, func(t *testing.T) {
			copied := map[string]any{}
			for k, v := range report {
				copied[k] = v
			}
			c.change(copied)
			problems, _ := profile.Check(copied, resolve)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.HasPrefix(p, c.want) }) {
				t.Fatalf("want %q among %v", c.want, problems)
			}
		})
	}
	// A slice the differential cannot identify is reported, never passed.
	patient := set[nhseBase+"NHSDigital-Patient-Genomics"]
	problems, _ := patient.Check(map[string]any{"resourceType": "Patient"}, resolve)
	if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, "cannot be recognised") }) {
		t.Fatalf("an unrecognisable slice passed: %v", problems)
	}
}
