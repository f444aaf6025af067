package gomsstub_test

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/nhs-genomics/results-gateway/internal/gomsstub"
)

// recordingTB keeps the stand-in's test failures instead of failing this test.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// The stand-in's validation is real: a request without the headers the
// GOMS OpenAPI requires, or to an operation it does not have, is reported.
func TestStandInRejectsOffContractRequests(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tb := &recordingTB{TB: t}
	s := gomsstub.Start(tb, "app", "kid-1", &key.PublicKey)
	for _, c := range []struct{ method, path, want string }{
		{http.MethodGet, "/FHIR/R4/ServiceRequest?identifier=a|b", "X-Request-ID"}, // no apikey, no X-Request-ID
		{http.MethodPut, "/FHIR/R4/Task/1", "not an operation"},                    // GOMS has no PUT Task
	} {
		req, _ := http.NewRequest(c.method, s.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		tb.mu.Lock()
		last := strings.Join(tb.errors, "\n")
		tb.errors = nil
		tb.mu.Unlock()
		if resp.StatusCode < 400 || !strings.Contains(last, c.want) {
			t.Errorf("%s %s: status %d, stand-in reported %q; want a failure naming %q", c.method, c.path, resp.StatusCode, last, c.want)
		}
	}
}
