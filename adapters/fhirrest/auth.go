package fhirrest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AuthConfig says how the adapter authenticates to the EPR.
type AuthConfig struct {
	Type string `json:"type"` // none, bearer, client-credentials, smart-backend

	Token string `json:"token,omitempty"` // bearer

	TokenURL     string `json:"tokenUrl,omitempty"` // client-credentials, smart-backend
	ClientID     string `json:"clientId,omitempty"`
	ClientSecret string `json:"clientSecret,omitempty"` // client-credentials
	Scope        string `json:"scope,omitempty"`        // e.g. system/DiagnosticReport.write

	PrivateKeyFile string `json:"privateKeyFile,omitempty"` // smart-backend: PEM, RSA or EC P-384
	KeyID          string `json:"keyId,omitempty"`          // smart-backend: "kid" of the registered JWKS key
}

// tokenSource gives the Authorization header value, fetching a token when needed.
type tokenSource interface {
	token(ctx context.Context) (string, error)
	invalidate() // after a 401: the next call fetches a fresh token
}

func newTokenSource(c AuthConfig, client *http.Client) (tokenSource, error) {
	switch c.Type {
	case "", "none":
		return nil, nil
	case "bearer":
		if c.Token == "" {
			return nil, errors.New("auth.token is required for bearer auth")
		}
		return staticToken(c.Token), nil
	case "client-credentials", "smart-backend":
		if _, err := url.ParseRequestURI(c.TokenURL); err != nil || c.ClientID == "" {
			return nil, fmt.Errorf("auth.tokenUrl and auth.clientId are required for %s", c.Type)
		}
		o := &oauth{cfg: c, client: client}
		if c.Type == "client-credentials" && c.ClientSecret == "" {
			return nil, errors.New("auth.clientSecret is required for client-credentials")
		}
		if c.Type == "smart-backend" {
			key, alg, err := loadKey(c.PrivateKeyFile)
			if err != nil {
				return nil, err
			}
			o.key, o.alg = key, alg
		}
		return o, nil
	}
	return nil, fmt.Errorf("auth.type %q is not none, bearer, client-credentials or smart-backend", c.Type)
}

type staticToken string

func (t staticToken) token(context.Context) (string, error) { return "Bearer " + string(t), nil }
func (staticToken) invalidate()                             {}

// oauth fetches access tokens with the client credentials grant, either with
// a client secret or (SMART Backend Services) a signed JWT client assertion,
// and caches each until shortly before it expires.
type oauth struct {
	cfg    AuthConfig
	client *http.Client
	key    crypto.Signer
	alg    string

	mu      sync.Mutex
	current string
	expires time.Time
}

func (o *oauth) invalidate() {
	o.mu.Lock()
	o.current = ""
	o.mu.Unlock()
}

func (o *oauth) token(ctx context.Context) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.current != "" && time.Now().Before(o.expires) {
		return o.current, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	if o.cfg.Scope != "" {
		form.Set("scope", o.cfg.Scope)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.cfg.TokenURL, nil)
	if err != nil {
		return "", err
	}
	if o.key != nil {
		assertion, err := o.assertion()
		if err != nil {
			return "", err
		}
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", assertion)
	} else {
		req.SetBasicAuth(url.QueryEscape(o.cfg.ClientID), url.QueryEscape(o.cfg.ClientSecret))
	}
	req.Body = io.NopCloser(strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := o.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("token endpoint: %w", err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&tr)
	if resp.StatusCode != http.StatusOK || tr.AccessToken == "" {
		err := fmt.Errorf("token endpoint answered %s: %s %s", resp.Status, tr.Error, tr.Description)
		if resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized {
			return "", &authRejected{err} // wrong credentials: retrying will not help
		}
		return "", err
	}
	life := time.Duration(tr.ExpiresIn) * time.Second
	if life <= 0 {
		life = 5 * time.Minute
	}
	// Refresh a minute early (or at half-life for short tokens) so a token never expires mid-request.
	o.current, o.expires = "Bearer "+tr.AccessToken, time.Now().Add(max(life/2, life-time.Minute))
	return o.current, nil
}

type authRejected struct{ error }

func (e *authRejected) Unwrap() error { return e.error }

// assertion builds the SMART Backend Services client assertion: a JWT signed
// with the client's private key, issued by and about the client, for the
// token endpoint, valid for five minutes, with a unique jti.
func (o *oauth) assertion() (string, error) {
	jti := make([]byte, 16)
	rand.Read(jti)
	now := time.Now()
	var method jwt.SigningMethod = jwt.SigningMethodRS384
	if o.alg == "ES384" {
		method = jwt.SigningMethodES384
	}
	tok := jwt.NewWithClaims(method, jwt.MapClaims{ // aud a single string, as SMART's examples and most servers expect
		"iss": o.cfg.ClientID, "sub": o.cfg.ClientID, "aud": o.cfg.TokenURL,
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "jti": base64.RawURLEncoding.EncodeToString(jti),
	})
	if o.cfg.KeyID != "" {
		tok.Header["kid"] = o.cfg.KeyID
	}
	return tok.SignedString(o.key)
}

// loadKey reads a PEM private key: RSA signs RS384, EC P-384 signs ES384.
func loadKey(path string) (crypto.Signer, string, error) {
	if path == "" {
		return nil, "", errors.New("auth.privateKeyFile is required for smart-backend")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("auth.privateKeyFile: %w", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, "", fmt.Errorf("auth.privateKeyFile %s holds no PEM block", path)
	}
	var key any
	if key, err = x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		if key, err = x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
			if key, err = x509.ParseECPrivateKey(block.Bytes); err != nil {
				return nil, "", fmt.Errorf("auth.privateKeyFile %s: not a PKCS#8, PKCS#1 or EC private key", path)
			}
		}
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, "RS384", nil
	case *ecdsa.PrivateKey:
		if k.Curve.Params().BitSize != 384 {
			return nil, "", fmt.Errorf("auth.privateKeyFile %s: ES384 needs a P-384 key", path)
		}
		return k, "ES384", nil
	}
	return nil, "", fmt.Errorf("auth.privateKeyFile %s: unsupported key type %T", path, key)
}
