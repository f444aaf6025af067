package goms

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/nhs-genomics/results-gateway/adapters"
	"github.com/nhs-genomics/results-gateway/gateway"
)

// call is one delivery's conversation with GOMS.
type call struct {
	*Adapter
	delivery    string
	correlation string // X-Correlation-ID: the same on every call for this delivery
	replays     int    // how often an operator has replayed it: each replay is a fresh request to GOMS
}

func (a *Adapter) call(d *gateway.Delivery) *call {
	replays := 0
	for _, at := range d.Attempts {
		if at.Outcome == gateway.OutcomeReplayed {
			replays++
		}
	}
	return &call{Adapter: a, delivery: d.ID, correlation: CorrelationID(d.ID), replays: replays}
}

// correlationSpace is the UUID namespace of correlation ids (a random v4, fixed forever).
var correlationSpace = [16]byte{0x6b, 0x1e, 0x2f, 0x0c, 0x5d, 0x4a, 0x4e, 0x8b, 0x9a, 0x37, 0x12, 0xc4, 0x7e, 0x55, 0x80, 0x21}

// CorrelationID is the X-Correlation-ID of a delivery: a name-based UUID
// (version 5) of its id, since the API requires the UUID form. Every
// attempt at a delivery carries the same one, so GOMS's support desk can
// find them all; it says nothing about the patient.
func CorrelationID(deliveryID string) string { return nameUUID(deliveryID) }

// requestID is a call's X-Request-ID. GOMS de-duplicates repeated requests
// by it, and asks that a failed request sent again carry the same one: a
// write (one body to one path, for one delivery, since its last replay)
// has a name-based UUID of those, the same on every retry, so a transaction GOMS applied before
// its answer was lost is not applied twice; a read has a new one, so a
// search repeated for news is never answered as a repeat.
func (c *call) requestID(method, path string, body []byte) string {
	if method == http.MethodGet {
		return newRequestID()
	}
	sum := sha256.Sum256(body)
	// A replay (after a permanent refusal an operator fixed) is a request
	// of its own: one GOMS de-duplicated would only be answered as before.
	return nameUUID(fmt.Sprintf("%s\x00%d\x00%s %s\x00%s", c.delivery, c.replays, method, path, hex.EncodeToString(sum[:])))
}

// nameUUID is a name-based (version 5) UUID of name.
func nameUUID(name string) string {
	h := sha1.New()
	h.Write(correlationSpace[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return format(u)
}

// newRequestID is a random (version 4) UUID.
func newRequestID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return format(u)
}

func format(u [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// wrap adds the step and the correlation id (for GOMS's helpdesk) to an error, keeping its class.
func (c *call) wrap(step string, err error) error {
	// %w keeps err's class: gateway.Permanent and gateway.RetryAfter are found through the wrapping.
	return fmt.Errorf("GOMS: %s (X-Correlation-ID %s): %w", step, c.correlation, err)
}

// do sends one request. On a 401 it drops the token, fetches a fresh one
// and tries once more (a token may be revoked or expire early).
func (c *call) do(ctx context.Context, method, path string, body []byte) (*http.Response, []byte, error) {
	for try := 0; ; try++ {
		req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
		if err != nil {
			return nil, nil, gateway.Permanent(err)
		}
		if body == nil {
			req.Body, req.ContentLength = http.NoBody, 0
		} else {
			req.Header.Set("Content-Type", "application/fhir+json")
		}
		req.Header.Set("Accept", "application/fhir+json")
		req.Header.Set("apikey", c.apiKey)
		req.Header.Set("X-Request-ID", c.requestID(method, path, body))
		req.Header.Set("X-Correlation-ID", c.correlation)
		tok, err := c.auth.Token(ctx)
		if err != nil {
			var rejected *adapters.AuthRejected
			if errors.As(err, &rejected) {
				return nil, nil, gateway.Permanent(fmt.Errorf("the token endpoint refused the gateway's signed client assertion (check clientId, keyId and the registered public key): %w", err))
			}
			return nil, nil, err
		}
		req.Header.Set("Authorization", tok)
		resp, err := c.client.Do(req)
		if err != nil {
			return nil, nil, adapters.NoAnswer(method, c.base+path, err) // network error or timeout: retry
		}
		respBody, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		resp.Body.Close()
		c.log.Debug("goms call", "delivery", c.delivery, "correlationId", c.correlation,
			"requestId", req.Header.Get("X-Request-ID"), "method", method, "path", strings.SplitN(path, "?", 2)[0], "status", resp.StatusCode)
		if resp.StatusCode == http.StatusUnauthorized {
			c.auth.Invalidate(tok)
			if try == 0 {
				continue
			}
			// A freshly issued token refused too: more likely a lag between
			// the token service and the API than a fault retrying cannot fix.
			said := adapters.Diagnostics(respBody)
			return nil, nil, gateway.ReceiverSaid(fmt.Errorf("%s %s: GOMS refused a freshly issued token: %s%s", method, path, resp.Status, said), said)
		}
		return resp, respBody, adapters.HTTPOutcome(resp, respBody, method+" "+strings.SplitN(path, "?", 2)[0])
	}
}

// transactionResponse is a FHIR transaction-response Bundle.
type transactionResponse struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Entry        []struct {
		Response struct {
			Status   string          `json:"status"`
			Location string          `json:"location"`
			Outcome  json.RawMessage `json:"outcome"`
		} `json:"response"`
	} `json:"entry"`
}

// transaction posts a transaction Bundle and returns each entry's
// location. describe names entry i for messages (never patient data).
// Entries failing with a status in retry are retryable, beside the usual ones.
func (c *call) transaction(ctx context.Context, bundle []byte, describe func(i int) string, retry ...int) ([]string, error) {
	resp, body, err := c.do(ctx, http.MethodPost, "/FHIR/R4", bundle)
	if err != nil {
		// A server may answer a failed transaction with the failing entry's
		// status for the whole request (a 412 on a Task's ifMatch).
		if resp != nil && slices.Contains(retry, resp.StatusCode) {
			return nil, &conflictError{stripPermanent(err)}
		}
		return nil, err
	}
	var tr transactionResponse
	if err := json.Unmarshal(body, &tr); err != nil || tr.ResourceType != "Bundle" {
		return nil, fmt.Errorf("the answer to the transaction is not a Bundle (%d bytes)", len(body))
	}
	locations := make([]string, len(tr.Entry))
	var failures []error
	for i, e := range tr.Entry {
		locations[i] = e.Response.Location
		code, _ := strconv.Atoi(strings.SplitN(e.Response.Status, " ", 2)[0])
		if code >= 200 && code < 300 {
			continue
		}
		err := entryError(code, e.Response.Status, e.Response.Outcome, fmt.Sprintf("entry %d (%s)", i, describe(i)))
		if slices.Contains(retry, code) {
			err = &conflictError{stripPermanent(err)}
		}
		failures = append(failures, err)
	}
	if len(failures) == 1 {
		var conflict *conflictError
		if errors.As(failures[0], &conflict) {
			return nil, conflict
		}
	}
	if len(failures) > 0 {
		// Retryable if any failure is: the transaction as a whole may then succeed.
		err := errors.Join(failures...)
		for _, f := range failures {
			if !gateway.IsPermanent(f) {
				return nil, fmt.Errorf("GOMS did not apply the transaction: %w", stripPermanent(err))
			}
		}
		return nil, gateway.Permanent(fmt.Errorf("GOMS refused the transaction: %w", stripPermanent(err)))
	}
	if len(tr.Entry) == 0 {
		return nil, errors.New("the transaction-response has no entries")
	}
	return locations, nil
}

// transientIssues are OperationOutcome issue codes (the "transient" branch
// of FHIR's IssueType) that say trying again later may work.
var transientIssues = map[string]bool{"transient": true, "lock-error": true, "no-store": true, "exception": true,
	"timeout": true, "incomplete": true, "throttled": true}

// entryError classifies one failed transaction entry: 5xx, 408, 429 or a
// transient issue code are worth retrying; any other status is permanent.
func entryError(code int, status string, outcome json.RawMessage, what string) error {
	said := adapters.Diagnostics(outcome)
	err := gateway.ReceiverSaid(fmt.Errorf("%s: %s%s", what, status, said), said)
	if code >= 500 || code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code == 0 {
		return err
	}
	var oo struct {
		Issue []struct {
			Code string `json:"code"`
		} `json:"issue"`
	}
	json.Unmarshal(outcome, &oo)
	for _, is := range oo.Issue {
		if transientIssues[is.Code] {
			return err
		}
	}
	return gateway.Permanent(err)
}

// stripPermanent returns the error text without its class (the caller
// decides), still marking the receiver's words in it.
func stripPermanent(err error) error {
	return gateway.ReceiverSaid(errors.New(err.Error()), gateway.ReceiverWords(err)...)
}

// conflictError is a write refused because the resource changed meanwhile
// (409, 412): retryable, and worth reading again at once.
type conflictError struct{ error }

func (e *conflictError) Unwrap() error { return e.error }
