package alerthook_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/gateway/alerthook"
)

// A raised and a resolved alert reach a real HTTP server on loopback as
// {"text": ...}, once each, after a failed first try is retried.
func TestPostsAlertsAsChatText(t *testing.T) {
	got := make(chan string, 10)
	failures := 1
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failures > 0 {
			failures--
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var body map[string]string
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &body) != nil {
			t.Errorf("not a JSON post: %s", b)
		}
		got <- body["text"]
	}))
	defer srv.Close()
	hook := alerthook.New(srv.URL, "GLH North", srv.Client(), slog.New(slog.DiscardHandler))
	alerts := &gateway.Alerts{Log: slog.New(slog.DiscardHandler), Notifier: hook}
	alerts.Raise("queue-age/epr", "a destination's queue is older than its limit", "destination", "epr")
	alerts.Raise("queue-age/epr", "a destination's queue is older than its limit", "destination", "epr") // still open: no second post
	alerts.Resolve("queue-age/epr", "the destination's queue is within its age limit", "destination", "epr")
	hook.Close()
	close(got)
	var texts []string
	for text := range got {
		texts = append(texts, text)
	}
	if len(texts) != 2 || !strings.HasPrefix(texts[0], "[GLH North] ALERT: a destination's queue is older") ||
		!strings.Contains(texts[0], "destination=epr") || !strings.HasPrefix(texts[1], "[GLH North] RESOLVED:") {
		t.Fatalf("posted %q", texts)
	}
}

// A webhook that never answers well loses the alert to the log, not the gateway's time.
func TestDeadWebhookDoesNotBlock(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) }))
	defer srv.Close()
	var logs strings.Builder
	hook := alerthook.New(srv.URL, "GLH", srv.Client(), slog.New(slog.NewTextHandler(&logs, nil)))
	start := time.Now()
	for range 300 {
		hook.Notify(gateway.Alert{Key: "k", Summary: "s"})
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Notify blocked for %s", took)
	}
	hook.Close()
	if !strings.Contains(logs.String(), "queue full") || !strings.Contains(logs.String(), "could not post") {
		t.Fatalf("logs: %s", logs.String())
	}
}

// The receiver's error text stays in the log: it may echo patient data.
func TestTextLeavesErrorsOut(t *testing.T) {
	text := alerthook.Text("GLH", gateway.Alert{Key: "failing/epr", Summary: "destination failing",
		Attrs: []any{"destination", "epr", "error", "422: Patient 9990000018 SMITH not found", "reason", "refused 9990000018"}})
	if strings.Contains(text, "9990000018") || !strings.Contains(text, "destination=epr") {
		t.Fatalf("posted %q", text)
	}
}

// A webhook's URL is its credential (Slack's and Teams' carry the secret in
// the path): when it cannot be reached, the log line says why, not where.
func TestUnreachableWebhookKeepsItsURLOutOfTheLog(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/services/T000/B000/XXXSECRETXXX"
	srv.Close() // nothing listens there now: connection refused
	var logs strings.Builder
	hook := alerthook.New(url, "GLH", &http.Client{Timeout: time.Second}, slog.New(slog.NewTextHandler(&logs, nil)))
	hook.Notify(gateway.Alert{Key: "k", Summary: "s"})
	hook.Close()
	if !strings.Contains(logs.String(), "could not post") {
		t.Fatalf("no log line for the failed post: %s", logs.String())
	}
	if strings.Contains(logs.String(), "XXXSECRETXXX") {
		t.Fatalf("the webhook's secret URL was logged: %s", logs.String())
	}
}
