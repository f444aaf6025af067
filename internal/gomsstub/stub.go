// Package gomsstub is a stand-in for NHS England's Genomic Order Management
// Service in tests: a real HTTP server on 127.0.0.1 that validates every
// request and every response against the published GOMS OpenAPI with
// kin-openapi (a failure fails the test, with the reason), stores what
// transactions write, serves the ServiceRequest and Task searches the
// adapter uses, and issues tokens only for a correctly signed RS512 client
// assertion. Fault switches make it answer 401, 429, 503, 400, a failed
// transaction entry, or hang.
package gomsstub

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Prefix is where the stand-in serves the API, as NHS England's hosts do.
const Prefix = "/genomic-order-management-service"

// Mode is how the API answers (the token endpoint always works).
type Mode int

const (
	Accept   Mode = iota // process requests
	Fail                 // 503 with an OperationOutcome (and Retry-After if set)
	Throttle             // 429 with Retry-After
	Reject               // 400 with an OperationOutcome, to transactions
	Hang                 // never answer until the client gives up
)

// Seen is one API call's headers.
type Seen struct {
	Method, Path                                    string
	RequestID, CorrelationID, Authorization, APIKey string
}

// Stub is the stand-in.
type Stub struct {
	URL      string // the API base: server + Prefix
	TokenURL string // the OAuth token endpoint

	t      testing.TB
	srv    *httptest.Server
	router routers.Router

	mu            sync.Mutex
	mode          Mode
	retryAfter    string
	failEntry     *entryFault
	client        client
	tokenLife     time.Duration
	tokens        map[string]time.Time // access token -> expiry
	jtis          map[string]bool
	tokenRequests int
	refusals      []string // why token requests were refused
	expectRefusal bool
	seen          []Seen
	reports       int // transactions with a DiagnosticReport applied
	store         map[string]map[string]map[string]any
	nextID        int
	// touchBeforeWrite is a resource ("Task/id") someone else changes just
	// before the next transaction writing it; conflictAsStatus answers the
	// conflict as the request's own HTTP 412 rather than in the response.
	touchBeforeWrite string
	conflictAsStatus bool
}

type client struct {
	id, kid string
	key     *rsa.PublicKey
}

type entryFault struct {
	resourceType string
	status       string
	issueCode    string
}

// Start starts a stand-in that accepts assertions from clientID signed by
// key with key id kid. It stops when the test ends.
func Start(t testing.TB, clientID, kid string, key *rsa.PublicKey) *Stub {
	t.Helper()
	s := &Stub{t: t, client: client{clientID, kid, key}, tokenLife: 5 * time.Minute,
		tokens: map[string]time.Time{}, jtis: map[string]bool{}, store: map[string]map[string]map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth2/token", s.token)
	mux.HandleFunc(Prefix+"/", s.api)
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	s.URL, s.TokenURL = s.srv.URL+Prefix, s.srv.URL+"/oauth2/token"
	doc, err := loadSpec(SpecPath(t), s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if s.router, err = gorillamux.NewRouter(doc); err != nil {
		t.Fatalf("GOMS OpenAPI router: %v", err)
	}
	return s
}

// ChangeBeforeNextWrite makes another user change resource ("Task/id")
// just before the next transaction that writes it by id, so an ifMatch on
// the version read fails; asStatus answers that as the whole request's
// HTTP 412 (as some FHIR servers do) instead of in the transaction-response.
func (s *Stub) ChangeBeforeNextWrite(resource string, asStatus bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touchBeforeWrite, s.conflictAsStatus = resource, asStatus
}

// Set changes how the API answers; retryAfter goes with Fail and Throttle.
func (s *Stub) Set(m Mode, retryAfter string) {
	s.mu.Lock()
	s.mode, s.retryAfter = m, retryAfter
	s.mu.Unlock()
}

// FailEntry makes the next transaction fail at its entry of resourceType
// with status (e.g. "422 Unprocessable Entity") and an OperationOutcome
// of issueCode, nothing being stored, as GOMS answers a failed transaction.
func (s *Stub) FailEntry(resourceType, status, issueCode string) {
	s.mu.Lock()
	s.failEntry = &entryFault{resourceType, status, issueCode}
	s.mu.Unlock()
}

// ExpireTokens ends every access token issued so far, as if each expired
// early or was revoked: the next API call with one is answered 401.
func (s *Stub) ExpireTokens() {
	s.mu.Lock()
	for tok := range s.tokens {
		s.tokens[tok] = time.Now().Add(-time.Second)
	}
	s.mu.Unlock()
}

// SetTokenLife sets the life of tokens issued from now on.
func (s *Stub) SetTokenLife(d time.Duration) {
	s.mu.Lock()
	s.tokenLife = d
	s.mu.Unlock()
}

// ExpectRefusals says the test expects token requests to be refused (a wrong key), so a refusal is not a test failure.
func (s *Stub) ExpectRefusals() {
	s.mu.Lock()
	s.expectRefusal = true
	s.mu.Unlock()
}

// TokenRequests is how many tokens were asked for; Refusals why any were refused.
func (s *Stub) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenRequests
}

// Refusals lists why token requests were refused.
func (s *Stub) Refusals() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.refusals...)
}

// Seen returns the API calls so far.
func (s *Stub) Seen() []Seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Seen(nil), s.seen...)
}

// Reports is how many report transactions were applied.
func (s *Stub) Reports() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reports
}

// api validates the request, answers it, and validates the answer.
func (s *Stub) api(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	s.mu.Lock()
	s.seen = append(s.seen, Seen{r.Method, r.URL.Path, r.Header.Get("X-Request-ID"), r.Header.Get("X-Correlation-ID"),
		r.Header.Get("Authorization"), r.Header.Get("apikey")})
	mode, retryAfter := s.mode, s.retryAfter
	s.mu.Unlock()

	route, params, err := s.router.FindRoute(r)
	if err != nil {
		s.t.Errorf("GOMS stand-in: %s %s is not an operation of the GOMS OpenAPI: %v", r.Method, r.URL.Path, err)
		writeOutcome(w, http.StatusNotFound, "not-found", "NOT_FOUND", "no such operation")
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{MultiError: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
		s.t.Errorf("GOMS stand-in: %s %s breaks the GOMS OpenAPI: %v", r.Method, r.URL.Path, err)
		writeOutcome(w, http.StatusBadRequest, "invalid", "INVALID", "request does not conform to the GOMS OpenAPI: "+err.Error())
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))

	if mode == Hang {
		<-r.Context().Done()
		return
	}
	rec := httptest.NewRecorder()
	s.answer(rec, r, body, mode, retryAfter)
	res := rec.Result()
	out := rec.Body.Bytes()
	if err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: res.StatusCode, Header: res.Header, Body: io.NopCloser(bytes.NewReader(out)),
		Options: &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true},
	}); err != nil {
		s.t.Errorf("GOMS stand-in: its own answer %d to %s %s breaks the GOMS OpenAPI: %v\n%s", res.StatusCode, r.Method, r.URL.Path, err, out)
	}
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.StatusCode)
	w.Write(out)
}

// answer is the API's behaviour, before the answer is validated.
func (s *Stub) answer(w http.ResponseWriter, r *http.Request, body []byte, mode Mode, retryAfter string) {
	w.Header().Set("Content-Type", "application/fhir+json")
	// Mirrored back, as the API documents for both headers.
	w.Header().Set("X-Request-ID", r.Header.Get("X-Request-ID"))
	if c := r.Header.Get("X-Correlation-ID"); c != "" {
		w.Header().Set("X-Correlation-ID", c)
	}
	if !s.authorised(r.Header.Get("Authorization")) {
		writeOutcome(w, http.StatusUnauthorized, "login", "UNAUTHORISED", "access token missing, invalid or expired")
		return
	}
	switch mode {
	case Fail:
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		writeOutcome(w, http.StatusServiceUnavailable, "transient", "SERVICE_UNAVAILABLE", "GOMS is unavailable")
		return
	case Throttle:
		w.Header().Set("Retry-After", retryAfter)
		writeOutcome(w, http.StatusTooManyRequests, "throttled", "TOO_MANY_REQUESTS", "rate limit exceeded")
		return
	case Reject:
		if r.Method == http.MethodPost {
			writeOutcome(w, http.StatusBadRequest, "invalid", "INVALID", "Bundle.entry[2].resource: resource failed basic FHIR validation rules")
			return
		}
	}
	path := strings.TrimPrefix(r.URL.Path, Prefix+"/FHIR/R4")
	switch {
	case r.Method == http.MethodPost && path == "":
		s.transaction(w, body)
	case r.Method == http.MethodGet && path == "/ServiceRequest":
		s.searchServiceRequest(w, r)
	case r.Method == http.MethodGet && path == "/Task":
		s.searchTask(w, r)
	case r.Method == http.MethodGet && path == "/DiagnosticReport":
		s.searchDiagnosticReport(w, r)
	default:
		writeOutcome(w, http.StatusMethodNotAllowed, "not-supported", "NOT_ALLOWED", "the stand-in does not serve "+r.Method+" "+path)
	}
}

func (s *Stub) authorised(header string) bool {
	tok, ok := strings.CutPrefix(header, "Bearer ")
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, known := s.tokens[tok]
	return ok && known && time.Now().Before(exp)
}

// writeOutcome answers an error as the GOMS OpenAPI's 4XX-goms-error describes.
func writeOutcome(w http.ResponseWriter, status int, code, spineCode, diagnostics string) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(outcome("error", code, spineCode, diagnostics))
}

func outcome(severity, code, spineCode, diagnostics string) map[string]any {
	return map[string]any{"resourceType": "OperationOutcome", "issue": []any{map[string]any{
		"severity": severity, "code": code, "diagnostics": diagnostics,
		"details": map[string]any{"coding": []any{map[string]any{
			"system": "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode", "code": spineCode, "display": diagnostics}}},
	}}}
}

func (s *Stub) String() string { return fmt.Sprintf("GOMS stand-in at %s", s.URL) }
