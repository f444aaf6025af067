package fhirrest_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/adapters/fhirrest"
	"github.com/nhs-genomics/results-gateway/gateway"
)

// tokenServer is an OAuth2 token endpoint that checks what the adapter
// sends: a client secret, or a SMART client assertion it verifies with the
// client's public key. Each token it issues is new.
type tokenServer struct {
	*httptest.Server
	t      *testing.T
	refuse bool // the test expects refused requests: do not fail it
	pub    crypto.PublicKey
	issued []string
	mu     sync.Mutex
	jtis   map[string]bool
}

func startTokenServer(t *testing.T, pub crypto.PublicKey) *tokenServer {
	ts := &tokenServer{t: t, pub: pub, jtis: map[string]bool{}}
	ts.Server = httptest.NewServer(http.HandlerFunc(ts.serve))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) serve(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	fail := func(why string) {
		if !ts.refuse {
			ts.t.Errorf("token request refused: %s", why)
		}
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": why})
	}
	if r.Form.Get("grant_type") != "client_credentials" || r.Form.Get("scope") != "system/DiagnosticReport.write" {
		fail("wrong grant_type or scope")
		return
	}
	if ts.pub == nil {
		if id, secret, ok := r.BasicAuth(); !ok || id != "gateway" || secret != "s3cret" {
			fail("bad client secret")
			return
		}
	} else if why := ts.verifyAssertion(r); why != "" {
		fail(why)
		return
	}
	ts.mu.Lock()
	tok := fmt.Sprintf("token-%d", len(ts.issued)+1)
	ts.issued = append(ts.issued, tok)
	ts.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": 300})
}

// verifyAssertion checks the JWT as a SMART authorization server must.
func (ts *tokenServer) verifyAssertion(r *http.Request) string {
	if r.Form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return "wrong client_assertion_type"
	}
	parts := strings.Split(r.Form.Get("client_assertion"), ".")
	if len(parts) != 3 {
		return "assertion is not a JWT"
	}
	var header map[string]string
	var claims map[string]any
	h, _ := base64.RawURLEncoding.DecodeString(parts[0])
	c, _ := base64.RawURLEncoding.DecodeString(parts[1])
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	json.Unmarshal(h, &header)
	json.Unmarshal(c, &claims)
	digest := sha512.Sum384([]byte(parts[0] + "." + parts[1]))
	switch pub := ts.pub.(type) {
	case *rsa.PublicKey:
		if header["alg"] != "RS384" || rsa.VerifyPKCS1v15(pub, crypto.SHA384, digest[:], sig) != nil {
			return "bad RS384 signature"
		}
	case *ecdsa.PublicKey:
		if header["alg"] != "ES384" || len(sig) != 96 ||
			!ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:48]), new(big.Int).SetBytes(sig[48:])) {
			return "bad ES384 signature"
		}
	}
	if header["kid"] != "key-1" {
		return "missing kid"
	}
	if claims["iss"] != "gateway" || claims["sub"] != "gateway" || claims["aud"] != ts.URL+"/token" {
		return fmt.Sprintf("bad iss/sub/aud: %v", claims)
	}
	exp, _ := claims["exp"].(float64)
	if left := time.Until(time.Unix(int64(exp), 0)); left <= 0 || left > 5*time.Minute+time.Second {
		return "exp must be in the future and at most five minutes away"
	}
	jti, _ := claims["jti"].(string)
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if jti == "" || ts.jtis[jti] {
		return "jti missing or reused"
	}
	ts.jtis[jti] = true
	return ""
}

// fhirServer accepts only the issued tokens, and revokes the first one
// after its first use, to make the adapter refresh on a 401.
func fhirServer(t *testing.T, ts *tokenServer) (*httptest.Server, *[]string) {
	var seen []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		auth := r.Header.Get("Authorization")
		seen = append(seen, auth)
		if auth == "Bearer token-1" && len(seen) > 1 { // revoked
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		ts.mu.Lock()
		valid := strings.HasPrefix(auth, "Bearer ") && contains(ts.issued, strings.TrimPrefix(auth, "Bearer "))
		ts.mu.Unlock()
		if !valid {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"201 Created","location":"DiagnosticReport/1/_history/1"}}]}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func writeKey(t *testing.T, key any) string {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	return path
}

func deliverThrice(t *testing.T, a gateway.Adapter) {
	for i := 0; i < 3; i++ {
		if _, err := a.Deliver(t.Context(), &gateway.Delivery{ContentType: "application/fhir+json", Payload: []byte(`{}`)}); err != nil {
			t.Fatalf("delivery %d: %v", i+1, err)
		}
	}
}

func TestSMARTBackendServices(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	for name, key := range map[string]crypto.Signer{"RS384": rsaKey, "ES384": ecKey} {
		t.Run(name, func(t *testing.T) {
			ts := startTokenServer(t, key.Public())
			srv, seen := fhirServer(t, ts)
			a := newAdapter(t, fmt.Sprintf(`{"baseUrl":%q,"allowInsecure":true,"auth":{"type":"smart-backend","tokenUrl":%q,"clientId":"gateway",
				"scope":"system/DiagnosticReport.write","privateKeyFile":%q,"keyId":"key-1"}}`, srv.URL, ts.URL+"/token", writeKey(t, key)))
			deliverThrice(t, a)
			// token-1 is used, then revoked: one 401, one refresh, then token-2 is cached.
			want := []string{"Bearer token-1", "Bearer token-1", "Bearer token-2", "Bearer token-2"}
			if strings.Join(*seen, ",") != strings.Join(want, ",") {
				t.Fatalf("Authorization headers = %v, want %v", *seen, want)
			}
		})
	}
}

func TestClientCredentials(t *testing.T) {
	ts := startTokenServer(t, nil)
	srv, seen := fhirServer(t, ts)
	a := newAdapter(t, fmt.Sprintf(`{"baseUrl":%q,"allowInsecure":true,"auth":{"type":"client-credentials","tokenUrl":%q,"clientId":"gateway",
		"clientSecret":"s3cret","scope":"system/DiagnosticReport.write"}}`, srv.URL, ts.URL+"/token"))
	deliverThrice(t, a)
	if len(ts.issued) != 2 || len(*seen) != 4 {
		t.Fatalf("issued %v for requests %v: want the token cached and refreshed once after the 401", ts.issued, *seen)
	}
}

func TestWrongCredentialsArePermanent(t *testing.T) {
	ts := startTokenServer(t, nil)
	ts.refuse = true
	srv, _ := fhirServer(t, ts)
	a := newAdapter(t, fmt.Sprintf(`{"baseUrl":%q,"allowInsecure":true,"auth":{"type":"client-credentials","tokenUrl":%q,"clientId":"gateway",
		"clientSecret":"wrong","scope":"system/DiagnosticReport.write"}}`, srv.URL, ts.URL+"/token"))
	if _, err := a.Deliver(t.Context(), &gateway.Delivery{Payload: []byte(`{}`)}); !gateway.IsPermanent(err) {
		t.Fatalf("refused credentials must dead-letter for a person to fix, got %v", err)
	}
}

// Credentials may come from the environment, so no secret sits in the
// configuration file: auth.tokenEnv and auth.clientSecretEnv name the
// variables. An unset variable, or a secret given both ways, is refused.
func TestCredentialsFromTheEnvironment(t *testing.T) {
	t.Setenv("RG_TEST_EPR_TOKEN", "token-from-the-environment")
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		w.Write([]byte(`{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"200 OK","location":"DiagnosticReport/9"}}]}`))
	}))
	t.Cleanup(srv.Close)
	a := newAdapter(t, fmt.Sprintf(`{"baseUrl":%q,"allowInsecure":true,"auth":{"type":"bearer","tokenEnv":"RG_TEST_EPR_TOKEN"}}`, srv.URL))
	if _, err := a.Deliver(t.Context(), &gateway.Delivery{Payload: []byte(`{"resourceType":"Bundle","type":"transaction"}`)}); err != nil {
		t.Fatal(err)
	}
	if got != "Bearer token-from-the-environment" {
		t.Fatalf("Authorization %q, want the token from RG_TEST_EPR_TOKEN", got)
	}
	ts := startTokenServer(t, nil)
	fhir, _ := fhirServer(t, ts)
	t.Setenv("RG_TEST_EPR_SECRET", "s3cret")
	b := newAdapter(t, fmt.Sprintf(`{"baseUrl":%q,"allowInsecure":true,"auth":{"type":"client-credentials","tokenUrl":%q,"clientId":"gateway",
		"clientSecretEnv":"RG_TEST_EPR_SECRET","scope":"system/DiagnosticReport.write"}}`, fhir.URL, ts.URL+"/token"))
	deliverThrice(t, b)
	if len(ts.issued) == 0 {
		t.Fatal("no token was fetched with the secret from RG_TEST_EPR_SECRET")
	}
	for config, want := range map[string]string{
		`{"baseUrl":"http://x","auth":{"type":"bearer","tokenEnv":"RG_TEST_UNSET_VARIABLE"}}`:                                                               "auth.tokenEnv",
		`{"baseUrl":"http://x","auth":{"type":"bearer","token":"t","tokenEnv":"RG_TEST_EPR_TOKEN"}}`:                                                        "not both",
		`{"baseUrl":"http://x","auth":{"type":"client-credentials","tokenUrl":"http://t/token","clientId":"c","clientSecretEnv":"RG_TEST_UNSET_VARIABLE"}}`: "auth.clientSecretEnv",
	} {
		if _, err := fhirrest.New(json.RawMessage(config)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config %s: %v, want it to say %q", config, err, want)
		}
	}
}
