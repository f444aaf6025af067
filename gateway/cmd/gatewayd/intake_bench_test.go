package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/internal/receiver"
)

// trioWithPDF is the trio report carrying the lab's own 50 KB PDF, with
// %s in place of its id.
func trioWithPDF(b *testing.B) string {
	var m map[string]any
	if err := json.Unmarshal(fixtures.Report("trio-wgs-denovo-positive"), &m); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 5))
	pdf := []byte("%PDF-1.4\n")
	for len(pdf) < 50<<10 {
		pdf = append(pdf, byte(rng.Uint32()))
	}
	m["pdf"] = map[string]any{"contentType": "application/pdf", "data": pdf}
	m["id"] = "ID-PLACEHOLDER"
	body, _ := json.Marshal(m)
	return strings.Replace(string(body), "ID-PLACEHOLDER", "%s", 1)
}

func postBody(client *http.Client, base string, body []byte) (int, error) {
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/reports", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+labToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	// Read to the end, so the connection is kept for the next report as a
	// lab's client would keep it; closed unread, it is dropped and redialled.
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// BenchmarkIntakeOnRedis: trio reports with the lab's own 50 KB PDF posted
// by 8 clients to one gateway process on a Redis with AOF everysec (its
// own server), each delivered to a loopback EPR as it arrives (goal: at
// least 600 accepted/s on 2 cores). The load generator (this process, with
// the EPR) and the gateway report the cores they used, since all share the
// machine; the timer runs until the last report is delivered.
func BenchmarkIntakeOnRedis(b *testing.B) {
	recv := receiver.Start(b)
	port := strconv.Itoa(freePort(b))
	srv := redisServer(b, b.TempDir(), port)
	b.Cleanup(func() { srv.Kill(); srv.Wait() })
	dir := b.TempDir()
	// Four deliveries at a time to the EPR, as a deployment would give a
	// fast one. Delivery still trails acceptance while the intake handlers
	// have the cores: delivered/s says by how much.
	base, cmd := gatewayProcessWith(b, dir, faultConfigWorkers(b, dir, recv.URL, 4), "GATEWAY_REDIS_URL=redis://127.0.0.1:"+port+"/0",
		"GATEWAY_INDEX_KEY=test-index-key-0123456789", "GATEWAY_MAX_BODY_BYTES=2000000", "GATEWAY_REDIS_PDF_KEYS=true")
	template := trioWithPDF(b)
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i] = []byte(fmt.Sprintf(template, fmt.Sprintf("IR-%d", i)))
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	self0, gw0, redis0 := cpuSelf(), cpuOf(cmd.Process.Pid), cpuOf(srv.Pid)
	start := time.Now()
	b.ResetTimer()
	parallel(8, b.N, func(i int) {
		if code, err := postBody(client, base, bodies[i]); err != nil || code != http.StatusAccepted {
			b.Errorf("post: %d %v", code, err)
		}
	})
	accepting := time.Since(start)
	// Then until every report has reached the EPR, so the CPU figures count
	// each report's delivery too: a gateway that accepted faster than it
	// delivered would otherwise look cheaper than it is.
	for deadline := time.Now().Add(5 * time.Minute); len(recv.Arrivals()) < b.N; {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d delivered after 5 minutes", len(recv.Arrivals()), b.N)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.StopTimer()
	wall := time.Since(start)
	gatewayCPU := cpuOf(cmd.Process.Pid) - gw0
	redisCPU := cpuOf(srv.Pid) - redis0
	b.ReportMetric(float64(b.N)/accepting.Seconds(), "accepted/s")
	b.ReportMetric(float64(b.N)/wall.Seconds(), "delivered/s")
	b.ReportMetric((cpuSelf()-self0).Seconds()/wall.Seconds(), "loadgen-cores")
	b.ReportMetric(gatewayCPU.Seconds()/wall.Seconds(), "gateway-cores")
	b.ReportMetric(redisCPU.Seconds()/wall.Seconds(), "redis-cores")
	// The gateway's own CPU per report (accepted and delivered) moves far
	// less with a shared host's load than the rate does: the figure to
	// compare builds by.
	b.ReportMetric(float64(gatewayCPU.Microseconds())/1000/float64(b.N), "gateway-cpu-ms/report")
	// Redis's, with its AOF rewrites: on a shared 2-core box the two together
	// bound the rate.
	b.ReportMetric(float64(redisCPU.Microseconds())/1000/float64(b.N), "redis-cpu-ms/report")
}

// cpuSelf is the CPU time (user and system) this process has used.
func cpuSelf() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuOf is another process's CPU time, from /proc (zero where there is
// none), with that of its children: Redis forks for AOF rewrites, and
// their CPU is part of what storing the reports costs.
func cpuOf(pid int) time.Duration {
	own, reaped := procCPU(pid)
	total := own + reaped
	children, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, f := range strings.Fields(string(children)) {
		if child, err := strconv.Atoi(f); err == nil {
			c, _ := procCPU(child) // still running: not yet in the parent's reaped total
			total += c
		}
	}
	return total
}

// procCPU reads a process's own CPU time and that of its children it has
// waited for (user and system each) from /proc/pid/stat.
func procCPU(pid int) (own, reaped time.Duration) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(fields) < 15 {
		return 0, 0
	}
	ticks := func(i int) time.Duration {
		n, _ := strconv.ParseInt(fields[i], 10, 64)
		return time.Duration(n) * time.Second / 100 // clock ticks (USER_HZ = 100 on Linux)
	}
	return ticks(11) + ticks(12), ticks(13) + ticks(14)
}
