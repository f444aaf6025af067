package adapters

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

// OAuth fetches access tokens with the OAuth 2.0 client credentials grant,
// either with a client secret or with a signed JWT client assertion (SMART
// Backend Services; NHS England's application-restricted "signed JWT"
// pattern), and caches each until shortly before it expires.
//
// One OAuth is shared by all of a destination's workers: the first caller
// fetches a token while the others wait for it, so a burst of deliveries
// costs one token request, not one each.
type OAuth struct {
	TokenURL     string
	ClientID     string
	ClientSecret string // client secret (HTTP Basic); empty with Key
	Scope        string // optional scope parameter
	// Key signs the client assertion; Method is its JWT algorithm (RS384,
	// RS512, ES384 ...). KeyID goes in the JWT header as "kid".
	Key    crypto.Signer
	Method jwt.SigningMethod
	KeyID  string
	// Audience is the assertion's "aud" (the token URL when empty).
	Audience string
	Client   *http.Client

	// sem is the lock on the cached token, held while one fetch runs: a
	// channel rather than a mutex, so a delivery waiting behind a slow token
	// endpoint gives up when its own context ends.
	sem     chan struct{}
	once    sync.Once
	current string
	expires time.Time
}

func (o *OAuth) lock(ctx context.Context) error {
	o.once.Do(func() { o.sem = make(chan struct{}, 1) })
	select {
	case o.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for an access token: %w", ctx.Err())
	}
}

func (o *OAuth) unlock() { <-o.sem }

// AuthRejected is the token endpoint refusing the client (HTTP 400 or 401):
// wrong credentials, an unknown key, a bad assertion. Retrying will not help.
type AuthRejected struct{ error }

func (e *AuthRejected) Unwrap() error { return e.error }

// Invalidate drops the cached token after the API answered 401 to it. Only
// the token that failed is dropped: a concurrent delivery that already
// fetched a fresh one keeps it.
func (o *OAuth) Invalidate(failed string) {
	o.lock(context.Background())
	if failed == "" || o.current == failed {
		o.current = ""
	}
	o.unlock()
}

// Token returns the Authorization header value ("Bearer ..."), fetching a
// token when none is cached or the cached one is about to expire.
func (o *OAuth) Token(ctx context.Context) (string, error) {
	if err := o.lock(ctx); err != nil {
		return "", err
	}
	defer o.unlock()
	if o.current != "" && time.Now().Before(o.expires) {
		return o.current, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	if o.Scope != "" {
		form.Set("scope", o.Scope)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.TokenURL, nil)
	if err != nil {
		return "", err
	}
	if o.Key != nil {
		assertion, err := o.assertion()
		if err != nil {
			return "", err
		}
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", assertion)
	} else {
		req.SetBasicAuth(url.QueryEscape(o.ClientID), url.QueryEscape(o.ClientSecret))
	}
	req.Body = io.NopCloser(strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := o.Client.Do(req)
	if err != nil {
		return "", fmt.Errorf("token endpoint: %w", NoAnswer(http.MethodPost, req.URL.String(), err))
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string      `json:"access_token"`
		TokenType   string      `json:"token_type"`
		ExpiresIn   json.Number `json:"expires_in"` // NHS England's endpoint sends a string, others a number
		Error       string      `json:"error"`
		Description string      `json:"error_description"`
	}
	json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&tr)
	if resp.StatusCode != http.StatusOK || tr.AccessToken == "" {
		err := fmt.Errorf("token endpoint answered %s: %s %s", resp.Status, tr.Error, tr.Description)
		if resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized {
			return "", &AuthRejected{err} // wrong credentials: retrying will not help
		}
		return "", err
	}
	seconds, _ := tr.ExpiresIn.Int64()
	life := time.Duration(seconds) * time.Second
	if life <= 0 {
		life = 5 * time.Minute
	}
	// Refresh a minute early (or at half-life for short tokens) so a token never expires mid-request.
	o.current, o.expires = "Bearer "+tr.AccessToken, time.Now().Add(max(life/2, life-time.Minute))
	return o.current, nil
}

// assertion builds the client assertion: a JWT signed with the client's
// private key, issued by and about the client, for the token endpoint,
// valid for five minutes (NHS England's maximum), with a unique jti.
func (o *OAuth) assertion() (string, error) {
	jti := make([]byte, 16)
	rand.Read(jti)
	now := time.Now()
	aud := o.Audience
	if aud == "" {
		aud = o.TokenURL
	}
	tok := jwt.NewWithClaims(o.Method, jwt.MapClaims{ // aud a single string, as SMART's and NHS England's examples and most servers expect
		"iss": o.ClientID, "sub": o.ClientID, "aud": aud,
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "jti": base64.RawURLEncoding.EncodeToString(jti),
	})
	if o.KeyID != "" {
		tok.Header["kid"] = o.KeyID
	}
	return tok.SignedString(o.Key)
}

// LoadPrivateKey reads a PEM private key (PKCS#8, PKCS#1 or SEC 1 EC);
// field names the configuration field in messages.
func LoadPrivateKey(field, path string) (crypto.Signer, error) {
	if path == "" {
		return nil, fmt.Errorf("%s is required", field)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("%s %s holds no PEM block", field, path)
	}
	var key any
	if key, err = x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		if key, err = x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
			if key, err = x509.ParseECPrivateKey(block.Bytes); err != nil {
				return nil, fmt.Errorf("%s %s: not a PKCS#8, PKCS#1 or EC private key", field, path)
			}
		}
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	}
	return nil, errors.New(field + ": unsupported key type")
}
