package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testConfig is a configuration with two trusts, so cross-trust access can be tested.
const testConfig = `{
  "addr": "127.0.0.1:0",
  "maxBodyBytes": 2000000,
  "tokens": [
    {"name": "lab", "token": "test-lab-token-1", "role": "lab", "odsCode": "699X0"},
    {"name": "other-lab", "token": "test-lab-token-2", "role": "lab", "odsCode": "7A1X0"},
    {"name": "trust", "token": "test-trust-token-1", "role": "trust", "odsCode": "R0A"},
    {"name": "other-trust", "token": "test-trust-token-2", "role": "trust", "odsCode": "RBS"},
    {"name": "operator", "token": "test-operator-token", "role": "operator"}
  ],
  "destinations": [
    {"name": "r0a-files", "trusts": ["R0A"], "kind": "filedrop", "format": "fhir-bundle", "config": {"dir": "OUTBOX/R0A"}},
    {"name": "r0a-pdf", "trusts": ["R0A"], "kind": "filedrop", "format": "pdf", "config": {"dir": "OUTBOX/R0A"}},
    {"name": "rbs-files", "trusts": ["RBS"], "kind": "filedrop", "format": "fhir-bundle", "config": {"dir": "OUTBOX/RBS"}}
  ],
  "retry": {"baseSeconds": 0.05, "capSeconds": 1},
  "hl7": {"mllpAddr": "127.0.0.1:0", "maxBytes": 1000000, "idleTimeoutSeconds": 5,
    "senders": [{"application": "LIMS", "facility": "699X0", "labOdsCode": "699X0", "sourceAddresses": ["127.0.0.1/32", "::1"]},
      {"application": "iGene", "facility": "699X0", "labOdsCode": "699X0", "sourceAddresses": ["127.0.0.1/32", "::1"]},
      {"application": "IGENE", "facility": "MFT", "labOdsCode": "699X0", "sourceAddresses": ["127.0.0.1/32", "::1"], "options": {"facilityAliases": {"MFT": "R0A"}}},
      {"facility": "CPP", "labOdsCode": "699X0", "sourceAddresses": ["127.0.0.1/32", "::1"], "options": {"facilityAliases": {"HODS": "R0A"}}},
      {"facility": "CAV", "labOdsCode": "699X0", "sourceAddresses": ["127.0.0.1/32", "::1"]},
      {"facility": "CUST", "labOdsCode": "699X0", "sourceAddresses": ["127.0.0.1/32", "::1"]}]}
}`

const (
	labToken        = "test-lab-token-1"
	otherLabToken   = "test-lab-token-2"
	trustToken      = "test-trust-token-1"
	otherTrustToken = "test-trust-token-2"
	operatorToken   = "test-operator-token"
)

func writeConfig(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "config.json")
	cfg := strings.ReplaceAll(testConfig, "OUTBOX", filepath.Join(dir, "outbox"))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startGateway runs the gateway in-process on a free port and returns its base URL.
func startGateway(t testing.TB) string {
	t.Helper()
	base, _ := startGatewayWithOutbox(t)
	return base
}

// startGatewayWithOutbox also returns the folder the filedrop destinations write to.
func startGatewayWithOutbox(t testing.TB) (base, outbox string) {
	base, outbox, _ = startGatewayFull(t, nil)
	return base, outbox
}

// startGatewayFull runs the gateway with extra environment and returns its
// HTTP base URL, outbox folder and MLLP address.
func startGatewayFull(t testing.TB, extraEnv map[string]string) (base, outbox, mllp string) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	env := map[string]string{"GATEWAY_DATA": filepath.Join(dir, "data")}
	for k, v := range extraEnv {
		env[k] = v
	}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-config", writeConfig(t, dir)}, func(k string) string { return env[k] }, pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gateway stopped with: %v", err)
		}
	})
	addrs := waitAddresses(t, pr, "listening on ", "mllp listening on ")
	return "http://" + addrs[0], filepath.Join(dir, "outbox"), addrs[1]
}

// waitListening reads the gateway's stdout until it says where it listens,
// then waits (a bounded loop) for /healthz.
func waitListening(t testing.TB, stdout io.Reader) string {
	return waitAddresses(t, stdout, "listening on ", "mllp listening on ")[0]
}

// waitAddresses reads the stdout lines that announce the HTTP address and,
// if configured, the MLLP one.
func waitAddresses(t testing.TB, stdout io.Reader, httpPrefix, mllpPrefix string) [2]string {
	t.Helper()
	lines := make(chan string, 1)
	mllp := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), mllpPrefix); ok {
				mllp <- addr
			} else if addr, ok := strings.CutPrefix(sc.Text(), httpPrefix); ok {
				lines <- addr
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	var out [2]string
	select {
	case addr := <-lines:
		out[0] = addr
		select { // the MLLP line, if any, came first
		case out[1] = <-mllp:
		default:
		}
		for i := 0; i < 250; i++ { // HTTP or HTTPS: a connection accepted is enough
			if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				conn.Close()
				return out
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("gateway never accepted a connection")
	case <-time.After(20 * time.Second):
		t.Fatal("gateway did not start listening")
	}
	return out
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, r.body)
	}
	return m
}

func do(t testing.TB, method, url, token, contentType string, body []byte) response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

func post(t testing.TB, base, token string, body []byte) response {
	return do(t, http.MethodPost, base+"/v1/reports", token, "application/json", body)
}

func get(t testing.TB, url, token string) response {
	return do(t, http.MethodGet, url, token, "", nil)
}

// withID returns a fixture with another report id.
func withID(t testing.TB, body []byte, id string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	m["id"] = id
	out, _ := json.Marshal(m)
	return out
}

// startWithConfig runs the gateway on dir's data with the configuration
// text given; stop ends it (the test's cleanup also does, once).
func startWithConfig(t testing.TB, dir, cfg string) (base string, stop func()) {
	t.Helper()
	base, _, stop = startWithConfigFull(t, dir, cfg)
	return base, stop
}

// startWithConfigFull also returns the MLLP address, if one is configured.
func startWithConfigFull(t testing.TB, dir, cfg string) (base, mllp string, stop func()) {
	return startWith(t, dir, cfg, nil, io.Discard)
}

// startWith runs the gateway with extra environment (a Redis store, say)
// and its log going to stderr.
func startWith(t testing.TB, dir, cfg string, extraEnv map[string]string, stderr io.Writer) (base, mllp string, stop func()) {
	t.Helper()
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	env := map[string]string{"GATEWAY_DATA": filepath.Join(dir, "data")}
	for k, v := range extraEnv {
		env[k] = v
	}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-config", path}, func(k string) string { return env[k] }, pw, stderr)
		pw.Close()
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("gateway stopped with: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	addrs := waitAddresses(t, pr, "listening on ", "mllp listening on ")
	return "http://" + addrs[0], addrs[1], stop
}

// waitDeliveriesDone waits (bounded) until the deliveries the query selects
// (e.g. "report=ID") are n, every one delivered.
func waitDeliveriesDone(t *testing.T, base, query string, n int) {
	t.Helper()
	for i := 0; ; i++ {
		var list struct{ Deliveries []struct{ ID, State string } }
		json.Unmarshal(get(t, base+"/v1/deliveries?"+query, operatorToken).body, &list)
		done := len(list.Deliveries) == n
		for _, d := range list.Deliveries {
			done = done && d.State == "delivered"
		}
		if done {
			return
		}
		if i > 400 {
			t.Fatalf("deliveries of %s: %+v, want %d delivered", query, list.Deliveries, n)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// postMovedToRBS posts version 2 of the JSON report v1: corrected, for
// another patient (9990001316), ordered by RBS.
func postMovedToRBS(t *testing.T, base string, v1 []byte) {
	t.Helper()
	var m map[string]any
	json.Unmarshal(v1, &m)
	m["version"], m["status"] = 2, "corrected"
	m["patient"].(map[string]any)["nhsNumber"] = "9990001316"
	m["patient"].(map[string]any)["mrn"] = "MRN01316"
	m["orderingTrust"] = map[string]any{"odsCode": "RBS"}
	v2, _ := json.Marshal(m)
	if r := post(t, base, labToken, v2); r.status != http.StatusAccepted {
		t.Fatalf("v2 = %d %s", r.status, r.body)
	}
}
