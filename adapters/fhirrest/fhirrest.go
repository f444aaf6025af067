// Package fhirrest delivers FHIR transaction Bundles to an EPR's FHIR R4
// REST endpoint and classifies the answer: 2xx delivered; 408, 429, 5xx and
// network errors retried (Retry-After honoured); other 4xx permanent, with
// the OperationOutcome text kept for the operator.
//
// Not every EPR implements transactions: mode "batch" sends a batch Bundle
// and mode "individual" one PUT per resource, both with references resolved
// to stable logical ids first (see modes.go).
package fhirrest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/nhs-genomics/results-gateway/adapters"
	"github.com/nhs-genomics/results-gateway/gateway"
)

// Kind is the destination kind.
const Kind = "fhir-rest"

// Config is the destination's "config".
type Config struct {
	BaseURL string             `json:"baseUrl"` // e.g. https://epr.example.nhs.uk/fhir
	Mode    string             `json:"mode"`    // transaction (default), batch or individual
	Auth    AuthConfig         `json:"auth"`
	TLS     adapters.TLSConfig `json:"tls"`
	// AllowInsecure lets credentials go to an http:// URL (a test EPR);
	// otherwise a token or client secret is never sent in clear.
	AllowInsecure bool `json:"allowInsecure"`
}

// Adapter posts Bundles to one FHIR server.
type Adapter struct {
	base   string
	mode   string
	auth   tokenSource
	client *http.Client
}

var _ gateway.Adapter = (*Adapter)(nil)

// New is the registry factory. Every configuration problem is reported at
// start-up, not at the first delivery.
func New(raw json.RawMessage) (gateway.Adapter, error) {
	var c Config
	if err := adapters.Decode(raw, &c); err != nil {
		return nil, err
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("config.baseUrl %q is not an http(s) URL", c.BaseURL)
	}
	switch c.Mode {
	case "":
		c.Mode = "transaction"
	case "transaction", "batch", "individual":
	default:
		return nil, fmt.Errorf("config.mode %q is not transaction, batch or individual", c.Mode)
	}
	tlsConfig, err := c.TLS.Client()
	if err != nil {
		return nil, err
	}
	client := adapters.HTTPClient(tlsConfig, 0)
	auth, err := newTokenSource(c.Auth, client)
	if err != nil {
		return nil, err
	}
	if auth != nil && !c.AllowInsecure {
		for _, kv := range [][2]string{{"baseUrl", c.BaseURL}, {"auth.tokenUrl", c.Auth.TokenURL}} {
			if key, target := kv[0], kv[1]; strings.HasPrefix(strings.ToLower(target), "http://") {
				return nil, fmt.Errorf("config.%s %q: credentials (auth.type %s) would travel in clear over http://: use https, or set allowInsecure for a test EPR", key, target, c.Auth.Type)
			}
		}
	}
	return &Adapter{base: strings.TrimRight(c.BaseURL, "/"), mode: c.Mode, auth: auth, client: client}, nil
}

// ReplaySafe: every write in the gateway's Bundles is a conditional create
// or update on a business identifier, so a Bundle taken twice changes
// nothing the second time (gateway.ReplaySafe).
func (a *Adapter) ReplaySafe() bool { return true }

// Deliver implements gateway.Adapter. The context carries the attempt's timeout.
func (a *Adapter) Deliver(ctx context.Context, d *gateway.Delivery) (string, error) {
	switch a.mode {
	case "batch":
		return a.deliverBatch(ctx, d.Payload)
	case "individual":
		return a.deliverIndividually(ctx, d.Payload)
	}
	resp, body, err := a.do(ctx, http.MethodPost, a.base, d.ContentType, d.Payload)
	if err != nil {
		return "", err
	}
	if err := classify(resp, body, "the Bundle"); err != nil {
		return "", err
	}
	return summarise(resp, body)
}

// do sends one request with authentication; on a 401 it fetches a fresh
// token and tries once more (the cached token may have been revoked).
func (a *Adapter) do(ctx context.Context, method, target, contentType string, body []byte) (*http.Response, []byte, error) {
	for try := 0; ; try++ {
		req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
		if err != nil {
			return nil, nil, gateway.Permanent(err)
		}
		if body != nil {
			req.Header.Set("Content-Type", contentType)
			// The gateway needs each entry's status and location, not the
			// resources echoed back: a much smaller answer for both sides.
			req.Header.Set("Prefer", "return=minimal")
		}
		req.Header.Set("Accept", "application/fhir+json")
		var tok string
		if a.auth != nil {
			tok, err = a.auth.token(ctx)
			if err != nil {
				var rejected *authRejected
				if errors.As(err, &rejected) {
					return nil, nil, gateway.Permanent(err)
				}
				return nil, nil, err
			}
			req.Header.Set("Authorization", tok)
		}
		resp, err := a.client.Do(req)
		if err != nil {
			return nil, nil, adapters.NoAnswer(method, target, err) // network error or timeout: retry
		}
		respBody, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized && a.auth != nil && try == 0 {
			a.auth.invalidate(tok)
			continue
		}
		return resp, respBody, nil
	}
}

// classify maps an HTTP answer to nil, a retryable error or a permanent one.
func classify(resp *http.Response, body []byte, what string) error {
	return adapters.HTTPOutcome(resp, body, what)
}

// summarise records the transaction-response: the DiagnosticReport's
// location, and the status of every entry. A transaction-response entry
// that failed means the server did not apply the Bundle as a whole.
func summarise(resp *http.Response, body []byte) (string, error) {
	var tr struct {
		ResourceType string `json:"resourceType"`
		Entry        []struct {
			Response struct {
				Status   string          `json:"status"`
				Location string          `json:"location"`
				Outcome  json.RawMessage `json:"outcome"`
			} `json:"response"`
		} `json:"entry"`
	}
	if json.Unmarshal(body, &tr) != nil || tr.ResourceType != "Bundle" {
		return resp.Header.Get("Location"), nil
	}
	report, counts := "", map[string]int{}
	var failed, said []string
	for i, e := range tr.Entry {
		code, _, _ := strings.Cut(e.Response.Status, " ")
		counts[code]++
		if strings.HasPrefix(e.Response.Location, "DiagnosticReport/") {
			report = e.Response.Location
		}
		if n, _ := strconv.Atoi(code); n >= 400 {
			d := diagnostics(e.Response.Outcome)
			failed, said = append(failed, fmt.Sprintf("entry %d: %s%s", i, e.Response.Status, d)), append(said, d)
		}
	}
	if len(failed) > 0 {
		return "", gateway.Permanent(gateway.ReceiverSaid(fmt.Errorf("FHIR server refused %d of %d entries: %s", len(failed), len(tr.Entry), strings.Join(failed, "; ")), said...))
	}
	var parts []string
	for _, code := range []string{"200", "201"} {
		if counts[code] > 0 {
			parts = append(parts, fmt.Sprintf("%d×%s", counts[code], code))
		}
	}
	return strings.TrimSpace(fmt.Sprintf("%s (%d entries: %s)", report, len(tr.Entry), strings.Join(parts, ", "))), nil
}

func diagnostics(body []byte) string { return adapters.Diagnostics(body) }
