package hub_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/google/go-cmp/cmp"
)

// TestRosterEntry: GET /v1/roster/{id} shows every revision with its key, signing and
// arrival times, which is the winner, the Alliance's reports and the owning node's
// freshness; the node's replica answers the same (without the freshness).
func TestRosterEntry(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	a := create(t, mi, miAGC)
	b := putOffice(t, mi, a, "Lansing")
	syncNode(t, mi)
	analyst := h.Token(t, auth.RoleAnalyst, "")
	var e hub.RosterEntry
	hubtest.GetJSON(t, h.URL+"/v1/roster/"+a.ID+"?as_of=2026-01-01", analyst, &e)
	if e.ID != a.ID || e.Rev != b.Rev || e.Office != "Lansing" || e.Conflict {
		t.Errorf("entry = %+v", e.RosterItem)
	}
	if len(e.Revisions) != 2 || e.Revisions[0].Rev != b.Rev || !e.Revisions[0].Winner || !e.Revisions[0].Leaf ||
		e.Revisions[1].Rev != a.Rev || e.Revisions[1].Leaf || e.Revisions[0].PrevRev != a.Rev {
		t.Errorf("revisions = %+v, want b (winner, leaf) then a", e.Revisions)
	}
	for _, r := range e.Revisions {
		if r.Kid != mi.Key.KeyID() || r.SignedAt.IsZero() || r.ReceivedAt.IsZero() || r.HubSeq == 0 {
			t.Errorf("revision %s provenance = %+v", r.Rev, r)
		}
	}
	if e.Node == nil || e.Node.LastPushAt == nil || e.Node.Checkpoint != 2 {
		t.Errorf("node freshness = %+v", e.Node)
	}
	var n hub.RosterEntry
	hubtest.GetJSON(t, mi.URL+"/v1/roster/"+a.ID+"?as_of=2026-01-01", mi.Token, &n)
	e.Node = nil
	if diff := cmp.Diff(e, n); diff != "" {
		t.Errorf("node's replica entry differs (-hub +node):\n%s", diff)
	}
	resp, body := hubtest.Do(t, http.MethodGet, h.URL+"/v1/roster/MI-nosuchrecord", analyst, nil)
	wantProblem(t, resp, body, http.StatusNotFound, "not-found")
	resp, body = hubtest.Do(t, http.MethodGet, h.URL+"/v1/roster/"+a.ID+"?as_of=2026-13", analyst, nil)
	wantProblem(t, resp, body, http.StatusBadRequest, "invalid-request")
}

// TestRosterSort: every order pages stably (no item twice, none missed) and a bad order
// is named.
func TestRosterSort(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	for i, on := range []string{"2024-05-14", "2025-10", "2023-01-02", "2025-10", "2024"} {
		create(t, mi, fmt.Sprintf(`{"participants":[{"name":"Partner %c"}],"goals":[{"category":"outreach-communication"}],"signed_on":%q}`, 'E'-i, on))
	}
	syncNode(t, mi)
	analyst := h.Token(t, auth.RoleAnalyst, "")
	for _, sort := range []string{"signed_on", "-signed_on", "participant", "-expires_on", "program", "-id"} {
		var all []string
		token := ""
		for range 10 {
			var p rosterPage
			hubtest.GetJSON(t, h.URL+"/v1/roster?limit=2&sort="+sort+"&page_token="+token, analyst, &p)
			for _, it := range p.Items {
				all = append(all, it.ID+" "+it.SignedOn.String()+" "+it.Participants[0].Name)
			}
			if token = p.NextPageToken; token == "" {
				break
			}
		}
		var one rosterPage
		hubtest.GetJSON(t, h.URL+"/v1/roster?sort="+sort, analyst, &one)
		var want []string
		for _, it := range one.Items {
			want = append(want, it.ID+" "+it.SignedOn.String()+" "+it.Participants[0].Name)
		}
		if fmt.Sprint(all) != fmt.Sprint(want) || len(all) != 5 {
			t.Errorf("sort=%s paged = %v, want %v", sort, all, want)
		}
		if sort == "participant" && (one.Items[0].Participants[0].Name != "Partner A" || one.Items[4].Participants[0].Name != "Partner E") {
			t.Errorf("sort=participant = %v", want)
		}
		if sort == "signed_on" && one.Items[0].SignedOn.String() != "2023-01-02" {
			t.Errorf("sort=signed_on = %v", want)
		}
	}
	resp, body := hubtest.Do(t, http.MethodGet, h.URL+"/v1/roster?sort=size", analyst, nil)
	if p := wantProblem(t, resp, body, http.StatusBadRequest, "invalid-request"); len(p.Errors) != 1 || p.Errors[0].Field != "sort" {
		t.Errorf("errors = %+v", p.Errors)
	}
}
