package hub

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/prometheus/client_golang/prometheus"
)

// The hub's Prometheus metrics (docs/PROTOCOL.md section 11, Metrics). Events (pushes,
// change-feed reads) are counters incremented where they happen. Everything else is read
// when Prometheus scrapes, from one memdb snapshot, so the numbers agree with each other
// and with GET /v1/programs, survive a restart where the hub keeps them (the outcome
// counts), and cost nothing between scrapes.
//
// Every label value is bounded: program codes and kids of enrolled programs, outcomes,
// problem slugs, link states, route patterns. No record id, path or token is a label.

// Push outcomes, the label outcome of alliancehub_hub_pushes_total.
const (
	pushAccepted  = "accepted"  // answered 200 with a result per record
	pushRefused   = "refused"   // a whole-batch refusal (4xx); reason is its problem slug
	pushThrottled = "throttled" // 429 too-many-pushes, before the body was read
	pushFailed    = "failed"    // the hub's own failure (5xx); nothing kept
)

// Pull outcomes, the label outcome of alliancehub_hub_pulls_total.
const (
	pullServed  = "served"  // a page answered 200
	pullRefused = "refused" // a bad query (400), nothing read
	pullFailed  = "failed"  // the hub's own failure reading its feed (500, or cut short after heartbeats)
)

type hubMetrics struct {
	*edge.Metrics
	pushes  *prometheus.CounterVec
	pulls   *prometheus.CounterVec
	changes prometheus.Counter
}

func newHubMetrics(h *Hub, dataDir string) *hubMetrics {
	m := &hubMetrics{
		Metrics: edge.NewMetrics(),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alliancehub_hub_pushes_total",
			Help: "Pushes (POST /v1/sync/push with an accepted program token) by outcome: accepted, refused (reason: the problem slug), throttled (429), failed (500).",
		}, []string{"outcome", "reason"}),
		pulls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alliancehub_hub_pulls_total",
			Help: "Change-feed reads (GET /v1/sync/changes with an accepted token) by outcome: served (a page, 200), refused (a bad query, 400), failed (the hub's failure).",
		}, []string{"outcome"}),
		changes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "alliancehub_hub_changes_served_total",
			Help: "Changes handed out in change-feed pages.",
		}),
	}
	// The series an alert looks for exist from the start, at 0.
	m.pushes.WithLabelValues(pushAccepted, "")
	m.pushes.WithLabelValues(pushThrottled, "too-many-pushes")
	for _, o := range []string{pullServed, pullRefused, pullFailed} {
		m.pulls.WithLabelValues(o)
	}
	m.Registry.MustRegister(m.pushes, m.pulls, m.changes,
		&hubCollector{h: h, path: filepath.Join(dataDir, journal.FileName)})
	return m
}

// push counts one push by how the hub answered it (err nil: accepted).
func (m *hubMetrics) push(err error) {
	if err == nil {
		m.pushes.WithLabelValues(pushAccepted, "").Inc()
		return
	}
	p := pushProblem(err)
	switch {
	case p == nil || p.Status >= 500:
		m.pushes.WithLabelValues(pushFailed, "internal").Inc()
	case p.Status == http.StatusTooManyRequests:
		m.pushes.WithLabelValues(pushThrottled, slugOf(p)).Inc()
	default:
		m.pushes.WithLabelValues(pushRefused, slugOf(p)).Inc()
	}
}

// pulled counts one change-feed page of n changes served.
func (m *hubMetrics) pulled(n int) {
	m.pulls.WithLabelValues(pullServed).Inc()
	m.changes.Add(float64(n))
}

// pullNotServed counts a change-feed read answered without a page.
func (m *hubMetrics) pullNotServed(outcome string) { m.pulls.WithLabelValues(outcome).Inc() }

func slugOf(p *edge.Problem) string {
	if s, ok := strings.CutPrefix(p.Type, edge.TypePrefix); ok && s != "" {
		return s
	}
	return "other"
}

// hubCollector reads the hub's state when scraped.
type hubCollector struct {
	h    *Hub
	path string // the journal file
}

var (
	descRecordsPushed = prometheus.NewDesc("alliancehub_hub_records_pushed_total",
		"Records a program has pushed, by outcome, since it enrolled (GET /v1/programs sync.outcomes; kept across restarts).",
		[]string{"program", "outcome"}, nil)
	descCheckpoint = prometheus.NewDesc("alliancehub_hub_program_checkpoint",
		"The highest node sequence number the hub has processed for the program.",
		[]string{"program"}, nil)
	descLag = prometheus.NewDesc("alliancehub_hub_program_lag",
		"Revisions the node had written that the hub had not applied, as of its last push (head - checkpoint); absent until a push carries head.",
		[]string{"program"}, nil)
	descSinceContact = prometheus.NewDesc("alliancehub_hub_program_seconds_since_contact",
		"Seconds since the program's last accepted push or change-feed read (since enrollment if neither).",
		[]string{"program"}, nil)
	descStale = prometheus.NewDesc("alliancehub_hub_program_stale",
		"1 when the hub has seen neither an accepted push nor a pull from the program for 36 hours (sync.stale_since), else 0.",
		[]string{"program"}, nil)
	descKeys = prometheus.NewDesc("alliancehub_hub_program_keys",
		"Enrolled keys of the program by state at the hub's clock: pending, valid, expired, revoked.",
		[]string{"program", "state"}, nil)
	descKeyNotAfter = prometheus.NewDesc("alliancehub_hub_key_not_after_timestamp_seconds",
		"When a program key's window ends (not_after, unix time); only keys that have one and are still pending or valid.",
		[]string{"program", "kid"}, nil)
	descRecords = prometheus.NewDesc("alliancehub_hub_store_records",
		"Records (Alliances and reports) the hub holds, by program.",
		[]string{"program"}, nil)
	descRevisions = prometheus.NewDesc("alliancehub_hub_store_revisions",
		"Signed revisions the hub stores, by program.",
		[]string{"program"}, nil)
	descConflicts = prometheus.NewDesc("alliancehub_hub_conflicts_open",
		"Records with competing branches (acknowledged or not), by program.",
		[]string{"program"}, nil)
	descHubHead = prometheus.NewDesc("alliancehub_hub_feed_head_seq",
		"The hub's last change-feed sequence number.", nil, nil)
	descLinks = prometheus.NewDesc("alliancehub_hub_links",
		"Links between records of different programs, by state: proposed, confirmed, rejected.",
		[]string{"state"}, nil)
	descStoreBytes = prometheus.NewDesc("alliancehub_hub_store_bytes",
		"Size of the hub's journal file on disk.", nil, nil)
)

var keyStates = []string{"pending", "valid", "expired", "revoked"}

func (c *hubCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRecordsPushed, descCheckpoint, descLag, descSinceContact,
		descStale, descKeys, descKeyNotAfter, descRecords, descRevisions, descConflicts, descHubHead,
		descLinks, descStoreBytes} {
		ch <- d
	}
}

func (c *hubCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	now := c.h.now()
	txn := c.h.db.Txn(false) // one snapshot: every number below is of the same state

	records, revisions, conflicts := map[string]int{}, map[string]int{}, map[string]int{}
	it, err := txn.Get(tablePrograms, indexID)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descRecords, err)
		return
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		p := raw.(*programState)
		records[p.Code], revisions[p.Code], conflicts[p.Code] = 0, 0, 0 // enrolled: shown at 0
		for _, o := range []wire.Outcome{wire.Accepted, wire.Duplicate, wire.Stale, wire.Conflict, wire.Rejected} {
			ch <- prometheus.MustNewConstMetric(descRecordsPushed, prometheus.CounterValue, float64(p.Outcomes[o]), p.Code, string(o))
		}
		gauge(descCheckpoint, float64(p.Checkpoint), p.Code)
		if p.Head > 0 {
			gauge(descLag, float64(p.Head-min(p.Head, p.Checkpoint)), p.Code)
		}
		seen := p.EnrolledAt
		for _, t := range []*time.Time{p.LastPushAt, p.LastPullAt} {
			if t != nil && t.After(seen) {
				seen = *t
			}
		}
		gauge(descSinceContact, max(now.Sub(seen).Seconds(), 0), p.Code)
		stale := 0.0
		if p.staleSince(now) != nil {
			stale = 1
		}
		gauge(descStale, stale, p.Code)
		byState := map[string]int{}
		for _, k := range p.Keys {
			state := k.State(now)
			byState[state]++
			// Only keys the hub may still accept: a revoked or expired key's end is no
			// longer news, and would keep an expiry alert firing for good.
			if k.NotAfter != nil && (state == "valid" || state == "pending") {
				gauge(descKeyNotAfter, float64(k.NotAfter.Unix()), p.Code, k.Kid)
			}
		}
		for _, s := range keyStates {
			gauge(descKeys, float64(byState[s]), p.Code, s)
		}
	}

	// Counted as records are stored (store.go), and the conflicted ones from the
	// index that holds only them: a scrape never walks the roster.
	if it, err = txn.Get(tableRecordCounts, indexID); err == nil {
		for raw := it.Next(); raw != nil; raw = it.Next() {
			c := raw.(*recordCount)
			records[c.Program], revisions[c.Program] = c.Records, c.Revisions
		}
	}
	if it, err = txn.Get(tableRecords, indexConflict, true); err == nil {
		for raw := it.Next(); raw != nil; raw = it.Next() {
			conflicts[raw.(*entry).Program]++
		}
	}
	for code, n := range records {
		gauge(descRecords, float64(n), code)
		gauge(descRevisions, float64(revisions[code]), code)
		gauge(descConflicts, float64(conflicts[code]), code)
	}

	if top, _, err := head(txn); err == nil {
		gauge(descHubHead, float64(top))
	}
	links := map[wire.LinkState]int{wire.LinkProposed: 0, wire.LinkConfirmed: 0, wire.LinkRejected: 0}
	if it, err = txn.Get(tableLinks, indexID); err == nil {
		for raw := it.Next(); raw != nil; raw = it.Next() {
			links[wire.LinkState(raw.(*linkRow).State)]++
		}
	}
	for s, n := range links {
		gauge(descLinks, float64(n), string(s))
	}
	if fi, err := os.Stat(c.path); err == nil {
		gauge(descStoreBytes, float64(fi.Size()))
	} else if !errors.Is(err, os.ErrNotExist) {
		ch <- prometheus.NewInvalidMetric(descStoreBytes, err)
	}
}
