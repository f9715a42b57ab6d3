package main

// The schedule of a node process on an injected clock (issue 4): hub and node run as
// processes of the built binary with ALLIANCEHUB_TEST_CLOCK naming a file that holds
// their time (testclock.go). The test moves time by rewriting the file to the moment
// the node says its next run is due (next_run in GET /v1/sync/status), so days pass in
// seconds, nothing sleeps, and every time the test checks is exact: the frozen clock
// moves only when the test moves it.

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

// clockFile is the file the processes read their time from.
type clockFile struct {
	t    *testing.T
	path string
	now  time.Time
}

// set replaces the file whole (written beside it, then renamed), so no process reads
// half a time.
func (f *clockFile) set(at time.Time) {
	f.t.Helper()
	tmp := f.path + ".next"
	if err := os.WriteFile(tmp, []byte(at.UTC().Format(time.RFC3339Nano)), 0o600); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Rename(tmp, f.path); err != nil {
		f.t.Fatal(err)
	}
	f.now = at
}

// schedStatus is the part of the node's GET /v1/sync/status the schedule shows.
type schedStatus struct {
	NextRun       *time.Time `json:"next_run"`
	LastSuccessAt *time.Time `json:"last_success_at"`
	LastError     string     `json:"last_error"`
	Outbox        uint64     `json:"outbox"`
	LastRun       *struct {
		StartedAt time.Time       `json:"started_at"`
		Result    wire.SyncResult `json:"result"`
	} `json:"last_run"`
}

// hubProgram is what the hub's GET /v1/programs says of one program's sync.
type hubProgram struct {
	LastPushAt *time.Time `json:"last_push_at"`
	LastPullAt *time.Time `json:"last_pull_at"`
	StaleSince *time.Time `json:"stale_since"`
}

// TestScheduleOnInjectedClock: a node process that has never synced catches up within a
// minute of its start; then it syncs nightly at --sync-at in Michigan's time zone, within
// the 15 minutes of jitter; stopped for 37 hours, it is stale at the hub from the moment
// 36 hours ran out, and once started again it catches up within a minute (its last
// success is over a day old) and is stale no more; with --sync-every 2h it also syncs 2
// hours (plus up to a tenth) after its last run. Each run is the one the schedule said,
// at the time it said, and pushes what was written since the last.
func TestScheduleOnInjectedClock(t *testing.T) {
	cat, err := schema.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	mi, _ := cat.Get("MI")
	loc := mi.Location()
	// The processes' clock starts at the next 09:00 in Michigan (after the real time, so
	// the tokens the CLI mints on the real clock are already valid); the nightly sync is
	// at 15:00.
	realNow := time.Now().In(loc)
	t0 := time.Date(realNow.Year(), realNow.Month(), realNow.Day(), 9, 0, 0, 0, loc)
	for !t0.After(realNow.Add(time.Minute)) {
		t0 = t0.AddDate(0, 0, 1)
	}
	const syncAt = "15:00"
	nightlyAfter := func(after time.Time) time.Time {
		local := after.In(loc)
		n := time.Date(local.Year(), local.Month(), local.Day(), 15, 0, 0, 0, loc)
		if !n.After(after) {
			n = time.Date(local.Year(), local.Month(), local.Day()+1, 15, 0, 0, 0, loc)
		}
		return n
	}
	clk := &clockFile{t: t, path: filepath.Join(t.TempDir(), "clock")}
	clk.set(t0)

	c := startClusterEnv(t, []string{testClockEnv + "=" + clk.path})
	// Tokens that stay valid over the days the clock moves on.
	c.admin = token(t, "--key", c.hubKey, "--role", "admin", "--subject", "t", "--ttl", "720h")
	c.analyst = token(t, "--key", c.hubKey, "--role", "analyst", "--subject", "analyst", "--ttl", "720h")
	c.clerk = token(t, "--key", c.miKey, "--role", "program", "--program", "MI", "--subject", "clerk", "--ttl", "720h")

	startNode := func(extra ...string) {
		t.Helper()
		c.node.kill(t)
		args := append([]string{"node", "--program", "MI", "--addr", c.nodeAddr, "--data", c.nodeData,
			"--key", c.miKey, "--hub", c.hubURL, "--sync-at", syncAt}, extra...)
		c.node = startProcEnv(t, "node MI", c.env, args...)
		c.node.waitReady(t, c.nodeURL)
	}
	status := func() schedStatus {
		t.Helper()
		var st schedStatus
		call(t, http.MethodGet, c.nodeURL+"/v1/sync/status", c.clerk, nil, http.StatusOK, &st)
		return st
	}
	program := func() hubProgram {
		t.Helper()
		var page struct {
			Items []struct {
				Code string     `json:"code"`
				Sync hubProgram `json:"sync"`
			} `json:"items"`
		}
		call(t, http.MethodGet, c.hubURL+"/v1/programs", c.admin, nil, http.StatusOK, &page)
		for _, p := range page.Items {
			if p.Code == "MI" {
				return p.Sync
			}
		}
		t.Fatal("hub: MI is not enrolled")
		return hubProgram{}
	}
	// nextRun is the run the node's schedule waits for; within fails unless it lies in
	// [from+lo, from+hi).
	nextRun := func() time.Time {
		t.Helper()
		st := status()
		if st.NextRun == nil {
			t.Fatalf("sync status without next_run: %+v", st)
		}
		return *st.NextRun
	}
	within := func(what string, at, from time.Time, lo, hi time.Duration) {
		t.Helper()
		if d := at.Sub(from); d < lo || d >= hi {
			t.Errorf("%s at %s: %s after %s, want from %s to %s", what, at.In(loc), d, from.In(loc), lo, hi)
		}
	}
	// fire moves the clock to the run that is due and waits, bounded, for the node to
	// show its next one; the run must have started then and succeeded with want.
	fire := func(what string, at time.Time, want wire.SyncResult) schedStatus {
		t.Helper()
		clk.set(at)
		var st schedStatus
		waitFor(t, what+": the run to end", func() bool {
			st = status()
			return st.NextRun != nil && !st.NextRun.Equal(at)
		})
		if st.LastRun == nil || !st.LastRun.StartedAt.Equal(at) {
			t.Fatalf("%s: last run %+v, want one started at %s", what, st.LastRun, at)
		}
		if diff := cmp.Diff(want, st.LastRun.Result); diff != "" {
			t.Errorf("%s (-want +got):\n%s", what, diff)
		}
		if st.LastSuccessAt == nil || !st.LastSuccessAt.Equal(at) || st.LastError != "" || st.Outbox != 0 {
			t.Errorf("%s: last success %v, last error %q, outbox %d; want %s, none, 0", what, st.LastSuccessAt, st.LastError, st.Outbox, at)
		}
		return st
	}

	// 1. Never synced: a catch-up within a minute of the start.
	importAlliances(t, c.nodeURL, c.clerk, "MI", 5)
	startNode()
	started := clk.now
	catchUp := nextRun()
	within("the catch-up of a node that never synced", catchUp, started, 0, time.Minute)
	fire("the catch-up", catchUp, wire.SyncResult{Pushed: 5, Accepted: 5, Pulled: 5})

	// 2. Nightly at 15:00 Michigan time, up to 15 minutes later.
	nightly := nextRun()
	within("the nightly run", nightly, nightlyAfter(catchUp), 0, 15*time.Minute)
	importAlliances(t, c.nodeURL, c.clerk, "MI-night", 3)
	fire("the nightly run", nightly, wire.SyncResult{Pushed: 3, Accepted: 3, Pulled: 3})
	within("the next night's run", nextRun(), nightlyAfter(nightly), 0, 15*time.Minute)
	if p := program(); p.LastPushAt == nil || !p.LastPushAt.Equal(nightly) || p.StaleSince != nil {
		t.Errorf("hub: MI last push %v, stale since %v; want %s and not stale", p.LastPushAt, p.StaleSince, nightly)
	}

	// 3. The node stopped: stale at the hub 36 hours after its last contact; once it is
	// back it catches up, its last success being over a day old.
	importAlliances(t, c.nodeURL, c.clerk, "MI-away", 2) // written before it stops: they wait
	c.node.kill(t)
	clk.set(nightly.Add(35 * time.Hour))
	if p := program(); p.StaleSince != nil {
		t.Errorf("hub after 35 hours: MI stale since %s, want not stale", p.StaleSince)
	}
	clk.set(nightly.Add(37 * time.Hour))
	if p := program(); p.StaleSince == nil || !p.StaleSince.Equal(nightly.Add(36*time.Hour)) {
		t.Errorf("hub after 37 hours: MI stale since %v, want %s", p.StaleSince, nightly.Add(36*time.Hour))
	}
	startNode()
	restarted := clk.now
	catchUp = nextRun()
	within("the catch-up after 37 hours", catchUp, restarted, 0, time.Minute)
	fire("the catch-up after 37 hours", catchUp, wire.SyncResult{Pushed: 2, Accepted: 2, Pulled: 2})
	if p := program(); p.StaleSince != nil || p.LastPullAt == nil || !p.LastPullAt.Equal(catchUp) {
		t.Errorf("hub after the catch-up: MI stale since %v, last pull %v; want not stale, %s", p.StaleSince, p.LastPullAt, catchUp)
	}
	within("the nightly run after the catch-up", nextRun(), nightlyAfter(catchUp), 0, 15*time.Minute)

	// 4. --sync-every 2h: a run 2 hours (plus up to 12 minutes) after the start, then
	// after the end of each run, before the night's.
	startNode("--sync-every", "2h")
	restarted = clk.now
	every := nextRun()
	within("the first --sync-every run", every, restarted, 2*time.Hour, 2*time.Hour+12*time.Minute)
	importAlliances(t, c.nodeURL, c.clerk, "MI-every", 1)
	fire("the --sync-every run", every, wire.SyncResult{Pushed: 1, Accepted: 1, Pulled: 1})
	within("the next --sync-every run", nextRun(), every, 2*time.Hour, 2*time.Hour+12*time.Minute)

	checkConverged(t, c, nodeRevs(t, c.nodeURL, c.clerk))
}
