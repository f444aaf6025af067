package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/gateway/boltstore"
	"github.com/nhs-genomics/results-gateway/gateway/redisstore"
	"github.com/nhs-genomics/results-gateway/gateway/storetest"
	"github.com/nhs-genomics/results-gateway/internal/receiver"
)

// BenchmarkRSSWithQueue: the gateway process's resident memory while
// 100,000 deliveries wait (10,000 reports x 10 destinations, their EPR
// failing every attempt), on each store: the queue lives in the store, so
// memory must not grow with it (the goal: at most 200 MB). The
// report is the process's RSS and its high-water mark after its workers
// have been retrying for a while. Redis is a server of the benchmark's own.
func BenchmarkRSSWithQueue(b *testing.B) {
	reports := 10000
	if v, err := strconv.Atoi(os.Getenv("BENCH_REPORTS")); err == nil {
		reports = v
	}
	for _, storeName := range []string{"embedded", "redis"} {
		b.Run(storeName, func(b *testing.B) {
			for range b.N {
				benchRSS(b, storeName, reports)
			}
		})
	}
}

func benchRSS(b *testing.B, storeName string, reports int) {
	ctx := context.Background()
	dir := b.TempDir()
	var env []string
	var store gateway.Store
	var err error
	if storeName == "embedded" {
		store, err = boltstore.Open(filepath.Join(dir, "data"))
	} else {
		port := strconv.Itoa(freePort(b))
		srv := redisServer(b, b.TempDir(), port)
		b.Cleanup(func() { srv.Kill(); srv.Wait() })
		url := "redis://127.0.0.1:" + port + "/0"
		env = []string{"GATEWAY_REDIS_URL=" + url, "GATEWAY_INDEX_KEY=test-index-key-0123456789"}
		store, err = redisstore.Open(ctx, url, "rg", []byte("test-index-key-0123456789"))
	}
	if err != nil {
		b.Fatal(err)
	}
	bundle := []byte(`{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Repeat(`{"resource":{"resourceType":"Observation","status":"final"}},`, 300) + `{}]}`)
	var wg sync.WaitGroup
	jobs := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				id := fmt.Sprintf("Q-%06d", i)
				rec := storetest.Record(id, 1, "699X0")
				rec.Bundle = bundle
				now := time.Now()
				var ds []*gateway.Delivery
				for d := range 10 {
					dest := "epr-" + strconv.Itoa(d)
					ds = append(ds, &gateway.Delivery{ID: gateway.DeliveryID(id, 1, dest), ReportID: id, Version: 1, Destination: dest,
						PayloadOf: gateway.PayloadBundle, ContentType: "application/fhir+json", State: gateway.DeliveryPending,
						CreatedAt: now, UpdatedAt: now, NextAttemptAt: now})
				}
				if _, _, err := store.SaveReport(ctx, rec, ds); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for i := range reports {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	store.Close()

	recv := receiver.Start(b)
	recv.Set(receiver.Fail)
	var dests []string
	for d := range 10 {
		dests = append(dests, fmt.Sprintf(`{"name": "epr-%d", "trusts": ["R0A"], "kind": "fhir-rest", "format": "fhir-bundle", "workers": 2, "timeoutSeconds": 2, "config": {"baseUrl": %q}}`, d, recv.URL))
	}
	cfg := fmt.Sprintf(`{"addr": "127.0.0.1:0", "tokens": [{"name": "operator", "token": %q, "role": "operator"}],
  "destinations": [%s], "retry": {"baseSeconds": 0.05, "capSeconds": 0.2}}`, operatorToken, strings.Join(dests, ","))
	path := filepath.Join(dir, "rss-config.json")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	base, cmd := gatewayProcessWith(b, dir, path, env...)
	// Let every worker retry through the queue for a while (bounded).
	for i := 0; i < 400 && len(recv.Arrivals()) < 2000; i++ {
		time.Sleep(25 * time.Millisecond)
	}
	if r := get(b, base+"/v1/delivery-counts", operatorToken); r.status != 200 {
		b.Fatalf("counts: %d", r.status)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		b.Skipf("no /proc here: %v", err)
	}
	b.StopTimer()
	for _, line := range strings.Split(string(status), "\n") {
		for _, field := range []string{"VmRSS:", "VmHWM:"} {
			if v, ok := strings.CutPrefix(line, field); ok {
				kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
				b.ReportMetric(float64(kb)/1024, strings.ToLower(strings.TrimSuffix(field, ":"))+"-MB")
			}
		}
	}
	b.ReportMetric(float64(reports*10), "queued")
}
