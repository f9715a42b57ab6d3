package hub_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/alliancehub/alliancehub/node"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

// Conflicts from two replicas of one program (issue 5 item 1: "two replicas of one
// program"), with real nodes: a second node server of the program, started from a copy
// of the first one's store and signing with the same key (a standby, or a copy a clerk
// kept working on), is written to on its own. Each replica's edit of the same record
// reaches the hub as a branch of its own.

// startReplica stops n for a moment, copies its store and starts a second node of n's
// program on the copy, with n's key, on a server of its own. Its Token is n's (the
// same key signs both replicas' tokens). Only the fields create, syncNode and the
// request helpers use are set: it cannot be restarted.
func startReplica(t *testing.T, h *hubtest.Hub, n *hubtest.Node) *hubtest.Node {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "replica")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	n.Reopen(t, func() { copyFile(t, filepath.Join(n.Dir, journal.FileName), filepath.Join(dir, journal.FileName)) })
	nn, err := node.New(node.Config{Program: n.Program(), Key: n.Key, DataDir: dir, HubURL: h.URL,
		Retry: node.RetryPolicy{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond, Budget: 2 * time.Second}})
	if err != nil {
		t.Fatalf("start the replica: %v", err)
	}
	srv := httptest.NewServer(nn.Handler())
	t.Cleanup(func() {
		srv.Close()
		nn.Close()
	})
	return &hubtest.Node{Node: nn, Key: n.Key, Dir: dir, URL: srv.URL, Token: n.Token}
}

// localConflicts is a node's GET /v1/conflicts, by record id.
func localConflicts(t *testing.T, n *hubtest.Node) map[string]node.LocalConflict {
	t.Helper()
	var page struct {
		Items []node.LocalConflict `json:"items"`
	}
	hubtest.GetJSON(t, n.URL+"/v1/conflicts", n.Token, &page)
	out := map[string]node.LocalConflict{}
	for _, c := range page.Items {
		out[c.ID] = c
	}
	return out
}

// resolveOn asks node n to resolve its conflict on id (If-Match rev), taking the content
// of the leaf take ("" keeps its own), and returns the resolving revision.
func resolveOn(t *testing.T, n *hubtest.Node, id, rev, take string) schema.Alliance {
	t.Helper()
	body := []byte(`{}`)
	if take != "" {
		body = mustJSON(t, map[string]string{"take": take})
	}
	resp, raw := hubtest.Request(t, http.MethodPost, n.URL+"/v1/alliances/"+id+"/resolve", n.Token,
		http.Header{"If-Match": {`"` + rev + `"`}, "Content-Type": {"application/json"}}, body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("resolve %s on %s: %d %s", id, n.URL, resp.StatusCode, raw)
	}
	var a schema.Alliance
	hubtest.DecodeJSON(t, raw, &a)
	return a
}

// TestTwoReplicasConflict: two replicas of MI edit one Alliance, each syncs. The hub keeps
// both signed revisions, shows the one with the higher hash (same generation), marks the
// record conflicted and lists the field they differ in; the hub's roster entry and both
// replicas' rosters agree on the winner. Either replica resolves it (here the second,
// taking the first's content) and the conflict ends everywhere.
func TestTwoReplicasConflict(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	a := hubtest.StartNode(t, h, "MI")
	rec := create(t, a, miAGC)
	syncNode(t, a)
	b := startReplica(t, h, a)

	lansing := putOffice(t, a, rec, "Lansing")
	detroit := putOffice(t, b, rec, "Detroit")
	if got := syncNode(t, a); got.Accepted != 1 || got.Conflict != 0 {
		t.Fatalf("first replica's sync = %+v, want its edit accepted", got)
	}
	if got := syncNode(t, b); got.Conflict != 1 || got.Accepted != 0 {
		t.Fatalf("second replica's sync = %+v, want its edit answered conflict", got)
	}
	syncNode(t, a) // pulls what the second replica pushed

	winner := max(lansing.Rev, detroit.Rev)
	analyst := h.Token(t, auth.RoleAnalyst, "")
	var e hub.RosterEntry
	hubtest.GetJSON(t, h.URL+"/v1/roster/"+rec.ID, analyst, &e)
	if !e.Conflict || e.Rev != winner {
		t.Errorf("hub entry: rev %s conflict %v; want the higher hash %s, conflicted", e.Rev, e.Conflict, winner)
	}
	leaves := map[string]bool{}
	for _, r := range e.Revisions {
		if r.Kid != a.Key.KeyID() {
			t.Errorf("revision %s signed by %s, want the program's key", r.Rev, r.Kid)
		}
		if r.Leaf {
			leaves[r.Rev] = r.Winner
		}
	}
	if want := map[string]bool{lansing.Rev: lansing.Rev == winner, detroit.Rev: detroit.Rev == winner}; len(e.Revisions) != 3 || !cmp.Equal(want, leaves) {
		t.Errorf("hub keeps %d revisions, leaves (rev: winner) %v; want 3 with %v", len(e.Revisions), leaves, want)
	}
	var c hub.Conflict
	hubtest.GetJSON(t, h.URL+"/v1/conflicts/"+rec.ID, analyst, &c)
	if len(c.Differences) != 1 || c.Differences[0].Field != "office" || c.WinningRev != winner {
		t.Errorf("conflict = %+v, want office differing, winner %s", c, winner)
	}
	// Each replica's roster shows the same winner, and each lists the conflict with the
	// revision it holds.
	for _, n := range []struct {
		name  string
		n     *hubtest.Node
		local string
	}{{"first replica", a, lansing.Rev}, {"second replica", b, detroit.Rev}} {
		var ne hub.RosterEntry
		hubtest.GetJSON(t, n.n.URL+"/v1/roster/"+rec.ID, n.n.Token, &ne)
		if ne.Rev != winner || !ne.Conflict {
			t.Errorf("%s's roster: rev %s conflict %v, want %s conflicted", n.name, ne.Rev, ne.Conflict, winner)
		}
		lc, ok := localConflicts(t, n.n)[rec.ID]
		if !ok || lc.LocalRev != n.local || len(lc.Leaves) != 2 {
			t.Errorf("%s's conflicts = %+v, want %s with local_rev %s and two leaves", n.name, lc, rec.ID, n.local)
		}
	}

	resolved := resolveOn(t, b, rec.ID, detroit.Rev, lansing.Rev)
	if resolved.Office != "Lansing" {
		t.Errorf("resolution holds office %q, want the first replica's Lansing", resolved.Office)
	}
	if got := syncNode(t, b); got.Accepted != 1 {
		t.Errorf("sync of the resolution = %+v, want accepted", got)
	}
	syncNode(t, a)
	hubtest.GetJSON(t, h.URL+"/v1/roster/"+rec.ID, analyst, &e)
	if e.Conflict || e.Rev != resolved.Rev || e.Office != "Lansing" {
		t.Errorf("hub after the resolution: rev %s conflict %v office %q; want %s, Lansing", e.Rev, e.Conflict, e.Office, resolved.Rev)
	}
	if got := e.Revisions[0]; got.Rev != resolved.Rev || len(got.Resolves) != 1 || got.Resolves[0] != lansing.Rev {
		t.Errorf("newest revision %+v, want the resolution naming %s", got, lansing.Rev)
	}
	for _, n := range []*hubtest.Node{a, b} {
		if got := localConflicts(t, n); len(got) != 0 {
			t.Errorf("a replica still lists conflicts: %+v", got)
		}
	}
}

// TestDeleteEditConflict: one replica deletes a draft (a signed tombstone) while the
// other edits it. The hub keeps both; the edit is shown (a live revision beats a
// tombstone, as in CouchDB), the record stays on the roster, conflicted, and the queue
// shows the deletion as a leaf. The replica that kept the draft resolves it.
func TestDeleteEditConflict(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	a := hubtest.StartNode(t, h, "MI")
	draft := create(t, a, `{"participants":[{"name":"Michigan Draft Partner"}],"goals":[{"category":"outreach-communication"}]}`)
	if draft.Status != schema.StatusDraft {
		t.Fatalf("fixture: status %s, want draft", draft.Status)
	}
	syncNode(t, a)
	b := startReplica(t, h, a)

	resp, raw := hubtest.Request(t, http.MethodDelete, a.URL+"/v1/alliances/"+draft.ID, a.Token, http.Header{"If-Match": {`"` + draft.Rev + `"`}}, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("delete: %d %s", resp.StatusCode, raw)
	}
	var del struct{ Rev string }
	hubtest.DecodeJSON(t, raw, &del)
	edited := putOffice(t, b, draft, "Lansing")
	if got := syncNode(t, a); got.Accepted != 1 {
		t.Fatalf("deleting replica's sync = %+v", got)
	}
	if got := syncNode(t, b); got.Conflict != 1 {
		t.Fatalf("editing replica's sync = %+v, want a conflict", got)
	}

	analyst := h.Token(t, auth.RoleAnalyst, "")
	var e hub.RosterEntry
	hubtest.GetJSON(t, h.URL+"/v1/roster/"+draft.ID, analyst, &e)
	if e.Rev != edited.Rev || !e.Conflict || e.Office != "Lansing" {
		t.Errorf("roster entry: rev %s conflict %v office %q; want the edit %s, conflicted", e.Rev, e.Conflict, e.Office, edited.Rev)
	}
	var c hub.Conflict
	hubtest.GetJSON(t, h.URL+"/v1/conflicts/"+draft.ID, analyst, &c)
	deleted := map[string]bool{}
	for _, l := range c.Leaves {
		deleted[l.Rev] = l.Deleted
	}
	if want := map[string]bool{del.Rev: true, edited.Rev: false}; !cmp.Equal(want, deleted) || c.WinningRev != edited.Rev {
		t.Errorf("conflict leaves (rev: deleted) %v winning %s; want %v winning %s", deleted, c.WinningRev, want, edited.Rev)
	}

	syncNode(t, a)
	if lc, ok := localConflicts(t, a)[draft.ID]; !ok || lc.LocalRev != "" {
		t.Errorf("deleting replica's conflicts = %+v, want the draft listed with no local revision", lc)
	}
	resolved := resolveOn(t, b, draft.ID, edited.Rev, "")
	if got := syncNode(t, b); got.Accepted != 1 {
		t.Errorf("sync of the resolution = %+v", got)
	}
	hubtest.GetJSON(t, h.URL+"/v1/roster/"+draft.ID, analyst, &e)
	if e.Conflict || e.Rev != resolved.Rev {
		t.Errorf("after the resolution: rev %s conflict %v, want %s", e.Rev, e.Conflict, resolved.Rev)
	}
	if got := roster(t, h, "?status=draft"); got.Total != 1 || got.Items[0].ID != draft.ID {
		t.Errorf("draft roster = %+v, want the kept draft", got.Items)
	}
}

// TestResolveByNonOwnerRefused (issue 5, bad input "a resolve by someone other than the
// owner"): only MI's node, with MI's key, ends a conflict on an MI record. A resolving
// revision signed by another program's key (in its own batch or in MI's), a resolve
// asked of the hub by a program token (the hub only acknowledges, for DCSP), a resolve
// on MI's node with another program's token or by an analyst, and a resolve asked of
// another program's node: each is refused with its reason, and neither the hub nor a
// node changes.
func TestResolveByNonOwnerRefused(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	nv := hubtest.StartNode(t, h, "NV")
	rec := create(t, mi, miAGC)
	syncNode(t, mi)
	mi.Fork(t, rec, [2]string{"Lansing", "Detroit"})
	syncNode(t, mi)
	// NV has pushed before, so a batch of one record (seq 1) that NV's key signs leaves
	// its checkpoint where it is: a rejected record moves nothing.
	create(t, nv, nvNCA)
	syncNode(t, nv)
	analyst := h.Token(t, auth.RoleAnalyst, "")
	var c hub.Conflict
	hubtest.GetJSON(t, h.URL+"/v1/conflicts/"+rec.ID, analyst, &c)
	if len(c.Leaves) != 2 {
		t.Fatalf("fixture: conflict %+v, want two leaves", c)
	}
	win, lose := c.WinningRev, c.Leaves[0].Rev
	if lose == win {
		lose = c.Leaves[1].Rev
	}
	// What MI's node would write, but signed with NV's key.
	forged := resolvingRecord(t, nv.Key, "MI", rec.ID, win, "Grand Rapids", lose)
	nvForged := resolvingRecord(t, nv.Key, "NV", rec.ID, win, "Grand Rapids", lose)
	now := time.Now()
	miAnalyst := hubtest.Token(t, mi.Key, auth.RoleAnalyst, "")
	local := localConflicts(t, mi)[rec.ID].LocalRev

	cases := []struct {
		name    string
		base    string
		method  string
		path    string
		token   string
		header  http.Header
		body    []byte
		status  int
		slug    string // for a problem
		outcome wire.Outcome
		reason  string // for a record rejected inside a batch
	}{
		{name: "resolution signed by NV, in NV's batch", base: h.URL, method: "POST", path: "/v1/sync/push", token: nv.Token, header: joseHeader,
			body: batch(t, nv.Key, "NV", now, forged), status: 200, outcome: wire.Rejected, reason: "only the owner program may write it"},
		{name: "resolution of MI's id claiming program NV", base: h.URL, method: "POST", path: "/v1/sync/push", token: nv.Token, header: joseHeader,
			body: batch(t, nv.Key, "NV", now, nvForged), status: 200, outcome: wire.Rejected, reason: "owned by MI"},
		{name: "resolution signed by NV, in MI's batch", base: h.URL, method: "POST", path: "/v1/sync/push", token: mi.Token, header: joseHeader,
			body: batch(t, mi.Key, "MI", now, forged), status: 200, outcome: wire.Rejected, reason: "signed with a key of program NV"},
		{name: "NV's batch pushed with MI's token", base: h.URL, method: "POST", path: "/v1/sync/push", token: mi.Token, header: joseHeader,
			body: batch(t, nv.Key, "NV", now, forged), status: 403, slug: "not-owner"},
		{name: "hub resolve by another program", base: h.URL, method: "POST", path: "/v1/conflicts/" + rec.ID + "/resolve", token: nv.Token, header: jsonHeader,
			body: []byte(`{"note":"NV says Lansing"}`), status: 403, slug: "forbidden"},
		{name: "hub resolve by the owner program (it resolves on its node)", base: h.URL, method: "POST", path: "/v1/conflicts/" + rec.ID + "/resolve", token: mi.Token, header: jsonHeader,
			body: []byte(`{"note":"MI says Lansing"}`), status: 403, slug: "forbidden"},
		{name: "MI node resolve with NV's token", base: mi.URL, method: "POST", path: "/v1/alliances/" + rec.ID + "/resolve", token: nv.Token, header: ifMatch(`"` + local + `"`),
			body: []byte(`{}`), status: 401, slug: "unauthenticated"},
		{name: "MI node resolve with the hub's NV program token", base: mi.URL, method: "POST", path: "/v1/alliances/" + rec.ID + "/resolve", token: h.Token(t, auth.RoleProgram, "NV"), header: ifMatch(`"` + local + `"`),
			body: []byte(`{}`), status: 401, slug: "unauthenticated"},
		{name: "MI node resolve by an analyst", base: mi.URL, method: "POST", path: "/v1/alliances/" + rec.ID + "/resolve", token: miAnalyst, header: ifMatch(`"` + local + `"`),
			body: []byte(`{}`), status: 403, slug: "forbidden"},
		{name: "NV node asked to resolve MI's record", base: nv.URL, method: "POST", path: "/v1/alliances/" + rec.ID + "/resolve", token: nv.Token, header: ifMatch(`"` + local + `"`),
			body: []byte(`{}`), status: 404, slug: "not-found"},
	}
	state := func(t *testing.T) badState {
		return badState{Hub: hubState(t, h, analyst), Nodes: map[string]badNodeState{"MI": badNode(t, mi), "NV": badNode(t, nv)}}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := state(t)
			resp, body := hubtest.Request(t, tc.method, tc.base+tc.path, tc.token, tc.header, tc.body)
			if tc.status == http.StatusOK {
				var pr wire.PushResponse
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d, want 200: %s", resp.StatusCode, body)
				}
				hubtest.DecodeJSON(t, body, &pr)
				if len(pr.Results) != 1 || pr.Results[0].Outcome != tc.outcome || !strings.Contains(pr.Results[0].Reason, tc.reason) {
					t.Errorf("results %+v, want %s naming %q", pr.Results, tc.outcome, tc.reason)
				}
			} else {
				wantProblem(t, resp, body, tc.status, tc.slug)
			}
			if diff := cmp.Diff(before, state(t)); diff != "" {
				t.Errorf("something changed (-before +after):\n%s", diff)
			}
		})
	}
	// The conflict is as it was: open, unacknowledged, both leaves.
	var after hub.Conflict
	hubtest.GetJSON(t, h.URL+"/v1/conflicts/"+rec.ID, analyst, &after)
	if diff := cmp.Diff(c, after); diff != "" {
		t.Errorf("the conflict changed (-before +after):\n%s", diff)
	}
}
