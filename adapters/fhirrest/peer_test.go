package fhirrest_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/internal/peers"
)

const reportSystem = "https://fhir.results-gateway.nhs.uk/Id/report"

// peerServer starts the third-party FHIR server (a real implementation of
// transactions and conditional create/update) and returns its base URL.
func peerServer(t testing.TB) string {
	t.Helper()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	// --no-atomic: the peer refuses atomic transactions with conditional entries and more than 8 entries.
	cmd := peers.Command(t, "fhir-server", "--port", port, "--no-atomic", "--quiet")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		if resp, err := http.Get("http://127.0.0.1:" + port + "/_admin/health"); err == nil {
			resp.Body.Close()
			return "http://127.0.0.1:" + port + "/fhir"
		}
		if i > 300 {
			t.Fatal("peer FHIR server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func search(t *testing.T, url string) []map[string]any {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b struct {
		Entry []struct {
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	json.NewDecoder(resp.Body).Decode(&b)
	out := []map[string]any{}
	for _, e := range b.Entry {
		out = append(out, e.Resource)
	}
	return out
}

// bundleReport is the DiagnosticReport inside a golden Bundle.
func bundleReport(t *testing.T, bundle []byte) map[string]any {
	var b struct {
		Entry []struct {
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	json.Unmarshal(bundle, &b)
	for _, e := range b.Entry {
		if e.Resource["resourceType"] == "DiagnosticReport" {
			return e.Resource
		}
	}
	t.Fatal("no DiagnosticReport in the Bundle")
	return nil
}

// TestPeerServerRoundTrip delivers every fixture to the third-party FHIR
// server in each mode, twice, and reads it back as an EPR would: one
// DiagnosticReport per report, the same content, no duplicates from the
// resend, and the amendment replacing the original.
func TestPeerServerRoundTrip(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "fixtures", "golden", "*.bundle.json"))
	sort.Strings(files) // amendment-v1 before amendment-v2
	if len(files) < 9 {
		t.Fatalf("only %d golden Bundles", len(files))
	}
	for _, mode := range []string{"transaction", "batch", "individual"} {
		t.Run(mode, func(t *testing.T) {
			base := peerServer(t)
			a := newAdapter(t, fmt.Sprintf(`{"baseUrl":%q,"mode":%q}`, base, mode))
			for _, file := range files {
				bundle, _ := os.ReadFile(file)
				want := bundleReport(t, bundle)
				id := want["identifier"].([]any)[0].(map[string]any)["value"].(string)
				for send := 1; send <= 2; send++ {
					ref, err := a.Deliver(t.Context(), &gateway.Delivery{ContentType: "application/fhir+json", Payload: bundle})
					if err != nil {
						t.Fatalf("%s send %d: %v", filepath.Base(file), send, err)
					}
					if !strings.HasPrefix(ref, "DiagnosticReport/") {
						t.Fatalf("%s: receiver reference %q does not name the DiagnosticReport", filepath.Base(file), ref)
					}
				}
				got := search(t, base+"/DiagnosticReport?identifier="+reportSystem+"|"+id)
				if len(got) != 1 {
					t.Fatalf("%s: the server holds %d DiagnosticReports for %s, want 1", filepath.Base(file), len(got), id)
				}
				dr := got[0]
				if dr["status"] != want["status"] || dr["conclusion"] != want["conclusion"] || lenOf(dr["result"]) != lenOf(want["result"]) {
					t.Errorf("%s: read back status %v, %d results; sent %v, %d results", filepath.Base(file), dr["status"], lenOf(dr["result"]), want["status"], lenOf(want["result"]))
				}
				if subj := dr["subject"].(map[string]any)["reference"].(string); !strings.HasPrefix(subj, "Patient/") {
					t.Errorf("%s: subject %q was not resolved to the server's Patient", filepath.Base(file), subj)
				}
				// The PDF travels once, as a Binary the report's presentedForm points at.
				form := dr["presentedForm"].([]any)[0].(map[string]any)
				binURL, _ := form["url"].(string)
				if !strings.HasPrefix(binURL, "Binary/") || form["data"] != nil {
					t.Fatalf("%s: presentedForm %v: want a url to the server's Binary, no data", filepath.Base(file), form)
				}
				bin := read(t, base+"/"+binURL)
				if bin["resourceType"] != "Binary" || bin["data"] != binaryData(t, bundle) {
					t.Errorf("%s: %s is not the report's PDF", filepath.Base(file), binURL)
				}
			}
			// One Patient per NHS number and one Observation per variant, across all sends.
			if n := len(search(t, base+"/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018")); n != 1 {
				t.Errorf("%d Patients with NHS number 9990000018, want 1", n)
			}
			if n := len(search(t, base+"/Observation?identifier=https://fhir.results-gateway.nhs.uk/Id/variant|NWGLH-2026-000104-v2")); n != 1 {
				t.Errorf("%d copies of a variant Observation, want 1", n)
			}
			amended := search(t, base+"/DiagnosticReport?identifier="+reportSystem+"|NWGLH-2026-000108")
			if len(amended) != 1 || amended[0]["status"] != "amended" {
				t.Errorf("after v2 the server holds %d reports for NWGLH-2026-000108, status %v; want 1, amended", len(amended), amended)
			}
		})
	}
}

func lenOf(v any) int {
	l, _ := v.([]any)
	return len(l)
}

// read GETs one resource.
func read(t *testing.T, url string) map[string]any {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return m
}

// binaryData is the base64 PDF of a Bundle's Binary entry.
func binaryData(t *testing.T, bundle []byte) string {
	t.Helper()
	var b struct {
		Entry []struct {
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	json.Unmarshal(bundle, &b)
	for _, e := range b.Entry {
		if e.Resource["resourceType"] == "Binary" {
			return e.Resource["data"].(string)
		}
	}
	t.Fatal("the Bundle has no Binary")
	return ""
}
