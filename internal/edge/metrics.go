package edge

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is one server's Prometheus registry and its HTTP request histogram. Each hub
// and node has its own registry, never the global default, so a test process can run
// many servers and each /metrics answers for its own server only.
type Metrics struct {
	Registry *prometheus.Registry
	requests *prometheus.HistogramVec
}

// NewMetrics makes a registry holding the Go runtime and process collectors and the
// request histogram alliancehub_http_request_duration_seconds.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "alliancehub_http_request_duration_seconds",
			Help: "Time to answer an HTTP request, by route pattern, method and status class.",
			// Up to a minute: a long poll of the change feed waits up to 55 s.
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route", "method", "status"}),
	}
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests,
	)
	return m
}

// Middleware observes every request's latency. Labels are bounded: the route is the
// pattern the router matched ("/v1/roster/:id"), never the raw path, so record ids and
// probes of unknown paths cannot grow the label set; the method is one of the standard
// ones or "other"; the status is its class ("2xx").
func (m *Metrics) Middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			if err := next(c); err != nil {
				c.Error(err) // render it now, so the status observed is the one sent
			}
			m.requests.WithLabelValues(Route(c), method(c.Request().Method), statusClass(c.Response().Status)).
				Observe(time.Since(start).Seconds())
			return nil
		}
	}
}

// Handler serves the registry in the Prometheus text format. It needs no token
// (CONTRACT.md): what it shows is counts and times, never a record or a key. A collector
// that fails (a store being closed) leaves its metrics out rather than failing the
// scrape, so the others still arrive.
func (m *Metrics) Handler() echo.HandlerFunc {
	return echo.WrapHandler(promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
}

// Route is the route pattern the request matched, or "unmatched" when none did.
func Route(c echo.Context) string {
	if p := c.Path(); p != "" {
		return p
	}
	return "unmatched"
}

func method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other" // a client may send any token as a method; it must not become a label
}

func statusClass(code int) string {
	if code < 100 || code > 599 {
		return "other"
	}
	return strconv.Itoa(code/100) + "xx"
}
