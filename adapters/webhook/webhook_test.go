package webhook_test

import (
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/adapters/adaptertest"
	"github.com/nhs-genomics/results-gateway/adapters/webhook"
	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/internal/receiver"
)

const secret = "a-shared-secret-of-32-characters"

type peer struct{ r *receiver.Receiver }

func (p peer) Accept()       { p.r.Set(receiver.Accept) }
func (p peer) Fail()         { p.r.Set(receiver.Fail) }
func (p peer) Reject()       { p.r.Set(receiver.Reject) }
func (p peer) Hang()         { p.r.Set(receiver.Hang) }
func (p peer) Received() int { return p.r.Accepted() }

func newAdapter(t *testing.T, url string) gateway.Adapter {
	t.Helper()
	a, err := webhook.New(json.RawMessage(fmt.Sprintf(`{"url":%q,"secret":%q}`, url, secret)))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func notice() *gateway.Delivery {
	return &gateway.Delivery{ContentType: "application/json", Payload: []byte(`{"type":"report-available","reportId":"R-1","version":1}`)}
}

func TestConformance(t *testing.T) {
	recv := receiver.Start(t)
	adaptertest.Run(t, adaptertest.Harness{
		Peer: peer{recv},
		New:  func(t *testing.T) gateway.Adapter { return newAdapter(t, recv.URL) },
		Absent: func(t *testing.T) gateway.Adapter {
			ln, _ := net.Listen("tcp", "127.0.0.1:0")
			addr := ln.Addr().String()
			ln.Close()
			return newAdapter(t, "http://"+addr+"/notify")
		},
		Delivery:    func(int) *gateway.Delivery { return notice() },
		Connections: recv.Connections,
	})
}

// TestSignatureVerifies checks the notice as a receiving EPR would: the
// HMAC over timestamp and body matches, and the timestamp is fresh.
func TestSignatureVerifies(t *testing.T) {
	var got struct {
		body    []byte
		ts, sig string
		valid   bool
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.body, _ = io.ReadAll(r.Body)
		got.ts, got.sig = r.Header.Get("X-Gateway-Timestamp"), r.Header.Get("X-Gateway-Signature")
		sec, _ := strconv.ParseInt(got.ts, 10, 64)
		got.valid = hmac.Equal([]byte(got.sig), []byte(webhook.Sign([]byte(secret), got.ts, got.body))) &&
			time.Since(time.Unix(sec, 0)) < time.Minute
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	ref, err := newAdapter(t, srv.URL).Deliver(t.Context(), notice())
	if err != nil || !strings.Contains(ref, "204") {
		t.Fatalf("Deliver = %q, %v", ref, err)
	}
	if !got.valid || string(got.body) != string(notice().Payload) {
		t.Fatalf("signature %q over %q did not verify", got.sig, got.body)
	}
	if webhook.Sign([]byte("another secret entirely"), got.ts, got.body) == got.sig {
		t.Fatal("a different secret gave the same signature")
	}
}

func TestConfigErrors(t *testing.T) {
	for config, want := range map[string]string{
		`{"url":"ftp://x","secret":"` + secret + `"}`:                             "not an http(s) URL",
		`{"url":"https://epr.example/notify","secret":"short"}`:                   "at least 16 characters",
		`{"url":"https://epr.example/notify","secretEnv":"NO_SUCH_VARIABLE_SET"}`: "at least 16 characters",
	} {
		if _, err := webhook.New(json.RawMessage(config)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", config, err, want)
		}
	}
}
