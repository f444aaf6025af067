package main

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/gateway/boltstore"
	"github.com/nhs-genomics/results-gateway/hl7"
	"github.com/nhs-genomics/results-gateway/internal/testpki"
)

// mllpConfig is testConfig with the given hl7 section.
func mllpConfig(dir, hl7Section string) string {
	cfg := strings.ReplaceAll(testConfig, "OUTBOX", filepath.Join(dir, "outbox"))
	i := strings.Index(cfg, `"hl7": {`)
	return cfg[:i] + hl7Section + "\n}"
}

// forged is a lab's message with its conclusion replaced: what an attacker
// who knows the report id would send to amend it.
func forged(ctrl string) []byte {
	return []byte(strings.NewReplacer("|LRI-CWE-1|", "|"+ctrl+"|", "A heterozygous pathogenic frameshift variant", "FORGED").
		Replace(string(fixtures.HL7Message("lri-variant-cwe"))))
}

// TestMLLPSenderIsWhoItsCertificateSays: over mutual TLS, a lab's message
// is filed; the same sender named from another lab's certificate, from a
// plain TCP connection or from TLS without a client certificate is refused
// and changes nothing.
func TestMLLPSenderIsWhoItsCertificateSays(t *testing.T) {
	ca := testpki.NewCA(t)
	server := ca.Server(t, "gateway")
	lims, other := ca.Client(t, "lims.699x0.test"), ca.Client(t, "lims.7a1x0.test")
	dir := t.TempDir()
	base, addr, _ := startWithConfigFull(t, dir, mllpConfig(dir, `"hl7": {"mllpAddr": "127.0.0.1:0", "maxBytes": 1000000, "idleTimeoutSeconds": 5,
    "tls": {"certFile": "`+server.CertFile+`", "keyFile": "`+server.KeyFile+`", "clientCaFile": "`+ca.CertFile+`"},
    "senders": [{"application": "LIMS", "facility": "699X0", "labOdsCode": "699X0", "clientCertificates": ["lims.699x0.test"]},
      {"application": "LIMS", "facility": "7A1X0", "labOdsCode": "7A1X0", "clientCertificates": ["lims.7a1x0.test"]}]}`))
	dialTLS := func(client *testpki.Pair) (net.Conn, error) {
		return tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, ca.ClientConfig(t, client))
	}

	conn, err := dialTLS(&lims)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, text := ackOf(t, mllpExchange(t, conn, fixtures.HL7Message("lri-variant-cwe"), 1)[0]); code != "AA" && code != "CA" {
		t.Fatalf("the lab over mutual TLS: %s %q", code, text)
	}
	unchanged := func(t *testing.T) {
		t.Helper()
		st := get(t, base+"/v1/reports/SYN-1200", operatorToken).json(t)
		bundle := string(get(t, base+"/v1/reports/SYN-1200/fhir", operatorToken).body)
		if st["version"] != float64(1) || strings.Contains(bundle, "FORGED") {
			t.Fatalf("the report was changed: version %v, forged text stored: %v", st["version"], strings.Contains(bundle, "FORGED"))
		}
	}

	t.Run("another lab's certificate naming this lab is AR, nothing stored", func(t *testing.T) {
		conn, err := dialTLS(&other)
		if err != nil {
			t.Fatal(err)
		}
		ack := mllpExchange(t, conn, forged("SPOOF-1"), 1)[0]
		if code, _, text := ackOf(t, ack); code != "AR" && code != "CR" || !strings.Contains(text, "may not send from this connection") {
			t.Fatalf("spoof: %s %q", code, text)
		}
		unchanged(t)
		// Logged as refused, its content not kept, though the connection is
		// another sender's.
		list := consolePage(t, base, "/console/messages?control=SPOOF-1")
		ids := regexp.MustCompile(`/console/messages/([0-9]+-[0-9]+)`).FindStringSubmatch(list)
		if ids == nil {
			t.Fatalf("the spoof is not in the message log:\n%s", list)
		}
		if page := consolePage(t, base, "/console/messages/"+ids[1]); strings.Contains(page, "FORGED") || strings.Contains(page, "PID") {
			t.Errorf("the message log shows the spoof's content:\n%s", page)
		}
	})

	t.Run("plain TCP or TLS without a client certificate gets no hearing", func(t *testing.T) {
		for name, dial := range map[string]func() (net.Conn, error){
			"plain":   func() (net.Conn, error) { return net.DialTimeout("tcp", addr, 5*time.Second) },
			"no cert": func() (net.Conn, error) { return dialTLS(nil) },
		} {
			conn, err := dial()
			if err != nil {
				continue // refused at the handshake: nothing was sent
			}
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			if err := hl7.WriteFrame(conn, forged("SPOOF-2")); err == nil {
				if raw, err := hl7.NewFrameReader(conn, 1<<20).Next(); err == nil {
					t.Errorf("%s: the gateway answered %q", name, raw)
				}
			}
			conn.Close()
		}
		unchanged(t)
	})
}

// TestMLLPSenderBoundToItsAddress: without TLS, a sender bound to source
// addresses is heard only from them.
func TestMLLPSenderBoundToItsAddress(t *testing.T) {
	dir := t.TempDir()
	onlyRemote := mllpConfig(dir, `"hl7": {"mllpAddr": "127.0.0.1:0", "maxBytes": 1000000, "idleTimeoutSeconds": 5,
    "senders": [{"application": "LIMS", "facility": "699X0", "labOdsCode": "699X0", "sourceAddresses": ["192.0.2.0/24"]}]}`)
	base, addr, stop := startWithConfigFull(t, dir, onlyRemote)
	if code, _, text := ackOf(t, mllpSend(t, addr, forged("SPOOF-3"), 1)[0]); code != "AR" && code != "CR" { // CR: the message asks for enhanced mode
		t.Fatalf("a sender bound to 192.0.2.0/24 heard from loopback: %s %q", code, text)
	}
	if r := get(t, base+"/v1/reports/SYN-1200", operatorToken); r.status != http.StatusNotFound {
		t.Fatalf("the refused message was stored: %d", r.status)
	}
	// Not HL7 at all, from a connection bound to no sender: answered and
	// logged as refused, its content not kept.
	if code, _, _ := ackOf(t, mllpSend(t, addr, []byte("HELLO NOT HL7"), 1)[0]); code != "AE" {
		t.Fatalf("a message with no MSH: %s", code)
	}
	stop()
	store, err := boltstore.Open(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	kept, err := store.Messages(context.Background(), gateway.MessageFilter{Source: "hl7v2-mllp"})
	if err != nil || len(kept) != 2 {
		t.Fatalf("the log has %d MLLP messages (%v), want the spoof and the message with no MSH", len(kept), err)
	}
	for _, m := range kept {
		full, err := store.Message(context.Background(), m.ID)
		if err != nil || m.Outcome != "refused" || len(full.Raw) != 0 {
			t.Errorf("an unknown connection's message %q: %s, %d bytes of it kept (%v)", m.ControlID, m.Outcome, len(full.Raw), err)
		}
	}
	store.Close()

	dir = t.TempDir()
	base, addr, _ = startWithConfigFull(t, dir, mllpConfig(dir, `"hl7": {"mllpAddr": "127.0.0.1:0", "maxBytes": 1000000, "idleTimeoutSeconds": 5,
    "senders": [{"application": "LIMS", "facility": "699X0", "labOdsCode": "699X0", "sourceAddresses": ["192.0.2.0/24"]},
      {"application": "LIMS", "facility": "LOCAL", "labOdsCode": "699X0", "sourceAddresses": ["127.0.0.1"]}]}`))
	local := strings.Replace(string(fixtures.HL7Message("lri-variant-cwe")), "|LIMS|699X0|", "|LIMS|LOCAL|", 1)
	if code, _, text := ackOf(t, mllpSend(t, addr, []byte(local), 1)[0]); code != "AA" && code != "CA" {
		t.Fatalf("the sender bound to 127.0.0.1: %s %q", code, text)
	}
}
