package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nhs-genomics/results-gateway/fixtures"
)

// lockedBuffer collects the gateway's log lines from its goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// startLogged runs the gateway (embedded store, no MLLP, extraEnv on top)
// until the test ends, collecting its log lines.
func startLogged(t *testing.T, extraEnv map[string]string) (base string, logs *lockedBuffer) {
	t.Helper()
	dir := t.TempDir()
	logs = &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	env := map[string]string{"GATEWAY_DATA": filepath.Join(dir, "data"), "GATEWAY_MLLP_ADDR": "-"}
	maps.Copy(env, extraEnv)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-config", writeConfig(t, dir)}, func(k string) string { return env[k] }, pw, logs)
		pw.Close()
	}()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + waitListening(t, pr), logs
}

// TestRequestLogNamesThePostedReport: the request log line of a posted
// report carries its id (from the body), and no patient identifier.
func TestRequestLogNamesThePostedReport(t *testing.T) {
	base, logs := startLogged(t, nil)
	if r := post(t, base, labToken, withID(t, fixtures.Report("negative-wgs"), "LOG-1")); r.status != http.StatusAccepted {
		t.Fatalf("post: %d", r.status)
	}
	// Reads by ids a caller wrote: a Patient's id is derived from the NHS
	// number, a mistyped report id may hold anything. Neither is logged;
	// the report served is.
	var found searchset
	json.Unmarshal(get(t, base+"/fhir/DiagnosticReport?identifier=LOG-1&_include=DiagnosticReport:subject", operatorToken).body, &found)
	patientID := ""
	for _, e := range found.Entry {
		if e.Resource["resourceType"] == "Patient" {
			patientID = e.Resource["id"].(string)
		}
	}
	if patientID == "" {
		t.Fatal("no Patient included")
	}
	if r := get(t, base+"/fhir/Patient/"+patientID, operatorToken); r.status != http.StatusOK {
		t.Fatalf("read the Patient: %d", r.status)
	}
	get(t, base+"/v1/reports/9990000026Testpatient", operatorToken)
	if strings.Contains(logs.String(), patientID) || strings.Contains(logs.String(), "Testpatient") {
		t.Errorf("a log line holds a Patient id or a path id as the caller wrote it:\n%s", logs.String())
	}
	servedLogged := false
	for _, line := range strings.Split(logs.String(), "\n") {
		servedLogged = servedLogged || strings.Contains(line, `"route":"/fhir/:type/:id"`) && strings.Contains(line, `"report_id":"LOG-1"`)
	}
	if !servedLogged {
		t.Error("the Patient read's request line does not name the report it was served from")
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) != nil || entry["msg"] != "http request" || entry["route"] != "/v1/reports" {
			continue
		}
		if entry["report_id"] != "LOG-1" {
			t.Fatalf("the request line names report %v: %s", entry["report_id"], line)
		}
		if strings.Contains(logs.String(), "9990000") {
			t.Fatal("a log line holds an NHS number")
		}
		return
	}
	t.Fatalf("no request line for POST /v1/reports in:\n%s", logs.String())
}

// TestHealthWithoutAConfigurationFile: the health probe needs only the
// address (GATEWAY_ADDR or the default), not a whole configuration.
func TestHealthWithoutAConfigurationFile(t *testing.T) {
	base := startGateway(t)
	env := map[string]string{"GATEWAY_ADDR": strings.TrimPrefix(base, "http://")}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"health"}, func(k string) string { return env[k] }, &out, io.Discard); err != nil || out.String() != "healthy\n" {
		t.Fatalf("health: %v %q", err, out.String())
	}
	env["GATEWAY_ADDR"] = "127.0.0.1:1" // nothing listens there
	if err := run(t.Context(), []string{"health"}, func(k string) string { return env[k] }, io.Discard, io.Discard); err == nil {
		t.Fatal("health passed with no gateway")
	}
}

// TestStoreDownLogSaysWhy: a report refused because Redis cannot take it
// logs the store's own reason beside the report id (the lab is told only
// to send it again): "the store is not available" alone left an operator
// guessing between a stopped Redis and one out of memory.
func TestStoreDownLogSaysWhy(t *testing.T) {
	port := strconv.Itoa(freePort(t))
	redis := redisServer(t, t.TempDir(), port)
	t.Cleanup(func() { redis.Kill(); redis.Wait() })
	base, logs := startLogged(t, map[string]string{"GATEWAY_REDIS_URL": "redis://127.0.0.1:" + port + "/0", "GATEWAY_INDEX_KEY": "test-index-key-0123456789"})
	redis.Kill()
	redis.Wait()
	if r := post(t, base, labToken, withID(t, fixtures.Report("negative-wgs"), "DOWN-LOG-1")); r.status != http.StatusServiceUnavailable {
		t.Fatalf("post with Redis down: %d", r.status)
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) == nil && entry["msg"] == "report not stored" && entry["report_id"] == "DOWN-LOG-1" {
			if cause, _ := entry["cause"].(string); !strings.Contains(cause, "connect") && !strings.Contains(cause, "refused") && !strings.Contains(cause, "EOF") {
				t.Fatalf("the refusal's log line gives no cause: %s", line)
			}
			return
		}
	}
	t.Fatalf("no 'report not stored' line for DOWN-LOG-1:\n%s", logs.String())
}
