package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/nhs-genomics/results-gateway/gateway"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDemoConfigIsValid(t *testing.T) {
	cfg, err := loadConfig("demo.json", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"demo-lab-token": "lab", "demo-trust-token": "trust", "demo-gp-token": "trust", "demo-operator-token": "operator"}
	for _, tok := range cfg.Tokens {
		if want[tok.Token] != string(tok.Role) {
			t.Errorf("demo token %q has role %q; the README documents %q", tok.Token, tok.Role, want[tok.Token])
		}
		delete(want, tok.Token)
	}
	if len(want) > 0 {
		t.Errorf("demo tokens missing: %v", want)
	}
}

func TestConfigErrorsAreReadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(path, []byte(`{"maxBodyBytes": 10, "tokens": [
		{"name": "a", "token": "short", "role": "lab", "odsCode": "699X0"},
		{"name": "b", "token": "long-enough-token", "role": "trust"},
		{"name": "c", "token": "another-long-token", "role": "admin"},
		{"name": "d", "tokenEnv": "MISSING_TOKEN", "role": "operator"}]}`), 0o600)
	_, err := loadConfig(path, func(string) string { return "" })
	if err == nil {
		t.Fatal("a bad configuration was accepted")
	}
	for _, want := range []string{
		"maxBodyBytes: 10 is too small",
		"tokens[0] (a): token must be at least 12 characters",
		"tokens[1] (b): role trust needs the organisation's ODS code",
		`tokens[2] (c): role "admin" is not lab, trust or operator`,
		"tokens[3] (d): environment variable MISSING_TOKEN is empty",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestEnvironmentOverridesFile(t *testing.T) {
	env := map[string]string{"GATEWAY_ADDR": "127.0.0.1:9999", "GATEWAY_DATA": "/srv/gw", "GATEWAY_MAX_BODY_BYTES": "5000", "GATEWAY_REDIS_PDF_KEYS": "true"}
	cfg, err := loadConfig("demo.json", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:9999" || cfg.DataDir != "/srv/gw" || cfg.MaxBodyBytes != 5000 || !cfg.RedisPDFKeys {
		t.Fatalf("environment did not override: %+v", cfg)
	}
	if _, err := loadConfig("demo.json", func(k string) string {
		return map[string]string{"GATEWAY_REDIS_PDF_KEYS": "maybe"}[k]
	}); err == nil || !strings.Contains(err.Error(), "GATEWAY_REDIS_PDF_KEYS") {
		t.Fatalf("a flag that is neither true nor false accepted: %v", err)
	}
	if _, err := loadConfig("demo.json", func(k string) string {
		return map[string]string{"GATEWAY_MAX_BODY_BYTES": "lots"}[k]
	}); err == nil || !strings.Contains(err.Error(), "GATEWAY_MAX_BODY_BYTES") {
		t.Fatalf("bad number accepted: %v", err)
	}
}

func TestDestinationErrorsStopStartup(t *testing.T) {
	for config, want := range map[string]string{
		`"kind": "mesh", "format": "fhir-bundle", "config": {}`: `destination epr: unknown destination kind "mesh" (known: fhir-rest, filedrop, goms, mllp, webhook)`,
		`"kind": "goms", "format": "fhir-bundle", "config": {"baseUrl": "https://goms.example", "tokenUrl": "https://t.example/token", "clientId": "c", "privateKeyFile": "/missing.pem"}`: `destination epr: config.keyId is required`,
		`"kind": "fhir-rest", "format": "fhir-bundle", "config": {}`: `destination epr: config.baseUrl "" is not an http(s) URL`,
		`"kind": "fhir-rest", "format": "fhir-bundle", "config": {"baseUrl": "http://x", "auth": {"type": "smart-backend", "tokenUrl": "http://t", "clientId": "c", "privateKeyFile": "/missing.pem"}}`: `destination epr: auth.privateKeyFile: open /missing.pem`,
		`"kind": "filedrop", "format": "hl7", "config": {"dir": "/tmp/x"}`: `format "hl7" is not fhir-bundle, pdf, hl7v2-oru or notice`,
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, "c.json")
		os.WriteFile(path, []byte(`{"tokens": [{"name": "op", "token": "operator-token-123", "role": "operator"}],
			"destinations": [{"name": "epr", "trusts": ["R0A"], `+config+`}]}`), 0o600)
		err := run(t.Context(), []string{"-config", path}, func(k string) string {
			return map[string]string{"GATEWAY_DATA": dir, "GATEWAY_ADDR": "127.0.0.1:0"}[k]
		}, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", config, err, want)
		}
	}
}

// TestHTTPPortTakenStopsMLLP: if the HTTP port is taken, run fails and
// does not leave the MLLP listener running behind it.
func TestHTTPPortTakenStopsMLLP(t *testing.T) {
	taken, _ := net.Listen("tcp", "127.0.0.1:0")
	defer taken.Close()
	dir := t.TempDir()
	done := make(chan error, 1)
	go func() {
		done <- run(t.Context(), []string{"-config", writeConfig(t, dir)}, func(k string) string {
			return map[string]string{"GATEWAY_DATA": dir, "GATEWAY_ADDR": taken.Addr().String()}[k]
		}, io.Discard, io.Discard)
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "listen on") {
			t.Fatalf("run = %v, want a listen error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run hung after its HTTP listener failed")
	}
}

func TestNoticeCarriesWhereToFetch(t *testing.T) {
	r := &gateway.Report{ID: "NWGLH-1", Issued: "2026-11-02T14:30:00Z", Patient: gateway.Patient{NHSNumber: "9990000018"}}
	rec := &gateway.ReportRecord{ID: "NWGLH-1", Version: 2, Status: gateway.StatusAmended, TrustODS: "R0A"}
	b, err := noticeEncoder("https://gateway.example.nhs.uk", "")(r, nil, rec, "d1", "R0A")
	if err != nil {
		t.Fatal(err)
	}
	var n map[string]any
	json.Unmarshal(b, &n)
	links := n["links"].(map[string]any)
	if n["reportId"] != "NWGLH-1" || n["version"] != float64(2) || n["patient"].(map[string]any)["nhsNumber"] != "9990000018" ||
		links["pdf"] != "https://gateway.example.nhs.uk/v1/reports/NWGLH-1/pdf?version=2" ||
		!strings.HasPrefix(links["fhir"].(string), "https://gateway.example.nhs.uk/fhir/DiagnosticReport?identifier=https%3A%2F%2F") {
		t.Fatalf("notice = %s", b)
	}
}

// TestBadSenderSettingsStopStartup: each LIMS's reading settings are
// checked at start-up, every mistake named by its key.
func TestBadSenderSettingsStopStartup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(path, []byte(`{"tokens": [{"name": "op", "token": "long-enough-token", "role": "operator"}],
		"hl7": {"senders": [{"facility": "MFT", "labOdsCode": "699X0", "options": {
			"trustFields": ["ORC-21", "ORC-xx"], "facilityAliases": {"MFT": "not an ods code"}, "testCodes": {"SANGER": "SANGER"}}}]}}`), 0o600)
	_, err := loadConfig(path, func(string) string { return "" })
	if err == nil {
		t.Fatal("bad sender settings were accepted")
	}
	for _, want := range []string{"hl7.senders[0].options.trustFields[1]", `hl7.senders[0].options.facilityAliases["MFT"]`, `hl7.senders[0].options.testCodes["SANGER"]`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// TestMLLPBindingsChecked: a listener beyond loopback without TLS or
// address-bound senders does not start, and bindings are checked.
func TestMLLPBindingsChecked(t *testing.T) {
	tokens := `"tokens": [{"name": "op", "token": "operator-token-1", "role": "operator"}]`
	for hl7Section, want := range map[string]string{
		`{"mllpAddr": ":2575", "senders": [{"facility": "699X0", "labOdsCode": "699X0"}]}`:                                               `hl7.mllpAddr: :2575 listens beyond this machine without TLS`,
		`{"mllpAddr": "0.0.0.0:2575", "senders": [{"facility": "699X0", "labOdsCode": "699X0", "clientCertificates": ["lims"]}]}`:        `hl7.senders[0].clientCertificates: needs hl7.tls.clientCaFile`,
		`{"mllpAddr": "127.0.0.1:2575", "senders": [{"facility": "699X0", "labOdsCode": "699X0", "sourceAddresses": ["10.0.0.300/8"]}]}`: `hl7.senders[0].sourceAddresses: "10.0.0.300/8" is not an IP address or CIDR range`,
	} {
		path := filepath.Join(t.TempDir(), "c.json")
		os.WriteFile(path, []byte(`{`+tokens+`, "hl7": `+hl7Section+`}`), 0o600)
		if _, err := loadConfig(path, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", hl7Section, err, want)
		}
	}
	path := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(path, []byte(`{`+tokens+`, "hl7": {"mllpAddr": "0.0.0.0:2575", "senders": [{"facility": "699X0", "labOdsCode": "699X0", "sourceAddresses": ["10.1.2.0/24"]}]}}`), 0o600)
	if _, err := loadConfig(path, func(string) string { return "" }); err != nil {
		t.Fatalf("address-bound senders on every interface: %v", err)
	}
}

// TestConfigCheck: "gatewayd config check FILE" finds every problem at
// once, each at its line and column, without starting anything.
func TestConfigCheck(t *testing.T) {
	var out strings.Builder
	if err := run(t.Context(), []string{"config", "check", "demo.json"}, func(string) string { return "" }, &out, io.Discard); err != nil ||
		!strings.Contains(out.String(), "is valid: 5 destinations") {
		t.Fatalf("the demo configuration: %v %q", err, out.String())
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.json")
	os.WriteFile(path, []byte(`{
  "addr": "127.0.0.1:0",
  "tokens": [{"name": "op", "token": "short", "role": "operator"}],
  "destinations": [
    {"name": "epr", "trusts": ["R0A"], "kind": "mllp", "format": "fhir-bundle", "config": {"adress": "127.0.0.1:1"}},
    {"name": "epr2", "trusts": ["R0A"], "kind": "fhir-rest", "format": "fhir-bundle", "config": {"baseUrl": "ftp://x"}}
  ],
  "hl7": {"mllpAddr": "-", "sendres": []},
  "retyr": {"baseSeconds": 1}
}`), 0o600)
	err := run(t.Context(), []string{"config", "check", path}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("a bad configuration passed the check")
	}
	for _, want := range []string{
		`bad.json:8:28: hl7: unknown key "sendres" (did you mean "senders"?)`,
		`bad.json:9:3: the top level: unknown key "retyr" (did you mean "retry"?)`,
		`bad.json:3:14: tokens[0] (op): token must be at least 12 characters`,
		`bad.json:5:5: destinations[0] (epr): a mllp destination carries hl7v2-oru, not "fhir-bundle"`,
		`bad.json:5:5: destination epr: config: json: unknown field "adress"`,
		`bad.json:6:5: destination epr2: config.baseUrl "ftp://x" is not an http(s) URL`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the check lacks %q:\n%v", want, err)
		}
	}
	os.WriteFile(path, []byte("{\n  \"addr\": \"x\",\n  \"tokens\": [,]\n}"), 0o600)
	if err := run(t.Context(), []string{"config", "check", path}, func(string) string { return "" }, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "bad.json:3:15: not valid JSON") {
		t.Errorf("a syntax error: %v", err)
	}
	os.WriteFile(path, []byte(`{"tokens": [{"name": "op", "token": "operator-token-1", "role": "operator"}], "hl7": {"mllpAddr": "-"}}`), 0o600)
	if cfg, err := loadConfig(path, func(string) string { return "" }); err != nil || cfg.HL7.MLLPAddr != "" {
		t.Errorf(`"mllpAddr": "-" in the file: %q %v, want MLLP off`, cfg.HL7.MLLPAddr, err)
	}
}

// TestDockerConfigExampleIsValid: the production starting point that
// docker-compose.yml mounts passes the strict checks (its certificate
// files are secrets, absent here).
func TestDockerConfigExampleIsValid(t *testing.T) {
	env := map[string]string{"GATEWAY_LAB_TOKEN": "lab-token-from-env-1", "GATEWAY_TRUST_TOKEN": "trust-token-from-env-1",
		"GATEWAY_OPERATOR_TOKEN": "operator-token-from-env-1"}
	cfg, err := loadConfig(filepath.Join("..", "..", "..", "docs", "config.docker.json"), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if loopback(cfg.Addr) || cfg.TLS.CertFile == "" || cfg.HL7.TLS.ClientCAFile == "" || len(cfg.HL7.Senders[0].ClientCertificates) == 0 {
		t.Fatalf("the example is not the TLS, mutual-TLS MLLP deployment it claims: %+v", cfg)
	}
	if _, err := loadConfig(filepath.Join("..", "..", "..", "docs", "config.docker.json"), func(string) string { return "" }); err == nil {
		t.Fatal("the example started without its tokens in the environment")
	}
}

// TestUnknownCommandRefused: a misspelt command (gatewayd deliveris ls,
// gatewayd help) is refused by name; it used to be ignored, so the process
// tried to start a second gateway from GATEWAY_CONFIG and, on the embedded
// store, waited for the running one's lock before failing.
func TestUnknownCommandRefused(t *testing.T) {
	for _, args := range [][]string{{"deliveris", "ls"}, {"help"}, {"config", "chek", "demo.json"}} {
		err := run(context.Background(), args, func(string) string { return "" }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "unknown command") {
			t.Errorf("gatewayd %s: %v, want an unknown command", strings.Join(args, " "), err)
		}
	}
}

// TestConfigCheckLocatesTLSFiles: a certificate the check cannot read is
// named by the key the file has ("tls", "hl7.tls"; it said "http.tls", a
// key no configuration has) at its line and column, like any problem.
func TestConfigCheckLocatesTLSFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tls.json")
	os.WriteFile(path, []byte(`{
  "tokens": [{"name": "op", "token": "operator-token-1", "role": "operator"}],
  "tls": {"certFile": "/nonexistent/api.pem", "keyFile": "/nonexistent/api.key"},
  "hl7": {"mllpAddr": "127.0.0.1:0",
          "tls": {"certFile": "/nonexistent/mllp.pem", "keyFile": "/nonexistent/mllp.key"}}
}`), 0o600)
	err := run(t.Context(), []string{"config", "check", path}, func(string) string { return "" }, io.Discard, io.Discard)
	for _, want := range []string{"tls.json:3:3: tls: open /nonexistent/api.pem", "tls.json:5:11: hl7.tls: open /nonexistent/mllp.pem"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("the check lacks %q:\n%v", want, err)
		}
	}
}

// TestConfigCheckChangesNothing: checking a configuration does not create
// its file drops' folders (it did, as starting would); it says when one
// could not be created.
func TestConfigCheckChangesNothing(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a-file"), []byte("x"), 0o600)
	check := func(outbox string) error {
		path := filepath.Join(dir, "c.json")
		os.WriteFile(path, []byte(fmt.Sprintf(`{"addr": "127.0.0.1:0", "hl7": {"mllpAddr": "-"},
  "tokens": [{"name": "op", "token": "operator-token-1", "role": "operator"}],
  "destinations": [{"name": "files", "trusts": ["R0A"], "kind": "filedrop", "format": "pdf", "config": {"dir": %q}}]}`, outbox)), 0o600)
		return run(t.Context(), []string{"config", "check", path}, func(string) string { return "" }, io.Discard, io.Discard)
	}
	outbox := filepath.Join(dir, "not", "yet", "there")
	if err := check(outbox); err != nil {
		t.Fatalf("a folder that can be created: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "not")); !os.IsNotExist(err) {
		t.Errorf("the check created the file drop's folder: %v", err)
	}
	if err := check(filepath.Join(dir, "a-file", "outbox")); err == nil || !strings.Contains(err.Error(), "is not a folder") {
		t.Errorf("a folder under a file: %v", err)
	}
}
