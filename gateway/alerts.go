package gateway

import (
	"context"
	"log/slog"
	"sync"
)

// Alert is something an operator must act on: a delivery dead-lettered, a
// destination failing, a queue growing old, reports with no route, a store
// that cannot write.
type Alert struct {
	Key      string // what it is about, e.g. "queue-age/epr": one open alert per key
	Resolved bool   // this is the "it is over" notice for Key
	Summary  string // one line for a person; never patient data
	Attrs    []any  // slog key-value pairs (ids, destination, reason)
}

// Notifier sends alerts somewhere people look (a Teams or Slack webhook).
// It must not block for long: Alerts calls it inline.
type Notifier interface {
	Notify(a Alert)
}

// Alerts raises each condition once when it starts and resolves it once
// when it ends, so alerts neither storm nor stay silent: each is one ERROR
// log line with "alert": true (and an optional Notifier call) each way.
// One-off events (a dead letter) are raised without a key.
type Alerts struct {
	Log      *slog.Logger
	Notifier Notifier // nil: log only

	mu   sync.Mutex
	open map[string]bool
}

// Raise opens the alert for key if it is not open already.
func (a *Alerts) Raise(key, summary string, attrs ...any) {
	if key != "" && !a.set(key, true) {
		return
	}
	a.emit(Alert{Key: key, Summary: summary, Attrs: attrs})
}

// Resolve closes the alert for key if it is open.
func (a *Alerts) Resolve(key, summary string, attrs ...any) {
	if !a.set(key, false) {
		return
	}
	a.emit(Alert{Key: key, Resolved: true, Summary: summary, Attrs: attrs})
}

// Settle closes the alert for key and says so even if this process never
// raised it: an earlier run, or another replica, may have, and a condition
// ended at start-up (held reports released once their trust has a route)
// would otherwise leave that alert open for good. Receivers take a
// resolution of an alert they do not have as a no-op.
func (a *Alerts) Settle(key, summary string, attrs ...any) {
	a.set(key, false)
	a.emit(Alert{Key: key, Resolved: true, Summary: summary, Attrs: attrs})
}

// Open lists the keys of the alerts open now.
func (a *Alerts) Open() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var keys []string
	for k := range a.open {
		keys = append(keys, k)
	}
	return keys
}

// set records key's state and says whether it changed.
func (a *Alerts) set(key string, open bool) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.open == nil {
		a.open = map[string]bool{}
	}
	if a.open[key] == open {
		return false
	}
	if open {
		a.open[key] = true
	} else {
		delete(a.open, key)
	}
	return true
}

func (a *Alerts) emit(al Alert) {
	attrs := append([]any{"alert", true, "alert_key", al.Key, "resolved", al.Resolved}, al.Attrs...)
	// Both ends are ERROR lines, so a log alert rule on level and "alert"
	// sees the resolution as well as the start.
	a.Log.Log(context.Background(), slog.LevelError, al.Summary, attrs...)
	if a.Notifier != nil {
		a.Notifier.Notify(al)
	}
}
