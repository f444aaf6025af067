// Package filedrop delivers by writing files into a folder an EPR imports
// from. Each write is atomic (temp file, fsync, rename, fsync the folder),
// names are predictable, and a different payload never overwrites another
// under the same name.
package filedrop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nhs-genomics/results-gateway/adapters"
	"github.com/nhs-genomics/results-gateway/gateway"
)

// Kind is the destination kind.
const Kind = "filedrop"

// Config is the destination's "config".
type Config struct {
	Dir string `json:"dir"` // created if missing
}

// Adapter writes deliveries into Dir.
type Adapter struct{ dir string }

var _ gateway.Adapter = (*Adapter)(nil)

// New is the registry factory.
func New(raw json.RawMessage) (gateway.Adapter, error) {
	var c Config
	if err := adapters.Decode(raw, &c); err != nil {
		return nil, err
	}
	if c.Dir == "" {
		return nil, errors.New("filedrop: config.dir is required")
	}
	if err := os.MkdirAll(c.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("filedrop: cannot create %s: %w", c.Dir, err)
	}
	return &Adapter{dir: c.Dir}, nil
}

var extensions = map[string]string{"application/fhir+json": ".fhir.json", "application/pdf": ".pdf"}

// FileName is where a delivery lands: report id, version and format.
func FileName(d *gateway.Delivery) string {
	ext, ok := extensions[d.ContentType]
	if !ok {
		ext = ".bin"
	}
	return fmt.Sprintf("%s_v%d%s", d.ReportID, d.Version, ext)
}

// Deliver implements gateway.Adapter. Writing the same payload again is a
// success (idempotent); a different payload under the same name is refused.
func (a *Adapter) Deliver(_ context.Context, d *gateway.Delivery) (string, error) {
	name := FileName(d)
	target := filepath.Join(a.dir, name)
	if existing, err := os.ReadFile(target); err == nil {
		if bytes.Equal(existing, d.Payload) {
			return name, nil
		}
		return "", gateway.Permanent(fmt.Errorf("%s already exists with different content", name))
	}
	tmp, err := os.CreateTemp(a.dir, ".incoming-*")
	if err != nil {
		return "", fmt.Errorf("create temp file: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename; cleans up a failed write
	if _, err := tmp.Write(d.Payload); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("fsync %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	// Rename is atomic: an EPR polling the folder sees the whole file or none.
	// (The temp name starts with a dot so importers that skip hidden files
	// never pick up a half-written one.)
	if err := os.Rename(tmp.Name(), target); err != nil {
		return "", fmt.Errorf("publish %s: %w", name, err)
	}
	if dir, err := os.Open(a.dir); err == nil {
		dir.Sync()
		dir.Close()
	}
	return name, nil
}
