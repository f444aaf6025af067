// Package filedrop delivers by writing files into a folder an EPR imports
// from. Each write is atomic (temp file, fsync, link into place, fsync the folder),
// names are predictable, and a different payload never overwrites another
// under the same name.
package filedrop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

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
	c, err := config(raw)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("filedrop: cannot create %s: %w", c.Dir, err)
	}
	return &Adapter{dir: c.Dir}, nil
}

// Check is New without its side effect, for "gatewayd config check": the
// folder is not created, but it could be: it is a folder already, or the
// nearest part of its path that exists is a folder the gateway may write in.
func Check(raw json.RawMessage) (gateway.Adapter, error) {
	c, err := config(raw)
	if err != nil {
		return nil, err
	}
	for p := filepath.Clean(c.Dir); ; p = filepath.Dir(p) {
		info, err := os.Stat(p)
		switch {
		case err == nil && !info.IsDir():
			return nil, fmt.Errorf("filedrop: cannot create %s: %s is not a folder", c.Dir, p)
		case err == nil && !writable(p):
			return nil, fmt.Errorf("filedrop: cannot create or write in %s: %s is not writable", c.Dir, p)
		case err == nil:
			return &Adapter{dir: c.Dir}, nil
		case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR): // under a file: the walk up finds it
			return nil, fmt.Errorf("filedrop: %s: %w", c.Dir, err)
		case p == filepath.Dir(p):
			return nil, fmt.Errorf("filedrop: cannot create %s", c.Dir)
		}
	}
}

func config(raw json.RawMessage) (Config, error) {
	var c Config
	if err := adapters.Decode(raw, &c); err != nil {
		return c, err
	}
	if c.Dir == "" {
		return c, errors.New("filedrop: config.dir is required")
	}
	return c, nil
}

// extensions name each format's files, so destinations of different
// formats may share a folder without their files taking one name.
var extensions = map[string]string{"application/fhir+json": ".fhir.json", "application/pdf": ".pdf",
	"application/hl7-v2+er7": ".hl7", "application/json": ".notice.json"}

// fileMode lets an importer in the folder's group read what it finds
// (CreateTemp's 0600 would let it list the files but not open them).
const fileMode = 0o640

// FileName is where a delivery lands: report id, version and format; a
// withdrawal (of an earlier version, from a patient this one is not about)
// is named as one, beside the version's own file should the folder get
// both.
func FileName(d *gateway.Delivery) string {
	ext, ok := extensions[d.ContentType]
	if !ok {
		ext = ".bin"
	}
	if d.Withdrawal {
		ext = ".withdrawal" + ext
	}
	return fmt.Sprintf("%s_v%d%s", d.ReportID, d.Version, ext)
}

// Deliver implements gateway.Adapter. Writing the same payload again is a
// success (idempotent); a different payload under the same name is refused,
// never written over, even by another destination writing it at once.
func (a *Adapter) Deliver(_ context.Context, d *gateway.Delivery) (string, error) {
	name := FileName(d)
	target := filepath.Join(a.dir, name)
	if done, err := already(target, name, d.Payload); err != nil || done {
		return published(name, done), err
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
	if err := tmp.Chmod(fileMode); err != nil {
		tmp.Close()
		return "", fmt.Errorf("chmod %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	// A hard link publishes the whole file at once (an EPR polling the folder
	// sees all of it or none) and, unlike a rename, fails rather than
	// replace a file that appeared since the check above. (The temp name
	// starts with a dot so importers that skip hidden files never pick up
	// a half-written one.) A folder that takes no hard links (some network
	// shares) gets the rename.
	if err := os.Link(tmp.Name(), target); errors.Is(err, os.ErrExist) {
		if done, err := already(target, name, d.Payload); err != nil || done {
			return published(name, done), err
		}
		return "", fmt.Errorf("publish %s: it appeared and went again; trying later", name)
	} else if err != nil {
		if err := os.Rename(tmp.Name(), target); err != nil {
			return "", fmt.Errorf("publish %s: %w", name, err)
		}
	}
	if dir, err := os.Open(a.dir); err == nil {
		dir.Sync()
		dir.Close()
	}
	return name, nil
}

// published is the receiver's reference: the file's name once it is there.
func published(name string, done bool) string {
	if done {
		return name
	}
	return ""
}

// already says whether target holds payload (a resend: done), or refuses
// when it holds something else.
func already(target, name string, payload []byte) (bool, error) {
	existing, err := os.ReadFile(target)
	if err != nil {
		return false, nil
	}
	if bytes.Equal(existing, payload) {
		return true, nil
	}
	return false, gateway.Permanent(fmt.Errorf("%s already exists with different content", name))
}
