package httpapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/gateway/boltstore"
)

// flakyAudit is the real audit log until it is told to fail, as a store
// does when its disk fills or its connection drops between two writes.
type flakyAudit struct {
	gateway.AuditLog
	failing atomic.Bool
}

func (a *flakyAudit) Audit(ctx context.Context, e gateway.AuditEntry) error {
	if a.failing.Load() {
		return errors.New("audit store unavailable")
	}
	return a.AuditLog.Audit(ctx, e)
}

// TestReadsFailClosedWhenTheAuditCannotBeWritten: a read whose audit
// entry cannot be stored serves nothing (503); once the audit works the
// same read is served and recorded.
func TestReadsFailClosedWhenTheAuditCannotBeWritten(t *testing.T) {
	store, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	const bundle = `{"resourceType":"Bundle","type":"transaction","entry":[]}`
	rec := &gateway.ReportRecord{ID: "AUDIT-1", Version: 1, Status: gateway.StatusFinal, LabODS: "699X0", TrustODS: "R0A",
		Digest: "d1", Report: []byte(`{"id":"AUDIT-1"}`), Bundle: []byte(bundle), PDF: []byte("%PDF-1.4 synthetic")}
	if _, _, err := store.SaveReport(t.Context(), rec, nil); err != nil {
		t.Fatal(err)
	}
	audit := &flakyAudit{AuditLog: store}
	srv := readAPI(t, store, store, audit, map[string]gateway.Principal{"trust-token-123": {Subject: "trust", Role: gateway.RoleTrust, ODSCode: "R0A"}})
	read := func(path string) (int, string) {
		resp := getAs(t, srv.URL+path, "trust-token-123")
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	audit.failing.Store(true)
	for _, path := range []string{"/v1/reports/AUDIT-1", "/v1/reports/AUDIT-1/fhir", "/v1/reports/AUDIT-1/pdf", "/fhir/DiagnosticReport?identifier=AUDIT-1"} {
		status, body := read(path)
		if status != http.StatusServiceUnavailable || strings.Contains(body, "synthetic") || strings.Contains(body, `"type":"transaction"`) {
			t.Errorf("%s with the audit down = %d %.120s, want 503 and nothing served", path, status, body)
		}
	}
	audit.failing.Store(false)
	if status, body := read("/v1/reports/AUDIT-1/pdf"); status != http.StatusOK || !strings.Contains(body, "synthetic") {
		t.Fatalf("with the audit back = %d", status)
	}
	entries, _ := store.AuditFor(t.Context(), "AUDIT-1")
	if len(entries) == 0 || entries[len(entries)-1].Outcome != "success" {
		t.Fatalf("the served read was not recorded: %+v", entries)
	}
}
