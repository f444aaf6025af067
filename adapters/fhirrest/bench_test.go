package fhirrest_test

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/nhs-genomics/results-gateway/gateway"
)

const txResponse = `{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"200 OK","location":"DiagnosticReport/1/_history/2"}}]}`

// tlsServer is a loopback HTTPS FHIR endpoint and its CA file.
func tlsServer(b *testing.B) (*httptest.Server, string) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte(txResponse))
	}))
	b.Cleanup(srv.Close)
	ca := filepath.Join(b.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	return srv, ca
}

// BenchmarkBareHTTPSPost is the floor: the same Bundle bytes POSTed with a plain client.
func BenchmarkBareHTTPSPost(b *testing.B) {
	srv, _ := tlsServer(b)
	client := srv.Client()
	bundle := goldenBundle(b, "trio-wgs-denovo-positive")
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Post(srv.URL, "application/fhir+json", bytes.NewReader(bundle))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// BenchmarkAdapterDeliver is one delivery through the adapter (target ≤ 2× the bare POST).
func BenchmarkAdapterDeliver(b *testing.B) {
	srv, ca := tlsServer(b)
	a := newAdapter(b, fmt.Sprintf(`{"baseUrl":%q,"tls":{"caFile":%q}}`, srv.URL, ca))
	d := &gateway.Delivery{ContentType: "application/fhir+json", Payload: goldenBundle(b, "trio-wgs-denovo-positive")}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Deliver(b.Context(), d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPeerServer compares posting Bundles straight to the third-party
// FHIR server with delivering them through the adapter (target ≥ 0.9×).
func BenchmarkPeerServer(b *testing.B) {
	bundle := goldenBundle(b, "trio-wgs-denovo-positive")
	// Each side gets a fresh server: its cost grows with the history it keeps.
	b.Run("direct", func(b *testing.B) {
		base := peerServer(b)
		for b.Loop() {
			resp, err := http.Post(base, "application/fhir+json", bytes.NewReader(bundle))
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("%v %v", resp, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.Run("adapter", func(b *testing.B) {
		base := peerServer(b)
		a := newAdapter(b, fmt.Sprintf(`{"baseUrl":%q}`, base))
		d := &gateway.Delivery{ContentType: "application/fhir+json", Payload: bundle}
		for b.Loop() {
			if _, err := a.Deliver(b.Context(), d); err != nil {
				b.Fatal(err)
			}
		}
	})
}
