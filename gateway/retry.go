package gateway

import (
	"math/rand/v2"
	"time"
)

// RetryPolicy says how long to wait before the next attempt.
type RetryPolicy interface {
	// Backoff returns the wait after the given number of failed attempts (1 = first failure).
	Backoff(failures int) time.Duration
}

// ExponentialBackoff is full-jitter exponential backoff: a random wait in
// [0, min(Cap, Base·2^(failures-1))], so retries from many deliveries spread
// out instead of hammering a recovering EPR together.
type ExponentialBackoff struct {
	Base, Cap time.Duration
	Rand      func() float64 // in [0,1); nil means math/rand
}

// Backoff implements RetryPolicy.
func (b ExponentialBackoff) Backoff(failures int) time.Duration {
	ceiling := b.Cap
	if failures < 1 {
		failures = 1
	}
	if shift := failures - 1; shift < 40 {
		if d := b.Base << shift; d > 0 && d < ceiling {
			ceiling = d
		}
	}
	r := rand.Float64
	if b.Rand != nil {
		r = b.Rand
	}
	return time.Duration(r() * float64(ceiling))
}

// Clock tells the time; tests inject one they control.
type Clock interface{ Now() time.Time }

// SystemClock is the real clock.
type SystemClock struct{}

// Now implements Clock.
func (SystemClock) Now() time.Time { return time.Now() }
