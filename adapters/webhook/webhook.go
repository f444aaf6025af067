// Package webhook tells an EPR that pulls results that a report is
// available: it POSTs a small JSON notice, signed with HMAC-SHA256 so the
// EPR can tell it came from the gateway and was not replayed.
//
// Headers: X-Gateway-Timestamp (Unix seconds) and X-Gateway-Signature
// ("sha256=" + hex HMAC-SHA256 of timestamp + "." + body, keyed with the
// shared secret). Receivers should reject timestamps older than a few minutes.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/nhs-genomics/results-gateway/adapters"
	"github.com/nhs-genomics/results-gateway/gateway"
)

// Kind is the destination kind.
const Kind = "webhook"

// Config is the destination's "config".
type Config struct {
	URL       string             `json:"url"`
	Secret    string             `json:"secret,omitempty"`
	SecretEnv string             `json:"secretEnv,omitempty"` // or read the secret from this environment variable
	TLS       adapters.TLSConfig `json:"tls"`
}

// Adapter posts notices to one URL.
type Adapter struct {
	url    string
	secret []byte
	client *http.Client
	now    func() time.Time
}

var _ gateway.Adapter = (*Adapter)(nil)

// New is the registry factory.
func New(raw json.RawMessage) (gateway.Adapter, error) {
	var c Config
	if err := adapters.Decode(raw, &c); err != nil {
		return nil, err
	}
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("config.url %q is not an http(s) URL", c.URL)
	}
	if c.SecretEnv != "" {
		c.Secret = os.Getenv(c.SecretEnv)
	}
	if len(c.Secret) < 16 {
		return nil, errors.New("config.secret (or the variable named by secretEnv) must be at least 16 characters")
	}
	tlsConfig, err := c.TLS.Client()
	if err != nil {
		return nil, err
	}
	return &Adapter{url: c.URL, secret: []byte(c.Secret), now: time.Now, client: adapters.HTTPClient(tlsConfig, 0)}, nil
}

// Sign returns the signature header value for a timestamp and body.
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp + "."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Deliver implements gateway.Adapter; it signs at sending time so every
// attempt carries a fresh timestamp.
func (a *Adapter) Deliver(ctx context.Context, d *gateway.Delivery) (string, error) {
	ts := strconv.FormatInt(a.now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url, bytes.NewReader(d.Payload))
	if err != nil {
		return "", gateway.Permanent(err)
	}
	req.Header.Set("Content-Type", d.ContentType)
	req.Header.Set("X-Gateway-Timestamp", ts)
	req.Header.Set("X-Gateway-Signature", Sign(a.secret, ts, d.Payload))
	resp, err := a.client.Do(req)
	if err != nil {
		return "", adapters.NoAnswer("POST notice to", a.url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err := adapters.HTTPOutcome(resp, body, "the notice"); err != nil {
		return "", err
	}
	return "notified (" + resp.Status + ")", nil
}
