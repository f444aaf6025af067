package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/fixtures"
	httpapi "github.com/nhs-genomics/results-gateway/gateway/http"
)

// TestAuthorizationTable walks every endpoint with every kind of caller:
// no token, each role's configured token, another organisation's, and
// JWTs with SMART v1 and v2 scopes that allow too little, the wrong
// action, or only patient-level access. Each cell says whether the call
// may get through; a new endpoint without a row here (or without a rule
// in routes.go) fails the test.
func TestAuthorizationTable(t *testing.T) {
	base, iss := pullGateway(t, "embedded")
	jwt := func(role, ods, scope string) string {
		claims := map[string]any{"iss": "https://auth.example.nhs.uk", "aud": "results-gateway", "sub": "authz-" + role,
			"exp": time.Now().Add(10 * time.Minute).Unix(), "role": role, "scope": scope}
		if ods != "" {
			claims["ods"] = ods
		}
		return iss.Sign("RS256", claims)
	}
	callers := []struct{ name, token string }{
		{"none", ""},
		{"lab", labToken}, {"otherLab", otherLabToken}, {"trust", trustToken}, {"otherTrust", otherTrustToken}, {"operator", operatorToken},
		{"trustDR", jwt("trust", "R0A", "system/DiagnosticReport.read")},
		{"trustObs", jwt("trust", "R0A", "system/Observation.read")},
		{"trustPatient", jwt("trust", "R0A", "patient/*.read")},
		{"trustWrite", jwt("trust", "R0A", "system/*.write")},
		{"trustAll", jwt("trust", "R0A", "system/*.rs")},
		{"labCreate", jwt("lab", "699X0", "system/DiagnosticReport.c")},
		{"labRead", jwt("lab", "699X0", "system/DiagnosticReport.read")},
		{"operatorDR", jwt("operator", "", "system/DiagnosticReport.read")},
		{"operatorAll", jwt("operator", "", "system/*.*")},
	}

	// One report of lab 699X0 for trust R0A, and the FHIR id of its DiagnosticReport.
	report := withID(t, fixtures.Report("negative-wgs"), "AUTHZ-1")
	if r := post(t, base, labToken, report); r.status != http.StatusAccepted {
		t.Fatalf("seed: %d %s", r.status, r.body)
	}
	var search struct {
		Entry []struct {
			Resource struct{ ID string } `json:"resource"`
		} `json:"entry"`
	}
	json.Unmarshal(get(t, base+"/fhir/DiagnosticReport?identifier=AUTHZ-1", operatorToken).body, &search)
	if len(search.Entry) != 1 {
		t.Fatal("the seeded report is not found by search")
	}
	drID := search.Entry[0].Resource.ID
	var list struct {
		Deliveries []struct{ ID string } `json:"deliveries"`
	}
	json.Unmarshal(get(t, base+"/v1/deliveries?report=AUTHZ-1", operatorToken).body, &list)
	if len(list.Deliveries) == 0 {
		t.Fatal("no delivery for the seeded report")
	}
	delivery := list.Deliveries[0].ID
	// The same report as FHIR, under another id, for POST /fhir.
	fhirReport := bytes.ReplaceAll(get(t, base+"/v1/reports/AUTHZ-1/fhir", operatorToken).body, []byte("AUTHZ-1"), []byte("AUTHZ-FHIR"))

	const (
		reportReaders = "lab trust operator trustDR trustAll labRead operatorDR operatorAll"
		bundleReaders = "lab trust operator trustAll operatorAll" // every resource type in the Bundle
		ops           = "operator operatorAll"
		searchers     = "lab otherLab trust otherTrust operator trustDR trustAll labRead operatorDR operatorAll" // others' reports are simply not found
		everyone      = "none lab otherLab trust otherTrust operator trustDR trustObs trustPatient trustWrite trustAll labCreate labRead operatorDR operatorAll"
	)
	type call struct {
		path, contentType string
		body              []byte
		allowed           string
	}
	table := map[string]call{
		"GET /healthz":       {"/healthz", "", nil, everyone},
		"GET /readyz":        {"/readyz", "", nil, everyone},
		"GET /fhir/metadata": {"/fhir/metadata", "", nil, everyone},
		"GET /fhir/.well-known/smart-configuration": {"/fhir/.well-known/smart-configuration", "", nil, everyone},
		"POST /v1/reports":                          {"/v1/reports", "application/json", report, "lab labCreate"}, // another lab may not post 699X0's report
		"POST /v1/reports/$validate":                {"/v1/reports/$validate", "application/json", report, "lab otherLab operator labCreate operatorAll"},
		"POST /v1/hl7v2":                            {"/v1/hl7v2", "application/hl7-v2+er7", fixtures.HL7Message("ni-hc-number"), "lab otherLab labCreate"},
		"GET /v1/reports/:id":                       {"/v1/reports/AUTHZ-1", "", nil, reportReaders},
		"GET /v1/reports/:id/fhir":                  {"/v1/reports/AUTHZ-1/fhir", "", nil, bundleReaders},
		"GET /v1/reports/:id/pdf":                   {"/v1/reports/AUTHZ-1/pdf", "", nil, reportReaders},
		"GET /v1/reports/:id/journey":               {"/v1/reports/AUTHZ-1/journey", "", nil, bundleReaders},
		"POST /v1/reports/:id/acknowledgements":     {"/v1/reports/AUTHZ-1/acknowledgements", "application/json", []byte(`{"by": "Dr A"}`), "trust trustWrite"},
		"POST /fhir":                                {"/fhir", "application/fhir+json", fhirReport, "lab labCreate"},
		"GET /v1/deliveries":                        {"/v1/deliveries", "", nil, ops},
		"GET /v1/deliveries/:delivery":              {"/v1/deliveries/" + delivery, "", nil, ops},
		"POST /v1/deliveries/:delivery/replay":      {"/v1/deliveries/" + delivery + "/replay", "", nil, ops},
		"POST /v1/deliveries/:delivery/cancel":      {"/v1/deliveries/" + delivery + "/cancel", "", nil, ops},
		"POST /v1/deliveries/replay":                {"/v1/deliveries/replay", "application/json", []byte(`{"ids": ["` + delivery + `"]}`), ops},
		"POST /v1/deliveries/cancel":                {"/v1/deliveries/cancel", "application/json", []byte(`{"ids": []}`), ops},
		"GET /v1/delivery-counts":                   {"/v1/delivery-counts", "", nil, ops},
		"GET /v1/held":                              {"/v1/held", "", nil, ops},
		"GET /v1/destinations":                      {"/v1/destinations", "", nil, ops},
		"GET /v1/activity":                          {"/v1/activity", "", nil, ops},
		"GET /v1/turnaround":                        {"/v1/turnaround?month=2026-11", "", nil, ops},
		"POST /v1/prune":                            {"/v1/prune", "application/json", []byte(`{"dryRun": true}`), ops},
		"POST /v1/destinations/:name/pause":         {"/v1/destinations/rbs-files/pause", "", nil, ops},
		"POST /v1/destinations/:name/resume":        {"/v1/destinations/rbs-files/resume", "", nil, ops},
		"GET /metrics":                              {"/metrics", "", nil, "operator operatorDR operatorAll"}, // counts, no patient data
		"GET /fhir/:type":                           {"/fhir/DiagnosticReport?identifier=AUTHZ-1", "", nil, searchers},
		"GET /fhir/:type/:id":                       {"/fhir/DiagnosticReport/" + drID, "", nil, reportReaders},
		"GET /fhir/:type/:id/:history/:vid":         {"/fhir/DiagnosticReport/" + drID + "/_history/1", "", nil, reportReaders},
	}

	endpoints, hasRule := httpapi.Endpoints()
	for _, e := range endpoints {
		if !hasRule[e] {
			t.Errorf("%s has no authorisation rule in routes.go", e)
		}
		if method, path, _ := strings.Cut(e, " "); strings.HasPrefix(path, "/console") {
			// The console takes an operator's session cookie, never a bearer token.
			if path == "/console/login" || path == "/console/console.js" || path == "/console/favicon.svg" { // public: no data, only the confirmations and the icon
				continue
			}
			path = strings.NewReplacer(":name", "rbs-files", ":action", "pause").Replace(path)
			req, _ := http.NewRequest(method, base+path, nil)
			req.Header.Set("Authorization", "Bearer "+operatorToken)
			resp, err := noRedirects.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/console/login?next=") {
				t.Errorf("%s without a session = %d %s, want a redirect to the login page", e, resp.StatusCode, resp.Header.Get("Location"))
			}
			continue
		}
		if _, ok := table[e]; !ok {
			t.Errorf("%s has no row in this table: say who may call it", e)
		}
	}
	for e, c := range table {
		method, _, _ := strings.Cut(e, " ")
		for _, who := range callers {
			r := do(t, method, base+c.path, who.token, c.contentType, c.body)
			denied := r.status == http.StatusUnauthorized || r.status == http.StatusForbidden ||
				r.status == http.StatusNotFound && (method == http.MethodGet || strings.HasPrefix(c.path, "/v1/reports/AUTHZ-1/")) // another organisation's report is "not found"
			want := slices.Contains(strings.Fields(c.allowed), who.name)
			switch {
			case want && denied:
				t.Errorf("%s as %s = %d, want it allowed: %.200s", e, who.name, r.status, r.body)
			case !want && !denied:
				t.Errorf("%s as %s = %d, want it refused: %.200s", e, who.name, r.status, r.body)
			case want && r.status >= 500:
				t.Errorf("%s as %s = %d: %.200s", e, who.name, r.status, r.body)
			}
		}
	}
}

// noRedirects shows a redirect instead of following it.
var noRedirects = &http.Client{Timeout: 10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
