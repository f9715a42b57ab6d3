package node_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/node"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

// A node's authorization matrix (issue 5 item 6, issue 6 item 6): every route the node
// registers, for every kind of caller, with the answer the roles rules give
// (docs/PROTOCOL.md section 4). A node accepts only tokens its own key signed: the hub's
// tokens, a stranger's and expired ones are 401 on every /v1 route; a program token for
// another program is 403 on every one; the program's own staff (program) and admins
// write; analysts read.
//
// The node is FED's (it offers every operation, Ambassador included). Every allowed
// write gets a fresh record and a valid body, so its answer is the route's success;
// every refusal, and every read, is checked to have changed nothing on the node.

type nzCaller int

const (
	nzNone      nzCaller = iota // no Authorization header
	nzExpired                   // an admin token of the node's key whose exp has passed
	nzHubSigned                 // an admin token the hub signed: not the node's key
	nzStranger                  // an admin token of a key nobody knows
	nzAnalyst                   // analyst, node's key
	nzOwn                       // program FED, node's key
	nzOther                     // program MI, node's key
	nzAdmin                     // admin, node's key
	nzCallers
)

var nzCallerNames = [nzCallers]string{"none", "expired", "hub-signed", "unknown-key", "analyst", "own-program", "other-program", "admin"}

func (c nzCaller) String() string { return nzCallerNames[c] }

type nzWant struct {
	status int
	slug   string
}

func (w nzWant) String() string {
	if w.slug == "" {
		return fmt.Sprint(w.status)
	}
	return fmt.Sprintf("%d %s", w.status, w.slug)
}

// nzRule: public routes answer everyone; otherwise writes are for program and admin,
// reads for any token of the node's key and program.
type nzRule struct {
	public bool
	write  bool
	ok     int
}

func (r nzRule) want(c nzCaller) nzWant {
	if r.public {
		return nzWant{r.ok, ""}
	}
	switch c {
	case nzNone, nzHubSigned, nzStranger:
		return nzWant{http.StatusUnauthorized, "unauthenticated"}
	case nzExpired:
		return nzWant{http.StatusUnauthorized, "token-expired"}
	case nzOther:
		return nzWant{http.StatusForbidden, "forbidden"}
	case nzAnalyst:
		if r.write {
			return nzWant{http.StatusForbidden, "forbidden"}
		}
	}
	return nzWant{r.ok, ""}
}

func nzPublic() nzRule      { return nzRule{public: true, ok: http.StatusOK} }
func nzRead() nzRule        { return nzRule{ok: http.StatusOK} }
func nzWrite(ok int) nzRule { return nzRule{write: true, ok: ok} }

type nzReq struct {
	path   string
	header http.Header
	body   []byte
}

func nzJSON(path, ifMatch, body string) nzReq {
	h := http.Header{"Content-Type": {"application/json"}}
	if ifMatch != "" {
		h.Set("If-Match", ifMatch)
	}
	return nzReq{path: path, header: h, body: []byte(body)}
}

type nzRoute struct {
	method, route, variant string
	rule                   nzRule
	req                    func(t *testing.T, c nzCaller) nzReq
	location               string // a redirect's Location begins so
}

func (r nzRoute) name() string {
	if r.variant != "" {
		return r.method + " " + r.route + " (" + r.variant + ")"
	}
	return r.method + " " + r.route
}

// nzNode is the matrix's FED node with its records.
type nzNode struct {
	h      *hubtest.Hub
	fed    *hubtest.Node
	tokens [nzCallers]string
	admin  string
	signed schema.Alliance // an Alliance with a report, on the node and the hub
	seq    atomic.Int64
	// conflicted are FED Alliances the hub holds two branches of, and reports one
	// report of each, also in two branches; the last of each is never resolved (the
	// refused calls aim at it).
	conflicted      []schema.Alliance
	resolved        int
	reports         []schema.Report
	reportsResolved int
}

const nzFED = `{"level":"national","participants":[{"name":"%s"}],"goals":[{"category":"training"},{"category":"outreach"}],"signed_on":"%s"}`

// fresh creates an Alliance on the node, signed on signedOn (a draft when empty).
func (z *nzNode) fresh(t *testing.T, signedOn string) schema.Alliance {
	t.Helper()
	name := fmt.Sprintf("Matrix Partner %d", z.seq.Add(1))
	body := fmt.Sprintf(nzFED, name, signedOn)
	if signedOn == "" {
		body = `{"level":"national","participants":[{"name":"` + name + `"}],"goals":[{"category":"training"}]}`
	}
	resp, raw := hubtest.Do(t, http.MethodPost, z.fed.URL+"/v1/alliances", z.admin, []byte(body))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("fixture: create: %d %s", resp.StatusCode, raw)
	}
	var a schema.Alliance
	hubtest.DecodeJSON(t, raw, &a)
	return a
}

func (z *nzNode) do(t *testing.T, method, path, ifMatch, body string, want int) []byte {
	t.Helper()
	q := nzJSON(path, ifMatch, body)
	resp, raw := hubtest.Request(t, method, z.fed.URL+q.path, z.admin, q.header, q.body)
	if resp.StatusCode != want {
		t.Fatalf("fixture: %s %s: %d %s, want %d", method, path, resp.StatusCode, raw, want)
	}
	return raw
}

func (z *nzNode) sync(t *testing.T) wire.SyncResult {
	t.Helper()
	var res wire.SyncResult
	hubtest.DecodeJSON(t, z.do(t, http.MethodPost, "/v1/sync", "", "", http.StatusOK), &res)
	if res.Error != "" {
		t.Fatalf("fixture: sync: %+v", res)
	}
	return res
}

// fork pushes to the hub, as a second replica of FED holding the same key would, a
// revision of a that follows a's current one with another office.
func (z *nzNode) fork(t *testing.T, a schema.Alliance, office string) string {
	t.Helper()
	b := a
	b.Office = office
	body, err := schema.AllianceBody(&b)
	if err != nil {
		t.Fatal(err)
	}
	return z.forkRecord(t, schema.KindAlliance, a.ID, a.Rev, body)
}

// forkReport is fork for a report: a revision with another overview.
func (z *nzNode) forkReport(t *testing.T, r schema.Report, overview string) string {
	t.Helper()
	b := r
	b.Overview = overview
	body, err := schema.ReportBody(&b)
	if err != nil {
		t.Fatal(err)
	}
	return z.forkRecord(t, schema.KindReport, r.ID, r.Rev, body)
}

// forkRecord signs, with FED's key, a revision of record id that follows prev.
func (z *nzNode) forkRecord(t *testing.T, kind schema.Kind, id, prev string, body []byte) string {
	t.Helper()
	var err error
	rec := &schema.Record{ID: id, Kind: kind, Program: "FED", PrevRev: prev, Seq: 1, IssuedAt: time.Now().UTC(), Body: body}
	if rec.Rev, err = schema.NewRev(rec.PrevRev, body); err != nil {
		t.Fatal(err)
	}
	jws, err := wire.SignRecord(z.fed.Key, rec)
	if err != nil {
		t.Fatal(err)
	}
	return jws
}

func startNzNode(t *testing.T) *nzNode {
	t.Helper()
	h := hubtest.StartHub(t, nil)
	opt, _ := keyFileOpt(t) // so the node can rotate its key
	fed := hubtest.StartNode(t, h, "FED", opt)
	mi := hubtest.StartNode(t, h, "MI")
	create(t, mi, agc)
	if _, err := mi.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	stranger, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	expired, err := auth.MintToken(fed.Key, auth.TokenRequest{Subject: "test-expired", Role: auth.RoleAdmin, TTL: time.Hour, Now: time.Now().Add(-2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	z := &nzNode{h: h, fed: fed}
	z.tokens = [nzCallers]string{
		nzNone:      "",
		nzExpired:   expired,
		nzHubSigned: h.Token(t, auth.RoleAdmin, ""),
		nzStranger:  hubtest.Token(t, stranger, auth.RoleAdmin, ""),
		nzAnalyst:   hubtest.Token(t, fed.Key, auth.RoleAnalyst, ""),
		nzOwn:       fed.Token,
		nzOther:     hubtest.Token(t, fed.Key, auth.RoleProgram, "MI"),
		nzAdmin:     hubtest.Token(t, fed.Key, auth.RoleAdmin, ""),
	}
	z.admin = z.tokens[nzAdmin]

	z.signed = z.fresh(t, "2024-01-15")
	z.do(t, http.MethodPost, "/v1/alliances/"+z.signed.ID+"/reports", "", nzReport, http.StatusCreated)
	for range 3 {
		a := z.fresh(t, "2024-01-15")
		var r schema.Report
		hubtest.DecodeJSON(t, z.do(t, http.MethodPost, "/v1/alliances/"+a.ID+"/reports", "", nzReport, http.StatusCreated), &r)
		z.conflicted, z.reports = append(z.conflicted, a), append(z.reports, r)
	}
	z.sync(t)
	// The hub gets a Lansing branch of each Alliance and report from "another replica";
	// the node then edits each to Detroit and pushes: two branches of each at the hub,
	// which the node pulls.
	var forks []string
	for i, a := range z.conflicted {
		forks = append(forks, z.fork(t, a, "Lansing"), z.forkReport(t, z.reports[i], "Lansing"))
	}
	b := &wire.Batch{Program: "FED", BatchID: "matrix-fork", SeqFrom: 1, SeqTo: 1, IssuedAt: time.Now(), Records: forks}
	for i := range forks {
		// Each fork is seq 1 of its own batch.
		b.Records = forks[i : i+1]
		jws, err := wire.SignBatch(fed.Key, b)
		if err != nil {
			t.Fatal(err)
		}
		resp, raw := hubtest.Request(t, http.MethodPost, h.URL+"/v1/sync/push", fed.Token, http.Header{"Content-Type": {wire.MediaTypeJOSE}}, []byte(jws))
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), `"accepted"`) {
			t.Fatalf("fixture: fork push: %d %s", resp.StatusCode, raw)
		}
	}
	for i, a := range z.conflicted {
		a.Office = "Detroit"
		hubtest.DecodeJSON(t, z.do(t, http.MethodPut, "/v1/alliances/"+a.ID, `"`+a.Rev+`"`, string(nzMarshal(t, a)), http.StatusOK), &z.conflicted[i])
		r := z.reports[i]
		r.ID, r.Rev, r.Overview = "", "", "Detroit"
		hubtest.DecodeJSON(t, z.do(t, http.MethodPost, "/v1/alliances/"+a.ID+"/reports", `"`+z.reports[i].Rev+`"`, string(nzMarshal(t, r)), http.StatusOK), &z.reports[i])
	}
	conflicts := len(z.conflicted) + len(z.reports)
	if res := z.sync(t); res.Conflict != conflicts {
		t.Fatalf("fixture: sync = %+v, want %d conflicts", res, conflicts)
	}
	z.sync(t)
	var cs struct {
		Total int `json:"total"`
	}
	if hubtest.GetJSON(t, fed.URL+"/v1/conflicts", z.admin, &cs); cs.Total != conflicts {
		t.Fatalf("fixture: the node shows %d conflicts, want %d", cs.Total, conflicts)
	}
	return z
}

func nzMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// nzReport is FED's first annual report of an Alliance signed on 2024-01-15.
const nzReport = `{"period":"2025-annual","reported_on":"2025-02-01","meetings":[{"held_on":"2024-06-01","type":"conference-call"}],
	"activities":[{"type":"Training","category":"training","reached":40}]}`

// nzNodeState is what a refused call, or a read, must leave as it was.
type nzNodeState struct {
	LastSeq, Checkpoint, PullCheckpoint uint64
	Alliances                           map[string]string
	Kid                                 string
	Conflicts                           int
}

func nodeState(t *testing.T, z *nzNode) nzNodeState {
	t.Helper()
	var st node.SyncStatus
	hubtest.GetJSON(t, z.fed.URL+"/v1/sync/status", z.admin, &st)
	s := nzNodeState{LastSeq: st.LastSeq, Checkpoint: st.Cursor, PullCheckpoint: st.PullCheckpoint, Alliances: map[string]string{}}
	var l listPage
	hubtest.GetJSON(t, z.fed.URL+"/v1/alliances?limit=500", z.admin, &l)
	for _, a := range l.Items {
		s.Alliances[a.ID] = a.Rev
	}
	var jwks struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	hubtest.GetJSON(t, z.fed.URL+"/.well-known/jwks.json", "", &jwks)
	for _, k := range jwks.Keys {
		s.Kid += k.Kid
	}
	var cs struct {
		Total int `json:"total"`
	}
	hubtest.GetJSON(t, z.fed.URL+"/v1/conflicts", z.admin, &cs)
	s.Conflicts = cs.Total
	return s
}

func (z *nzNode) routes() []nzRoute {
	get := func(path string) func(*testing.T, nzCaller) nzReq {
		return func(*testing.T, nzCaller) nzReq { return nzReq{path: path} }
	}
	sp := "/v1/alliances/" + z.signed.ID
	// onFresh sends body to path+suffix of a fresh Alliance signed on signedOn.
	onFresh := func(signedOn, suffix, ifMatch, body string) func(*testing.T, nzCaller) nzReq {
		return func(t *testing.T, _ nzCaller) nzReq {
			a := z.fresh(t, signedOn)
			return nzJSON("/v1/alliances/"+a.ID+suffix, ifMatch, body)
		}
	}
	return []nzRoute{
		{method: "GET", route: "/healthz", rule: nzPublic(), req: get("/healthz")},
		{method: "GET", route: "/readyz", rule: nzPublic(), req: get("/readyz")},
		{method: "GET", route: "/.well-known/jwks.json", rule: nzPublic(), req: get("/.well-known/jwks.json")},
		// Prometheus text, without a token (CONTRACT.md).
		{method: "GET", route: "/metrics", rule: nzPublic(), req: get("/metrics")},
		{method: "GET", route: "/openapi.json", rule: nzPublic(), req: get("/openapi.json")},

		// The web UI: its pages take the session cookie that signing in sets, never a
		// bearer header, and call this API with the session's token, so the rows below
		// are what each role may do there. A bearer token alone opens nothing and
		// changes nothing: every caller is led to sign in.
		{method: "GET", route: "/", rule: nzRule{public: true, ok: http.StatusSeeOther}, location: "/ui/", req: get("/")},
		{method: "GET", route: "/ui/*", variant: "sign-in page", rule: nzPublic(), req: get("/ui/signin")},
		{method: "GET", route: "/ui/*", variant: "a page, bearer header only", rule: nzRule{public: true, ok: http.StatusSeeOther}, location: "/ui/signin", req: get("/ui/alliances/" + z.signed.ID)},
		{method: "POST", route: "/ui/*", variant: "a form, bearer header only", rule: nzRule{public: true, ok: http.StatusSeeOther}, location: "/ui/signin", req: func(t *testing.T, _ nzCaller) nzReq {
			return nzReq{path: "/ui/alliances/" + z.signed.ID + "/renew", header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
				body: []byte("signed_on=2026-01-10")}
		}},

		{method: "POST", route: "/v1/alliances", rule: nzWrite(http.StatusCreated), req: func(t *testing.T, _ nzCaller) nzReq {
			return nzJSON("/v1/alliances", "", fmt.Sprintf(nzFED, fmt.Sprintf("Created Partner %d", z.seq.Add(1)), "2025-03-01"))
		}},
		{method: "GET", route: "/v1/alliances", rule: nzRead(), req: get("/v1/alliances")},
		{method: "GET", route: "/v1/alliances", variant: "CSV export", rule: nzRead(), req: get("/v1/alliances?format=csv")},
		{method: "GET", route: "/v1/alliances/:id", rule: nzRead(), req: get(sp)},
		{method: "PUT", route: "/v1/alliances/:id", rule: nzWrite(http.StatusOK), req: func(t *testing.T, _ nzCaller) nzReq {
			a := z.fresh(t, "2024-01-15")
			a.Office = "Directorate of Cooperative and State Programs"
			return nzJSON("/v1/alliances/"+a.ID, `"`+a.Rev+`"`, string(nzMarshal(t, a)))
		}},
		{method: "POST", route: "/v1/alliances/:id/renew", rule: nzWrite(http.StatusOK), req: onFresh("2024-01-15", "/renew", "", `{"signed_on":"2026-01-10"}`)},
		{method: "POST", route: "/v1/alliances/:id/terminate", rule: nzWrite(http.StatusOK), req: onFresh("2024-01-15", "/terminate", "", `{"notice_on":"2025-06-01","reason":"Lack of activity"}`)},
		{method: "POST", route: "/v1/alliances/:id/conclude", rule: nzWrite(http.StatusOK), req: onFresh("2024-01-15", "/conclude", "", `{}`)},
		// Ambassador after the initial term (two years) and one renewal term are completed.
		{method: "POST", route: "/v1/alliances/:id/ambassador", rule: nzWrite(http.StatusOK), req: func(t *testing.T, _ nzCaller) nzReq {
			a := z.fresh(t, "2015-03-02")
			z.do(t, http.MethodPost, "/v1/alliances/"+a.ID+"/renew", "", `{"signed_on":"2017-03-01","term_months":24}`, http.StatusOK)
			return nzJSON("/v1/alliances/"+a.ID+"/ambassador", "", `{"on":"2019-03-02"}`)
		}},
		{method: "POST", route: "/v1/alliances/:id/addenda", rule: nzWrite(http.StatusOK), req: onFresh("2024-01-15", "/addenda", "", `{"signed_on":"2024-09-01","added":[{"name":"Matrix Chapter","type":"association"}],"note":"joins"}`)},
		{method: "DELETE", route: "/v1/alliances/:id", rule: nzWrite(http.StatusOK), req: func(t *testing.T, _ nzCaller) nzReq {
			a := z.fresh(t, "")
			return nzReq{path: "/v1/alliances/" + a.ID + "?reason=entered+twice"}
		}},
		{method: "POST", route: "/v1/alliances/:id/reports", rule: nzWrite(http.StatusCreated), req: onFresh("2024-01-15", "/reports", "", nzReport)},
		{method: "GET", route: "/v1/alliances/:id/reports", rule: nzRead(), req: get(sp + "/reports")},
		{method: "GET", route: "/v1/alliances/:id/reports/:period", rule: nzRead(), req: get(sp + "/reports/2025-annual")},
		{method: "GET", route: "/v1/alliances/:id/compliance", rule: nzRead(), req: get(sp + "/compliance?as_of=2025-06-01")},
		{method: "GET", route: "/v1/calendar", rule: nzRead(), req: get("/v1/calendar")},
		{method: "POST", route: "/v1/import", rule: nzWrite(http.StatusOK), req: func(t *testing.T, _ nzCaller) nzReq {
			csv := fmt.Sprintf("participant,level,signed_on,goal_categories\nImported Partner %d,national,2025-04-01,training\n", z.seq.Add(1))
			return nzReq{path: "/v1/import", header: http.Header{"Content-Type": {"text/csv"}}, body: []byte(csv)}
		}},
		{method: "POST", route: "/v1/sync", rule: nzWrite(http.StatusOK), req: get("/v1/sync")},
		{method: "POST", route: "/v1/keys/rotate", rule: nzWrite(http.StatusOK), req: get("/v1/keys/rotate")},
		{method: "GET", route: "/v1/sync/status", rule: nzRead(), req: get("/v1/sync/status")},
		{method: "GET", route: "/v1/roster", rule: nzRead(), req: get("/v1/roster")},
		{method: "GET", route: "/v1/roster/:id", rule: nzRead(), req: get("/v1/roster/" + z.signed.ID)},
		{method: "GET", route: "/v1/conflicts", rule: nzRead(), req: get("/v1/conflicts")},
		// Each allowed call resolves a conflict of its own; refused calls aim at the last.
		{method: "POST", route: "/v1/alliances/:id/resolve", rule: nzWrite(http.StatusOK), req: func(t *testing.T, c nzCaller) nzReq {
			a := z.conflicted[len(z.conflicted)-1]
			if c == nzOwn || c == nzAdmin { // the callers allowed to write
				if z.resolved >= len(z.conflicted)-1 {
					t.Fatal("fixture: no conflict left to resolve")
				}
				a = z.conflicted[z.resolved]
				z.resolved++
			}
			return nzJSON("/v1/alliances/"+a.ID+"/resolve", `"`+a.Rev+`"`, `{}`)
		}},
		// The same for a report's conflict.
		{method: "POST", route: "/v1/alliances/:id/reports/:period/resolve", rule: nzWrite(http.StatusOK), req: func(t *testing.T, c nzCaller) nzReq {
			r := z.reports[len(z.reports)-1]
			if c == nzOwn || c == nzAdmin {
				if z.reportsResolved >= len(z.reports)-1 {
					t.Fatal("fixture: no report conflict left to resolve")
				}
				r = z.reports[z.reportsResolved]
				z.reportsResolved++
			}
			return nzJSON("/v1/alliances/"+r.AllianceID+"/reports/"+r.Period+"/resolve", `"`+r.Rev+`"`, `{}`)
		}},
	}
}

func TestNodeAuthorizationMatrix(t *testing.T) {
	z := startNzNode(t)
	rows := z.routes()
	var names []string
	for _, r := range rows {
		names = append(names, r.method+" "+r.route)
	}
	registered := z.fed.Routes()
	if len(registered) == 0 {
		t.Fatal("the node lists no routes")
	}
	for _, r := range registered {
		if !slices.Contains(names, r) {
			t.Errorf("route %s is registered but not in the authorization matrix: add a row with who may call it", r)
		}
	}
	for _, r := range names {
		if !slices.Contains(registered, r) {
			t.Errorf("the matrix has a row for %s, which is not registered", r)
		}
	}

	var table strings.Builder
	cells := 0
	for _, r := range rows {
		fmt.Fprintf(&table, "%-48s", r.name())
		for c := range nzCallers {
			want := r.rule.want(c)
			fmt.Fprintf(&table, " %s=%s", c, want)
			cells++
			t.Run(r.name()+"/"+c.String(), func(t *testing.T) {
				q := r.req(t, c) // may create the record the call is about
				changes := r.rule.write && want.slug == ""
				var before nzNodeState
				if !changes {
					before = nodeState(t, z)
				}
				resp, body := nzRequest(t, r.method, z.fed.URL+q.path, z.tokens[c], q.header, q.body)
				if loc := resp.Header.Get("Location"); r.location != "" && !strings.HasPrefix(loc, r.location) {
					t.Errorf("Location %q, want %s...", loc, r.location)
				}
				if resp.StatusCode != want.status {
					t.Errorf("status %d, want %s: %.300s", resp.StatusCode, want, body)
				} else if want.slug != "" {
					var p struct {
						Type string `json:"type"`
					}
					hubtest.DecodeJSON(t, body, &p)
					if p.Type != "urn:alliancehub:problem:"+want.slug || resp.Header.Get("Content-Type") != "application/problem+json" {
						t.Errorf("answer %s %s, want problem %s", resp.Header.Get("Content-Type"), body, want)
					}
				}
				if changes {
					return
				}
				if diff := cmp.Diff(before, nodeState(t, z)); diff != "" {
					t.Errorf("the node changed (-before +after):\n%s", diff)
				}
			})
		}
		table.WriteString("\n")
	}
	t.Logf("%d routes (%d rows) x %d callers = %d cells:\n%s", len(registered), len(rows), nzCallers, cells, table.String())
}

// nzClient follows no redirect: a cell's answer is the route's own.
var nzClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// nzRequest sends a matrix request with a bearer token (none if empty).
func nzRequest(t *testing.T, method, url, token string, header http.Header, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := nzClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, raw
}
