package hub_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/schema"
)

// pusher is an enrolled program that pushes hand-made batches of one new record each.
type pusher struct {
	code  string
	key   *auth.Key
	token string
}

func newPusher(t *testing.T, h *hubtest.Hub, code string) pusher {
	t.Helper()
	k, _ := auth.GenerateKey()
	h.Enroll(t, code, k)
	return pusher{code: code, key: k, token: hubtest.Token(t, k, auth.RoleProgram, code)}
}

// batch is a signed batch of one new record of the program.
func (p pusher) batch(t *testing.T) []byte {
	t.Helper()
	var edit func(*schema.Alliance, *schema.Record)
	if p.code == "FED" {
		edit = func(a *schema.Alliance, _ *schema.Record) { a.Level = schema.LevelNational } // FED has several levels
	}
	return batch(t, p.key, p.code, time.Now(), record(t, p.key, p.code, schema.NewID(p.code), 1, edit))
}

// pushOK pushes body and requires every record to come back with outcome want.
func (p pusher) pushOK(t *testing.T, h *hubtest.Hub, body []byte, want wire.Outcome) {
	t.Helper()
	resp, raw := pushRaw(t, h, p.token, wire.MediaTypeJOSE, body)
	checkAnswer(t, p.code, resp, raw, want)
}

func checkAnswer(t *testing.T, code string, resp *http.Response, raw []byte, want wire.Outcome) {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s push: %d %s", code, resp.StatusCode, raw)
	}
	var pr wire.PushResponse
	hubtest.DecodeJSON(t, raw, &pr)
	for _, r := range pr.Results {
		if r.Outcome != want {
			t.Errorf("%s push: %+v, want %s", code, r, want)
		}
	}
}

// wantThrottled checks a 429 too-many-pushes naming the limit, with a Retry-After of a
// few whole seconds.
func wantThrottled(t *testing.T, resp *http.Response, raw []byte, limit string) {
	t.Helper()
	p := wantProblem(t, resp, raw, http.StatusTooManyRequests, "too-many-pushes")
	if !strings.Contains(p.Detail, "--"+limit+" allows") {
		t.Errorf("detail %q does not name the limit --%s", p.Detail, limit)
	}
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || secs < 1 || secs > 5 {
		t.Errorf("Retry-After = %q, want 1 to 5 whole seconds", resp.Header.Get("Retry-After"))
	}
}

// TestPushLimits: with pushes held in flight (their handlers blocked reading the body),
// a further push beyond the per-program or the overall limit is answered 429 with
// Retry-After before anything of it is read or applied; once the held pushes finish,
// each applies once, and the refused batches apply when sent again.
func TestPushLimits(t *testing.T) {
	h := hubtest.StartHub(t, nil, func(c *hub.Config) { c.MaxPushes = 3; c.MaxPushesPerProgram = 2 })
	mi, nv, fed := newPusher(t, h, "MI"), newPusher(t, h, "NV"), newPusher(t, h, "FED")

	held := []*hubtest.HeldPush{hubtest.HoldPush(t, h, mi.token, mi.batch(t)), hubtest.HoldPush(t, h, mi.token, mi.batch(t))}
	codes := []string{"MI", "MI"}

	// MI has its two: a third MI push is refused, though the hub has room.
	miRefused := mi.batch(t)
	resp, raw := pushRaw(t, h, mi.token, wire.MediaTypeJOSE, miRefused)
	wantThrottled(t, resp, raw, "max-pushes-per-program")

	// NV takes the hub's third slot; then any program is refused by the overall limit.
	held = append(held, hubtest.HoldPush(t, h, nv.token, nv.batch(t)))
	codes = append(codes, "NV")
	fedRefused := fed.batch(t)
	resp, raw = pushRaw(t, h, fed.token, wire.MediaTypeJOSE, fedRefused)
	wantThrottled(t, resp, raw, "max-pushes")

	// Nothing was applied: the roster is empty and no program moved. Being throttled is
	// not the program's error.
	assertEmpty(t, h)
	for _, p := range h.Programs() {
		if p.Sync.LastError != nil {
			t.Errorf("%s last_error = %+v after a 429, want none", p.Code, p.Sync.LastError)
		}
	}

	for i, p := range held {
		resp, raw := p.Finish(t)
		checkAnswer(t, codes[i], resp, raw, wire.Accepted)
	}
	// The slots are free again (each was given back before its answer was sent): the
	// refused batches apply once, and once only.
	mi.pushOK(t, h, miRefused, wire.Accepted)
	fed.pushOK(t, h, fedRefused, wire.Accepted)
	mi.pushOK(t, h, miRefused, wire.Duplicate)
	fed.pushOK(t, h, fedRefused, wire.Duplicate)
	if got := roster(t, h, "").Total; got != 5 {
		t.Errorf("roster total = %d, want 5: every batch applied once", got)
	}
}

// TestPushLimitIsPerAuthenticatedProgram: the per-program slot is keyed on the token's
// program and taken before the body is read, so a push whose body claims another
// program still counts against the token's; and a token that does not authenticate
// takes no slot at all.
func TestPushLimitIsPerAuthenticatedProgram(t *testing.T) {
	h := hubtest.StartHub(t, nil, func(c *hub.Config) { c.MaxPushesPerProgram = 1 })
	mi, nv := newPusher(t, h, "MI"), newPusher(t, h, "NV")
	stranger, _ := auth.GenerateKey()

	held := hubtest.HoldPush(t, h, mi.token, mi.batch(t))
	// An MI token with NV's batch: refused for MI's limit, before the body (which would
	// be not-owner) is read.
	resp, raw := pushRaw(t, h, mi.token, wire.MediaTypeJOSE, nv.batch(t))
	wantThrottled(t, resp, raw, "max-pushes-per-program")
	// NV's own token has its own slot.
	nv.pushOK(t, h, nv.batch(t), wire.Accepted)
	// A token no enrolled key signed is refused as such, never counted.
	resp, raw = pushRaw(t, h, hubtest.Token(t, stranger, auth.RoleProgram, "MI"), wire.MediaTypeJOSE, mi.batch(t))
	wantProblem(t, resp, raw, http.StatusUnauthorized, "unauthenticated")

	resp, raw = held.Finish(t)
	checkAnswer(t, "MI", resp, raw, wire.Accepted)
	mi.pushOK(t, h, mi.batch(t), wire.Accepted)
}
