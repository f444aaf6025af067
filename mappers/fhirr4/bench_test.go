package fhirr4_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/mappers/fhirr4"
	"github.com/nhs-genomics/results-gateway/mappers/labjson"
)

// BenchmarkMapMarshal is the target case: a 10-variant report with a
// 50 KB PDF, mapped and marshalled once (target ≤ 3 ms on 2 cores).
func BenchmarkMapMarshal(b *testing.B) {
	r, err := labjson.Decode(fixtures.Report("trio-wgs-denovo-positive"))
	if err != nil {
		b.Fatal(err)
	}
	first := r.Variants[0]
	for i := 2; i <= 10; i++ {
		v := first
		v.ID = fmt.Sprintf("v%d", i)
		r.Variants = append(r.Variants, v)
	}
	pdf := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("0123456789abcdef"), 50*1024/16)...)
	m, err := fhirr4.New("")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := m.EncodeBundle(r, pdf); err != nil {
			b.Fatal(err)
		}
	}
}
