package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nhs-genomics/results-gateway/fixtures"
)

// TestMetricsScraped: after reports arrive by JSON and over MLLP, some
// refused, and one is delivered, /metrics (operators only) says so in the
// Prometheus text format, read back with the official parser.
func TestMetricsScraped(t *testing.T) {
	base, _, addr := startGatewayFull(t, nil)
	if r := post(t, base, labToken, withID(t, fixtures.Report("negative-wgs"), "METRICS-1")); r.status != http.StatusAccepted {
		t.Fatalf("post: %d %s", r.status, r.body)
	}
	if r := post(t, base, labToken, []byte(`{"schemaVersion": 1}`)); r.status != http.StatusUnprocessableEntity && r.status != http.StatusBadRequest {
		t.Fatalf("a bad report: %d", r.status)
	}
	mllpSend(t, addr, fixtures.HL7Message("scottish-chi"), 1)
	mllpSend(t, addr, fixtures.HL7Message("no-patient"), 1)
	if r := get(t, base+"/metrics", trustToken); r.status != http.StatusForbidden {
		t.Fatalf("a trust read the metrics: %d", r.status)
	}

	value := func(families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
		f := families[name]
		if f == nil {
			return -1
		}
	metrics:
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue metrics
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
		return 0
	}
	var families map[string]*dto.MetricFamily
	for i := 0; ; i++ { // the filedrop delivery happens in the background
		r := get(t, base+"/metrics", operatorToken)
		if r.status != http.StatusOK {
			t.Fatalf("/metrics: %d %s", r.status, r.body)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		var err error
		if families, err = parser.TextToMetricFamilies(bytes.NewReader(r.body)); err != nil {
			t.Fatalf("not the Prometheus text format: %v", err)
		}
		if value(families, "results_gateway_delivery_attempts_total", map[string]string{"destination": "r0a-files", "outcome": "delivered"}) >= 1 {
			break
		}
		if i > 200 {
			t.Fatal("no delivered attempt was counted")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
	}{
		{"results_gateway_intake_total", map[string]string{"source": "json", "outcome": "accepted"}},
		{"results_gateway_intake_total", map[string]string{"source": "json", "outcome": "refused"}},
		{"results_gateway_intake_total", map[string]string{"source": "hl7v2-mllp", "outcome": "accepted"}},
		{"results_gateway_intake_total", map[string]string{"source": "hl7v2-mllp", "outcome": "refused"}},
		{"results_gateway_hl7_acks_total", map[string]string{"transport": "mllp", "code": "AA"}},
		{"results_gateway_hl7_acks_total", map[string]string{"transport": "mllp", "code": "AE"}},
		{"results_gateway_queue_deliveries", map[string]string{"destination": "r0a-files", "state": "delivered"}},
		{"results_gateway_build_info", nil},
		{"results_gateway_store_up", nil},
	} {
		if v := value(families, c.name, c.labels); v < 1 {
			t.Errorf("%s%v = %v, want at least 1", c.name, c.labels, v)
		}
	}
	for name, f := range families {
		if strings.HasPrefix(name, "results_gateway_") && f.GetHelp() == "" {
			t.Errorf("%s has no HELP text", name)
		}
	}
	if f := families["results_gateway_queue_oldest_waiting_seconds"]; f == nil || len(f.GetMetric()) == 0 {
		t.Error("no queue age per destination")
	}
	if families["results_gateway_delivery_attempt_seconds"].GetType() != dto.MetricType_HISTOGRAM {
		t.Error("attempt latency is not a histogram")
	}
}
