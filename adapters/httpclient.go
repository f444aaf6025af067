package adapters

import (
	"crypto/tls"
	"net/http"
	"time"
)

// MaxWorkers is the most workers a destination may have: the
// configuration refuses more.
const MaxWorkers = 64

// HTTPClient is the client an HTTP adapter delivers with: tlsConfig, a
// timeout per request (none if zero), redirects not followed (a
// redirected POST would silently lose its body), and as many idle
// connections kept to the receiver as a destination may have workers.
// Go's default keeps two per host, so a destination with four workers
// dialled again (over HTTPS, with a new TLS handshake) for about every
// other delivery.
func HTTPClient(tlsConfig *tls.Config, timeout time.Duration) *http.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsConfig
	transport.MaxIdleConnsPerHost = MaxWorkers
	return &http.Client{Transport: transport, Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}
