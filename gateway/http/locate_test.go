package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
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
	store, newest := sharedStore(t)
	// Two reports in one millisecond, whose ids sort against their times:
	// the index lists TIE-B first, but TIE-A is newer.
	top := start.Add(holders * time.Minute)
	saveHolder(t, store, "TIE-A", "R0A", top.Add(900*time.Microsecond))
	saveHolder(t, store, "TIE-B", "R0A", top.Add(100*time.Microsecond))
	newest["R0A"], newest["*"] = "TIE-A", "TIE-A"
	index := &countingIndex{ReportIndex: store}
	srv := readAPI(t, store, index, store, map[string]gateway.Principal{
		"r0a-token-123":      {Subject: "r0a", Role: gateway.RoleTrust, ODSCode: "R0A"},
		"rzz-token-123":      {Subject: "rzz", Role: gateway.RoleTrust, ODSCode: "RZZ"},
		"operator-token-123": {Subject: "ops", Role: gateway.RoleOperator},
	})
	read := func(token, path string) (int, map[string]any) {
		t.Helper()
		resp := getAs(t, srv.URL+path, token)
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
		want := "Lab as of " + newest[c.scope]
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
	if status, obs := read("r0a-token-123", "/fhir/Observation/obs-SHARED-007"); status != http.StatusOK || obs["id"] != "obs-SHARED-007" {
		t.Errorf("Observation/obs-SHARED-007 = %d %v", status, obs)
	}
	if status, _ := read("r0a-token-123", "/fhir/Observation/obs-SHARED-008"); status != http.StatusNotFound {
		t.Errorf("another trust's Observation/obs-SHARED-008 = %d, want 404", status)
	}
}

const holders = 300

var start = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

// sharedStore holds 300 reports, each with the lab's Organization (named
// after the report) and an Observation of its own, one minute apart, for
// R0A (every seventh) and RBS. It returns the newest report of each
// trust and of all ("*").
func sharedStore(t *testing.T) (*boltstore.Store, map[string]string) {
	store, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	newest := map[string]string{}
	for i := 0; i < holders; i++ {
		trust := "RBS"
		if i%7 == 0 {
			trust = "R0A" // its newest is an older report than RBS's
		}
		id := fmt.Sprintf("SHARED-%03d", i)
		newest[trust], newest["*"] = id, id
		saveHolder(t, store, id, trust, start.Add(time.Duration(i)*time.Minute))
	}
	return store, newest
}

func saveHolder(t *testing.T, store *boltstore.Store, id, trust string, at time.Time) {
	t.Helper()
	bundle := fmt.Sprintf(`{"resourceType":"Bundle","type":"transaction","entry":[`+
		`{"fullUrl":"urn:uuid:lab-org","resource":{"resourceType":"Organization","name":"Lab as of %s"}},`+
		`{"fullUrl":"urn:uuid:obs-%s","resource":{"resourceType":"Observation","status":"final"}}]}`, id, id)
	rec := &gateway.ReportRecord{ID: id, Version: 1, Status: gateway.StatusFinal, LabODS: "699X0", TrustODS: trust,
		Digest: id, Report: []byte(`{}`), Bundle: []byte(bundle), PDF: []byte("%PDF-1.4 synthetic"), ReceivedAt: at,
		Resources: []string{"Organization/lab-org", "Observation/obs-" + id}}
	if _, _, err := store.SaveReport(t.Context(), rec, nil); err != nil {
		t.Fatal(err)
	}
}

// outOfPlaceIndex lists, for trust RST, one report whose latest record is
// newer than its place (as an index entry an earlier release left behind
// when an amendment dropped RST) whatever the cursor, and counts the pages
// asked for, failing after 100: walks that follow the record's time back
// ask for the same page for ever.
type outOfPlaceIndex struct {
	gateway.ReportIndex
	pages atomic.Int64
}

func (x *outOfPlaceIndex) ReportsUpdated(ctx context.Context, trust string, before time.Time, beforeID string, limit int) ([]string, error) {
	if trust != "RST" {
		return x.ReportIndex.ReportsUpdated(ctx, trust, before, beforeID, limit)
	}
	if x.pages.Add(1) > 100 {
		return nil, errors.New("the walk went round in circles")
	}
	return []string{"SHARED-299"}, nil
}

// TestWalksEndAtOutOfPlaceEntries: search, a shared resource's read and
// the walks in package gateway stop where a page moves their cursor
// nowhere, rather than asking for it again.
func TestWalksEndAtOutOfPlaceEntries(t *testing.T) {
	store, _ := sharedStore(t)
	index := &outOfPlaceIndex{ReportIndex: store}
	srv := readAPI(t, store, index, store, map[string]gateway.Principal{"rst-token-123": {Subject: "rst", Role: gateway.RoleTrust, ODSCode: "RST"}})
	for path, want := range map[string]int{"/fhir/DiagnosticReport": http.StatusOK, "/fhir/Organization/lab-org": http.StatusNotFound} {
		index.pages.Store(0)
		resp := getAs(t, srv.URL+path, "rst-token-123")
		resp.Body.Close()
		if resp.StatusCode != want || index.pages.Load() > 2 {
			t.Errorf("GET %s as RST = %d after %d pages, want %d after at most 2", path, resp.StatusCode, index.pages.Load(), want)
		}
	}
	index.pages.Store(0)
	if _, err := gateway.Turnaround(t.Context(), turnaroundOf{store, index}, noTargets{}, start, "RST", 1000); err != nil || index.pages.Load() > 2 {
		t.Errorf("Turnaround for RST: %v after %d pages", err, index.pages.Load())
	}
}

// turnaroundOf is a store whose updated index is the out-of-place one.
type turnaroundOf struct {
	gateway.TurnaroundStore
	index *outOfPlaceIndex
}

func (s turnaroundOf) ReportsUpdated(ctx context.Context, trust string, before time.Time, beforeID string, limit int) ([]string, error) {
	return s.index.ReportsUpdated(ctx, trust, before, beforeID, limit)
}

// noTargets knows no test's turnaround target.
type noTargets struct{}

func (noTargets) TargetFor(string) (gateway.TurnaroundTarget, bool) {
	return gateway.TurnaroundTarget{}, false
}

// countingReports is the store's Reports, counting the versions it loads.
type countingReports struct {
	gateway.Reports
	loaded atomic.Int64
}

func (c *countingReports) ReportBundle(ctx context.Context, id string, version int) (*gateway.ReportRecord, error) {
	c.loaded.Add(1)
	return c.Reports.ReportBundle(ctx, id, version)
}

func (c *countingReports) ReportVersion(ctx context.Context, id string, version int) (*gateway.ReportRecord, error) {
	c.loaded.Add(1)
	return c.Reports.ReportVersion(ctx, id, version)
}

// TestVreadOfNoVersionReadsNothing: a vread of a shared resource names a
// content version (16 base32 letters) or a report's version; any other id
// is 404 at once. It had every version of every report holding the
// resource read first, for anyone with a read token to ask again and again.
func TestVreadOfNoVersionReadsNothing(t *testing.T) {
	store, _ := sharedStore(t)
	reports := &countingReports{Reports: store}
	srv := httptest.NewServer(httpapi.NewServer(httpapi.Deps{
		Reports: reports, Index: store, Audit: store, Queue: store, Held: store, Clock: gateway.SystemClock{},
		Auth: auth.NewStaticTokens(map[string]gateway.Principal{"operator-token-123": {Subject: "ops", Role: gateway.RoleOperator}}),
		Log:  slog.New(slog.DiscardHandler),
	}))
	t.Cleanup(srv.Close)
	for _, vid := range []string{"not-a-version", "ABCDEFGHIJKLMNOP", "0"} {
		reports.loaded.Store(0)
		resp := getAs(t, srv.URL+"/fhir/Organization/lab-org/_history/"+vid, "operator-token-123")
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || reports.loaded.Load() != 0 {
			t.Errorf("vread %s: %d after loading %d versions, want 404 at once", vid, resp.StatusCode, reports.loaded.Load())
		}
	}
}
