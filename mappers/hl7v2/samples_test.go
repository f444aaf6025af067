package hl7v2_test

import (
	"strings"
	"testing"

	"github.com/nhs-genomics/results-gateway/hl7"
	"github.com/nhs-genomics/results-gateway/internal/peers"
	"github.com/nhs-genomics/results-gateway/mappers/hl7v2"
)

// TestPublicSamplesMapOrList reads every public sample ORU: each OBX is
// mapped into the report or listed as unmapped, never silently dropped.
func TestPublicSamplesMapOrList(t *testing.T) {
	for _, s := range peers.HL7Samples(t) {
		t.Run(s.Name, func(t *testing.T) {
			raw := s.Raw
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
			if strings.Contains(s.Name, "/expected_") {
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
