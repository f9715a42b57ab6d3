package main

// Multi-process tests of the sync protocol (issue 4): push and pull through a
// fault-injecting proxy, a node killed with -9 in the middle of a push and of a pull, the
// hub killed while a node pulls, and the digest backstop repairing a replica damaged on
// disk. Everything is real: the built binary, real processes, real keys, loopback TCP.
//
// The proxy is Shopify's toxiproxy, used in-process as a library, for the faults of the
// connection: latency, bandwidth, slicing, requests dropped or swallowed (reset_peer and
// timeout upstream), answers reset or cut after N bytes (reset_peer and limit_data
// downstream). Between it and the hub sits a small HTTP recorder that toxiproxy, working
// on bytes, cannot replace: it follows a script per route, answers 503 with Retry-After
// itself, holds an answer back and closes the connection, notes when every request
// arrived, and puts a toxic in place at the moment the hub has answered the script's
// request (so a push the hub stored loses its answer, and the node's next request meets
// the fault written for it):
//
//	node --hub ──> toxiproxy (TCP faults) ──> recorder (HTTP: 503, script, times) ──> hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"
)

// Bounds of the waits these tests add to the harness's. Ceilings, not performance
// assertions.
const (
	syncTimeout  = 3 * time.Minute        // one sync run, even one that rides out faults
	watchTimeout = 60 * time.Second       // a condition polled while a sync runs
	watchPoll    = 10 * time.Millisecond  // pause between those polls
	retryMarker  = "failed; retrying"     // what a node logs before each retry (node.withRetry)
	replicaKeys  = "replica"              // the node's bucket of pulled changes (node/pull.go)
	retryAfter   = 1 * time.Second        // the Retry-After the recorder's 503s carry
	backgroundMs = 20                     // latency the fault run adds to every chunk, each way
	pacingMs     = 150                    // latency that keeps a kill -9 inside a run
	importPrefix = "Sync Process Partner" // participant names of imported rows
)

// ---------------------------------------------------------------------------
// The fault-injecting proxy.

// faultKind is what the recorder does to one request of its script.
type faultKind int

const (
	// pass forwards the request and its answer untouched.
	pass faultKind = iota
	// status503 answers 503 with Retry-After: 1 itself; the hub never sees the request.
	status503
	// armToxic forwards the request and, once the hub has answered (so it has done the
	// work) and before any of the answer leaves, puts a toxic in place: downstream, it
	// spoils this answer; upstream, it drops the node's next request before it reaches
	// the hub.
	armToxic
	// blackhole forwards the request, then holds the connection without a byte of the
	// answer for blackholeFor, and closes it.
	blackhole
)

// blackholeFor is how long a black-holed answer keeps the node waiting.
const blackholeFor = time.Second

// fault is one step of a route's script.
type fault struct {
	kind  faultKind
	toxic string // for armToxic: the toxic as toxiproxy's JSON, without a name
	what  string // how the test names it in messages
}

// proxyEvent is a request the recorder saw.
type proxyEvent struct {
	at     time.Time // arrival; for a 503, when the answer was sent
	route  string    // "POST /v1/sync/push"
	action string    // "pass", "503", or the fault's what
}

// armedToxic is a toxic in place until the next request reaches the recorder, or the
// node has logged a retry since it was armed, whichever comes first.
type armedToxic struct {
	name     string
	baseline int // the node's retry lines when it was armed
}

type armKey struct{}

// faultProxy is a toxiproxy proxy in front of an optional recorder in front of the hub.
type faultProxy struct {
	t   *testing.T
	url string // give this to the node as --hub
	tox *toxiproxy.Proxy

	mu     sync.Mutex
	node   *proc              // whose output counts retries
	script map[string][]fault // by route
	events []proxyEvent
	armed  []armedToxic
	named  int
}

var quietToxiproxy sync.Once

// startFaultProxy starts a proxy to the hub at hubURL. With record, requests pass through
// the recorder (scripts, 503s, arrival times); without, toxiproxy forwards straight to
// the hub.
func startFaultProxy(t *testing.T, hubURL string, record bool) *faultProxy {
	t.Helper()
	quietToxiproxy.Do(func() { zerolog.SetGlobalLevel(zerolog.Disabled) }) // toxics log through the global logger
	fp := &faultProxy{t: t, script: map[string][]fault{}}
	hub, err := url.Parse(hubURL)
	if err != nil {
		t.Fatal(err)
	}
	upstream := hub.Host
	if record {
		rp := httputil.NewSingleHostReverseProxy(hub)
		rp.ModifyResponse = func(resp *http.Response) error {
			if spec, ok := resp.Request.Context().Value(armKey{}).(string); ok {
				fp.arm(spec) // the hub has answered; nothing of the answer has left yet
			}
			return nil
		}
		rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			fp.t.Logf("recorder: %s %s: %v", r.Method, r.URL, err)
			w.WriteHeader(http.StatusBadGateway)
		}
		rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fp.serve(w, r, rp)
		}))
		t.Cleanup(rec.Close)
		upstream = rec.Listener.Addr().String()
	}
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	fp.tox = toxiproxy.NewProxy(srv, "hub", "127.0.0.1:0", upstream)
	if err := fp.tox.Start(); err != nil {
		t.Fatalf("toxiproxy: %v", err)
	}
	fp.url = "http://" + fp.tox.Listen
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go fp.watch(ctx, done)
	t.Cleanup(func() {
		cancel()
		<-done
		fp.tox.Stop()
	})
	return fp
}

// serve is the recorder: it takes the next step of the request's route script.
func (fp *faultProxy) serve(w http.ResponseWriter, r *http.Request, rp *httputil.ReverseProxy) {
	// This request got through: whatever spoiled the last answer has done its work, and
	// must not touch this one.
	fp.disarm(false)
	route := r.Method + " " + r.URL.Path
	ev := proxyEvent{at: time.Now(), route: route, action: "pass"}
	f := fault{kind: pass}
	fp.mu.Lock()
	if q := fp.script[route]; len(q) > 0 {
		f, fp.script[route] = q[0], q[1:]
	}
	fp.mu.Unlock()
	switch f.kind {
	case status503:
		ev.action = "503"
		w.Header().Set("Content-Type", "application/problem+json")
		w.Header().Set("Retry-After", fmt.Sprint(int(retryAfter/time.Second)))
		ev.at = time.Now()
		fp.record(ev)
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"type":"urn:alliancehub:problem:unavailable","title":"Service Unavailable","status":503,"detail":"injected by the test's proxy"}`)
		return
	case blackhole:
		ev.action = f.what
		fp.record(ev)
		rp.ServeHTTP(httptest.NewRecorder(), r) // the hub does the work; its answer stays here
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			fp.t.Errorf("recorder: hijacking %s: %v", route, err)
			return
		}
		time.Sleep(blackholeFor)
		conn.Close()
		return
	case armToxic:
		ev.action = f.what
		r = r.WithContext(context.WithValue(r.Context(), armKey{}, f.toxic))
	}
	fp.record(ev)
	rp.ServeHTTP(w, r)
}

func (fp *faultProxy) record(ev proxyEvent) {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	fp.events = append(fp.events, ev)
}

// retriesLocked counts the retry lines the node has logged (0 without a node); fp.mu
// is held.
func (fp *faultProxy) retriesLocked() int {
	if fp.node == nil {
		return 0
	}
	return strings.Count(fp.node.output.String(), retryMarker)
}

// arm adds a toxic (toxiproxy JSON without a name) until disarmed.
func (fp *faultProxy) arm(spec string) {
	fp.mu.Lock()
	fp.named++
	name := fmt.Sprintf("fault-%d", fp.named)
	baseline := fp.retriesLocked()
	fp.mu.Unlock()
	if err := fp.addToxic(name, spec); err != nil {
		fp.t.Errorf("toxiproxy: adding %s: %v", spec, err)
		return
	}
	fp.mu.Lock()
	fp.armed = append(fp.armed, armedToxic{name: name, baseline: baseline})
	fp.mu.Unlock()
}

// disarm removes the armed toxics: all of them, or with onRetry only those armed before
// the node's latest retry line.
func (fp *faultProxy) disarm(onRetry bool) {
	var remove []string
	fp.mu.Lock()
	if len(fp.armed) > 0 {
		n := fp.retriesLocked()
		keep := fp.armed[:0]
		for _, a := range fp.armed {
			if !onRetry || n > a.baseline {
				remove = append(remove, a.name)
			} else {
				keep = append(keep, a)
			}
		}
		fp.armed = keep
	}
	fp.mu.Unlock()
	for _, name := range remove {
		// Not found: clear removed it first.
		if err := fp.tox.Toxics.RemoveToxic(context.Background(), name); err != nil && !errors.Is(err, toxiproxy.ErrToxicNotFound) {
			fp.t.Errorf("toxiproxy: removing %s: %v", name, err)
		}
	}
}

// watch removes each armed toxic once the node has logged a retry after it was armed:
// a toxic that drops requests before they reach the recorder has then done its work, and
// the retry (which waits at least half a second) meets a clean connection. (Were the
// watch late, the retry would be dropped too and retried again: nothing but time lost.)
func (fp *faultProxy) watch(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(watchPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			fp.disarm(true)
		}
	}
}

// setNode names the node process whose retries disarm toxics.
func (fp *faultProxy) setNode(p *proc) {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	fp.node = p
}

// add puts a toxic in place until clear.
func (fp *faultProxy) add(name, spec string) {
	fp.t.Helper()
	if err := fp.addToxic(name, spec); err != nil {
		fp.t.Fatalf("toxiproxy: adding %s: %v", spec, err)
	}
}

// addToxic adds a toxic (toxiproxy's JSON, without a name) under name.
func (fp *faultProxy) addToxic(name, spec string) error {
	_, err := fp.tox.Toxics.AddToxicJson(strings.NewReader(`{"name":"` + name + `",` + strings.TrimPrefix(spec, "{")))
	return err
}

// setScript gives each route its steps; requests beyond them pass.
func (fp *faultProxy) setScript(s map[string][]fault) {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	fp.script = s
	fp.events = nil
}

// clear checks every scripted step was met, and removes every toxic.
func (fp *faultProxy) clear() {
	fp.t.Helper()
	fp.mu.Lock()
	for route, q := range fp.script {
		if len(q) > 0 {
			fp.t.Errorf("recorder: %d scripted step(s) of %s never met a request (first: %s)", len(q), route, q[0].what)
		}
	}
	fp.script = map[string][]fault{}
	fp.armed = nil
	fp.mu.Unlock()
	fp.tox.Toxics.ResetToxics(context.Background())
}

func (fp *faultProxy) eventsSoFar() []proxyEvent {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return append([]proxyEvent(nil), fp.events...)
}

// toxic writes a toxic as toxiproxy's JSON (without a name).
func toxic(typ, stream, attributes string) string {
	return fmt.Sprintf(`{"type":%q,"stream":%q,"attributes":%s}`, typ, stream, attributes)
}

// ---------------------------------------------------------------------------
// Nodes, records, rosters.

// startNodeVia restarts the cluster's MI node with its --hub at hubURL (a proxy).
func (c *cluster) startNodeVia(hubURL string) {
	c.t.Helper()
	c.node.kill(c.t)
	c.node = startProc(c.t, "node MI", "node", "--program", "MI", "--addr", c.nodeAddr, "--data", c.nodeData,
		"--key", c.miKey, "--hub", hubURL, "--sync-at", c.syncAt, "--sync-catch-up=false")
	c.node.waitReady(c.t, c.nodeURL)
}

// peer is a second program's node, enrolled with the cluster's hub and talking to it
// directly: its records reach the MI node only through the hub's change feed.
type peer struct {
	code, url, token string
	proc             *proc
}

func (c *cluster) startPeer(code string) *peer {
	c.t.Helper()
	key := filepath.Join(c.dir, strings.ToLower(code)+".jwk")
	cli(c.t, "keygen", "--out", key)
	cli(c.t, "enroll", "--hub", c.hubURL, "--token", c.admin, "--program", code, "--jwk", key)
	addr := freeAddr(c.t)
	p := &peer{code: code, url: "http://" + addr}
	p.proc = startProc(c.t, "node "+code, "node", "--program", code, "--addr", addr,
		"--data", filepath.Join(c.dir, strings.ToLower(code)+"-data"), "--key", key, "--hub", c.hubURL,
		"--sync-at", c.syncAt, "--sync-catch-up=false")
	p.proc.waitReady(c.t, p.url)
	p.token = token(c.t, "--key", key, "--role", "program", "--program", code, "--subject", "clerk")
	return p
}

// importAlliances creates n Alliances at a node with POST /v1/import (docs/CSV.md); the
// participants are named after tag so that no row duplicates another.
func importAlliances(t *testing.T, nodeURL, tok, tag string, n int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("participant,signed_on,goal_categories\n")
	for i := range n {
		fmt.Fprintf(&b, "%s %s %05d,2024-%02d-%02d,outreach-communication\n", importPrefix, tag, i, 1+i%12, 1+i%28)
	}
	req, err := http.NewRequest(http.MethodPost, nodeURL+"/v1/import", strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s/v1/import: %v", nodeURL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s/v1/import: status %d, %v: %s", nodeURL, resp.StatusCode, err, raw)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	var sum struct {
		Imported int  `json:"imported"`
		Done     bool `json:"done"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || !sum.Done || sum.Imported != n {
		t.Fatalf("import of %d rows ended %q (%v)", n, lines[len(lines)-1], err)
	}
}

// nodeRevs is every Alliance a node holds, id to rev: what it has acknowledged.
func nodeRevs(t *testing.T, nodeURL, tok string) map[string]string {
	t.Helper()
	out := map[string]string{}
	next := ""
	for range 1000 {
		var page struct {
			Items []struct {
				ID  string `json:"id"`
				Rev string `json:"rev"`
			} `json:"items"`
			NextPageToken string `json:"next_page_token"`
		}
		call(t, http.MethodGet, nodeURL+"/v1/alliances?limit=500&page_token="+url.QueryEscape(next), tok, nil, http.StatusOK, &page)
		for _, it := range page.Items {
			out[it.ID] = it.Rev
		}
		if next = page.NextPageToken; next == "" {
			return out
		}
	}
	t.Fatalf("%s/v1/alliances: more than 1000 pages", nodeURL)
	return nil
}

// rosterItems is every item of GET /v1/roster at base (the hub's roster, or a node's
// replica), as of the harness's fixed date, page by page.
func rosterItems(t *testing.T, base, tok string) []map[string]any {
	t.Helper()
	var items []map[string]any
	next := ""
	for range 1000 {
		var page struct {
			Items         []map[string]any `json:"items"`
			Total         int              `json:"total"`
			NextPageToken string           `json:"next_page_token"`
		}
		call(t, http.MethodGet, base+"/v1/roster?limit=1000&as_of="+asOf+"&page_token="+url.QueryEscape(next), tok, nil, http.StatusOK, &page)
		items = append(items, page.Items...)
		if next = page.NextPageToken; next == "" {
			if len(items) != page.Total {
				t.Errorf("%s/v1/roster: %d items over its pages, total says %d", base, len(items), page.Total)
			}
			return items
		}
	}
	t.Fatalf("%s/v1/roster: more than 1000 pages", base)
	return nil
}

// fullStatus is the node's GET /v1/sync/status, the parts these tests check.
type fullStatus struct {
	Checkpoint     uint64 `json:"checkpoint"`
	LastSeq        uint64 `json:"last_seq"`
	Outbox         uint64 `json:"outbox"`
	PullCheckpoint uint64 `json:"pull_checkpoint"`
	HubHeadSeq     uint64 `json:"hub_head_seq"`
	LastError      string `json:"last_error"`
	LastRun        *struct {
		Result   wire.SyncResult `json:"result"`
		Backstop *struct {
			Repushed       int  `json:"repushed"`
			ReplicaFetched int  `json:"replica_fetched"`
			ReplicaRebuilt bool `json:"replica_rebuilt"`
		} `json:"backstop"`
	} `json:"last_run"`
}

func nodeStatus(t *testing.T, nodeURL, tok string) fullStatus {
	t.Helper()
	var st fullStatus
	call(t, http.MethodGet, nodeURL+"/v1/sync/status", tok, nil, http.StatusOK, &st)
	return st
}

// hubHead is the hub's latest change feed sequence number.
func (c *cluster) hubHead() uint64 {
	c.t.Helper()
	var page wire.ChangesPage
	call(c.t, http.MethodGet, c.hubURL+"/v1/sync/changes?limit=1&since=0", c.analyst, nil, http.StatusOK, &page)
	return page.HeadSeq
}

// hubSync is what the hub's GET /v1/programs says of a program's pushes.
func (c *cluster) hubSync(code string) (checkpoint uint64, records int) {
	c.t.Helper()
	var page struct {
		Items []struct {
			Code string `json:"code"`
			Sync struct {
				Checkpoint uint64 `json:"checkpoint"`
				Records    int    `json:"records"`
			} `json:"sync"`
		} `json:"items"`
	}
	call(c.t, http.MethodGet, c.hubURL+"/v1/programs", c.admin, nil, http.StatusOK, &page)
	for _, p := range page.Items {
		if p.Code == code {
			return p.Sync.Checkpoint, p.Sync.Records
		}
	}
	c.t.Fatalf("hub: %s is not enrolled", code)
	return 0, 0
}

// startSync starts `alliancehub sync --json` against a node, in the background.
func startSync(t *testing.T, nodeURL, tok string, extra ...string) *proc {
	t.Helper()
	return startProc(t, "sync", append([]string{"sync", "--node", nodeURL, "--token", tok, "--json"}, extra...)...)
}

// finishSync waits, bounded, for a sync started by startSync and returns what it printed.
// The run must have succeeded.
func finishSync(t *testing.T, s *proc) wire.SyncResult {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(syncTimeout):
		t.Fatalf("sync still running after %s; output:\n%s", syncTimeout, s.output.String())
	}
	var res wire.SyncResult
	dec := json.NewDecoder(strings.NewReader(s.output.String()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("sync --json printed %q: %v", s.output.String(), err)
	}
	if s.err != nil || res.Error != "" {
		t.Fatalf("sync failed (%v): %s", s.err, s.output.String())
	}
	return res
}

// syncNode runs one sync to completion; it must succeed.
func syncNode(t *testing.T, nodeURL, tok string, extra ...string) wire.SyncResult {
	t.Helper()
	return finishSync(t, startSync(t, nodeURL, tok, extra...))
}

// waitFor polls cond, bounded, until it holds; what names the condition.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(watchTimeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(watchPoll)
	}
	t.Fatalf("%s: not within %s", what, watchTimeout)
}

// checkConverged is the end state every test here asks for: the hub's roster holds every
// acknowledged record (want: id to rev, every program) exactly once at its rev, and
// nothing else; the MI node's replica answers GET /v1/roster with the same items; the
// node has nothing left to push and has applied the hub's whole feed; and the hub has
// stored each revision once (its feed is as long as the roster).
func checkConverged(t *testing.T, c *cluster, want map[string]string) {
	t.Helper()
	hubItems := rosterItems(t, c.hubURL, c.analyst)
	seen := map[string]int{}
	for _, it := range hubItems {
		id, _ := it["id"].(string)
		seen[id]++
		rev, ok := want[id]
		switch {
		case !ok:
			t.Errorf("hub roster: %s (rev %v) was never acknowledged by a node", id, it["rev"])
		case it["rev"] != rev:
			t.Errorf("hub roster: %s at rev %v, want %s", id, it["rev"], rev)
		case it["conflict"] != false:
			t.Errorf("hub roster: %s conflict %v, want false", id, it["conflict"])
		}
	}
	for id, rev := range want {
		if seen[id] != 1 {
			t.Errorf("hub roster: acknowledged %s (rev %s) appears %d times, want once", id, rev, seen[id])
		}
	}
	if head := c.hubHead(); head != uint64(len(want)) {
		t.Errorf("hub change feed head %d, want %d: one stored revision per acknowledged record", head, len(want))
	}

	compareRosters(t, hubItems, rosterItems(t, c.nodeURL, c.clerk))

	st := nodeStatus(t, c.nodeURL, c.clerk)
	if st.Outbox != 0 || st.Checkpoint != st.LastSeq {
		t.Errorf("node sync status: outbox %d, checkpoint %d, last_seq %d; want nothing left to push", st.Outbox, st.Checkpoint, st.LastSeq)
	}
	if st.PullCheckpoint != st.HubHeadSeq || st.HubHeadSeq != uint64(len(want)) {
		t.Errorf("node sync status: pull_checkpoint %d, hub_head_seq %d; want both %d", st.PullCheckpoint, st.HubHeadSeq, len(want))
	}
	if st.LastError != "" {
		t.Errorf("node sync status: last_error %q", st.LastError)
	}
}

// compareRosters asserts a node's replica answers the hub's roster, item for item.
func compareRosters(t *testing.T, hubItems, nodeItems []map[string]any) {
	t.Helper()
	if len(nodeItems) != len(hubItems) {
		t.Errorf("node replica roster: %d items, hub roster %d", len(nodeItems), len(hubItems))
	}
	byID := map[string]map[string]any{}
	for _, it := range nodeItems {
		id, _ := it["id"].(string)
		if _, dup := byID[id]; dup {
			t.Errorf("node replica roster: %s appears more than once", id)
		}
		byID[id] = it
	}
	reported := 0
	for _, h := range hubItems {
		id, _ := h["id"].(string)
		n, ok := byID[id]
		diff := ""
		if !ok {
			diff = "missing from the replica"
		} else {
			diff = cmp.Diff(h, n)
		}
		if diff != "" {
			if reported++; reported <= 5 {
				t.Errorf("node replica roster: %s differs from the hub's (-hub +node):\n%s", id, diff)
			}
		}
	}
	if reported > 5 {
		t.Errorf("node replica roster: %d items in all differ from the hub's", reported)
	}
}

// union merges id-to-rev maps.
func union(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// Tests.

// TestSyncThroughFaultyProxy: the MI node pushes and pulls through toxiproxy while
// connections are dropped before the hub sees the request, reset or black-holed after
// the hub did the work, cut after a few bytes (inside the status line) or a few KiB
// (inside the body), and refused with 503 and Retry-After: 1, all under latency, a
// bandwidth limit and slicing. The run rides it all out; each 503 is followed by the
// retry no sooner than Retry-After; then a clean run, and node and hub have converged.
func TestSyncThroughFaultyProxy(t *testing.T) {
	c := startCluster(t)
	nv := c.startPeer("NV")
	importAlliances(t, nv.url, nv.token, "NV", 600)
	if res := syncNode(t, nv.url, nv.token); res.Accepted != 600 {
		t.Fatalf("NV sync: %+v, want 600 accepted", res)
	}

	fp := startFaultProxy(t, c.hubURL, true)
	c.startNodeVia(fp.url)
	fp.setNode(c.node)
	importAlliances(t, c.nodeURL, c.clerk, "MI", 2000) // four push batches of 500

	const (
		push    = "POST /v1/sync/push"
		keys    = "GET /v1/sync/keys"
		changes = "GET /v1/sync/changes"
	)
	var (
		s503    = fault{kind: status503, what: "503 Retry-After: 1"}
		ok      = fault{kind: pass, what: "pass"}
		drop    = fault{kind: armToxic, what: "drop the next request (reset_peer upstream)", toxic: toxic("reset_peer", "upstream", `{"timeout":0}`)}
		swallow = fault{kind: armToxic, what: "swallow the next request, close after 1s (timeout upstream)", toxic: toxic("timeout", "upstream", `{"timeout":1000}`)}
		reset   = fault{kind: armToxic, what: "reset instead of the answer (reset_peer downstream)", toxic: toxic("reset_peer", "downstream", `{"timeout":0}`)}
		hold    = fault{kind: blackhole, what: "hold the answer back for 1s, then close"}
		cutHead = fault{kind: armToxic, what: "cut the answer after 40 bytes (limit_data)", toxic: toxic("limit_data", "downstream", `{"bytes":40}`)}
		cutBody = fault{kind: armToxic, what: "cut the answer after 4 KiB (limit_data)", toxic: toxic("limit_data", "downstream", `{"bytes":4096}`)}
		cutPage = fault{kind: armToxic, what: "cut the page after 64 KiB (limit_data)", toxic: toxic("limit_data", "downstream", `{"bytes":65536}`)}
	)
	script := map[string][]fault{
		push: {
			s503,    // batch 1 refused: the node waits Retry-After
			drop,    // batch 1 answered; batch 2's first attempt never reaches the hub
			reset,   // batch 2 stored, the connection reset instead of its answer
			ok,      // batch 2 again: duplicates
			hold,    // batch 3 stored, its answer held back, the connection closed
			ok,      // batch 3 again
			cutHead, // batch 4 stored, its answer cut in the status line
			cutBody, // batch 4 again, its answer cut in the body
			ok,      // batch 4 answered
		},
		keys: {
			s503,    // the keys document refused
			swallow, // the keys document read; the first page request swallowed
		},
		changes: {
			drop,    // page 1 kept; the request for page 2 dropped
			cutPage, // page 2 cut mid-body
			ok,      // page 2 kept
			s503,    // page 3 refused
			ok,      // page 3 kept
			cutHead, // page 4 cut in its status line
		},
	}
	failing := 0 // steps after which the node must retry
	for _, q := range script {
		for _, f := range q {
			if f.kind != pass {
				failing++
			}
		}
	}
	fp.setScript(script)
	// Delays under it all, both ways.
	fp.add("latency-down", toxic("latency", "downstream", fmt.Sprintf(`{"latency":%d,"jitter":%d}`, backgroundMs, backgroundMs/2)))
	fp.add("latency-up", toxic("latency", "upstream", fmt.Sprintf(`{"latency":%d,"jitter":%d}`, backgroundMs/2, backgroundMs/4)))
	fp.add("bandwidth-down", toxic("bandwidth", "downstream", `{"rate":8192}`))
	fp.add("slicer-down", toxic("slicer", "downstream", `{"average_size":1500,"size_variation":1000,"delay":20}`))
	fp.add("slicer-up", toxic("slicer", "upstream", `{"average_size":700,"size_variation":500,"delay":10}`))

	res := syncNode(t, c.nodeURL, c.clerk)
	events := fp.eventsSoFar()
	fp.clear()
	retried := strings.Count(c.node.output.String(), retryMarker)
	if retried < failing {
		t.Errorf("node logged %d retries; the script has %d failing steps", retried, failing)
	}
	// Each batch counts once, when an answer reached the node. Batches 2, 3 and 4 were
	// stored by the hub before their answers were lost, so they came back duplicate; each
	// page was kept once.
	if diff := cmp.Diff(wire.SyncResult{Pushed: 2000, Accepted: 500, Duplicate: 1500, Pulled: 2600}, res); diff != "" {
		t.Errorf("faulted run (-want +got):\n%s", diff)
	}

	// Retry-After honoured: after each 503, the same route's next request came no sooner.
	n503 := 0
	for i, ev := range events {
		if ev.action != "503" {
			continue
		}
		n503++
		next := -1
		for j := i + 1; j < len(events); j++ {
			if events[j].route == ev.route {
				next = j
				break
			}
		}
		if next < 0 {
			t.Errorf("%s: no retry after the 503 at %s", ev.route, ev.at.Format(time.RFC3339Nano))
			continue
		}
		if gap := events[next].at.Sub(ev.at); gap < retryAfter {
			t.Errorf("%s: retried %s after a 503 with Retry-After: 1", ev.route, gap)
		}
	}
	if n503 != 3 {
		t.Errorf("recorder answered %d 503s, want 3", n503)
	}
	if t.Failed() {
		for _, ev := range events {
			t.Logf("recorder: %s %-22s %s", ev.at.Format("15:04:05.000"), ev.route, ev.action)
		}
	}

	// More records on both sides, then one run through the clean proxy.
	importAlliances(t, c.nodeURL, c.clerk, "MI-late", 20)
	importAlliances(t, nv.url, nv.token, "NV-late", 30)
	if res := syncNode(t, nv.url, nv.token); res.Accepted != 30 {
		t.Fatalf("NV sync: %+v, want 30 accepted", res)
	}
	before := strings.Count(c.node.output.String(), retryMarker)
	res = syncNode(t, c.nodeURL, c.clerk)
	if diff := cmp.Diff(wire.SyncResult{Pushed: 20, Accepted: 20, Pulled: 50}, res); diff != "" {
		t.Errorf("clean run (-want +got):\n%s", diff)
	}
	if after := strings.Count(c.node.output.String(), retryMarker); after != before {
		t.Errorf("clean run: the node retried %d time(s)", after-before)
	}
	checkConverged(t, c, union(nodeRevs(t, c.nodeURL, c.clerk), nodeRevs(t, nv.url, nv.token)))
	if cp, records := c.hubSync("MI"); cp != 2020 || records != 2020 {
		t.Errorf("hub: MI checkpoint %d with %d records, want 2020 and 2020", cp, records)
	}
}

// TestNodeKilledMidSync: a node killed with -9 in the middle of a push, and again in the
// middle of a pull, resumes each where it stopped: every record reaches the hub once,
// every change reaches the replica once, and the replica answers the hub's roster.
func TestNodeKilledMidSync(t *testing.T) {
	const total = 3000 // six push batches, six pull pages
	c := startCluster(t)
	importAlliances(t, c.nodeURL, c.clerk, "MI", total)
	acked := nodeRevs(t, c.nodeURL, c.clerk)
	if len(acked) != total {
		t.Fatalf("node holds %d Alliances, want %d", len(acked), total)
	}
	// Latency on every answer keeps each batch and page on the wire long enough for a
	// kill to land between them.
	fp := startFaultProxy(t, c.hubURL, false)
	fp.add("pacing", toxic("latency", "downstream", fmt.Sprintf(`{"latency":%d}`, pacingMs)))
	c.startNodeVia(fp.url)

	// 1. Killed during the push: the hub has some batches, not all.
	s := startSync(t, c.nodeURL, c.clerk)
	var hubCP uint64
	waitFor(t, "hub checkpoint between 0 and the last sequence", func() bool {
		hubCP, _ = c.hubSync("MI")
		return hubCP > 0 && hubCP < total
	})
	c.node.kill(t)
	<-s.done
	hubCP, _ = c.hubSync("MI")
	c.startNodeVia(fp.url)
	// The node's cursor moves only on the hub's answer: never past the hub's checkpoint.
	st := nodeStatus(t, c.nodeURL, c.clerk)
	if st.Checkpoint > hubCP || st.Outbox != total-st.Checkpoint {
		t.Fatalf("after kill -9 during the push: node checkpoint %d, outbox %d; hub checkpoint %d", st.Checkpoint, st.Outbox, hubCP)
	}
	t.Logf("killed during the push: hub checkpoint %d, node cursor %d", hubCP, st.Checkpoint)

	// 2. The next run resumes the push from the node's cursor, and is killed during its
	// pull: the push is complete and acknowledged, the replica part way. A page is
	// applied before it is written to disk, so the kill waits for the second page: the
	// first is then on disk.
	s = startSync(t, c.nodeURL, c.clerk)
	var pulled uint64
	waitFor(t, "node pull checkpoint past the first page and short of the hub's head", func() bool {
		pulled = nodeStatus(t, c.nodeURL, c.clerk).PullCheckpoint
		return pulled > wire.DefaultChangesLimit && pulled < total
	})
	c.node.kill(t)
	<-s.done
	if cp, records := c.hubSync("MI"); cp != total || records != total {
		t.Errorf("hub after the resumed push: MI checkpoint %d with %d records, want %d and %d", cp, records, total, total)
	}
	c.startNodeVia(fp.url)
	st = nodeStatus(t, c.nodeURL, c.clerk)
	if st.Checkpoint != total || st.Outbox != 0 || st.PullCheckpoint == 0 || st.PullCheckpoint > pulled {
		t.Fatalf("after kill -9 during the pull: checkpoint %d, outbox %d, pull_checkpoint %d; want %d, 0, and between 1 and %d", st.Checkpoint, st.Outbox, st.PullCheckpoint, total, pulled)
	}
	t.Logf("killed during the pull: replica at %d of %d (%d applied before the kill)", st.PullCheckpoint, total, pulled)

	// 3. The last run pulls only what the replica lacks.
	fp.clear()
	res := syncNode(t, c.nodeURL, c.clerk)
	if diff := cmp.Diff(wire.SyncResult{Pulled: int(total - st.PullCheckpoint)}, res); diff != "" {
		t.Errorf("run after the kills (-want +got):\n%s", diff)
	}
	checkConverged(t, c, acked)
	if cp, records := c.hubSync("MI"); cp != total || records != total {
		t.Errorf("hub: MI checkpoint %d with %d records, want %d and %d", cp, records, total, total)
	}
}

// TestSyncRidesOutHubCrashDuringPull: the hub killed with -9 while a node pulls its
// change feed; the run retries, the hub comes back on the same address and data, and the
// same run completes, having kept every change exactly once.
// (TestSyncRidesOutHubCrash covers a hub that is down when the push starts.)
func TestSyncRidesOutHubCrashDuringPull(t *testing.T) {
	const total = 2500
	c := startCluster(t)
	importAlliances(t, c.nodeURL, c.clerk, "MI", total)
	acked := nodeRevs(t, c.nodeURL, c.clerk)
	fp := startFaultProxy(t, c.hubURL, false)
	fp.add("pacing", toxic("latency", "downstream", fmt.Sprintf(`{"latency":%d}`, pacingMs)))
	c.startNodeVia(fp.url)

	s := startSync(t, c.nodeURL, c.clerk)
	waitFor(t, "node pull checkpoint between 0 and the hub's head", func() bool {
		pc := nodeStatus(t, c.nodeURL, c.clerk).PullCheckpoint
		return pc > 0 && pc < total
	})
	c.hub.kill(t)
	waitOutput(t, c.node, "pull failed; retrying")
	c.startHub()
	res := finishSync(t, s)
	if diff := cmp.Diff(wire.SyncResult{Pushed: total, Accepted: total, Pulled: total}, res); diff != "" {
		t.Errorf("sync across the hub's crash (-want +got):\n%s", diff)
	}
	fp.clear()
	if diff := cmp.Diff(wire.SyncResult{}, syncNode(t, c.nodeURL, c.clerk)); diff != "" {
		t.Errorf("next run (-want +got):\n%s", diff)
	}
	checkConverged(t, c, acked)
}

// TestBackstopRepairsDamagedReplica: changes deleted from a stopped node's replica on
// disk (two programs' worth) are found by the digest backstop and fetched again, exactly
// those, and the replica answers the hub's roster again.
func TestBackstopRepairsDamagedReplica(t *testing.T) {
	c := startCluster(t)
	nv := c.startPeer("NV")
	importAlliances(t, nv.url, nv.token, "NV", 20)
	syncNode(t, nv.url, nv.token)
	importAlliances(t, c.nodeURL, c.clerk, "MI", 40)
	res := syncNode(t, c.nodeURL, c.clerk)
	if res.Accepted != 40 || res.Pulled != 60 {
		t.Fatalf("MI sync: %+v, want 40 accepted and 60 pulled", res)
	}
	want := union(nodeRevs(t, c.nodeURL, c.clerk), nodeRevs(t, nv.url, nv.token))
	checkConverged(t, c, want)

	// Damage the replica: delete changes from the middle of the feed (the last one stays,
	// so the replica's position does not move and an ordinary pull has nothing to do).
	c.node.kill(t)
	deleted := []uint64{2, 7, 13, 19, 21, 30, 44, 59} // NV's changes are 1 to 20, MI's 21 to 60
	db, err := bolt.Open(filepath.Join(c.nodeData, journal.FileName), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(replicaKeys))
		if b == nil {
			return fmt.Errorf("no bucket %q", replicaKeys)
		}
		for _, seq := range deleted {
			key := []byte(fmt.Sprintf("%020d", seq))
			if b.Get(key) == nil {
				return fmt.Errorf("no change %d in the replica", seq)
			}
			if err := b.Delete(key); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("damaging the replica: %v", err)
	}
	c.startNode()
	if n := len(rosterItems(t, c.nodeURL, c.clerk)); n != len(want)-len(deleted) {
		t.Fatalf("damaged replica: %d roster items, want %d", n, len(want)-len(deleted))
	}
	// An ordinary run does not notice: nothing new in the feed.
	if diff := cmp.Diff(wire.SyncResult{}, syncNode(t, c.nodeURL, c.clerk)); diff != "" {
		t.Errorf("ordinary run on the damaged replica (-want +got):\n%s", diff)
	}

	if diff := cmp.Diff(wire.SyncResult{}, syncNode(t, c.nodeURL, c.clerk, "--backstop")); diff != "" {
		t.Errorf("backstop run (-want +got):\n%s", diff)
	}
	st := nodeStatus(t, c.nodeURL, c.clerk)
	if st.LastRun == nil || st.LastRun.Backstop == nil {
		t.Fatalf("sync status after a backstop run has no last_run.backstop: %+v", st)
	}
	if b := st.LastRun.Backstop; b.ReplicaFetched != len(deleted) || b.ReplicaRebuilt || b.Repushed != 0 {
		t.Errorf("last_run.backstop: %+v, want %d fetched, not rebuilt, nothing repushed", *b, len(deleted))
	}
	checkConverged(t, c, want)

	// Repaired means the digests agree: the next comparison fetches nothing.
	syncNode(t, c.nodeURL, c.clerk, "--backstop")
	if b := nodeStatus(t, c.nodeURL, c.clerk).LastRun.Backstop; b == nil || b.ReplicaFetched != 0 || b.ReplicaRebuilt {
		t.Errorf("second backstop run: %+v, want nothing fetched", b)
	}
}

// pushTap is a reverse proxy to the hub that keeps every push the node sends through
// it and the hub's answer, as bytes.
type pushTap struct {
	url string

	mu      sync.Mutex
	pushes  []string // the request bodies: the signed batches
	answers []string // the hub's answers, in the same order
}

func startPushTap(t *testing.T, hubURL string) *pushTap {
	t.Helper()
	target, err := url.Parse(hubURL)
	if err != nil {
		t.Fatal(err)
	}
	tap := &pushTap{}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.URL.Path != "/v1/sync/push" {
			return nil
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(strings.NewReader(string(raw)))
		tap.mu.Lock()
		tap.answers = append(tap.answers, string(raw))
		tap.mu.Unlock()
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/sync/push" {
			raw, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			tap.mu.Lock()
			tap.pushes = append(tap.pushes, string(raw))
			tap.mu.Unlock()
			r.Body = io.NopCloser(strings.NewReader(string(raw)))
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tap.url = srv.URL
	return tap
}

// pushRaw sends a signed batch to the hub as it is and returns the status and answer.
func pushRaw(t *testing.T, hubURL, tok, batch string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, hubURL+"/v1/sync/push", strings.NewReader(batch))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", wire.MediaTypeJOSE)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s/v1/sync/push: %v", hubURL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s/v1/sync/push: reading the answer: %v", hubURL, err)
	}
	return resp.StatusCode, string(raw)
}

// hubOutcomes is what the hub's GET /v1/programs counts of a program's pushed records.
func (c *cluster) hubOutcomes(code string) map[wire.Outcome]uint64 {
	c.t.Helper()
	var page struct {
		Items []struct {
			Code string `json:"code"`
			Sync struct {
				Outcomes map[wire.Outcome]uint64 `json:"outcomes"`
			} `json:"sync"`
		} `json:"items"`
	}
	call(c.t, http.MethodGet, c.hubURL+"/v1/programs", c.admin, nil, http.StatusOK, &page)
	for _, p := range page.Items {
		if p.Code == code {
			return p.Sync.Outcomes
		}
	}
	c.t.Fatalf("hub: %s is not enrolled", code)
	return nil
}

// TestBatchResentManyTimes: a batch the node pushed, taken off the wire, is sent to the
// hub again as it is, 100 times, with the hub killed with -9 and restarted halfway.
// Every answer after the first is 200, each record duplicate under the batch's own seq,
// id and rev, with the same batch id and checkpoint, and all of them byte for byte the
// same; the roster, the change feed, and the checkpoint and record count the hub
// reports are what they were after the first push; only the outcome counts grow, by a
// duplicate per record sent. The node's next sync has nothing to do.
func TestBatchResentManyTimes(t *testing.T) {
	const (
		records = 40
		resends = 100
	)
	c := startCluster(t)
	tap := startPushTap(t, c.hubURL)
	c.startNodeVia(tap.url)
	importAlliances(t, c.nodeURL, c.clerk, "MI", records)
	if diff := cmp.Diff(wire.SyncResult{Pushed: records, Accepted: records, Pulled: records}, syncNode(t, c.nodeURL, c.clerk)); diff != "" {
		t.Fatalf("first sync (-want +got):\n%s", diff)
	}
	tap.mu.Lock()
	pushes, answers := slices.Clone(tap.pushes), slices.Clone(tap.answers)
	tap.mu.Unlock()
	if len(pushes) != 1 || len(answers) != 1 {
		t.Fatalf("the node pushed %d time(s) with %d answer(s), want one batch answered once", len(pushes), len(answers))
	}
	var first wire.PushResponse
	if err := json.Unmarshal([]byte(answers[0]), &first); err != nil {
		t.Fatalf("first answer %q: %v", answers[0], err)
	}

	rosterBefore := rosterItems(t, c.hubURL, c.analyst)
	headBefore := c.hubHead()
	cpBefore, recordsBefore := c.hubSync("MI")
	outcomesBefore := c.hubOutcomes("MI")
	if cpBefore != records || recordsBefore != records || headBefore != records {
		t.Fatalf("after the first push: checkpoint %d, %d records, feed head %d; want %d each", cpBefore, recordsBefore, headBefore, records)
	}

	var again string // the first answer to the batch sent again; every later one must match it
	for i := range resends {
		if i == resends/2 {
			c.crashHub()
		}
		status, answer := pushRaw(t, c.hubURL, c.clerk, pushes[0])
		if status != http.StatusOK {
			t.Fatalf("resend %d: status %d: %s", i+1, status, answer)
		}
		if again == "" {
			again = answer
			var resp wire.PushResponse
			if err := json.Unmarshal([]byte(answer), &resp); err != nil {
				t.Fatalf("resend 1: %q: %v", answer, err)
			}
			if resp.BatchID != first.BatchID || resp.Checkpoint != first.Checkpoint || len(resp.Results) != len(first.Results) {
				t.Fatalf("resend 1: batch %s, checkpoint %d, %d results; want %s, %d, %d", resp.BatchID, resp.Checkpoint, len(resp.Results), first.BatchID, first.Checkpoint, len(first.Results))
			}
			for j, r := range resp.Results {
				want := first.Results[j]
				want.Outcome = wire.Duplicate
				if r != want {
					t.Errorf("resend 1, record %d: %+v, want %+v", j, r, want)
				}
			}
			continue
		}
		if answer != again {
			t.Fatalf("resend %d answered %s; the first resend was answered %s", i+1, answer, again)
		}
	}

	if diff := cmp.Diff(rosterBefore, rosterItems(t, c.hubURL, c.analyst)); diff != "" {
		t.Errorf("the roster changed (-before +after):\n%s", diff)
	}
	if head := c.hubHead(); head != headBefore {
		t.Errorf("change feed head %d, was %d", head, headBefore)
	}
	if cp, n := c.hubSync("MI"); cp != cpBefore || n != recordsBefore {
		t.Errorf("hub: MI checkpoint %d with %d records, was %d with %d", cp, n, cpBefore, recordsBefore)
	}
	wantOutcomes := maps.Clone(outcomesBefore)
	wantOutcomes[wire.Duplicate] += resends * records
	if diff := cmp.Diff(wantOutcomes, c.hubOutcomes("MI")); diff != "" {
		t.Errorf("hub: MI outcomes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wire.SyncResult{}, syncNode(t, c.nodeURL, c.clerk)); diff != "" {
		t.Errorf("the node's next sync (-want +got):\n%s", diff)
	}
	checkConverged(t, c, nodeRevs(t, c.nodeURL, c.clerk))
}
