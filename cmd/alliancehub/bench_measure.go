package main

// Measuring instruments of alliancehub bench: the hub's own request time from its
// /metrics, latency percentiles, Jain's fairness index, heap peaks and CPU time.

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alliancehub/alliancehub/internal/cputime"
	"github.com/prometheus/common/expfmt"
)

// hubTime is the hub's own account of the requests it answered: the sum and count of
// alliancehub_http_request_duration_seconds over every route but the probes and
// /metrics itself, by route.
type hubTime struct {
	seconds  float64
	requests uint64
	byRoute  map[string]float64
}

// notHubWork are routes whose time is not work done for a client of the scenario.
var notHubWork = map[string]bool{"/metrics": true, "/healthz": true, "/readyz": true}

// scrapeHubTime reads the hub's request histogram from GET /metrics.
func scrapeHubTime(ctx context.Context, client *http.Client, hubURL string) (hubTime, error) {
	t := hubTime{byRoute: map[string]float64{}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, hubURL+"/metrics", nil)
	if err != nil {
		return t, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return t, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return t, fmt.Errorf("GET %s/metrics: %s", hubURL, resp.Status)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return t, fmt.Errorf("GET %s/metrics: %w", hubURL, err)
	}
	fam, ok := fams["alliancehub_http_request_duration_seconds"]
	if !ok {
		return t, fmt.Errorf("GET %s/metrics: no alliancehub_http_request_duration_seconds", hubURL)
	}
	for _, m := range fam.GetMetric() {
		route := ""
		for _, l := range m.GetLabel() {
			if l.GetName() == "route" {
				route = l.GetValue()
			}
		}
		if notHubWork[route] {
			continue
		}
		h := m.GetHistogram()
		t.seconds += h.GetSampleSum()
		t.requests += h.GetSampleCount()
		t.byRoute[route] += h.GetSampleSum()
	}
	return t, nil
}

// settledHubTime scrapes until two scrapes agree on the number of requests: the hub
// observes a request's duration after its answer is sent, so the last request of a run
// may be counted a moment after its client has the answer.
func settledHubTime(ctx context.Context, client *http.Client, hubURL string) (hubTime, error) {
	prev, err := scrapeHubTime(ctx, client, hubURL)
	for i := 0; err == nil && i < 20; i++ {
		time.Sleep(10 * time.Millisecond)
		var cur hubTime
		if cur, err = scrapeHubTime(ctx, client, hubURL); err == nil && cur.requests == prev.requests {
			return cur, nil
		}
		prev = cur
	}
	return prev, err
}

// sub is the hub time spent between two scrapes.
func (t hubTime) sub(before hubTime) hubTime {
	d := hubTime{seconds: t.seconds - before.seconds, requests: t.requests - before.requests, byRoute: map[string]float64{}}
	for r, s := range t.byRoute {
		if v := s - before.byRoute[r]; v > 0 {
			d.byRoute[r] = v
		}
	}
	return d
}

// routes lists the routes that took time, largest first, as "route 12.3 ms".
func (t hubTime) routes() string {
	type rt struct {
		route string
		s     float64
	}
	var list []rt
	for r, s := range t.byRoute {
		list = append(list, rt{r, s})
	}
	slices.SortFunc(list, func(a, b rt) int { return int(math.Copysign(1, b.s-a.s)) })
	out := ""
	for i, x := range list {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%s %.1f ms", x.route, x.s*1000)
	}
	return out
}

// percentile is the p-th percentile (0 to 100) of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// jain is Jain's fairness index of xs: 1 when every x is equal, 1/n when one takes all.
func jain(xs []float64) float64 {
	var sum, sq float64
	for _, x := range xs {
		sum += x
		sq += x * x
	}
	if sq == 0 {
		return 0
	}
	return sum * sum / (float64(len(xs)) * sq)
}

// heapSampler follows the live heap (as of each garbage collection) while it runs, and
// keeps the peak. It makes the collector run after every 5% of growth, so that the live
// heap is seen often; what it measures is therefore not also timed. The hub under test
// runs in this process and the client side holds only a small buffer, so the growth is
// the hub's.
type heapSampler struct {
	base    uint64
	peak    atomic.Uint64
	stop    chan struct{}
	done    sync.WaitGroup
	restore int
}

const heapLive = "/gc/heap/live:bytes"

func readHeapLive() uint64 {
	s := []metrics.Sample{{Name: heapLive}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// startHeapSampler collects garbage, takes the live heap as the base and samples it
// every millisecond until stopped.
func startHeapSampler() *heapSampler {
	h := &heapSampler{stop: make(chan struct{}), restore: debug.SetGCPercent(5)}
	runtime.GC()
	h.base = readHeapLive()
	h.peak.Store(h.base)
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-tick.C:
				if v := readHeapLive(); v > h.peak.Load() {
					h.peak.Store(v)
				}
			}
		}
	}()
	return h
}

// growth stops the sampler and returns the peak's growth over the base.
func (h *heapSampler) growth() uint64 {
	close(h.stop)
	h.done.Wait()
	debug.SetGCPercent(h.restore)
	return h.peak.Load() - min(h.base, h.peak.Load())
}

// liveHeap is the heap in use after two collections: what the process holds on to.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// verifyRate is a measured Ed25519 verification rate: per second of wall time, and per
// second of CPU time this process used (the second does not fall when other processes
// take the CPUs; 0 where the system cannot tell).
type verifyRate struct {
	wall, cpu float64
}

// verifyRates measures Ed25519 verification of msg (a real signed record's signing
// input) for d on one goroutine, then for d on GOMAXPROCS goroutines at once.
func verifyRates(pub ed25519.PublicKey, msg, sig []byte, d time.Duration) (oneCore, allCores verifyRate) {
	loop := func(stop *atomic.Bool) int {
		n := 0
		for !stop.Load() {
			for range 64 {
				if !ed25519.Verify(pub, msg, sig) {
					panic("bench: a signature made here does not verify")
				}
			}
			n += 64
		}
		return n
	}
	run := func(workers int) verifyRate {
		var stop atomic.Bool
		var total atomic.Int64
		var wg sync.WaitGroup
		cpu0, ok := cputime.Process()
		start := time.Now()
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				total.Add(int64(loop(&stop)))
			}()
		}
		time.Sleep(d)
		stop.Store(true)
		wg.Wait()
		r := verifyRate{wall: float64(total.Load()) / time.Since(start).Seconds()}
		if cpu1, _ := cputime.Process(); ok && cpu1 > cpu0 {
			r.cpu = float64(total.Load()) / (cpu1 - cpu0).Seconds()
		}
		return r
	}
	return run(1), run(runtime.GOMAXPROCS(0))
}
