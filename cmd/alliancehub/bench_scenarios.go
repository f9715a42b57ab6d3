package main

// The scenarios of alliancehub bench (issue 7's targets): ingest, query, export and
// start-up on one hub holding --records records; incremental sync of a real node on a
// hub of its own; and a federation of many programs pushing at once.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/cputime"
	"github.com/alliancehub/alliancehub/node"
	"github.com/alliancehub/alliancehub/schema"
)

// run runs the selected scenarios in order.
func (b *bench) run(ctx context.Context) error {
	client := benchClient(max(b.opt.clients, 64))
	defer client.CloseIdleConnections()
	if b.selected("ingest") || b.selected("query") || b.selected("export") || b.selected("startup") {
		if err := b.mainScenarios(ctx, client); err != nil {
			return err
		}
	}
	if !b.verified {
		if err := b.measureVerify(nil); err != nil {
			return err
		}
	}
	if b.selected("sync") {
		if err := b.syncScenario(ctx, client); err != nil {
			return fmt.Errorf("sync: %w", err)
		}
	}
	if b.selected("federation") {
		if err := b.federationScenario(ctx); err != nil {
			return fmt.Errorf("federation: %w", err)
		}
	}
	return nil
}

// hubFor is the hub for a scenario: a new one in dir, or the running one of --hub.
func (b *bench) hubFor(ctx context.Context, dir string, catalog *schema.Catalog) (*benchHub, error) {
	if b.opt.hubURL != "" {
		return &benchHub{URL: strings.TrimRight(b.opt.hubURL, "/"), admin: b.opt.hubToken, reader: b.opt.hubToken, remote: true}, nil
	}
	return startLocalHub(ctx, dir, catalog, b.log)
}

// ingestPrograms are the programs of the ingest, query and export scenarios: FED, MI
// and NV, then generated ones.
func ingestPrograms(catalog *schema.Catalog, n int) ([]*schema.Program, error) {
	var out []*schema.Program
	for i := range n {
		code := ""
		if i < len(builtinPrograms) {
			code = builtinPrograms[i]
		} else {
			code = benchProgramCode(i - len(builtinPrograms) + 1)
		}
		p, ok := catalog.Get(code)
		if !ok {
			return nil, fmt.Errorf("no definition of program %s", code)
		}
		out = append(out, p)
	}
	return out, nil
}

// mainScenarios loads one hub with --records records (measured as ingest when
// selected) and runs query, export and start-up on it.
func (b *bench) mainScenarios(ctx context.Context, client *http.Client) error {
	o := b.opt
	catalog, _, err := benchCatalog(o.dataDir, max(0, o.programs-len(builtinPrograms)))
	if err != nil {
		return err
	}
	programs, err := ingestPrograms(catalog, o.programs)
	if err != nil {
		return err
	}
	h, err := b.hubFor(ctx, filepath.Join(o.dataDir, "hub"), catalog)
	if err != nil {
		return err
	}
	defer h.stop()
	held := 0 // records the bench put on the hub
	if b.selected("ingest") || !h.remote {
		if held, err = b.ingest(ctx, client, h, programs); err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
	}
	if b.selected("query") {
		if err := b.query(ctx, h, programs); err != nil {
			return fmt.Errorf("query: %w", err)
		}
	}
	if b.selected("export") {
		if err := b.export(ctx, client, h); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	}
	if b.selected("startup") {
		if h.remote {
			b.skip("startup", "needs a hub this command started: it stops and starts the hub (run without --hub)")
		} else if err := b.startup(ctx, client, h, held); err != nil {
			return fmt.Errorf("startup: %w", err)
		}
	}
	return nil
}

// ingest signs --records records for the programs (not measured), then pushes them all
// at once, one simulated node per program, each pushing its batches in order, and
// measures records per second from the first push to the last answer.
func (b *bench) ingest(ctx context.Context, client *http.Client, h *benchHub, programs []*schema.Program) (int, error) {
	o := b.opt
	scen := "ingest"
	if !b.selected("ingest") {
		scen = "load" // data for query, export and start-up; not measured
	}
	feeds, err := newFeeds(programs)
	if err != nil {
		return 0, err
	}
	for i, f := range feeds {
		f.want = o.records / len(feeds)
		if i < o.records%len(feeds) {
			f.want++
		}
	}
	if err := h.enroll(ctx, feeds); err != nil {
		return 0, err
	}
	b.progress("signing %s records for %d programs on %d cores", fmtCount(float64(o.records)), len(feeds), b.report.Machine.GOMAXPROCS)
	start := time.Now()
	g := &benchGen{today: time.Now(), linkEvery: o.linkEvery}
	n, err := generateFeeds(ctx, filepath.Join(o.dataDir, "ingest-batches"), g, feeds, feedPlan{batchRecords: o.batchRecords, reports: true}, o.seed)
	if err != nil {
		return 0, err
	}
	b.generated(scen, "signed records (Alliances and reports) in batch files", n, time.Since(start))
	if err := b.measureVerify(feeds[0]); err != nil {
		return 0, err
	}

	b.progress("pushing %s records from %d programs at once to %s", fmtCount(float64(n)), len(feeds), h.URL)
	var (
		mu    sync.Mutex
		total pushStats
		wg    sync.WaitGroup
	)
	stopProfile := b.profile(scen)
	cpu0, cpuOK := cputime.Process()
	start = time.Now()
	for _, f := range feeds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := pushFeed(ctx, client, h.URL, f)
			mu.Lock()
			total.add(st)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, _ := cputime.Process()
	stopProfile()
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	b.fail(scen, total.errors...)
	if scen != "ingest" {
		return total.outcomes[wire.Accepted], nil
	}
	rate := float64(total.outcomes[wire.Accepted]) / elapsed.Seconds()
	b.figure(scen, "records/s verified, reconciled, stored", rate, "records/s",
		fmt.Sprintf("%s records in %s batches from %d programs in %.2f s; outcomes %v; %d 429s",
			fmtCount(float64(total.records)), fmtCount(float64(total.batches)), len(feeds), elapsed.Seconds(), total.outcomes, total.throttled))
	if total.netRetry > 0 {
		b.figure(scen, "network errors retried", float64(total.netRetry), "attempts", "sent again, as a node does")
	}
	b.target(scen, "share of the all-core Ed25519 rate", rate/b.verifyAll.wall, "ratio", ">=", 0.8, "",
		fmt.Sprintf("%s records/s against %s verifies/s measured above", fmtCount(rate), fmtCount(b.verifyAll.wall)))
	if cpuOK && !h.remote && cpu1 > cpu0 && b.verifyAll.cpu > 0 {
		busy := (cpu1 - cpu0).Seconds()
		b.figure(scen, "CPU busy during ingest (hub and pushers)", busy/elapsed.Seconds(), "cores",
			fmt.Sprintf("of %d; below that, the hub waited (fsync, locks) or other processes had the CPUs", b.report.Machine.GOMAXPROCS))
		perCPU := float64(total.outcomes[wire.Accepted]) / busy
		b.target(scen, "same share per CPU-second used", perCPU/b.verifyAll.cpu, "ratio", ">=", 0.8, "",
			fmt.Sprintf("%s records per CPU-second (hub and pushers) against %s verifies per CPU-second: the share if nothing else took the CPUs and the hub kept them all busy",
				fmtCount(perCPU), fmtCount(b.verifyAll.cpu)))
	}
	b.target(scen, "errors", float64(len(total.errors)), "errors", "=", 0, "= 0", "")
	return total.outcomes[wire.Accepted], nil
}

// measureVerify measures the raw Ed25519 rate over a real signed record's signing input:
// the first record of f, or one made here.
func (b *bench) measureVerify(f *benchFeed) error {
	var jws string
	var pub ed25519.PublicKey
	if f != nil && len(f.batches) > 0 {
		recs, err := readBatch(f.batches[0])
		if err != nil {
			return err
		}
		jws, pub = recs[0], f.key.PublicKey()
	} else {
		cat, err := schema.LoadCatalog()
		if err != nil {
			return err
		}
		p, _ := cat.Get("MI")
		k, err := auth.GenerateKey()
		if err != nil {
			return err
		}
		g := &benchGen{today: time.Now()}
		a := g.alliance(rand.New(rand.NewPCG(b.opt.seed, 0)), p, 1)
		a.ID = schema.NewID(p.Code)
		body, err := schema.AllianceBody(a)
		if err != nil {
			return err
		}
		rev, _ := schema.NewRev("", body)
		if jws, err = wire.SignRecord(k, &schema.Record{ID: a.ID, Kind: schema.KindAlliance, Program: p.Code, Rev: rev, Seq: 1, IssuedAt: time.Now().UTC(), Body: body}); err != nil {
			return err
		}
		pub = k.PublicKey()
	}
	dot := strings.LastIndexByte(jws, '.')
	sig, err := base64.RawURLEncoding.DecodeString(jws[dot+1:])
	if err != nil {
		return err
	}
	b.progress("measuring raw Ed25519 verification, %s on one core, then %s on %d", b.opt.verifyTime, b.opt.verifyTime, b.report.Machine.GOMAXPROCS)
	one, all := verifyRates(pub, []byte(jws[:dot]), sig, b.opt.verifyTime)
	b.verifyOne, b.verifyAll, b.verified = one, all, true
	cpuNote := func(r verifyRate) string {
		if r.cpu == 0 {
			return ""
		}
		return fmt.Sprintf("; %s per CPU-second used", fmtCount(r.cpu))
	}
	b.figure("verify", "Ed25519 verifies/s, one core", one.wall, "verifies/s", fmt.Sprintf("a %d-byte record's signing input%s", dot, cpuNote(one)))
	b.figure("verify", fmt.Sprintf("Ed25519 verifies/s, all %d cores", b.report.Machine.GOMAXPROCS), all.wall, "verifies/s", strings.TrimPrefix(cpuNote(all), "; "))
	return nil
}

// rosterQueries are the query scenario's URLs: for each program, each national
// category its own categories map to.
func rosterQueries(programs []*schema.Program) []string {
	var out []string
	for _, p := range programs {
		seen := map[string]bool{}
		for _, c := range p.Categories {
			if seen[c.National] {
				continue
			}
			seen[c.National] = true
			q := url.Values{"program": {p.Code}, "standing": {"active"}, "category": {c.National},
				"sort": {"-signed_on"}, "limit": {"50"}}
			out = append(out, "/v1/roster?"+q.Encode())
		}
	}
	return out
}

// query runs --clients clients, each sending the roster query of issue 7 (one program,
// standing active, one national category, newest 50) over its own connection, one
// after another, for --duration after a warm-up, and measures each answer from request
// to its last byte.
func (b *bench) query(ctx context.Context, h *benchHub, programs []*schema.Program) error {
	o := b.opt
	queries := rosterQueries(programs)
	client := benchClient(o.clients)
	defer client.CloseIdleConnections()
	// Each client reads answers into a buffer of its own, used again for the next: the
	// bench's own garbage would otherwise cost as much collection as the hub's work, in
	// the process the in-process hub shares.
	get := func(path string, buf *bytes.Buffer) (int, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL+path, nil)
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+h.reader)
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		buf.Reset()
		_, err = buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.Bytes(), err
	}
	// What the queries match, once each, before the clock starts.
	matched, items := 0, 0
	var first bytes.Buffer
	for _, q := range queries {
		status, body, err := get(q, &first)
		if err != nil || status != http.StatusOK {
			return fmt.Errorf("GET %s: %d %v %s", q, status, err, body)
		}
		var page struct {
			Items []json.RawMessage `json:"items"`
			Total int               `json:"total"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return err
		}
		matched += page.Total
		items += len(page.Items)
	}
	warm := o.duration / 10
	b.progress("querying with %d clients for %s (after %s of warm-up)", o.clients, o.duration, warm)
	type clientResult struct {
		lat  []time.Duration
		errs []string
	}
	results := make([]clientResult, o.clients)
	var wg sync.WaitGroup
	defer b.profile("query")()
	warmEnd := time.Now().Add(warm)
	end := warmEnd.Add(o.duration)
	for i := range o.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[i]
			var buf bytes.Buffer
			for j := i; ctx.Err() == nil; j++ {
				q := queries[j%len(queries)]
				t0 := time.Now()
				if t0.After(end) {
					return
				}
				status, body, err := get(q, &buf)
				d := time.Since(t0)
				if t0.Before(warmEnd) {
					continue
				}
				if err != nil || status != http.StatusOK {
					r.errs = append(r.errs, fmt.Sprintf("GET %s: %d %v %.200s", q, status, err, body))
					continue
				}
				r.lat = append(r.lat, d)
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	var lat []time.Duration
	var errs []string
	for _, r := range results {
		lat = append(lat, r.lat...)
		errs = append(errs, r.errs...)
	}
	slices.Sort(lat)
	b.fail("query", errs...)
	scale := fmt.Sprintf("over %s roster records; target is at 1,000,000", fmtCount(float64(o.records)))
	if h.remote {
		scale = "over the running hub's roster; target is at 1,000,000 records"
	}
	qps := float64(len(lat)) / o.duration.Seconds()
	b.target("query", fmt.Sprintf("queries/s, %d clients", o.clients), qps, "queries/s", ">", 12000, "", scale)
	b.figure("query", "p50 latency", ms(percentile(lat, 50)), "ms", "client side: request to last byte")
	b.target("query", "p99 latency", ms(percentile(lat, 99)), "ms", "<", 2, "", scale)
	b.figure("query", "matching Alliances per query (mean total)", float64(matched)/float64(len(queries)), "Alliances",
		fmt.Sprintf("%d query shapes (program x national category), %.1f items a page", len(queries), float64(items)/float64(len(queries))))
	b.target("query", "errors", float64(len(errs)), "errors", "=", 0, "= 0", "")
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// csvCounter counts the rows of a CSV stream as it passes, newlines outside quotes.
type csvCounter struct {
	lines   int
	bytes   int64
	inQuote bool
}

func (c *csvCounter) Write(p []byte) (int, error) {
	for _, ch := range p {
		switch {
		case ch == '"':
			c.inQuote = !c.inQuote
		case ch == '\n' && !c.inQuote:
			c.lines++
		}
	}
	c.bytes += int64(len(p))
	return len(p), nil
}

// export streams the whole roster as CSV and measures rows per second; then, when the
// hub runs in this process, streams it again to measure how much the live heap grows
// while it streams.
func (b *bench) export(ctx context.Context, client *http.Client, h *benchHub) error {
	b.progress("exporting the whole roster as CSV")
	stopProfile := b.profile("export")
	c, firstByte, elapsed, err := exportCSV(ctx, client, h)
	stopProfile()
	if err != nil {
		return err
	}
	rows := max(0, c.lines-1) // the header
	rate := float64(rows) / elapsed.Seconds()
	b.figure("export", "rows/s", rate, "rows/s", fmt.Sprintf("%s rows, %.1f MiB in %.2f s; first byte after %.0f ms",
		fmtCount(float64(rows)), float64(c.bytes)/(1<<20), elapsed.Seconds(), ms(firstByte)))
	if rows > 0 {
		b.target("export", "seconds per 100,000 rows", 100000/rate, "s", "<", 1, "", fmt.Sprintf("from the rate over %s rows", fmtCount(float64(rows))))
	}
	if h.remote {
		return nil
	}
	b.progress("exporting again, following the heap")
	heap := startHeapSampler()
	_, _, _, err = exportCSV(ctx, client, h)
	growth := heap.growth()
	if err != nil {
		return err
	}
	mib := float64(c.bytes) / (1 << 20)
	b.target("export", "live heap growth while exporting (peak)", float64(growth)/(1<<20), "MiB", "<", mib,
		fmt.Sprintf("< size of the export (%.1f MiB)", mib), "a second, untimed export with the collector run every 5% of growth; streaming holds far less than the export")
	return nil
}

// exportCSV streams GET /v1/roster?format=csv through a row counter.
func exportCSV(ctx context.Context, client *http.Client, h *benchHub) (c csvCounter, firstByte, elapsed time.Duration, err error) {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL+"/v1/roster?format=csv", nil)
	if err != nil {
		return c, 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+h.reader)
	resp, err := client.Do(req)
	if err != nil {
		return c, 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return c, 0, 0, fmt.Errorf("GET /v1/roster?format=csv: %s %s", resp.Status, body)
	}
	firstByte = time.Since(start)
	_, err = io.CopyBuffer(&c, resp.Body, make([]byte, 32<<10))
	return c, firstByte, time.Since(start), err
}

// startup stops the hub and starts it again on what ingest wrote, timing it from the
// start of the new hub to 200 on /readyz, and measures the heap the loaded hub holds.
func (b *bench) startup(ctx context.Context, client *http.Client, h *benchHub, held int) error {
	b.progress("restarting the hub over %s records", fmtCount(float64(held)))
	if err := h.stop(); err != nil {
		return err
	}
	base := liveHeap()
	stopProfile := b.profile("startup")
	d, opened, err := h.restart(ctx, client)
	stopProfile()
	if err != nil {
		return err
	}
	loaded := liveHeap()
	scaled := 10 * float64(held) / 1e6
	b.target("startup", fmt.Sprintf("ready after a restart (%s records)", fmtCount(float64(held))), d.Seconds(), "s", "<", scaled,
		fmt.Sprintf("< 10 s per 1M records (%.3f s here)", scaled),
		fmt.Sprintf("from opening the store to 200 on /readyz; hub.New returned after %.3f s", opened.Seconds()))
	if held > 0 {
		per := float64(loaded-min(base, loaded)) / float64(held)
		b.target("startup", "hub heap per record after start-up", per, "bytes", "<", 2048, "< 2 KiB", fmt.Sprintf("%.1f MiB live heap for %s records; target is at 1,000,000", float64(loaded-min(base, loaded))/(1<<20), fmtCount(float64(held))))
	}
	return nil
}

// syncScenario: a real node (node.New, served on loopback) holding --sync-records
// Alliances imported from CSV and synced once; then runs with nothing to do and a run
// after --sync-change of them changed, each measured as hub time (the hub's request
// histogram over the run) and wall time.
func (b *bench) syncScenario(ctx context.Context, client *http.Client) error {
	o := b.opt
	catalog, err := schema.LoadCatalog()
	if err != nil {
		return err
	}
	mi, _ := catalog.Get("MI")
	h, err := b.hubFor(ctx, filepath.Join(o.dataDir, "sync-hub"), catalog)
	if err != nil {
		return err
	}
	defer h.stop()
	key, err := auth.GenerateKey()
	if err != nil {
		return err
	}
	if err := h.enroll(ctx, []*benchFeed{{program: mi, key: key}}); err != nil {
		return err
	}
	hubJWK, err := h.jwk()
	if err != nil {
		return err
	}
	// The nightly run half a day away, so the schedule never runs during the scenario.
	at := time.Now().In(mi.Location()).Add(12 * time.Hour).Format("15:04")
	nodeDir := filepath.Join(o.dataDir, "sync-node-MI")
	nd, err := node.New(node.Config{Program: mi, Key: key, DataDir: nodeDir, HubURL: h.URL, HubJWK: hubJWK, Catalog: catalog,
		SyncAt: at, NoCatchUp: true, BackstopEvery: -1, Log: b.log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		nd.Close()
		return err
	}
	nctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- nd.Run(nctx, ln) }()
	defer func() {
		cancel()
		<-done
		nd.Close()
	}()
	nodeURL := "http://" + ln.Addr().String()
	token, err := auth.MintToken(key, auth.TokenRequest{Subject: "bench-MI", Role: auth.RoleProgram, Program: "MI", TTL: 24 * time.Hour})
	if err != nil {
		return err
	}
	nc, err := newAPIClient(nodeURL, token)
	if err != nil {
		return err
	}
	nc.http.Timeout = 0

	// The node's records: generated Alliances imported from CSV, signed by the node.
	b.progress("importing %s Alliances into an MI node", fmtCount(float64(o.syncRecords)))
	start := time.Now()
	ids, err := b.importAlliances(ctx, nd, mi, o.syncRecords)
	if err != nil {
		return err
	}
	b.generated("sync", "Alliances imported from CSV into the node (signed there)", len(ids), time.Since(start))

	runSync := func() (wire.SyncResult, hubTime, time.Duration, error) {
		before, err := settledHubTime(ctx, client, h.URL)
		if err != nil {
			return wire.SyncResult{}, hubTime{}, 0, err
		}
		t0 := time.Now()
		var res wire.SyncResult
		err = nc.do(ctx, http.MethodPost, "/v1/sync", nil, &res)
		wall := time.Since(t0)
		if err != nil {
			return res, hubTime{}, wall, err
		}
		if res.Error != "" {
			b.fail("sync", "sync run: "+res.Error)
		}
		if res.Rejected > 0 || res.Conflict > 0 {
			b.fail("sync", fmt.Sprintf("sync run: %d rejected, %d conflicts", res.Rejected, res.Conflict))
		}
		after, err := settledHubTime(ctx, client, h.URL)
		return res, after.sub(before), wall, err
	}

	defer b.profile("sync")()
	b.progress("first sync of the node: pushing and pulling %s records", fmtCount(float64(len(ids))))
	res, ht, wall, err := runSync()
	if err != nil {
		return err
	}
	if res.Pushed != len(ids) {
		b.fail("sync", fmt.Sprintf("first sync pushed %d of %d records", res.Pushed, len(ids)))
	}
	perRecord := ht.seconds / float64(max(1, res.Pushed+res.Pulled))
	b.figure("sync", "first sync: wall time", wall.Seconds(), "s", fmt.Sprintf("pushed %d, pulled %d", res.Pushed, res.Pulled))
	b.figure("sync", "first sync: hub time", ht.seconds, "s", fmt.Sprintf("%s requests: %s", fmtCount(float64(ht.requests)), ht.routes()))
	b.figure("sync", "first sync: hub time per record pushed or pulled", perRecord*1e6, "µs", "")

	// Nothing changed: three runs, the median reported.
	var hubs, walls []float64
	var routes string
	for range 3 {
		res, ht, wall, err := runSync()
		if err != nil {
			return err
		}
		if res.Pushed != 0 || res.Pulled != 0 {
			b.fail("sync", fmt.Sprintf("a run with nothing changed pushed %d and pulled %d", res.Pushed, res.Pulled))
		}
		hubs, walls = append(hubs, ht.seconds*1000), append(walls, ms(wall))
		routes = ht.routes()
	}
	unchanged := median(hubs)
	b.target("sync", fmt.Sprintf("unchanged (%s records held): hub time", fmtCount(float64(len(ids)))), unchanged, "ms", "<", 50, "",
		fmt.Sprintf("median of %.1f, %.1f, %.1f ms; last run: %s", hubs[0], hubs[1], hubs[2], routes))
	b.figure("sync", "unchanged: wall time", median(walls), "ms", "median of three runs, node and hub")

	// Change a share of them, spread over the node's records.
	k := int(math.Ceil(float64(len(ids)) * o.syncChange))
	b.progress("changing %d Alliances on the node", k)
	start = time.Now()
	for i := range k {
		id := ids[i*len(ids)/k]
		if err := changeAlliance(nd, id); err != nil {
			return fmt.Errorf("change %s: %w", id, err)
		}
	}
	b.generated("sync", "Alliances changed on the node (one revision each)", k, time.Since(start))
	res, ht, wall, err = runSync()
	if err != nil {
		return err
	}
	if res.Pushed != k {
		b.fail("sync", fmt.Sprintf("the run after %d changes pushed %d", k, res.Pushed))
	}
	pct := fmt.Sprintf("%g%%", o.syncChange*100)
	b.figure("sync", fmt.Sprintf("%s changed (%d records): hub time", pct, k), ht.seconds*1000, "ms",
		fmt.Sprintf("pushed %d, pulled %d; %s", res.Pushed, res.Pulled, ht.routes()))
	b.figure("sync", fmt.Sprintf("%s changed: wall time", pct), ms(wall), "ms", "")
	perChange := (ht.seconds*1000 - unchanged) / 1000 / float64(max(1, res.Pushed+res.Pulled))
	b.target("sync", "hub time per change pushed or pulled", perChange*1e6, "µs", "<=", 2*perRecord*1e6,
		fmt.Sprintf("<= 2 x first sync's %.0f µs", perRecord*1e6),
		"proportional to the changes: (hub time - unchanged run's) / changes, against the first sync's cost per record")
	return nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// importAlliances imports n generated Alliances into the node through its CSV import
// (node.Import, as POST /v1/import does), in files of at most node.MaxImportRows rows,
// and returns their ids.
func (b *bench) importAlliances(ctx context.Context, nd *node.Node, p *schema.Program, n int) ([]string, error) {
	g := &benchGen{today: time.Now()}
	r := rand.New(rand.NewPCG(b.opt.seed, 1<<40))
	var ids []string
	for first := 0; first < n; first += node.MaxImportRows {
		var sb strings.Builder
		w := csv.NewWriter(&sb)
		w.Write(schema.CSVColumns)
		for i := first; i < min(n, first+node.MaxImportRows); i++ {
			w.Write(schema.CSVRow(g.alliance(r, p, i+1), p))
		}
		w.Flush()
		f, err := node.ReadCSVFile([]byte(sb.String()), false)
		if err != nil {
			return nil, err
		}
		var failed []string
		_, err = nd.Import(ctx, f, node.ImportOptions{}, func(rows []node.ImportRow) error {
			for _, row := range rows {
				if row.Outcome == node.OutcomeImported {
					ids = append(ids, row.ID)
				} else if len(failed) < 5 {
					failed = append(failed, fmt.Sprintf("line %d: %s %v", row.Line, row.Outcome, row.Errors))
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(failed) > 0 {
			return nil, fmt.Errorf("generated rows not imported: %s", strings.Join(failed, "; "))
		}
	}
	return ids, nil
}

// changeAlliance writes the next revision of an Alliance on the node: one more
// emphasis area, as a program officer's edit would.
func changeAlliance(nd *node.Node, id string) error {
	cur, err := nd.Get(id)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(cur) // a copy: what the store hands out is shared
	if err != nil {
		return err
	}
	var a schema.Alliance
	if err := json.Unmarshal(raw, &a); err != nil {
		return err
	}
	rev := a.Rev
	a.Rev = ""
	a.EmphasisAreas = append(a.EmphasisAreas, "Powered industrial trucks")
	_, err = nd.Replace(id, rev, &a)
	return err
}

// federationScenario: --federation-programs programs, each with its own key enrolled
// through the admin API, all starting at once to push --federation-batches batches
// each, in order as a node does, honouring 429 and Retry-After. Errors must be none;
// fairness is how evenly the programs got through.
func (b *bench) federationScenario(ctx context.Context) error {
	o := b.opt
	dir := filepath.Join(o.dataDir, "federation")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	catalog, defs, err := benchCatalog(dir, o.fedPrograms)
	if err != nil {
		return err
	}
	h, err := b.hubFor(ctx, filepath.Join(dir, "hub"), catalog)
	if err != nil {
		return err
	}
	defer h.stop()
	if h.remote {
		b.note("federation against %s: the hub must know programs %s to %s (start it with --programs FILE from 'alliancehub bench --write-programs FILE --federation-programs %d')",
			h.URL, benchProgramCode(1), benchProgramCode(o.fedPrograms), o.fedPrograms)
	}
	programs := make([]*schema.Program, o.fedPrograms)
	for i := range programs {
		programs[i], _ = catalog.Get(benchProgramCode(i + 1))
	}
	feeds, err := newFeeds(programs)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := h.enroll(ctx, feeds); err != nil {
		return err
	}
	b.generated("federation", fmt.Sprintf("program keys enrolled through the admin API (definitions: %s)", filepath.Base(defs)), len(feeds), time.Since(start))
	for _, f := range feeds {
		f.want = o.fedBatches * o.fedBatchRecords
	}
	start = time.Now()
	n, err := generateFeeds(ctx, filepath.Join(dir, "batches"), &benchGen{today: time.Now()}, feeds,
		feedPlan{batchRecords: o.fedBatchRecords}, o.seed+1)
	if err != nil {
		return err
	}
	b.generated("federation", "signed records in batch files", n, time.Since(start))

	b.progress("%d programs pushing %d batches each at once", len(feeds), o.fedBatches)
	client := benchClient(len(feeds))
	defer client.CloseIdleConnections()
	stats := make([]pushStats, len(feeds))
	took := make([]time.Duration, len(feeds))
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i, f := range feeds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			stats[i] = pushFeed(ctx, client, h.URL, f)
			took[i] = time.Since(start)
		}()
	}
	defer b.profile("federation")()
	start = time.Now()
	close(gate)
	wg.Wait()
	total := time.Since(start)
	if err := ctx.Err(); err != nil {
		return err
	}
	var all pushStats
	secs := make([]float64, len(feeds))
	rates := make([]float64, len(feeds))
	for i, st := range stats {
		all.add(st)
		secs[i] = took[i].Seconds()
		rates[i] = float64(st.outcomes[wire.Accepted]) / secs[i]
	}
	b.fail("federation", all.errors...)
	b.target("federation", "errors", float64(len(all.errors)), "errors", "=", 0, "= 0",
		fmt.Sprintf("%d programs, %s records accepted of %s", len(feeds), fmtCount(float64(all.outcomes[wire.Accepted])), fmtCount(float64(n))))
	b.figure("federation", "total time", total.Seconds(), "s", fmt.Sprintf("%s records/s overall", fmtCount(float64(all.outcomes[wire.Accepted])/total.Seconds())))
	b.figure("federation", "429s answered (waited out, sent again)", float64(all.throttled), "answers",
		fmt.Sprintf("%.0f s of Retry-After waited in all; not errors", all.waited.Seconds()))
	b.figure("federation", "network errors retried", float64(all.netRetry), "attempts",
		fmt.Sprintf("sent again after a growing wait, as a node does; an error only after %d in a row", maxNetRetries))
	sorted := slices.Clone(secs)
	slices.Sort(sorted)
	q := func(p float64) float64 {
		return sorted[max(0, min(len(sorted)-1, int(math.Ceil(p/100*float64(len(sorted))))-1))]
	}
	b.figure("federation", "program completion: min", sorted[0], "s", "")
	b.figure("federation", "program completion: median", q(50), "s", "")
	b.figure("federation", "program completion: p90", q(90), "s", "")
	b.figure("federation", "program completion: max", sorted[len(sorted)-1], "s", "")
	b.figure("federation", "Jain's index of per-program throughput", jain(rates), "index",
		"1 = every program got the same records/s; 1/n = one took all")
	return nil
}
