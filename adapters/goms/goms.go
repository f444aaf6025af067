// Package goms delivers genomic reports to NHS England's Genomic Order
// Management Service (GOMS, the "Genomic Order Management Service (FHIR)
// API", OpenAPI v0.5.3 Beta) and completes the order's Task:
//
//  1. POST the report's transaction Bundle to {base}/FHIR/R4 and check
//     every entry of the transaction-response;
//  2. find the order's Task: GET {base}/FHIR/R4/ServiceRequest?identifier=
//     <order>&_revinclude=Task:focus (the API documents no focus or
//     based-on search on Task itself);
//  3. complete it: status completed, businessStatus, output -> the
//     DiagnosticReport, written with a one-entry transaction (PUT Task/{id}
//     with ifMatch), since the API offers no PUT on /FHIR/R4/Task/{id}.
//
// Authentication is NHS England's application-restricted "signed JWT"
// pattern (adapters.OAuth with RS512). Every call carries X-Request-ID (new
// per call) and X-Correlation-ID (stable per delivery). See docs/goms.md.
package goms

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/nhs-genomics/results-gateway/adapters"
	"github.com/nhs-genomics/results-gateway/gateway"
)

// Kind is the destination kind.
const Kind = "goms"

// Config is the destination's "config".
type Config struct {
	// BaseURL is the API's base, e.g.
	// https://int.api.service.nhs.uk/genomic-order-management-service;
	// the adapter calls {baseUrl}/FHIR/R4...
	BaseURL string `json:"baseUrl"`
	// TokenURL is the OAuth token endpoint, e.g.
	// https://int.api.service.nhs.uk/oauth2/token.
	TokenURL string `json:"tokenUrl"`
	// ClientID is the application's API key: the assertion's iss and sub.
	ClientID string `json:"clientId"`
	// APIKey goes in the apikey header the API requires (clientId when empty).
	APIKey string `json:"apiKey,omitempty"`
	// PrivateKeyFile is the PEM RSA key registered (as a JWKS) for clientId.
	PrivateKeyFile string `json:"privateKeyFile"`
	KeyID          string `json:"keyId"`              // the registered key's kid
	Audience       string `json:"audience,omitempty"` // the assertion's aud (tokenUrl when empty)
	// RequestTimeoutSeconds bounds each HTTP call (default 30); the
	// destination's timeoutSeconds still bounds the whole attempt.
	RequestTimeoutSeconds int `json:"requestTimeoutSeconds,omitempty"`
	// TaskWaitMinutes is how long, from the delivery's creation (or its last
	// replay), a missing order Task is retried before the delivery is
	// parked for a person (default 60).
	TaskWaitMinutes int                `json:"taskWaitMinutes,omitempty"`
	TLS             adapters.TLSConfig `json:"tls"`
	// AllowInsecure lets credentials go to http:// URLs (a test stand-in only).
	AllowInsecure bool `json:"allowInsecure,omitempty"`
}

// Adapter delivers to one GOMS environment.
type Adapter struct {
	base     string // ends before /FHIR/R4
	apiKey   string
	auth     *adapters.OAuth
	client   *http.Client
	taskWait time.Duration
	log      *slog.Logger
	now      func() time.Time
}

var _ gateway.Adapter = (*Adapter)(nil)

// New is the registry factory. Every configuration problem is reported at
// start-up, not at the first delivery.
func New(raw json.RawMessage) (gateway.Adapter, error) {
	var c Config
	if err := adapters.Decode(raw, &c); err != nil {
		return nil, err
	}
	var errs []error
	for _, f := range [][2]string{{"baseUrl", c.BaseURL}, {"tokenUrl", c.TokenURL}} {
		u, err := url.Parse(f[1])
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			errs = append(errs, fmt.Errorf("config.%s %q is not an http(s) URL", f[0], f[1]))
		case u.Scheme == "http" && !c.AllowInsecure:
			errs = append(errs, fmt.Errorf("config.%s %q: tokens would travel in clear over http://: use https (allowInsecure is for a test stand-in)", f[0], f[1]))
		case u.Scheme == "http" && !loopbackHost(u.Hostname()):
			errs = append(errs, fmt.Errorf("config.%s %q: allowInsecure is only for a stand-in on this machine (127.0.0.1, ::1 or localhost)", f[0], f[1]))
		}
	}
	if c.ClientID == "" {
		errs = append(errs, errors.New("config.clientId is required (the application's API key)"))
	}
	if c.KeyID == "" {
		errs = append(errs, errors.New("config.keyId is required (the kid of the public key registered for the application)"))
	}
	key, err := adapters.LoadPrivateKey("config.privateKeyFile", c.PrivateKeyFile)
	if _, isRSA := key.(*rsa.PrivateKey); err == nil && !isRSA {
		err = fmt.Errorf("config.privateKeyFile %s: NHS England's signed JWT pattern needs an RSA key (RS512)", c.PrivateKeyFile)
	}
	if err != nil {
		errs = append(errs, err)
	}
	if c.RequestTimeoutSeconds < 0 || c.TaskWaitMinutes < 0 {
		errs = append(errs, errors.New("config.requestTimeoutSeconds and taskWaitMinutes must not be negative"))
	}
	tlsConfig, err := c.TLS.Client()
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	client := adapters.HTTPClient(tlsConfig, time.Duration(orDefault(c.RequestTimeoutSeconds, 30))*time.Second)
	apiKey := c.APIKey
	if apiKey == "" {
		apiKey = c.ClientID
	}
	return &Adapter{
		base: strings.TrimRight(c.BaseURL, "/"), apiKey: apiKey, client: client,
		auth: &adapters.OAuth{TokenURL: c.TokenURL, ClientID: c.ClientID, Audience: c.Audience,
			Key: key, Method: jwt.SigningMethodRS512, KeyID: c.KeyID, Client: client},
		taskWait: time.Duration(orDefault(c.TaskWaitMinutes, 60)) * time.Minute,
		log:      slog.Default().With("adapter", Kind),
		now:      time.Now,
	}, nil
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Deliver implements gateway.Adapter: the report, then its order's Task.
// The receiver reference is the DiagnosticReport's location on GOMS.
func (a *Adapter) Deliver(ctx context.Context, d *gateway.Delivery) (string, error) {
	c := a.call(d)
	b, err := parseBundle(d.Payload)
	if err != nil {
		return "", gateway.Permanent(err)
	}
	payload, err := b.forGOMS(c.correlation)
	if err != nil {
		return "", gateway.Permanent(err)
	}
	// A retry may follow an attempt that stored the report and then found
	// no Task: the report is not posted again (a new version of every
	// resource, and notices downstream) when GOMS already has this version.
	report := ""
	if d.Sends() > 0 {
		if report, err = c.storedReport(ctx, b); err != nil {
			return "", c.wrap("look for the report", err)
		}
	}
	if report == "" {
		locations, err := c.transaction(ctx, payload, b.describe)
		if err != nil {
			return "", c.wrap("post the report", err)
		}
		if len(locations) != len(b.entries) {
			return "", c.wrap("post the report", fmt.Errorf("the transaction-response has %d entries for the Bundle's %d", len(locations), len(b.entries)))
		}
		report = versionless(locations[b.reportEntry])
		if !strings.HasPrefix(report, "DiagnosticReport/") {
			return "", c.wrap("post the report", gateway.Permanent(fmt.Errorf("the transaction-response gives no DiagnosticReport location for entry %d (%q)", b.reportEntry, locations[b.reportEntry])))
		}
		a.log.Info("goms report stored", "delivery", d.ID, "correlationId", c.correlation, "report", report)
	}
	if err := c.completeTask(ctx, b.order, report, d); err != nil {
		return "", c.wrap("complete the order's Task", err)
	}
	return report, nil
}

// versionless turns "DiagnosticReport/1/_history/2" (or a full URL) into "DiagnosticReport/1".
func versionless(location string) string {
	location = strings.TrimSuffix(location, "/")
	if i := strings.Index(location, "/_history/"); i >= 0 {
		location = location[:i]
	}
	parts := strings.Split(location, "/")
	if len(parts) < 2 {
		return location
	}
	return parts[len(parts)-2] + "/" + parts[len(parts)-1]
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
