package gateway_test

import (
	"context"
	"testing"
	"time"
)

// The gateway stops promptly while the store cannot take an outcome: a
// replay-safe destination's worker, holding an attempted delivery whose
// outcome is not recorded yet, gives up trying to record it once the
// gateway is stopping (recordAgain says so), rather than until the lease
// ends (the attempt's timeout and more, up to twice, for a lease taken
// ahead), which may outlast the process manager's grace and be killed.
func TestStopsPromptlyWhileTheStoreRefusesOutcomes(t *testing.T) {
	h := newHarness(t)
	h.enqueue(t, "DOWN-1", 1)
	h.disp.Queue = &unavailableQueue{Queue: h.store, fails: 1 << 30} // Redis is down
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.disp.Run(ctx); close(done) }()
	for i := 0; h.recv.Accepted() == 0 && i < 200; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if h.recv.Accepted() == 0 {
		t.Fatal("the delivery was not attempted")
	}
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return within 2 s of the stop: a worker is still retrying the record of an outcome")
	}
}
