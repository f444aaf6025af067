// Package connlimit caps a listener's concurrent connections, in all and
// per client address, so one client (or a flood of half-open connections)
// cannot exhaust the gateway's file descriptors or memory. A connection
// over a limit is closed at once, and the refusal is logged.
package connlimit

import (
	"log/slog"
	"net"
	"sync"
)

// Listener wraps a net.Listener with the two limits (0: no limit).
type Listener struct {
	net.Listener
	Max, PerAddr int
	Name         string // "http" or "mllp", for the log
	Log          *slog.Logger

	mu     sync.Mutex
	total  int
	byAddr map[string]int
}

// Accept returns the next connection within the limits.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		if l.admit(host) {
			return &conn{Conn: c, release: func() { l.release(host) }}, nil
		}
		l.Log.Warn("connection refused: over the limit", "listener", l.Name, "remote", host, "max", l.Max, "per_address", l.PerAddr)
		c.Close()
	}
}

func (l *Listener) admit(host string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byAddr == nil {
		l.byAddr = map[string]int{}
	}
	if (l.Max > 0 && l.total >= l.Max) || (l.PerAddr > 0 && l.byAddr[host] >= l.PerAddr) {
		return false
	}
	l.total++
	l.byAddr[host]++
	return true
}

func (l *Listener) release(host string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.byAddr[host]--; l.byAddr[host] <= 0 {
		delete(l.byAddr, host)
	}
}

// conn releases its place once, however often it is closed.
type conn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
