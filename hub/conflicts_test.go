package hub_test

import (
	"net/http"
	"path/filepath"
	"testing"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/alliancehub/alliancehub/schema"
)

// put replaces an Alliance on its node with one field changed and returns the new rev.
func putOffice(t *testing.T, n *hubtest.Node, a schema.Alliance, office string) schema.Alliance {
	t.Helper()
	a.Office = office
	resp, body := hubtest.Request(t, http.MethodPut, n.URL+"/v1/alliances/"+a.ID, n.Token,
		http.Header{"If-Match": {`"` + a.Rev + `"`}, "Content-Type": {"application/json"}}, mustJSON(t, a))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("put: %d %s", resp.StatusCode, body)
	}
	var out schema.Alliance
	hubtest.DecodeJSON(t, body, &out)
	return out
}

// TestConflictQueue walks a conflict from its cause to its end: a node restored from an
// older backup edits a record again, so the hub holds two branches (both kept, the record
// flagged, never silently overwritten); DCSP sees the queue with the field-by-field
// difference and acknowledges it without touching the record; the owner node sees the
// conflict in its replica and resolves it with a revision naming the loser.
func TestConflictQueue(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	a := create(t, mi, miAGC)
	syncNode(t, mi)
	backup := t.TempDir()
	store := filepath.Join(mi.Dir, journal.FileName)
	mi.Reopen(t, func() { copyFile(t, store, filepath.Join(backup, journal.FileName)) })
	lansing := putOffice(t, mi, a, "Lansing")
	syncNode(t, mi)
	mi.Reopen(t, func() { copyFile(t, filepath.Join(backup, journal.FileName), store) })
	detroit := putOffice(t, mi, a, "Detroit")
	if got := syncNode(t, mi); got.Conflict != 1 {
		t.Fatalf("sync of the restored node = %+v, want one conflict", got)
	}

	analyst := h.Token(t, auth.RoleAnalyst, "")
	var page hub.ConflictPage
	hubtest.GetJSON(t, h.URL+"/v1/conflicts", analyst, &page)
	if page.Total != 1 || len(page.Items) != 1 {
		t.Fatalf("conflict queue = %+v, want one", page)
	}
	c := page.Items[0]
	if c.ID != a.ID || len(c.Leaves) != 2 || c.WinningRev != max(lansing.Rev, detroit.Rev) || c.Acknowledged != nil {
		t.Errorf("conflict = %+v", c)
	}
	if len(c.Differences) != 1 || c.Differences[0].Field != "office" ||
		string(c.Differences[0].Values[lansing.Rev]) != `"Lansing"` || string(c.Differences[0].Values[detroit.Rev]) != `"Detroit"` {
		t.Errorf("differences = %+v, want office Lansing vs Detroit", c.Differences)
	}
	if r := roster(t, h, ""); !r.Items[0].Conflict {
		t.Error("roster item not marked conflicted")
	}

	// DCSP acknowledges; a program may not; the record is untouched.
	resp, body := hubtest.Do(t, http.MethodPost, h.URL+"/v1/conflicts/"+a.ID+"/resolve", mi.Token, map[string]string{"note": "x"})
	wantProblem(t, resp, body, http.StatusForbidden, "forbidden")
	resp, body = hubtest.Do(t, http.MethodPost, h.URL+"/v1/conflicts/"+a.ID+"/resolve", analyst, map[string]string{"note": "asked MIOSHA which office is right"})
	var acked hub.Conflict
	hubtest.DecodeJSON(t, body, &acked)
	if resp.StatusCode != http.StatusOK || acked.Acknowledged == nil || acked.Acknowledged.Note == "" {
		t.Fatalf("acknowledge: %d %s", resp.StatusCode, body)
	}
	h.Restart(t)
	hubtest.GetJSON(t, h.URL+"/v1/conflicts?acknowledged=true", analyst, &page)
	if page.Total != 1 || page.Items[0].Acknowledged == nil || page.Items[0].Acknowledged.By != "test-analyst" {
		t.Errorf("after restart, acknowledged queue = %+v", page)
	}
	if r := roster(t, h, ""); r.Items[0].Rev != c.WinningRev {
		t.Errorf("acknowledging changed the roster: rev %s", r.Items[0].Rev)
	}

	// The owner sees it and resolves it, taking the other branch's office.
	syncNode(t, mi)
	var local struct {
		Items []struct {
			ID           string   `json:"id"`
			LocalRev     string   `json:"local_rev"`
			Acknowledged *hub.Ack `json:"acknowledged"`
			Leaves       []struct {
				Rev string `json:"rev"`
			} `json:"leaves"`
		} `json:"items"`
	}
	hubtest.GetJSON(t, mi.URL+"/v1/conflicts", mi.Token, &local)
	// DCSP's acknowledgement reached the node with the feed, as a note the hub signed.
	if len(local.Items) != 1 || local.Items[0].LocalRev != detroit.Rev || len(local.Items[0].Leaves) != 2 ||
		local.Items[0].Acknowledged == nil || local.Items[0].Acknowledged.Note == "" {
		t.Fatalf("node's conflicts = %+v", local)
	}
	resolveURL := mi.URL + "/v1/alliances/" + a.ID + "/resolve"
	resp, body = hubtest.Request(t, http.MethodPost, resolveURL, mi.Token, http.Header{"Content-Type": {"application/json"}}, []byte(`{}`))
	wantProblem(t, resp, body, http.StatusPreconditionRequired, "precondition-required")
	resp, body = hubtest.Request(t, http.MethodPost, resolveURL, mi.Token,
		http.Header{"If-Match": {detroit.Rev}, "Content-Type": {"application/json"}}, []byte(`{"take":"9-`+detroit.Rev[2:]+`"}`))
	wantProblem(t, resp, body, http.StatusUnprocessableEntity, "validation")
	resp, body = hubtest.Request(t, http.MethodPost, resolveURL, mi.Token,
		http.Header{"If-Match": {detroit.Rev}, "Content-Type": {"application/json"}}, []byte(`{"take":"`+lansing.Rev+`"}`))
	var resolved schema.Alliance
	hubtest.DecodeJSON(t, body, &resolved)
	if resp.StatusCode != http.StatusOK || resolved.Office != "Lansing" || resolved.Rev[0] != '3' {
		t.Fatalf("resolve: %d %s", resp.StatusCode, body)
	}
	if got := syncNode(t, mi); got.Accepted != 1 || got.Conflict != 0 {
		t.Errorf("sync of the resolution = %+v, want accepted", got)
	}
	hubtest.GetJSON(t, h.URL+"/v1/conflicts", analyst, &page)
	if page.Total != 0 {
		t.Errorf("conflict queue after the resolution = %+v, want empty", page)
	}
	if r := roster(t, h, ""); r.Items[0].Conflict || r.Items[0].Rev != resolved.Rev || r.Items[0].Office != "Lansing" {
		t.Errorf("roster after the resolution: %+v", r.Items[0])
	}
	hubtest.GetJSON(t, mi.URL+"/v1/conflicts", mi.Token, &local)
	if len(local.Items) != 0 {
		t.Errorf("node's conflicts after the resolution = %+v", local)
	}
	resp, body = hubtest.Request(t, http.MethodPost, resolveURL, mi.Token, http.Header{"If-Match": {resolved.Rev}}, nil)
	wantProblem(t, resp, body, http.StatusConflict, "not-conflicted")
	resp, body = hubtest.Do(t, http.MethodGet, h.URL+"/v1/conflicts/"+a.ID, analyst, nil)
	wantProblem(t, resp, body, http.StatusNotFound, "not-conflicted")
	resp, body = hubtest.Do(t, http.MethodGet, h.URL+"/v1/conflicts?acknowledged=maybe&limit=0", analyst, nil)
	if p := wantProblem(t, resp, body, http.StatusBadRequest, "invalid-request"); len(p.Errors) != 2 {
		t.Errorf("errors = %+v, want acknowledged and limit named", p.Errors)
	}
}
