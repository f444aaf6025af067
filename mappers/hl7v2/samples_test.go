package hl7v2_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/nhs-genomics/results-gateway/hl7"
	"github.com/nhs-genomics/results-gateway/mappers/hl7v2"
)

func sharedDir(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "data", "hl7v2")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs ../shared/data/hl7v2: %v", err)
		}
		t.Skip("../shared/data/hl7v2 is absent in this clone")
	}
	return dir
}

// fragmentHeader wraps an OBX-only fragment (vcf2hl7v2's output) so it can be read as an ORU.
const fragmentHeader = "MSH|^~\\&|VCF2HL7V2|699X0|GW|R0A|20261102120000||ORU^R01^ORU_R01|F1|P|2.5.1\r" +
	"PID|1||9990000018^^^NHS^NH||TEST^PATIENT||20000101|F\r" +
	"OBR|1||FRAG-1|R14.1^Whole genome^England-GenomicTestDirectory|||20261001||||||||||||||20261102120000|||F\r"

// TestPublicSamplesMapOrList reads every public sample ORU: each OBX is
// mapped into the report or listed as unmapped, never silently dropped.
func TestPublicSamplesMapOrList(t *testing.T) {
	dir := sharedDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.hl7"))
	frags, _ := filepath.Glob(filepath.Join(dir, "vcf2hl7v2", "expected_*.txt"))
	files = append(files, frags...)
	if len(files) < 10 {
		t.Fatalf("only %d samples", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, _ := os.ReadFile(f)
			if strings.HasPrefix(filepath.Base(f), "expected_") {
				raw = append([]byte(fragmentHeader), raw...)
			}
			m, err := hl7.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			d, err := hl7v2.Decode(m, "699X0", hl7v2.SenderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			obx := 0
			for _, s := range m.Segments {
				if s.Name() == "OBX" {
					obx++
				}
			}
			mapped := obx - len(d.Unmapped)
			for _, u := range d.Unmapped {
				if u.Location == "" || u.Reason == "" {
					t.Errorf("unmapped entry without location or reason: %+v", u)
				}
			}
			t.Logf("%d OBX: %d mapped, %d listed as unmapped; %d variants", obx, mapped, len(d.Unmapped), len(d.Report.Variants))
			if strings.HasPrefix(filepath.Base(f), "expected_") {
				if len(d.Report.Variants) == 0 || d.Report.Result.Outcome != "positive" {
					t.Fatalf("the genomic OBX groups were not mapped: %d variants, outcome %q", len(d.Report.Variants), d.Report.Result.Outcome)
				}
				for _, v := range d.Report.Variants {
					if !strings.HasPrefix(v.Gene.HGNCID, "HGNC:") || v.Gene.Symbol == "" || (v.HGVS.C == "" && v.HGVS.G == "") {
						t.Errorf("variant lost its gene or HGVS: %+v", v)
					}
				}
			}
		})
	}
}
