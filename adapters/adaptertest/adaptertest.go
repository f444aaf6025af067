// Package adaptertest is one conformance suite that every delivery adapter
// runs, against a peer that can accept, fail, reject, hang or be absent.
package adaptertest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// Peer is the receiving end an adapter delivers to.
type Peer interface {
	Accept()       // take deliveries
	Fail()         // fail in a way worth retrying (HTTP 503, a broken folder ...)
	Reject()       // refuse in a way retrying cannot fix (HTTP 400, a conflicting file ...)
	Hang()         // stop answering (only called when Harness.CannotHang is empty)
	Received() int // deliveries taken so far
}

// Harness connects the suite to one adapter.
type Harness struct {
	Peer Peer
	// New returns an adapter for the peer.
	New func(t *testing.T) gateway.Adapter
	// Absent returns an adapter for a receiver that is not there (connection refused).
	Absent func(t *testing.T) gateway.Adapter
	// Delivery returns a delivery to send; n makes each one distinct.
	Delivery func(n int) *gateway.Delivery
	// CannotHang, if set, says why this transport has no hang case.
	CannotHang string
	// Connections, if set, counts the connections opened to the peer; the
	// suite then checks that workers delivering in turn keep theirs.
	Connections func() int
}

// workers is how many deliveries the connection check has in flight at
// once, as a destination's workers would.
const workers = 8

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	deliver := func(t *testing.T, a gateway.Adapter, n int, timeout time.Duration) (string, time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		start := time.Now()
		ref, err := a.Deliver(ctx, h.Delivery(n))
		return ref, time.Since(start), err
	}
	t.Run("Success", func(t *testing.T) {
		h.Peer.Accept()
		before := h.Peer.Received()
		ref, _, err := deliver(t, h.New(t), 1, 10*time.Second)
		if err != nil || ref == "" {
			t.Fatalf("Deliver = %q, %v; want the receiver's reference", ref, err)
		}
		if h.Peer.Received() <= before {
			t.Fatal("the peer received nothing")
		}
	})
	t.Run("Retryable", func(t *testing.T) {
		h.Peer.Fail()
		defer h.Peer.Accept()
		_, _, err := deliver(t, h.New(t), 2, 10*time.Second)
		if err == nil || gateway.IsPermanent(err) {
			t.Fatalf("a temporary failure must be a retryable error, got %v", err)
		}
	})
	t.Run("Permanent", func(t *testing.T) {
		h.Peer.Reject()
		defer h.Peer.Accept()
		_, _, err := deliver(t, h.New(t), 3, 10*time.Second)
		if !gateway.IsPermanent(err) {
			t.Fatalf("a rejection must be permanent, got %v", err)
		}
	})
	if h.CannotHang != "" {
		t.Logf("no hang case: %s", h.CannotHang)
	} else {
		t.Run("HangPastTimeout", func(t *testing.T) { hang(t, h, deliver) })
	}
	if h.Connections != nil {
		t.Run("KeepsConnections", func(t *testing.T) { keepsConnections(t, h, deliver) })
	}
	t.Run("ConnectionRefused", func(t *testing.T) {
		_, _, err := deliver(t, h.Absent(t), 5, 10*time.Second)
		if err == nil || gateway.IsPermanent(err) {
			t.Fatalf("an absent receiver must be a retryable error, got %v", err)
		}
	})
}

func hang(t *testing.T, h Harness, deliver func(*testing.T, gateway.Adapter, int, time.Duration) (string, time.Duration, error)) {
	h.Peer.Hang()
	defer h.Peer.Accept()
	_, took, err := deliver(t, h.New(t), 4, 300*time.Millisecond)
	if err == nil || gateway.IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a hung receiver must give a retryable deadline error, got %v", err)
	}
	if took > 5*time.Second {
		t.Fatalf("Deliver ignored its deadline: took %s", took)
	}
}

// keepsConnections: workers delivering round after round through one
// adapter reuse their connections rather than dialling (and, over HTTPS,
// shaking hands) again. The first round opens what the workers need, and
// more where a dial races a connection on its way back to the idle pool;
// after it, a few more at most. A client keeping two idle connections, as
// Go's default transport does, opens about six more every round.
func keepsConnections(t *testing.T, h Harness, deliver func(*testing.T, gateway.Adapter, int, time.Duration) (string, time.Duration, error)) {
	h.Peer.Accept()
	a := h.New(t)
	const rounds = 6
	var warm int
	for round := 0; round < rounds; round++ {
		if round == 1 {
			warm = h.Connections()
		}
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(n int) {
				defer wg.Done()
				if _, _, err := deliver(t, a, n, 10*time.Second); err != nil {
					errs <- err
				}
			}(100 + round*workers + w)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	if opened := h.Connections() - warm; opened > workers {
		t.Fatalf("%d workers delivering %d more rounds opened %d more connections; want at most %d", workers, rounds-1, opened, workers)
	}
}
