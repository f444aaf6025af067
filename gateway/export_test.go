package gateway

import (
	"context"
	"time"
)

// For the external tests that need the fixtures (which import this package).
var (
	DigestAndStoredJSON = digestAndStoredJSON
	WithoutPDFData      = withoutPDFData
)

// Idle is how long a worker of dest whose lease found nothing at tried sleeps.
func (d *Dispatcher) Idle(dest *Destination, tried time.Time) time.Duration {
	return d.idle(context.Background(), dest, tried)
}
