package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/gateway/mllpserver"
	"github.com/nhs-genomics/results-gateway/gateway/v2intake"
	"github.com/nhs-genomics/results-gateway/internal/connlimit"
)

// httpHL7 adapts the HL7 service to the HTTP endpoint: the last
// acknowledgement is the one an HTTP sender reads.
func httpHL7(svc *v2intake.Service) func(context.Context, gateway.Principal, []byte) ([]byte, bool) {
	return func(ctx context.Context, who gateway.Principal, msg []byte) ([]byte, bool) {
		res := svc.Handle(ctx, &who, nil, msg)
		return res.HTTP, res.Unavailable
	}
}

// startMLLP listens for MLLP when configured; the listener stops with ctx.
func startMLLP(ctx context.Context, cfg HL7Config, files *tlsFiles, svc *v2intake.Service, log *slog.Logger, stdout io.Writer) (<-chan error, error) {
	done := make(chan error, 1)
	if cfg.MLLPAddr == "" {
		close(done)
		return done, nil
	}
	var tlsConfig *tls.Config
	if files != nil {
		tlsConfig = files.Config()
	}
	inner, err := net.Listen("tcp", cfg.MLLPAddr)
	if err != nil {
		return nil, fmt.Errorf("mllp listen on %s: %w", cfg.MLLPAddr, err)
	}
	ln := &connlimit.Listener{Listener: inner, Max: cfg.Limits.MaxConnections, PerAddr: cfg.Limits.MaxConnectionsPerAddress, Name: "mllp", Log: log}
	srv := &mllpserver.Server{MaxBytes: cfg.MaxBytes, IdleTimeout: time.Duration(cfg.IdleTimeoutSeconds) * time.Second, TLS: tlsConfig, Log: log,
		Handle: func(ctx context.Context, conn net.Conn, msg []byte) [][]byte {
			peer := peerOf(conn)
			return svc.Handle(ctx, nil, &peer, msg).Acks
		}}
	log.Info("mllp listener started", "addr", ln.Addr().String(), "tls", tlsConfig != nil)
	fmt.Fprintf(stdout, "mllp listening on %s\n", ln.Addr())
	go func() { done <- srv.Serve(ctx, ln) }()
	return done, nil
}

// peerOf describes an MLLP connection: its address and the names in its
// verified client certificate. An unverified certificate names nobody.
func peerOf(conn net.Conn) v2intake.Peer {
	var p v2intake.Peer
	if ap, err := netip.ParseAddrPort(conn.RemoteAddr().String()); err == nil {
		p.Addr = ap.Addr()
	}
	if tc, ok := conn.(*tls.Conn); ok {
		if chains := tc.ConnectionState().VerifiedChains; len(chains) > 0 && len(chains[0]) > 0 {
			p.Names = certificateNames(chains[0][0])
		}
	}
	return p
}

// certificateNames are a certificate's subject common name and its DNS,
// URI and email subject alternative names.
func certificateNames(c *x509.Certificate) []string {
	names := append([]string{}, c.DNSNames...)
	if c.Subject.CommonName != "" {
		names = append(names, c.Subject.CommonName)
	}
	for _, u := range c.URIs {
		names = append(names, u.String())
	}
	return append(names, c.EmailAddresses...)
}
