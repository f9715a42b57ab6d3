package hub

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/internal/cputime"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/alliancehub/alliancehub/schema/schematest"
	"github.com/hashicorp/go-memdb"
)

// The roster benchmarks (issue 7, queries and export) run over a national roster built
// directly in memdb through the store's own apply path (applyTxn, as ingest does), from
// unsigned in-process revisions: signatures are checked before a revision reaches memdb
// and play no part in what a query costs, and signing a million records would make
// every run wait on Ed25519 for nothing the benchmark measures.

// benchStatePlans are the State Plans the benchmark catalog adds to the built-in FED,
// MI and NV, so a program filter narrows the roster as it does nationally.
var benchStatePlans = []string{"AK", "AZ", "CA", "HI", "IA", "IN", "KY", "MD", "MN", "NC", "NM", "OR", "PR", "SC", "TN", "UT", "VA", "VT", "WA", "WY"}

// benchCatalog is the built-in catalog with benchStatePlans, each defined like MIOSHA's
// or Nevada's program in turn.
func benchCatalog(tb testing.TB) *schema.Catalog {
	tb.Helper()
	var defs []map[string]any
	for i, code := range benchStatePlans {
		var cats []map[string]string
		cats = append(cats,
			map[string]string{"code": "training-education", "label": "Training and Education", "national": "training"},
			map[string]string{"code": "outreach-communication", "label": "Outreach and Communication", "national": "outreach"})
		if i%2 == 0 {
			cats = append(cats, map[string]string{"code": "rulemaking-awareness", "label": "Raising Awareness", "national": "awareness"})
		} else {
			cats = append(cats, map[string]string{"code": "safety-dialogue", "label": "Promoting the Dialogue", "national": "dialogue"})
		}
		defs = append(defs, map[string]any{
			"code": code, "name": code + " State Plan", "levels": []string{"state"}, "time_zone": "America/Chicago",
			"default_term_months": 24 + 12*(i%2), "renewal_term_months": map[string]int{"default": 60, "min": 24, "max": 60},
			"categories": cats, "reports": []map[string]any{{"cadence": "annual", "anchor": "anniversary", "due_days": 60}},
			"meetings_per_year": 3,
		})
	}
	cat := schematest.Catalog(tb, defs)
	return cat
}

// benchToday is the day the benchmark roster is built for and queried as of.
var benchToday = schema.MustDate("2026-03-02")

var (
	benchWords = strings.Fields(`Midwest Southern Pacific Atlantic Northern Western Central Gulf Mountain Coastal
		Valley Great Lakes Capital Metro Tri-State Keystone Granite Prairie Desert River Harbor`)
	benchTrades = strings.Fields(`Roofing Electrical Plumbing Masonry Steel Concrete Drywall Scaffold Crane
		Trucking Warehouse Poultry Dairy Logging Mining Oil Gas Welding Painting Glazing Excavation
		Demolition Healthcare Nursing Laboratory Printing Foundry Textile Shipyard Grain`)
	benchKinds = []string{"Contractors Association", "Workers Union Local", "Safety Council",
		"Employers Alliance", "Institute", "Community College", "Trade Association", "Cooperative"}
	benchTypes    = []string{"association", "union", "education", "community", "business", "government"}
	benchEmphasis = []string{"Falls", "Heat illness", "Silica", "Struck-by", "Trenching", "Ergonomics",
		"Workplace violence", "Hazard communication", "Lockout/tagout", "Confined spaces"}
)

// benchAlliance makes a realistic Alliance of program def, signed some time between
// 2002 and today, in a status that fits its age.
func benchAlliance(r *rand.Rand, def *schema.Program) *schema.Alliance {
	name := func() string {
		// A chapter number keeps names (and their initials) rare, as real ones are: a
		// name shared by records of two programs links them (links.go).
		return fmt.Sprintf("%s %s %s Chapter %d", benchWords[r.IntN(len(benchWords))], benchTrades[r.IntN(len(benchTrades))],
			benchKinds[r.IntN(len(benchKinds))], r.IntN(1_000_000))
	}
	a := &schema.Alliance{ID: schema.NewID(def.Code), Program: def.Code, Level: def.Levels[r.IntN(len(def.Levels))]}
	if a.Level != schema.LevelState {
		a.Office = fmt.Sprintf("Region %d", 1+r.IntN(10))
	}
	for i := range 1 + r.IntN(3)*r.IntN(2) {
		a.Participants = append(a.Participants, schema.Participant{
			Name: name(), Type: benchTypes[r.IntN(len(benchTypes))],
			Address: fmt.Sprintf("%d Main Street, Springfield", 100+r.IntN(9000)),
			Contact: schema.Contact{Name: fmt.Sprintf("Contact %d", i), Phone: fmt.Sprintf("555-%04d", r.IntN(10000)), Email: fmt.Sprintf("c%d@example.org", r.IntN(100000))},
		})
	}
	for _, i := range r.Perm(len(def.Categories))[:1+r.IntN(len(def.Categories))] {
		a.Goals = append(a.Goals, schema.Goal{Category: def.Categories[i].Code, Description: "Share best practices on " + strings.ToLower(benchEmphasis[r.IntN(len(benchEmphasis))])})
	}
	for _, c := range def.RequiredCategories {
		if !strings.Contains(fmt.Sprint(a.Goals), c) {
			a.Goals = append(a.Goals, schema.Goal{Category: c})
		}
	}
	for range r.IntN(3) {
		a.EmphasisAreas = append(a.EmphasisAreas, benchEmphasis[r.IntN(len(benchEmphasis))])
	}
	// Signed uniformly over 2002 to today; a few known only to the month or year.
	first := schema.MustDate("2002-01-01").First()
	signed := first.AddDate(0, 0, r.IntN(int(benchToday.First().Sub(first).Hours()/24)))
	a.SignedOn = schema.DateOf(signed)
	switch p := r.IntN(100); {
	case p < 3:
		a.SignedOn.Day = 0
	case p < 4:
		a.SignedOn.Day, a.SignedOn.Month = 0, 0
	}
	a.TermMonths = def.DefaultTermMonths
	// Most Alliances renew once or twice while they run.
	end := a.SignedOn.AddMonths(a.TermMonths)
	for r.IntN(3) > 0 && end.First().Before(benchToday.First()) {
		a.Renewals = append(a.Renewals, schema.Renewal{SignedOn: end, TermMonths: 60})
		end = end.AddMonths(60)
	}
	ended := end.Last().Before(benchToday.First())
	switch p := r.IntN(100); {
	case p < 1:
		a.Status, a.SignedOn, a.Renewals = schema.StatusDraft, schema.Date{}, nil
	case p < 5:
		a.Status = schema.StatusTerminated
		a.Termination = &schema.Termination{NoticeOn: schema.DateOf(signed.AddDate(0, 6+r.IntN(12), 0)), Reason: "Participant withdrew"}
	case ended && p < 70:
		a.Status = schema.StatusConcluded
	case ended && p < 75 && def.Ambassador:
		a.Status, a.AmbassadorOn = schema.StatusAmbassador, end
	case len(a.Renewals) > 0:
		a.Status = schema.StatusRenewed
	default:
		a.Status = schema.StatusActive
	}
	a.Normalize(def)
	return a
}

// benchReport is an annual report on a.
func benchReport(r *rand.Rand, a *schema.Alliance) *schema.Report {
	year := a.SignedOn.Year + 1
	return &schema.Report{
		ID: a.ID + "-R" + fmt.Sprint(year), Program: a.Program, AllianceID: a.ID, Period: fmt.Sprintf("%d-annual", year),
		ReportedOn:  schema.Date{Year: year + 1, Month: 1, Day: 15},
		TeamMembers: []string{"Team lead"},
		Meetings:    []schema.Meeting{{HeldOn: schema.Date{Year: year, Month: 3, Day: 1 + r.IntN(28)}}, {HeldOn: schema.Date{Year: year, Month: 9, Day: 1 + r.IntN(28)}}},
		Events:      []schema.Item{}, Products: []schema.Item{}, Activities: []schema.Activity{}, Milestones: []string{},
	}
}

// benchRoster fills db with n Alliances (30% federal, the rest spread over the State
// Plans) and a report for one in ten, through applyTxn in one transaction, as a hub
// replaying its journal does (load): memdb's commit of a transaction that changed more
// than 8,192 radix nodes walks every changed index whole (go-immutable-radix
// slowNotify), so batches of thousands would make the build quadratic.
func benchRoster(tb testing.TB, db *memdb.MemDB, cat *schema.Catalog, n int) {
	tb.Helper()
	r := rand.New(rand.NewPCG(uint64(n), 7))
	states := append([]string{"MI", "NV"}, benchStatePlans...)
	received := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	txn := db.Txn(true)
	for i := range programCodesOf(states) {
		if err := txn.Insert(tablePrograms, &programState{Code: i}); err != nil {
			tb.Fatal(err)
		}
	}
	seq := uint64(0)
	apply := func(rv *revision) {
		seq++
		rv.HubSeq, rv.ReceivedAt, rv.SignedAt, rv.Kid = seq, received, received, rv.Program+"-key-1"
		if _, err := applyTxn(txn, rv); err != nil {
			tb.Fatal(err)
		}
		// What relinkTxn keeps of an Alliance for the matcher, its name keys, without
		// its search of every other program's names: among these rare names it finds no
		// partner, and it would take most of the build.
		if a := rv.Alliance; a != nil && !a.SignedOn.IsZero() {
			names, err := nameIndexOf(txn)
			if err != nil {
				tb.Fatal(err)
			}
			names.set(a.ID, a.Program, keyHashes(allianceKeys(a)))
		}
	}
	for i := range n {
		code := "FED"
		if r.IntN(10) >= 3 {
			code = states[r.IntN(len(states))]
		}
		def, _ := cat.Get(code)
		a := benchAlliance(r, def)
		a.Rev = fmt.Sprintf("1-%064x", i)
		apply(&revision{RecordID: a.ID, Program: a.Program, Rev: a.Rev, Gen: 1, Hash: a.Rev[2:], Kind: schema.KindAlliance, Alliance: a})
		if i%10 == 0 && !a.SignedOn.IsZero() {
			rp := benchReport(r, a)
			rp.Rev = fmt.Sprintf("1-%064x", n+i)
			apply(&revision{RecordID: rp.ID, Program: rp.Program, Rev: rp.Rev, Gen: 1, Hash: rp.Rev[2:], Kind: schema.KindReport, Report: rp})
		}
	}
	txn.Commit()
}

func programCodesOf(states []string) map[string]bool {
	m := map[string]bool{"FED": true}
	for _, s := range states {
		m[s] = true
	}
	return m
}

// benchHub is a hub over a benchmark roster, served on loopback.
type benchHub struct {
	h        *Hub
	url      string
	token    string
	client   *http.Client
	n        int
	heapPer  float64 // heap bytes per record after the build
	buildSec float64
}

func newBenchHub(b *testing.B, n int) *benchHub {
	b.Helper()
	key, err := auth.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	cat := benchCatalog(b)
	h, err := New(Config{Key: key, DataDir: filepath.Join(b.TempDir(), "hub"), Catalog: cat})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close() })
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	benchRoster(b, h.db, cat, n)
	st := &benchHub{h: h, n: n, buildSec: time.Since(start).Seconds()}
	runtime.GC()
	runtime.ReadMemStats(&after)
	st.heapPer = float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
	srv := httptest.NewServer(h.Handler())
	b.Cleanup(srv.Close)
	st.url = srv.URL
	st.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	if st.token, err = auth.MintToken(key, auth.TokenRequest{Subject: "bench", Role: auth.RoleAnalyst, TTL: time.Hour}); err != nil {
		b.Fatal(err)
	}
	return st
}

// benchQueries are the filtered, paged query (one program, one standing, one
// national category, newest 50) over a few programs and categories.
var benchQueries = func() []RosterQuery {
	var qs []RosterQuery
	for _, p := range []string{"FED", "MI", "CA", "NV", "WA"} {
		for _, c := range []string{"training", "outreach"} {
			qs = append(qs, RosterQuery{Program: p, Standing: schema.StandingActive, Category: c, Sort: "-signed_on", Limit: 50, AsOf: benchToday})
		}
	}
	return qs
}()

func (q RosterQuery) urlQuery() string {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("program", q.Program)
	set("level", string(q.Level))
	set("status", string(q.Status))
	set("standing", string(q.Standing))
	set("category", q.Category)
	set("q", q.Q)
	set("sort", q.Sort)
	set("as_of", q.AsOf.String())
	set("page_token", q.Token)
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v.Encode()
}

// benchProfile profiles the CPU while the concurrent queries run, and only then, unlike
// -cpuprofile, which takes in the build of the roster.
var benchProfile = flag.String("roster.cpuprofile", "", "write a CPU profile of each concurrent query benchmark to `file`.NAME")

// profile starts a CPU profile of b if -roster.cpuprofile asks for one, and returns
// what stops it.
func profile(b *testing.B) func() {
	if *benchProfile == "" {
		return func() {}
	}
	f, err := os.Create(*benchProfile + "." + strings.NewReplacer("/", "-", "=", "").Replace(b.Name()))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// cpuTime is the CPU time the process has used, every thread and the collector's
// included: on a machine shared with other work, the rate a query could reach is the
// cores over this per query.
func cpuTime() time.Duration {
	d, _ := cputime.Process()
	return d
}

// runConcurrent runs query from 16 goroutines for b.N queries in all and reports the
// latency percentiles and the rate.
func runConcurrent(b *testing.B, query func(i int) error) {
	b.Helper()
	var (
		mu  sync.Mutex
		all []time.Duration
		ctr atomic.Int64
	)
	b.SetParallelism(16 / runtime.GOMAXPROCS(0))
	defer profile(b)()
	cpu0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var lat []time.Duration
		for pb.Next() {
			i := int(ctr.Add(1))
			t0 := time.Now()
			if err := query(i); err != nil {
				b.Error(err)
				return
			}
			lat = append(lat, time.Since(t0))
		}
		mu.Lock()
		all = append(all, lat...)
		mu.Unlock()
	})
	b.StopTimer()
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(len(all))/b.Elapsed().Seconds(), "qps")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(len(all)), "cpu-µs/query")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkRoster builds a roster of 10k, 100k and 1M records and measures, over each:
// the filtered query with 16 concurrent clients in-process (rosterView.Roster)
// and over HTTP through the hub's real handler on loopback (JSON encoding, token
// verification and all), a full CSV export, and the heap the built hub holds per
// record. The 1M roster takes a minute or more to build; run one size with
// -bench 'Roster/n=100000'.
func BenchmarkRoster(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			st := newBenchHub(b, n)
			b.Run("memory", func(b *testing.B) {
				for b.Loop() {
				}
				b.ReportMetric(st.heapPer, "heap-B/record")
				b.ReportMetric(st.buildSec, "build-s")
				b.ReportMetric(0, "ns/op")
			})
			for _, cold := range []bool{false, true} {
				name := "query"
				if cold {
					name += "-cold"
				}
				b.Run(name, func(b *testing.B) {
					runConcurrent(b, func(i int) error {
						if cold {
							forgetItems(st.h)
						}
						page, err := st.h.Roster(benchQueries[i%len(benchQueries)])
						if err == nil && len(page.Items) == 0 {
							err = errors.New("empty page")
						}
						return err
					})
				})
			}
			for _, cold := range []bool{false, true} {
				name := "query-http"
				if cold {
					name += "-cold"
				}
				b.Run(name, func(b *testing.B) {
					runConcurrent(b, func(i int) error {
						if cold {
							forgetItems(st.h)
						}
						req, _ := http.NewRequest(http.MethodGet, st.url+"/v1/roster?"+benchQueries[i%len(benchQueries)].urlQuery(), nil)
						req.Header.Set("Authorization", "Bearer "+st.token)
						resp, err := st.client.Do(req)
						if err != nil {
							return err
						}
						defer resp.Body.Close()
						if _, err := io.Copy(io.Discard, resp.Body); err != nil {
							return err
						}
						if resp.StatusCode != http.StatusOK {
							return fmt.Errorf("status %d", resp.StatusCode)
						}
						return nil
					})
				})
			}
			b.Run("export", func(b *testing.B) {
				benchExport(b, st, RosterQuery{AsOf: benchToday})
			})
		})
	}
}

// countWriter throws away what the export writes; every `every` rows it collects the
// garbage and notes how far the live heap has grown above base.
type countWriter struct {
	rows, every int
	base, peak  uint64
}

func (w *countWriter) Write(p []byte) (int, error) {
	if w.every == 0 {
		return len(p), nil
	}
	for _, c := range p {
		if c != '\n' {
			continue
		}
		if w.rows++; w.rows%w.every == 0 {
			w.sample()
		}
	}
	return len(p), nil
}

func (w *countWriter) sample() {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if ms.HeapAlloc > w.base {
		w.peak = max(w.peak, ms.HeapAlloc-w.base)
	}
}

// benchExport streams q as CSV and reports rows/s and seconds per export; then, in one
// more export, untimed, how much the live heap grew while it ran (garbage collected and
// the heap read every tenth of the rows): the export holds one row at a time, not the
// whole roster.
func benchExport(b *testing.B, st *benchHub, q RosterQuery) {
	one := q
	one.Limit = 1
	page, err := st.h.Roster(one)
	if err != nil {
		b.Fatal(err)
	}
	rows := page.Total
	stop := profile(b)
	for b.Loop() {
		if err := st.h.WriteRosterCSV(&countWriter{}, q); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	stop()
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/export")
	b.ReportMetric(float64(rows), "rows")
	w := &countWriter{every: max(1, rows/10)}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w.base = ms.HeapAlloc
	if err := st.h.WriteRosterCSV(w, q); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(w.peak)/(1<<20), "live-growth-MiB")
	b.ReportMetric(0, "ns/op")
}

// forgetItems empties what the roster keeps between queries (items' compliance, links
// and JSON, filters' totals), so the next query computes everything afresh but the
// standings of the day, which writes keep up to date.
func forgetItems(h *Hub) {
	sh := readIndex(h.db.Txn(false)).shared
	for i := range sh.comp {
		sh.comp[i].mu.Lock()
		sh.comp[i].m = nil
		sh.comp[i].mu.Unlock()
	}
	for i := range sh.items.shards {
		sh.items.shards[i].mu.Lock()
		sh.items.shards[i].m = nil
		sh.items.shards[i].mu.Unlock()
	}
	sh.links.mu.Lock()
	sh.links.m = nil
	sh.links.mu.Unlock()
	sh.counts.mu.Lock()
	sh.counts.m = nil
	sh.counts.mu.Unlock()
}
