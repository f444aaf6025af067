package gateway

import "time"

// Observer is told what the gateway does, for metrics. Implementations
// must be safe for concurrent use and fast: they are called on every
// message and attempt. The domain knows nothing of Prometheus; cmd wires
// gateway/metrics in.
type Observer interface {
	// Received: one inbound report or message from source ("json",
	// "hl7v2-http", "hl7v2-mllp") with its outcome ("accepted", "resent",
	// "refused", "unavailable") and what the decoder noticed.
	Received(source, outcome string, warnings, unmapped int)
	// Acknowledged: an HL7 v2 acknowledgement code sent over transport.
	Acknowledged(transport, code string)
	// Attempted: one delivery attempt's outcome ("delivered", "retry",
	// "permanent", "gave-up") and how long it took.
	Attempted(destination, outcome string, took time.Duration)
	// Pruned: n items of a retention class removed.
	Pruned(class string, n int)
}

// NoObserver observes nothing.
type NoObserver struct{}

func (NoObserver) Received(string, string, int, int)       {}
func (NoObserver) Acknowledged(string, string)             {}
func (NoObserver) Attempted(string, string, time.Duration) {}
func (NoObserver) Pruned(string, int)                      {}
