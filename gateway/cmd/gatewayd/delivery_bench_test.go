package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// BenchmarkDeliveryVsPeer: the gateway delivering N queued reports to the
// third-party FHIR server with 2 workers, against the server's own ingest
// of the same N Bundles posted straight to it by 2 clients; each side gets
// a fresh server, warmed with the same 50 other Bundles first (a Node.js
// server is slow until its JIT has seen some requests). Reports both rates
// and gateway/direct (goal: at least 0.9), each the median over the
// benchmark's rounds (-benchtime 5x for five), in which the two sides take
// turns to go first. The reports are accepted while the destination is
// paused, so the timing is delivery alone: lease, attempt, record.
func BenchmarkDeliveryVsPeer(b *testing.B) {
	n := 300
	if v, err := strconv.Atoi(os.Getenv("BENCH_DELIVERIES")); err == nil {
		n = v
	}
	const workers = 2
	var gatewayRates, directRates, ratios []float64
	for round := range b.N {
		b.StopTimer()
		fhirBase, _ := peerFHIRServer(b)
		dir := b.TempDir()
		base, _ := gatewayProcessWith(b, dir, faultConfig(b, dir, fhirBase))
		if r := do(b, http.MethodPost, base+"/v1/destinations/epr/pause", operatorToken, "", nil); r.status != http.StatusOK {
			b.Fatalf("pause: %d %s", r.status, r.body)
		}
		ids := make([]string, n)
		parallel(8, n, func(i int) {
			ids[i] = fmt.Sprintf("DV-%d", i)
			if code, err := postVersion(http.DefaultClient, base, ids[i], 1); err != nil || code != http.StatusAccepted {
				b.Errorf("post: %d %v", code, err)
			}
		})
		bundles := make([][]byte, n)
		for i, id := range ids {
			bundles[i] = get(b, base+"/v1/reports/"+id+"/fhir", operatorToken).body
		}
		warm := make([][]byte, min(50, n)) // other reports: their own resources
		for i := range warm {
			warm[i] = bytes.ReplaceAll(bundles[i], []byte("DV-"), []byte("WU-"))
		}
		postAll(b, fhirBase, warm, workers)
		// The two sides take turns going first, so neither always meets the
		// machine as the other left it.
		var direct float64
		if round%2 == 1 {
			direct = peerRate(b, warm, bundles, workers)
		}
		b.StartTimer()

		start := time.Now()
		if r := do(b, http.MethodPost, base+"/v1/destinations/epr/resume", operatorToken, "", nil); r.status != http.StatusOK {
			b.Fatalf("resume: %d", r.status)
		}
		for i := 0; delivered(b, base) < n; i++ {
			if i > 30000 {
				b.Fatalf("only %d of %d delivered", delivered(b, base), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
		gateway := float64(n) / time.Since(start).Seconds()

		b.StopTimer()
		if round%2 == 0 {
			direct = peerRate(b, warm, bundles, workers)
		}
		b.StartTimer()
		gatewayRates, directRates, ratios = append(gatewayRates, gateway), append(directRates, direct), append(ratios, gateway/direct)
	}
	b.ReportMetric(median(gatewayRates), "gateway-bundles/s")
	b.ReportMetric(median(directRates), "direct-bundles/s")
	b.ReportMetric(median(ratios), "gateway/direct")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// peerRate posts the Bundles to a fresh third-party FHIR server, warmed
// with warm first, with the given concurrency and returns Bundles per
// second.
func peerRate(b *testing.B, warm, bundles [][]byte, concurrency int) float64 {
	fhirBase, _ := peerFHIRServer(b)
	postAll(b, fhirBase, warm, concurrency)
	start := time.Now()
	postAll(b, fhirBase, bundles, concurrency)
	return float64(len(bundles)) / time.Since(start).Seconds()
}

// postAll posts each Bundle to the FHIR server with the given concurrency.
func postAll(b *testing.B, fhirBase string, bundles [][]byte, concurrency int) {
	client := &http.Client{}
	parallel(concurrency, len(bundles), func(i int) {
		resp, err := client.Post(fhirBase, "application/fhir+json", bytes.NewReader(bundles[i]))
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Errorf("direct post: %v %v", resp, err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	})
}

// parallel runs do(0..n-1) on k goroutines.
func parallel(k, n int, do func(i int)) {
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				do(i)
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}

func delivered(b *testing.B, base string) int {
	var c struct {
		Counts map[string]map[string]int `json:"counts"`
	}
	json.Unmarshal(get(b, base+"/v1/delivery-counts", operatorToken).body, &c)
	return c.Counts["epr"]["delivered"]
}
