package fhirrest_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nhs-genomics/results-gateway/adapters/fhirrest"
	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/internal/testpki"
)

func TestConfigErrorsAreReadable(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	for config, want := range map[string]string{
		`{}`:                                   `config.baseUrl "" is not an http(s) URL`,
		`{"baseUrl":"ftp://x"}`:                `is not an http(s) URL`,
		`{"baseUrl":"http://x","mode":"bulk"}`: `config.mode "bulk" is not transaction, batch or individual`,
		`{"baseUrl":"http://x","url":"http://y"}`:                                           `unknown field "url"`,
		`{"baseUrl":"http://x","auth":{"type":"basic"}}`:                                    `auth.type "basic" is not none, bearer, client-credentials or smart-backend`,
		`{"baseUrl":"http://x","auth":{"type":"bearer"}}`:                                   `auth.token (or a set variable named by auth.tokenEnv) is required`,
		`{"baseUrl":"http://epr.example.nhs.uk/fhir","auth":{"type":"bearer","token":"t"}}`: `config.baseUrl "http://epr.example.nhs.uk/fhir": credentials (auth.type bearer) would travel in clear over http://`,
		`{"baseUrl":"https://epr.example.nhs.uk/fhir","auth":{"type":"client-credentials","tokenUrl":"http://auth/token","clientId":"c","clientSecret":"s"}}`: `config.auth.tokenUrl "http://auth/token": credentials`,
		`{"baseUrl":"http://x","auth":{"type":"smart-backend","tokenUrl":"http://t/token","clientId":"c","privateKeyFile":"/no/such/key.pem"}}`:               `auth.privateKeyFile: open /no/such/key.pem`,
		`{"baseUrl":"http://x","auth":{"type":"smart-backend","tokenUrl":"http://t/token","clientId":"c","privateKeyFile":"` + notPEM + `"}}`:                 `holds no PEM block`,
		`{"baseUrl":"http://x","tls":{"caFile":"` + notPEM + `"}}`:                                                                                            `holds no PEM certificate`,
		`{"baseUrl":"http://x","tls":{"certFile":"/no/cert","keyFile":"/no/key"}}`:                                                                            `tls.certFile/keyFile`,
	} {
		_, err := fhirrest.New(json.RawMessage(config))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config %s: error %v, want it to say %q", config, err, want)
		}
	}
}

// TestMutualTLS delivers over TLS to a server with a private CA that
// requires a client certificate; without the CA or the certificate it fails.
func TestMutualTLS(t *testing.T) {
	ca := testpki.NewCA(t)
	server, client := ca.Server(t, "epr"), ca.Client(t, "gateway")
	serverPair, err := tls.LoadX509KeyPair(server.CertFile, server.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(ca.CertFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	caFile, clientCert, clientKey := ca.CertFile, client.CertFile, client.KeyFile
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"200 OK","location":"DiagnosticReport/9"}}]}`))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverPair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	defer srv.Close()
	d := &gateway.Delivery{ContentType: "application/fhir+json", Payload: []byte(`{}`)}

	ok := newAdapter(t, fmt.Sprintf(`{"baseUrl":%q,"tls":{"caFile":%q,"certFile":%q,"keyFile":%q}}`, srv.URL, caFile, clientCert, clientKey))
	if ref, err := ok.Deliver(t.Context(), d); err != nil || !strings.HasPrefix(ref, "DiagnosticReport/9") {
		t.Fatalf("mTLS delivery: %q %v", ref, err)
	}
	noCert := newAdapter(t, fmt.Sprintf(`{"baseUrl":%q,"tls":{"caFile":%q}}`, srv.URL, caFile))
	if _, err := noCert.Deliver(t.Context(), d); err == nil {
		t.Fatal("delivered without a client certificate")
	}
	noCA := newAdapter(t, fmt.Sprintf(`{"baseUrl":%q,"tls":{"certFile":%q,"keyFile":%q}}`, srv.URL, clientCert, clientKey))
	if _, err := noCA.Deliver(t.Context(), d); err == nil {
		t.Fatal("trusted a server certificate from an unknown CA")
	}
}
