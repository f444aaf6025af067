package fhirr4_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	r4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
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

// bigReport is the trio fixture with n variants and a PDF of pdfBytes.
func bigReport(b *testing.B, n, pdfBytes int) (*r4pb.Bundle, int) {
	r, err := labjson.Decode(fixtures.Report("trio-wgs-denovo-positive"))
	if err != nil {
		b.Fatal(err)
	}
	first := r.Variants[0]
	r.Variants = r.Variants[:0]
	for i := 1; i <= n; i++ {
		v := first
		v.ID = fmt.Sprintf("v%d", i)
		r.Variants = append(r.Variants, v)
	}
	pdf := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("0123456789abcdef"), pdfBytes/16)...)
	m, _ := fhirr4.New("")
	bundle := m.Bundle(r, pdf)
	return bundle, len(pdf)
}

// BenchmarkBundleEncode: marshalling the same Bundle (10 variants, 50 KB
// PDF) with jsonformat and with the writer; "ratio" times both in turn in
// one loop and reports writer/jsonformat (goal: at most 0.33).
func BenchmarkBundleEncode(b *testing.B) {
	bundle, _ := bigReport(b, 10, 50<<10)
	ref, err := jsonformat.NewMarshaller(false, "", "", fhirversion.R4)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("jsonformat", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ref.MarshalResource(bundle); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("writer", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := fhirr4.MarshalResource(bundle); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ratio", func(b *testing.B) {
		var ref_, own time.Duration
		for b.Loop() {
			start := time.Now()
			ref.MarshalResource(bundle)
			mid := time.Now()
			fhirr4.MarshalResource(bundle)
			ref_, own = ref_+mid.Sub(start), own+time.Since(mid)
		}
		b.ReportMetric(float64(own)/float64(ref_), "writer/jsonformat")
	})
}

// BenchmarkBundleEncodeGrid: the writer over 1-200 variants and PDFs of
// 0 B-10 MB, to show time and allocations grow linearly with size.
func BenchmarkBundleEncodeGrid(b *testing.B) {
	for _, variants := range []int{1, 10, 50, 200} {
		for _, pdf := range []int{0, 50 << 10, 1 << 20, 10 << 20} {
			b.Run(fmt.Sprintf("variants=%d/pdf=%dKB", variants, pdf>>10), func(b *testing.B) {
				bundle, _ := bigReport(b, variants, pdf)
				b.ReportAllocs()
				var size int
				for b.Loop() {
					out, err := fhirr4.MarshalResource(bundle)
					if err != nil {
						b.Fatal(err)
					}
					size = len(out)
				}
				b.ReportMetric(float64(size), "json-B")
			})
		}
	}
}
