package main

import (
	"context"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/gateway/boltstore"
	"github.com/nhs-genomics/results-gateway/gateway/redisstore"
)

// openStore opens Redis when a URL is configured, else the embedded store.
func openStore(ctx context.Context, cfg Config) (gateway.Store, string, error) {
	if cfg.RedisURL != "" {
		s, err := redisstore.Open(ctx, cfg.RedisURL, cfg.RedisPrefix, []byte(cfg.IndexKey))
		if err != nil {
			return nil, "redis", err
		}
		s.PDFKeys = cfg.RedisPDFKeys
		return s, "redis", nil
	}
	s, err := boltstore.Open(cfg.DataDir)
	return s, "embedded", err
}
