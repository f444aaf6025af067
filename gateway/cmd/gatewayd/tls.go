package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// tlsFiles serves a listener's certificate (and, for mutual TLS, the CA
// that signs clients' certificates) from files, and re-reads them when
// they change or on SIGHUP, so a renewed certificate needs no restart. A
// bad new file is logged and the last good one kept.
type tlsFiles struct {
	what string // "http" or "hl7", for messages
	cfg  ServerTLSConfig
	log  *slog.Logger

	mu      sync.Mutex
	checked time.Time
	stamp   string
	current *tls.Config
}

// newTLSFiles loads the files once; nil when no certificate is configured.
func newTLSFiles(what string, c ServerTLSConfig, log *slog.Logger) (*tlsFiles, error) {
	if c.CertFile == "" {
		return nil, nil
	}
	t := &tlsFiles{what: what, cfg: c, log: log}
	cfg, stamp, err := t.load()
	if err != nil {
		return nil, err
	}
	t.current, t.stamp, t.checked = cfg, stamp, time.Now()
	return t, nil
}

// Config is the listener's tls.Config: TLS 1.2 or later, the current
// certificate chosen at each handshake.
func (t *tlsFiles) Config(nextProtos ...string) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: nextProtos,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			c := t.get().Clone()
			c.NextProtos = nextProtos
			return c, nil
		}}
}

// get returns the current configuration, reloading it if the files
// changed (checked at most once a second).
func (t *tlsFiles) get() *tls.Config {
	t.mu.Lock()
	defer t.mu.Unlock()
	if time.Since(t.checked) >= time.Second {
		t.checked = time.Now()
		if stamp := t.fileStamp(); stamp != t.stamp {
			t.reloadLocked()
		}
	}
	return t.current
}

// Reload re-reads the files now (on SIGHUP).
func (t *tlsFiles) Reload() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reloadLocked()
}

func (t *tlsFiles) reloadLocked() {
	cfg, stamp, err := t.load()
	if err != nil {
		t.log.Error("tls files not reloaded: keeping the previous certificate", "listener", t.what, "error", err)
		t.stamp = stamp // do not retry until the files change again
		return
	}
	t.current, t.stamp = cfg, stamp
	t.log.Info("tls certificate loaded", "listener", t.what)
}

func (t *tlsFiles) load() (*tls.Config, string, error) {
	stamp := t.fileStamp()
	cert, err := tls.LoadX509KeyPair(t.cfg.CertFile, t.cfg.KeyFile)
	if err != nil {
		return nil, stamp, fmt.Errorf("%s: %w", t.key(), err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if t.cfg.ClientCAFile != "" {
		pem, err := os.ReadFile(t.cfg.ClientCAFile)
		if err != nil {
			return nil, stamp, fmt.Errorf("%s.clientCaFile: %w", t.key(), err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, stamp, fmt.Errorf("%s.clientCaFile %s holds no certificate", t.key(), t.cfg.ClientCAFile)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, stamp, nil
}

// key is where these files are configured: "tls" (the API's, at the top
// level) or "hl7.tls", so a problem names a key the file has.
func (t *tlsFiles) key() string {
	if t.what == "http" {
		return "tls"
	}
	return t.what + ".tls"
}

// fileStamp changes when any of the files is replaced or rewritten.
func (t *tlsFiles) fileStamp() string {
	stamp := ""
	for _, f := range []string{t.cfg.CertFile, t.cfg.KeyFile, t.cfg.ClientCAFile} {
		if f == "" {
			continue
		}
		if fi, err := os.Stat(f); err == nil {
			stamp += fmt.Sprintf("%s:%d:%d;", f, fi.ModTime().UnixNano(), fi.Size())
		}
	}
	return stamp
}
