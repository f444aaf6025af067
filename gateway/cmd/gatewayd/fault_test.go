package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/internal/peers"
	"github.com/nhs-genomics/results-gateway/internal/receiver"
	"github.com/nhs-genomics/results-gateway/internal/testredis"
)

const reportSystem = "https://fhir.results-gateway.nhs.uk/Id/report"

// faultConfig routes trust R0A to a FHIR REST destination at url.
func faultConfig(t testing.TB, dir, url string) string {
	t.Helper()
	return faultConfigWorkers(t, dir, url, 2)
}

// faultConfigWorkers is faultConfig with workers concurrent deliveries to
// the EPR.
func faultConfigWorkers(t testing.TB, dir, url string, workers int) string {
	t.Helper()
	cfg := fmt.Sprintf(`{
  "addr": "127.0.0.1:0",
  "tokens": [
    {"name": "lab", "token": %q, "role": "lab", "odsCode": "699X0"},
    {"name": "operator", "token": %q, "role": "operator"}
  ],
  "destinations": [{"name": "epr", "trusts": ["R0A"], "kind": "fhir-rest", "format": "fhir-bundle",
    "workers": %d, "timeoutSeconds": 2, "config": {"baseUrl": %q}}],
  "retry": {"baseSeconds": 0.05, "capSeconds": 0.5}
}`, labToken, operatorToken, workers, url)
	path := filepath.Join(dir, "fault-config.json")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func freePort(t testing.TB) int { return testredis.FreePort(t) }

// peerFHIRServer starts the third-party FHIR server (a stand-in EPR with real
// conditional create/update) behind a counting proxy; returns the proxy.
func peerFHIRServer(t testing.TB) (fhirBase string, proxy *receiver.Receiver) {
	t.Helper()
	port := strconv.Itoa(freePort(t))
	cmd := peers.Command(t, "fhir-server", "--port", port, "--no-atomic", "--quiet")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	fhirBase = "http://127.0.0.1:" + port + "/fhir"
	for i := 0; ; i++ {
		if resp, err := http.Get("http://127.0.0.1:" + port + "/_admin/health"); err == nil {
			resp.Body.Close()
			break
		}
		if i > 300 {
			t.Fatal("the peer FHIR server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	proxy = receiver.Start(t)
	proxy.ForwardTo(fhirBase)
	return fhirBase, proxy
}

// reportVersions is what the test posted and was answered 202 for.
type reportVersions struct {
	mu       sync.Mutex
	accepted map[string]int // report id -> highest version accepted
}

func (a *reportVersions) add(id string, version int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.accepted[id] = max(a.accepted[id], version)
}

// postVersion posts the amendment fixture as version 1 or 2 of id.
func postVersion(client *http.Client, base, id string, version int) (int, error) {
	name := "amendment-v1"
	if version == 2 {
		name = "amendment-v2"
	}
	var m map[string]any
	json.Unmarshal(fixtures.Report(name), &m)
	m["id"] = id
	body, _ := json.Marshal(m)
	return postBody(client, base, body)
}

// waitAllDelivered waits (bounded) until every accepted report's newest
// version is delivered and nothing is still queued.
func waitAllDelivered(t *testing.T, base string, acc *reportVersions) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		pending := 0
		for id, v := range acc.accepted {
			st := get(t, base+"/v1/reports/"+id, operatorToken).json(t)
			if !newestDelivered(st, v) {
				pending++
			}
		}
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d reports still not delivered", pending)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func newestDelivered(status map[string]any, version int) bool {
	deliveries, _ := status["deliveries"].([]any)
	ok := false
	for _, d := range deliveries {
		m := d.(map[string]any)
		switch {
		case int(m["version"].(float64)) == version && m["state"] == "delivered":
			ok = true
		case m["state"] == "pending" || m["state"] == "retrying" || m["state"] == "in-flight":
			return false
		}
	}
	return ok
}

// checkReceiver proves at-least-once without a second truth: every accepted
// version's newest arrived, duplicates are no more than the kills can explain,
// and the FHIR server holds exactly one DiagnosticReport per report, at the newest version.
func checkReceiver(t *testing.T, fhirBase string, proxy *receiver.Receiver, acc *reportVersions, allowedDuplicates int) {
	t.Helper()
	arrivals := proxy.Arrivals()
	extra := 0
	for _, n := range arrivals {
		if n > 1 {
			extra += n - 1
		}
	}
	if extra > allowedDuplicates {
		t.Errorf("%d duplicate arrivals; at-least-once delivery explains at most %d", extra, allowedDuplicates)
	}
	for id, v := range acc.accepted {
		if arrivals[fmt.Sprintf("%s-v%d", id, v)] == 0 {
			t.Errorf("report %s version %d never reached the receiver", id, v)
		}
		resp, err := http.Get(fhirBase + "/DiagnosticReport?identifier=" + reportSystem + "|" + id)
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			Entry []struct {
				Resource struct {
					Status string `json:"status"`
				} `json:"resource"`
			} `json:"entry"`
		}
		json.NewDecoder(resp.Body).Decode(&b)
		resp.Body.Close()
		want := map[int]string{1: "final", 2: "amended"}[v]
		if len(b.Entry) != 1 || b.Entry[0].Resource.Status != want {
			t.Errorf("FHIR server holds %d DiagnosticReports for %s (want 1, status %s): %+v", len(b.Entry), id, want, b.Entry)
		}
	}
}

// storeEnv selects the store for a fault test; Redis tests get their own prefix.
func storeEnv(t *testing.T, store string) []string {
	if store == "embedded" {
		return nil
	}
	prefix := fmt.Sprintf("fault-%d", time.Now().UnixNano())
	t.Cleanup(func() { cleanupPrefix(prefix) }) // a per-test prefix, removed afterwards: never FLUSHDB
	return []string{"GATEWAY_REDIS_URL=" + testRedisURL(), "GATEWAY_REDIS_PREFIX=" + prefix, "GATEWAY_INDEX_KEY=test-index-key-0123456789", "GATEWAY_REDIS_PDF_KEYS=true"}
}

func testRedisURL() string {
	if u := os.Getenv("GATEWAY_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// TestKill9DuringDelivery kills the gateway at random moments while it
// delivers to a real FHIR server, 20 times, on each store. Every accepted
// report must end delivered, the newest version must win, and the server
// must hold one copy of each report.
func TestKill9DuringDelivery(t *testing.T) {
	for _, store := range []string{"embedded", "redis"} {
		t.Run(store, func(t *testing.T) {
			fhirBase, proxy := peerFHIRServer(t)
			dir := t.TempDir()
			config, env := faultConfig(t, dir, proxy.URL), storeEnv(t, store)
			acc := &reportVersions{accepted: map[string]int{}}
			client := &http.Client{Timeout: 5 * time.Second}
			const rounds = 20
			for round := 0; round < rounds; round++ {
				base, cmd := gatewayProcessWith(t, dir, config, env...)
				for i := 0; i < 3; i++ {
					id := fmt.Sprintf("KILL-%s-%d-%d", store, round, i)
					versions := 1
					if i == 0 {
						versions = 2 // v1 and v2 race through the queue
					}
					for v := 1; v <= versions; v++ {
						if code, err := postVersion(client, base, id, v); err == nil && code == http.StatusAccepted {
							acc.add(id, v)
						}
					}
				}
				time.Sleep(time.Duration(rand.IntN(250)) * time.Millisecond)
				cmd.Process.Signal(syscall.SIGKILL)
				cmd.Wait()
			}
			base, _ := gatewayProcessWith(t, dir, config, env...)
			waitAllDelivered(t, base, acc)
			// Each kill may catch each of the 2 workers with one delivery in
			// flight and, FHIR being replay-safe, one whose outcome was being
			// recorded: both are sent again (see gateway.ReplaySafe).
			checkReceiver(t, fhirBase, proxy, acc, rounds*2*2)
			t.Logf("%s: %d reports, %d arrivals at the receiver", store, len(acc.accepted), len(proxy.Arrivals()))
		})
	}
}

// TestTwoGatewaysOneRedis runs two gateway processes on one Redis: each
// delivery must be made exactly once (no kills, so no duplicate is excusable).
func TestTwoGatewaysOneRedis(t *testing.T) {
	fhirBase, proxy := peerFHIRServer(t)
	env := storeEnv(t, "redis")
	dirA, dirB := t.TempDir(), t.TempDir()
	baseA, _ := gatewayProcessWith(t, dirA, faultConfig(t, dirA, proxy.URL), env...)
	baseB, _ := gatewayProcessWith(t, dirB, faultConfig(t, dirB, proxy.URL), env...)
	acc := &reportVersions{accepted: map[string]int{}}
	client := &http.Client{Timeout: 5 * time.Second}
	for i := 0; i < 30; i++ {
		base := baseA
		if i%2 == 1 {
			base = baseB
		}
		id := fmt.Sprintf("TWO-%d", i)
		if code, err := postVersion(client, base, id, 1); err != nil || code != http.StatusAccepted {
			t.Fatalf("post %s: %d %v", id, code, err)
		}
		acc.add(id, 1)
	}
	waitAllDelivered(t, baseA, acc)
	checkReceiver(t, fhirBase, proxy, acc, 0)
}

// TestRedisRestartMidRun restarts a Redis (AOF on, appendfsync everysec)
// while reports flow: intake answers 503 while it is down, and everything
// that was accepted is delivered once it is back.
func TestRedisRestartMidRun(t *testing.T) {
	fhirBase, proxy := peerFHIRServer(t)
	redisDir, port := t.TempDir(), strconv.Itoa(freePort(t))
	startRedis := func() *os.Process { return redisServer(t, redisDir, port) }
	redisProc := startRedis()
	t.Cleanup(func() { redisProc.Kill() })
	dir := t.TempDir()
	env := []string{"GATEWAY_REDIS_URL=redis://127.0.0.1:" + port + "/0", "GATEWAY_INDEX_KEY=test-index-key-0123456789", "GATEWAY_REDIS_PDF_KEYS=true"}
	base, _ := gatewayProcessWith(t, dir, faultConfig(t, dir, proxy.URL), env...)
	acc := &reportVersions{accepted: map[string]int{}}
	client := &http.Client{Timeout: 5 * time.Second}
	post := func(prefix string, n int) (unavailable int) {
		for i := 0; i < n; i++ {
			id := fmt.Sprintf("%s-%d", prefix, i)
			code, err := postVersion(client, base, id, 1)
			switch {
			case err == nil && code == http.StatusAccepted:
				acc.add(id, 1)
			case err == nil && code == http.StatusServiceUnavailable:
				unavailable++
			default:
				t.Fatalf("post %s: %d %v", id, code, err)
			}
		}
		return unavailable
	}
	post("BEFORE", 10)
	// A clean stop: Redis writes its append-only file and exits, as in a restart.
	execCommand("redis-cli", "-p", port, "shutdown").Run()
	redisProc.Wait()
	// While Redis is down each post is answered 503 within the client's
	// timeout (the gateway bounds a store outage at about two seconds), so a
	// LIMS with a short timeout still hears "try again" rather than nothing.
	client.Timeout = 6 * time.Second
	downStart := time.Now()
	if down := post("DOWN", 3); down != 3 {
		t.Fatalf("%d of 3 reports were answered 503 while Redis was down; every one must be (never 202)", down)
	}
	t.Logf("three posts with Redis down answered 503 in %s", time.Since(downStart))
	client.Timeout = 5 * time.Second
	redisProc = startRedis()
	// Right after the restart a request may still meet a dead pooled
	// connection and get a 503; a lab retries, as the 503 asks it to.
	for i := 0; i < 10; i++ {
		id := fmt.Sprintf("AFTER-%d", i)
		for try := 0; ; try++ {
			code, err := postVersion(client, base, id, 1)
			if err == nil && code == http.StatusAccepted {
				acc.add(id, 1)
				break
			}
			if try == 50 || (err == nil && code != http.StatusServiceUnavailable) {
				t.Fatalf("post %s after Redis came back: %d %v", id, code, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitAllDelivered(t, base, acc)
	checkReceiver(t, fhirBase, proxy, acc, 2*2) // per worker: one in flight, one being recorded (gateway.ReplaySafe)
	if len(acc.accepted) != 20 {
		t.Fatalf("%d reports accepted, want 20", len(acc.accepted))
	}
}

// redisServer starts a private redis-server on 127.0.0.1:port as
// testredis.Start does (AOF everysec, as docker-compose.yml runs it).
func redisServer(t testing.TB, dir, port string) *os.Process {
	t.Helper()
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return testredis.Start(t, dir, n)
}

// cleanupPrefix removes a benchmark's keys from the shared test Redis.
func cleanupPrefix(prefix string) {
	out, _ := execCommand("redis-cli", "--scan", "--pattern", "{"+prefix+"}:*").Output()
	keys := strings.Fields(string(out))
	for len(keys) > 0 {
		n := min(len(keys), 500)
		execCommand("redis-cli", append([]string{"unlink"}, keys[:n]...)...).Run()
		keys = keys[n:]
	}
}
