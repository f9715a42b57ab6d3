package hubtest

import (
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Metrics is a scraped /metrics answer, by metric family name.
type Metrics map[string]*dto.MetricFamily

// Scrape reads baseURL's GET /metrics without a token, requires 200 in the Prometheus
// text format, and parses it.
func Scrape(t testing.TB, baseURL string) Metrics {
	t.Helper()
	resp, body := Do(t, http.MethodGet, baseURL+"/metrics", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics without a token: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET /metrics: Content-Type %q, want the text format", ct)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return fams
}

// Value sums the series of the family name whose labels match the given name, value
// pairs (a label a series lacks matches ""): a counter's or gauge's value, a histogram's
// sample count. ok is false when no series matches.
func (m Metrics) Value(name string, labels ...string) (v float64, ok bool) {
	f := m[name]
	if f == nil {
		return 0, false
	}
	for _, s := range f.GetMetric() {
		if !hasLabels(s, labels) {
			continue
		}
		ok = true
		switch {
		case s.Counter != nil:
			v += s.Counter.GetValue()
		case s.Gauge != nil:
			v += s.Gauge.GetValue()
		case s.Histogram != nil:
			v += float64(s.Histogram.GetSampleCount())
		case s.Untyped != nil:
			v += s.Untyped.GetValue()
		}
	}
	return v, ok
}

// LabelValues lists every label value of every series, as "family label=value".
func (m Metrics) LabelValues() []string {
	var out []string
	for name, f := range m {
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				out = append(out, name+" "+l.GetName()+"="+l.GetValue())
			}
		}
	}
	return out
}

func hasLabels(s *dto.Metric, pairs []string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		got := ""
		for _, l := range s.GetLabel() {
			if l.GetName() == pairs[i] {
				got = l.GetValue()
			}
		}
		if got != pairs[i+1] {
			return false
		}
	}
	return true
}
