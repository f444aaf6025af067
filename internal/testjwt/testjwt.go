// Package testjwt mints JWTs and a JWKS for tests, like an authorisation
// server that an EPR's SMART Backend Services client gets tokens from.
package testjwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Issuer signs test tokens and publishes its JWKS.
type Issuer struct {
	RSA  *rsa.PrivateKey
	EC   *ecdsa.PrivateKey
	JWKS string // file path
}

func NewIssuer(t testing.TB) *Issuer {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	b := func(x []byte) string { return base64.RawURLEncoding.EncodeToString(x) }
	point, _ := ek.PublicKey.Bytes() // 0x04 || X || Y
	jwks, _ := json.Marshal(map[string]any{"keys": []any{
		map[string]any{"kty": "RSA", "kid": "rsa-1", "n": b(rk.N.Bytes()), "e": b([]byte{1, 0, 1})},
		map[string]any{"kty": "EC", "kid": "ec-1", "crv": "P-384", "x": b(point[1:49]), "y": b(point[49:])},
	}})
	path := filepath.Join(t.TempDir(), "jwks.json")
	os.WriteFile(path, jwks, 0o600)
	return &Issuer{RSA: rk, EC: ek, JWKS: path}
}

// Sign makes a token with the given algorithm (RS256 or ES384) and claims.
func (i *Issuer) Sign(alg string, claims map[string]any) string {
	kid := "rsa-1"
	if alg == "ES384" {
		kid = "ec-1"
	}
	h, _ := json.Marshal(map[string]string{"alg": alg, "kid": kid, "typ": "JWT"})
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	var sig []byte
	if alg == "ES384" {
		d := sha512.Sum384([]byte(input))
		r, s, _ := ecdsa.Sign(rand.Reader, i.EC, d[:])
		sig = append(r.FillBytes(make([]byte, 48)), s.FillBytes(make([]byte, 48))...)
	} else {
		d := sha256.Sum256([]byte(input))
		sig, _ = rsa.SignPKCS1v15(rand.Reader, i.RSA, crypto.SHA256, d[:])
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}
