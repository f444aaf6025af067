package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// JWTConfig says which JWTs to trust and how their claims become a principal.
type JWTConfig struct {
	// The issuer's public keys: a JWKS file, re-read when it changes, or
	// (better) its URL, fetched at start-up, refreshed every hour and again
	// when a token names a key not yet seen (at most once a minute). Either
	// way a key rotation needs no restart.
	JWKSFile   string `json:"jwksFile,omitempty"`
	JWKSURL    string `json:"jwksUrl,omitempty"`
	Issuer     string `json:"issuer"`    // required "iss"
	Audience   string `json:"audience"`  // required in "aud"
	RoleClaim  string `json:"roleClaim"` // default "role": lab, trust or operator
	ODSClaim   string `json:"odsClaim"`  // default "ods": the organisation's ODS code
	LeewaySecs int    `json:"leewaySeconds"`
	// TokenEndpoint is where clients get their tokens (the issuer's OAuth
	// token endpoint): published in /fhir/.well-known/smart-configuration
	// and the CapabilityStatement, so a SMART client can find it.
	TokenEndpoint string `json:"tokenEndpoint,omitempty"`
}

// The algorithms accepted: asymmetric only, so a public key can never be
// used as an HMAC secret, and never "none".
var jwtAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}

// unknownKeyRefresh is how often a token naming an unknown key may make
// the gateway fetch the JWKS again: enough for a rotation, too seldom for
// a flood of forged kids to hammer the issuer.
var unknownKeyRefresh = time.Minute

// JWT verifies bearer JWTs against the issuer's JWKS: the way an EPR using
// SMART Backend Services presents its access token. Parsing, signature
// and claim checks are github.com/golang-jwt/jwt/v5; fetching, caching and
// refreshing the key set are github.com/MicahParks/keyfunc/v3.
type JWT struct {
	cfg    JWTConfig
	keys   keySet
	parser *jwt.Parser
}

// keySet finds the key a token is signed with: keyfunc's, over a URL, or
// jwksFile's.
type keySet interface {
	Keyfunc(token *jwt.Token) (any, error)
}

// NewJWT loads the JWKS (a file now and when it changes; a URL now and in
// the background until ctx ends) and checks the configuration.
func NewJWT(ctx context.Context, c JWTConfig, now func() time.Time, log *slog.Logger) (*JWT, error) {
	if c.Issuer == "" || c.Audience == "" {
		return nil, errors.New("jwt: issuer and audience are required")
	}
	if (c.JWKSFile == "") == (c.JWKSURL == "") {
		return nil, errors.New("jwt: set one of jwksFile and jwksUrl")
	}
	if u, err := url.Parse(c.TokenEndpoint); c.TokenEndpoint != "" && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
		return nil, fmt.Errorf("jwt.tokenEndpoint %q is not an http(s) URL", c.TokenEndpoint)
	}
	if c.RoleClaim == "" {
		c.RoleClaim = "role"
	}
	if c.ODSClaim == "" {
		c.ODSClaim = "ods"
	}
	var keys keySet
	if c.JWKSFile != "" {
		var err error
		if keys, err = newJWKSFile(c.JWKSFile, log); err != nil {
			return nil, err
		}
	} else {
		if !strings.HasPrefix(c.JWKSURL, "https://") && !strings.HasPrefix(c.JWKSURL, "http://127.0.0.1") && !strings.HasPrefix(c.JWKSURL, "http://localhost") {
			return nil, fmt.Errorf("jwt.jwksUrl %q: keys that decide who may read results must come over https", c.JWKSURL)
		}
		var err error
		keys, err = keyfunc.NewDefaultOverrideCtx(ctx, []string{c.JWKSURL}, keyfunc.Override{
			Client: &http.Client{Timeout: 10 * time.Second}, RefreshInterval: time.Hour,
			RefreshUnknownKID: rate.NewLimiter(rate.Every(unknownKeyRefresh), 1), RateLimitWaitMax: time.Second,
			RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
				return func(_ context.Context, err error) { log.Error("jwks refresh failed", "url", u, "error", err) }
			},
		})
		if err != nil {
			return nil, fmt.Errorf("jwt.jwksUrl %s: %w", c.JWKSURL, err)
		}
	}
	parser := jwt.NewParser(jwt.WithValidMethods(jwtAlgorithms), jwt.WithIssuer(c.Issuer), jwt.WithAudience(c.Audience),
		jwt.WithExpirationRequired(), jwt.WithLeeway(time.Duration(c.LeewaySecs)*time.Second), jwt.WithTimeFunc(now))
	return &JWT{cfg: c, keys: keys, parser: parser}, nil
}

var errToken = gateway.Errorf(gateway.EUNAUTHORIZED, "the bearer token is not valid")

// Authenticate implements gateway.Authenticator.
func (j *JWT) Authenticate(token string) (gateway.Principal, error) {
	claims := jwt.MapClaims{}
	if _, err := j.parser.ParseWithClaims(token, claims, j.keys.Keyfunc); err != nil {
		return gateway.Principal{}, tokenError(err, claims)
	}
	// ODS codes are upper case; an issuer that writes r0a means R0A.
	p := gateway.Principal{Role: gateway.Role(str(claims[j.cfg.RoleClaim])), ODSCode: strings.ToUpper(str(claims[j.cfg.ODSClaim]))}
	p.Subject = "jwt:" + str(claims["sub"])
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		p.Expires = exp.Time
	}
	if scope, present := claims["scope"]; present {
		// A token without the claim is limited by its role; one whose
		// claim is there but names nothing grants nothing, and is refused
		// rather than read as the first.
		if p.Scopes = strings.Fields(str(scope)); len(p.Scopes) == 0 {
			return gateway.Principal{}, gateway.Errorf(gateway.EUNAUTHORIZED, "the bearer token's scope claim grants nothing")
		}
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

// tokenError says why a token was refused, in words a client can act on.
// claims are the token's, read before it was refused: a missing claim is
// only reported once the signature has verified.
func tokenError(err error, claims jwt.MapClaims) error {
	msg := "the bearer token is not valid"
	switch {
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		msg = "the bearer token carries no " + missingClaim(claims)
	case errors.Is(err, jwt.ErrTokenExpired):
		msg = "the bearer token has expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		msg = "the bearer token is not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), errors.Is(err, jwt.ErrTokenInvalidAudience):
		msg = "the bearer token is for another issuer or audience"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		msg = "the bearer token's signature does not verify"
	}
	return gateway.Errorf(gateway.EUNAUTHORIZED, "%s", msg)
}

// missingClaim names the required claim a token lacks.
func missingClaim(claims jwt.MapClaims) string {
	for _, c := range []struct{ key, words string }{{"exp", "exp (expiry)"}, {"iss", "iss (issuer)"}, {"aud", "aud (audience)"}} {
		if _, ok := claims[c.key]; !ok {
			return c.words
		}
	}
	return "required claim"
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
