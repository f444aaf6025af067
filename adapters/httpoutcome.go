package adapters

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// HTTPOutcome classifies an HTTP answer for delivery: nil for 2xx; a
// retryable error for 408, 429 and 5xx (honouring Retry-After); a permanent
// one for any other status, keeping an OperationOutcome's text for people.
func HTTPOutcome(resp *http.Response, body []byte, what string) error {
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		said := Diagnostics(body)
		err := gateway.ReceiverSaid(fmt.Errorf("receiver answered %s%s", resp.Status, said), said)
		if wait, ok := retryAfter(resp.Header.Get("Retry-After")); ok {
			return gateway.RetryAfter(err, wait)
		}
		return err
	default:
		said := Diagnostics(body)
		return gateway.Permanent(gateway.ReceiverSaid(fmt.Errorf("receiver rejected %s: %s%s", what, resp.Status, said), said))
	}
}

// Diagnostics pulls the readable text out of an OperationOutcome body.
func Diagnostics(body []byte) string {
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
	out := Redact(strings.Join(texts, "; "))
	if len(out) > 1000 {
		out = out[:1000] + "..."
	}
	if out == "" {
		return ""
	}
	return ": " + out
}

var (
	// nationalNumber is ten digits, perhaps spaced 3-3-4: an NHS, CHI or
	// Health and Care number.
	nationalNumber = regexp.MustCompile(`\b\d{3}[ -]?\d{3}[ -]?\d{4}\b`)
	// searchValue is the value of an identifier (or any) search parameter a
	// server echoes from a conditional request: Patient?identifier=sys|value.
	searchValue = regexp.MustCompile(`([?&][A-Za-z_.:-]+=)[^\s&;,"']+`)
)

// Redact removes from a receiver's text what may identify a patient before
// it is kept on a delivery, shown or logged: servers echo the conditional
// URLs they were given (Patient?identifier=...nhs-number|9990000018) and
// the numbers in them.
func Redact(text string) string {
	text = searchValue.ReplaceAllString(text, "${1}[withheld]")
	return nationalNumber.ReplaceAllString(text, "[number withheld]")
}

// NoAnswer describes a request that got no answer (refused, reset, timed
// out) by its method and its URL without the query: a conditional search's
// query holds the patient's NHS number (Patient?identifier=...|999...), a
// receiver's base URL may hold a key (?apikey=), and this text is kept on
// the delivery and logged when the destination starts failing. net/http's
// own error names the whole URL, so only its cause is kept; errors.Is
// still finds a timeout in it.
func NoAnswer(method, target string, err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	return fmt.Errorf("%s %s: %w", method, WithoutQuery(target), err)
}

// WithoutQuery is a URL without its query, user or fragment (an
// ellipsis says a query was there), for messages that are kept or logged.
func WithoutQuery(target string) string {
	u, err := url.Parse(target)
	if err != nil {
		return "(an unreadable URL)"
	}
	had := u.RawQuery != "" || u.ForceQuery
	u.RawQuery, u.ForceQuery, u.User, u.Fragment = "", false, nil, ""
	if had {
		return u.String() + "?…"
	}
	return u.String()
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
