package node_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/node"
	"github.com/alliancehub/alliancehub/schema"
)

// Hub states behind offlineHub's front.
const (
	hubDown = iota // connections are dropped without an answer, as a dead host's
	hubHung        // requests are held until released: a hub that accepts and never answers
	hubUp          // requests reach the real hub
)

// offlineHub puts a real hub behind a front whose state the test sets. The first
// request held while hung is signalled on arrived; held requests wait for release.
func offlineHub(t *testing.T, h *hubtest.Hub) (front *httptest.Server, state *atomic.Int32, arrived chan struct{}, release chan struct{}) {
	t.Helper()
	target, err := url.Parse(h.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	state = &atomic.Int32{}
	arrived, release = make(chan struct{}, 1), make(chan struct{})
	front = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch state.Load() {
		case hubDown:
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		case hubHung:
			select {
			case arrived <- struct{}{}:
			default:
			}
			<-release
			http.Error(w, "released", http.StatusServiceUnavailable)
		default:
			proxy.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(front.Close)
	// Cleanups run last first: a test that stops while a request is held releases it
	// before the front waits for its requests to end.
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	return front, state, arrived, release
}

// TestNodeWorksWithoutHub: a federal node whose hub is unreachable for ten weeks (an
// injected clock walks them) does all its work alone: create, edit with If-Match, delete
// a draft, an addendum, CSV import and export, the calendar and compliance, a report, a
// termination and a renewal, and a restart. Every sync fails and says why; the outbox
// keeps every revision. While a sync hangs on a hub that never answers, nothing waits on
// it: writes and reads go on, and an on-demand sync answers 409 at once. When the hub is
// back, one sync delivers everything, and the national roster shows what the node holds.
func TestNodeWorksWithoutHub(t *testing.T) {
	c := &clock{}
	c.set(t, "2025-09-08")
	h := hubtest.StartHub(t, nil)
	front, hubState, arrived, release := offlineHub(t, h)
	fed := hubtest.StartNode(t, h, "FED", func(cfg *node.Config) {
		cfg.Now, cfg.HubURL = c.Now, front.URL
		cfg.Retry = node.RetryPolicy{Initial: time.Millisecond, Max: 5 * time.Millisecond, Budget: 50 * time.Millisecond}
	})
	w := &walker{t: t, n: fed, clock: c}
	failedSync := func(wantOutbox uint64) {
		t.Helper()
		if res, err := fed.Sync(t.Context()); err == nil || res.Error == "" || res.Accepted != 0 {
			t.Fatalf("%s: sync with the hub unreachable = %+v, %v; want a failed run saying why", c.Now().Format(time.DateOnly), res, err)
		}
		st, err := fed.Status()
		if err != nil || st.Outbox != wantOutbox || st.Cursor != 0 || st.LastError == "" || st.LastSuccessAt != nil {
			t.Fatalf("%s: status %+v, %v; want %d revisions waiting, the cause, no success", c.Now().Format(time.DateOnly), st, err, wantOutbox)
		}
	}

	// Week 0: an Alliance signed a year ago, a draft entered and deleted (its tombstone
	// waits for the hub too).
	var a schema.Alliance
	hubtest.DecodeJSON(t, w.do(http.MethodPost, "/v1/alliances", `{"level":"national","office":"DCSP","signed_on":"2024-09-02",
		"participants":[{"name":"American Society of Safety Professionals","type":"association"}],
		"goals":[{"category":"training"},{"category":"outreach"}]}`, http.StatusCreated), &a)
	ap := "/v1/alliances/" + a.ID
	var d schema.Alliance
	hubtest.DecodeJSON(t, w.do(http.MethodPost, "/v1/alliances", `{"level":"area","participants":[{"name":"Entered Twice"}]}`, http.StatusCreated), &d)
	w.do(http.MethodDelete, "/v1/alliances/"+d.ID+"?reason=entered+twice", "", http.StatusOK)
	failedSync(3)

	// Week 2: an edit under If-Match, and a chapter joins by addendum.
	c.set(t, "2025-09-22")
	edited := strings.Replace(`{"level":"national","office":"Directorate of Cooperative and State Programs","signed_on":"2024-09-02",
		"participants":[{"name":"American Society of Safety Professionals","type":"association"}],
		"goals":[{"category":"training"},{"category":"outreach"}]}`, "\n", "", -1)
	w.do(http.MethodPut, ap, edited, http.StatusPreconditionRequired)
	hubtest.DecodeJSON(t, w.doIfMatch(http.MethodPut, ap, a.Rev, edited, http.StatusOK), &a)
	w.do(http.MethodPost, ap+"/addenda", `{"signed_on":"2025-09-20","added":[{"name":"ASSP Region 1","type":"association"}]}`, http.StatusOK)
	failedSync(5)

	// Week 4: a CSV import (one new Alliance, one row already held), the export, the
	// calendar with the first annual report due (CSP 04-01-001 XII.D.2.a: 60 days after
	// the anniversary, 2025-11-01).
	c.set(t, "2025-10-06")
	resp, raw := postCSVWith(t, fed, w, "participant,level,signed_on,goal_categories\n"+
		"Example Builders Association,area,2025-10-01,Promoting the National Dialogue on Workplace Safety and Health\n"+
		"american society of safety professionals,national,2024-09-02,training\n")
	if res := parseStream(t, raw); resp.StatusCode != http.StatusOK || res.Summary.Imported != 1 || res.Summary.Duplicates != 1 {
		t.Fatalf("import: %d %+v", resp.StatusCode, res.Summary)
	}
	exported := string(w.do(http.MethodGet, "/v1/alliances?format=csv", "", http.StatusOK))
	if !strings.Contains(exported, "Example Builders Association") || !strings.Contains(exported, "ASSP Region 1") {
		t.Errorf("export:\n%s", exported)
	}
	if cal := w.calendar("kind=report_due"); len(cal.Items) != 1 || cal.Items[0].Period != "2025-annual" || cal.Items[0].Date.String() != "2025-11-01" {
		t.Errorf("calendar = %+v; want the 2025-annual report due 2025-11-01", cal.Items)
	}
	failedSync(6)

	// Week 6: the node restarts, the hub still unreachable: everything is there.
	c.set(t, "2025-10-20")
	fed.Restart(t)
	if got := w.alliance(ap); got.Office != "Directorate of Cooperative and State Programs" || len(got.Participants) != 2 {
		t.Errorf("after the restart: %+v", got)
	}
	failedSync(6)

	// Week 8: the report is overdue. A sync hangs on a hub that accepts and never
	// answers; meanwhile the clerks work on: a report filed late, a termination, a new
	// Alliance, the calendar; a second sync is answered 409 at once.
	c.set(t, "2025-11-03")
	if got := w.compliance(ap); len(got.OverdueReports) != 1 || got.OverdueReports[0] != "2025-annual" {
		t.Errorf("2025-11-03 overdue = %v; want 2025-annual", got.OverdueReports)
	}
	hubState.Store(hubHung)
	done := make(chan error, 1)
	go func() {
		_, err := fed.Sync(t.Context())
		done <- err
	}()
	<-arrived
	w.do(http.MethodPost, ap+"/reports", report("2025-annual", "2025-11-03", "2024-11-01", "2025-03-01", "2025-07-01"), http.StatusCreated)
	var found listPage
	hubtest.DecodeJSON(t, w.do(http.MethodGet, "/v1/alliances?q=example", "", http.StatusOK), &found)
	b := found.Items[0]
	w.do(http.MethodPost, "/v1/alliances/"+b.ID+"/terminate", `{"notice_on":"2025-11-03","reason":"`+schema.TerminationReasons[1]+`"}`, http.StatusOK)
	w.do(http.MethodPost, "/v1/alliances", `{"level":"regional","office":"Region 5","signed_on":"2025-11-01",
		"participants":[{"name":"Midwest Farm Safety Council"}],"goals":[{"category":"awareness"}]}`, http.StatusCreated)
	if cal := w.calendar("alliance_id=" + b.ID); !has(cal, node.ItemTerminationEffective, "") {
		t.Errorf("calendar during the hung sync = %+v", cal.Items)
	}
	if body := w.do(http.MethodPost, "/v1/sync", "", http.StatusConflict); !strings.Contains(string(body), "sync-running") {
		t.Errorf("on-demand sync during the hung one: %s", body)
	}
	hubState.Store(hubDown)
	close(release)
	if err := <-done; err == nil {
		t.Fatal("the hung sync succeeded")
	}
	if got := w.compliance(ap); len(got.OverdueReports) != 0 || got.MeetingsShort {
		t.Errorf("after the late report: %+v", got)
	}
	failedSync(9)

	// Week 10: renewed for five years (seed 001).
	c.set(t, "2025-11-17")
	w.do(http.MethodPost, ap+"/renew", `{"signed_on":"2025-11-17","term_months":60}`, http.StatusOK)
	failedSync(10)

	// The hub is back: one sync delivers every revision, once, and the roster shows
	// what the node holds.
	hubState.Store(hubUp)
	c.mu.Lock()
	c.now = time.Now() // the hub checks batch times against its own clock
	c.mu.Unlock()
	res, err := fed.Sync(t.Context())
	if err != nil || res.Pushed != 10 || res.Accepted != 10 || res.Rejected != 0 {
		t.Fatalf("sync with the hub back = %+v, %v; want all 10 revisions accepted", res, err)
	}
	if st, _ := fed.Status(); st.Outbox != 0 || st.LastError != "" || st.LastSuccessAt == nil {
		t.Errorf("status after delivery: %+v", st)
	}
	held := map[string]string{}
	for _, it := range list(t, fed, "?limit=500").Items {
		held[it.ID] = it.Rev
	}
	var roster struct {
		Items []struct{ ID, Rev string } `json:"items"`
	}
	hubtest.GetJSON(t, h.URL+"/v1/roster?program=FED&limit=500", h.Token(t, auth.RoleAnalyst, ""), &roster)
	got := map[string]string{}
	for _, it := range roster.Items {
		got[it.ID] = it.Rev
	}
	if len(held) != 3 || len(got) != len(held) {
		t.Fatalf("node holds %v, roster shows %v; want the same 3 Alliances", held, got)
	}
	for id, rev := range held {
		if got[id] != rev {
			t.Errorf("%s: roster at %s, node at %s", id, got[id], rev)
		}
	}
}

// postCSVWith posts a CSV file with a token minted at the walker's clock.
func postCSVWith(t *testing.T, n *hubtest.Node, w *walker, file string) (*http.Response, []byte) {
	t.Helper()
	tok, err := auth.MintToken(n.Key, auth.TokenRequest{Subject: "clerk", Role: auth.RoleProgram, Program: n.Program().Code, TTL: time.Hour, Now: w.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return hubtest.Request(t, http.MethodPost, n.URL+"/v1/import", tok, http.Header{"Content-Type": {"text/csv"}}, []byte(file))
}
