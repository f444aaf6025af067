package peers

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// HL7Sample is one public HL7 v2 message from ../shared/data/hl7v2.
type HL7Sample struct {
	Name string // "source/file", e.g. "nw-gmsa/testing-Shire-1.txt"
	Raw  []byte
}

// FragmentHeader wraps an OBX-only fragment (vcf2hl7v2's expected output)
// so it can be read as an ORU^R01: a synthetic patient and order.
const FragmentHeader = "MSH|^~\\&|VCF2HL7V2|699X0|GW|R0A|20261102120000||ORU^R01^ORU_R01|F1|P|2.5.1\r" +
	"PID|1||9990000018^^^NHS^NH||TEST^PATIENT||20000101|F\r" +
	"OBR|1||FRAG-1|R14.1^Whole genome^England-GenomicTestDirectory|||20261001||||||||||||||20261102120000|||F\r"

// HL7Samples returns every HL7 v2 message in ../shared/data/hl7v2 (files
// that start with MSH, after any byte-order mark or blank lines) and every
// vcf2hl7v2 fragment wrapped in FragmentHeader; it skips the test as
// DataDir does when ../shared is absent.
func HL7Samples(t testing.TB) []HL7Sample {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(DataDir(t), "hl7v2", "*", "*"))
	var out []HL7Sample
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(filepath.Dir(f)) + "/" + filepath.Base(f)
		body := bytes.TrimLeft(bytes.TrimPrefix(raw, []byte("\ufeff")), "\r\n\t ")
		switch {
		case bytes.HasPrefix(body, []byte("MSH")):
			out = append(out, HL7Sample{name, raw})
		case strings.HasPrefix(filepath.Base(f), "expected_") && bytes.HasPrefix(body, []byte("OBX")):
			out = append(out, HL7Sample{name, append([]byte(FragmentHeader), raw...)})
		}
	}
	if len(out) < 15 {
		t.Fatalf("only %d HL7 v2 samples in ../shared/data/hl7v2", len(out))
	}
	return out
}
