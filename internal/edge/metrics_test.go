package edge

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/labstack/echo/v4"
)

// TestMetricsLabels: requests are observed by route pattern, standard method and status
// class, whatever path or method a client sends, and an error a handler returns is
// observed with the status it was answered with.
func TestMetricsLabels(t *testing.T) {
	m := NewMetrics()
	e := New(slog.New(slog.DiscardHandler), nil)
	e.Use(m.Middleware())
	e.GET("/metrics", m.Handler())
	e.GET("/v1/things/:id", func(c echo.Context) error {
		if c.Param("id") == "missing" {
			return Errorf(http.StatusNotFound, "not-found", "no thing %s", c.Param("id"))
		}
		return c.NoContent(http.StatusNoContent)
	})
	for _, r := range []struct{ method, path string }{
		{"GET", "/v1/things/A-123"},
		{"GET", "/v1/things/B-456"},
		{"GET", "/v1/things/missing"},
		{"BREW", "/v1/things/C-789"},
		{"GET", "/no/such/D-000"},
	} {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(r.method, r.path, nil))
	}
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, f := range fams {
		if f.GetName() != "alliancehub_http_request_duration_seconds" {
			continue
		}
		for _, s := range f.GetMetric() {
			l := map[string]string{}
			for _, p := range s.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			counts[l["route"]+" "+l["method"]+" "+l["status"]] = s.GetHistogram().GetSampleCount()
		}
	}
	want := map[string]uint64{
		"/v1/things/:id GET 2xx":   2,
		"/v1/things/:id GET 4xx":   1, // the handler's error, as answered
		"/v1/things/:id other 4xx": 1, // any method a client invents is "other"
		"unmatched GET 4xx":        1,
	}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("requests by route, method, status (-want +got):\n%s", diff)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, id := range []string{"A-123", "B-456", "C-789", "D-000", "BREW", "/no/such"} {
		if strings.Contains(body, id) {
			t.Errorf("/metrics holds %q from a request", id)
		}
	}
}
