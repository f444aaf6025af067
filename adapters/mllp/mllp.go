// Package mllp delivers HL7 v2 messages to an EPR over MLLP. It keeps one
// connection per destination, sends one message at a time and waits for its
// acknowledgement: AA (or CA) is delivered, AE (CE) permanent with the ERR
// text, AR (CR) and timeouts retried. After a timeout the connection is
// closed, so a late ACK can never be taken as the answer to the next message
// and the receiver is not sent the same message again on a connection where
// its ACK may still come (the duplicate flood Mirth users know).
package mllp

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nhs-genomics/results-gateway/adapters"
	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/hl7"
)

// Kind is the destination kind.
const Kind = "mllp"

// Config is the destination's "config".
type Config struct {
	Address     string              `json:"address"` // host:port of the EPR's MLLP listener
	TLS         *adapters.TLSConfig `json:"tls,omitempty"`
	MaxAckBytes int                 `json:"maxAckBytes"`
}

// Adapter is one destination's connection.
type Adapter struct {
	address string
	tls     *tls.Config
	maxAck  int

	mu     sync.Mutex // one message at a time on the connection
	conn   net.Conn
	frames *hl7.FrameReader
}

var _ gateway.Adapter = (*Adapter)(nil)

// New is the registry factory.
func New(raw json.RawMessage) (gateway.Adapter, error) {
	var c Config
	if err := adapters.Decode(raw, &c); err != nil {
		return nil, err
	}
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		return nil, fmt.Errorf("config.address %q is not host:port", c.Address)
	}
	a := &Adapter{address: c.Address, maxAck: c.MaxAckBytes}
	if a.maxAck == 0 {
		a.maxAck = 1 << 20
	}
	if c.TLS != nil {
		var err error
		if a.tls, err = c.TLS.Client(); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Deliver implements gateway.Adapter; the context carries the ACK timeout.
// A payload may hold several messages (a retraction from one patient, then
// the report for another): each is sent and acknowledged in order, and the
// delivery succeeds only when all are.
func (a *Adapter) Deliver(ctx context.Context, d *gateway.Delivery) (string, error) {
	msgs, err := hl7.SplitBatch(d.Payload)
	if err != nil {
		return "", gateway.Permanent(fmt.Errorf("payload is not HL7 v2: %w", err))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var refs []string
	for _, msg := range msgs {
		ref, err := a.send(ctx, msg)
		if err != nil {
			return "", err
		}
		refs = append(refs, ref)
	}
	return strings.Join(refs, "; "), nil
}

// send delivers one message and reads its ACK. On a connection kept from
// an earlier delivery that the EPR has since closed, it reconnects once
// rather than count a failed attempt.
func (a *Adapter) send(ctx context.Context, msg *hl7.Message) (string, error) {
	controlID := msg.Value(msg.First("MSH"), 10, 0)
	reused := a.conn != nil
	raw, err := a.exchange(ctx, msg.Bytes())
	if err != nil && reused && staleConnection(err) {
		raw, err = a.exchange(ctx, msg.Bytes())
	}
	if err != nil {
		return "", err
	}
	ack, err := hl7.Parse(raw)
	if err != nil {
		a.close()
		return "", fmt.Errorf("unreadable ACK from %s: %w", a.address, err)
	}
	code, ackFor, text := hl7.AckCode(ack)
	if ackFor != controlID {
		a.close()
		return "", fmt.Errorf("ACK from %s is for message %q, not %q", a.address, ackFor, controlID)
	}
	switch code {
	case hl7.AA, hl7.CA:
		return fmt.Sprintf("%s %s (ACK %s)", code, controlID, ack.Value(ack.First("MSH"), 10, 0)), nil
	case hl7.AE, hl7.CE:
		return "", gateway.Permanent(gateway.ReceiverSaid(fmt.Errorf("EPR answered %s: %s", code, text), text))
	default:
		return "", gateway.ReceiverSaid(fmt.Errorf("EPR answered %s: %s", code, text), text)
	}
}

// exchange writes one frame and reads the answering frame.
func (a *Adapter) exchange(ctx context.Context, payload []byte) ([]byte, error) {
	if err := a.connect(ctx); err != nil {
		return nil, err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Minute)
	}
	a.conn.SetDeadline(deadline)
	if err := hl7.WriteFrame(a.conn, payload); err != nil {
		a.close()
		return nil, fmt.Errorf("send to %s: %w", a.address, err)
	}
	raw, err := a.frames.Next()
	if err != nil {
		a.close() // an ACK may still come: never on this connection
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, fmt.Errorf("no ACK from %s in time: %w", a.address, context.DeadlineExceeded)
		}
		return nil, fmt.Errorf("no ACK from %s: %w", a.address, err)
	}
	return raw, nil
}

// staleConnection says the EPR had closed the connection before this
// message: the write failed, or the read ended at once without a byte.
func staleConnection(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

func (a *Adapter) connect(ctx context.Context) error {
	if a.conn != nil {
		return nil
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", a.address)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", a.address, err)
	}
	if a.tls != nil {
		host, _, _ := net.SplitHostPort(a.address)
		cfg := a.tls.Clone()
		cfg.ServerName = host
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return fmt.Errorf("TLS with %s: %w", a.address, err)
		}
		conn = tc
	}
	a.conn, a.frames = conn, hl7.NewFrameReader(conn, a.maxAck)
	return nil
}

func (a *Adapter) close() {
	if a.conn != nil {
		a.conn.Close()
		a.conn, a.frames = nil, nil
	}
}
