package mllp_test

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/adapters/adaptertest"
	"github.com/nhs-genomics/results-gateway/adapters/mllp"
	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/hl7"
	"github.com/nhs-genomics/results-gateway/internal/peers"
	"github.com/nhs-genomics/results-gateway/mappers/hl7v2"
	"github.com/nhs-genomics/results-gateway/mappers/labjson"
)

// peer is an MLLP receiver on 127.0.0.1 that answers AA, AE or AR, drops
// the connection, hangs, or writes its ACK one byte at a time.
type peer struct {
	ln       net.Listener
	mu       sync.Mutex
	mode     string
	split    bool
	received int
}

func startPeer(t *testing.T) *peer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{ln: ln, mode: "AA"}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(conn)
		}
	}()
	return p
}

func (p *peer) serve(conn net.Conn) {
	defer conn.Close()
	frames := hl7.NewFrameReader(conn, 1<<24)
	for {
		raw, err := frames.Next()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode, split := p.mode, p.split
		p.mu.Unlock()
		msg, err := hl7.Parse(raw)
		if err != nil {
			return
		}
		switch mode {
		case "drop":
			return
		case "hang":
			time.Sleep(10 * time.Second)
			return
		case "AA":
			p.mu.Lock()
			p.received++
			p.mu.Unlock()
		}
		var errs []hl7.AckError
		if mode == "AE" {
			errs = []hl7.AckError{{Location: hl7.ErrorLocation{Segment: "PID", Sequence: 1, Field: 3}, Code: "204", Text: "unknown patient"}}
		}
		ack := hl7.Ack(msg, mode, "EPR-1", errs, time.Now())
		var frame strings.Builder
		hl7.WriteFrame(&frame, ack)
		if split {
			for _, b := range []byte(frame.String()) {
				conn.Write([]byte{b})
			}
		} else {
			conn.Write([]byte(frame.String()))
		}
	}
}

func (p *peer) set(mode string) { p.mu.Lock(); p.mode = mode; p.mu.Unlock() }

func (p *peer) Accept() { p.set("AA") }
func (p *peer) Fail()   { p.set("AR") }
func (p *peer) Reject() { p.set("AE") }
func (p *peer) Hang()   { p.set("hang") }
func (p *peer) Received() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.received
}

func newAdapter(t *testing.T, addr string) gateway.Adapter {
	t.Helper()
	a, err := mllp.New(json.RawMessage(fmt.Sprintf(`{"address":%q}`, addr)))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func oru(t *testing.T, name, controlID string) []byte {
	r, err := labjson.Decode(fixtures.Report(name))
	if err != nil {
		t.Fatal(err)
	}
	return hl7v2.Encode(r, []byte("%PDF-1.4 report"), controlID, hl7v2.Options{})
}

func TestConformance(t *testing.T) {
	p := startPeer(t)
	adaptertest.Run(t, adaptertest.Harness{
		Peer: p,
		New:  func(t *testing.T) gateway.Adapter { return newAdapter(t, p.ln.Addr().String()) },
		Absent: func(t *testing.T) gateway.Adapter {
			ln, _ := net.Listen("tcp", "127.0.0.1:0")
			addr := ln.Addr().String()
			ln.Close()
			return newAdapter(t, addr)
		},
		Delivery: func(n int) *gateway.Delivery {
			return &gateway.Delivery{ContentType: "application/hl7-v2+er7", Payload: oru(t, "panel-brca2", "C"+strconv.Itoa(n))}
		},
	})
}

func TestDropSplitAndReuse(t *testing.T) {
	p := startPeer(t)
	a := newAdapter(t, p.ln.Addr().String())
	send := func(ctrl string) (string, error) {
		return a.Deliver(t.Context(), &gateway.Delivery{Payload: oru(t, "negative-wgs", ctrl)})
	}
	p.set("drop")
	if _, err := send("D1"); err == nil || gateway.IsPermanent(err) {
		t.Fatalf("a dropped connection must be retryable, got %v", err)
	}
	p.set("AA")
	p.split = true
	ref, err := send("D2")
	if err != nil || !strings.HasPrefix(ref, "AA D2") {
		t.Fatalf("after reconnecting, with the ACK split byte by byte: %q %v", ref, err)
	}
	for i := 3; i < 6; i++ { // the connection is kept for later messages
		if _, err := send("D" + strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	if p.Received() != 4 {
		t.Fatalf("peer received %d messages, want 4", p.Received())
	}
}

// TestThirdPartyListener sends every fixture to the third-party HL7 v2
// listener, which must parse each one and acknowledge it.
func TestThirdPartyListener(t *testing.T) {
	addr, readLog := peers.HL7Listener(t)
	a := newAdapter(t, addr)
	type sentMessage struct{ ctrl, name, version string }
	var sent []sentMessage
	for _, version := range []string{"2.5.1", "2.4", "2.3"} {
		for _, r := range outboundReports(t) {
			ctrl := "FX" + strconv.Itoa(len(sent)+1)
			payload := hl7v2.Encode(r.report, []byte("%PDF-1.4 report"), ctrl, hl7v2.Options{Version: version})
			ref, err := a.Deliver(t.Context(), &gateway.Delivery{Payload: payload})
			if err != nil || !strings.HasPrefix(ref, "AA "+ctrl) {
				t.Fatalf("%s %s: %q %v", version, r.name, ref, err)
			}
			sent = append(sent, sentMessage{ctrl, r.name, version})
		}
	}
	logged := peers.WaitLogged(readLog, len(sent))
	if len(logged) != len(sent) {
		t.Fatalf("the listener logged %d messages, sent %d", len(logged), len(sent))
	}
	for i, line := range logged {
		m := sent[i]
		text, _ := json.Marshal(line)
		hasVariants := m.name != "negative-wgs" && !strings.HasPrefix(m.name, "hl7:") // fixtures with variant OBX groups
		if !strings.Contains(string(text), m.ctrl) || !strings.Contains(string(text), "ORU") ||
			hasVariants && !strings.Contains(string(text), "48018-6") {
			t.Errorf("%s %s was not parsed as an ORU with variant OBX: %.300s", m.version, m.name, text)
		}
		// The ORU_R01 grammar: OBR, {NTE}, [TQ1], {OBX {NTE}}, ..., {SPM {OBX}}. An
		// OBX after an SPM belongs to the specimen, so none of ours may follow one.
		var last string
		for _, seg := range line["segments"].([]any) {
			switch name := seg.(string); name {
			case "OBR", "SPM":
				last = name
			case "OBX":
				if last != "OBR" {
					t.Errorf("%s %s: an OBX follows %s, where the listener attaches it to the specimen: %v", m.version, m.name, last, line["segments"])
				}
			}
		}
	}
}

type namedReport struct {
	name   string
	report *gateway.Report
}

// outboundReports are the reports the gateway sends out: every JSON
// fixture, and every synthetic HL7 v2 message as read by the gateway
// (pathology results in several OBR groups among them).
func outboundReports(t *testing.T) []namedReport {
	var out []namedReport
	for _, f := range fixtures.Reports() {
		r, err := labjson.Decode(f.Body)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, namedReport{f.Name, r})
	}
	for _, f := range fixtures.HL7() {
		m, err := hl7.Parse(f.Body)
		if err != nil {
			t.Fatal(err)
		}
		d, err := hl7v2.Decode(m, "699X0", hl7v2.SenderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Report.Patient.Identified() && d.Report.HasContent() {
			out = append(out, namedReport{"hl7:" + f.Name, d.Report})
		}
	}
	return out
}

// TestACKTextIsTheReceiversWords: an AE's ERR text is the EPR's own words
// (it may name the patient), kept in the error for the delivery's record
// but marked so the log withholds it.
func TestACKTextIsTheReceiversWords(t *testing.T) {
	p := startPeer(t)
	a := newAdapter(t, p.ln.Addr().String())
	p.Reject()
	_, err := a.Deliver(t.Context(), &gateway.Delivery{Payload: oru(t, "negative-wgs", "W1")})
	if err == nil || !strings.Contains(err.Error(), "unknown patient") {
		t.Fatalf("the AE's text is not in the error: %v", err)
	}
	if logged := gateway.LogSafe(err, err.Error()); strings.Contains(logged, "unknown patient") || !strings.Contains(logged, "EPR answered AE") {
		t.Fatalf("for the log: %q", logged)
	}
}
