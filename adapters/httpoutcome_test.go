package adapters

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A receiver's text that echoes a conditional URL or a national number is
// kept without them: it ends up on the delivery, in the console and logs.
func TestDiagnosticsWithholdPatientIdentifiers(t *testing.T) {
	body := []byte(`{"resourceType":"OperationOutcome","issue":[
	  {"severity":"error","code":"duplicate","diagnostics":"Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018 matched 2 resources"},
	  {"severity":"error","code":"invalid","details":{"text":"NHS number 999 000 0018 is not registered; MRN check failed for Specimen?identifier=x|S-1&subject=Patient/12"}}]}`)
	got := Diagnostics(body)
	for _, leak := range []string{"9990000018", "999 000 0018", "S-1", "Patient/12"} {
		if strings.Contains(got, leak) {
			t.Errorf("%q kept in %q", leak, got)
		}
	}
	for _, kept := range []string{"matched 2 resources", "is not registered", "Patient?identifier=[withheld]"} {
		if !strings.Contains(got, kept) {
			t.Errorf("%q lost from %q", kept, got)
		}
	}
}

// A delivery waiting for the token while another fetch hangs gives up when
// its own context ends, rather than queueing behind it.
func TestTokenWaitHonoursContext(t *testing.T) {
	hang, arrived := make(chan struct{}), make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-hang
	}))
	defer srv.Close()
	defer close(hang)
	o := &OAuth{TokenURL: srv.URL, ClientID: "c", ClientSecret: "s", Client: srv.Client()}
	first, cancelFirst := context.WithCancel(context.Background())
	defer cancelFirst()
	go o.Token(first)
	<-arrived // the first fetch holds the lock and hangs
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := o.Token(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Token = %v, want the waiting caller's deadline", err)
	}
}

// TestNoAnswerKeepsTheQueryOut: a request that got no answer is described
// without its URL's query (a conditional search's holds the NHS number),
// user or fragment, and still says what failed; a timeout stays one.
func TestNoAnswerKeepsTheQueryOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://user:secret@" + ln.Addr().String()
	ln.Close()
	target := closed + "/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018#x"
	_, err = http.Get(target)
	got := NoAnswer(http.MethodGet, target, err).Error()
	for _, secret := range []string{"9990000018", "identifier", "secret", "#x"} {
		if strings.Contains(got, secret) {
			t.Errorf("%q names %q", got, secret)
		}
	}
	if !strings.Contains(got, "GET http://"+ln.Addr().String()+"/fhir/Patient?…") || !strings.Contains(got, "refused") {
		t.Errorf("%q does not say what failed", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if _, err := http.DefaultClient.Do(req); !errors.Is(NoAnswer(http.MethodGet, target, err), context.DeadlineExceeded) {
		t.Errorf("a timeout is no longer one: %v", err)
	}
}
