package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/gateway/mllpserver"
	"github.com/nhs-genomics/results-gateway/gateway/v2intake"
)

// httpHL7 adapts the HL7 service to the HTTP endpoint: the last
// acknowledgement is the one an HTTP sender reads.
func httpHL7(svc *v2intake.Service) func(context.Context, gateway.Principal, []byte) ([]byte, bool) {
	return func(ctx context.Context, who gateway.Principal, msg []byte) ([]byte, bool) {
		res := svc.Handle(ctx, &who, msg)
		return res.HTTP, res.Unavailable
	}
}

// startMLLP listens for MLLP when configured; the listener stops with ctx.
func startMLLP(ctx context.Context, cfg HL7Config, svc *v2intake.Service, log *slog.Logger, stdout io.Writer) (<-chan error, error) {
	done := make(chan error, 1)
	if cfg.MLLPAddr == "" {
		close(done)
		return done, nil
	}
	tlsConfig, err := mllpTLS(cfg.TLS)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.MLLPAddr)
	if err != nil {
		return nil, fmt.Errorf("mllp listen on %s: %w", cfg.MLLPAddr, err)
	}
	srv := &mllpserver.Server{MaxBytes: cfg.MaxBytes, IdleTimeout: time.Duration(cfg.IdleTimeoutSeconds) * time.Second, TLS: tlsConfig, Log: log,
		Handle: func(ctx context.Context, msg []byte) [][]byte { return svc.Handle(ctx, nil, msg).Acks }}
	log.Info("mllp listener started", "addr", ln.Addr().String(), "tls", tlsConfig != nil)
	fmt.Fprintf(stdout, "mllp listening on %s\n", ln.Addr())
	go func() { done <- srv.Serve(ctx, ln) }()
	return done, nil
}

func mllpTLS(c ServerTLSConfig) (*tls.Config, error) {
	if c.CertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("hl7.tls: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.ClientCAFile != "" {
		pem, err := os.ReadFile(c.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("hl7.tls.clientCaFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("hl7.tls.clientCaFile %s holds no certificate", c.ClientCAFile)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}
