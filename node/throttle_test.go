package node_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/node"
	"github.com/alliancehub/alliancehub/schema"
)

// throttledBatch is a valid signed batch of one new MI Alliance, signed with the node's
// key, for a push the test holds in flight on the node's behalf.
func throttledBatch(t *testing.T, n *hubtest.Node) []byte {
	t.Helper()
	a := &schema.Alliance{ID: schema.NewID("MI"), Participants: []schema.Participant{{Name: "Held Push Association"}},
		Goals: []schema.Goal{{Category: "outreach-communication"}}, SignedOn: schema.MustDate("2025-06-01")}
	a.Normalize(n.Program())
	body, err := schema.AllianceBody(a)
	if err != nil {
		t.Fatal(err)
	}
	rec := &schema.Record{ID: a.ID, Kind: schema.KindAlliance, Program: "MI", Seq: 1, IssuedAt: time.Now().UTC(), Body: body}
	if rec.Rev, err = schema.NewRev("", body); err != nil {
		t.Fatal(err)
	}
	jws, err := wire.SignRecord(n.Key, rec)
	if err != nil {
		t.Fatal(err)
	}
	b, err := wire.SignBatch(n.Key, &wire.Batch{Program: "MI", BatchID: "held", SeqFrom: 1, SeqTo: 1, IssuedAt: time.Now().UTC(), Records: []string{jws}})
	if err != nil {
		t.Fatal(err)
	}
	return []byte(b)
}

// throttledHub is a hub that takes one MI push at a time, behind a pass-through front
// that closes refused the first time the hub answers a push 429.
func throttledHub(t *testing.T) (h *hubtest.Hub, frontURL string, refused <-chan struct{}) {
	t.Helper()
	h = hubtest.StartHub(t, nil, func(c *hub.Config) { c.MaxPushesPerProgram = 1 })
	target, _ := url.Parse(h.URL)
	ch := make(chan struct{})
	var once sync.Once
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) },
		ModifyResponse: func(resp *http.Response) error {
			if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != "" {
				once.Do(func() { close(ch) })
			}
			return nil
		},
	}
	front := httptest.NewServer(proxy)
	t.Cleanup(front.Close)
	return h, front.URL, ch
}

// TestSyncWaitsOutHubLimit: a node whose program is at the hub's push limit is answered
// 429 with Retry-After; it waits as told, within its budget, and its run delivers
// everything once the push in flight is done.
func TestSyncWaitsOutHubLimit(t *testing.T) {
	h, frontURL, refused := throttledHub(t)
	mi := hubtest.StartNode(t, h, "MI", func(c *node.Config) {
		c.HubURL = frontURL
		c.Retry = node.RetryPolicy{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond, Budget: time.Minute}
	})
	for range 2 {
		hubtest.Do(t, http.MethodPost, mi.URL+"/v1/alliances", mi.Token, []byte(agc))
	}
	held := hubtest.HoldPush(t, h, mi.Token, throttledBatch(t, mi))

	type outcome struct {
		res wire.SyncResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := mi.Sync(t.Context())
		done <- outcome{res, err}
	}()
	<-refused // the node's push met the limit
	if resp, body := held.Finish(t); resp.StatusCode != http.StatusOK {
		t.Fatalf("held push: %d %s", resp.StatusCode, body)
	}
	got := <-done
	if got.err != nil || got.res.Pushed != 2 || got.res.Accepted != 2 {
		t.Fatalf("sync = %+v, %v; want both records accepted after waiting", got.res, got.err)
	}
	if st := status(t, mi); st.Outbox != 0 || st.LastError != "" {
		t.Errorf("status = %+v, want an empty outbox and no error", st)
	}
	checkHubHas(t, h, 3)
}

// TestSyncReportsHubLimitPastBudget: when the hub's Retry-After ends past the run's retry
// budget, the run fails at once saying so, keeps its records, and the next run delivers
// them.
func TestSyncReportsHubLimitPastBudget(t *testing.T) {
	h, frontURL, _ := throttledHub(t)
	mi := hubtest.StartNode(t, h, "MI", func(c *node.Config) {
		c.HubURL = frontURL
		// Below the hub's least Retry-After (1 second): the first 429 ends the run.
		c.Retry = node.RetryPolicy{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond, Budget: 500 * time.Millisecond}
	})
	hubtest.Do(t, http.MethodPost, mi.URL+"/v1/alliances", mi.Token, []byte(agc))
	held := hubtest.HoldPush(t, h, mi.Token, throttledBatch(t, mi))

	res, err := mi.Sync(t.Context())
	if err == nil || res.Accepted != 0 {
		t.Fatalf("sync at the limit = %+v, %v; want it to fail", res, err)
	}
	for _, want := range []string{"gave up after 1 attempt(s)", "budget", "429", "too many pushes in flight", "max-pushes-per-program"} {
		if !strings.Contains(res.Error, want) {
			t.Errorf("error %q does not say %q", res.Error, want)
		}
	}
	if st := status(t, mi); st.Outbox != 1 || st.Cursor != 0 || !strings.Contains(st.LastError, "too many pushes") {
		t.Errorf("status = %+v, want the record kept and the cause named", st)
	}

	if resp, body := held.Finish(t); resp.StatusCode != http.StatusOK {
		t.Fatalf("held push: %d %s", resp.StatusCode, body)
	}
	res, err = mi.Sync(t.Context())
	if err != nil || res.Pushed != 1 || res.Accepted != 1 {
		t.Fatalf("next sync = %+v, %v; want the record accepted", res, err)
	}
	checkHubHas(t, h, 2)
}

// checkHubHas checks the national roster's size and that MI's status shows no error, the
// node's head with nothing left to apply, and the run's pull.
func checkHubHas(t *testing.T, h *hubtest.Hub, total int) {
	t.Helper()
	var page struct{ Total int }
	hubtest.GetJSON(t, h.URL+"/v1/roster", h.Token(t, auth.RoleAnalyst, ""), &page)
	if page.Total != total {
		t.Errorf("roster total = %d, want %d", page.Total, total)
	}
	for _, p := range h.Programs() {
		if p.Code == "MI" && (p.Sync.LastError != nil || p.Sync.Lag == nil || *p.Sync.Lag != 0 || p.Sync.Head == 0 || p.Sync.LastPullAt == nil || p.Sync.StaleSince != nil) {
			t.Errorf("MI on the hub = %+v, want no error, the node's head, lag 0 and a pull", p.Sync)
		}
	}
}
