// Package testjwt mints JWTs and publishes a JWKS for tests, like the
// authorisation server an EPR's SMART Backend Services client gets tokens
// from: as a file, or served over HTTP on loopback with key rotation.
package testjwt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer signs test tokens and publishes its JWKS.
type Issuer struct {
	JWKS string // file path

	mu      sync.Mutex
	rsa     map[string]*rsa.PrivateKey // by kid
	ec      map[string]*ecdsa.PrivateKey
	rsaKid  string // the keys Sign uses now
	ecKid   string
	fetches atomic.Int64
}

// NewIssuer makes an issuer with an RSA key "rsa-1" and a P-384 key "ec-1".
func NewIssuer(t testing.TB) *Issuer {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	i := &Issuer{rsa: map[string]*rsa.PrivateKey{"rsa-1": rk}, ec: map[string]*ecdsa.PrivateKey{"ec-1": ek}, rsaKid: "rsa-1", ecKid: "ec-1"}
	i.JWKS = filepath.Join(t.TempDir(), "jwks.json")
	os.WriteFile(i.JWKS, i.jwks(), 0o600)
	return i
}

// Rotate adds a new RSA key, signs with it from now on and publishes it
// (the old key stays published, as issuers do during a rotation).
func (i *Issuer) Rotate() string {
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	i.mu.Lock()
	defer i.mu.Unlock()
	kid := "rsa-" + strconv.Itoa(len(i.rsa)+1)
	i.rsa[kid], i.rsaKid = k, kid
	return kid
}

// WriteFile publishes the JWKS, with every key so far, to its file (as an
// issuer's rotation job would), replacing the file rather than rewriting
// it in place.
func (i *Issuer) WriteFile() error {
	tmp := i.JWKS + ".new"
	if err := os.WriteFile(tmp, i.jwks(), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, i.JWKS)
}

// Serve publishes the JWKS over HTTP on loopback and returns its URL and
// how many times it was fetched.
func (i *Issuer) Serve(t testing.TB) (url string, fetches func() int64) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(i.jwks())
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/.well-known/jwks.json", i.fetches.Load
}

func (i *Issuer) jwks() []byte {
	i.mu.Lock()
	defer i.mu.Unlock()
	b := func(x []byte) string { return base64.RawURLEncoding.EncodeToString(x) }
	var keys []any
	for kid, k := range i.rsa {
		keys = append(keys, map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "n": b(k.N.Bytes()), "e": b([]byte{1, 0, 1})})
	}
	for kid, k := range i.ec {
		point, _ := k.PublicKey.Bytes() // 0x04 || X || Y
		keys = append(keys, map[string]any{"kty": "EC", "kid": kid, "use": "sig", "crv": "P-384", "x": b(point[1:49]), "y": b(point[49:])})
	}
	out, _ := json.Marshal(map[string]any{"keys": keys})
	return out
}

// Sign makes a token with the given algorithm (RS256 or ES384) and claims.
func (i *Issuer) Sign(alg string, claims map[string]any) string {
	i.mu.Lock()
	defer i.mu.Unlock()
	var tok *jwt.Token
	var key any
	if alg == "ES384" {
		tok, key = jwt.NewWithClaims(jwt.SigningMethodES384, jwt.MapClaims(claims)), i.ec[i.ecKid]
		tok.Header["kid"] = i.ecKid
	} else {
		tok, key = jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(claims)), i.rsa[i.rsaKid]
		tok.Header["kid"] = i.rsaKid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		panic(err)
	}
	return s
}
