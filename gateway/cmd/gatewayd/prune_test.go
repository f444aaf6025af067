package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/fixtures"
)

// TestPruneCommand: with a retention of a second or so, a delivered
// report is first only counted by "gatewayd prune -dry-run", then removed
// by "gatewayd prune": gone from the API, and a resend of it is refused
// rather than delivered twice.
func TestPruneCommand(t *testing.T) {
	for _, store := range []string{"embedded", "redis"} {
		t.Run(store, func(t *testing.T) { testPruneCommand(t, store) })
	}
}

func testPruneCommand(t *testing.T, store string) {
	dir := t.TempDir()
	cfg := strings.ReplaceAll(testConfig, "OUTBOX", filepath.Join(dir, "outbox"))
	const second = 1.0 / 86400
	cfg = strings.Replace(cfg, `"destinations": [`, `"retention": {"messagesDays": `+ftoa(second)+`, "deliveredPayloadsDays": `+ftoa(second)+
		`, "reportsDays": `+ftoa(second)+`, "auditDays": `+ftoa(second)+`, "intervalMinutes": 600},
		"destinations": [`, 1)
	env := map[string]string{}
	for _, kv := range storeEnv(t, store) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	base, _, _ := startWith(t, dir, cfg, env, io.Discard)
	report := withID(t, fixtures.Report("negative-wgs"), "PRUNE-1")
	if r := post(t, base, labToken, report); r.status != http.StatusAccepted {
		t.Fatalf("post: %d %s", r.status, r.body)
	}
	cliEnv := map[string]string{"GATEWAY_URL": base, "GATEWAY_TOKEN": operatorToken}
	cli := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(context.Background(), args, func(k string) string { return cliEnv[k] }, &out, &out); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	// Wait until its deliveries are over and it is older than its period.
	for i := 0; !strings.Contains(cli("prune", "-dry-run"), "reports: would remove 1 "); i++ {
		if i > 400 {
			t.Fatalf("never prunable: %s", cli("prune", "-dry-run"))
		}
		time.Sleep(25 * time.Millisecond)
	}
	// Asked through the API's query rather than its body, a dry run is
	// still one; a parameter it does not take is refused, removing nothing.
	if r := do(t, "POST", base+"/v1/prune?dryRun=true", operatorToken, "", nil); r.status != http.StatusOK || !strings.Contains(string(r.body), `"dryRun":true`) {
		t.Fatalf("?dryRun=true: %d %s", r.status, r.body)
	}
	if r := do(t, "POST", base+"/v1/prune?dryrun=1", operatorToken, "", nil); r.status != http.StatusBadRequest {
		t.Fatalf("?dryrun=1: %d %s, want 400", r.status, r.body)
	}
	if r := get(t, base+"/v1/reports/PRUNE-1", operatorToken); r.status != http.StatusOK {
		t.Fatalf("a dry run removed the report: %d", r.status)
	}
	out := cli("prune")
	if !strings.Contains(out, "reports: removed 1 ") || !strings.Contains(out, "messages: removed 1 ") {
		t.Fatalf("prune: %s", out)
	}
	// Gone to those who may know it was there (an operator, its lab), with
	// why; to anyone else it is not found, as any report it may not see.
	for token, want := range map[string]int{operatorToken: http.StatusGone, labToken: http.StatusGone, trustToken: http.StatusNotFound} {
		r := get(t, base+"/v1/reports/PRUNE-1", token)
		if r.status != want || want == http.StatusGone && !strings.Contains(string(r.body), "retention") ||
			want == http.StatusNotFound && strings.Contains(string(r.body), "retention") {
			t.Fatalf("after pruning the report answers %d %s, want %d", r.status, r.body, want)
		}
	}
	// Nothing left to remove: every class is still named, with 0.
	var res struct{ Removed map[string]int }
	if r := do(t, "POST", base+"/v1/prune", operatorToken, "", nil); json.Unmarshal(r.body, &res) != nil || len(res.Removed) != 4 {
		t.Fatalf("a prune with nothing to remove: %d %s, want each of the 4 classes", r.status, r.body)
	}
	if r := post(t, base, labToken, report); r.status != http.StatusConflict || !strings.Contains(string(r.body), "retention") {
		t.Fatalf("a resend of the pruned report: %d %s", r.status, r.body)
	}
	if r := get(t, base+"/metrics", operatorToken); !strings.Contains(string(r.body), `results_gateway_pruned_total{class="reports"} 1`) {
		t.Error("the pruned report is not counted in the metrics")
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
