// Package metrics exposes the gateway's Prometheus metrics, all named
// results_gateway_*: intake by source and outcome, HL7 acknowledgements,
// decoder warnings and unmapped fields, delivery attempts by destination
// and outcome with their latency, dead letters, the queue by destination
// and state (read from the store at each scrape), and build information.
package metrics

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"runtime/debug"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// Metrics is a gateway.Observer that keeps Prometheus metrics.
type Metrics struct {
	registry    *prometheus.Registry
	intake      *prometheus.CounterVec
	warnings    *prometheus.CounterVec
	unmapped    *prometheus.CounterVec
	acks        *prometheus.CounterVec
	attempts    *prometheus.CounterVec
	attemptTime *prometheus.HistogramVec
	deadLetters *prometheus.CounterVec
	pruned      *prometheus.CounterVec
}

var _ gateway.Observer = (*Metrics)(nil)

// New registers the metrics. queue is read at each scrape for the depth
// of each destination's queue by state; a store that cannot answer is
// counted in results_gateway_store_errors_total.
func New(queue gateway.Queue, log *slog.Logger) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		registry: reg,
		intake: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "results_gateway_intake_total",
			Help: "Inbound reports and messages by source (json, hl7v2-http, hl7v2-mllp) and outcome (accepted, resent, refused, unavailable)."},
			[]string{"source", "outcome"}),
		warnings: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "results_gateway_intake_warnings_total",
			Help: "Warnings kept on inbound reports (missing or odd fields that did not stop filing), by source."}, []string{"source"}),
		unmapped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "results_gateway_intake_unmapped_total",
			Help: "Fields of inbound messages listed as unmapped, by source."}, []string{"source"}),
		acks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "results_gateway_hl7_acks_total",
			Help: "HL7 v2 acknowledgements sent, by transport (http, mllp) and code (AA, AE, AR, CA, CE, CR)."}, []string{"transport", "code"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "results_gateway_delivery_attempts_total",
			Help: "Delivery attempts by destination and outcome (delivered, retry, permanent, gave-up)."}, []string{"destination", "outcome"}),
		attemptTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "results_gateway_delivery_attempt_seconds",
			Help: "How long one delivery attempt took, by destination.", Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10)},
			[]string{"destination"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "results_gateway_dead_letters_total",
			Help: "Deliveries dead-lettered (rejected by the receiver or given up after their attempts or age), by destination."},
			[]string{"destination"}),
		pruned: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "results_gateway_pruned_total",
			Help: "Items removed by the retention pruner, by class (messages, deliveredPayloads, reports, audit)."}, []string{"class"}),
	}
	version := "devel"
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		version = info.Main.Version
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "results_gateway_build_info",
		Help: "Always 1: the gateway's version."}, []string{"version"})
	build.WithLabelValues(version).Set(1)
	reg.MustRegister(m.intake, m.warnings, m.unmapped, m.acks, m.attempts, m.attemptTime, m.deadLetters, m.pruned, build,
		&queueCollector{queue: queue, log: log}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Received implements gateway.Observer.
func (m *Metrics) Received(source, outcome string, warnings, unmapped int) {
	m.intake.WithLabelValues(source, outcome).Inc()
	m.warnings.WithLabelValues(source).Add(float64(warnings))
	m.unmapped.WithLabelValues(source).Add(float64(unmapped))
}

// Acknowledged implements gateway.Observer.
func (m *Metrics) Acknowledged(transport, code string) { m.acks.WithLabelValues(transport, code).Inc() }

// Attempted implements gateway.Observer.
func (m *Metrics) Attempted(destination, outcome string, took time.Duration) {
	m.attempts.WithLabelValues(destination, outcome).Inc()
	m.attemptTime.WithLabelValues(destination).Observe(took.Seconds())
	if outcome == "permanent" || outcome == "gave-up" {
		m.deadLetters.WithLabelValues(destination).Inc()
	}
}

// Pruned implements gateway.Observer.
func (m *Metrics) Pruned(class string, n int) { m.pruned.WithLabelValues(class).Add(float64(n)) }

// queueCollector reads the queue's depth from the store at each scrape,
// so every replica reports the shared queue as it is.
type queueCollector struct {
	queue gateway.Queue
	log   *slog.Logger
}

var (
	queueDesc = prometheus.NewDesc("results_gateway_queue_deliveries",
		"Deliveries in the store by destination and state (pending, retrying, in-flight, delivered, dead, cancelled, superseded).",
		[]string{"destination", "state"}, nil)
	queueAgeDesc = prometheus.NewDesc("results_gateway_queue_oldest_waiting_seconds",
		"How long the oldest delivery waiting (pending, retrying or in flight) for each destination has waited.",
		[]string{"destination"}, nil)
	storeErrorsDesc = prometheus.NewDesc("results_gateway_store_up",
		"1 if the store answered the last scrape's queue query, 0 if it could not.", nil, nil)
)

func (q *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDesc
	ch <- queueAgeDesc
	ch <- storeErrorsDesc
}

func (q *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	counts, err := q.queue.Counts(ctx)
	if err != nil {
		q.log.Warn("metrics: the store could not count the queue", "error", err)
		ch <- prometheus.MustNewConstMetric(storeErrorsDesc, prometheus.GaugeValue, 0)
		return
	}
	oldest, err := q.queue.OldestWaiting(ctx, slices.Collect(maps.Keys(counts)))
	if err != nil {
		q.log.Warn("metrics: the store could not read the queue's age", "error", err)
		ch <- prometheus.MustNewConstMetric(storeErrorsDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(storeErrorsDesc, prometheus.GaugeValue, 1)
	now := time.Now()
	for dest, states := range counts {
		for state, n := range states {
			ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(n), dest, string(state))
		}
		age := 0.0
		if since, ok := oldest[dest]; ok {
			age = max(now.Sub(since).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(queueAgeDesc, prometheus.GaugeValue, age, dest)
	}
}
