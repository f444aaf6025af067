// Package alerthook posts the gateway's alerts to a chat webhook: a JSON
// body {"text": "..."}, which both Slack incoming webhooks and Microsoft
// Teams incoming webhooks / Workflows accept. Posting happens in the
// background with a bounded queue, so a slow or dead webhook never holds up
// a delivery or an intake; what cannot be posted is logged (the alert's log
// line was written already).
package alerthook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// Webhook is a gateway.Notifier.
type Webhook struct {
	url    string
	name   string // the deployment's name, first in every message
	client *http.Client
	log    *slog.Logger
	queue  chan gateway.Alert
	done   chan struct{}
	stop   chan struct{} // closed by Close: no more waiting between tries
}

var _ gateway.Notifier = (*Webhook)(nil)

// New starts a notifier posting to url; Close stops it after the queue drains.
func New(url, deployment string, client *http.Client, log *slog.Logger) *Webhook {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	w := &Webhook{url: url, name: deployment, client: client, log: log, queue: make(chan gateway.Alert, 256), done: make(chan struct{}), stop: make(chan struct{})}
	go w.run()
	return w
}

// Notify implements gateway.Notifier: it queues the alert, or drops it
// with a log line if 256 are already waiting.
func (w *Webhook) Notify(a gateway.Alert) {
	select {
	case w.queue <- a:
	default:
		w.log.Warn("alert webhook: queue full, alert not posted", "alert_key", a.Key)
	}
}

// Close posts what is queued (each post bounded by the client's timeout) and stops.
func (w *Webhook) Close() {
	close(w.stop)
	close(w.queue)
	<-w.done
}

func (w *Webhook) run() {
	defer close(w.done)
	for a := range w.queue {
		body, _ := json.Marshal(map[string]string{"text": Text(w.name, a)})
		var err error
		for attempt := range 3 {
			if attempt > 0 {
				// A short backoff (alerts are not worth a queue of their own),
				// cut short when the gateway stops.
				select {
				case <-time.After(time.Duration(attempt) * time.Second):
				case <-w.stop:
				}
			}
			if err = w.post(body); err == nil {
				break
			}
		}
		if err != nil {
			w.log.Error("alert webhook: could not post an alert", "alert_key", a.Key, "error", err)
		}
	}
}

func (w *Webhook) post(body []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return errors.New("the webhook URL does not parse")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		// A chat webhook's URL is its credential (Slack's and Teams' paths
		// carry the secret): net/http's error names it, the log must not.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			return fmt.Errorf("post to the webhook: %w", ue.Err)
		}
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

// Text is the message posted for a: what, where, and the alert's ids.
func Text(deployment string, a gateway.Alert) string {
	state := "ALERT"
	if a.Resolved {
		state = "RESOLVED"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %s: %s", deployment, state, a.Summary)
	for i := 0; i+1 < len(a.Attrs); i += 2 {
		if k := fmt.Sprint(a.Attrs[i]); k == "error" || k == "reason" {
			continue // a receiver's error text may echo patient data: it stays in the log
		}
		fmt.Fprintf(&b, "; %v=%v", a.Attrs[i], a.Attrs[i+1])
	}
	if a.Key != "" {
		fmt.Fprintf(&b, " (%s)", a.Key)
	}
	return b.String()
}
