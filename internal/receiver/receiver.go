// Package receiver is a real HTTP server on 127.0.0.1 standing in for an
// EPR in delivery tests: it accepts, fails with 503, hangs or rejects, on
// command, and counts what arrives by the report's business identifier.
package receiver

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
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
	forward    string        // when set, accepted requests are forwarded here (a real FHIR server)
	delay      time.Duration // wait this long before answering
	accepted   int           // write requests answered with success
	conns      int           // connections opened to it
}

// Connections returns how many connections clients have opened to it.
func (r *Receiver) Connections() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conns
}

// Accepted returns how many write requests were answered with success.
func (r *Receiver) Accepted() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.accepted
}

// SetDelay makes the receiver wait before answering, like a slow EPR.
func (r *Receiver) SetDelay(d time.Duration) {
	r.mu.Lock()
	r.delay = d
	r.mu.Unlock()
}

// ForwardTo makes the receiver a counting proxy in front of a real FHIR
// server: it counts each arrival and relays the server's answer.
func (r *Receiver) ForwardTo(url string) {
	r.mu.Lock()
	r.forward = url
	r.mu.Unlock()
}

// Start starts a receiver on 127.0.0.1:0; it stops when the test ends.
func Start(t interface{ Cleanup(func()) }) *Receiver {
	r := &Receiver{arrivals: map[string]int{}}
	r.Server = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	r.Server.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			r.mu.Lock()
			r.conns++
			r.mu.Unlock()
		}
	}
	r.Server.Start()
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
	body := readBody(req)
	r.mu.Lock()
	r.requests++
	r.times = append(r.times, time.Now())
	mode := r.mode
	if r.failFirst > 0 {
		r.failFirst--
		mode = Fail
	}
	retryAfter, delay := r.retryAfter, r.delay
	r.mu.Unlock()
	time.Sleep(delay)
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
	if req.Method == http.MethodGet { // a search: this EPR has nothing yet
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Write([]byte(`{"resourceType":"Bundle","type":"searchset","total":0}`))
		return
	}
	r.mu.Lock()
	r.accepted++
	r.mu.Unlock()
	id := "unknown"
	if m := documentVersion.FindSubmatch(body); m != nil {
		id = string(m[1]) // our Bundles: report id and version
	} else if m := reportID.FindSubmatch(body); m != nil {
		id = string(m[1])
	}
	r.mu.Lock()
	forward := r.forward
	r.mu.Unlock()
	if forward != "" {
		r.relay(w, req, forward, body, id)
		return
	}
	r.mu.Lock()
	r.arrivals[id]++
	n := r.arrivals[id]
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/fhir+json")
	json.NewEncoder(w).Encode(map[string]any{"resourceType": "Bundle", "type": "transaction-response",
		"entry": []any{map[string]any{"response": map[string]any{"status": "200 OK", "location": "DiagnosticReport/" + id + "/_history/" + itoa(n)}}}})
}

// readBody reads a request's body into a buffer of its stated length, so a
// 100 KB Bundle is not read through a run of growing buffers.
func readBody(req *http.Request) []byte {
	var buf bytes.Buffer
	if n := req.ContentLength; n > 0 && n < 64<<20 {
		buf.Grow(int(n) + bytes.MinRead)
	}
	buf.ReadFrom(req.Body)
	return buf.Bytes()
}

// documentVersion finds "<report id>-v<version>" in a gateway Bundle.
var documentVersion = regexp.MustCompile(`/document-version","value":"([^"]+)"`)

// relay forwards an accepted request and counts it if the server took it.
func (r *Receiver) relay(w http.ResponseWriter, req *http.Request, target string, body []byte, id string) {
	out, err := http.NewRequestWithContext(req.Context(), req.Method, target, bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = req.Header.Clone()
	resp, err := http.DefaultClient.Do(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode < 300 {
		r.mu.Lock()
		r.arrivals[id]++
		r.mu.Unlock()
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(answer)
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
