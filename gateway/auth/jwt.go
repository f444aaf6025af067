package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// JWTConfig says which JWTs to trust and how their claims become a principal.
type JWTConfig struct {
	JWKSFile   string `json:"jwksFile"`  // the issuer's public keys (a JWKS document)
	Issuer     string `json:"issuer"`    // required "iss"
	Audience   string `json:"audience"`  // required in "aud"
	RoleClaim  string `json:"roleClaim"` // default "role": lab, trust or operator
	ODSClaim   string `json:"odsClaim"`  // default "ods": the organisation's ODS code
	LeewaySecs int    `json:"leewaySeconds"`
}

// JWT verifies bearer JWTs (RS256/RS384/ES256/ES384) against a JWKS: the
// way an EPR using SMART Backend Services presents its access token.
type JWT struct {
	cfg  JWTConfig
	keys map[string]crypto.PublicKey // by kid
	now  func() time.Time
}

// NewJWT loads the JWKS and checks the configuration.
func NewJWT(c JWTConfig, now func() time.Time) (*JWT, error) {
	if c.Issuer == "" || c.Audience == "" {
		return nil, errors.New("jwt: issuer and audience are required")
	}
	if c.RoleClaim == "" {
		c.RoleClaim = "role"
	}
	if c.ODSClaim == "" {
		c.ODSClaim = "ods"
	}
	raw, err := os.ReadFile(c.JWKSFile)
	if err != nil {
		return nil, fmt.Errorf("jwt.jwksFile: %w", err)
	}
	keys, err := parseJWKS(raw)
	if err != nil {
		return nil, fmt.Errorf("jwt.jwksFile %s: %w", c.JWKSFile, err)
	}
	return &JWT{cfg: c, keys: keys, now: now}, nil
}

type jwk struct {
	Kty, Kid, N, E, Crv, X, Y string
}

func parseJWKS(raw []byte) (map[string]crypto.PublicKey, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, err
	}
	keys := map[string]crypto.PublicKey{}
	b64 := func(s string) *big.Int {
		b, _ := base64.RawURLEncoding.DecodeString(s)
		return new(big.Int).SetBytes(b)
	}
	for _, k := range set.Keys {
		switch k.Kty {
		case "RSA":
			keys[k.Kid] = &rsa.PublicKey{N: b64(k.N), E: int(b64(k.E).Int64())}
		case "EC":
			curve := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384()}[k.Crv]
			if curve == nil {
				return nil, fmt.Errorf("key %s: curve %q not supported", k.Kid, k.Crv)
			}
			size := (curve.Params().BitSize + 7) / 8
			point := append([]byte{4}, append(b64(k.X).FillBytes(make([]byte, size)), b64(k.Y).FillBytes(make([]byte, size))...)...)
			pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
			if err != nil {
				return nil, fmt.Errorf("key %s: %w", k.Kid, err)
			}
			keys[k.Kid] = pub
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no RSA or EC keys")
	}
	return keys, nil
}

var errToken = gateway.Errorf(gateway.EUNAUTHORIZED, "the bearer token is not valid")

// Authenticate implements gateway.Authenticator.
func (j *JWT) Authenticate(token string) (gateway.Principal, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return gateway.Principal{}, errToken
	}
	var header struct{ Alg, Kid string }
	var claims map[string]any
	if decode(parts[0], &header) != nil || decode(parts[1], &claims) != nil {
		return gateway.Principal{}, errToken
	}
	key, ok := j.keys[header.Kid]
	if !ok || !verify(header.Alg, key, parts[0]+"."+parts[1], parts[2]) {
		return gateway.Principal{}, gateway.Errorf(gateway.EUNAUTHORIZED, "the bearer token's signature does not verify")
	}
	now, leeway := j.now(), time.Duration(j.cfg.LeewaySecs)*time.Second
	exp, hasExp := claims["exp"].(float64)
	if !hasExp || now.After(time.Unix(int64(exp), 0).Add(leeway)) {
		return gateway.Principal{}, gateway.Errorf(gateway.EUNAUTHORIZED, "the bearer token has expired")
	}
	if nbf, ok := claims["nbf"].(float64); ok && now.Add(leeway).Before(time.Unix(int64(nbf), 0)) {
		return gateway.Principal{}, gateway.Errorf(gateway.EUNAUTHORIZED, "the bearer token is not valid yet")
	}
	if claims["iss"] != j.cfg.Issuer || !audience(claims["aud"], j.cfg.Audience) {
		return gateway.Principal{}, gateway.Errorf(gateway.EUNAUTHORIZED, "the bearer token is for another issuer or audience")
	}
	p := gateway.Principal{Role: gateway.Role(str(claims[j.cfg.RoleClaim])), ODSCode: str(claims[j.cfg.ODSClaim])}
	p.Subject = "jwt:" + str(claims["sub"])
	if scope := str(claims["scope"]); scope != "" {
		p.Scopes = strings.Fields(scope)
	}
	switch p.Role {
	case gateway.RoleOperator:
	case gateway.RoleLab, gateway.RoleTrust:
		if p.ODSCode == "" {
			return gateway.Principal{}, gateway.Errorf(gateway.EUNAUTHORIZED, "the bearer token names no organisation")
		}
	default:
		return gateway.Principal{}, gateway.Errorf(gateway.EUNAUTHORIZED, "the bearer token grants no role")
	}
	return p, nil
}

func decode(part string, into any) error {
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}

func verify(alg string, key crypto.PublicKey, input, sig string) bool {
	s, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	var digest []byte
	var hash crypto.Hash
	switch alg {
	case "RS256", "ES256":
		d := sha256.Sum256([]byte(input))
		digest, hash = d[:], crypto.SHA256
	case "RS384", "ES384":
		d := sha512.Sum384([]byte(input))
		digest, hash = d[:], crypto.SHA384
	default:
		return false // "none" and anything else is refused
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") && rsa.VerifyPKCS1v15(k, hash, digest, s) == nil
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		return strings.HasPrefix(alg, "ES") && len(s) == 2*size &&
			ecdsa.Verify(k, digest, new(big.Int).SetBytes(s[:size]), new(big.Int).SetBytes(s[size:]))
	}
	return false
}

func audience(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		for _, x := range a {
			if x == want {
				return true
			}
		}
	}
	return false
}

func str(v any) string { s, _ := v.(string); return s }

// Chain tries each authenticator in turn: configured tokens, then JWTs.
type Chain []gateway.Authenticator

// Authenticate implements gateway.Authenticator: the first success wins;
// otherwise the most specific failure (a JWT's reason) is reported.
func (c Chain) Authenticate(token string) (gateway.Principal, error) {
	var last error = errToken
	for _, a := range c {
		p, err := a.Authenticate(token)
		if err == nil {
			return p, nil
		}
		if strings.Count(token, ".") == 2 {
			last = err
		}
	}
	return gateway.Principal{}, last
}
