// Package receiver is a real HTTP server on 127.0.0.1 standing in for an
// EPR in delivery tests: it accepts, fails with 503, hangs or rejects, on
// command, and counts what arrives by the report's business identifier.
package receiver

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"time"
)

// Mode is how the receiver answers.
type Mode int

const (
	Accept Mode = iota // 200 with a transaction-response naming DiagnosticReport/<n>
	Fail               // 503 with Retry-After
	Reject             // 400 with an OperationOutcome
	Hang               // never answers until the client gives up
)

// Receiver is the test EPR.
type Receiver struct {
	*httptest.Server
	mu         sync.Mutex
	mode       Mode
	retryAfter string
	failFirst  int // answer Fail to this many requests, then use mode
	arrivals   map[string]int
	requests   int
	times      []time.Time
}

// Start starts a receiver on 127.0.0.1:0; it stops when the test ends.
func Start(t interface{ Cleanup(func()) }) *Receiver {
	r := &Receiver{arrivals: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

// Set changes how the receiver answers.
func (r *Receiver) Set(m Mode) {
	r.mu.Lock()
	r.mode = m
	r.mu.Unlock()
}

// FailFirst makes the next n requests fail with 503 (Retry-After, if not empty).
func (r *Receiver) FailFirst(n int, retryAfter string) {
	r.mu.Lock()
	r.failFirst, r.retryAfter = n, retryAfter
	r.mu.Unlock()
}

// reportID finds the DiagnosticReport's business identifier in a Bundle.
var reportID = regexp.MustCompile(`"url":"DiagnosticReport\?identifier=[^|"]+\|([^"]+)"`)

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.requests++
	r.times = append(r.times, time.Now())
	mode := r.mode
	if r.failFirst > 0 {
		r.failFirst--
		mode = Fail
	}
	retryAfter := r.retryAfter
	r.mu.Unlock()
	switch mode {
	case Hang:
		<-req.Context().Done()
		return
	case Fail:
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		http.Error(w, "EPR down for maintenance", http.StatusServiceUnavailable)
		return
	case Reject:
		w.Header().Set("Content-Type", "application/fhir+json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{"resourceType": "OperationOutcome",
			"issue": []any{map[string]any{"severity": "error", "code": "invalid", "diagnostics": "Patient.identifier: unknown NHS number system"}}})
		return
	}
	id := "unknown"
	if m := reportID.FindSubmatch(body); m != nil {
		id = string(m[1])
	}
	r.mu.Lock()
	r.arrivals[id]++
	n := r.arrivals[id]
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/fhir+json")
	json.NewEncoder(w).Encode(map[string]any{"resourceType": "Bundle", "type": "transaction-response",
		"entry": []any{map[string]any{"response": map[string]any{"status": "200 OK", "location": "DiagnosticReport/" + id + "/_history/" + itoa(n)}}}})
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// Arrivals returns how many times each report id arrived (accepted).
func (r *Receiver) Arrivals() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.arrivals))
	for k, v := range r.arrivals {
		out[k] = v
	}
	return out
}

// Requests returns how many requests arrived, and when.
func (r *Receiver) Requests() (int, []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests, append([]time.Time(nil), r.times...)
}
