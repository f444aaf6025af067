package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nhs-genomics/results-gateway/adapters"
	"github.com/nhs-genomics/results-gateway/gateway/auth"
	httpapi "github.com/nhs-genomics/results-gateway/gateway/http"
	"github.com/nhs-genomics/results-gateway/gateway/v2intake"
	"github.com/nhs-genomics/results-gateway/internal/testdirectory"
	"github.com/nhs-genomics/results-gateway/mappers/hl7v2"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// Config is the gateway's configuration: defaults, then the file named by
// GATEWAY_CONFIG (or -config), then environment overrides.
type Config struct {
	Addr           string              `json:"addr"`           // GATEWAY_ADDR
	TLS            ServerTLSConfig     `json:"tls"`            // HTTPS for the API: certificate, and clientCaFile for mutual TLS
	AllowPlainHTTP bool                `json:"allowPlainHttp"` // listen beyond loopback without TLS (behind a TLS-terminating proxy)
	Limits         ConnectionLimits    `json:"limits"`
	DataDir        string              `json:"dataDir"`        // GATEWAY_DATA: folder of the embedded store
	MaxBodyBytes   int64               `json:"maxBodyBytes"`   // GATEWAY_MAX_BODY_BYTES
	IdentifierBase string              `json:"identifierBase"` // the deployment's own FHIR identifier systems
	PublicBaseURL  string              `json:"publicBaseUrl"`  // how EPRs reach this gateway, for links in notices
	RedisURL       string              `json:"redisUrl"`       // GATEWAY_REDIS_URL: use Redis instead of the embedded store
	RedisPrefix    string              `json:"redisPrefix"`    // GATEWAY_REDIS_PREFIX: key prefix (hash tag), default "rg"
	RedisPDFKeys   bool                `json:"redisPdfKeys"`   // GATEWAY_REDIS_PDF_KEYS: each version's PDF under its own key (see redisstore.Store.PDFKeys)
	IndexKey       string              `json:"-"`              // GATEWAY_INDEX_KEY: names Redis's patient index keys by HMAC, never by NHS number
	Tokens         []TokenConfig       `json:"tokens"`
	Destinations   []DestinationConfig `json:"destinations"`
	Retry          RetryConfig         `json:"retry"`
	HL7            HL7Config           `json:"hl7"`
	JWT            *auth.JWTConfig     `json:"jwt"`     // also accept JWTs signed by a key in this JWKS (SMART Backend Services)
	Sharing        map[string][]string `json:"sharing"` // trust ODS code -> other trusts whose reports it may also read
	Alerts         AlertsConfig        `json:"alerts"`
	Retention      RetentionConfig     `json:"retention"`
	// TurnaroundTargets: test code or clinical indication -> its national
	// turnaround category in days (3, 5, 7, 14, 21, 42 or 84); others count
	// against the default for rare disease (42) or cancer (21).
	TurnaroundTargets map[string]int `json:"turnaroundTargets"`

	file   string              // the file it was read from, for messages
	places map[string]position // where each key is in that file
}

// HL7Config is HL7 v2 intake: POST /v1/hl7v2 always, MLLP when MLLPAddr is set.
type HL7Config struct {
	MLLPAddr           string            `json:"mllpAddr"` // GATEWAY_MLLP_ADDR, e.g. :2575; empty: no MLLP listener
	MaxBytes           int               `json:"maxBytes"`
	Limits             ConnectionLimits  `json:"limits"`
	IdleTimeoutSeconds int               `json:"idleTimeoutSeconds"`
	TLS                ServerTLSConfig   `json:"tls"`
	Senders            []v2intake.Sender `json:"senders"` // who may send over MLLP, and how each lab's messages are read
}

// ConnectionLimits cap a listener's concurrent connections, in all and
// from one client address; connections beyond are closed at once.
type ConnectionLimits struct {
	MaxConnections           int `json:"maxConnections"`
	MaxConnectionsPerAddress int `json:"maxConnectionsPerAddress"`
}

// ServerTLSConfig is a listener's certificate and, for client
// certificates (mutual TLS), the CA that signs clients' certificates. The
// files are re-read when they change and on SIGHUP.
type ServerTLSConfig struct {
	CertFile     string `json:"certFile"`
	KeyFile      string `json:"keyFile"`
	ClientCAFile string `json:"clientCaFile"`
}

// DestinationConfig is one receiving system. Reports ordered by any of its
// trusts are delivered to it in its format through its kind of adapter.
type DestinationConfig struct {
	Name           string        `json:"name"`
	Trusts         []string      `json:"trusts"`
	Kind           string        `json:"kind"`   // fhir-rest, filedrop, ...
	Format         string        `json:"format"` // fhir-bundle, pdf or hl7v2-oru
	HL7            hl7v2.Options `json:"hl7"`    // for hl7v2-oru: version, NHS number field, PDF label
	Workers        int           `json:"workers"`
	TimeoutSeconds int           `json:"timeoutSeconds"`
	MaxAttempts    int           `json:"maxAttempts"` // 0: no limit but MaxAgeHours
	MaxAgeHours    float64       `json:"maxAgeHours"`
	// AlertQueueAgeMinutes: alert when the oldest waiting delivery is older
	// (0: alerts.queueAgeMinutes; negative: never, e.g. a nightly file drop).
	AlertQueueAgeMinutes float64         `json:"alertQueueAgeMinutes"`
	Config               json.RawMessage `json:"config"` // passed to the adapter
}

// RetentionConfig is how long each class of stored data is kept, in days
// (0: forever), and how often the pruner runs. The defaults suit a GLH:
//   - messages, 30 days: long enough to answer a lab's "what happened to my
//     message?" about last month's sends; raw messages hold patient data,
//     so not longer than that question needs;
//   - deliveredPayloads, 30 days: the exact bytes sent (HL7 ORUs, notices)
//     for a receiver's query about a delivery; a delivered payload is never
//     replayed, and Bundles and PDFs are the report's own, kept with it;
//   - reports, 365 days: a year of results for EPRs that pull, re-fetches
//     and the turnaround statistics; the lab's LIMS and the trust's EPR are
//     the records, the gateway is the route between them;
//   - audit, 730 days: who read what outlives the results by a year, for
//     investigations; ship the logs to a SIEM to keep it longer.
type RetentionConfig struct {
	MessagesDays          float64 `json:"messagesDays"`
	DeliveredPayloadsDays float64 `json:"deliveredPayloadsDays"`
	ReportsDays           float64 `json:"reportsDays"`
	AuditDays             float64 `json:"auditDays"`
	IntervalMinutes       float64 `json:"intervalMinutes"`
}

func (r RetentionConfig) periods() gateway.Retention {
	day := func(d float64) time.Duration { return time.Duration(d * float64(24*time.Hour)) }
	return gateway.Retention{gateway.ClassMessages: day(r.MessagesDays), gateway.ClassPayloads: day(r.DeliveredPayloadsDays),
		gateway.ClassReports: day(r.ReportsDays), gateway.ClassAudit: day(r.AuditDays)}
}

func (r RetentionConfig) validate() []error {
	var errs []error
	if r.MessagesDays < 0 || r.DeliveredPayloadsDays < 0 || r.ReportsDays < 0 || r.AuditDays < 0 || r.IntervalMinutes <= 0 {
		errs = append(errs, errors.New("retention: days must not be negative (0 keeps forever) and intervalMinutes must be positive"))
	}
	if r.ReportsDays > 0 && r.AuditDays > 0 && r.AuditDays < r.ReportsDays {
		errs = append(errs, fmt.Errorf("retention.auditDays: %v is shorter than reportsDays (%v): who read a result must be known as long as the result is kept", r.AuditDays, r.ReportsDays))
	}
	return errs
}

// AlertsConfig says where alerts go besides the log, and when a queue is
// too old.
type AlertsConfig struct {
	Name            string  `json:"name"`          // the deployment, first in each posted alert
	WebhookURL      string  `json:"webhookUrl"`    // a Teams or Slack incoming webhook: {"text": ...}; empty: log only
	WebhookURLEnv   string  `json:"webhookUrlEnv"` // or: read it from this environment variable (it is a secret)
	CheckSeconds    int     `json:"checkSeconds"`
	QueueAgeMinutes float64 `json:"queueAgeMinutes"` // every destination's default limit
	// AcknowledgeWithinDays: a delivered report no clinician at a recipient
	// has acknowledged after this many days raises an alert (once); 0: never.
	AcknowledgeWithinDays float64 `json:"acknowledgeWithinDays"`
	// AcknowledgeScanMinutes spaces the scans for unacknowledged reports (default 10).
	AcknowledgeScanMinutes float64 `json:"acknowledgeScanMinutes"`
	// AcceptStoreDurability: no store-durability alerts, for a managed Redis
	// kept by replicas rather than an append-only file.
	AcceptStoreDurability bool `json:"acceptStoreDurability"`
}

// RetryConfig is the backoff between attempts: full jitter, doubling from base up to cap.
type RetryConfig struct {
	BaseSeconds float64 `json:"baseSeconds"`
	CapSeconds  float64 `json:"capSeconds"`
}

// TokenConfig grants a bearer token a role (and, for labs and trusts, an organisation).
type TokenConfig struct {
	Name    string       `json:"name"` // shown in logs and audit instead of the token
	Token   string       `json:"token,omitempty"`
	Env     string       `json:"tokenEnv,omitempty"` // or: read the token from this environment variable
	Role    gateway.Role `json:"role"`
	ODSCode string       `json:"odsCode,omitempty"`
}

func defaultConfig() Config {
	return Config{Addr: "127.0.0.1:8080", DataDir: "./var", MaxBodyBytes: 20 << 20,
		Limits: ConnectionLimits{MaxConnections: 1000, MaxConnectionsPerAddress: 200},
		Retry:  RetryConfig{BaseSeconds: 5, CapSeconds: 3600},
		// An hour: far beyond a healthy EPR's seconds, well inside a
		// clinician's day; a 30 s check finds it within a minute.
		Alerts:    AlertsConfig{Name: "Results Gateway", CheckSeconds: 30, QueueAgeMinutes: 60},
		Retention: RetentionConfig{MessagesDays: 30, DeliveredPayloadsDays: 30, ReportsDays: 365, AuditDays: 730, IntervalMinutes: 60},
		HL7: HL7Config{MaxBytes: 20 << 20, IdleTimeoutSeconds: 120,
			Limits: ConnectionLimits{MaxConnections: 200, MaxConnectionsPerAddress: 20}}}
}

// Destination defaults: about three days of retries, like Medplum's ~73 hours.
const (
	defaultWorkers     = 2
	defaultTimeout     = 30
	defaultMaxAgeHours = 73
)

// loadConfig reads the file (if any) over the defaults and applies the environment.
func loadConfig(path string, getenv func(string) string) (Config, error) {
	cfg := defaultConfig()
	var fileErrs []error
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("read configuration: %w", err)
		}
		cfg.file = path
		if cfg.places, fileErrs = fileProblems(path, raw, &cfg); cfg.places == nil {
			return cfg, errors.Join(fileErrs...) // not JSON: nothing more can be said
		}
		if cfg.HL7.MLLPAddr == "-" {
			cfg.HL7.MLLPAddr = "" // "-" turns MLLP off, in the file as in GATEWAY_MLLP_ADDR
		}
	}
	if v := getenv("GATEWAY_ADDR"); v != "" {
		cfg.Addr = v
	}
	if v := getenv("GATEWAY_DATA"); v != "" {
		cfg.DataDir = v
	}
	if v := getenv("GATEWAY_REDIS_URL"); v != "" {
		cfg.RedisURL = v
	}
	if v, ok := lookup(getenv, "GATEWAY_MLLP_ADDR"); ok {
		cfg.HL7.MLLPAddr = v // may be set empty to turn MLLP off
	}
	cfg.IndexKey = getenv("GATEWAY_INDEX_KEY")
	if v := getenv("GATEWAY_REDIS_PREFIX"); v != "" {
		cfg.RedisPrefix = v
	}
	if v := getenv("GATEWAY_REDIS_PDF_KEYS"); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return cfg, fmt.Errorf("GATEWAY_REDIS_PDF_KEYS=%q: say true or false", v)
		}
		cfg.RedisPDFKeys = on
	}
	if v := getenv("GATEWAY_MAX_BODY_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return cfg, fmt.Errorf("GATEWAY_MAX_BODY_BYTES=%q is not a number of bytes", v)
		}
		cfg.MaxBodyBytes = n
	}
	if cfg.Alerts.WebhookURLEnv != "" {
		cfg.Alerts.WebhookURL = getenv(cfg.Alerts.WebhookURLEnv)
	}
	for i := range cfg.Tokens {
		if t := &cfg.Tokens[i]; t.Env != "" {
			t.Token = getenv(t.Env)
		}
	}
	for i := range cfg.Destinations {
		d := &cfg.Destinations[i]
		if d.Workers == 0 {
			d.Workers = defaultWorkers
		}
		if d.TimeoutSeconds == 0 {
			d.TimeoutSeconds = defaultTimeout
		}
		if d.MaxAttempts == 0 && d.MaxAgeHours == 0 {
			d.MaxAgeHours = defaultMaxAgeHours
		}
	}
	return cfg, errors.Join(append(fileErrs, cfg.locate(unjoin(cfg.validate()))...)...)
}

// locate gives each problem the file's line and column where it can.
func (c Config) locate(errs []error) []error {
	if c.file == "" || len(errs) == 0 || errs[0] == nil {
		return errs
	}
	names := map[string]string{}
	for i, d := range c.Destinations {
		names[d.Name] = fmt.Sprintf("destinations[%d]", i)
	}
	return located(c.file, c.places, names, errs)
}

func (a AlertsConfig) validate() []error {
	var errs []error
	if a.CheckSeconds < 1 || a.QueueAgeMinutes < 0 {
		errs = append(errs, errors.New("alerts: checkSeconds must be positive and queueAgeMinutes not negative"))
	}
	if a.AcknowledgeWithinDays < 0 || a.AcknowledgeScanMinutes < 0 {
		errs = append(errs, errors.New("alerts: acknowledgeWithinDays and acknowledgeScanMinutes must not be negative"))
	}
	if a.WebhookURLEnv != "" && a.WebhookURL == "" {
		errs = append(errs, fmt.Errorf("alerts.webhookUrlEnv: environment variable %s is empty", a.WebhookURLEnv))
	}
	if a.WebhookURL != "" {
		u, err := url.Parse(a.WebhookURL)
		if err != nil || u.Host == "" || u.Scheme != "https" && !(u.Scheme == "http" && loopback(net.JoinHostPort(u.Hostname(), "0"))) {
			errs = append(errs, errors.New("alerts.webhookUrl: must be an https:// URL (http:// only on this machine)"))
		}
	}
	return errs
}

// smart is what SMART discovery publishes: nil without a token endpoint.
func (c Config) smart() *httpapi.SMART {
	if c.JWT == nil || c.JWT.TokenEndpoint == "" {
		return nil
	}
	return &httpapi.SMART{Issuer: c.JWT.Issuer, TokenEndpoint: c.JWT.TokenEndpoint}
}

// queueAgeLimits is each destination's queue-age alert limit (0: none).
func (c Config) queueAgeLimits() map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, d := range c.Destinations {
		minutes := d.AlertQueueAgeMinutes
		if minutes == 0 {
			minutes = c.Alerts.QueueAgeMinutes
		}
		out[d.Name] = time.Duration(max(minutes, 0) * float64(time.Minute))
	}
	return out
}

// kindFormats are the formats each kind of destination can carry (a file
// drop carries any).
var kindFormats = map[string][]string{
	"mllp":      {gateway.FormatHL7v2},
	"fhir-rest": {gateway.FormatFHIRBundle},
	"webhook":   {gateway.FormatNotice},
}

// demoTokens are the demo configuration's tokens, which anyone can read.
var demoTokens = map[string]bool{"demo-lab-token": true, "demo-trust-token": true, "demo-operator-token": true}

var (
	odsCode         = regexp.MustCompile(`^[A-Z0-9]{3,6}$`)
	destinationName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)
)

// validate returns every configuration problem at once, in words an operator can act on.
func (c Config) validate() error {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("addr: a listen address such as 127.0.0.1:8080 is required"))
	} else if !loopback(c.Addr) && c.TLS.CertFile == "" && !c.AllowPlainHTTP {
		errs = append(errs, fmt.Errorf("addr: %s listens beyond this machine without TLS: set tls.certFile and tls.keyFile, or allowPlainHttp behind a TLS-terminating proxy", c.Addr))
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") || c.TLS.ClientCAFile != "" && c.TLS.CertFile == "" {
		errs = append(errs, errors.New("tls: certFile and keyFile go together, and clientCaFile needs them"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("dataDir: a folder for the embedded store is required"))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("maxBodyBytes: %d is too small for a report", c.MaxBodyBytes))
	}
	seen := map[string]bool{}
	for i, t := range c.Tokens {
		where := fmt.Sprintf("tokens[%d] (%s)", i, t.Name)
		switch {
		case t.Name == "":
			errs = append(errs, fmt.Errorf("tokens[%d]: name is required", i))
		case t.Token == "" && t.Env != "":
			errs = append(errs, fmt.Errorf("%s: environment variable %s is empty", where, t.Env))
		case len(t.Token) < 12:
			errs = append(errs, fmt.Errorf("%s: token must be at least 12 characters", where))
		case seen[t.Token]:
			errs = append(errs, fmt.Errorf("%s: the same token is configured twice", where))
		}
		seen[t.Token] = true
		if demoTokens[t.Token] && !(loopback(c.Addr) && (c.HL7.MLLPAddr == "" || loopback(c.HL7.MLLPAddr))) {
			errs = append(errs, fmt.Errorf("%s: this token is the demo's, published in the README: it may only be used on a loopback address", where))
		}
		switch t.Role {
		case gateway.RoleLab, gateway.RoleTrust:
			if !odsCode.MatchString(t.ODSCode) {
				errs = append(errs, fmt.Errorf("%s: role %s needs the organisation's ODS code (got %q)", where, t.Role, t.ODSCode))
			}
		case gateway.RoleOperator:
		default:
			errs = append(errs, fmt.Errorf("%s: role %q is not lab, trust or operator", where, t.Role))
		}
	}
	names := map[string]bool{}
	for i, d := range c.Destinations {
		where := fmt.Sprintf("destinations[%d] (%s)", i, d.Name)
		if !destinationName.MatchString(d.Name) {
			errs = append(errs, fmt.Errorf("destinations[%d]: name %q must be 1-40 lower-case letters, digits or '-'", i, d.Name))
		}
		if names[d.Name] {
			errs = append(errs, fmt.Errorf("%s: the name is used twice", where))
		}
		names[d.Name] = true
		if len(d.Trusts) == 0 {
			errs = append(errs, fmt.Errorf("%s: trusts: list the ODS codes of the trusts whose reports go here", where))
		}
		for _, t := range d.Trusts {
			if !odsCode.MatchString(t) {
				errs = append(errs, fmt.Errorf("%s: trusts: %q is not an ODS code", where, t))
			}
		}
		if _, ok := gateway.Formats[d.Format]; !ok {
			errs = append(errs, fmt.Errorf("%s: format %q is not fhir-bundle, pdf, hl7v2-oru or notice", where, d.Format))
		}
		if formats, ok := kindFormats[d.Kind]; ok && !slices.Contains(formats, d.Format) {
			errs = append(errs, fmt.Errorf("%s: a %s destination carries %s, not %q", where, d.Kind, strings.Join(formats, " or "), d.Format))
		}
		if err := d.HL7.Check(); err != nil {
			errs = append(errs, fmt.Errorf("%s: hl7: %w", where, err))
		}
		if d.Workers < 1 || d.Workers > adapters.MaxWorkers || d.TimeoutSeconds < 1 || d.MaxAttempts < 0 || d.MaxAgeHours < 0 {
			errs = append(errs, fmt.Errorf("%s: workers must be 1-%d, timeoutSeconds positive, maxAttempts and maxAgeHours not negative", where, adapters.MaxWorkers))
		}
	}
	errs = append(errs, c.Alerts.validate()...)
	errs = append(errs, c.Retention.validate()...)
	for code, days := range c.TurnaroundTargets {
		if !slices.ContainsFunc(testdirectory.Categories(), func(cat testdirectory.Category) bool { return cat.Days == days }) {
			errs = append(errs, fmt.Errorf("turnaroundTargets.%s: %d days is not a national turnaround category (3, 5, 7, 14, 21, 42 or 84)", code, days))
		}
	}
	for i, snd := range c.HL7.Senders {
		if snd.Facility == "" || !odsCode.MatchString(snd.LabODS) {
			errs = append(errs, fmt.Errorf("hl7.senders[%d]: facility (MSH-4) and labOdsCode are required", i))
		}
		if err := snd.Options.Check(); err != nil {
			for _, e := range unjoin(err) {
				errs = append(errs, fmt.Errorf("hl7.senders[%d].options.%w", i, e))
			}
		}
	}
	errs = append(errs, v2intake.CheckBindings(c.HL7.Senders)...)
	addressBound := false
	for i, snd := range c.HL7.Senders {
		addressBound = addressBound || len(snd.SourceAddresses) > 0
		if len(snd.ClientCertificates) > 0 && c.HL7.TLS.ClientCAFile == "" {
			errs = append(errs, fmt.Errorf("hl7.senders[%d].clientCertificates: needs hl7.tls.clientCaFile, the CA that signs senders' certificates", i))
		}
	}
	if c.HL7.MLLPAddr != "" && !loopback(c.HL7.MLLPAddr) && c.HL7.TLS.CertFile == "" && !addressBound {
		errs = append(errs, fmt.Errorf("hl7.mllpAddr: %s listens beyond this machine without TLS (hl7.tls) or senders bound to their addresses (sourceAddresses): anyone who can reach it could send results as any lab", c.HL7.MLLPAddr))
	}
	if c.HL7.MLLPAddr != "" && (c.HL7.MaxBytes < 1024 || c.HL7.IdleTimeoutSeconds < 1) {
		errs = append(errs, errors.New("hl7: maxBytes must be at least 1024 and idleTimeoutSeconds positive"))
	}
	for trust, others := range c.Sharing {
		for _, o := range append([]string{trust}, others...) {
			if !odsCode.MatchString(o) {
				errs = append(errs, fmt.Errorf("sharing: %q is not an ODS code", o))
			}
		}
	}
	for _, d := range c.Destinations {
		if d.Format == gateway.FormatNotice && c.PublicBaseURL == "" {
			errs = append(errs, fmt.Errorf("destinations (%s): the notice format needs publicBaseUrl, for the links it carries", d.Name))
		}
	}
	if c.Retry.BaseSeconds <= 0 || c.Retry.CapSeconds < c.Retry.BaseSeconds {
		errs = append(errs, fmt.Errorf("retry: baseSeconds must be positive and capSeconds at least baseSeconds"))
	}
	for key, l := range map[string]ConnectionLimits{"limits": c.Limits, "hl7.limits": c.HL7.Limits} {
		if l.MaxConnections < 1 || l.MaxConnectionsPerAddress < 1 || l.MaxConnectionsPerAddress > l.MaxConnections {
			errs = append(errs, fmt.Errorf("%s: maxConnections and maxConnectionsPerAddress must be positive, the second no more than the first", key))
		}
	}
	if c.RedisURL != "" && len(c.IndexKey) < 16 {
		errs = append(errs, errors.New("GATEWAY_INDEX_KEY: with Redis, set a secret of at least 16 characters (the same on every replica, kept like a password): patient index keys are named by an HMAC of the NHS number under it, so no key name shows a patient identifier"))
	}
	if len(c.Tokens) == 0 {
		errs = append(errs, errors.New("tokens: at least one token is required: every endpoint that takes or serves results needs one"))
	}
	return errors.Join(errs...)
}

// loopback reports whether a listen address ("127.0.0.1:2575",
// "localhost:8080") accepts connections from this machine only. An empty
// host (":2575") listens on every interface.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// unjoin splits an errors.Join into its errors, so each can be prefixed with its key.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// lookup reads an environment variable that may be deliberately empty:
// "-" stands for empty, since getenv cannot tell unset from empty.
func lookup(getenv func(string) string, key string) (string, bool) {
	v := getenv(key)
	switch v {
	case "":
		return "", false
	case "-":
		return "", true
	}
	return v, true
}
