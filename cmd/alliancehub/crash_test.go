package main

// The crash and storage-fault suites (issue 6, items 1 and 2), on the built binary as
// real processes, in the manner of SQLite's crash tests and etcd's robustness tests:
// kill -9 at random moments of real work, then check that nothing acknowledged is lost,
// nothing is stored twice, and hub and node agree.
//
//   - TestCrashDuringSync: a sync of over 10,000 records while the hub is killed with -9
//     many times and the node a few times, each restarted at once.
//   - TestCrashDuringImport: the node killed while it streams a CSV import's answer.
//   - TestCrashDuringReports: the node killed while clerks post reports.
//   - TestDamagedStoreRefused: a hub store cut short and a node store with a flipped
//     byte are refused at start, naming the file, the offset and the problem.
//   - TestFullDisk: node and hub on a full disk (a small tmpfs, or RLIMIT_FSIZE set with
//     prlimit on the running process) answer 5xx, keep what they acknowledged, carry on
//     once there is room, and converge.
//   - TestFsyncErrors: node and hub whose fdatasync fails (a seccomp filter answered by
//     the test, see faultyExec) answer 5xx; a write whose fsync failed is not
//     acknowledged, and after a restart everything acknowledged is there.
//
// Every random choice comes from one seed, printed in the log; set
// ALLIANCEHUB_TEST_CRASH_SEED to replay a run's choices (the timing of a real machine
// still varies). ALLIANCEHUB_TEST_CRASH_KILLS raises the number of hub kills (nightly).

import (
	"bufio"
	"bytes"
	byteorder "encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

const (
	crashSeedEnv  = "ALLIANCEHUB_TEST_CRASH_SEED"
	crashKillsEnv = "ALLIANCEHUB_TEST_CRASH_KILLS"
	crashRecords  = 10000 // records in the sync the hub is killed during
	hubKills      = 15
	nodeKills     = 3
	crashPacingMs = 60 // latency on every answer the hub sends the node: keeps the sync long enough to kill into
	feedTail      = 20 // changes of the hub's feed remembered at each observation
)

// crashSeed is the run's seed: from the environment to replay, else the clock. It is
// logged first, so a failure's log holds it.
func crashSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(crashSeedEnv); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", crashSeedEnv, s, err)
		}
		seed = n
	}
	t.Logf("seed %d (replay its choices: %s=%d go test -run '^%s$' ./cmd/alliancehub)", seed, crashSeedEnv, seed, t.Name())
	return seed
}

// ---------------------------------------------------------------------------
// What the hub has acknowledged.

// hubView is what an observation of the hub saw: MI's checkpoint (the node sequence
// number up to which the hub has acknowledged MI's pushes), the feed's head, and the
// feed's last changes.
type hubView struct {
	checkpoint uint64
	head       uint64
	tail       []wire.Change
}

// feedPage reads up to limit changes of the hub's feed after since.
func (c *cluster) feedPage(since uint64, limit int) wire.ChangesPage {
	c.t.Helper()
	var page wire.ChangesPage
	call(c.t, http.MethodGet, fmt.Sprintf("%s/v1/sync/changes?since=%d&limit=%d", c.hubURL, since, limit), c.analyst, nil, http.StatusOK, &page)
	return page
}

func (c *cluster) observeHub() hubView {
	c.t.Helper()
	var v hubView
	v.checkpoint, _ = c.hubSync("MI")
	v.head = c.hubHead()
	if v.head > 0 {
		v.tail = c.feedPage(v.head-min(v.head, feedTail), feedTail).Changes
	}
	return v
}

// sameChange compares what the hub stored, not its advisory annotation of the moment.
func sameChange(a, b wire.Change) bool {
	return a.Seq == b.Seq && a.Record == b.Record && a.Note == b.Note && a.ReceivedAt.Equal(b.ReceivedAt)
}

// acks is every acknowledgement seen: the highest checkpoint and head the hub showed,
// the highest push cursor the node showed (it moves only on the hub's answer), and every
// change of the feed observed, by hub sequence number.
type acks struct {
	checkpoint uint64 // max over the hub's MI checkpoint and the node's push cursor
	head       uint64
	changes    map[uint64]wire.Change
}

func (a *acks) add(v hubView) {
	a.checkpoint = max(a.checkpoint, v.checkpoint)
	a.head = max(a.head, v.head)
	for _, ch := range v.tail {
		a.changes[ch.Seq] = ch
	}
}

// checkHubKept asserts the restarted hub holds every acknowledgement: its checkpoint and
// head are no lower, the changes last observed are in its feed unchanged, and so are
// some picked at random among all observed.
func checkHubKept(t *testing.T, c *cluster, a *acks, last hubView, rng *rand.Rand) {
	t.Helper()
	now := c.observeHub()
	if now.checkpoint < a.checkpoint {
		t.Errorf("hub restarted with MI's checkpoint at %d; it had acknowledged up to %d", now.checkpoint, a.checkpoint)
	}
	if now.head < a.head {
		t.Errorf("hub restarted with its feed's head at %d; it had shown %d", now.head, a.head)
	}
	want := append([]wire.Change(nil), last.tail...)
	seqs := make([]uint64, 0, len(a.changes))
	for s := range a.changes {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	for range min(10, len(seqs)) {
		want = append(want, a.changes[seqs[rng.IntN(len(seqs))]])
	}
	for _, w := range want {
		got := c.feedPage(w.Seq-1, 1).Changes
		if len(got) != 1 || !sameChange(w, got[0]) {
			t.Errorf("hub restarted without the change %d it had shown (record %.40s...): now %v", w.Seq, w.Record, got)
		}
	}
	a.add(now)
}

// checkFeedHolds asserts every change ever observed is in the hub's feed as observed,
// and that the feed holds no record revision twice. It reads the whole feed.
func checkFeedHolds(t *testing.T, c *cluster, a *acks) {
	t.Helper()
	byRecord := map[string]uint64{}
	found := 0
	since := uint64(0)
	for range 10000 {
		page := c.feedPage(since, wire.DefaultChangesLimit)
		for _, ch := range page.Changes {
			if prev, dup := byRecord[ch.Record]; dup && ch.Record != "" {
				t.Errorf("hub feed: the same signed record at %d and %d", prev, ch.Seq)
			}
			byRecord[ch.Record] = ch.Seq
			if w, ok := a.changes[ch.Seq]; ok {
				found++
				if !sameChange(w, ch) {
					t.Errorf("hub feed: change %d differs from what was observed", ch.Seq)
				}
			}
		}
		if page.LastSeq >= page.HeadSeq || len(page.Changes) == 0 {
			break
		}
		since = page.LastSeq
	}
	if found != len(a.changes) {
		t.Errorf("hub feed: %d of the %d changes observed during the run are missing", len(a.changes)-found, len(a.changes))
	}
}

// ---------------------------------------------------------------------------
// TestCrashDuringSync

// TestCrashDuringSync: the MI node pushes over 10,000 records to the hub and pulls them
// back, through a proxy that adds a little latency, while the hub is killed with -9
// fifteen times and the node three times, each restarted at once (a quarter of the
// hub's restarts killed again part way through its start, while it checks and replays its
// store). Each kill waits for the work to move on since the last one, then for a delay
// drawn from the seed; when a run ends before the kills do, more records are imported and
// another run starts. After every kill of the hub: its MI checkpoint, its feed's head and the
// changes observed before the kill are all still there (an acknowledged push survives
// kill -9); after every kill of the node: it holds every record it acknowledged, and its
// push cursor is no further than the hub's checkpoint and no further back than before.
// At the end one clean run, and: every record the node holds is in the hub's roster once,
// at its revision; the feed's head equals the number of distinct revisions (nothing
// stored twice) and holds every change ever observed; the node's replica answers the
// hub's roster item for item; the outbox is empty.
func TestCrashDuringSync(t *testing.T) {
	if testing.Short() {
		t.Skip("crash suite: skipped with -short")
	}
	seed := crashSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	kills := hubKills
	if s := os.Getenv(crashKillsEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number", crashKillsEnv, s)
		}
		kills = n
	}
	start := time.Now()
	c := startCluster(t)
	importAlliances(t, c.nodeURL, c.clerk, "MI", crashRecords)
	imported := time.Now()

	fp := startFaultProxy(t, c.hubURL, false)
	fp.add("pacing", toxic("latency", "downstream", fmt.Sprintf(`{"latency":%d,"jitter":%d}`, crashPacingMs, crashPacingMs/2)))
	c.startNodeVia(fp.url)

	// The kills, in an order drawn from the seed; the node is not killed first.
	events := slices.Repeat([]string{"hub"}, kills)
	events = append(events, slices.Repeat([]string{"node"}, nodeKills)...)
	rng.Shuffle(len(events)-1, func(i, j int) { events[i+1], events[j+1] = events[j+1], events[i+1] })
	delays := make([]time.Duration, len(events))
	recoveryKills := make([]time.Duration, len(events)) // a hub killed again while it restarts, this far in
	for i := range delays {
		delays[i] = time.Duration(30+rng.IntN(900)) * time.Millisecond
		if events[i] == "hub" && rng.IntN(4) == 0 {
			recoveryKills[i] = time.Duration(20+rng.IntN(400)) * time.Millisecond
		}
	}
	t.Logf("kills: %v after %v; hub killed again while restarting after %v", events, delays, recoveryKills)

	a := &acks{changes: map[uint64]wire.Change{}}
	var nodeCursor uint64 // the node's push cursor as last seen
	acked := nodeRevs(t, c.nodeURL, c.clerk)
	extra, runs := 0, 0
	var s *proc
	// next starts a run; when a run has ended with kills to go, it imports more records
	// first, so that the next kill again lands in work.
	next := func() {
		if s != nil {
			extra++
			importAlliances(t, c.nodeURL, c.clerk, fmt.Sprintf("MI-extra-%d", extra), 300)
			acked = nodeRevs(t, c.nodeURL, c.clerk)
		}
		s = startSync(t, c.nodeURL, c.clerk)
		runs++
	}
	// progress is where the work stands: MI's checkpoint at the hub (the push) and the
	// node's replica (the pull).
	progress := func() [2]uint64 {
		cp, _ := c.hubSync("MI")
		return [2]uint64{cp, nodeStatus(t, c.nodeURL, c.clerk).PullCheckpoint}
	}
	next()
	for i, ev := range events {
		// Each kill waits for the work to move on since the last restart (a push
		// accepted, which also resets the node's backoff, or a page pulled), then for its
		// delay: so it lands in the middle of a batch or a page, not in a retry's wait.
		mark := progress()
		waitFor(t, "the sync to move on since the last kill", func() bool {
			select {
			case <-s.done:
				next()
			default:
			}
			return progress() != mark
		})
		view := c.observeHub()
		a.add(view)
		st := nodeStatus(t, c.nodeURL, c.clerk)
		if st.Checkpoint < nodeCursor {
			t.Errorf("node push cursor went back from %d to %d", nodeCursor, st.Checkpoint)
		}
		nodeCursor = st.Checkpoint
		a.checkpoint = max(a.checkpoint, st.Checkpoint)
		time.Sleep(delays[i])
		switch ev {
		case "hub":
			c.hub.kill(t)
			again := ""
			if after := recoveryKills[i]; after > 0 {
				// Killed again while it starts: while it checks and loads its store.
				c.hub = startProc(t, "hub", "hub", "--addr", c.hubAddr, "--data", c.hubData, "--key", c.hubKey)
				time.Sleep(after)
				c.hub.kill(t)
				again = fmt.Sprintf(", and again %s into its restart", after)
			}
			c.startHub()
			checkHubKept(t, c, a, view, rng)
			t.Logf("kill %d: hub, %s after it showed checkpoint %d, head %d (replica at %d)%s; restarted with %d, %d",
				i+1, delays[i], view.checkpoint, view.head, st.PullCheckpoint, again, a.checkpoint, a.head)
		case "node":
			c.node.kill(t)
			select {
			case <-s.done:
			case <-time.After(cliTimeout):
				t.Fatalf("sync still running %s after its node was killed", cliTimeout)
			}
			c.startNodeVia(fp.url)
			if got := nodeRevs(t, c.nodeURL, c.clerk); !cmp.Equal(acked, got) {
				t.Errorf("node restarted with %d records; it had acknowledged %d", len(got), len(acked))
			}
			st := nodeStatus(t, c.nodeURL, c.clerk)
			hubCP, _ := c.hubSync("MI")
			if st.Checkpoint < nodeCursor || st.Checkpoint > hubCP {
				t.Errorf("node restarted with push cursor %d: before the kill it was %d, the hub's checkpoint is %d", st.Checkpoint, nodeCursor, hubCP)
			}
			t.Logf("kill %d: node, %s after its cursor was %d; restarted with cursor %d, replica at %d, hub checkpoint %d",
				i+1, delays[i], nodeCursor, st.Checkpoint, st.PullCheckpoint, hubCP)
			nodeCursor = st.Checkpoint
			s = startSync(t, c.nodeURL, c.clerk)
			runs++
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	select {
	case <-s.done:
	case <-time.After(syncTimeout):
		t.Fatalf("the last run did not end within %s", syncTimeout)
	}
	chaos := time.Now()
	fp.clear()
	res := syncNode(t, c.nodeURL, c.clerk)
	acked = nodeRevs(t, c.nodeURL, c.clerk)
	if len(acked) != crashRecords+300*extra {
		t.Errorf("node holds %d records, want %d", len(acked), crashRecords+300*extra)
	}
	checkConverged(t, c, acked)
	checkFeedHolds(t, c, a)
	if cp, records := c.hubSync("MI"); cp != uint64(len(acked)) || records != len(acked) {
		t.Errorf("hub: MI checkpoint %d with %d records, want %d and %d", cp, records, len(acked), len(acked))
	}
	t.Logf("%d kills of the hub and %d of the node over %d runs; then a clean run %+v; %d records converged, the %d changes observed during the kills all kept; %s in all (import %s, kills %s, checks %s)",
		kills, nodeKills, runs, res, len(acked), len(a.changes), time.Since(start).Round(time.Millisecond),
		imported.Sub(start).Round(time.Millisecond), chaos.Sub(imported).Round(time.Millisecond), time.Since(chaos).Round(time.Millisecond))
}

// ---------------------------------------------------------------------------
// TestCrashDuringImport

// crashImportLine is one line of POST /v1/import's streamed answer (docs/CSV.md).
type crashImportLine struct {
	Rows       *int   `json:"rows"`
	Line       int    `json:"line"`
	Outcome    string `json:"outcome"`
	ID         string `json:"id"`
	Imported   int    `json:"imported"`
	Duplicates int    `json:"duplicates"`
	Failed     int    `json:"failed"`
	Done       bool   `json:"done"`
	Error      string `json:"error"`
}

// streamImport posts a CSV file to the node and hands each row's line of the answer to
// row as it arrives; when row returns false it stops reading and returns nil (row has
// killed the node). Otherwise it returns the last line.
func streamImport(t *testing.T, nodeURL, tok, file string, row func(crashImportLine) bool) *crashImportLine {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, nodeURL+"/v1/import", strings.NewReader(file))
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
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s/v1/import: %d %s", nodeURL, resp.StatusCode, raw)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var l crashImportLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("import answer line %q: %v", sc.Text(), err)
		}
		switch {
		case l.Done:
			return &l
		case l.Rows != nil:
		case !row(l):
			return nil
		}
	}
	t.Fatalf("import answer ended without a last line: %v", sc.Err())
	return nil
}

// TestCrashDuringImport: a 2,000-row CSV import (eight chunks, each one transaction,
// each reported once durable) is cut by kill -9 of the node three times, each as soon as
// the streamed answer has acknowledged a number of rows drawn from the seed. After each
// restart the node holds every row acknowledged, under the id the answer gave. The same
// file imported again reports each of those rows a duplicate of that same id, and
// imports the rest; at the end the node holds exactly one Alliance per row, and the hub,
// after a sync, the same.
func TestCrashDuringImport(t *testing.T) {
	if testing.Short() {
		t.Skip("crash suite: skipped with -short")
	}
	const rows = 2000
	seed := crashSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0x1e4))
	c := startCluster(t)
	var b strings.Builder
	b.WriteString("participant,signed_on,goal_categories\n")
	for i := range rows {
		fmt.Fprintf(&b, "Crash Import Partner %05d,2023-%02d-%02d,outreach-communication\n", i, 1+i%12, 1+i%28)
	}
	file := b.String()
	acked := map[int]string{} // CSV line to id, as an answer acknowledged it
	check := func(l crashImportLine) {
		if id, ok := acked[l.Line]; ok && (l.Outcome != "duplicate" || l.ID != id) {
			t.Errorf("line %d, acknowledged as %s before the kill, now %s %s", l.Line, id, l.Outcome, l.ID)
		}
		if l.Outcome == "imported" || l.Outcome == "duplicate" {
			acked[l.Line] = l.ID
		} else {
			t.Errorf("line %d: outcome %s", l.Line, l.Outcome)
		}
	}
	for round := range 3 {
		// Kill once the answer has acknowledged this many rows in all: at least one
		// more chunk than before, short of the end.
		stopAt := min(rows-1, len(acked)+256+rng.IntN(max(1, (rows-len(acked)-512)/2)))
		killed := false
		streamImport(t, c.nodeURL, c.clerk, file, func(l crashImportLine) bool {
			check(l)
			if len(acked) < stopAt {
				return true
			}
			// Killed while the import goes on: the client is still reading, so the node
			// is writing the next chunk, not noticing a client that went away.
			c.node.kill(t)
			killed = true
			return false
		})
		if !killed {
			t.Fatalf("round %d: the import ended before %d rows were acknowledged", round, stopAt)
		}
		c.startNode()
		held := nodeRevs(t, c.nodeURL, c.clerk)
		for line, id := range acked {
			if _, ok := held[id]; !ok {
				t.Errorf("round %d: line %d, acknowledged as %s, is not on the node after kill -9", round, line, id)
			}
		}
		t.Logf("round %d: killed after %d rows acknowledged; the node holds %d", round, len(acked), len(held))
		if t.Failed() {
			t.FailNow()
		}
	}
	last := streamImport(t, c.nodeURL, c.clerk, file, func(l crashImportLine) bool { check(l); return true })
	if last == nil || last.Error != "" || last.Imported+last.Duplicates != rows || last.Failed != 0 {
		t.Fatalf("the last import ended %+v", last)
	}
	held := nodeRevs(t, c.nodeURL, c.clerk)
	ids := map[string]bool{}
	for _, id := range acked {
		ids[id] = true
	}
	if len(held) != rows || len(ids) != rows {
		t.Errorf("node holds %d Alliances for %d rows (%d distinct ids acknowledged)", len(held), rows, len(ids))
	}
	syncNode(t, c.nodeURL, c.clerk)
	checkConverged(t, c, held)
}

// ---------------------------------------------------------------------------
// TestCrashDuringReports

type reportKey struct{ id, period string }

// TestCrashDuringReports: four clerks post quarterly reports for 30 Alliances (360 in
// all) while the node is killed with -9 three times, each once a number of reports drawn
// from the seed are acknowledged, the clerks still posting. Every report answered 201 (or
// 200: the same report sent again after its first answer was lost) is on the node after
// the restart at the revision the answer gave. After a sync the hub holds every one, at
// that revision, and its feed one revision per Alliance and report.
func TestCrashDuringReports(t *testing.T) {
	if testing.Short() {
		t.Skip("crash suite: skipped with -short")
	}
	const alliances = 30
	seed := crashSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0x4e9))
	c := startCluster(t)
	var b strings.Builder
	b.WriteString("participant,signed_on,goal_categories\n")
	for i := range alliances {
		fmt.Fprintf(&b, "Crash Report Partner %02d,2022-01-10,outreach-communication\n", i)
	}
	if last := streamImport(t, c.nodeURL, c.clerk, b.String(), func(crashImportLine) bool { return true }); last == nil || last.Imported != alliances {
		t.Fatalf("import: %+v", last)
	}
	var todo []reportKey
	for id := range nodeRevs(t, c.nodeURL, c.clerk) {
		for y := 2022; y <= 2024; y++ {
			for q := 1; q <= 4; q++ {
				todo = append(todo, reportKey{id, fmt.Sprintf("%d-Q%d", y, q)})
			}
		}
	}
	rng.Shuffle(len(todo), func(i, j int) { todo[i], todo[j] = todo[j], todo[i] })
	acked := map[reportKey]string{} // the rev each answer gave

	// post sends reports from todo with four clerks until it is empty or, with
	// killAt > 0, until that many reports are acknowledged in all: then the node is
	// killed while the clerks go on posting. What was not acknowledged goes back on todo.
	post := func(killAt int) {
		var mu sync.Mutex
		queue := todo
		todo = nil
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					mu.Lock()
					if len(queue) == 0 {
						mu.Unlock()
						return
					}
					k := queue[0]
					queue = queue[1:]
					mu.Unlock()
					rev, err := postReport(c, k)
					mu.Lock()
					if err != nil {
						todo = append(todo, k)
					} else {
						acked[k] = rev
					}
					mu.Unlock()
				}
			}()
		}
		if killAt > 0 {
			waitFor(t, fmt.Sprintf("%d reports acknowledged", killAt), func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(acked) >= killAt
			})
			c.node.kill(t)
			close(stop)
		}
		wg.Wait()
		todo = append(todo, queue...)
		if killAt > 0 {
			c.startNode()
		}
	}
	checkReports := func(when string) {
		t.Helper()
		for k, rev := range acked {
			var r struct {
				Rev string `json:"rev"`
			}
			call(t, http.MethodGet, c.nodeURL+"/v1/alliances/"+k.id+"/reports/"+k.period, c.clerk, nil, http.StatusOK, &r)
			if r.Rev != rev {
				t.Errorf("%s: report %s %s at rev %s, acknowledged at %s", when, k.id, k.period, r.Rev, rev)
			}
		}
	}
	for round := range 3 {
		killAt := len(acked) + 20 + rng.IntN(80)
		post(killAt)
		checkReports(fmt.Sprintf("after kill %d", round+1))
		t.Logf("kill %d once %d reports were acknowledged: %d acknowledged, all on the node", round+1, killAt, len(acked))
		if t.Failed() {
			t.FailNow()
		}
	}
	post(0)
	if len(todo) != 0 || len(acked) != alliances*12 {
		t.Fatalf("%d reports acknowledged, %d left; want %d and none", len(acked), len(todo), alliances*12)
	}
	checkReports("at the end")
	res := syncNode(t, c.nodeURL, c.clerk)
	if res.Accepted != alliances*13 {
		t.Errorf("sync accepted %d records, want %d Alliances and reports", res.Accepted, alliances*13)
	}
	if head := c.hubHead(); head != alliances*13 {
		t.Errorf("hub feed head %d, want %d: one revision per Alliance and report", head, alliances*13)
	}
	for id := range nodeRevs(t, c.nodeURL, c.clerk) {
		var item struct {
			Reports []struct {
				Period string `json:"period"`
				Rev    string `json:"rev"`
			} `json:"reports"`
		}
		call(t, http.MethodGet, c.hubURL+"/v1/roster/"+id, c.analyst, nil, http.StatusOK, &item)
		if len(item.Reports) != 12 {
			t.Errorf("hub: %s has %d reports, want 12", id, len(item.Reports))
		}
		for _, r := range item.Reports {
			if rev := acked[reportKey{id, r.Period}]; r.Rev != rev {
				t.Errorf("hub: report %s %s at rev %s, acknowledged at %s", id, r.Period, r.Rev, rev)
			}
		}
	}
}

// postReport posts one quarterly report; a 201, or a 200 for the same report sent
// again (its first answer was lost to a kill), acknowledges it.
func postReport(c *cluster, k reportKey) (string, error) {
	body := fmt.Sprintf(`{"period":%q,"reported_on":"2025-01-05","activities":[{"type":"Conference","reached":120}]}`, k.period)
	req, err := http.NewRequest(http.MethodPost, c.nodeURL+"/v1/alliances/"+k.id+"/reports", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.clerk)
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		if resp.StatusCode < 500 {
			c.t.Errorf("report %s %s: %d %s", k.id, k.period, resp.StatusCode, raw)
		}
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	var r struct {
		Rev string `json:"rev"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.Rev == "" {
		return "", fmt.Errorf("answer %s: %v", raw, err)
	}
	return r.Rev, nil
}

// ---------------------------------------------------------------------------
// TestDamagedStoreRefused

// TestDamagedStoreRefused: a hub whose store was cut short in the middle of a page, and
// a node whose store has one byte of a signed record flipped, each refuse to start: exit
// status 1 and one line naming the store file, the offset and what is wrong. Neither file
// is changed; with the files restored both start and hold everything.
func TestDamagedStoreRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("storage faults: skipped with -short")
	}
	c := startCluster(t)
	importAlliances(t, c.nodeURL, c.clerk, "MI", 200)
	syncNode(t, c.nodeURL, c.clerk)
	want := nodeRevs(t, c.nodeURL, c.clerk)
	c.hub.kill(t)
	c.node.kill(t)

	hubFile := filepath.Join(c.hubData, journal.FileName)
	nodeFile := filepath.Join(c.nodeData, journal.FileName)
	hubSaved, nodeSaved := filepath.Join(c.dir, "hub.db"), filepath.Join(c.dir, "node.db")
	copyFile(t, hubFile, hubSaved)
	copyFile(t, nodeFile, nodeSaved)

	// The hub's store cut short half way through its pages in use, mid-page.
	hubBytes, err := os.ReadFile(hubFile)
	if err != nil {
		t.Fatal(err)
	}
	used := boltBytesInUse(t, hubBytes)
	cut := used/2 + 1234
	if err := os.Truncate(hubFile, int64(cut)); err != nil {
		t.Fatal(err)
	}
	// One byte of a signed record in the node's store flipped: 200 bytes into the
	// hundredth entry of its log, found where bbolt maps it (a free page may hold a stale
	// copy of it, whose damage would harm nothing).
	at := -1
	db, err := bolt.Open(nodeFile, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket([]byte("log")).Get([]byte{0, 0, 0, 0, 0, 0, 0, 100}); len(v) > 200 {
			at = int(uintptr(unsafe.Pointer(&v[0]))-db.Info().Data) + 200
		}
		return nil
	})
	db.Close()
	if at < 0 {
		t.Fatal("no log entry 100 in the node's store")
	}
	nodeBytes, err := os.ReadFile(nodeFile)
	if err != nil {
		t.Fatal(err)
	}
	nodeBytes[at] ^= 0x01
	if err := os.WriteFile(nodeFile, nodeBytes, 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, file string
		args       []string
		want       []string
	}{
		{"hub", hubFile, []string{"hub", "--addr", c.hubAddr, "--data", c.hubData, "--key", c.hubKey},
			[]string{fmt.Sprintf("journal %s is damaged at offset %d", hubFile, cut), "truncated"}},
		{"node", nodeFile, []string{"node", "--program", "MI", "--addr", c.nodeAddr, "--data", c.nodeData, "--key", c.miKey,
			"--hub", c.hubURL, "--sync-at", c.syncAt, "--sync-catch-up=false"},
			[]string{fmt.Sprintf("journal %s is damaged at offset", nodeFile), "log entry 100: the value fails its checksum"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			res := cliRun(t, "", nil, tt.args...)
			lines := strings.Split(strings.TrimSpace(res.stderr), "\n")
			last := lines[len(lines)-1]
			if res.code != 1 || !strings.HasPrefix(last, "alliancehub "+tt.name+": ") {
				t.Fatalf("exit %d, last line %q; want 1 and one line from alliancehub %s", res.code, last, tt.name)
			}
			for _, w := range tt.want {
				if !strings.Contains(last, w) {
					t.Errorf("%q does not say %q", last, w)
				}
			}
			if after, _ := os.ReadFile(tt.file); !bytes.Equal(before, after) {
				t.Errorf("the refused store changed")
			}
			t.Logf("refused: %s", last)
		})
	}

	copyFile(t, hubSaved, hubFile)
	copyFile(t, nodeSaved, nodeFile)
	c.startHub()
	c.startNode()
	checkConverged(t, c, want)
}

// boltBytesInUse is the bytes of a bbolt file's pages in use (pages times page size), from
// the newer of its two meta pages.
func boltBytesInUse(t *testing.T, file []byte) int {
	t.Helper()
	ps := int(byteorder.NativeEndian.Uint32(file[24:]))
	m0, m1 := file[16:], file[ps+16:]
	m := m0
	if byteorder.NativeEndian.Uint64(m1[48:]) > byteorder.NativeEndian.Uint64(m0[48:]) {
		m = m1
	}
	return int(byteorder.NativeEndian.Uint64(m[40:])) * ps
}

// ---------------------------------------------------------------------------
// TestFullDisk

// fullDisk fills the disk under one server's store, and makes room again.
type fullDisk struct {
	errno    string // in the server's log once a write is refused
	fill     func(t *testing.T, p *proc)
	makeRoom func(t *testing.T, p *proc)
}

// onTmpfs mounts a tmpfs of 24 MiB (which needs the right to mount: root, as in a CI
// container), moves the data directory's store onto it and returns the new directory;
// fill adds ballast that leaves 128 KiB, makeRoom removes it. nil if no mount is allowed.
func onTmpfs(t *testing.T, dataDir string) (*fullDisk, string) {
	t.Helper()
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Logf("cannot mount a tmpfs (%v: %s)", err, bytes.TrimSpace(out))
		return nil, ""
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "--lazy", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	to := filepath.Join(mnt, "data")
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(dataDir, journal.FileName), filepath.Join(to, journal.FileName))
	ballast := filepath.Join(mnt, "ballast")
	return &fullDisk{errno: syscall.ENOSPC.Error(),
		fill: func(t *testing.T, _ *proc) {
			var st syscall.Statfs_t
			if err := syscall.Statfs(mnt, &st); err != nil {
				t.Fatal(err)
			}
			free := int64(st.Bavail)*st.Bsize - 128<<10
			if err := os.WriteFile(ballast, make([]byte, max(free, 0)), 0o600); err != nil && !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
		},
		makeRoom: func(t *testing.T, _ *proc) {
			if err := os.Remove(ballast); err != nil {
				t.Fatal(err)
			}
		}}, to
}

// withFileSizeLimit sets the running server's RLIMIT_FSIZE to its store's size with
// util-linux prlimit, so the store cannot grow (EFBIG; Go ignores the SIGXFSZ), and lifts
// it again. Lowering a limit of one's own process and raising it back to the hard limit
// needs no privilege. nil without prlimit.
func withFileSizeLimit(t *testing.T, dataDir string) *fullDisk {
	t.Helper()
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Logf("no prlimit: %v", err)
		return nil
	}
	run := func(t *testing.T, args ...string) {
		if out, err := exec.Command(prlimit, args...).CombinedOutput(); err != nil {
			t.Fatalf("prlimit %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return &fullDisk{errno: syscall.EFBIG.Error(),
		fill: func(t *testing.T, p *proc) {
			fi, err := os.Stat(filepath.Join(dataDir, journal.FileName))
			if err != nil {
				t.Fatal(err)
			}
			run(t, "--pid", strconv.Itoa(p.cmd.Process.Pid), fmt.Sprintf("--fsize=%d:unlimited", fi.Size()))
		},
		makeRoom: func(t *testing.T, p *proc) {
			run(t, "--pid", strconv.Itoa(p.cmd.Process.Pid), "--fsize=unlimited:unlimited")
		}}
}

// crashPostAlliance posts one new MI Alliance and returns the status, and the id of a 201.
func crashPostAlliance(t *testing.T, c *cluster, participant string) (int, string) {
	t.Helper()
	body := fmt.Sprintf(`{"participants":[{"name":%q}],"goals":[{"category":%q}],"signed_on":"2024-03-15"}`, participant, outreachCode)
	req, err := http.NewRequest(http.MethodPost, c.nodeURL+"/v1/alliances", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.clerk)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("POST /v1/alliances: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	switch {
	case resp.StatusCode == http.StatusCreated:
		var a struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &a); err != nil || a.ID == "" {
			t.Fatalf("201 answer %s: %v", raw, err)
		}
		return resp.StatusCode, a.ID
	case resp.StatusCode >= 500:
		if !strings.Contains(resp.Header.Get("Content-Type"), "problem+json") {
			t.Errorf("a %d that is not a problem: %s", resp.StatusCode, raw)
		}
		return resp.StatusCode, ""
	}
	t.Fatalf("POST /v1/alliances: %d %s", resp.StatusCode, raw)
	return 0, ""
}

// createUntilRefused posts new Alliances until one is answered 5xx, and returns the
// ids acknowledged before it.
func createUntilRefused(t *testing.T, c *cluster, tag string) []string {
	t.Helper()
	var ids []string
	for i := range 20000 {
		status, id := crashPostAlliance(t, c, fmt.Sprintf("Full Disk %s Partner %05d", tag, i))
		if status != http.StatusCreated {
			t.Logf("%d created, then %d", len(ids), status)
			return ids
		}
		ids = append(ids, id)
	}
	t.Fatal("20,000 Alliances created; the disk never filled")
	return nil
}

// crashCSV is a CSV file of n rows named after tag.
func crashCSV(tag string, n int) string {
	var b strings.Builder
	b.WriteString("participant,signed_on,goal_categories\n")
	for i := range n {
		fmt.Fprintf(&b, "%s %05d,2024-02-%02d,outreach-communication\n", tag, i, 1+i%28)
	}
	return b.String()
}

// TestFullDisk: a node, then a hub, whose disk fills. The node answers the write that
// does not fit 5xx with a problem, and an import stops with its error line; once there
// is room it writes again, without a restart; after kill -9 and a restart it holds
// exactly what it acknowledged (nothing refused turns up). The hub answers the push that
// does not fit 5xx; the node's run retries and completes once there is room; after
// kill -9 of the hub, hub and node converge. Run on a tmpfs of 24 MiB (ENOSPC) when the
// machine allows a mount, and with RLIMIT_FSIZE set by prlimit on the running server
// (EFBIG) when util-linux is there; skipped when neither is possible.
func TestFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("storage faults: skipped with -short")
	}
	for _, variant := range []string{"tmpfs", "RLIMIT_FSIZE"} {
		t.Run(variant, func(t *testing.T) {
			c := startCluster(t)
			importAlliances(t, c.nodeURL, c.clerk, "MI", 50)
			syncNode(t, c.nodeURL, c.clerk)
			var nodeDisk, hubDisk *fullDisk
			if variant == "tmpfs" {
				c.node.kill(t)
				c.hub.kill(t)
				if nodeDisk, c.nodeData = onTmpfs(t, c.nodeData); nodeDisk == nil {
					t.Skip("cannot mount a tmpfs here")
				}
				hubDisk, c.hubData = onTmpfs(t, c.hubData)
				c.startHub()
				c.startNode()
			} else {
				if nodeDisk = withFileSizeLimit(t, c.nodeData); nodeDisk == nil {
					t.Skip("no prlimit here")
				}
				hubDisk = withFileSizeLimit(t, c.hubData)
			}

			// The node's disk fills.
			acked := nodeRevs(t, c.nodeURL, c.clerk)
			nodeDisk.fill(t, c.node)
			for _, id := range createUntilRefused(t, c, variant) {
				acked[id] = ""
			}
			waitOutput(t, c.node, nodeDisk.errno)
			last := streamImport(t, c.nodeURL, c.clerk, crashCSV("Full Disk Import", 600), func(l crashImportLine) bool {
				if l.Outcome == "imported" {
					acked[l.ID] = ""
				}
				return true
			})
			if last == nil || !strings.Contains(last.Error, "could not store the rows") {
				t.Errorf("import on a full disk ended %+v; want its error line", last)
			}
			if status, _ := crashPostAlliance(t, c, "Full Disk Still Full"); status < 500 {
				t.Errorf("still full: %d", status)
			}
			nodeDisk.makeRoom(t, c.node)
			status, id := crashPostAlliance(t, c, "Full Disk Room Again")
			if status != http.StatusCreated {
				t.Fatalf("with room again the node answered %d", status)
			}
			acked[id] = ""
			c.node.kill(t)
			c.startNode()
			held := nodeRevs(t, c.nodeURL, c.clerk)
			for id := range acked {
				if _, ok := held[id]; !ok {
					t.Errorf("node: %s was acknowledged, and is gone after the restart", id)
				}
			}
			if len(held) != len(acked) {
				t.Errorf("node holds %d Alliances after the restart; it acknowledged %d", len(held), len(acked))
			}

			// The hub's disk fills: the push is refused, the run retries.
			importAlliances(t, c.nodeURL, c.clerk, "MI-late", 600)
			cp, _ := c.hubSync("MI")
			hubDisk.fill(t, c.hub)
			retries := strings.Count(c.node.output.String(), "push failed; retrying")
			s := startSync(t, c.nodeURL, c.clerk)
			waitFor(t, "the node retrying a push the hub refused", func() bool {
				return strings.Count(c.node.output.String(), "push failed; retrying") > retries
			})
			waitOutput(t, c.hub, hubDisk.errno)
			if now, _ := c.hubSync("MI"); now != cp {
				t.Errorf("hub: MI checkpoint moved from %d to %d on a full disk", cp, now)
			}
			hubDisk.makeRoom(t, c.hub)
			res := finishSync(t, s)
			t.Logf("sync across the hub's full disk: %+v", res)
			c.hub.kill(t)
			c.startHub()
			checkConverged(t, c, nodeRevs(t, c.nodeURL, c.clerk))
		})
	}
}

// ---------------------------------------------------------------------------
// TestFsyncErrors: fdatasync fails, from the kernel.
//
// faultyExec starts a server whose fdatasync calls the test answers: the test binary
// runs itself with faultyExecEnv set; its init (below) installs a seccomp filter that
// turns every fdatasync into a notification (SECCOMP_RET_USER_NOTIF), hands the filter's
// listener to the test over a socket, and execs the alliancehub binary, which inherits
// the filter. The test then lets each fdatasync go ahead (SECCOMP_USER_NOTIF_FLAG_CONTINUE)
// or fail with EIO, as a failing disk would. Nothing in the production code knows.

// faultyExecEnv holds the binary the test binary execs under the filter.
const faultyExecEnv = "CRASH_TEST_FAULTY_EXEC"

func init() {
	if bin := os.Getenv(faultyExecEnv); bin != "" {
		faultyExecChild(bin) // does not return
	}
}

// seccomp's constants (linux/seccomp.h, linux/filter.h).
const (
	prSetNoNewPrivs     = 38
	seccompSetModeFiltr = 1
	seccompNewListener  = 1 << 3
	retAllow            = 0x7fff0000
	retUserNotif        = 0x7fc00000
	ioctlNotifRecv      = 0xc0502100 // _IOWR('!', 0, struct seccomp_notif), 80 bytes
	ioctlNotifSend      = 0xc0182101 // _IOWR('!', 1, struct seccomp_notif_resp), 24 bytes
	notifContinue       = 1          // SECCOMP_USER_NOTIF_FLAG_CONTINUE
	bpfLdAbsW           = 0x20
	bpfJeqK             = 0x15
	bpfRetK             = 0x06
	sysFdatasyncAMD64   = 75
	sysFdatasyncARM64   = 83
)

type sockFilter struct {
	code   uint16
	jt, jf uint8
	k      uint32
}

type sockFprog struct {
	len    uint16
	filter *sockFilter
}

type seccompNotif struct {
	id    uint64
	pid   uint32
	flags uint32
	nr    int32
	arch  uint32
	ip    uint64
	args  [6]uint64
}

type seccompNotifResp struct {
	id    uint64
	val   int64
	error int32
	flags uint32
}

// faultyExecChild is the test binary as the helper: filter, hand over, exec. Any
// failure exits 3 with a line saying what, and the test skips.
func faultyExecChild(bin string) {
	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "faulty exec: "+format+"\n", args...)
		os.Exit(3)
	}
	var nr uintptr
	var arch uint32
	var fdatasync uint32
	switch runtime.GOARCH {
	case "amd64":
		nr, arch, fdatasync = 317, 0xc000003e, sysFdatasyncAMD64
	case "arm64":
		nr, arch, fdatasync = 277, 0xc00000b7, sysFdatasyncARM64
	default:
		fail("no seccomp constants for %s", runtime.GOARCH)
	}
	runtime.LockOSThread() // the filter is this thread's; exec keeps the calling thread's
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRCTL, prSetNoNewPrivs, 1, 0, 0, 0, 0); e != 0 {
		fail("prctl(PR_SET_NO_NEW_PRIVS): %v", e)
	}
	prog := []sockFilter{
		{bpfLdAbsW, 0, 0, 4}, // seccomp_data.arch
		{bpfJeqK, 1, 0, arch},
		{bpfRetK, 0, 0, retAllow},
		{bpfLdAbsW, 0, 0, 0}, // seccomp_data.nr
		{bpfJeqK, 0, 1, fdatasync},
		{bpfRetK, 0, 0, retUserNotif},
		{bpfRetK, 0, 0, retAllow},
	}
	fprog := sockFprog{len: uint16(len(prog)), filter: &prog[0]}
	fd, _, e := syscall.RawSyscall(nr, seccompSetModeFiltr, seccompNewListener, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if e != 0 {
		fail("seccomp(SECCOMP_SET_MODE_FILTER, NEW_LISTENER): %v", e)
	}
	if err := syscall.Sendmsg(3, []byte{1}, syscall.UnixRights(int(fd)), nil, 0); err != nil {
		fail("handing over the listener: %v", err)
	}
	syscall.Close(3)
	syscall.Close(int(fd))
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, faultyExecEnv+"=") {
			env = append(env, kv)
		}
	}
	err := syscall.Exec(bin, append([]string{bin}, os.Args[1:]...), env)
	fail("exec %s: %v", bin, err)
}

// fsyncMode is what the supervisor does with the next fdatasync.
type fsyncMode int32

const (
	fsyncPass     fsyncMode = iota // every fdatasync goes ahead
	fsyncFailAll                   // every fdatasync fails: a commit fails at its data pages' fsync, before its meta page is written
	fsyncFailMeta                  // the second fdatasync from now fails, once: the next commit's meta page is in the page cache when its fsync fails
)

// faultyFsync is a server started by faultyExec and its supervisor.
type faultyFsync struct {
	mode        atomic.Int32
	calls       atomic.Int32 // fdatasync calls since the mode was set
	failed      atomic.Int32 // calls failed in all
	unsupported atomic.Pointer[error]
	done        chan struct{}
}

func (f *faultyFsync) set(m fsyncMode) {
	f.calls.Store(0)
	f.mode.Store(int32(m))
}

// faultyExec starts the binary with args under the filter, as startProc starts it, and
// waits until it answers at baseURL.
func faultyExec(t *testing.T, name, baseURL string, args ...string) (*proc, *faultyFsync) {
	t.Helper()
	bin := binary(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours, theirs := fds[0], os.NewFile(uintptr(fds[1]), "listener socket")
	p := &proc{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(self, args...)
	p.cmd.Env = childEnv(faultyExecEnv + "=" + bin)
	p.cmd.Stdout, p.cmd.Stderr = &p.output, &p.output
	p.cmd.ExtraFiles = []*os.File{theirs}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	theirs.Close()
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	f := &faultyFsync{done: make(chan struct{})}
	t.Cleanup(func() {
		p.kill(t)
		<-f.done
		if t.Failed() {
			t.Logf("%s (pid %d, alliancehub %s, fdatasync filtered) output:\n%s", name, p.cmd.Process.Pid, strings.Join(args, " "), p.output.String())
		}
	})
	got := make(chan int, 1)
	go func() {
		defer syscall.Close(ours)
		buf, oob := make([]byte, 1), make([]byte, syscall.CmsgSpace(4))
		_, oobn, _, _, err := syscall.Recvmsg(ours, buf, oob, 0)
		if err != nil {
			got <- -1
			return
		}
		msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			got <- -1
			return
		}
		fds, err := syscall.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			got <- -1
			return
		}
		got <- fds[0]
	}()
	var listener int
	select {
	case listener = <-got:
	case <-p.done:
		listener = -1
	case <-time.After(readyTimeout):
		t.Fatalf("%s: no seccomp listener within %s", name, readyTimeout)
	}
	if listener < 0 {
		<-p.done
		close(f.done)
		if strings.Contains(p.output.String(), "faulty exec:") {
			t.Skipf("cannot filter fdatasync here: %s", strings.TrimSpace(p.output.String()))
		}
		t.Fatalf("%s: no seccomp listener; output:\n%s", name, p.output.String())
	}
	go f.supervise(listener, p.done)
	client := &http.Client{Timeout: 2 * time.Second}
	for range readyPolls {
		if err := f.unsupported.Load(); err != nil {
			t.Skipf("cannot answer seccomp notifications here: %v", *err)
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before it was ready (%v); output:\n%s", name, p.err, p.output.String())
		default:
		}
		if resp, err := client.Get(baseURL + "/readyz"); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, f
			}
		}
		time.Sleep(readyPoll)
	}
	t.Fatalf("%s not ready at %s/readyz; output:\n%s", name, baseURL, p.output.String())
	return nil, nil
}

// supervise answers the server's fdatasync calls by the mode, until the server is gone.
func (f *faultyFsync) supervise(fd int, exited <-chan struct{}) {
	defer close(f.done)
	defer syscall.Close(fd)
	for {
		select {
		case <-exited:
			return
		default:
		}
		pfd := struct {
			fd              int32
			events, revents int16
		}{fd: int32(fd), events: 1} // POLLIN
		ts := syscall.Timespec{Nsec: int64(50 * time.Millisecond)}
		n, _, _ := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		if n == 0 || pfd.revents&1 == 0 {
			if pfd.revents&0x18 != 0 { // POLLHUP, POLLERR: the filter has no process left
				return
			}
			continue
		}
		var notif seccompNotif
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), ioctlNotifRecv, uintptr(unsafe.Pointer(&notif))); e != 0 {
			continue
		}
		resp := seccompNotifResp{id: notif.id, flags: notifContinue}
		call := f.calls.Add(1)
		switch fsyncMode(f.mode.Load()) {
		case fsyncFailAll:
			resp = seccompNotifResp{id: notif.id, error: -int32(syscall.EIO)}
		case fsyncFailMeta:
			if call == 2 {
				resp = seccompNotifResp{id: notif.id, error: -int32(syscall.EIO)}
				f.mode.Store(int32(fsyncPass))
			}
		}
		if resp.error != 0 {
			f.failed.Add(1)
		}
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), ioctlNotifSend, uintptr(unsafe.Pointer(&resp))); e != 0 {
			// A kernel before 5.5 cannot let a call go ahead; closing the listener (the
			// deferred Close) fails the waiting call with ENOSYS.
			err := fmt.Errorf("SECCOMP_IOCTL_NOTIF_SEND: %v", e)
			f.unsupported.Store(&err)
			return
		}
	}
}

// TestFsyncErrors: a node, then a hub, whose fdatasync fails with EIO.
//
// Every fdatasync failing: bbolt fails the commit at its data pages' fsync, before it
// writes its meta page, and forgets the transaction. The node answers 5xx (and an import
// stops with its error line), writes nothing, and carries on once fsync works again; the
// hub answers the push 5xx, the node's run retries and completes once fsync works.
//
// Only a commit's meta page fsync failing: the new meta page is already in the page
// cache, which bbolt reads through its map, so the "failed" transaction is what the next
// one would build on; the journal then refuses every later read and write
// (journal.ErrNotDurable), the server answers 5xx until restarted, and after kill -9 and
// a restart the record is there whole (the page cache kept it) or not at all. Either way
// it was never acknowledged, everything acknowledged is there, and hub and node converge
// with each revision stored once.
func TestFsyncErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("storage faults: skipped with -short")
	}
	c := startCluster(t)
	nodeArgs := []string{"node", "--program", "MI", "--addr", c.nodeAddr, "--data", c.nodeData, "--key", c.miKey,
		"--hub", c.hubURL, "--sync-at", c.syncAt, "--sync-catch-up=false"}
	c.node.kill(t)
	var fs *faultyFsync
	c.node, fs = faultyExec(t, "node MI", c.nodeURL, nodeArgs...)

	acked := map[string]bool{}
	for i := range 5 {
		acked[c.create(fmt.Sprintf("Fsync Partner %d", i), "2024-04-10").ID] = true
	}

	// Every fdatasync fails: nothing is written, the node carries on afterwards.
	fs.set(fsyncFailAll)
	if status, _ := crashPostAlliance(t, c, "Fsync Refused Partner"); status < 500 {
		t.Errorf("node answered %d to a write whose fsync failed", status)
	}
	last := streamImport(t, c.nodeURL, c.clerk, crashCSV("Fsync Refused Import", 20), func(l crashImportLine) bool {
		if l.Outcome == "imported" {
			t.Errorf("line %d imported although fsync fails", l.Line)
		}
		return true
	})
	if last == nil || last.Error == "" {
		t.Errorf("import while fsync fails ended %+v; want its error line", last)
	}
	fs.set(fsyncPass)
	acked[c.create("Fsync Partner After", "2024-04-11").ID] = true
	if n := len(nodeRevs(t, c.nodeURL, c.clerk)); n != len(acked) {
		t.Errorf("node lists %d Alliances, want the %d acknowledged", n, len(acked))
	}

	// Only the meta page's fsync fails: the node refuses everything until restarted.
	fs.set(fsyncFailMeta)
	if status, _ := crashPostAlliance(t, c, "Fsync Meta Partner"); status < 500 {
		t.Errorf("node answered %d to a write whose meta fsync failed", status)
	}
	if status, _ := crashPostAlliance(t, c, "Fsync Next Partner"); status < 500 {
		t.Errorf("node answered %d after a failed meta fsync; want 5xx until restarted", status)
	}
	waitOutput(t, c.node, "could not be made durable")
	if n := fs.failed.Load(); n < 2 {
		t.Errorf("%d fdatasync calls failed, want at least 2", n)
	}
	c.node.kill(t)
	c.startNode() // no filter
	held := nodeRevs(t, c.nodeURL, c.clerk)
	for id := range acked {
		if _, ok := held[id]; !ok {
			t.Errorf("node: acknowledged %s is gone after the restart", id)
		}
	}
	for id := range held {
		if acked[id] {
			continue
		}
		var a struct {
			Participants []struct {
				Name string `json:"name"`
			} `json:"participants"`
		}
		call(t, http.MethodGet, c.nodeURL+"/v1/alliances/"+id, c.clerk, nil, http.StatusOK, &a)
		if len(a.Participants) != 1 || a.Participants[0].Name != "Fsync Meta Partner" {
			t.Errorf("node: %s (%+v) after the restart was never acknowledged, and is not the write whose meta fsync failed", id, a)
		} else {
			t.Logf("node: the write whose meta fsync failed is there after the restart, whole (the page cache kept it); it was answered 5xx")
		}
	}

	// The hub: every fdatasync failing refuses the push; the run retries.
	c.hub.kill(t)
	var hs *faultyFsync
	c.hub, hs = faultyExec(t, "hub", c.hubURL, "hub", "--addr", c.hubAddr, "--data", c.hubData, "--key", c.hubKey)
	retried := func() int { return strings.Count(c.node.output.String(), "push failed; retrying") }
	hs.set(fsyncFailAll)
	before := retried()
	s := startSync(t, c.nodeURL, c.clerk)
	waitFor(t, "the node retrying a push whose fsync failed at the hub", func() bool { return retried() > before })
	if cp, _ := c.hubSync("MI"); cp != 0 {
		t.Errorf("hub: MI checkpoint %d while every fsync fails", cp)
	}
	hs.set(fsyncPass)
	res := finishSync(t, s)
	t.Logf("sync across failing fsyncs at the hub: %+v", res)
	checkConverged(t, c, nodeRevs(t, c.nodeURL, c.clerk))

	// The hub: a push whose meta fsync fails; the hub refuses everything until it is
	// killed and restarted; the run then completes.
	for i := range 5 {
		c.create(fmt.Sprintf("Fsync Hub Partner %d", i), "2024-05-10")
	}
	hs.set(fsyncFailMeta)
	before = retried()
	s = startSync(t, c.nodeURL, c.clerk)
	waitFor(t, "the node retrying a push whose meta fsync failed at the hub", func() bool { return retried() > before+1 })
	waitOutput(t, c.hub, "could not be made durable")
	c.hub.kill(t)
	c.startHub() // no filter
	res = finishSync(t, s)
	if res.Pushed != 5 || res.Accepted+res.Duplicate != 5 {
		t.Errorf("sync across the hub's failed meta fsync: %+v; want 5 pushed, each accepted or (stored by the failed commit) duplicate", res)
	}
	t.Logf("sync across the hub's failed meta fsync and restart: %+v", res)
	checkConverged(t, c, nodeRevs(t, c.nodeURL, c.clerk))
}
