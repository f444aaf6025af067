package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/gateway/auth"
	"github.com/nhs-genomics/results-gateway/gateway/boltstore"
	httpapi "github.com/nhs-genomics/results-gateway/gateway/http"
)

// countingIndex is the store's index, counting the records it reads and
// the holders it lists.
type countingIndex struct {
	gateway.ReportIndex
	read, listed atomic.Int64
}

func (c *countingIndex) ResourceReports(ctx context.Context, ref string) ([]string, error) {
	ids, err := c.ReportIndex.ResourceReports(ctx, ref)
	c.listed.Add(int64(len(ids)))
	return ids, err
}

func (c *countingIndex) ReportMetas(ctx context.Context, ids []string) ([]*gateway.ReportRecord, error) {
	c.read.Add(int64(len(ids)))
	return c.ReportIndex.ReportMetas(ctx, ids)
}

// TestSharedResourceReadsTheNewestReadableHolderOnly: a lab's Organization
// is in every report the lab sends. Reading it serves the newest version a
// caller may read, as before, without reading every holder's record; a
// trust that may read none of them still gets 404.
func TestSharedResourceReadsTheNewestReadableHolderOnly(t *testing.T) {
	store, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	const holders = 300
	start := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	newest := map[string]int{} // trust -> the last report it received
	for i := 0; i < holders; i++ {
		trust := "RBS"
		if i%7 == 0 {
			trust = "R0A" // its newest is an older report than RBS's
		}
		newest[trust], newest["*"] = i, i
		bundle := fmt.Sprintf(`{"resourceType":"Bundle","type":"transaction","entry":[`+
			`{"fullUrl":"urn:uuid:lab-org","resource":{"resourceType":"Organization","name":"Lab as of report %d"}},`+
			`{"fullUrl":"urn:uuid:obs-%d","resource":{"resourceType":"Observation","status":"final"}}]}`, i, i)
		rec := &gateway.ReportRecord{ID: fmt.Sprintf("SHARED-%03d", i), Version: 1, Status: gateway.StatusFinal,
			LabODS: "699X0", TrustODS: trust, Digest: fmt.Sprint(i), Report: []byte(`{}`), Bundle: []byte(bundle),
			PDF: []byte("%PDF-1.4 synthetic"), ReceivedAt: start.Add(time.Duration(i) * time.Minute),
			Resources: []string{"Organization/lab-org", fmt.Sprintf("Observation/obs-%d", i)}}
		if _, _, err := store.SaveReport(t.Context(), rec, nil); err != nil {
			t.Fatal(err)
		}
	}
	index := &countingIndex{ReportIndex: store}
	srv := httptest.NewServer(httpapi.NewServer(httpapi.Deps{
		Reports: store, Index: index, Audit: store, Queue: store, Held: store, Clock: gateway.SystemClock{},
		Auth: auth.NewStaticTokens(map[string]gateway.Principal{
			"r0a-token-123":      {Subject: "r0a", Role: gateway.RoleTrust, ODSCode: "R0A"},
			"rzz-token-123":      {Subject: "rzz", Role: gateway.RoleTrust, ODSCode: "RZZ"},
			"operator-token-123": {Subject: "ops", Role: gateway.RoleOperator},
		}),
		Log: slog.New(slog.DiscardHandler),
	}))
	defer srv.Close()
	read := func(token, path string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var res map[string]any
		json.NewDecoder(resp.Body).Decode(&res)
		return resp.StatusCode, res
	}
	for _, c := range []struct{ who, token, scope string }{
		{"trust R0A", "r0a-token-123", "R0A"},
		{"an operator", "operator-token-123", "*"},
	} {
		index.read.Store(0)
		index.listed.Store(0)
		status, org := read(c.token, "/fhir/Organization/lab-org")
		want := fmt.Sprintf("Lab as of report %d", newest[c.scope])
		if status != http.StatusOK || org["name"] != want {
			t.Errorf("%s: Organization/lab-org = %d %v, want the newest it may read (%q)", c.who, status, org["name"], want)
		}
		if n := index.read.Load(); n > 20 {
			t.Errorf("%s: %d of %d holders' records read to serve one", c.who, n, holders)
		}
		if n := index.listed.Load(); n > 0 {
			t.Errorf("%s: all %d holders listed to serve one", c.who, n)
		}
	}
	index.read.Store(0)
	if status, _ := read("rzz-token-123", "/fhir/Organization/lab-org"); status != http.StatusNotFound {
		t.Errorf("a trust with no report holding it: %d, want 404", status)
	}
	// A resource in one report is read as before.
	if status, obs := read("r0a-token-123", "/fhir/Observation/obs-7"); status != http.StatusOK || obs["id"] != "obs-7" {
		t.Errorf("Observation/obs-7 = %d %v", status, obs)
	}
	if status, _ := read("r0a-token-123", "/fhir/Observation/obs-8"); status != http.StatusNotFound {
		t.Errorf("another trust's Observation/obs-8 = %d, want 404", status)
	}
}
