package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/gateway/boltstore"
)

// TestChallengeNamesTheScopeTheRuleNeeds: a 403 for a missing scope names
// it (RFC 6750 3.1) whenever the gateway serves the type: the fixed types
// of a rule (AuditEvent, an operator endpoint's "*") as well as a type in
// the URL the pull API reads; only a type from the URL the gateway does not
// serve is left out of the header.
func TestChallengeNamesTheScopeTheRuleNeeds(t *testing.T) {
	store, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	srv := readAPI(t, store, store, store, map[string]gateway.Principal{
		"operator-token-1": {Subject: "ops", Role: gateway.RoleOperator, Scopes: []string{"system/DiagnosticReport.rs"}},
	})
	for path, want := range map[string]string{
		"/fhir/AuditEvent?entity=DiagnosticReport/X": `scope="system/AuditEvent.s"`,
		"/fhir/Observation/x":                        `scope="system/Observation.r"`,
		"/v1/deliveries":                             `scope="system/*.`,
		`/fhir/Foo",error="x/1`:                      "",
	} {
		resp := getAs(t, srv.URL+path, "operator-token-1")
		resp.Body.Close()
		got := resp.Header.Get("WWW-Authenticate")
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(got, `error="insufficient_scope"`) {
			t.Errorf("%s: %d %q, want 403 insufficient_scope", path, resp.StatusCode, got)
			continue
		}
		if want == "" && strings.Contains(got, "scope=") || want != "" && !strings.Contains(got, want) {
			t.Errorf("%s: WWW-Authenticate %q, want %q", path, got, want)
		}
	}
}
