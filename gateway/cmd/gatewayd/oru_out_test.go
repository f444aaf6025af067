package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/hl7"
)

// What an HL7 v2 EPR receives names it: a copy-to GP's ORU has the GP in
// MSH-6, the trust's has the trust (unless the destination sets its own
// code). A message holding names beyond ASCII says it is UTF-8 (MSH-18);
// an all-ASCII one is left as it was.
func TestORUNamesItsReceiverAndCharacterSet(t *testing.T) {
	dir := t.TempDir()
	outbox := filepath.Join(dir, "outbox")
	cfg := strings.ReplaceAll(testConfig, "OUTBOX", outbox)
	cfg = strings.Replace(cfg, `"destinations": [`, `"destinations": [
    {"name": "r0a-oru", "trusts": ["R0A"], "kind": "filedrop", "format": "hl7v2-oru", "config": {"dir": "`+outbox+`/oru"}},
    {"name": "gp-oru", "trusts": ["A81001"], "kind": "filedrop", "format": "hl7v2-oru", "config": {"dir": "`+outbox+`/gp"}},
    {"name": "gp-coded", "trusts": ["A81001"], "kind": "filedrop", "format": "hl7v2-oru", "hl7": {"receivingFacility": "GPSYS01"}, "config": {"dir": "`+outbox+`/coded"}},`, 1)
	base, _ := startWithConfig(t, dir, cfg)
	vus := fixtures.Report("vus-inconclusive") // copied to GP practice A81001
	if !strings.Contains(string(vus), `"A81001"`) {
		t.Fatal("the fixture is no longer copied to A81001")
	}
	unicode := fixtures.Report("repeat-expansion-unicode")
	for _, body := range [][]byte{vus, unicode} {
		if r := post(t, base, labToken, body); r.status != http.StatusAccepted {
			t.Fatalf("post: %d %s", r.status, r.body)
		}
	}
	id := func(body []byte) string {
		var r struct{ ID string }
		json.Unmarshal(body, &r)
		return r.ID
	}
	msh := func(folder, report string) (*hl7.Message, *hl7.Segment) {
		t.Helper()
		file := filepath.Join(outbox, folder, report+"_v1.hl7")
		var raw []byte
		for i := 0; i < 800 && raw == nil; i++ {
			raw, _ = os.ReadFile(file)
			time.Sleep(25 * time.Millisecond)
		}
		m, err := hl7.Parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		return m, m.First("MSH")
	}
	for folder, want := range map[string]string{"oru": "R0A", "gp": "A81001", "coded": "GPSYS01"} {
		if m, h := msh(folder, id(vus)); m.Value(h, 6, 0) != want {
			t.Errorf("%s: MSH-6 %q, want %s", folder, m.Value(h, 6, 0), want)
		}
	}
	if m, h := msh("oru", id(vus)); m.Value(h, 18, 0) != "" {
		t.Errorf("an all-ASCII ORU: MSH-18 %q, want none", m.Value(h, 18, 0))
	}
	// MSH-7 is when the message was made (queued), not the report's issue time.
	{
		m, h := msh("oru", id(vus))
		made, err := time.Parse("20060102150405-0700", m.Value(h, 7, 0))
		issued := m.Value(m.First("OBR"), 22, 0)
		if err != nil || time.Since(made) > 10*time.Minute || time.Since(made) < -time.Minute || m.Value(h, 7, 0) == issued {
			t.Errorf("MSH-7 %q (OBR-22 %q): want the time the message was made", m.Value(h, 7, 0), issued)
		}
	}
	if m, h := msh("oru", id(unicode)); m.Value(h, 18, 0) != "UNICODE UTF-8" {
		t.Errorf("an ORU with names beyond ASCII: MSH-18 %q, want UNICODE UTF-8", m.Value(h, 18, 0))
	}
}
