package fhirrest_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nhs-genomics/results-gateway/adapters/adaptertest"
	"github.com/nhs-genomics/results-gateway/adapters/fhirrest"
	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/internal/receiver"
)

// receiverPeer drives the loopback test receiver.
type receiverPeer struct{ r *receiver.Receiver }

func (p receiverPeer) Accept()       { p.r.Set(receiver.Accept) }
func (p receiverPeer) Fail()         { p.r.Set(receiver.Fail) }
func (p receiverPeer) Reject()       { p.r.Set(receiver.Reject) }
func (p receiverPeer) Hang()         { p.r.Set(receiver.Hang) }
func (p receiverPeer) Received() int { return p.r.Accepted() }

// goldenBundle is a real gateway Bundle from the fixtures.
func goldenBundle(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "golden", name+".bundle.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newAdapter(t testing.TB, config string) gateway.Adapter {
	t.Helper()
	a, err := fhirrest.New(json.RawMessage(config))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func closedPort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestConformance(t *testing.T) {
	bundle := goldenBundle(t, "trio-wgs-denovo-positive")
	for _, mode := range []string{"transaction", "batch", "individual"} {
		t.Run(mode, func(t *testing.T) {
			recv := receiver.Start(t)
			adaptertest.Run(t, adaptertest.Harness{
				Peer: receiverPeer{recv},
				New: func(t *testing.T) gateway.Adapter {
					return newAdapter(t, fmt.Sprintf(`{"baseUrl":%q,"mode":%q}`, recv.URL, mode))
				},
				Absent: func(t *testing.T) gateway.Adapter {
					return newAdapter(t, fmt.Sprintf(`{"baseUrl":"http://%s/fhir","mode":%q}`, closedPort(t), mode))
				},
				Delivery: func(n int) *gateway.Delivery {
					return &gateway.Delivery{ID: fmt.Sprint(n), ReportID: "NWGLH-2026-000101", Version: 1,
						ContentType: "application/fhir+json", Payload: bundle}
				},
				Connections: recv.Connections,
			})
		})
	}
}

// TestNoAnswerNamesNoPatient: in individual mode the first request to an
// EPR that does not answer is a conditional search by the patient's NHS
// number; the error, kept on the delivery and logged as the destination
// starts failing, named it in the URL.
func TestNoAnswerNamesNoPatient(t *testing.T) {
	bundle := goldenBundle(t, "trio-wgs-denovo-positive")
	a := newAdapter(t, fmt.Sprintf(`{"baseUrl":"http://%s/fhir?apikey=k3y","mode":"individual"}`, closedPort(t)))
	_, err := a.Deliver(t.Context(), &gateway.Delivery{ID: "1", ReportID: "NWGLH-2026-000101", Version: 1, ContentType: "application/fhir+json", Payload: bundle})
	if err == nil || gateway.IsPermanent(err) {
		t.Fatalf("an EPR that does not answer: %v", err)
	}
	for _, secret := range []string{"999", "nhs-number", "k3y"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the error names %q: %v", secret, err)
		}
	}
}
