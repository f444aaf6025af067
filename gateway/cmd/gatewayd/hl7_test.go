package main

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/hl7"
	"github.com/nhs-genomics/results-gateway/internal/peers"
	"github.com/nhs-genomics/results-gateway/mappers/hl7v2"
	"github.com/nhs-genomics/results-gateway/mappers/labjson"
)

// mllpSend sends one message and reads n acknowledgements.
func mllpSend(t *testing.T, addr string, msg []byte, n int) []*hl7.Message {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return mllpExchange(t, conn, msg, n)
}

// mllpExchange sends one message on conn, reads n acknowledgements and closes it.
func mllpExchange(t *testing.T, conn net.Conn, msg []byte, n int) []*hl7.Message {
	t.Helper()
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if err := hl7.WriteFrame(conn, msg); err != nil {
		t.Fatal(err)
	}
	frames := hl7.NewFrameReader(conn, 1<<20)
	var acks []*hl7.Message
	for i := 0; i < n; i++ {
		raw, err := frames.Next()
		if err != nil {
			t.Fatalf("ack %d: %v", i+1, err)
		}
		ack, err := hl7.Parse(raw)
		if err != nil {
			t.Fatalf("ack %d is not HL7: %v", i+1, err)
		}
		acks = append(acks, ack)
	}
	return acks
}

// errSegments lists the "SEG-field" locations of an ACK's ERR segments of a severity (ERR-4).
func errSegments(ack *hl7.Message, severity string) []string {
	var out []string
	for _, s := range ack.Segments {
		if s.Name() == "ERR" && ack.Value(s, 4, 0) == severity {
			out = append(out, ack.Value(s, 2, 1)+"-"+ack.Component(s.Field(2), 3))
		}
	}
	return out
}

func ackOf(t *testing.T, ack *hl7.Message) (code, controlID, text string) {
	t.Helper()
	return hl7.AckCode(ack)
}

// oru encodes a fixture as a lab's LIMS would send it.
func oru(t *testing.T, name, controlID string, edit func(string) string) []byte {
	r, err := labjson.Decode(fixtures.Report(name))
	if err != nil {
		t.Fatal(err)
	}
	msg := string(hl7v2.Encode(r, nil, controlID, hl7v2.Options{}))
	msg = strings.Replace(msg, "|RESULTS-GATEWAY|", "|LIMS|", 1)
	if edit != nil {
		msg = edit(msg)
	}
	return []byte(msg)
}

// pdfOnly is what many UK labs send: an R-code, narrative lines and the
// report PDF, no coded findings; NHS number with spaces; local times.
func pdfOnly(controlID, status, text string) []byte {
	pdf := base64.StdEncoding.EncodeToString([]byte("%PDF-1.4\n% lab's own report\n%%EOF\n"))
	return []byte("MSH|^~\\&|LIMS|699X0|EPR|R0A|20261105093000||ORU^R01|" + controlID + "|P|2.3|||AL|NE\r" +
		"PID|1||999 000 0093^^^NHS^NH~X77^^^R0A^MR||EXAMPLE^JOAN||19800101|F\r" +
		"ORC|RE|ORD-9|IGENE-5501^699X0\r" +
		"OBR|1|ORD-9|IGENE-5501^699X0|R240.1^Diagnostic testing for known variant(s)^England-GenomicTestDirectory|||20261001100000|||||||20261002120000||^Dr Who||||||20261105090000|||" + status + "|||||||&Scientist&Sue\r" +
		"OBX|1|TX|RESULT^Result^L||" + text + "||||||F\r" +
		"OBX|2|TX|RESULT^Result^L||Please see the attached report.||||||F\r" +
		"OBX|3|ED|1054161000000101^Genetic report^SCT||MOL^IM^PDF^Base64^" + pdf + "||||||F\r")
}

func TestHL7OverMLLP(t *testing.T) {
	base, _, addr := startGatewayFull(t, nil)
	if addr == "" {
		t.Fatal("no MLLP listener")
	}

	t.Run("AA after durable storage, AA again for a repeat", func(t *testing.T) {
		msg := oru(t, "trio-wgs-denovo-positive", "MSG-1", nil)
		for i := 0; i < 2; i++ {
			acks := mllpSend(t, addr, msg, 1)
			code, ctrl, _ := ackOf(t, acks[0])
			if code != "AA" || ctrl != "MSG-1" {
				t.Fatalf("send %d: MSA %s %s, want AA MSG-1", i+1, code, ctrl)
			}
		}
		st := get(t, base+"/v1/reports/NWGLH-2026-000101", operatorToken).json(t)
		if st["source"] != "hl7v2" || st["version"] != float64(1) || len(st["versions"].([]any)) != 1 {
			t.Fatalf("stored as %v", st)
		}
		journey := string(get(t, base+"/v1/reports/NWGLH-2026-000101/journey", operatorToken).body)
		if strings.Count(journey, "via HL7 v2 MSG-1") != 2 {
			t.Fatalf("both HL7 submissions must be in the audit trail: %s", journey)
		}
	})

	t.Run("a PDF-only message becomes an unstructured report; a correction a new version", func(t *testing.T) {
		// This sender asks for enhanced mode, commit acknowledgements only (MSH-15 AL, MSH-16 NE).
		code, _, _ := ackOf(t, mllpSend(t, addr, pdfOnly("PDF-1", "F", "No pathogenic variant was detected."), 1)[0])
		if code != "CA" {
			t.Fatalf("PDF-only: %s, want CA", code)
		}
		if code, _, _ := ackOf(t, mllpSend(t, addr, pdfOnly("PDF-1", "F", "No pathogenic variant was detected."), 1)[0]); code != "CA" {
			t.Fatal("the repeat was not acknowledged CA")
		}
		bundle := get(t, base+"/v1/reports/IGENE-5501/fhir", operatorToken)
		dr := diagnosticReport(t, bundle.body)
		tags, _ := dr["meta"].(map[string]any)["tag"].([]any)
		if len(tags) != 1 || !strings.Contains(dr["conclusion"].(string), "No pathogenic variant was detected.") {
			t.Fatalf("unstructured report: tags %v, conclusion %v", tags, dr["conclusion"])
		}
		pdf := get(t, base+"/v1/reports/IGENE-5501/pdf", operatorToken)
		if !strings.Contains(string(pdf.body), "lab's own report") {
			t.Fatal("the lab's PDF is not the presentedForm")
		}
		if code, _, _ := ackOf(t, mllpSend(t, addr, pdfOnly("PDF-2", "C", "CORRECTED: a pathogenic variant was detected."), 1)[0]); code != "CA" {
			t.Fatal("correction refused")
		}
		st := get(t, base+"/v1/reports/IGENE-5501", operatorToken).json(t)
		if st["version"] != float64(2) || st["status"] != "corrected" {
			t.Fatalf("after OBR-25 C: %v", st)
		}
		// The LIMS resends the original late (e.g. after an ACK timeout): it
		// must not become a version 3 that overwrites the correction.
		if code, _, _ := ackOf(t, mllpSend(t, addr, pdfOnly("PDF-1", "F", "No pathogenic variant was detected."), 1)[0]); code != "CA" {
			t.Fatal("the late resend was not acknowledged")
		}
		if code, _, _ := ackOf(t, mllpSend(t, addr, pdfOnly("PDF-9", "F", "No pathogenic variant was detected."), 1)[0]); code != "CA" {
			t.Fatal("the late resend under a new control id was not acknowledged")
		}
		if st := get(t, base+"/v1/reports/IGENE-5501", operatorToken).json(t); st["version"] != float64(2) || st["status"] != "corrected" {
			t.Fatalf("a late resend of the original changed the report: version %v, %v", st["version"], st["status"])
		}
		if unmapped, _ := st["unmapped"].([]any); len(unmapped) != 0 {
			t.Fatalf("narrative rows were listed as unmapped: %v", unmapped)
		}
	})

	t.Run("AE when the message identifies no patient, located at PID-3", func(t *testing.T) {
		bad := oru(t, "panel-brca2", "BAD-1", func(m string) string {
			m = strings.Replace(m, "9990000077^^^NHS^NH", "9990000078^^^NHS^NH", 1) // a wrong check digit
			return strings.Replace(m, "~MRN00077^^^R0A^MR", "", 1)                  // and no MRN to fall back on
		})
		ack := mllpSend(t, addr, bad, 1)[0]
		code, ctrl, text := ackOf(t, ack)
		if code != "AE" || ctrl != "BAD-1" || !strings.Contains(text, "does not identify the patient") {
			t.Fatalf("MSA %s %s %q", code, ctrl, text)
		}
		if errs := errSegments(ack, "E"); len(errs) != 1 || errs[0] != "PID-3" {
			t.Fatalf("error ERR locations %v, want PID-3", errs)
		}
		if r := get(t, base+"/v1/reports/NWGLH-2026-000107", operatorToken); r.status != http.StatusNotFound {
			t.Fatal("a rejected message left a report behind")
		}
	})

	t.Run("AE when the message holds two patients' results, located at the second PID", func(t *testing.T) {
		two := oru(t, "panel-brca2", "TWO-1", func(m string) string {
			// the patient's groups again, for another patient: what an ORU^R01 may carry
			rest := m[strings.Index(m, "\rPID|")+1:]
			other := strings.NewReplacer("9990000077^^^NHS^NH", "9990001316^^^NHS^NH", "MRN00077", "MRN01316").Replace(rest)
			return m + other
		})
		ack := mllpSend(t, addr, two, 1)[0]
		code, ctrl, text := ackOf(t, ack)
		if code != "AE" || ctrl != "TWO-1" || !strings.Contains(text, "2 PID segments: a report is one patient's") {
			t.Fatalf("MSA %s %s %q", code, ctrl, text)
		}
		for _, s := range ack.Segments {
			if s.Name() == "ERR" && ack.Value(s, 4, 0) == "E" && (ack.Value(s, 2, 1) != "PID" || ack.Value(s, 2, 2) != "2") {
				t.Fatalf("ERR at %s, want PID^2", s.Field(2))
			}
		}
		if r := get(t, base+"/v1/reports/NWGLH-2026-000107", operatorToken); r.status != http.StatusNotFound {
			t.Fatal("a refused message left a report behind")
		}
	})

	t.Run("a message that cannot be parsed is answered AE naming its control id", func(t *testing.T) {
		broken := oru(t, "panel-brca2", "BROKEN-1", func(m string) string {
			return strings.Replace(m, "\rOBX|", "\rthis line is no segment\rOBX|", 1)
		})
		ack := mllpSend(t, addr, broken, 1)[0]
		if code, ctrl, text := ackOf(t, ack); code != "AE" || ctrl != "BROKEN-1" || !strings.Contains(text, "three-character segment id") {
			t.Fatalf("MSA %s %s %q", code, ctrl, text)
		}
		if to := ack.Value(ack.First("MSH"), 5, 0); to != "LIMS" {
			t.Fatalf("the ACK is addressed to %q, not the sender", to)
		}
	})

	t.Run("a withdrawal or cancellation with no results withdraws the stored report's", func(t *testing.T) {
		// bare is the report's message with no results: its OBX and NTE
		// rows gone, OBR-25 status, and a reason after the OBR if given.
		bare := func(id, ctrl, status, reason string, edit func(string) string) []byte {
			return oru(t, "vus-inconclusive", ctrl, func(m string) string {
				var kept []string
				for _, seg := range strings.Split(m, "\r") {
					f := strings.Split(seg, "|")
					switch f[0] {
					case "OBX", "NTE":
						continue // no results at all
					case "OBR":
						f[25] = status
						if reason != "" {
							kept = append(kept, strings.Join(f, "|"), "NTE|1|L|"+reason)
							continue
						}
					}
					kept = append(kept, strings.Join(f, "|"))
				}
				m = strings.ReplaceAll(strings.Join(kept, "\r"), "NWGLH-2026-000103", id)
				if edit != nil {
					m = edit(m)
				}
				return m
			})
		}
		send := func(msg []byte) (string, string) {
			t.Helper()
			code, _, text := ackOf(t, mllpSend(t, addr, msg, 1)[0])
			return code, text
		}
		state := func() (float64, string) {
			st := get(t, base+"/v1/reports/WD-REPORT", operatorToken).json(t)
			v, _ := st["version"].(float64)
			s, _ := st["status"].(string)
			return v, s
		}
		if code, _ := send(oru(t, "vus-inconclusive", "WD-1", func(m string) string { return strings.ReplaceAll(m, "NWGLH-2026-000103", "WD-REPORT") })); code != "AA" {
			t.Fatalf("the report: %s", code)
		}
		if code, text := send(bare("WD-REPORT", "WD-2", "W", "Withdrawn: sample mix-up", nil)); code != "AA" {
			t.Fatalf("a withdrawal with a reason and no OBX: %s %q", code, text)
		}
		if v, st := state(); v != 2 || st != "entered-in-error" {
			t.Fatalf("after the withdrawal: version %v status %v", v, st)
		}
		bundle := string(get(t, base+"/v1/reports/WD-REPORT/fhir", operatorToken).body)
		if !strings.Contains(bundle, `"status":"entered-in-error"`) || !strings.Contains(bundle, "NM_001165963.4") || !strings.Contains(bundle, "sample mix-up") {
			t.Fatalf("the withdrawal does not name what it withdraws, and why: %.300s", bundle)
		}
		if code, _ := send(bare("WD-REPORT", "WD-2", "W", "Withdrawn: sample mix-up", nil)); code != "AA" {
			t.Fatalf("a resend of the withdrawal: %s", code)
		}
		if v, _ := state(); v != 2 {
			t.Fatalf("a resend of the withdrawal was filed as version %v", v)
		}
		// Re-issued, corrected; then the withdrawal's message again, late: nothing is withdrawn.
		if code, text := send(oru(t, "vus-inconclusive", "WD-3", func(m string) string {
			var segs []string
			for _, seg := range strings.Split(strings.ReplaceAll(m, "NWGLH-2026-000103", "WD-REPORT"), "\r") {
				switch f := strings.Split(seg, "|"); {
				case f[0] == "OBX" && strings.Contains(f[3], "Report version"):
					continue // numbered by the gateway, as a LIMS's correction is
				case f[0] == "OBR":
					f[25] = "C"
					seg = strings.Join(f, "|") + "\rNTE|1|L|Corrected: re-issued after the sample was checked."
				}
				segs = append(segs, seg)
			}
			return strings.Join(segs, "\r")
		})); code != "AA" {
			t.Fatalf("the correction: %s %q", code, text)
		}
		_, reissued := state()
		if v, st := state(); v != 3 || st == "entered-in-error" {
			t.Fatalf("after the correction: version %v status %v", v, st)
		}
		if code, _ := send(bare("WD-REPORT", "WD-2", "W", "Withdrawn: sample mix-up", nil)); code != "AA" {
			t.Fatalf("a late resend of the withdrawal: %s", code)
		}
		if v, st := state(); v != 3 || st != reissued {
			t.Fatalf("a late resend of the withdrawal withdrew the re-issued report: version %v status %v", v, st)
		}
		// A cancellation naming another patient than the one with the results.
		if code, text := send(bare("WD-REPORT", "WD-5", "X", "", func(m string) string {
			return strings.ReplaceAll(m, "9990000034", "9990001316")
		})); code != "AE" || !strings.Contains(text, "names another patient") {
			t.Fatalf("a cancellation for another patient: %s %q", code, text)
		}
		if code, text := send(bare("WD-NEVER-SENT", "WD-6", "X", "", nil)); code != "AE" || !strings.Contains(text, "holds no results to withdraw") {
			t.Fatalf("cancelling a report never sent: %s %q", code, text)
		}
	})

	t.Run("a number filed under an earlier release's id is still that report, for its patient only", func(t *testing.T) {
		// T-COL-1 is what releases before the id digest made of T-COL/1.
		if r := post(t, base, labToken, withID(t, fixtures.Report("vus-inconclusive"), "T-COL-1")); r.status != http.StatusAccepted {
			t.Fatalf("the earlier report: %d %s", r.status, r.body)
		}
		correction := func(ctrl, number string, edit func(string) string) []byte {
			return oru(t, "vus-inconclusive", ctrl, func(m string) string {
				var segs []string
				for _, seg := range strings.Split(strings.ReplaceAll(m, "NWGLH-2026-000103", number), "\r") {
					if f := strings.Split(seg, "|"); f[0] == "OBX" && strings.Contains(f[3], "Report version") {
						continue // numbered by the gateway
					} else if f[0] == "OBR" {
						seg += "\rNTE|1|L|Corrected."
					}
					segs = append(segs, seg)
				}
				m = strings.Join(segs, "\r")
				if edit != nil {
					m = edit(m)
				}
				return m
			})
		}
		if code, _, text := ackOf(t, mllpSend(t, addr, correction("TCOL-2", "T-COL/1", nil), 1)[0]); code != "AA" {
			t.Fatalf("the correction: %s %q", code, text)
		}
		if st := get(t, base+"/v1/reports/T-COL-1", operatorToken).json(t); st["version"] != float64(2) {
			t.Fatalf("the correction of T-COL/1 did not correct T-COL-1: version %v", st["version"])
		}
		ack := mllpSend(t, addr, correction("TCOL-3", "T-COL 1", func(m string) string {
			return strings.ReplaceAll(m, "9990000034", "9990001316") // another patient's report, its number alike once made safe
		}), 1)[0]
		if code, _, text := ackOf(t, ack); code != "AA" {
			t.Fatalf("another patient's T-COL 1: %s %q", code, text)
		}
		if st := get(t, base+"/v1/reports/T-COL-1", operatorToken).json(t); st["version"] != float64(2) {
			t.Fatalf("another patient's report was filed as version %v of T-COL-1", st["version"])
		}
	})

	t.Run("odd content is a warning on the AA and on the report, located at its OBX", func(t *testing.T) {
		odd := oru(t, "panel-brca2", "ODD-1", func(m string) string {
			return strings.Replace(m, "NP_000050.3:p.(Ser1982ArgfsTer22)", "p.S1982Rfs*22", 1) // one-letter amino acids
		})
		ack := mllpSend(t, addr, odd, 1)[0]
		if code, _, _ := ackOf(t, ack); code != "AA" {
			t.Fatalf("odd p.HGVS: %s, want AA", code)
		}
		warned := errSegments(ack, "W")
		if len(warned) == 0 || warned[0] != "OBX-5" {
			t.Fatalf("warning ERR locations %v, want the p.HGVS OBX-5", warned)
		}
		st := get(t, base+"/v1/reports/NWGLH-2026-000107", operatorToken).json(t)
		warnings, _ := st["warnings"].([]any)
		if len(warnings) == 0 || !strings.Contains(fmt.Sprint(warnings), "variants[0].hgvs.p") || !strings.Contains(fmt.Sprint(warnings), "OBX[") {
			t.Fatalf("the warning is not on the report with its place: %v", warnings)
		}
		bundle := string(get(t, base+"/v1/reports/NWGLH-2026-000107/fhir", operatorToken).body)
		if !strings.Contains(bundle, "p.S1982Rfs*22") {
			t.Fatal("the lab's p. description was dropped instead of kept as sent")
		}
	})

	t.Run("AR for a message type it does not take", func(t *testing.T) {
		adt := []byte("MSH|^~\\&|LIMS|699X0|GW|RG|20261102||ADT^A01|ADT-1|P|2.5.1\rPID|1||9990000018^^^NHS^NH\r")
		ack := mllpSend(t, addr, adt, 1)[0]
		code, ctrl, _ := ackOf(t, ack)
		if code != "AR" || ctrl != "ADT-1" || ack.Value(ack.First("ERR"), 3, 1) != "200" {
			t.Fatalf("ADT: %s %s ERR-3 %q", code, ctrl, ack.Value(ack.First("ERR"), 3, 1))
		}
	})

	t.Run("enhanced mode: commit then application acknowledgement", func(t *testing.T) {
		msg := oru(t, "vus-inconclusive", "ENH-1", func(m string) string { return strings.Replace(m, "|P|2.5.1\r", "|P|2.5.1|||AL|AL\r", 1) })
		acks := mllpSend(t, addr, msg, 2)
		c1, _, _ := ackOf(t, acks[0])
		c2, _, _ := ackOf(t, acks[1])
		if c1 != "CA" || c2 != "AA" {
			t.Fatalf("enhanced mode acks %s then %s, want CA then AA", c1, c2)
		}
	})

	t.Run("an unknown sender is told why", func(t *testing.T) {
		msg := oru(t, "cnv-deletion", "UNK-1", func(m string) string { return strings.Replace(m, "|LIMS|699X0|", "|LIMS|7A1X0|", 1) })
		code, _, text := ackOf(t, mllpSend(t, addr, msg, 1)[0])
		if code != "AE" || !strings.Contains(text, "not allowed") {
			t.Fatalf("unknown sender: %s %q", code, text)
		}
	})

	t.Run("third-party MLLP client", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "oru.hl7")
		os.WriteFile(file, oru(t, "mito-heteroplasmy", "PEER-1", nil), 0o600)
		_, port, _ := net.SplitHostPort(addr)
		out, err := peers.Command(t, "mllp-send", "--port", port, file).CombinedOutput()
		if err != nil {
			t.Fatalf("mllp-send (exit 0 only on AA/CA): %v\n%s", err, out)
		}
	})
}

func TestHL7OverHTTP(t *testing.T) {
	base, _, _ := startGatewayFull(t, nil)
	msg := oru(t, "compound-het-ar", "HTTP-1", nil)
	r := do(t, http.MethodPost, base+"/v1/hl7v2", labToken, "application/hl7-v2+er7", msg)
	ack, err := hl7.Parse(r.body)
	if r.status != http.StatusOK || err != nil {
		t.Fatalf("POST /v1/hl7v2 = %d %v", r.status, err)
	}
	if code, ctrl, _ := hl7.AckCode(ack); code != "AA" || ctrl != "HTTP-1" {
		t.Fatalf("ACK %s %s", code, ctrl)
	}
	if r := do(t, http.MethodPost, base+"/v1/hl7v2", labToken, "text/plain", msg); r.status != http.StatusUnsupportedMediaType {
		t.Fatalf("text/plain = %d", r.status)
	}
	if r := do(t, http.MethodPost, base+"/v1/hl7v2", trustToken, "application/hl7-v2+er7", msg); r.status != http.StatusForbidden {
		t.Fatalf("a trust posting HL7 = %d", r.status)
	}
	if r := do(t, http.MethodPost, base+"/v1/hl7v2", "", "application/hl7-v2+er7", msg); r.status != http.StatusUnauthorized {
		t.Fatalf("no token = %d", r.status)
	}
}

// TestHL7ARWhenStoreDown: with Redis gone the gateway cannot store, so it
// answers AR (send again later) over MLLP and 503 with the AR over HTTP.
func TestHL7ARWhenStoreDown(t *testing.T) {
	port := strconv.Itoa(freePort(t))
	redis := redisServer(t, t.TempDir(), port)
	t.Cleanup(func() { redis.Kill(); redis.Wait() })
	base, _, addr := startGatewayFull(t, map[string]string{"GATEWAY_REDIS_URL": "redis://127.0.0.1:" + port + "/0", "GATEWAY_INDEX_KEY": "test-index-key-0123456789"})
	redis.Kill()
	redis.Wait()
	code, ctrl, _ := ackOf(t, mllpSend(t, addr, oru(t, "negative-wgs", "DOWN-1", nil), 1)[0])
	if code != "AR" || ctrl != "DOWN-1" {
		t.Fatalf("with the store down: %s %s, want AR", code, ctrl)
	}
	r := do(t, http.MethodPost, base+"/v1/hl7v2", labToken, "application/hl7-v2+er7", oru(t, "negative-wgs", "DOWN-2", nil))
	if ack, _ := hl7.Parse(r.body); r.status != http.StatusServiceUnavailable || ack == nil || ack.Value(ack.First("MSA"), 1, 0) != "AR" {
		t.Fatalf("HTTP with the store down = %d %q", r.status, r.body)
	}
}

// TestHL7HexEscapesInDeclaredCharset: a \Xhh\ escape's bytes are in the
// character set MSH-18 declares, as the message's own bytes are: 8859/2's
// \XA3\ is Ł (Windows-1252, the reading for undeclared sets, makes it £).
func TestHL7HexEscapesInDeclaredCharset(t *testing.T) {
	base, _, _ := startGatewayFull(t, nil)
	msg := "MSH|^~\\&|LIMS|699X0|EPR|R0A|20261105093000||ORU^R01^ORU_R01|HEX-1|P|2.5.1|||AL|NE||8859/2\r" +
		"PID|1||9990000093^^^NHS^NH||\\XA3\\UKASIEWICZ^\xafaneta||19800101|F\r" +
		"OBR|1|ORD-HEX|REP-HEX|R240.1^Diagnostic testing for known variant(s)^England-GenomicTestDirectory|||20260901|||||||||||||||20261104120000|||F\r" +
		"OBX|1|TX|RES^Result^L||No variant detected.||||||F\r"
	r := do(t, http.MethodPost, base+"/v1/hl7v2", labToken, "application/hl7-v2+er7", []byte(msg))
	if ack, err := hl7.Parse(r.body); err != nil {
		t.Fatalf("%d %q", r.status, r.body)
	} else if code, _, text := ackOf(t, ack); code != "AA" {
		t.Fatalf("%s %q", code, text)
	}
	bundle := get(t, base+"/v1/reports/REP-HEX/fhir", operatorToken)
	if body := string(bundle.body); !strings.Contains(body, `"ŁUKASIEWICZ"`) || !strings.Contains(body, `"Żaneta"`) {
		t.Fatalf("the patient's name is not as written: %s", bundle.body)
	}
}
