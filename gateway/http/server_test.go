package httpapi_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/gateway/auth"
	"github.com/nhs-genomics/results-gateway/gateway/boltstore"
	httpapi "github.com/nhs-genomics/results-gateway/gateway/http"
)

// readAPI serves the read side of the API from store, with index and
// audit in place of the store's own, to callers holding tokens. It stops
// when the test ends.
func readAPI(t *testing.T, store *boltstore.Store, index gateway.ReportIndex, audit gateway.AuditLog, tokens map[string]gateway.Principal) *httptest.Server {
	srv := httptest.NewServer(httpapi.NewServer(httpapi.Deps{
		Reports: store, Index: index, Audit: audit, Queue: store, Held: store, Clock: gateway.SystemClock{},
		Auth: auth.NewStaticTokens(tokens), Log: slog.New(slog.DiscardHandler),
	}))
	t.Cleanup(srv.Close)
	return srv
}

// getAs sends GET url with token as its bearer; the caller closes the body.
func getAs(t *testing.T, url, token string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
