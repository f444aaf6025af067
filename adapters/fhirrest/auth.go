package fhirrest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"

	"github.com/golang-jwt/jwt/v5"

	"github.com/nhs-genomics/results-gateway/adapters"
)

// AuthConfig says how the adapter authenticates to the EPR.
type AuthConfig struct {
	Type string `json:"type"` // none, bearer, client-credentials, smart-backend

	Token    string `json:"token,omitempty"`    // bearer
	TokenEnv string `json:"tokenEnv,omitempty"` // or the environment variable holding it (secrets stay out of the file)

	TokenURL        string `json:"tokenUrl,omitempty"` // client-credentials, smart-backend
	ClientID        string `json:"clientId,omitempty"`
	ClientSecret    string `json:"clientSecret,omitempty"`    // client-credentials
	ClientSecretEnv string `json:"clientSecretEnv,omitempty"` // or the environment variable holding it
	Scope           string `json:"scope,omitempty"`           // e.g. system/DiagnosticReport.write

	PrivateKeyFile string `json:"privateKeyFile,omitempty"` // smart-backend: PEM, RSA or EC P-384
	KeyID          string `json:"keyId,omitempty"`          // smart-backend: "kid" of the registered JWKS key
}

// tokenSource gives the Authorization header value, fetching a token when needed.
type tokenSource interface {
	token(ctx context.Context) (string, error)
	invalidate(failed string) // after a 401 to the failed token: the next call fetches a fresh one
}

func newTokenSource(c AuthConfig, client *http.Client) (tokenSource, error) {
	if c.TokenEnv != "" {
		if c.Token != "" {
			return nil, errors.New("auth: give token or tokenEnv, not both")
		}
		c.Token = os.Getenv(c.TokenEnv)
	}
	if c.ClientSecretEnv != "" {
		if c.ClientSecret != "" {
			return nil, errors.New("auth: give clientSecret or clientSecretEnv, not both")
		}
		c.ClientSecret = os.Getenv(c.ClientSecretEnv)
	}
	switch c.Type {
	case "", "none":
		return nil, nil
	case "bearer":
		if c.Token == "" {
			return nil, errors.New("auth.token (or a set variable named by auth.tokenEnv) is required for bearer auth")
		}
		return staticToken(c.Token), nil
	case "client-credentials", "smart-backend":
		if _, err := url.ParseRequestURI(c.TokenURL); err != nil || c.ClientID == "" {
			return nil, fmt.Errorf("auth.tokenUrl and auth.clientId are required for %s", c.Type)
		}
		o := &adapters.OAuth{TokenURL: c.TokenURL, ClientID: c.ClientID, ClientSecret: c.ClientSecret, Scope: c.Scope, KeyID: c.KeyID, Client: client}
		if c.Type == "client-credentials" && c.ClientSecret == "" {
			return nil, errors.New("auth.clientSecret (or a set variable named by auth.clientSecretEnv) is required for client-credentials")
		}
		if c.Type == "smart-backend" {
			key, method, err := loadKey(c.PrivateKeyFile)
			if err != nil {
				return nil, err
			}
			o.Key, o.Method = key, method
		}
		return oauth{o}, nil
	}
	return nil, fmt.Errorf("auth.type %q is not none, bearer, client-credentials or smart-backend", c.Type)
}

type staticToken string

func (t staticToken) token(context.Context) (string, error) { return "Bearer " + string(t), nil }
func (staticToken) invalidate(string)                       {}

// oauth adapts the shared adapters.OAuth to tokenSource.
type oauth struct{ *adapters.OAuth }

func (o oauth) token(ctx context.Context) (string, error) { return o.Token(ctx) }
func (o oauth) invalidate(failed string)                  { o.Invalidate(failed) }

type authRejected = adapters.AuthRejected

// loadKey reads a PEM private key: RSA signs RS384, EC P-384 signs ES384.
func loadKey(path string) (crypto.Signer, jwt.SigningMethod, error) {
	key, err := adapters.LoadPrivateKey("auth.privateKeyFile", path)
	if err != nil {
		return nil, nil, err
	}
	if k, ok := key.(*ecdsa.PrivateKey); ok {
		if k.Curve.Params().BitSize != 384 {
			return nil, nil, fmt.Errorf("auth.privateKeyFile %s: ES384 needs a P-384 key", path)
		}
		return k, jwt.SigningMethodES384, nil
	}
	return key, jwt.SigningMethodRS384, nil
}
