package main

import (
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/fixtures"
)

// BenchmarkIntake measures whole intake, POST to 202 (validate, render, map,
// fsynced store), on the embedded store over loopback with parallel clients.
// Target on this machine (2 cores): ≥ 300 reports/s.
func BenchmarkIntake(b *testing.B) {
	base := startGateway(b)
	template := fixtures.Report("trio-wgs-denovo-positive")
	var seq atomic.Int64
	b.SetParallelism(8) // labs post concurrently; bbolt batches their fsyncs
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		client := &http.Client{}
		for pb.Next() {
			body := withID(b, template, fmt.Sprintf("BENCH-%d", seq.Add(1)))
			req, _ := http.NewRequest(http.MethodPost, base+"/v1/reports", bytesReader(body))
			req.Header.Set("Authorization", "Bearer "+labToken)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body) // read to the end, so the connection is kept
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "reports/s")
}
