package main

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/hl7"
	"github.com/nhs-genomics/results-gateway/mappers/hl7v2"
	"github.com/nhs-genomics/results-gateway/mappers/labjson"
)

// BenchmarkMLLPIntake: ORU^R01 messages over 8 MLLP connections, each
// acknowledged AA only after durable storage on the embedded store.
// Target on this machine (2 cores): at least 500 messages/s.
func BenchmarkMLLPIntake(b *testing.B) {
	_, _, addr := startGatewayFull(b, nil)
	r, _ := labjson.Decode(fixtures.Report("trio-wgs-denovo-positive"))
	template := string(hl7v2.Encode(r, nil, "CTRL", hl7v2.Options{}))
	template = strings.Replace(template, "|RESULTS-GATEWAY|", "|LIMS|", 1)
	var seq atomic.Int64
	var wg sync.WaitGroup
	jobs := make(chan struct{})
	start := time.Now()
	b.ResetTimer()
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				b.Error(err)
				return
			}
			defer conn.Close()
			frames := hl7.NewFrameReader(conn, 1<<20)
			for range jobs {
				n := seq.Add(1)
				msg := strings.ReplaceAll(template, "NWGLH-2026-000101", fmt.Sprintf("MLLP-%d", n))
				msg = strings.Replace(msg, "|CTRL|", fmt.Sprintf("|C%d|", n), 1)
				hl7.WriteFrame(conn, []byte(msg))
				raw, err := frames.Next()
				if err != nil {
					b.Error(err)
					return
				}
				ack, _ := hl7.Parse(raw)
				if code, _, text := hl7.AckCode(ack); code != "AA" {
					b.Errorf("ACK %s %s", code, text)
					return
				}
			}
		}()
	}
	for i := 0; i < b.N; i++ {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
