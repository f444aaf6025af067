package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// localConsolePath admits only console pages as where a login leads, and
// judges the path the browser will be sent to: http.Redirect cleans dot
// segments ("/console/../v1/prune" leads to /v1/prune), and a browser
// reads an escaped dot segment ("%2e%2e") as one.
func TestLocalConsolePathJudgesWhereTheRedirectLeads(t *testing.T) {
	for next, want := range map[string]bool{
		"/console": true, "/console/reports/R-1?x=1": true, "/console/messages?report=a%2Fb": true,
		"/console/../fhir/metadata": false, "/console/..": false, "/console/./../v1/prune": false,
		"/console/%2e%2e/fhir/metadata": false, "/console/%2E%2e/v1": false, "/console/.%2e/v1": false,
		"/console/reports/../login": false, "//evil.example/console": false, "/console/login": false,
	} {
		if got := localConsolePath(next); got != want {
			req := httptest.NewRequest(http.MethodPost, "/console/login", nil)
			rec := httptest.NewRecorder()
			http.Redirect(rec, req, next, http.StatusSeeOther)
			t.Errorf("localConsolePath(%q) = %v, want %v (the login would redirect to %q)", next, got, want, rec.Header().Get("Location"))
		}
	}
}
