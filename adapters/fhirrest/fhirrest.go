// Package fhirrest delivers FHIR transaction Bundles to an EPR's FHIR R4
// REST endpoint and classifies the answer: 2xx delivered; 408, 429, 5xx and
// network errors retried (Retry-After honoured); other 4xx permanent, with
// the OperationOutcome text kept for the operator.
package fhirrest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nhs-genomics/results-gateway/adapters"
	"github.com/nhs-genomics/results-gateway/gateway"
)

// Kind is the destination kind.
const Kind = "fhir-rest"

// Config is the destination's "config".
type Config struct {
	BaseURL     string `json:"baseUrl"`               // e.g. https://epr.example.nhs.uk/fhir
	BearerToken string `json:"bearerToken,omitempty"` // static token, if the EPR uses one
}

// Adapter posts Bundles to one FHIR server.
type Adapter struct {
	base   string
	token  string
	client *http.Client
}

var _ gateway.Adapter = (*Adapter)(nil)

// New is the registry factory.
func New(raw json.RawMessage) (gateway.Adapter, error) {
	var c Config
	if err := adapters.Decode(raw, &c); err != nil {
		return nil, err
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("fhir-rest: config.baseUrl %q is not an http(s) URL", c.BaseURL)
	}
	return &Adapter{base: strings.TrimRight(c.BaseURL, "/"), token: c.BearerToken,
		client: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}}, nil
}

// Deliver implements gateway.Adapter. The context carries the attempt's timeout.
func (a *Adapter) Deliver(ctx context.Context, d *gateway.Delivery) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base, bytes.NewReader(d.Payload))
	if err != nil {
		return "", gateway.Permanent(err)
	}
	req.Header.Set("Content-Type", d.ContentType)
	req.Header.Set("Accept", "application/fhir+json")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("post to FHIR server: %w", err) // network error or timeout: retry
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return receiverRef(resp, body), nil
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		err := fmt.Errorf("FHIR server answered %s%s", resp.Status, diagnostics(body))
		if wait, ok := retryAfter(resp.Header.Get("Retry-After")); ok {
			return "", gateway.RetryAfter(err, wait)
		}
		return "", err
	default:
		return "", gateway.Permanent(fmt.Errorf("FHIR server rejected the Bundle: %s%s", resp.Status, diagnostics(body)))
	}
}

// receiverRef is the DiagnosticReport's location from the transaction
// response, or the response's Location header.
func receiverRef(resp *http.Response, body []byte) string {
	var tr struct {
		Entry []struct {
			Response struct {
				Status   string `json:"status"`
				Location string `json:"location"`
			} `json:"response"`
		} `json:"entry"`
	}
	if json.Unmarshal(body, &tr) == nil {
		for _, e := range tr.Entry {
			if strings.HasPrefix(e.Response.Location, "DiagnosticReport/") {
				return e.Response.Location
			}
		}
	}
	return resp.Header.Get("Location")
}

// diagnostics pulls the readable text out of an OperationOutcome, for the operator.
func diagnostics(body []byte) string {
	var oo struct {
		ResourceType string `json:"resourceType"`
		Issue        []struct {
			Diagnostics string `json:"diagnostics"`
			Details     struct {
				Text string `json:"text"`
			} `json:"details"`
		} `json:"issue"`
	}
	if json.Unmarshal(body, &oo) != nil || oo.ResourceType != "OperationOutcome" {
		return ""
	}
	var texts []string
	for _, is := range oo.Issue {
		if t := strings.TrimSpace(is.Diagnostics + " " + is.Details.Text); t != "" {
			texts = append(texts, t)
		}
	}
	out := strings.Join(texts, "; ")
	if len(out) > 1000 {
		out = out[:1000] + "..."
	}
	if out == "" {
		return ""
	}
	return ": " + out
}

// retryAfter parses Retry-After in seconds or as an HTTP date.
func retryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, time.Until(t)), true
	}
	return 0, false
}
