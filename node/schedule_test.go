package node_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/node"
)

// fakeClock is the schedule's clock in these tests (node.Config Now and After): time
// moves only when the test fires a wait, and every wait the schedule starts is handed to
// the test, so a test about nights and hours runs in milliseconds, without sleeping and
// without timed assertions.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits chan fakeWait
}

// fakeWait is one wait of the schedule: until at.
type fakeWait struct {
	at time.Time
	c  chan time.Time
}

func newFakeClock() *fakeClock {
	// The hub and node check tokens and batches against this clock, and the hub
	// enrolls keys with tokens minted on the real one: start at the real time.
	return &fakeClock{now: time.Now(), waits: make(chan fakeWait, 64)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.waits <- fakeWait{at: c.Now().Add(d), c: ch}
	return ch
}

// next is the schedule's next wait. The bound only keeps a broken schedule from hanging
// the test run; nothing depends on how long the wait takes to appear.
func (c *fakeClock) next(t *testing.T) fakeWait {
	t.Helper()
	select {
	case w := <-c.waits:
		return w
	case <-time.After(30 * time.Second):
		t.Fatal("the schedule started no wait")
		return fakeWait{}
	}
}

// fire moves the clock to the end of w and ends it.
func (c *fakeClock) fire(w fakeWait) {
	c.set(w.at)
	w.c <- w.at
}

// front is a hub behind a proxy that counts the pushes it passes on, fails every request
// while down, and can hold the first push until released.
type front struct {
	URL     string
	pushes  atomic.Int32 // pushes that reached the hub
	down    atomic.Bool
	hold    atomic.Bool   // hold the next push until release is closed
	arrived chan struct{} // closed when a held push has arrived
	release chan struct{}
}

func newFront(t *testing.T, h *hubtest.Hub) *front {
	t.Helper()
	target, _ := url.Parse(h.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	f := &front{arrived: make(chan struct{}), release: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.down.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		if r.URL.Path == "/v1/sync/push" {
			if f.hold.CompareAndSwap(true, false) {
				close(f.arrived)
				<-f.release
			}
			f.pushes.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// logTap passes the schedule's log messages to a channel.
type logTap chan string

func (l logTap) Enabled(context.Context, slog.Level) bool { return true }
func (l logTap) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l logTap) WithGroup(string) slog.Handler            { return l }
func (l logTap) Handle(_ context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "scheduled sync") || strings.HasPrefix(r.Message, "catching up") {
		select {
		case l <- r.Message:
		default:
		}
	}
	return nil
}

// waitLog waits for the schedule to log a message starting with prefix.
func (l logTap) waitLog(t *testing.T, prefix string) {
	t.Helper()
	for {
		select {
		case m := <-l:
			if strings.HasPrefix(m, prefix) {
				return
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("the schedule did not log %q", prefix)
		}
	}
}

// scheduled is a node whose schedule runs on a fake clock, with its hub behind a front.
type scheduled struct {
	*hubtest.Node
	clk   *fakeClock
	front *front
	logs  logTap
	start func() // starts Run: the schedule reads the sync status then
}

// startScheduled starts a hub and an MI node on one fake clock, with the nightly sync
// about twelve hours away, no nightly jitter, and a retry budget that gives up at once
// on a failed push instead of sleeping. The schedule starts with s.start.
func startScheduled(t *testing.T, opts ...hubtest.NodeOption) *scheduled {
	t.Helper()
	clk := newFakeClock()
	h := hubtest.StartHub(t, clk.Now)
	f := newFront(t, h)
	logs := make(logTap, 256)
	detroit, _ := time.LoadLocation("America/Detroit")
	base := []hubtest.NodeOption{func(c *node.Config) {
		c.HubURL = f.URL
		c.Now, c.After = clk.Now, clk.After
		c.SyncAt = clk.Now().In(detroit).Add(12 * time.Hour).Format("15:04")
		c.SyncJitter = -1
		c.Retry = node.RetryPolicy{Initial: time.Hour, Max: time.Hour, Budget: time.Millisecond}
		c.Log = slog.New(logs)
	}}
	mi := hubtest.StartNode(t, h, "MI", append(base, opts...)...)
	s := &scheduled{Node: mi, clk: clk, front: f, logs: logs}
	s.start = func() {
		ctx, cancel := context.WithCancel(context.Background())
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- mi.Run(ctx, ln) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("Run: %v", err)
			}
		})
	}
	return s
}

// create stores one new Alliance through the API, with a token valid on the fake clock.
func (s *scheduled) create(t *testing.T, participant string) {
	t.Helper()
	tok, err := auth.MintToken(s.Key, auth.TokenRequest{Subject: "clerk", Role: auth.RoleProgram, Program: "MI",
		TTL: time.Hour, Now: s.clk.Now()})
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(agc, "Associated General Contractors of Michigan", participant, 1)
	if resp, b := hubtest.Do(t, http.MethodPost, s.URL+"/v1/alliances", tok, []byte(body)); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
}

func (s *scheduled) status(t *testing.T) *node.SyncStatus {
	t.Helper()
	st, err := s.Status()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// checkNextRun: GET /v1/sync/status shows the wait the schedule is in as next_run.
func (s *scheduled) checkNextRun(t *testing.T, w fakeWait) {
	t.Helper()
	if st := s.status(t); st.NextRun == nil || !st.NextRun.Equal(w.at) {
		t.Errorf("next_run = %v, want %s", st.NextRun, w.at)
	}
}

// within fails unless at is in [from+lo, from+hi].
func within(t *testing.T, what string, at, from time.Time, lo, hi time.Duration) {
	t.Helper()
	if d := at.Sub(from); d < lo || d > hi {
		t.Errorf("%s %s after the last run, want between %s and %s", what, d, lo, hi)
	}
}

func TestNextRunAcrossDSTAndMidnight(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	detroit, _ := time.LoadLocation("America/Detroit")
	la, _ := time.LoadLocation("America/Los_Angeles")
	type tc struct {
		name      string
		syncAt    string
		now, want time.Time
	}
	// In 2026 the clocks spring forward at 02:00 on 8 March and fall back at 02:00 on
	// 1 November, in both zones.
	cases := map[string][]tc{"MI": {
		{"spring forward: a time in the gap runs when the gap ends", "02:30",
			time.Date(2026, 3, 7, 2, 31, 0, 0, detroit), time.Date(2026, 3, 8, 3, 0, 0, 0, detroit)},
		{"spring forward: from just before the gap, the same night", "02:30",
			time.Date(2026, 3, 8, 1, 45, 0, 0, detroit), time.Date(2026, 3, 8, 3, 0, 0, 0, detroit)},
		{"spring forward: a time before the gap", "01:30",
			time.Date(2026, 3, 7, 12, 0, 0, 0, detroit), time.Date(2026, 3, 8, 1, 30, 0, 0, detroit)},
		{"spring forward: the night after runs at the time again", "02:30",
			time.Date(2026, 3, 8, 3, 0, 0, 0, detroit), time.Date(2026, 3, 9, 2, 30, 0, 0, detroit)},
		{"fall back: a time that occurs twice runs at the first", "01:30",
			time.Date(2026, 10, 31, 12, 0, 0, 0, detroit), time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC)},
		{"fall back: not again at the second", "01:30",
			time.Date(2026, 11, 1, 5, 40, 0, 0, time.UTC), time.Date(2026, 11, 2, 1, 30, 0, 0, detroit)},
		{"fall back: from within the repeated hour", "01:30",
			time.Date(2026, 11, 1, 6, 10, 0, 0, time.UTC), time.Date(2026, 11, 2, 1, 30, 0, 0, detroit)},
		{"fall back: a time after the change, on the 25-hour day", "02:00",
			time.Date(2026, 11, 1, 0, 30, 0, 0, detroit), time.Date(2026, 11, 1, 2, 0, 0, 0, detroit)},
		{"midnight, a second before", "00:00",
			time.Date(2026, 6, 30, 23, 59, 59, 0, detroit), time.Date(2026, 7, 1, 0, 0, 0, 0, detroit)},
		{"midnight, at it: the next", "00:00",
			time.Date(2026, 7, 1, 0, 0, 0, 0, detroit), time.Date(2026, 7, 2, 0, 0, 0, 0, detroit)},
		{"just before midnight, from just after", "23:59",
			time.Date(2026, 7, 1, 0, 0, 1, 0, detroit), time.Date(2026, 7, 1, 23, 59, 0, 0, detroit)},
		{"across the new year", "00:15",
			time.Date(2026, 12, 31, 23, 0, 0, 0, detroit), time.Date(2027, 1, 1, 0, 15, 0, 0, detroit)},
	}, "NV": {
		{"spring forward: a time in the gap runs when the gap ends", "02:00",
			time.Date(2026, 3, 7, 12, 0, 0, 0, la), time.Date(2026, 3, 8, 3, 0, 0, 0, la)},
		{"spring forward: the day is 23 hours", "04:00",
			time.Date(2026, 3, 7, 4, 0, 0, 0, la), time.Date(2026, 3, 8, 4, 0, 0, 0, la)},
		{"fall back: a time that occurs twice runs at the first", "01:15",
			time.Date(2026, 10, 31, 23, 0, 0, 0, la), time.Date(2026, 11, 1, 8, 15, 0, 0, time.UTC)},
		{"fall back: not again at the second", "01:15",
			time.Date(2026, 11, 1, 8, 20, 0, 0, time.UTC), time.Date(2026, 11, 2, 1, 15, 0, 0, la)},
		{"the program's date, not UTC's", "23:30",
			time.Date(2026, 7, 2, 5, 0, 0, 0, time.UTC), time.Date(2026, 7, 1, 23, 30, 0, 0, la)},
		{"midnight in Nevada from a Michigan afternoon", "00:00",
			time.Date(2026, 7, 1, 15, 0, 0, 0, detroit), time.Date(2026, 7, 2, 0, 0, 0, 0, la)},
	}}
	for code, list := range cases {
		for _, tc := range list {
			t.Run(code+"/"+tc.name, func(t *testing.T) {
				n := hubtest.StartNode(t, h, code, func(c *node.Config) { c.SyncAt = tc.syncAt; c.SyncJitter = -1 })
				if got := n.NextRun(tc.now); !got.Equal(tc.want) {
					t.Errorf("sync-at %s: NextRun(%s) = %s, want %s", tc.syncAt, tc.now, got, tc.want)
				}
			})
		}
	}
}

func TestSyncEveryRefusedUnderAMinute(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	for _, every := range []time.Duration{time.Second, 59 * time.Second, -time.Minute} {
		_, err := node.New(node.Config{Program: mi.Program(), Key: mi.Key, DataDir: t.TempDir(), HubURL: h.URL, SyncEvery: every})
		var ce *node.ConfigError
		if !errors.As(err, &ce) || ce.Flag != "sync-every" {
			t.Errorf("SyncEvery %s: %v, want a ConfigError naming sync-every", every, err)
		}
	}
	n, err := node.New(node.Config{Program: mi.Program(), Key: mi.Key, DataDir: t.TempDir(), HubURL: h.URL, SyncEvery: time.Minute})
	if err != nil {
		t.Fatalf("SyncEvery 1m: %v", err)
	}
	n.Close()
}

// TestCatchUpAtStart: a node that is behind syncs within CatchUpDelay of its start
// instead of waiting for the night; one that is not waits for the night.
func TestCatchUpAtStart(t *testing.T) {
	cases := []struct {
		name      string
		noCatchUp bool
		synced    bool          // a successful sync before the start
		records   int           // created before the start (after that sync)
		failed    bool          // then a failed sync
		idle      time.Duration // between that sync and the start
		want      bool
	}{
		{name: "last success more than a day old", synced: true, records: 1, idle: 25 * time.Hour, want: true},
		{name: "last success more than a day old, nothing to push", synced: true, idle: 24*time.Hour + time.Minute, want: true},
		{name: "last success less than a day old", synced: true, records: 1, idle: 23 * time.Hour},
		{name: "last run failed", synced: true, records: 1, failed: true, idle: time.Hour, want: true},
		{name: "never synced, revisions waiting", records: 1, want: true},
		{name: "never synced, nothing waiting (the replica is empty)", want: true},
		{name: "catch-up turned off", noCatchUp: true, synced: true, records: 1, idle: 48 * time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startScheduled(t, func(c *node.Config) { c.NoCatchUp = tc.noCatchUp; c.CatchUpDelay = 10 * time.Minute })
			if tc.synced {
				if _, err := s.Sync(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			for i := range tc.records {
				s.create(t, "Partner "+string(rune('A'+i)))
			}
			if tc.failed {
				s.front.down.Store(true)
				if _, err := s.Sync(t.Context()); err == nil {
					t.Fatal("a sync with the hub down succeeded")
				}
				s.front.down.Store(false)
			}
			s.clk.set(s.clk.Now().Add(tc.idle))
			started := s.clk.Now()
			pushesBefore := s.front.pushes.Load()
			s.start()
			w := s.clk.next(t)
			s.checkNextRun(t, w)
			nightly := s.NextRun(started)
			if !tc.want {
				if !w.at.Equal(nightly) {
					t.Fatalf("first run at %s, want the nightly run at %s", w.at, nightly)
				}
				return
			}
			within(t, "the catch-up run", w.at, started, 0, 10*time.Minute)
			s.clk.fire(w)
			after := s.clk.next(t) // the run is over once the schedule waits again
			if !after.at.Equal(nightly) {
				t.Errorf("after the catch-up the next run is at %s, want the nightly run at %s", after.at, nightly)
			}
			st := s.status(t)
			if st.LastSuccessAt == nil || !st.LastSuccessAt.Equal(w.at) || st.Outbox != 0 {
				t.Errorf("after the catch-up: last success %v, outbox %d; want %s and 0", st.LastSuccessAt, st.Outbox, w.at)
			}
			if got := s.front.pushes.Load() - pushesBefore; got != min(int32(tc.records), 1) {
				t.Errorf("the catch-up pushed %d batches, want %d", got, min(tc.records, 1))
			}
		})
	}
}

// TestSyncEvery: with SyncEvery the node also syncs every DUR (plus up to a tenth)
// after the end of the last run, nightly or on demand; next_run is the earliest run.
func TestSyncEvery(t *testing.T) {
	const every = 5 * time.Hour
	s := startScheduled(t, func(c *node.Config) { c.SyncEvery, c.NoCatchUp = every, true })
	started := s.clk.Now()
	nightly := s.NextRun(started) // about 12 hours away
	s.start()

	w := s.clk.next(t)
	within(t, "the first periodic run", w.at, started, every, every+every/10)
	s.checkNextRun(t, w)
	s.create(t, "Partner A")
	s.clk.fire(w)

	w2 := s.clk.next(t)
	if got := s.front.pushes.Load(); got != 1 {
		t.Errorf("the periodic run pushed %d batches, want 1", got)
	}
	within(t, "the second periodic run", w2.at, w.at, every, every+every/10)
	s.checkNextRun(t, w2)
	s.clk.fire(w2)

	// The third periodic run would be past the nightly one: the nightly comes first,
	// and next_run shows it.
	w3 := s.clk.next(t)
	if !w3.at.Equal(nightly) {
		t.Fatalf("the run after two periodic ones is at %s, want the nightly run at %s", w3.at, nightly)
	}
	s.checkNextRun(t, w3)
	s.clk.fire(w3)

	// The periodic run counts from the end of the nightly one.
	w4 := s.clk.next(t)
	within(t, "the periodic run after the nightly", w4.at, w3.at, every, every+every/10)

	// An on-demand run an hour before it moves it to DUR after that run; when the old
	// time comes the schedule does not run.
	onDemand := w4.at.Add(-time.Hour)
	s.clk.set(onDemand)
	s.create(t, "Partner B")
	if res, err := s.TrySync(t.Context()); err != nil || res.Accepted != 1 {
		t.Fatalf("on-demand sync: %+v, %v", res, err)
	}
	s.clk.fire(w4)
	s.logs.waitLog(t, "scheduled sync not needed any more")
	w5 := s.clk.next(t)
	within(t, "the periodic run after the on-demand one", w5.at, onDemand, every, every+every/10)
	s.checkNextRun(t, w5)
	if got := s.front.pushes.Load(); got != 2 {
		t.Errorf("%d pushes, want 2 (the periodic run and the on-demand one)", got)
	}
}

// TestRetrySoonerAfterFailure: after a failed scheduled run the next comes 15 minutes
// later, doubling with each failure in a row up to 4 hours (each up to a tenth sooner);
// once a run succeeds the node is back on its nightly schedule, and a later failure
// starts again at 15 minutes.
func TestRetrySoonerAfterFailure(t *testing.T) {
	s := startScheduled(t, func(c *node.Config) { c.NoCatchUp = true })
	s.create(t, "Partner A")
	s.start()
	w := s.clk.next(t)
	if nightly := s.NextRun(s.clk.Now()); !w.at.Equal(nightly) {
		t.Fatalf("first run at %s, want the nightly run at %s", w.at, nightly)
	}

	s.front.down.Store(true)
	for k, nominal := range []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 4 * time.Hour, 4 * time.Hour} {
		s.clk.fire(w)
		next := s.clk.next(t)
		if st := s.status(t); st.LastError == "" || st.Outbox != 1 {
			t.Fatalf("after failure %d: last error %q, outbox %d; want an error and 1", k+1, st.LastError, st.Outbox)
		}
		within(t, "the retry after failure "+string(rune('1'+k)), next.at, w.at, nominal-nominal/10, nominal)
		s.checkNextRun(t, next)
		w = next
	}

	s.front.down.Store(false)
	s.clk.fire(w)
	back := s.clk.next(t)
	if st := s.status(t); st.LastError != "" || st.Outbox != 0 || s.front.pushes.Load() != 1 {
		t.Fatalf("after the hub came back: last error %q, outbox %d, %d pushes; want none, 0, 1", st.LastError, st.Outbox, s.front.pushes.Load())
	}
	if nightly := s.NextRun(w.at); !back.at.Equal(nightly) {
		t.Errorf("after a success the next run is at %s, want the nightly run at %s", back.at, nightly)
	}

	// A new failure starts the retries from 15 minutes again.
	s.create(t, "Partner B")
	s.front.down.Store(true)
	s.clk.fire(back)
	retry := s.clk.next(t)
	within(t, "the first retry after a new failure", retry.at, back.at, 15*time.Minute-90*time.Second, 15*time.Minute)

	// An on-demand run that succeeds before the retry makes it unneeded.
	s.front.down.Store(false)
	s.clk.set(retry.at.Add(-5 * time.Minute))
	if res, err := s.TrySync(t.Context()); err != nil || res.Accepted != 1 {
		t.Fatalf("on-demand sync: %+v, %v", res, err)
	}
	s.clk.fire(retry)
	s.logs.waitLog(t, "scheduled sync not needed any more")
	w = s.clk.next(t)
	if nightly := s.NextRun(retry.at); !w.at.Equal(nightly) {
		t.Errorf("after the on-demand success the next run is at %s, want the nightly run at %s", w.at, nightly)
	}
	if got := s.front.pushes.Load(); got != 2 {
		t.Errorf("%d pushes, want 2", got)
	}
}

// TestScheduledRunWaitsForOnDemand: a scheduled run that comes due while an on-demand
// run is in progress waits for it, then does not run again: one push in all.
func TestScheduledRunWaitsForOnDemand(t *testing.T) {
	s := startScheduled(t, func(c *node.Config) { c.NoCatchUp = true })
	s.create(t, "Partner A")
	s.start()
	w := s.clk.next(t)

	s.clk.set(w.at.Add(-time.Second)) // a second before the nightly run comes due
	s.front.hold.Store(true)
	onDemand := make(chan error, 1)
	go func() {
		res, err := s.TrySync(context.Background())
		if err == nil && res.Accepted != 1 {
			err = errors.New("on-demand run did not push the record")
		}
		onDemand <- err
	}()
	<-s.front.arrived // the on-demand run is in progress, its push held at the hub

	s.clk.fire(w) // the nightly run comes due
	s.logs.waitLog(t, "scheduled sync waits for the run in progress")
	close(s.front.release)
	if err := <-onDemand; err != nil {
		t.Fatal(err)
	}
	s.logs.waitLog(t, "scheduled sync not needed: a run finished after it came due")
	next := s.clk.next(t)
	if nightly := s.NextRun(w.at); !next.at.Equal(nightly) {
		t.Errorf("the next run is at %s, want the next night's at %s", next.at, nightly)
	}
	if got := s.front.pushes.Load(); got != 1 {
		t.Errorf("%d pushes, want 1: the scheduled run ran again after the on-demand one", got)
	}
	if st := s.status(t); st.LastError != "" || st.Outbox != 0 {
		t.Errorf("status: last error %q, outbox %d", st.LastError, st.Outbox)
	}
}
