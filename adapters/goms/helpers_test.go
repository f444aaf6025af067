package goms_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/adapters/goms"
	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/internal/gomsstub"
	"github.com/nhs-genomics/results-gateway/mappers/fhirr4"
	"github.com/nhs-genomics/results-gateway/mappers/labjson"
)

const (
	clientID    = "gateway-app-key"
	kid         = "results-gateway-int-1"
	orderSystem = "https://fhir.nhs.uk/Id/GMSOrder" // NHS England's order number, as GOMS knows the order
	orderValue  = "GMS-000101"                      // the trio fixture's order
)

// keyFile writes a fresh RSA key as PKCS#8 PEM and returns its path.
func keyFile(t testing.TB) (string, *rsa.PublicKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	path := filepath.Join(t.TempDir(), "goms-key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, &key.PublicKey
}

var (
	bundleOnce sync.Once
	bundle     []byte
	bundleErr  error
)

// trioBundle is a real gateway transaction Bundle: the trio fixture
// decoded and mapped by the gateway's own FHIR mapper.
func trioBundle(t testing.TB) []byte {
	t.Helper()
	bundleOnce.Do(func() {
		r, err := labjson.Decode(fixtures.Report("trio-wgs-denovo-positive"))
		if err != nil {
			bundleErr = err
			return
		}
		if problems := gateway.Validate(r); len(problems) > 0 {
			bundleErr = fmt.Errorf("fixture invalid: %v", problems)
			return
		}
		mapper, err := fhirr4.New("")
		if err != nil {
			bundleErr = err
			return
		}
		bundle, _, bundleErr = mapper.EncodeBundle(r, []byte("%PDF-1.4\n% the report\n"))
	})
	if bundleErr != nil {
		t.Fatal(bundleErr)
	}
	return bundle
}

// env is a stand-in GOMS with the trio order placed, and a key registered for the gateway.
type env struct {
	stub    *gomsstub.Stub
	keyFile string
	taskID  string
}

func newEnv(t *testing.T, seed bool) *env {
	t.Helper()
	path, pub := keyFile(t)
	e := &env{stub: gomsstub.Start(t, clientID, kid, pub), keyFile: path}
	if seed {
		e.taskID = e.stub.SeedOrder(orderSystem, orderValue, "accepted")
	}
	return e
}

func (e *env) config(extra string) string {
	return fmt.Sprintf(`{"baseUrl":%q,"tokenUrl":%q,"clientId":%q,"privateKeyFile":%q,"keyId":%q,"allowInsecure":true%s}`,
		e.stub.URL, e.stub.TokenURL, clientID, e.keyFile, kid, extra)
}

func newAdapter(t testing.TB, config string) gateway.Adapter {
	t.Helper()
	a, err := goms.New(json.RawMessage(config))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// mappedBundle is a fixture, edited, mapped by the gateway's FHIR mapper.
func mappedBundle(t testing.TB, fixture string, edit func(map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(fixtures.Report(fixture), &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	body, _ := json.Marshal(m)
	r, err := labjson.Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	mapper, _ := fhirr4.New("")
	payload, _, err := mapper.EncodeBundle(r, []byte("%PDF-1.4\n"))
	if err != nil {
		t.Fatal(err)
	}
	return payload
}

func delivery(t testing.TB, id string) *gateway.Delivery {
	return &gateway.Delivery{ID: id, ReportID: "NWGLH-2026-000101", Version: 1, Destination: "goms",
		ContentType: "application/fhir+json", PayloadOf: gateway.PayloadBundle, Payload: trioBundle(t), CreatedAt: time.Now()}
}

func deliver(t testing.TB, a gateway.Adapter, d *gateway.Delivery) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return a.Deliver(ctx, d)
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
