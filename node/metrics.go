package node

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/prometheus/client_golang/prometheus"
)

// The node's Prometheus metrics (docs/PROTOCOL.md section 11, Metrics). Sync runs and
// what they moved are counters, counted once per run; the node's position (outbox,
// cursors, schedule, store) is read from its status when Prometheus scrapes, the same
// numbers GET /v1/sync/status shows.

// Sync run results, the label result of alliancehub_node_sync_runs_total.
const (
	runSuccess = "success"
	runFailure = "failure"
	runStopped = "stopped" // the node shut down during the run: neither (section 9)
)

// How the hub answered one request of the node, the label outcome of
// alliancehub_node_pushes_total and alliancehub_node_pulls_total.
const (
	reqOK          = "ok"          // 200
	reqRefused     = "refused"     // a 4xx other than 429: not taken as it is (a 408 is tried again)
	reqThrottled   = "throttled"   // 429: the hub is busy; tried again after its Retry-After
	reqFailed      = "failed"      // a 5xx, or an answer the node cannot read: the hub's failure
	reqUnreachable = "unreachable" // no answer: the network, a timeout, a connection cut
	reqStopped     = "stopped"     // the node shut down during the request
)

var reqOutcomes = []string{reqOK, reqRefused, reqThrottled, reqFailed, reqUnreachable, reqStopped}

type nodeMetrics struct {
	*edge.Metrics
	runs     *prometheus.CounterVec
	duration prometheus.Histogram
	pushed   *prometheus.CounterVec
	pulled   prometheus.Counter
	pushes   *prometheus.CounterVec // push requests (batches, each attempt) by outcome
	pulls    *prometheus.CounterVec // change-feed requests (pages, each attempt) by outcome
}

var pushOutcomes = []wire.Outcome{wire.Accepted, wire.Duplicate, wire.Stale, wire.Conflict, wire.Rejected}

func newNodeMetrics(n *Node, dataDir string) *nodeMetrics {
	m := &nodeMetrics{
		Metrics: edge.NewMetrics(),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alliancehub_node_sync_runs_total",
			Help: "Sync runs by result: success, failure, stopped (the node shut down during the run).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "alliancehub_node_sync_run_duration_seconds",
			Help: "How long a sync run took, push, pull and backstop together.",
			// Up to the run's default 10-minute retry budget.
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
		}),
		pushed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alliancehub_node_records_pushed_total",
			Help: "Records pushed to the hub, by the outcome the hub answered.",
		}, []string{"outcome"}),
		pulled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "alliancehub_node_changes_pulled_total",
			Help: "Changes pulled from the hub's change feed into the replica.",
		}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alliancehub_node_pushes_total",
			Help: "Push requests to the hub (one per batch and attempt) by how the hub answered: ok, refused, throttled, failed, unreachable, stopped.",
		}, []string{"outcome"}),
		pulls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alliancehub_node_pulls_total",
			Help: "Change-feed requests to the hub (one per page and attempt) by how the hub answered: ok, refused, throttled, failed, unreachable, stopped.",
		}, []string{"outcome"}),
	}
	for _, r := range []string{runSuccess, runFailure, runStopped} {
		m.runs.WithLabelValues(r)
	}
	for _, o := range pushOutcomes {
		m.pushed.WithLabelValues(string(o))
	}
	for _, o := range reqOutcomes {
		m.pushes.WithLabelValues(o)
		m.pulls.WithLabelValues(o)
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "alliancehub_node_info",
		Help:        "Always 1; program is the program this node serves.",
		ConstLabels: prometheus.Labels{"program": n.program.Code},
	})
	info.Set(1)
	m.Registry.MustRegister(m.runs, m.duration, m.pushed, m.pulled, m.pushes, m.pulls, info,
		&nodeCollector{n: n, path: filepath.Join(dataDir, journal.FileName)})
	return m
}

// observeRun reports a finished sync run: one log line with every count, and the
// metrics. stopped: the run ended because the node is shutting down.
func (n *Node) observeRun(run RunStatus, stopped bool) {
	result := runSuccess
	switch {
	case run.Result.Error == "":
	case stopped:
		result = runStopped
	default:
		result = runFailure
	}
	r, took := run.Result, run.FinishedAt.Sub(run.StartedAt)
	attrs := []any{"result", result, "duration_ms", took.Milliseconds(),
		"pushed", r.Pushed, "accepted", r.Accepted, "duplicate", r.Duplicate, "stale", r.Stale,
		"conflict", r.Conflict, "rejected", r.Rejected, "pulled", r.Pulled}
	if b := run.Backstop; b != nil {
		attrs = append(attrs, "backstop_repushed", b.Repushed, "backstop_hub_only", len(b.HubOnly),
			"backstop_replica_fetched", b.ReplicaFetched, "backstop_replica_rebuilt", b.ReplicaRebuilt)
	}
	level := slog.LevelInfo
	if r.Error != "" {
		attrs = append(attrs, "error", r.Error)
	}
	if result == runFailure {
		level = slog.LevelWarn
	}
	n.log.Log(context.Background(), level, "sync run", attrs...)
	n.metrics.syncRun(result, took, r)
}

func (m *nodeMetrics) syncRun(result string, took time.Duration, r wire.SyncResult) {
	m.runs.WithLabelValues(result).Inc()
	m.duration.Observe(took.Seconds())
	for o, k := range map[wire.Outcome]int{wire.Accepted: r.Accepted, wire.Duplicate: r.Duplicate,
		wire.Stale: r.Stale, wire.Conflict: r.Conflict, wire.Rejected: r.Rejected} {
		m.pushed.WithLabelValues(string(o)).Add(float64(k))
	}
	m.pulled.Add(float64(r.Pulled))
}

// hubRequest counts one push or change-feed request (what, as withRetry names it) by the
// hub's answer; other requests (keys, digests) are not counted here.
func (m *nodeMetrics) hubRequest(what string, err error, stopped bool) {
	var vec *prometheus.CounterVec
	switch what {
	case "push":
		vec = m.pushes
	case "pull":
		vec = m.pulls
	default:
		return
	}
	vec.WithLabelValues(requestOutcome(err, stopped)).Inc()
}

func requestOutcome(err error, stopped bool) string {
	var he *HubError
	switch {
	case err == nil:
		return reqOK
	case errors.As(err, &he) && he.Status == http.StatusTooManyRequests:
		return reqThrottled
	case errors.As(err, &he) && he.Status >= 500, errors.Is(err, errBadAnswer):
		return reqFailed
	case errors.As(err, &he):
		return reqRefused
	case stopped:
		return reqStopped
	}
	return reqUnreachable
}

// nodeCollector reads the node's status and store when scraped.
type nodeCollector struct {
	n    *Node
	path string // the journal file
}

var (
	descOutbox = prometheus.NewDesc("alliancehub_node_outbox",
		"Revisions written that the hub has not acknowledged yet (GET /v1/sync/status outbox).", nil, nil)
	descPushCheckpoint = prometheus.NewDesc("alliancehub_node_push_checkpoint",
		"The last local sequence number the hub acknowledged (the push cursor).", nil, nil)
	descLastSuccess = prometheus.NewDesc("alliancehub_node_last_success_timestamp_seconds",
		"When the last successful sync run finished (unix time); absent before the first.", nil, nil)
	descLastPull = prometheus.NewDesc("alliancehub_node_last_pull_timestamp_seconds",
		"When the last pull reached the hub's head (unix time); absent before the first.", nil, nil)
	descNextRun = prometheus.NewDesc("alliancehub_node_next_run_timestamp_seconds",
		"When the next scheduled sync run is due (unix time); absent when none is scheduled.", nil, nil)
	descAppliedSeq = prometheus.NewDesc("alliancehub_node_replica_applied_seq",
		"The last hub sequence number the replica of the national roster applied.", nil, nil)
	descHubHeadSeq = prometheus.NewDesc("alliancehub_node_hub_head_seq",
		"The hub's head sequence number at the last pull.", nil, nil)
	descNodeRecords = prometheus.NewDesc("alliancehub_node_store_records",
		"Records the node holds, by kind: alliance (deleted drafts included), report.",
		[]string{"kind"}, nil)
	descNodeRevisions = prometheus.NewDesc("alliancehub_node_store_revisions",
		"Revisions the node has signed (its last local sequence number).", nil, nil)
	descNodeBytes = prometheus.NewDesc("alliancehub_node_store_bytes",
		"Size of the node's journal file on disk.", nil, nil)
	descNodeConflicts = prometheus.NewDesc("alliancehub_node_conflicts_open",
		"This program's records with competing branches in the replica, acknowledged or not: what GET /v1/conflicts lists, as of the last pull.", nil, nil)
	descNodeKeyNotAfter = prometheus.NewDesc("alliancehub_node_key_not_after_timestamp_seconds",
		"When the window of the key this node signs with ends (not_after, unix time), as the hub's keys document of the last pull gives it; absent for a key with no end, and until a pull lists the key.",
		[]string{"kid"}, nil)
)

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOutbox, descPushCheckpoint, descLastSuccess, descLastPull,
		descNextRun, descAppliedSeq, descHubHeadSeq, descNodeRecords, descNodeRevisions, descNodeBytes,
		descNodeConflicts, descNodeKeyNotAfter} {
		ch <- d
	}
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	st, err := c.n.Status()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descOutbox, err)
		return
	}
	gauge(descOutbox, float64(st.Outbox))
	gauge(descPushCheckpoint, float64(st.Cursor))
	gauge(descNodeRevisions, float64(st.LastSeq))
	gauge(descAppliedSeq, float64(st.PullCheckpoint))
	gauge(descHubHeadSeq, float64(st.HubHeadSeq))
	if st.LastSuccessAt != nil {
		gauge(descLastSuccess, float64(st.LastSuccessAt.UnixMilli())/1000)
	}
	if st.LastPullAt != nil {
		gauge(descLastPull, float64(st.LastPullAt.UnixMilli())/1000)
	}
	if st.NextRun != nil {
		gauge(descNextRun, float64(st.NextRun.UnixMilli())/1000)
	}
	txn := c.n.db.Txn(false)
	for kind, table := range map[string]string{"alliance": tableAlliances, "report": tableReports} {
		count := 0
		if it, err := txn.Get(table, indexID); err == nil {
			for raw := it.Next(); raw != nil; raw = it.Next() {
				count++
			}
		}
		gauge(descNodeRecords, float64(count), kind)
	}
	if fi, err := os.Stat(c.path); err == nil {
		gauge(descNodeBytes, float64(fi.Size()))
	} else if !errors.Is(err, os.ErrNotExist) {
		ch <- prometheus.NewInvalidMetric(descNodeBytes, err)
	}
	// The replica's own conflict queue for this program, counted as GET /v1/conflicts
	// lists it (its total, whatever the page size).
	if page, err := c.n.replica.Load().Conflicts(hub.ConflictQuery{Program: c.n.program.Code, Limit: 1}); err == nil {
		gauge(descNodeConflicts, float64(page.Total))
	} else {
		ch <- prometheus.NewInvalidMetric(descNodeConflicts, err)
	}
	// The key the node signs with now, as the hub's alliancehub_hub_key_not_after_timestamp_seconds
	// shows it, leaving out a key with no end as the hub does. Unlike the hub's, the series
	// stays once the end is past: the node still signs with that key, and every push
	// it makes is refused until it has another (a rotation, or a new key file).
	kid := c.n.key.KeyID()
	if w, ok := c.n.keyWindow(kid); ok && w.NotAfter != nil {
		gauge(descNodeKeyNotAfter, float64(w.NotAfter.Unix()), kid)
	}
}
