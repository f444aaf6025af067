package main

import (
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/internal/testpki"
)

// TestHTTPSWithMutualTLS: the API over TLS 1.2+ with client certificates;
// a plain-HTTP or certificate-less client gets nothing; a renewed
// certificate is served without a restart.
func TestHTTPSWithMutualTLS(t *testing.T) {
	ca := testpki.NewCA(t)
	server, client := ca.Server(t, "gateway-1"), ca.Client(t, "epr.r0a.test")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	install := func(p testpki.Pair) {
		for src, dst := range map[string]string{p.CertFile: certFile, p.KeyFile: keyFile} {
			raw, _ := os.ReadFile(src)
			if err := os.WriteFile(dst+".new", raw, 0o600); err != nil {
				t.Fatal(err)
			}
			os.Rename(dst+".new", dst) // atomically, as a certificate manager does
		}
	}
	install(server)
	cfg := strings.Replace(strings.ReplaceAll(testConfig, "OUTBOX", filepath.Join(dir, "outbox")), `"addr": "127.0.0.1:0",`,
		`"addr": "127.0.0.1:0", "tls": {"certFile": "`+certFile+`", "keyFile": "`+keyFile+`", "clientCaFile": "`+ca.CertFile+`"},`, 1)
	base, _, _ := startWithConfigFull(t, dir, cfg)
	httpsBase := strings.Replace(base, "http://", "https://", 1)

	mtls := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: ca.ClientConfig(t, &client)}}
	req, _ := http.NewRequest(http.MethodGet, httpsBase+"/v1/held", nil)
	req.Header.Set("Authorization", "Bearer "+operatorToken)
	resp, err := mtls.Do(req)
	if err != nil {
		t.Fatalf("mutual TLS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("mutual TLS: %d %+v", resp.StatusCode, resp.TLS)
	}
	served := func() string {
		resp, err := mtls.Get(httpsBase + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].Subject.CommonName
	}
	if cn := served(); cn != "gateway-1" {
		t.Fatalf("served %q", cn)
	}

	noCert := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: ca.ClientConfig(t, nil)}}
	if resp, err := noCert.Get(httpsBase + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatalf("a client without a certificate was answered %d", resp.StatusCode)
	}
	if resp, err := http.Get(base + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP was answered on the TLS listener")
		}
	}

	install(ca.Server(t, "gateway-2")) // renewed
	for i := 0; served() != "gateway-2"; i++ {
		if i > 100 {
			t.Fatal("the renewed certificate was never served")
		}
		time.Sleep(50 * time.Millisecond)
	}
	mtls.CloseIdleConnections()
}

// TestPlainHTTPOnlyOnLoopback: by default the API listens on 127.0.0.1;
// beyond loopback it needs TLS or an explicit allowPlainHttp.
func TestPlainHTTPOnlyOnLoopback(t *testing.T) {
	if cfg := defaultConfig(); !loopback(cfg.Addr) {
		t.Fatalf("the default address %s is not loopback", cfg.Addr)
	}
	demo, err := loadConfig("demo.json", func(string) string { return "" })
	if err != nil || !loopback(demo.Addr) || !loopback(demo.HL7.MLLPAddr) {
		t.Fatalf("the demo listens beyond loopback: %s %s %v", demo.Addr, demo.HL7.MLLPAddr, err)
	}
	tokens := `"tokens": [{"name": "op", "token": "operator-token-1", "role": "operator"}]`
	for body, want := range map[string]string{
		`"addr": ":8080"`:                                 "addr: :8080 listens beyond this machine without TLS",
		`"addr": "0.0.0.0:443"`:                           "addr: 0.0.0.0:443 listens beyond this machine without TLS",
		`"addr": "[::]:8080"`:                             "listens beyond this machine without TLS",
		`"addr": "10.0.0.5:8080", "allowPlainHttp": true`: "",
		`"addr": "localhost:8080"`:                        "",
		`"addr": "[::1]:8080"`:                            "",
	} {
		path := filepath.Join(t.TempDir(), "c.json")
		os.WriteFile(path, []byte(`{`+tokens+`, `+body+`}`), 0o600)
		_, err := loadConfig(path, func(string) string { return "" })
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: got %v, want %q", body, err, want)
		}
	}
}

// TestHealthCommand: "gatewayd health" (the image's HEALTHCHECK) asks the
// configured gateway for /healthz over HTTPS on loopback.
func TestHealthCommand(t *testing.T) {
	ca := testpki.NewCA(t)
	server := ca.Server(t, "gateway")
	dir := t.TempDir()
	cfg := strings.Replace(strings.ReplaceAll(testConfig, "OUTBOX", filepath.Join(dir, "outbox")), `"addr": "127.0.0.1:0",`,
		`"addr": "127.0.0.1:0", "tls": {"certFile": "`+server.CertFile+`", "keyFile": "`+server.KeyFile+`"},`, 1)
	base, _, stop := startWithConfigFull(t, dir, cfg)
	env := map[string]string{"GATEWAY_CONFIG": filepath.Join(dir, "config.json"), "GATEWAY_ADDR": strings.TrimPrefix(base, "http://")}
	var out strings.Builder
	if err := run(t.Context(), []string{"health"}, func(k string) string { return env[k] }, &out, io.Discard); err != nil || out.String() != "healthy\n" {
		t.Fatalf("health of a running gateway: %v %q", err, out.String())
	}
	stop()
	if err := run(t.Context(), []string{"health"}, func(k string) string { return env[k] }, io.Discard, io.Discard); err == nil {
		t.Fatal("health of a stopped gateway passed")
	}
}

// TestDemoTokensOnlyOnLoopback: the demo's published tokens stop start-up
// on any address beyond loopback.
func TestDemoTokensOnlyOnLoopback(t *testing.T) {
	env := map[string]string{"GATEWAY_ADDR": "0.0.0.0:8080"}
	path := filepath.Join(t.TempDir(), "c.json")
	raw, _ := os.ReadFile("demo.json")
	os.WriteFile(path, []byte(strings.Replace(string(raw), `"addr": "127.0.0.1:8080",`, `"addr": "127.0.0.1:8080", "allowPlainHttp": true,`, 1)), 0o600)
	_, err := loadConfig(path, func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "this token is the demo's") {
		t.Fatalf("demo tokens on 0.0.0.0: %v", err)
	}
}
