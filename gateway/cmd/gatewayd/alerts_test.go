package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/internal/receiver"
)

// TestAlertsReachTheWebhook: an EPR rejects a report; the dead letter's
// alert is posted to the configured chat webhook once, and once the
// operator replays it and it is delivered, the resolution follows.
func TestAlertsReachTheWebhook(t *testing.T) {
	var mu sync.Mutex
	var posts []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Text string }
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &body)
		mu.Lock()
		posts = append(posts, body.Text)
		mu.Unlock()
	}))
	defer hook.Close()
	waitPost := func(substr string) {
		t.Helper()
		for i := 0; ; i++ {
			mu.Lock()
			n := 0
			for _, p := range posts {
				if strings.Contains(p, substr) {
					n++
				}
			}
			all := strings.Join(posts, "\n")
			mu.Unlock()
			if n > 1 {
				t.Fatalf("posted more than once: %s", all)
			}
			if n == 1 {
				return
			}
			if i > 600 {
				t.Fatalf("no post with %q; posts:\n%s", substr, all)
			}
			time.Sleep(25 * time.Millisecond)
		}
	}

	epr := receiver.Start(t)
	epr.Set(receiver.Reject)
	dir := t.TempDir()
	cfg := strings.ReplaceAll(testConfig, "OUTBOX", filepath.Join(dir, "outbox"))
	cfg = strings.Replace(cfg, `"destinations": [`, `"alerts": {"name": "Test GLH", "webhookUrl": "`+hook.URL+`/hook", "checkSeconds": 1},
		"destinations": [{"name": "r0a-epr", "trusts": ["R0A"], "kind": "fhir-rest", "format": "fhir-bundle", "config": {"baseUrl": "`+epr.URL+`"}},`, 1)
	base, _ := startWithConfig(t, dir, cfg)
	if r := post(t, base, labToken, withID(t, fixtures.Report("negative-wgs"), "ALERT-1")); r.status != http.StatusAccepted {
		t.Fatalf("post: %d", r.status)
	}
	waitPost("[Test GLH] ALERT: dead letters wait for an operator")
	mu.Lock()
	for _, p := range posts {
		if strings.Contains(p, "9990") { // NHS numbers of the fixtures
			t.Errorf("an alert carries patient data: %s", p)
		}
	}
	mu.Unlock()

	epr.Set(receiver.Accept)
	if r := do(t, http.MethodPost, base+"/v1/deliveries/replay", operatorToken, "application/json",
		[]byte(`{"destination": "r0a-epr", "state": "dead"}`)); r.status != http.StatusOK {
		t.Fatalf("replay: %d %s", r.status, r.body)
	}
	waitPost("[Test GLH] RESOLVED: no dead letters are left")
}
