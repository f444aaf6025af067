package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/gateway/boltstore"
	"github.com/nhs-genomics/results-gateway/gateway/redisstore"
	"github.com/nhs-genomics/results-gateway/mappers/fhirr4"
	"github.com/nhs-genomics/results-gateway/mappers/labjson"
)

// smallPDF stands in for rendering while seeding: the benchmark measures reads.
type smallPDF struct{}

func (smallPDF) Render(*gateway.Report) ([]byte, []gateway.Warning, error) {
	return []byte("%PDF-1.4 seeded\n%%EOF\n"), nil, nil
}

// validNHSNumbers returns n distinct valid numbers from the 999 range.
func validNHSNumbers(n int) []string {
	var out []string
	for base := 999000000; len(out) < n; base++ {
		s := strconv.Itoa(base)
		sum := 0
		for i := 0; i < 9; i++ {
			sum += int(s[i]-'0') * (10 - i)
		}
		c := 11 - sum%11
		if c == 11 {
			c = 0
		}
		if c != 10 {
			out = append(out, s+strconv.Itoa(c))
		}
	}
	return out
}

// BenchmarkPull100k seeds a store with many reports (BENCH_REPORTS, default
// 100 000) across 10 000 patients, then reads DiagnosticReports by id, the
// lab's Organization (held by every report: shared-read) and searches by
// NHS number through the HTTP API, reporting p50 and p99.
// Targets (2 cores): read p99 <= 5 ms, search p99 <= 20 ms, on both stores.
func BenchmarkPull100k(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("BENCH_REPORTS")); err == nil {
		n = v
	}
	for _, store := range []string{"embedded", "redis"} {
		b.Run(store, func(b *testing.B) { benchPull(b, store, n) })
	}
}

func benchPull(b *testing.B, storeName string, n int) {
	dir := b.TempDir()
	prefix := fmt.Sprintf("bench-pull-%d", time.Now().UnixNano())
	var store gateway.Store
	var err error
	if storeName == "embedded" {
		store, err = boltstore.Open(filepath.Join(dir, "data"))
	} else {
		store, err = redisstore.Open(context.Background(), testRedisURL(), prefix, []byte("test-index-key-0123456789"))
	}
	if err != nil {
		b.Fatal(err)
	}
	mapper, _ := fhirr4.New("")
	intake := &gateway.Intake{Reports: store, Router: router{"R0A": {{Destination: "none", Format: gateway.FormatPDF}}},
		Bundles: mapper, Renderer: smallPDF{}, Now: time.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	template, _ := labjson.Decode(fixtures.Report("vus-inconclusive"))
	patients := validNHSNumbers(10000)
	var wg sync.WaitGroup
	jobs := make(chan int)
	start := time.Now()
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				r := *template
				r.ID = fmt.Sprintf("B-%06d", i)
				r.Patient.NHSNumber = patients[i%len(patients)]
				if _, _, err := intake.Accept(context.Background(), gateway.Principal{Role: gateway.RoleLab, ODSCode: "699X0"}, &r, gateway.Submission{Source: "json"}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	store.Close()
	b.Logf("%s: seeded %d reports in %s", storeName, n, time.Since(start).Round(time.Second))

	env := map[string]string{"GATEWAY_DATA": filepath.Join(dir, "data"), "GATEWAY_MLLP_ADDR": "-"}
	if storeName == "redis" {
		env["GATEWAY_REDIS_URL"], env["GATEWAY_REDIS_PREFIX"], env["GATEWAY_INDEX_KEY"] = testRedisURL(), prefix, "test-index-key-0123456789"
	}
	cfgPath := writeConfig(b, dir)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-config", cfgPath}, func(k string) string { return env[k] }, pw, io.Discard)
		pw.Close()
	}()
	defer func() { cancel(); <-done }()
	base := "http://" + waitListening(b, pr)

	client := &http.Client{}
	timed := func(url string) time.Duration {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+trustToken)
		begin := time.Now()
		resp, err := client.Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("GET %s: %v %v", url, resp, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(begin)
	}
	// Find DiagnosticReport ids to read.
	var ids []string
	for i := 0; len(ids) < 200; i++ {
		resp, _ := http.NewRequest(http.MethodGet, base+"/fhir/DiagnosticReport?identifier="+fmt.Sprintf("B-%06d", rand.IntN(n)), nil)
		resp.Header.Set("Authorization", "Bearer "+trustToken)
		r, err := client.Do(resp)
		if err != nil {
			b.Fatal(err)
		}
		var s searchset
		json.NewDecoder(r.Body).Decode(&s)
		r.Body.Close()
		if len(s.Entry) == 1 {
			ids = append(ids, s.Entry[0].Resource["id"].(string))
		}
	}
	// The lab's Organization is in every report: an EPR resolving a
	// DiagnosticReport's performer reads it.
	org := performerOf(b, client, base, ids[0])
	b.ResetTimer()
	var reads, searches, orgReads []time.Duration
	for i := 0; i < b.N; i++ {
		reads = append(reads, timed(base+"/fhir/DiagnosticReport/"+ids[i%len(ids)]))
		orgReads = append(orgReads, timed(base+"/fhir/"+org))
		q := "https://fhir.nhs.uk/Id/nhs-number|" + patients[rand.IntN(len(patients))]
		searches = append(searches, timed(base+"/fhir/DiagnosticReport?patient.identifier="+url.QueryEscape(q)))
	}
	b.StopTimer()
	pct := func(d []time.Duration, p int) float64 {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return float64(d[len(d)*p/100].Microseconds()) / 1000
	}
	b.ReportMetric(pct(reads, 50), "read-p50-ms")
	b.ReportMetric(pct(reads, 99), "read-p99-ms")
	b.ReportMetric(pct(orgReads, 50), "shared-read-p50-ms")
	b.ReportMetric(pct(orgReads, 99), "shared-read-p99-ms")
	b.ReportMetric(pct(searches, 50), "search-p50-ms")
	b.ReportMetric(pct(searches, 99), "search-p99-ms")
	if storeName == "redis" {
		cleanupPrefix(prefix)
	}
}

// performerOf is the Organization reference of a DiagnosticReport's first
// performer (the lab).
func performerOf(b *testing.B, client *http.Client, base, reportID string) string {
	req, _ := http.NewRequest(http.MethodGet, base+"/fhir/DiagnosticReport/"+reportID, nil)
	req.Header.Set("Authorization", "Bearer "+trustToken)
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var dr struct {
		Performer []struct{ Reference string } `json:"performer"`
	}
	json.NewDecoder(resp.Body).Decode(&dr)
	if len(dr.Performer) == 0 || !strings.HasPrefix(dr.Performer[0].Reference, "Organization/") {
		b.Fatalf("DiagnosticReport/%s has no Organization performer: %+v", reportID, dr)
	}
	return dr.Performer[0].Reference
}
