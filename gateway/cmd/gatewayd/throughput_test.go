package main

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/internal/receiver"
)

// BenchmarkAcceptedToDelivered measures end-to-end throughput on a Redis with
// appendonly yes and appendfsync everysec:
// reports posted by parallel clients until all reached a local receiver,
// with one and with two gateway processes sharing the Redis.
func BenchmarkAcceptedToDelivered(b *testing.B) {
	for _, processes := range []int{1, 2} {
		b.Run(strconv.Itoa(processes)+"-processes", func(b *testing.B) {
			recv := receiver.Start(b)
			port := strconv.Itoa(freePort(b))
			redis := redisServer(b, b.TempDir(), port)
			b.Cleanup(func() { redis.Kill(); redis.Wait() })
			env := []string{"GATEWAY_REDIS_URL=redis://127.0.0.1:" + port + "/0", "GATEWAY_INDEX_KEY=test-index-key-0123456789", "GATEWAY_REDIS_PDF_KEYS=true"}
			var bases []string
			for p := 0; p < processes; p++ {
				dir := b.TempDir()
				base, _ := gatewayProcessWith(b, dir, faultConfig(b, dir, recv.URL), env...)
				bases = append(bases, base)
			}
			var seq atomic.Int64
			start := time.Now()
			b.ResetTimer()
			var wg sync.WaitGroup
			jobs := make(chan int)
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					client := &http.Client{}
					for range jobs {
						n := seq.Add(1)
						code, err := postVersion(client, bases[int(n)%len(bases)], fmt.Sprintf("TP-%d", n), 1)
						if err != nil || code != http.StatusAccepted {
							b.Errorf("post: %d %v", code, err)
						}
					}
				}(w)
			}
			for i := 0; i < b.N; i++ {
				jobs <- i
			}
			close(jobs)
			wg.Wait()
			accepted := time.Since(start)
			for i := 0; i < 6000 && len(recv.Arrivals()) < b.N; i++ { // bounded wait
				time.Sleep(10 * time.Millisecond)
			}
			b.StopTimer()
			if got := len(recv.Arrivals()); got < b.N {
				b.Fatalf("%d of %d delivered", got, b.N)
			}
			b.ReportMetric(float64(b.N)/accepted.Seconds(), "accepted/s")
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "delivered/s")
		})
	}
}

// BenchmarkAcceptLatencyAtHalfRate posts trio reports with the lab's own
// 50 KB PDF (as BenchmarkIntakeOnRedis does) at 300 reports/s, half the
// 600/s target, to one process on an AOF-everysec Redis and reports the p50
// and p99 time to 202. b.N is the number of reports.
func BenchmarkAcceptLatencyAtHalfRate(b *testing.B) {
	recv := receiver.Start(b)
	port := strconv.Itoa(freePort(b))
	redis := redisServer(b, b.TempDir(), port)
	b.Cleanup(func() { redis.Kill(); redis.Wait() })
	dir := b.TempDir()
	base, _ := gatewayProcessWith(b, dir, faultConfig(b, dir, recv.URL), "GATEWAY_REDIS_URL=redis://127.0.0.1:"+port+"/0", "GATEWAY_INDEX_KEY=test-index-key-0123456789", "GATEWAY_MAX_BODY_BYTES=2000000", "GATEWAY_REDIS_PDF_KEYS=true")
	template := trioWithPDF(b)
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i] = []byte(fmt.Sprintf(template, fmt.Sprintf("LAT-%d", i)))
	}
	// As many kept connections as a lab's client would have in flight.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	latencies := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / 300)
	defer tick.Stop()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		<-tick.C
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			start := time.Now()
			code, err := postBody(client, base, bodies[i])
			latencies[i] = time.Since(start)
			if err != nil || code != http.StatusAccepted {
				b.Errorf("post: %d %v", code, err)
			}
		}(i)
	}
	wg.Wait()
	b.StopTimer()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
}
