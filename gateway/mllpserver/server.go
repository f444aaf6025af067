// Package mllpserver accepts HL7 v2 messages over MLLP (TCP, optionally
// TLS with client certificates): one goroutine per connection, a frame size
// limit and an idle timeout. Every frame gets an answer; a connection is
// never closed on a sender without telling it why.
package mllpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/nhs-genomics/results-gateway/hl7"
)

// Server serves MLLP connections.
type Server struct {
	// Handle answers one message with the acknowledgements to send back;
	// conn says who sent it (its address, its TLS client certificate).
	Handle      func(ctx context.Context, conn net.Conn, msg []byte) [][]byte
	MaxBytes    int
	IdleTimeout time.Duration
	TLS         *tls.Config // nil for plain TCP
	Log         *slog.Logger

	wg sync.WaitGroup
}

// Serve accepts connections until ctx is cancelled, then waits for the
// messages being handled to be answered.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.TLS != nil {
		ln = tls.NewListener(ln, s.TLS)
	}
	go func() { <-ctx.Done(); ln.Close() }()
	defer s.wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(ctx, conn)
		}()
	}
}

func (s *Server) serveConn(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	go func() { <-ctx.Done(); conn.SetReadDeadline(time.Now()) }() // stop waiting on shutdown
	frames := hl7.NewFrameReader(conn, s.MaxBytes)
	for ctx.Err() == nil {
		conn.SetReadDeadline(time.Now().Add(s.IdleTimeout))
		msg, err := frames.Next()
		if err != nil {
			if errors.Is(err, hl7.ErrFrameTooLarge) {
				s.Log.Warn("mllp message too large", "remote", conn.RemoteAddr().String(), "limit", s.MaxBytes)
				s.write(conn, tooLarge(s.MaxBytes))
			} else if !errors.Is(err, io.EOF) {
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					s.Log.Info("mllp connection ended", "remote", conn.RemoteAddr().String(), "error", err)
				}
			}
			return
		}
		// The message is answered even if the gateway is shutting down meanwhile.
		for _, ack := range s.Handle(context.WithoutCancel(ctx), conn, msg) {
			if !s.write(conn, ack) {
				return
			}
		}
	}
}

func (s *Server) write(conn net.Conn, ack []byte) bool {
	conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if err := hl7.WriteFrame(conn, ack); err != nil {
		s.Log.Info("mllp write failed", "remote", conn.RemoteAddr().String(), "error", err)
		return false
	}
	return true
}

// tooLarge is the AE for a frame over the limit: its content was not read,
// so there is no MSH-10 to echo, but the sender still learns why.
func tooLarge(limit int) []byte {
	m, _ := hl7.Parse([]byte("MSH|^~\\&|||||||ACK||P|2.5.1\r"))
	return hl7.Ack(m, hl7.AE, "RG-TOO-LARGE", []hl7.AckError{{Location: hl7.ErrorLocation{Segment: "MSH", Sequence: 1},
		Code: "207", Text: "message larger than the gateway's limit of " + strconv.Itoa(limit) + " bytes"}}, time.Now())
}
