package connlimit_test

import (
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/internal/connlimit"
)

// TestLimits: a real loopback listener takes PerAddr connections from one
// address, closes the next at once, and takes another when one closes.
func TestLimits(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &connlimit.Listener{Listener: inner, Max: 10, PerAddr: 2, Name: "test", Log: slog.New(slog.DiscardHandler)}
	defer ln.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		c, err := net.DialTimeout("tcp", inner.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	wait := func() net.Conn {
		select {
		case c := <-accepted:
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("a connection within the limit was not accepted")
			return nil
		}
	}
	dial()
	first := wait()
	dial()
	wait()
	refused := dial() // the third from 127.0.0.1: closed by the gateway
	refused.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := refused.Read(make([]byte, 1)); err == nil || err != io.EOF && isTimeout(err) {
		t.Fatalf("the connection over the limit was not closed: %v", err)
	}
	first.Close()
	dial()
	wait() // a place came free
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
