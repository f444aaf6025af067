package filedrop_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// Destinations may share a folder: each format has its own name (an HL7
// ORU and a notice no longer both land as .bin), files are readable by the
// folder's group, and two different payloads racing for one name never
// replace each other: one is published, the other refused, whatever the
// timing.
func TestSharedFolder(t *testing.T) {
	dir := t.TempDir()
	oru, notice := newAdapter(t, dir), newAdapter(t, dir)
	for _, c := range []struct {
		a           gateway.Adapter
		contentType string
		want        string
	}{{oru, "application/hl7-v2+er7", "R-1_v1.hl7"}, {notice, "application/json", "R-1_v1.notice.json"}} {
		d := delivery(1)
		d.ContentType, d.Payload = c.contentType, []byte("payload as "+c.contentType)
		if ref, err := c.a.Deliver(t.Context(), d); err != nil || ref != c.want {
			t.Fatalf("%s: %q %v, want %s", c.contentType, ref, err, c.want)
		}
		info, err := os.Stat(filepath.Join(dir, c.want))
		if err != nil || info.Mode().Perm() != 0o640 {
			t.Fatalf("%s: %v %v, want mode 0640", c.want, info, err)
		}
	}
	for round := 0; round < 50; round++ {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		payloads := [][]byte{[]byte(fmt.Sprintf("first %d", round)), []byte(fmt.Sprintf("second %d", round))}
		for i, a := range []gateway.Adapter{oru, notice} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := delivery(100 + round)
				d.Payload = payloads[i]
				_, errs[i] = a.Deliver(t.Context(), d)
			}()
		}
		wg.Wait()
		got, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("R-%d_v1.pdf", 100+round)))
		won := -1
		for i, p := range payloads {
			if string(got) == string(p) {
				won = i
			}
		}
		if won < 0 || errs[won] != nil || !gateway.IsPermanent(errs[1-won]) {
			t.Fatalf("round %d: the file holds %q; errors %v: want one published and the other refused", round, got, errs)
		}
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

// A withdrawal of an earlier version and the new version's own file, sent
// to one folder as two deliveries of one version, both land, each under
// its own name.
func TestWithdrawalBesideTheVersion(t *testing.T) {
	dir := t.TempDir()
	a := newAdapter(t, dir)
	own := delivery(7)
	withdrawal := delivery(7)
	withdrawal.Withdrawal, withdrawal.Payload = true, []byte("%PDF-1.4 withdrawn from the first patient")
	for _, d := range []*gateway.Delivery{withdrawal, own} {
		if _, err := a.Deliver(t.Context(), d); err != nil {
			t.Fatalf("withdrawal %v: %v", d.Withdrawal, err)
		}
	}
	for name, want := range map[string]*gateway.Delivery{"R-7_v1.pdf": own, "R-7_v1.withdrawal.pdf": withdrawal} {
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(got) != string(want.Payload) {
			t.Errorf("%s: %q %v", name, got, err)
		}
	}
}
