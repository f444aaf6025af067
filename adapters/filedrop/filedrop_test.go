package filedrop_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nhs-genomics/results-gateway/adapters/adaptertest"
	"github.com/nhs-genomics/results-gateway/adapters/filedrop"
	"github.com/nhs-genomics/results-gateway/gateway"
)

// folderPeer is a folder an EPR imports from. Failing replaces the folder
// with a plain file (a lost mount); rejecting puts a different file where
// the next delivery would go.
type folderPeer struct {
	t   *testing.T
	dir string
}

func (p folderPeer) Accept() {
	if fi, err := os.Stat(p.dir); err == nil && !fi.IsDir() {
		os.Remove(p.dir)
	}
	os.MkdirAll(p.dir, 0o750)
}

func (p folderPeer) Fail() {
	os.RemoveAll(p.dir)
	os.WriteFile(p.dir, []byte("not a folder"), 0o600)
}

func (p folderPeer) Reject() {
	p.Accept()
	os.WriteFile(filepath.Join(p.dir, filedrop.FileName(delivery(3))), []byte("someone else's file"), 0o600)
}

func (p folderPeer) Hang() {}

func (p folderPeer) Received() int {
	entries, _ := os.ReadDir(p.dir)
	return len(entries)
}

func delivery(n int) *gateway.Delivery {
	return &gateway.Delivery{ReportID: fmt.Sprintf("R-%d", n), Version: 1, ContentType: "application/pdf",
		Payload: []byte(fmt.Sprintf("%%PDF-1.4 report %d", n))}
}

func newAdapter(t *testing.T, dir string) gateway.Adapter {
	t.Helper()
	a, err := filedrop.New(json.RawMessage(fmt.Sprintf(`{"dir":%q}`, dir)))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestConformance(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	adapter := newAdapter(t, dir) // made at start-up, before the folder misbehaves
	adaptertest.Run(t, adaptertest.Harness{
		Peer: folderPeer{t: t, dir: dir},
		New:  func(t *testing.T) gateway.Adapter { return adapter },
		Absent: func(t *testing.T) gateway.Adapter {
			gone := filepath.Join(t.TempDir(), "mount")
			a := newAdapter(t, gone)
			os.RemoveAll(gone) // the share went away after start-up
			return a
		},
		Delivery:   delivery,
		CannotHang: "writes to a local folder do not wait on a peer; a hung network share is bounded by the dispatcher's attempt timeout",
	})
}

func TestIdempotentAndAtomic(t *testing.T) {
	dir := t.TempDir()
	a := newAdapter(t, dir)
	d := delivery(7)
	for i := 0; i < 2; i++ {
		ref, err := a.Deliver(t.Context(), d)
		if err != nil || ref != "R-7_v1.pdf" {
			t.Fatalf("delivery %d: %q %v", i+1, ref, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("folder holds %d files, want just the report (no temp files left)", len(entries))
	}
	other := delivery(7)
	other.Payload = []byte("%PDF-1.4 a different report")
	if _, err := a.Deliver(t.Context(), other); !gateway.IsPermanent(err) || !strings.Contains(err.Error(), "different content") {
		t.Fatalf("a different payload under the same name must be refused, got %v", err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "R-7_v1.pdf"))
	if string(got) != string(d.Payload) {
		t.Fatal("the first file was overwritten")
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := filedrop.New(json.RawMessage(`{}`)); err == nil || !strings.Contains(err.Error(), "config.dir is required") {
		t.Fatalf("missing dir: %v", err)
	}
	if _, err := filedrop.New(json.RawMessage(`{"dir":"/tmp/x","folder":"/tmp/y"}`)); err == nil || !strings.Contains(err.Error(), `unknown field "folder"`) {
		t.Fatalf("unknown field: %v", err)
	}
}
