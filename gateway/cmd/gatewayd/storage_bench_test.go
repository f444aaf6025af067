package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/gateway/boltstore"
	"github.com/nhs-genomics/results-gateway/gateway/pdf"
	"github.com/nhs-genomics/results-gateway/gateway/redisstore"
	"github.com/nhs-genomics/results-gateway/internal/blob"
	"github.com/nhs-genomics/results-gateway/mappers/fhirr4"
	"github.com/nhs-genomics/results-gateway/mappers/hl7v2"
	"github.com/nhs-genomics/results-gateway/mappers/labjson"
)

// BenchmarkStoragePerReport: what the store holds per trio report carrying
// the lab's own 50 KB PDF, with 1 and with 10 destinations (7 FHIR, 2 PDF,
// 1 HL7 v2), while the deliveries wait and after they are delivered, as a
// ratio to the report's own distinct payloads: one Bundle, one PDF, one
// ORU (the goal: at most 1.5). b.N is the number of reports. Redis
// is a server of the benchmark's own (used_memory); bbolt is measured by
// the pages in use.
func BenchmarkStoragePerReport(b *testing.B) {
	for _, storeName := range []string{"embedded", "redis"} {
		for _, dests := range []int{1, 10} {
			b.Run(fmt.Sprintf("%s/%d-destinations", storeName, dests), func(b *testing.B) { benchStorage(b, storeName, dests) })
		}
	}
}

func benchStorage(b *testing.B, storeName string, dests int) {
	ctx := context.Background()
	var store gateway.Store
	var used func() int64
	if storeName == "embedded" {
		s, err := boltstore.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		store, used = s, func() int64 { n, _ := s.DiskBytes(); return n }
	} else {
		port := strconv.Itoa(freePort(b))
		srv := redisServer(b, b.TempDir(), port)
		b.Cleanup(func() { srv.Kill(); srv.Wait() })
		s, err := redisstore.Open(ctx, "redis://127.0.0.1:"+port+"/0", "bench", []byte("test-index-key-0123456789"))
		if err != nil {
			b.Fatal(err)
		}
		rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:" + port})
		b.Cleanup(func() { rdb.Close() })
		store, used = s, func() int64 {
			info, _ := rdb.Info(ctx, "memory").Result()
			for _, line := range strings.Split(info, "\r\n") {
				if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
					n, _ := strconv.ParseInt(v, 10, 64)
					return n
				}
			}
			return 0
		}
	}
	b.Cleanup(func() { store.Close() })
	var routes []gateway.Route
	for i := range dests {
		rt := gateway.Route{Destination: "d" + strconv.Itoa(i), Format: gateway.FormatFHIRBundle}
		switch {
		case dests > 1 && i == dests-1:
			rt.Format, rt.Encode = gateway.FormatHL7v2, oruEncoder(hl7v2.Options{})
		case dests > 1 && i >= 7:
			rt.Format = gateway.FormatPDF
		}
		routes = append(routes, rt)
	}
	mapper, _ := fhirr4.New("")
	intake := &gateway.Intake{Reports: store, Router: router{"R0A": routes}, Bundles: mapper, Renderer: pdf.Renderer{},
		Now: time.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	template, err := labjson.Decode(fixtures.Report("trio-wgs-denovo-positive"))
	if err != nil {
		b.Fatal(err)
	}
	// A lab's own PDF: 50 KB of deflate-like (incompressible) bytes.
	rng := rand.New(rand.NewPCG(1, 2))
	labPDF := []byte("%PDF-1.4\n")
	for len(labPDF) < 50<<10 {
		labPDF = append(labPDF, byte(rng.Uint32()))
	}
	template.PDF = &gateway.Attachment{ContentType: "application/pdf", Data: labPDF}

	before := used()
	var distinct int64
	var bundleRatio, oruRatio float64
	b.ResetTimer()
	for i := range b.N {
		r := *template
		r.ID = fmt.Sprintf("S-%06d", i)
		rec, _, err := intake.Accept(ctx, gateway.Principal{Role: gateway.RoleLab, ODSCode: "699X0"}, &r, gateway.Submission{Source: "json"})
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			oru, _ := oruEncoder(hl7v2.Options{})(&r, nil, rec, "x", "")
			distinct = int64(len(rec.Bundle) + len(rec.PDF) + len(oru))
			bundleRatio = float64(len(blob.Pack(rec.Bundle))) / float64(len(rec.Bundle))
			oruRatio = float64(len(blob.Pack(oru))) / float64(len(oru))
		}
	}
	b.StopTimer()
	waiting := float64(used()-before) / float64(b.N)
	for _, rt := range routes {
		for {
			d, err := store.Lease(ctx, rt.Destination, time.Now().Add(time.Hour), time.Minute)
			if err != nil {
				b.Fatal(err)
			}
			if d == nil {
				break
			}
			if err := store.Complete(ctx, d.ID, d.Lease, gateway.Outcome{State: gateway.DeliveryDelivered,
				Attempt: gateway.Attempt{At: time.Now(), Outcome: "delivered"}}); err != nil {
				b.Fatal(err)
			}
		}
	}
	delivered := float64(used()-before) / float64(b.N)
	b.ReportMetric(float64(distinct), "distinct-B")
	b.ReportMetric(bundleRatio, "bundle-packed")
	b.ReportMetric(oruRatio, "oru-packed")
	b.ReportMetric(waiting, "waiting-B/report")
	b.ReportMetric(delivered, "delivered-B/report")
	b.ReportMetric(waiting/float64(distinct), "waiting-ratio")
	b.ReportMetric(delivered/float64(distinct), "delivered-ratio")
}
