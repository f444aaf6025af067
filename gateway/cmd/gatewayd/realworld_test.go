package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/hl7"
	"github.com/nhs-genomics/results-gateway/internal/peers"
)

// TestRealWorldMessagesFiled sends the North West GMSA's real-world-shaped
// messages (iGene, Shire cytogenetics, Welsh pathology, ctDNA, Histotrac)
// over MLLP and again over HTTP: each is filed with AA (the HTTP resend
// changes nothing), or, where it identifies no patient, refused with an
// ERR at PID-3; a filed report shows its warnings and unmapped content.
func TestRealWorldMessagesFiled(t *testing.T) {
	base, _, addr := startGatewayFull(t, nil)
	dir := filepath.Join(peers.DataDir(t), "hl7v2", "nw-gmsa")
	cases := []struct {
		file, id, fact string // fact: in the stored FHIR Bundle
	}{
		{"spec-MFT-ORU_R01_PDF.txt", "1001166717", "9449305552"},
		{"spec-NWGMSA-ORU_R01_PDF.txt", "T25-01FU", "R240.1"},
		{"testing-LRI-GeneVariant-1.txt", "Gen825750-LRI1", "NM_000155.3:c.563A>G"},
		{"testing-ORU_R01_PDF.txt", "T25-01FU", "RESULT CONSISTENT WITH REFERRAL INDICATION"},
		{"testing-ORU_R01_R125.1_R0A.txt", "T25-4106", "R125.1"},
		{"testing-Shire-1.txt", "19.0096", "46,XY,del(20)(q*q*)[]"},
		{"testing-WALES_ORU_R01_FULL.txt", "914694928301", "10*9/L"},
		{"testing-ctdna9737383222.txt", "T26-59X2", "M4.14"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			acks := mllpSend(t, addr, raw, expectedAcks(raw))
			ack := acks[len(acks)-1]
			if code, _, text := ackOf(t, ack); code != "AA" && code != "CA" {
				t.Fatalf("over MLLP: %s %q", code, text)
			}
			before := get(t, base+"/v1/reports/"+c.id, operatorToken).json(t)["version"]
			r := do(t, http.MethodPost, base+"/v1/hl7v2", labToken, "application/hl7-v2+er7", raw)
			httpAck, err := hl7.Parse(r.body)
			if err != nil || r.status != http.StatusOK {
				t.Fatalf("over HTTP: %d %s", r.status, r.body)
			}
			if code, _, _ := hl7.AckCode(httpAck); code != "AA" && code != "CA" {
				t.Fatalf("over HTTP: %s", r.body)
			}
			st := get(t, base+"/v1/reports/"+c.id, operatorToken).json(t)
			if st["version"] != before {
				t.Errorf("the HTTP resend was filed as version %v after %v, not recognised as the same report: %q", st["version"], before, r.body)
			}
			if st["source"] != "hl7v2" {
				t.Fatalf("report %s: %v", c.id, st)
			}
			if _, ok := st["unmapped"].([]any); !ok {
				t.Fatalf("no unmapped list on the report: %v", st)
			}
			bundle := get(t, base+"/v1/reports/"+c.id+"/fhir", operatorToken)
			if !bytes.Contains(bundle.body, []byte(c.fact)) {
				t.Fatalf("the Bundle lacks %q", c.fact)
			}
		})
	}

	t.Run("the Welsh pathology report is found by its own code, not a genetic report's", func(t *testing.T) {
		for code, want := range map[string]int{"51969-4": 0, "http://snomed.info/sct|4241000179101": 1} {
			r := get(t, base+"/fhir/DiagnosticReport?identifier=914694928301&code="+url.QueryEscape(code), operatorToken)
			var s struct{ Entry []any }
			if json.Unmarshal(r.body, &s); r.status != http.StatusOK || len(s.Entry) != want {
				t.Errorf("code=%s: %d, %d entries, want %d", code, r.status, len(s.Entry), want)
			}
		}
	})

	t.Run("histotrac: no patient identity is AE at PID-3, nothing stored", func(t *testing.T) {
		raw, _ := os.ReadFile(filepath.Join(dir, "testing-histotrac.txt"))
		ack := mllpSend(t, addr, raw, 1)[0]
		if code, _, text := ackOf(t, ack); code != "AE" || !strings.Contains(text, "does not identify the patient") {
			t.Fatalf("%s %q", code, text)
		}
		if errs := errSegments(ack, "E"); len(errs) == 0 || errs[0] != "PID-3" {
			t.Fatalf("ERR %v, want PID-3", errs)
		}
		if held := string(get(t, base+"/v1/held", operatorToken).body); strings.Contains(held, "HL7-") {
			t.Fatalf("a refused message was stored: %s", held)
		}
	})

	t.Run("a report for a trust with no destination is held and listed", func(t *testing.T) {
		st := get(t, base+"/v1/reports/T26-59X2", operatorToken).json(t) // Leeds (RR8) has no destination here
		if st["held"] != true || st["trustOds"] != "RR8" {
			t.Fatalf("ctDNA report: held %v trust %v", st["held"], st["trustOds"])
		}
	})

	t.Run("the Welsh pathology results are Observations with units, ranges and flags", func(t *testing.T) {
		bundle := string(get(t, base+"/v1/reports/914694928301/fhir", operatorToken).body)
		for _, want := range []string{`"comparator":"<"`, `"code":"not-performed"`, `"text":"130-180"`, `"code":"H"`, `"hasMember"`, `"mmol/mol"`} {
			if !strings.Contains(bundle, want) {
				t.Errorf("the Bundle lacks %s", want)
			}
		}
	})
}

// expectedAcks is how many acknowledgements a message asks for: two in
// enhanced mode when both conditions are AL, else one.
func expectedAcks(raw []byte) int {
	m, err := hl7.Parse(raw)
	if err != nil {
		return 1
	}
	msh := m.First("MSH")
	accept, app := m.Value(msh, 15, 0), m.Value(msh, 16, 0)
	n := 0
	if accept == "AL" || accept == "SU" {
		n++
	}
	if app == "AL" || app == "SU" {
		n++
	}
	if accept == "" && app == "" || n == 0 {
		return 1
	}
	return n
}

// TestHL7Conventions: synthetic messages, one per convention labs use.
func TestHL7Conventions(t *testing.T) {
	base, _, addr := startGatewayFull(t, nil)
	send := func(t *testing.T, name string, edit func(string) string) (*hl7.Message, string) {
		msg := string(fixtures.HL7Message(name))
		if edit != nil {
			msg = edit(msg)
		}
		r := do(t, http.MethodPost, base+"/v1/hl7v2", labToken, "application/hl7-v2+er7", []byte(msg))
		ack, err := hl7.Parse(r.body)
		if err != nil {
			t.Fatalf("%s: %d %s", name, r.status, r.body)
		}
		code, _, _ := hl7.AckCode(ack)
		return ack, code
	}

	t.Run("the same message with a new control id changes nothing", func(t *testing.T) {
		for i, ctrl := range []string{"LRI-CWE-1", "LRI-CWE-2", "LRI-CWE-3"} {
			_, code := send(t, "lri-variant-cwe", func(m string) string { return strings.Replace(m, "|LRI-CWE-1|", "|"+ctrl+"|", 1) })
			if code != "CA" && code != "AA" {
				t.Fatalf("send %d: %s", i, code)
			}
		}
		st := get(t, base+"/v1/reports/SYN-1200", operatorToken).json(t)
		if st["version"] != float64(1) || len(st["versions"].([]any)) != 1 {
			t.Fatalf("identical resends made versions %v", st["versions"])
		}
	})

	t.Run("a final report after a preliminary one is final, not amended", func(t *testing.T) {
		prelim := func(m string) string {
			return strings.NewReplacer("|LRI-CWE-1|", "|PRELIM-1|", "SYN-1200", "SYN-PRELIM").Replace(m)
		}
		for i, status := range []string{"P", "F"} {
			_, code := send(t, "lri-variant-cwe", func(m string) string {
				lines := strings.Split(prelim(m), "\n")
				for j, l := range lines {
					if f := strings.Split(l, "|"); f[0] == "OBR" {
						f[25] = status // result status
						lines[j] = strings.Join(f, "|")
					}
				}
				return strings.Join(lines, "\n")
			})
			if code != "AA" && code != "CA" {
				t.Fatalf("send %d (%s): %s", i, status, code)
			}
		}
		st := get(t, base+"/v1/reports/SYN-PRELIM", operatorToken).json(t)
		if st["version"] != float64(2) || st["status"] != "final" {
			t.Fatalf("after preliminary then final: version %v status %v", st["version"], st["status"])
		}
	})

	t.Run("an invalid MSH-15/16 is answered in original mode with a warning", func(t *testing.T) {
		ack, code := send(t, "pathology-fbc", nil)
		if code != "AA" || ack.Value(ack.First("MSA"), 1, 0) != "AA" {
			t.Fatalf("pathology-fbc: %s", code)
		}
		if w := errSegments(ack, "W"); len(w) == 0 || w[len(w)-1] != "MSH-15" {
			t.Fatalf("no warning about MSH-15: %v", w)
		}
		// and over MLLP exactly one acknowledgement arrives
		acks := mllpSend(t, addr, fixtures.HL7Message("pathology-fbc"), 1)
		if code, _, _ := ackOf(t, acks[0]); code != "AA" {
			t.Fatalf("over MLLP: %s", code)
		}
	})

	t.Run("MLLP framing bytes in the content are refused at intake", func(t *testing.T) {
		for _, b := range []string{"\x0b", "\x1c", "\x1d"} {
			ack, code := send(t, "scottish-chi", func(m string) string {
				return strings.Replace(strings.Replace(m, "No abnormality detected.", "No abnormality"+b+" detected.", 1), "|CHI-1|", "|CHI-FRAME|", 1)
			})
			if code != "AE" || len(errSegments(ack, "E")) == 0 {
				t.Fatalf("framing byte %q: %s", b, code)
			}
		}
	})

	t.Run("a batch is filed message by message, each acknowledged", func(t *testing.T) {
		first := strings.Replace(string(fixtures.HL7Message("ni-hc-number")), "|HCN-1|", "|BATCH-1|", 1)
		second := strings.NewReplacer("|HCN-1|", "|BATCH-2|", "3201234567^^^HSC^NI", "9990001308^^^NHS^NH", "SYN-HCN", "SYN-BATCH-2",
			"ORD-HCN", "ORD-BATCH-2", "No pathogenic variant was detected.", "A pathogenic variant was detected.").Replace(string(fixtures.HL7Message("ni-hc-number")))
		batch := "FHS|^~\\&|LIMS|699X0\rBHS|^~\\&|LIMS|699X0\r" + first + second + "BTS|2\rFTS|1\r"
		batch = strings.ReplaceAll(batch, "\n", "\r")
		r := do(t, http.MethodPost, base+"/v1/hl7v2", labToken, "application/hl7-v2+er7", []byte(batch))
		if strings.Count(string(r.body), "MSA|AA|BATCH-") != 2 {
			t.Fatalf("batch acknowledgements: %q", r.body)
		}
		a := string(get(t, base+"/v1/reports/SYN-HCN/fhir", operatorToken).body)
		b := string(get(t, base+"/v1/reports/SYN-BATCH-2/fhir", operatorToken).body)
		if !strings.Contains(a, "3201234567") || strings.Contains(a, "A pathogenic variant") || !strings.Contains(b, "9990001308") || !strings.Contains(b, "A pathogenic variant") {
			t.Fatal("the two messages of the batch were not filed apart, each with its own patient")
		}
	})

	t.Run("over HTTP an answer comes even when the message asks for none", func(t *testing.T) {
		ne := strings.Replace(string(fixtures.HL7Message("no-patient")), "|P|2.4", "|P|2.4|||NE|NE", 1)
		r := do(t, http.MethodPost, base+"/v1/hl7v2", labToken, "application/hl7-v2+er7", []byte(ne))
		if !strings.Contains(string(r.body), "MSA|AE|NOPAT-1") {
			t.Fatalf("NE/NE over HTTP: %d %q", r.status, r.body)
		}
	})

	t.Run("a Latin-1 message keeps its accents", func(t *testing.T) {
		latin1 := bytes.Replace(fixtures.HL7Message("ni-hc-number"), []byte("PATIENT^Niamh"), []byte("P\xc1TRAIG^Si\xe2n"), 1)
		r := do(t, http.MethodPost, base+"/v1/hl7v2", labToken, "application/hl7-v2+er7", latin1)
		if ack, _ := hl7.Parse(r.body); ack == nil || ack.Value(ack.First("MSA"), 1, 0) != "AA" {
			t.Fatalf("latin-1: %s", r.body)
		}
		bundle := string(get(t, base+"/v1/reports/SYN-HCN/fhir", operatorToken).body)
		if !strings.Contains(bundle, `"family":"PÁTRAIG"`) || !strings.Contains(bundle, "Siân") {
			t.Fatal("the Latin-1 name was not read as written")
		}
		if !strings.Contains(bundle, "https://fhir.nhs.uk/Id/hsc-number") {
			t.Fatal("the Health and Care number is not under its own system")
		}
	})

	t.Run("refusals: no patient identity, nothing to file", func(t *testing.T) {
		for name, loc := range map[string]string{"no-patient": "PID-3", "nothing-to-file": "OBX-0"} {
			ack, code := send(t, name, nil)
			errs := errSegments(ack, "E")
			if code != "AE" || len(errs) == 0 {
				t.Fatalf("%s: %s %v", name, code, errs)
			}
			if name == "no-patient" && errs[0] != loc {
				t.Fatalf("%s: ERR %v, want %s", name, errs, loc)
			}
		}
	})

	t.Run("a time in the future is AE at its field; nothing is stored", func(t *testing.T) {
		ack, code := send(t, "scottish-chi", func(m string) string {
			return strings.NewReplacer("|CHI-1|", "|CHI-FUTURE|", "SYN-CHI", "SYN-CHI-FUTURE", "|20261104120000|", "|20310101120000|").Replace(m)
		})
		if errs := errSegments(ack, "E"); code != "AE" || !slices.Contains(errs, "OBR-22") {
			t.Fatalf("issued in 2031: %s, ERR %v", code, errs)
		}
		if r := get(t, base+"/v1/reports/SYN-CHI-FUTURE", operatorToken); r.status != http.StatusNotFound {
			t.Fatalf("a refused report was stored: %d", r.status)
		}
	})

	t.Run("an unknown directory code is a warning; a repeat expansion keeps its counts", func(t *testing.T) {
		ack, code := send(t, "lri-variant-cwe", func(m string) string {
			return strings.NewReplacer("|LRI-CWE-1|", "|LRI-REPEAT|", "SYN-1200", "SYN-REPEAT", "R208.1^Inherited breast and ovarian cancer", "R999.9^Not a directory test",
				"c.5946del^c.5946del^HGVS.c", "c.-129CGG[30];[85]^^HGVS.c", "NP_000050.3:p.(Ser1982ArgfsTer22)^^HGVS.p", "").Replace(m)
		})
		if code != "AA" && code != "CA" {
			t.Fatalf("%s", code)
		}
		st := get(t, base+"/v1/reports/SYN-REPEAT", operatorToken).json(t)
		if w := fmt.Sprint(st["warnings"]); !strings.Contains(w, "R999.9 is not in the National Genomic Test Directory") {
			t.Fatalf("no warning about the unknown code: %s (ACK %v)", w, errSegments(ack, "W"))
		}
		bundle := string(get(t, base+"/v1/reports/SYN-REPEAT/fhir", operatorToken).body)
		for _, want := range []string{`"code":"repeat-motif"`, `"valueString":"CGG"`, `"value":30`, `"value":85`} {
			if !strings.Contains(bundle, want) {
				t.Errorf("the Bundle lacks %s", want)
			}
		}
	})

	t.Run("a CHI number and a bare base64 PDF with an MRN", func(t *testing.T) {
		if _, code := send(t, "scottish-chi", nil); code != "AA" {
			t.Fatalf("scottish-chi: %s", code)
		}
		bundle := string(get(t, base+"/v1/reports/SYN-CHI/fhir", operatorToken).body)
		if !strings.Contains(bundle, "urn:oid:2.16.840.1.113883.2.1.3.2.4.16.53") || !strings.Contains(bundle, "1503901009") {
			t.Fatal("the CHI number is not in the Bundle under its system")
		}
		if _, code := send(t, "pdf-bare-tx-mrn", nil); code != "AA" {
			t.Fatalf("pdf-bare-tx-mrn: %s", code)
		}
		pdf := get(t, base+"/v1/reports/HISREP-1234/pdf", operatorToken)
		if !bytes.Contains(pdf.body, []byte("synthetic lab report for tests")) {
			t.Fatal("the bare base64 PDF is not the report's PDF")
		}
	})
}

// TestHeldReportsRoutedWhenATrustGetsADestination: reports for a trust with
// no destination are held; once the configuration gives the trust one and
// the gateway restarts, they are delivered, with a fresh retry budget.
func TestHeldReportsRoutedWhenATrustGetsADestination(t *testing.T) {
	dir := t.TempDir()
	cfg := strings.ReplaceAll(testConfig, "OUTBOX", filepath.Join(dir, "outbox"))
	base, stop := startWithConfig(t, dir, cfg)
	body := bytes.Replace(withID(t, fixtures.Report("negative-wgs"), "HELD-1"), []byte(`"odsCode":"R0A"`), []byte(`"odsCode":"RXX"`), 1)
	if r := post(t, base, labToken, body); r.status != http.StatusAccepted {
		t.Fatalf("post = %d %s", r.status, r.body)
	}
	msg := bytes.Replace(fixtures.HL7Message("ni-hc-number"), []byte("Manchester University NHS Foundation Trust^^R0A^^^ODS"), []byte("Another Trust^^RXX^^^ODS"), 1)
	if r := do(t, http.MethodPost, base+"/v1/hl7v2", labToken, "application/hl7-v2+er7", msg); !bytes.Contains(r.body, []byte("MSA|AA")) || !bytes.Contains(r.body, []byte("held")) {
		t.Fatalf("HL7 for RXX: %s", r.body)
	}
	if held := string(get(t, base+"/v1/held", operatorToken).body); !strings.Contains(held, "HELD-1") || !strings.Contains(held, "SYN-HCN") {
		t.Fatalf("held = %s", held)
	}
	stop()

	restarted := time.Now()
	withRoute := strings.Replace(cfg, `"destinations": [`,
		`"destinations": [{"name": "rxx-files", "trusts": ["RXX"], "kind": "filedrop", "format": "fhir-bundle", "config": {"dir": "`+filepath.Join(dir, "outbox", "RXX")+`"}},`, 1)
	base, _ = startWithConfig(t, dir, withRoute)
	for _, id := range []string{"HELD-1", "SYN-HCN"} {
		var st map[string]any
		for i := 0; i < 250; i++ {
			st = get(t, base+"/v1/reports/"+id, operatorToken).json(t)
			if ds, _ := st["deliveries"].([]any); len(ds) == 1 && ds[0].(map[string]any)["state"] == "delivered" {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		ds, _ := st["deliveries"].([]any)
		if len(ds) != 1 || ds[0].(map[string]any)["state"] != "delivered" || st["held"] == true {
			t.Fatalf("%s after the route was added: held %v deliveries %v", id, st["held"], ds)
		}
		created, _ := time.Parse(time.RFC3339Nano, ds[0].(map[string]any)["createdAt"].(string))
		if created.Before(restarted) {
			t.Fatalf("%s: the delivery's age counts from %v, before the route existed", id, created)
		}
	}
	if held := string(get(t, base+"/v1/held", operatorToken).body); strings.Contains(held, "HELD-1") {
		t.Fatalf("still held: %s", held)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "outbox", "RXX", "HELD-1_v1.fhir.json")); len(files) != 1 {
		t.Fatal("the held report's Bundle was not dropped for the new destination")
	}
}
