package hub_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/schema"
)

// testClock is a hub clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// programSync reads GET /v1/programs, with a token valid at the hub's clock, by code.
func programSync(t *testing.T, h *hubtest.Hub, now time.Time) map[string]hub.ProgramSync {
	t.Helper()
	tok, err := auth.MintToken(h.Key, auth.TokenRequest{Subject: "analyst", Role: auth.RoleAnalyst, TTL: time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var page struct{ Items []hub.ProgramView }
	hubtest.GetJSON(t, h.URL+"/v1/programs", tok, &page)
	out := map[string]hub.ProgramSync{}
	for _, p := range page.Items {
		out[p.Code] = p.Sync
	}
	return out
}

// signedBatch signs a batch of records after edit has set its fields.
func signedBatch(t *testing.T, k *auth.Key, program string, edit func(*wire.Batch), records ...string) []byte {
	t.Helper()
	b := &wire.Batch{Program: program, BatchID: "status-batch", SeqFrom: 1, SeqTo: uint64(len(records)), IssuedAt: time.Now(), Records: records}
	if edit != nil {
		edit(b)
	}
	jws, err := wire.SignBatch(k, b)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(jws)
}

// TestProgramLastErrorAndLag: a batch the hub refuses from an authenticated program is
// its last_error (with its time, answer and batch id), durably, until the next accepted
// push clears it; an unauthenticated push leaves it alone. lag is the pushed head less
// the checkpoint, never negative.
func TestProgramLastErrorAndLag(t *testing.T) {
	clock := &testClock{t: time.Now().UTC().Truncate(time.Second)}
	h := hubtest.StartHub(t, clock.Now)
	k, _ := auth.GenerateKey()
	h.Enroll(t, "MI", k)
	token := hubtest.Token(t, k, auth.RoleProgram, "MI")
	stranger, _ := auth.GenerateKey()
	push := func(token string, body []byte) (*http.Response, []byte) {
		t.Helper()
		return pushRaw(t, h, token, wire.MediaTypeJOSE, body)
	}
	rec := func(seq uint64) string { return record(t, k, "MI", schema.NewID("MI"), seq, nil) }
	wantError := func(t *testing.T, slug string, status int, batchID string, at time.Time) {
		t.Helper()
		e := programSync(t, h, clock.Now())["MI"].LastError
		if e == nil || e.Type != "urn:alliancehub:problem:"+slug || e.Status != status || e.BatchID != batchID || !e.At.Equal(at) || e.Detail == "" {
			t.Errorf("last_error = %+v, want %s %d for batch %q at %s", e, slug, status, batchID, at)
		}
	}

	if s := programSync(t, h, clock.Now())["MI"]; s.LastError != nil || s.Lag != nil || s.Head != 0 {
		t.Errorf("before any push: %+v, want no last_error, head or lag", s)
	}

	skewed := signedBatch(t, k, "MI", func(b *wire.Batch) { b.IssuedAt = clock.Now().Add(-time.Hour) }, rec(1))
	resp, raw := push(token, skewed)
	wantProblem(t, resp, raw, http.StatusBadRequest, "clock-skew")
	wantError(t, "clock-skew", 400, "status-batch", clock.Now())

	clock.set(clock.Now().Add(time.Minute))
	rulesDiffer := signedBatch(t, k, "MI", func(b *wire.Batch) { b.BatchID = "differs" }, record(t, k, "MI", schema.NewID("MI"), 1, func(a *schema.Alliance, _ *schema.Record) {
		a.Goals = []schema.Goal{{Category: "training-education"}} // MIOSHA requires an outreach goal
	}))
	resp, raw = push(token, rulesDiffer)
	wantProblem(t, resp, raw, http.StatusConflict, "rules-differ")
	refusedAt := clock.Now()
	wantError(t, "rules-differ", 409, "differs", refusedAt)

	// The body is not read as a batch at all: still the program's error, without an id.
	resp, raw = hubtest.Request(t, http.MethodPost, h.URL+"/v1/sync/push", token, http.Header{"Content-Type": {"application/json"}}, []byte("{}"))
	wantProblem(t, resp, raw, http.StatusUnsupportedMediaType, "unsupported-media-type")
	wantError(t, "unsupported-media-type", 415, "", refusedAt)
	resp, raw = push(token, rulesDiffer)
	wantProblem(t, resp, raw, http.StatusConflict, "rules-differ")

	// Refusals of a caller who did not authenticate are not MI's.
	resp, raw = push(hubtest.Token(t, stranger, auth.RoleProgram, "MI"), skewed)
	wantProblem(t, resp, raw, http.StatusUnauthorized, "unauthenticated")
	resp, raw = push("", skewed)
	wantProblem(t, resp, raw, http.StatusUnauthorized, "unauthenticated")
	wantError(t, "rules-differ", 409, "differs", refusedAt)

	h.Restart(t)
	wantError(t, "rules-differ", 409, "differs", refusedAt)

	// An accepted push clears it; the node's head shows what the hub has yet to apply.
	resp, raw = push(token, signedBatch(t, k, "MI", func(b *wire.Batch) { b.Head = 10 }, rec(1), rec(2)))
	checkAnswer(t, "MI", resp, raw, wire.Accepted)
	wantLag := func(t *testing.T, checkpoint, head, lag uint64) {
		t.Helper()
		s := programSync(t, h, clock.Now())["MI"]
		if s.LastError != nil || s.Checkpoint != checkpoint || s.Head != head || s.Lag == nil || *s.Lag != lag {
			t.Errorf("sync = %+v (lag %v), want no last_error, checkpoint %d, head %d, lag %d", s, s.Lag, checkpoint, head, lag)
		}
	}
	wantLag(t, 2, 10, 8)
	h.Restart(t)
	wantLag(t, 2, 10, 8)

	// A head before the batch's own end is a bad batch.
	resp, raw = push(token, signedBatch(t, k, "MI", func(b *wire.Batch) { b.Head = 1; b.BatchID = "short-head" }, rec(1), rec(2)))
	wantProblem(t, resp, raw, http.StatusBadRequest, "bad-batch")
	wantError(t, "bad-batch", 400, "short-head", clock.Now())

	// A node re-sending an old range (restored from a backup) has a head below the
	// checkpoint: lag is 0, not a wrapped-around number.
	resp, raw = push(token, signedBatch(t, k, "MI", func(b *wire.Batch) { b.Head = 1 }, rec(1)))
	checkAnswer(t, "MI", resp, raw, wire.Accepted)
	wantLag(t, 2, 1, 0)
}

// TestProgramStaleSince: a program neither pushing nor pulling for 36 hours is stale from
// the moment the 36 hours ran out, counted from its enrollment if it was never seen; a
// pull ends it. Pulls are in memory at once and in the journal at most once a minute.
func TestProgramStaleSince(t *testing.T) {
	t0 := time.Now().UTC().Truncate(time.Second)
	clock := &testClock{t: t0}
	h := hubtest.StartHub(t, clock.Now)
	miKey, push := miPusher(t, h)
	h.Enroll(t, "NV", mustKey(t))
	push(record(t, miKey, "MI", schema.NewID("MI"), 1, nil))

	type want struct{ mi, nv *time.Time }
	check := func(t *testing.T, w want) {
		t.Helper()
		got := programSync(t, h, clock.Now())
		for code, ws := range map[string]*time.Time{"MI": w.mi, "NV": w.nv} {
			gs := got[code].StaleSince
			if (gs == nil) != (ws == nil) || gs != nil && !gs.Equal(*ws) {
				t.Errorf("%s stale_since = %v, want %v", code, gs, ws)
			}
		}
	}
	at := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }

	clock.set(t0.Add(35 * time.Hour))
	check(t, want{})
	clock.set(t0.Add(36 * time.Hour))
	check(t, want{mi: at(36 * time.Hour), nv: at(36 * time.Hour)})

	pulled := t0.Add(36*time.Hour + time.Minute)
	clock.set(pulled)
	h.NoteContact("MI", pulled)
	check(t, want{nv: at(36 * time.Hour)})
	if got := programSync(t, h, clock.Now())["MI"].LastPullAt; got == nil || !got.Equal(pulled) {
		t.Errorf("last_pull_at = %v, want %s", got, pulled)
	}
	clock.set(pulled.Add(36 * time.Hour))
	check(t, want{mi: at(72*time.Hour + time.Minute), nv: at(36 * time.Hour)})

	// Within a minute of the last written pull, a pull is only in memory; a restart
	// comes back with the written one.
	h.NoteContact("MI", pulled.Add(30*time.Second))
	if got := programSync(t, h, clock.Now())["MI"].LastPullAt; got == nil || !got.Equal(pulled.Add(30*time.Second)) {
		t.Errorf("last_pull_at = %v, want the latest pull", got)
	}
	h.Restart(t)
	if got := programSync(t, h, clock.Now())["MI"].LastPullAt; got == nil || !got.Equal(pulled) {
		t.Errorf("last_pull_at after restart = %v, want the pull written at %s", got, pulled)
	}
	later := pulled.Add(2 * time.Minute)
	h.NoteContact("MI", later)
	h.NoteContact("MI", later.Add(-time.Second)) // an older pull never moves it back
	h.Restart(t)
	if got := programSync(t, h, clock.Now())["MI"].LastPullAt; got == nil || !got.Equal(later) {
		t.Errorf("last_pull_at after restart = %v, want %s", got, later)
	}
	check(t, want{nv: at(36 * time.Hour)}) // MI pulled since
}

func mustKey(t *testing.T) *auth.Key {
	t.Helper()
	k, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestClockSkewBoundary: a batch issued up to 5 minutes either side of the hub's clock is
// taken; a nanosecond further is refused whole with clock-skew, and stores nothing.
func TestClockSkewBoundary(t *testing.T) {
	clock := &testClock{t: time.Now().UTC()}
	h := hubtest.StartHub(t, clock.Now)
	k := mustKey(t)
	h.Enroll(t, "MI", k)
	token := hubtest.Token(t, k, auth.RoleProgram, "MI")
	now := clock.Now()
	cases := []struct {
		name string
		skew time.Duration
		ok   bool
	}{
		{"a nanosecond more than 5 minutes behind", -wire.MaxClockSkew - time.Nanosecond, false},
		{"a nanosecond more than 5 minutes ahead", wire.MaxClockSkew + time.Nanosecond, false},
		{"5 minutes behind", -wire.MaxClockSkew, true},
		{"5 minutes ahead", wire.MaxClockSkew, true},
	}
	accepted := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, raw := pushRaw(t, h, token, wire.MediaTypeJOSE, batch(t, k, "MI", now.Add(tc.skew), record(t, k, "MI", schema.NewID("MI"), 1, nil)))
			if !tc.ok {
				wantProblem(t, resp, raw, http.StatusBadRequest, "clock-skew")
			} else {
				checkAnswer(t, "MI", resp, raw, wire.Accepted)
				accepted++
			}
			if got := programSync(t, h, now)["MI"].Records; got != accepted {
				t.Errorf("hub holds %d MI records, want %d", got, accepted)
			}
		})
	}
}
