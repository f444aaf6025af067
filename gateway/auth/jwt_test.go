package auth_test

import (
	"encoding/base64"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/gateway/auth"
	"github.com/nhs-genomics/results-gateway/internal/testjwt"
)

func claims(extra map[string]any) map[string]any {
	c := map[string]any{"iss": "https://auth.example.nhs.uk", "aud": "results-gateway", "sub": "epr-client",
		"exp": time.Now().Add(5 * time.Minute).Unix(), "role": "trust", "ods": "R0A", "scope": "system/DiagnosticReport.read system/Patient.read"}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func TestJWT(t *testing.T) {
	iss := testjwt.NewIssuer(t)
	v, err := auth.NewJWT(t.Context(), auth.JWTConfig{JWKSFile: iss.JWKS, Issuer: "https://auth.example.nhs.uk", Audience: "results-gateway"}, time.Now, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []string{"RS256", "ES384"} {
		p, err := v.Authenticate(iss.Sign(alg, claims(nil)))
		if err != nil || p.Role != gateway.RoleTrust || p.ODSCode != "R0A" || len(p.Scopes) != 2 || p.Subject != "jwt:epr-client" {
			t.Fatalf("%s: %+v %v", alg, p, err)
		}
	}
	exp := time.Now().Add(time.Minute).Truncate(time.Second)
	if p, err := v.Authenticate(iss.Sign("ES384", claims(map[string]any{"exp": exp.Unix(), "ods": "r0a"}))); err != nil || !p.Expires.Equal(exp) || p.ODSCode != "R0A" {
		t.Errorf("exp and a lower-case ODS code: %+v %v, want expiry %v and R0A", p, err, exp)
	}
	good := iss.Sign("RS256", claims(nil))
	parts := strings.Split(good, ".")
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://auth.example.nhs.uk","aud":"results-gateway","exp":9999999999,"role":"operator"}`)) + "." + parts[2]
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"rsa-1"}`)) + "." + parts[1] + "."
	for name, tc := range map[string]struct{ token, want string }{
		"expired":       {iss.Sign("RS256", claims(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()})), "expired"},
		"no exp":        {iss.Sign("RS256", claims(map[string]any{"exp": nil})), "no exp"},
		"forged claims": {forged, "signature"},
		"alg none":      {none, "signature"},
		"wrong aud":     {iss.Sign("ES384", claims(map[string]any{"aud": "someone-else"})), "audience"},
		"wrong iss":     {iss.Sign("ES384", claims(map[string]any{"iss": "https://evil"})), "issuer"},
		"no role":       {iss.Sign("RS256", claims(map[string]any{"role": "admin"})), "no role"},
		"trust w/o ods": {iss.Sign("RS256", claims(map[string]any{"ods": nil})), "organisation"},
		"not a jwt":     {"abc", "not valid"},
		"no aud":        {iss.Sign("ES384", claims(map[string]any{"aud": nil})), "no aud (audience)"},
		"no iss":        {iss.Sign("ES384", claims(map[string]any{"iss": nil})), "no iss (issuer)"},
		"empty scope":   {iss.Sign("ES384", claims(map[string]any{"scope": ""})), "grants nothing"},
	} {
		_, err := v.Authenticate(tc.token)
		if gateway.ErrorCode(err) != gateway.EUNAUTHORIZED || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want unauthorized mentioning %q", name, err, tc.want)
		}
	}
}

// TestJWKSFileReread: a key rotation written to the JWKS file is taken
// without a restart; a bad file in between is logged and the keys before
// it kept, so callers are not locked out.
func TestJWKSFileReread(t *testing.T) {
	iss := testjwt.NewIssuer(t)
	var logs strings.Builder
	v, err := auth.NewJWT(t.Context(), auth.JWTConfig{JWKSFile: iss.JWKS, Issuer: "https://auth.example.nhs.uk", Audience: "results-gateway"},
		time.Now, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	old := iss.Sign("RS256", claims(nil))
	iss.Rotate()
	rotated := iss.Sign("RS256", claims(nil))
	if _, err := v.Authenticate(rotated); err == nil {
		t.Fatal("a token signed with a key not yet in the file was accepted")
	}
	// accepted waits (bounded) for the file's next check to take token.
	accepted := func(token string) bool {
		for i := 0; i < 100; i++ {
			if _, err := v.Authenticate(token); err == nil {
				return true
			}
			time.Sleep(50 * time.Millisecond)
		}
		return false
	}
	if err := os.WriteFile(iss.JWKS, []byte(`{"keys": [`), 0o600); err != nil { // half-written
		t.Fatal(err)
	}
	for i := 0; !strings.Contains(logs.String(), "jwks file not reloaded"); i++ {
		if i > 100 {
			t.Fatalf("a bad JWKS file was not reported: %s", logs.String())
		}
		v.Authenticate(old)
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := v.Authenticate(old); err != nil {
		t.Fatalf("a bad JWKS file locked out a token its previous keys verify: %v", err)
	}
	if err := iss.WriteFile(); err != nil {
		t.Fatal(err)
	}
	if !accepted(rotated) {
		t.Fatal("a token signed with the rotated key was still refused after the file was rewritten")
	}
	if !accepted(old) {
		t.Fatal("the key still published was dropped")
	}
}

// TestJWKSByURL: the keys come from the issuer's JWKS URL; after a key
// rotation a token signed with the new key is accepted without a restart,
// and tokens naming unknown keys cannot make the gateway fetch the JWKS
// again and again.
func TestJWKSByURL(t *testing.T) {
	iss := testjwt.NewIssuer(t)
	url, fetches := iss.Serve(t)
	v, err := auth.NewJWT(t.Context(), auth.JWTConfig{JWKSURL: url, Issuer: "https://auth.example.nhs.uk", Audience: "results-gateway"},
		time.Now, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Authenticate(iss.Sign("RS256", claims(nil))); err != nil {
		t.Fatalf("a token signed with a published key: %v", err)
	}
	before := fetches()
	iss.Rotate()
	if _, err := v.Authenticate(iss.Sign("RS256", claims(nil))); err != nil {
		t.Fatalf("a token signed with the rotated key: %v", err)
	}
	if fetches() != before+1 {
		t.Fatalf("the rotation took %d fetches, want 1", fetches()-before)
	}
	iss.Rotate() // a second unknown key within the rate limit: refused without a fetch
	if _, err := v.Authenticate(iss.Sign("RS256", claims(nil))); err == nil {
		t.Fatal("a second unknown key within a minute was fetched and accepted")
	}
	if fetches() != before+1 {
		t.Fatalf("unknown keys fetched the JWKS %d times in a minute", fetches()-before)
	}
	if _, err := auth.NewJWT(t.Context(), auth.JWTConfig{JWKSURL: "http://idp.example.nhs.uk/jwks", Issuer: "i", Audience: "a"},
		time.Now, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "https") {
		t.Fatalf("a JWKS over plain http from another host: %v", err)
	}
}

// TestTokenEndpointMustBeAURL: the token endpoint is published for SMART
// discovery; one that is not an http(s) URL is a configuration error.
func TestTokenEndpointMustBeAURL(t *testing.T) {
	iss := testjwt.NewIssuer(t)
	for endpoint, ok := range map[string]bool{"https://auth.example.nhs.uk/token": true, "": true, "auth.example.nhs.uk/token": false, "ftp://x/token": false} {
		_, err := auth.NewJWT(t.Context(), auth.JWTConfig{JWKSFile: iss.JWKS, Issuer: "i", Audience: "a", TokenEndpoint: endpoint},
			time.Now, slog.New(slog.DiscardHandler))
		if (err == nil) != ok {
			t.Errorf("tokenEndpoint %q: %v", endpoint, err)
		}
	}
}
