package auth

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// jwksFileCheck is how often the JWKS file is looked at for a change.
var jwksFileCheck = time.Second

// jwksFile serves the keys of a JWKS file and re-reads it when it changes
// (checked at most once a jwksFileCheck), so an issuer's key rotation
// written to the file needs no restart. A bad new file is logged and the
// last good key set kept: a half-written file must not lock every caller
// out.
type jwksFile struct {
	path string
	log  *slog.Logger

	mu      sync.Mutex
	checked time.Time
	stamp   string
	keys    keyfunc.Keyfunc
}

func newJWKSFile(path string, log *slog.Logger) (*jwksFile, error) {
	f := &jwksFile{path: path, log: log}
	keys, stamp, err := f.load()
	if err != nil {
		return nil, err
	}
	f.keys, f.stamp, f.checked = keys, stamp, time.Now()
	return f, nil
}

// Keyfunc is jwt.Keyfunc over the current key set.
func (f *jwksFile) Keyfunc(token *jwt.Token) (any, error) {
	return f.current().Keyfunc(token)
}

func (f *jwksFile) current() keyfunc.Keyfunc {
	f.mu.Lock()
	defer f.mu.Unlock()
	if time.Since(f.checked) < jwksFileCheck {
		return f.keys
	}
	f.checked = time.Now()
	if stamp := fileStamp(f.path); stamp != f.stamp {
		keys, stamp, err := f.load()
		f.stamp = stamp // a bad file is not read again until it changes
		if err != nil {
			f.log.Error("jwks file not reloaded: keeping the previous keys", "error", err)
			return f.keys
		}
		f.keys = keys
		f.log.Info("jwks file reloaded", "file", f.path)
	}
	return f.keys
}

func (f *jwksFile) load() (keyfunc.Keyfunc, string, error) {
	stamp := fileStamp(f.path)
	raw, err := os.ReadFile(f.path)
	if err != nil {
		return nil, stamp, fmt.Errorf("jwt.jwksFile: %w", err)
	}
	keys, err := keyfunc.NewJWKSetJSON(raw)
	if err != nil {
		return nil, stamp, fmt.Errorf("jwt.jwksFile %s: %w", f.path, err)
	}
	return keys, stamp, nil
}

// fileStamp changes when the file is replaced or rewritten.
func fileStamp(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%d:%d", fi.ModTime().UnixNano(), fi.Size())
}
