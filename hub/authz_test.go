package hub_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

// The hub's authorization matrix (issue 5 item 6, issue 6 item 6): every route the hub
// registers, for every kind of caller, with the answer the roles rules give
// (docs/PROTOCOL.md section 4):
//
//   - without a valid token (none, expired, signed by a key the hub does not know, or a
//     program key minting a role it may not), nothing under /v1 answers but 401;
//   - an analyst reads everything, and acknowledges conflicts and decides links (DCSP);
//   - a program token (signed by the hub, or by the program's own enrolled key as its
//     node mints them) reads its own records and the national roster, pushes only its
//     own program's batches and rotates only its own program's key;
//   - an admin enrolls, adds keys, rotates and revokes, and decides as DCSP does.
//
// "Own program" is MI throughout: the records, the conflict, the keys and the batches
// the routes concern are MI's; "other program" is a program token for NV. Every allowed
// write is sent with a body that is valid, so its answer is the success the route gives
// (never a validation error standing in for "allowed"); every refusal is checked to
// have changed nothing at all.

// azCaller is a column of the matrix.
type azCaller int

const (
	azNone        azCaller = iota // no Authorization header
	azExpired                     // an admin token of the hub's key whose exp has passed
	azWrongSigner                 // an admin token signed by a key the hub does not know
	azForged                      // an admin token minted with MI's enrolled key: a program key mints program tokens only
	azAnalyst                     // analyst, hub's key
	azOwn                         // program MI, hub's key
	azOwnNodeKey                  // program MI, signed by MI's enrolled key (as the MI node mints)
	azOther                       // program NV, hub's key
	azAdmin                       // admin, hub's key
	azCallers
)

var azCallerNames = [azCallers]string{"none", "expired", "wrong-signer", "forged-role", "analyst", "own-program", "own-program(node-key)", "other-program", "admin"}

func (c azCaller) String() string { return azCallerNames[c] }

// azWant is one cell: the status, and for a refusal the problem type's slug.
type azWant struct {
	status int
	slug   string
}

func (w azWant) String() string {
	if w.slug == "" {
		return fmt.Sprint(w.status)
	}
	return fmt.Sprintf("%d %s", w.status, w.slug)
}

// azRule derives a route's cells from who may call it.
type azRule struct {
	public bool                // no token needed: every caller gets status ok
	ok     int                 // the success status of an allowed call
	allow  []azCaller          // authenticated callers allowed
	deny   map[azCaller]string // slug of the 403 an authenticated, refused caller gets (default forbidden)
}

func (r azRule) want(c azCaller) azWant {
	if r.public {
		return azWant{r.ok, ""}
	}
	switch c {
	case azNone, azWrongSigner, azForged:
		return azWant{http.StatusUnauthorized, "unauthenticated"}
	case azExpired:
		return azWant{http.StatusUnauthorized, "token-expired"}
	}
	if slices.Contains(r.allow, c) {
		return azWant{r.ok, ""}
	}
	if slug, ok := r.deny[c]; ok {
		return azWant{http.StatusForbidden, slug}
	}
	return azWant{http.StatusForbidden, "forbidden"}
}

func (r azRule) allowed(c azCaller) bool { return r.want(c).slug == "" }

var (
	azReaders = []azCaller{azAnalyst, azOwn, azOwnNodeKey, azOther, azAdmin}
	azDCSP    = []azCaller{azAnalyst, azAdmin}
)

func azPublic() azRule           { return azRule{public: true, ok: http.StatusOK} }
func azAnyToken() azRule         { return azRule{ok: http.StatusOK, allow: azReaders} }
func azAdminOnly(ok int) azRule  { return azRule{ok: ok, allow: []azCaller{azAdmin}} }
func azDCSPOnly() azRule         { return azRule{ok: http.StatusOK, allow: azDCSP} }
func azOwnProgram(ok int) azRule { return azRule{ok: ok, allow: []azCaller{azOwn, azOwnNodeKey}} }
func azOwnOrAdmin(ok int) azRule {
	return azRule{ok: ok, allow: []azCaller{azOwn, azOwnNodeKey, azAdmin}}
}
func (r azRule) denying(c azCaller, slug string) azRule {
	d := map[azCaller]string{}
	for k, v := range r.deny {
		d[k] = v
	}
	d[c] = slug
	r.deny = d
	return r
}

// azReq is one request: path (with its query), headers and body.
type azReq struct {
	path   string
	header http.Header
	body   []byte
}

func azJSON(t *testing.T, path string, v any) azReq {
	return azReq{path: path, header: http.Header{"Content-Type": {"application/json"}}, body: mustJSON(t, v)}
}

// azRoute is a row: a registered route (method and echo path), a variant where one
// route takes two kinds of request, the rule, and how to build the request for a
// caller. writes says an allowed call changes the hub; any other call must not.
type azRoute struct {
	method, route, variant string
	rule                   azRule
	writes                 bool
	req                    func(t *testing.T, c azCaller) azReq
	location               string // a redirect's Location begins so
}

func (r azRoute) name() string {
	if r.variant != "" {
		return r.method + " " + r.route + " (" + r.variant + ")"
	}
	return r.method + " " + r.route
}

// azHub is the matrix's hub with real nodes, records, a conflict and a link.
type azHub struct {
	h        *hubtest.Hub
	mi       *hubtest.Node
	tokens   [azCallers]string
	agc      schema.Alliance // an MI record on the roster
	conflict string          // an MI record with two branches
	link     string          // the proposed link between FED's and MI's NUCA records
	analyst  string
}

func startAzHub(t *testing.T) *azHub {
	t.Helper()
	h := hubtest.StartHub(t, nil)
	fed := hubtest.StartNode(t, h, "FED")
	mi := hubtest.StartNode(t, h, "MI")
	hubtest.StartNode(t, h, "NV")
	f := create(t, fed, fedNUCA)
	m := create(t, mi, miNUCA)
	agc := create(t, mi, miAGC)
	syncNode(t, fed)
	syncNode(t, mi)

	// A second replica of MI's records (the same key) forks one of them: two branches.
	id := schema.NewID("MI")
	rev1 := record(t, mi.Key, "MI", id, 1, nil)
	left := record(t, mi.Key, "MI", id, 1, following(revOf(rev1), "Lansing"))
	right := record(t, mi.Key, "MI", id, 1, following(revOf(rev1), "Detroit"))
	for i, r := range []string{rev1, left, right} {
		resp, body := pushRaw(t, h, mi.Token, wire.MediaTypeJOSE, batch(t, mi.Key, "MI", time.Now(), r))
		want := []wire.Outcome{wire.Accepted, wire.Accepted, wire.Conflict}[i]
		wantPushed(t, resp, body, want)
	}

	stranger, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	expired, err := auth.MintToken(h.Key, auth.TokenRequest{Subject: "test-expired", Role: auth.RoleAdmin, TTL: time.Hour, Now: time.Now().Add(-2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	z := &azHub{h: h, mi: mi, agc: agc, conflict: id, link: hub.LinkID(f.ID, m.ID)}
	z.tokens = [azCallers]string{
		azNone:        "",
		azExpired:     expired,
		azWrongSigner: hubtest.Token(t, stranger, auth.RoleAdmin, ""),
		azForged:      hubtest.Token(t, mi.Key, auth.RoleAdmin, ""),
		azAnalyst:     h.Token(t, auth.RoleAnalyst, ""),
		azOwn:         h.Token(t, auth.RoleProgram, "MI"),
		azOwnNodeKey:  mi.Token,
		azOther:       h.Token(t, auth.RoleProgram, "NV"),
		azAdmin:       h.Token(t, auth.RoleAdmin, ""),
	}
	z.analyst = z.tokens[azAnalyst]
	var l wire.Link
	if hubtest.GetJSON(t, h.URL+"/v1/links/"+z.link, z.analyst, &l); l.State != wire.LinkProposed {
		t.Fatalf("fixture: link %+v, want proposed", l)
	}
	var cp hub.ConflictPage
	hubtest.GetJSON(t, h.URL+"/v1/conflicts", z.analyst, &cp)
	if cp.Total != 1 || cp.Items[0].ID != id {
		t.Fatalf("fixture: conflict queue %+v, want %s", cp, id)
	}
	return z
}

func freshKey(t *testing.T) *auth.Key {
	t.Helper()
	k, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// azHubState is what a refused call must leave as it was: the journal's head (every
// record, acknowledgement and link decision moves it), the roster, every program's keys
// and checkpoint, the links and the conflict queue with its acknowledgements.
type azHubState struct {
	HeadSeq   uint64
	Roster    map[string]string
	Programs  map[string]string
	Links     map[string]string
	Conflicts map[string]string
}

func hubState(t *testing.T, h *hubtest.Hub, analyst string) azHubState {
	t.Helper()
	s := azHubState{Roster: map[string]string{}, Programs: map[string]string{}, Links: map[string]string{}, Conflicts: map[string]string{}}
	var feed wire.ChangesPage
	hubtest.GetJSON(t, h.URL+"/v1/sync/changes?limit=1", analyst, &feed)
	s.HeadSeq = feed.HeadSeq
	var r rosterPage
	hubtest.GetJSON(t, h.URL+"/v1/roster?limit=1000", analyst, &r)
	for _, it := range r.Items {
		s.Roster[it.ID] = fmt.Sprintf("%s conflict=%v", it.Rev, it.Conflict)
	}
	var progs struct{ Items []hub.ProgramView }
	hubtest.GetJSON(t, h.URL+"/v1/programs", analyst, &progs)
	for _, p := range progs.Items {
		var keys []string
		for _, k := range p.Keys {
			keys = append(keys, fmt.Sprintf("%s %s nb=%v na=%v rev=%v", k.Kid, k.State, k.NotBefore, k.NotAfter, k.RevokedAt))
		}
		s.Programs[p.Code] = fmt.Sprintf("checkpoint=%d records=%d keys=%v", p.Sync.Checkpoint, p.Sync.Records, keys)
	}
	var links hub.LinkPage
	hubtest.GetJSON(t, h.URL+"/v1/links?limit=500", analyst, &links)
	for _, l := range links.Items {
		s.Links[l.ID] = fmt.Sprintf("%s %+v", l.State, l.Decision)
	}
	var cs hub.ConflictPage
	hubtest.GetJSON(t, h.URL+"/v1/conflicts?limit=500", analyst, &cs)
	for _, c := range cs.Items {
		s.Conflicts[c.ID] = fmt.Sprintf("%s %+v", c.WinningRev, c.Acknowledged)
	}
	return s
}

func (z *azHub) routes(t *testing.T) []azRoute {
	mi := z.mi
	none := func(path string) func(*testing.T, azCaller) azReq {
		return func(*testing.T, azCaller) azReq { return azReq{path: path} }
	}
	return []azRoute{
		{method: "GET", route: "/healthz", rule: azPublic(), req: none("/healthz")},
		{method: "GET", route: "/readyz", rule: azPublic(), req: none("/readyz")},
		{method: "GET", route: "/.well-known/jwks.json", rule: azPublic(), req: none("/.well-known/jwks.json")},
		// Prometheus text, without a token (CONTRACT.md).
		{method: "GET", route: "/metrics", rule: azPublic(), req: none("/metrics")},
		{method: "GET", route: "/openapi.json", rule: azPublic(), req: none("/openapi.json")},

		// Enrolling: an enrolled program's new key answers 200 (the program was there).
		{method: "POST", route: "/v1/programs", rule: azAdminOnly(http.StatusOK), writes: true, req: func(t *testing.T, _ azCaller) azReq {
			return azJSON(t, "/v1/programs", map[string]any{"code": "MI", "jwk": freshKey(t).PublicJWK()})
		}},
		{method: "GET", route: "/v1/programs", rule: azAnyToken(), req: none("/v1/programs")},
		{method: "POST", route: "/v1/programs/:code/keys", variant: "admin JSON", rule: azAdminOnly(http.StatusCreated), writes: true, req: func(t *testing.T, _ azCaller) azReq {
			return azJSON(t, "/v1/programs/MI/keys", map[string]any{"jwk": freshKey(t).PublicJWK()})
		}},
		// A rotation signed by MI's current key: MI's own token or an admin's.
		{method: "POST", route: "/v1/programs/:code/keys", variant: "signed rotation", rule: azOwnOrAdmin(http.StatusCreated), writes: true, req: func(t *testing.T, _ azCaller) azReq {
			return azReq{path: "/v1/programs/MI/keys", header: http.Header{"Content-Type": {wire.MediaTypeJOSE}},
				body: rotation(t, mi.Key, "MI", freshKey(t).PublicJWK(), time.Now(), nil)}
		}},
		// Each call revokes a key of its own, added just before.
		{method: "POST", route: "/v1/programs/:code/keys/:kid/revoke", rule: azAdminOnly(http.StatusOK), writes: true, req: func(t *testing.T, _ azCaller) azReq {
			k := freshKey(t)
			if _, _, err := z.h.AddKey("MI", hub.KeyRequest{JWK: mustJSON(t, k.PublicJWK())}); err != nil {
				t.Fatal(err)
			}
			return azJSON(t, "/v1/programs/MI/keys/"+k.KeyID()+"/revoke", map[string]string{"reason": "authorization matrix"})
		}},
		// A new MI record in a batch MI's key signed: the token's program must be MI.
		{method: "POST", route: "/v1/sync/push", rule: azOwnProgram(http.StatusOK).denying(azOther, "not-owner"), writes: true, req: func(t *testing.T, _ azCaller) azReq {
			return azReq{path: "/v1/sync/push", header: http.Header{"Content-Type": {wire.MediaTypeJOSE}},
				body: batch(t, mi.Key, "MI", time.Now(), record(t, mi.Key, "MI", schema.NewID("MI"), 1, nil))}
		}},
		{method: "GET", route: "/v1/sync/changes", rule: azAnyToken(), req: none("/v1/sync/changes?since=0")},
		{method: "GET", route: "/v1/sync/keys", rule: azAnyToken(), req: none("/v1/sync/keys")},
		{method: "GET", route: "/v1/sync/digest", rule: azAnyToken(), req: none("/v1/sync/digest?program=MI")},
		{method: "GET", route: "/v1/roster", rule: azAnyToken(), req: none("/v1/roster")},
		{method: "GET", route: "/v1/roster/:id", rule: azAnyToken(), req: none("/v1/roster/" + z.agc.ID)},
		{method: "GET", route: "/v1/roster/:id/bundle", rule: azAnyToken(), req: none("/v1/roster/" + z.agc.ID + "/bundle")},
		// The conflict queue is part of the national roster (every roster item shows its
		// conflict state, GET /v1/roster/{id} every revision): any token reads it.
		{method: "GET", route: "/v1/conflicts", rule: azAnyToken(), req: none("/v1/conflicts")},
		{method: "GET", route: "/v1/conflicts/:id", rule: azAnyToken(), req: none("/v1/conflicts/" + z.conflict)},
		// DCSP acknowledges; the owner resolves on its node, never here.
		{method: "POST", route: "/v1/conflicts/:id/resolve", rule: azDCSPOnly(), writes: true, req: func(t *testing.T, c azCaller) azReq {
			return azJSON(t, "/v1/conflicts/"+z.conflict+"/resolve", map[string]string{"note": "matrix: " + c.String()})
		}},
		{method: "GET", route: "/v1/links", rule: azAnyToken(), req: none("/v1/links")},
		{method: "GET", route: "/v1/links/:id", rule: azAnyToken(), req: none("/v1/links/" + z.link)},
		// A link is DCSP's reading of two programs' records: neither program decides it.
		{method: "POST", route: "/v1/links/:id/confirm", rule: azDCSPOnly(), writes: true, req: func(t *testing.T, c azCaller) azReq {
			return azJSON(t, "/v1/links/"+z.link+"/confirm", map[string]string{"note": "matrix: " + c.String()})
		}},
		{method: "POST", route: "/v1/links/:id/reject", rule: azDCSPOnly(), writes: true, req: func(t *testing.T, c azCaller) azReq {
			return azJSON(t, "/v1/links/"+z.link+"/reject", map[string]string{"note": "matrix: " + c.String()})
		}},
		{method: "GET", route: "/v1/stats", rule: azAnyToken(), req: none("/v1/stats")},

		// The web UI: its pages take the session cookie that signing in sets, never a
		// bearer header, and then call this API with the session's token, so the rows
		// above are what each role may do there. A bearer token alone opens nothing and
		// changes nothing: every caller is led to sign in.
		{method: "GET", route: "/", rule: azRule{public: true, ok: http.StatusSeeOther}, location: "/ui/", req: none("/")},
		{method: "GET", route: "/ui/*", variant: "sign-in page", rule: azPublic(), req: none("/ui/signin")},
		{method: "GET", route: "/ui/*", variant: "a page, bearer header only", rule: azRule{public: true, ok: http.StatusSeeOther}, location: "/ui/signin", req: none("/ui/roster/" + z.agc.ID)},
		{method: "POST", route: "/ui/*", variant: "a form, bearer header only", rule: azRule{public: true, ok: http.StatusSeeOther}, location: "/ui/signin", req: func(t *testing.T, c azCaller) azReq {
			return azReq{path: "/ui/conflicts/" + z.conflict + "/acknowledge", header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
				body: []byte("note=matrix")}
		}},
	}
}

// azClient follows no redirect: a cell's answer is the route's own.
var azClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// azRequest sends a matrix request with a bearer token (none if empty).
func azRequest(t *testing.T, method, url, token string, header http.Header, body []byte) (*http.Response, []byte) {
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
	resp, err := azClient.Do(req)
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

// checkRouteCoverage fails unless the table names every registered route, and only
// registered ones.
func checkRouteCoverage(t *testing.T, registered []string, table []string) {
	t.Helper()
	if len(registered) == 0 {
		t.Fatal("the server lists no routes")
	}
	for _, r := range registered {
		if !slices.Contains(table, r) {
			t.Errorf("route %s is registered but not in the authorization matrix: add a row with who may call it", r)
		}
	}
	for _, r := range table {
		if !slices.Contains(registered, r) {
			t.Errorf("the matrix has a row for %s, which is not registered", r)
		}
	}
}

// azCheck compares an answer with its cell: the status, and for a refusal a problem
// with the slug.
func azCheck(t *testing.T, resp *http.Response, body []byte, want azWant) bool {
	t.Helper()
	if resp.StatusCode != want.status {
		t.Errorf("status %d, want %s: %.300s", resp.StatusCode, want, body)
		return false
	}
	if want.slug == "" {
		return true
	}
	var p problem
	hubtest.DecodeJSON(t, body, &p)
	if p.Type != "urn:alliancehub:problem:"+want.slug || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("answer %s %+v, want problem %s", resp.Header.Get("Content-Type"), p, want)
		return false
	}
	if want.status == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
		t.Error("a 401 without WWW-Authenticate")
	}
	return true
}

func TestAuthorizationMatrix(t *testing.T) {
	z := startAzHub(t)
	rows := z.routes(t)
	var names []string
	for _, r := range rows {
		names = append(names, r.method+" "+r.route)
	}
	checkRouteCoverage(t, z.h.Routes(), names)

	var table strings.Builder
	cells := 0
	for _, r := range rows {
		fmt.Fprintf(&table, "%-58s", r.name())
		for c := range azCallers {
			want := r.rule.want(c)
			fmt.Fprintf(&table, " %s=%s", c, want)
			cells++
			t.Run(r.name()+"/"+c.String(), func(t *testing.T) {
				q := r.req(t, c) // may prepare the hub (a key to revoke)
				changes := r.writes && r.rule.allowed(c)
				var before azHubState
				if !changes {
					before = hubState(t, z.h, z.analyst)
				}
				resp, body := azRequest(t, r.method, z.h.URL+q.path, z.tokens[c], q.header, q.body)
				azCheck(t, resp, body, want)
				if loc := resp.Header.Get("Location"); r.location != "" && !strings.HasPrefix(loc, r.location) {
					t.Errorf("Location %q, want %s...", loc, r.location)
				}
				if changes {
					return
				}
				if diff := cmp.Diff(before, hubState(t, z.h, z.analyst)); diff != "" {
					t.Errorf("the hub changed (-before +after):\n%s", diff)
				}
			})
		}
		table.WriteString("\n")
	}
	t.Logf("%d routes (%d rows) x %d callers = %d cells:\n%s", len(z.h.Routes()), len(rows), azCallers, cells, table.String())
}
