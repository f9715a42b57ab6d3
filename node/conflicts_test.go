package node_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/node"
	"github.com/alliancehub/alliancehub/schema"
)

// TestResolveReportConflict: a report with two branches at the hub (the node restored
// from an older backup and the report revised again) is listed by the node's GET
// /v1/conflicts as kind report, with its Alliance and period; POST
// /v1/alliances/{id}/reports/{period}/resolve refuses without If-Match (428), with a
// stale one (412), with a take that is not a competing leaf (422 on take) and for a
// report in no conflict (409), writing nothing; with take the other leaf it writes a
// revision with that leaf's content which, synced, ends the conflict at the hub and in
// the node's replica.
func TestResolveReportConflict(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	a := create(t, mi, `{"participants":[{"name":"Michigan Concrete Association"}],
		"signed_on":"2024-01-10","goals":[{"category":"outreach-communication"}]}`)
	var r schema.Report
	code, _, raw := send(t, mi, http.MethodPost, "/v1/alliances/"+a.ID+"/reports", "",
		`{"period":"2024-Q2","reported_on":"2024-07-15","overview":"First draft","activities":[{"type":"Conference","reached":300}]}`)
	if code != http.StatusCreated {
		t.Fatalf("report: %d %s", code, raw)
	}
	hubtest.DecodeJSON(t, raw, &r)
	if code, _, raw := send(t, mi, http.MethodPost, "/v1/alliances/"+a.ID+"/reports", "", `{"period":"2024-Q3","reported_on":"2024-10-15"}`); code != http.StatusCreated {
		t.Fatalf("second report: %d %s", code, raw)
	}
	syncOK(t, mi)
	mi.ForkReport(t, r, [2]string{"Written in Lansing", "Written in Detroit"})

	// The node lists the conflict, as a report's, with the revision it holds.
	var cs struct {
		Items []node.LocalConflict `json:"items"`
		Total int                  `json:"total"`
	}
	hubtest.GetJSON(t, mi.URL+"/v1/conflicts", mi.Token, &cs)
	if cs.Total != 1 || len(cs.Items) != 1 {
		t.Fatalf("node conflicts = %+v, want one", cs)
	}
	cf := cs.Items[0]
	local := getReport(t, mi, a.ID, "2024-Q2")
	if cf.ID != r.ID || cf.Kind != schema.KindReport || cf.AllianceID != a.ID || cf.Period != "2024-Q2" || cf.LocalRev != local.Rev || len(cf.Leaves) != 2 {
		t.Fatalf("conflict = %+v (local_rev %s, alliance_id %s, period %s), want report %s of %s for 2024-Q2 at %s with two leaves",
			cf.Conflict, cf.LocalRev, cf.AllianceID, cf.Period, r.ID, a.ID, local.Rev)
	}
	if local.Overview != "Written in Detroit" {
		t.Fatalf("the node's report says %q, want the second branch's", local.Overview)
	}
	var other string
	for _, l := range cf.Leaves {
		if l.Rev != local.Rev {
			other = l.Rev
		}
	}
	if other == "" {
		t.Fatalf("the node's revision %s is both leaves: %+v", local.Rev, cf.Leaves)
	}

	path := "/v1/alliances/" + a.ID + "/reports/2024-Q2/resolve"
	refusals := []struct {
		name, path, ifMatch, body string
		status                    int
		want                      []string
	}{
		{"no If-Match", path, "", `{"take":"` + other + `"}`, http.StatusPreconditionRequired, []string{"precondition-required"}},
		{"a stale If-Match", path, `"` + r.Rev + `"`, `{"take":"` + other + `"}`, http.StatusPreconditionFailed, []string{"precondition-failed", "you sent " + r.Rev}},
		{"a take that is no leaf", path, `"` + local.Rev + `"`, `{"take":"` + r.Rev + `"}`, http.StatusUnprocessableEntity, []string{`"field":"take"`, "is not one of the competing revisions"}},
		{"a report in no conflict", "/v1/alliances/" + a.ID + "/reports/2024-Q3/resolve", "*", ``, http.StatusConflict, []string{"not-conflicted"}},
		{"a period without a report", "/v1/alliances/" + a.ID + "/reports/2024-Q4/resolve", "*", ``, http.StatusNotFound, []string{"not-found"}},
		{"an unknown body field", path, `"` + local.Rev + `"`, `{"keep":"` + other + `"}`, http.StatusBadRequest, []string{"keep"}},
	}
	for _, tc := range refusals {
		code, _, raw := send(t, mi, http.MethodPost, tc.path, tc.ifMatch, tc.body)
		if code != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, code, raw, tc.status)
		}
		for _, w := range tc.want {
			if !strings.Contains(string(raw), w) {
				t.Errorf("%s: answer %s lacks %q", tc.name, raw, w)
			}
		}
	}
	if got := getReport(t, mi, a.ID, "2024-Q2"); got.Rev != local.Rev {
		t.Fatalf("a refused resolution wrote revision %s", got.Rev)
	}
	// An analyst reads the conflict but may not resolve it.
	analyst := hubtest.Token(t, mi.Key, auth.RoleAnalyst, "")
	resp, raw := hubtest.Request(t, http.MethodPost, mi.URL+path, analyst, http.Header{"If-Match": {local.Rev}}, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("an analyst's resolution = %d %s", resp.StatusCode, raw)
	}

	// Keep the other branch's content.
	code, etag, raw := send(t, mi, http.MethodPost, path, `"`+local.Rev+`"`, `{"take":"`+other+`"}`)
	if code != http.StatusOK {
		t.Fatalf("resolve: %d %s", code, raw)
	}
	var res schema.Report
	hubtest.DecodeJSON(t, raw, &res)
	if res.Overview != "Written in Lansing" || !strings.HasPrefix(res.Rev, "3-") || etag != `"`+res.Rev+`"` {
		t.Errorf("resolved report: overview %q, rev %s, ETag %s; want the Lansing branch's content at generation 3", res.Overview, res.Rev, etag)
	}
	if got := getReport(t, mi, a.ID, "2024-Q2"); got.Rev != res.Rev {
		t.Errorf("the node's report is at %s, want the resolution %s", got.Rev, res.Rev)
	}
	// The resolution follows the node's revision and names the other leaf.
	if got, err := schema.NewRevResolving(local.Rev, mustBody(t, &res), []string{other}); err != nil || got != res.Rev {
		t.Errorf("the resolution's rev %s is not that of a revision following %s resolving %s (%s, %v)", res.Rev, local.Rev, other, got, err)
	}

	if out := syncOK(t, mi); out.Accepted != 1 {
		t.Errorf("sync after resolving = %+v, want the resolution accepted", out)
	}
	var hubCS hub.ConflictPage
	hubtest.GetJSON(t, h.URL+"/v1/conflicts", h.Token(t, auth.RoleAnalyst, ""), &hubCS)
	if hubCS.Total != 0 {
		t.Errorf("the hub still lists %d conflict(s): %+v", hubCS.Total, hubCS.Items)
	}
	var entry hub.RosterEntry
	hubtest.GetJSON(t, h.URL+"/v1/roster/"+a.ID, h.Token(t, auth.RoleAnalyst, ""), &entry)
	i := slices.IndexFunc(entry.Reports, func(ref hub.ReportRef) bool { return ref.ID == r.ID })
	if i < 0 || entry.Reports[i].Rev != res.Rev || entry.Reports[i].Conflict {
		t.Fatalf("the hub's reports of %s = %+v, want %s at the resolution %s, not conflicted", a.ID, entry.Reports, r.ID, res.Rev)
	}
	won, err := h.ReportAt(r.ID, entry.Reports[i].Rev)
	if err != nil || won.Overview != "Written in Lansing" {
		t.Errorf("the hub's winner = %+v, %v; want the Lansing branch's content", won, err)
	}
	hubtest.GetJSON(t, mi.URL+"/v1/conflicts", mi.Token, &cs)
	if cs.Total != 0 {
		t.Errorf("the node's replica still lists %d conflict(s)", cs.Total)
	}
	if code, _, raw := send(t, mi, http.MethodPost, path, `"`+res.Rev+`"`, ``); code != http.StatusConflict {
		t.Errorf("resolving again: %d %s, want 409", code, raw)
	}
}

// TestResolveReportConflictKeepsOwn: without take the resolution keeps the node's
// content, and that content is checked against the program's rules for the Alliance as
// it now is: a report whose period the Alliance's term no longer covers is a 422.
func TestResolveReportConflictKeepsOwn(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	a := create(t, mi, `{"participants":[{"name":"Michigan Masonry Contractors"}],
		"signed_on":"2024-01-10","goals":[{"category":"outreach-communication"}]}`)
	var r schema.Report
	code, _, raw := send(t, mi, http.MethodPost, "/v1/alliances/"+a.ID+"/reports", "", `{"period":"2024-Q2","reported_on":"2024-07-15"}`)
	if code != http.StatusCreated {
		t.Fatalf("report: %d %s", code, raw)
	}
	hubtest.DecodeJSON(t, raw, &r)
	syncOK(t, mi)
	mi.ForkReport(t, r, [2]string{"One", "Two"})
	local := getReport(t, mi, a.ID, "2024-Q2")
	path := "/v1/alliances/" + a.ID + "/reports/2024-Q2/resolve"

	// The Alliance now begins after the report's period: neither branch is valid for it.
	moved := a
	moved.SignedOn, moved.ExpiresOn = day(t, "2024-08-01"), schema.Date{}
	code, _, raw = send(t, mi, http.MethodPut, "/v1/alliances/"+a.ID, `"`+a.Rev+`"`, string(nzMarshal(t, moved)))
	if code != http.StatusOK {
		t.Fatalf("move the signing: %d %s", code, raw)
	}
	hubtest.DecodeJSON(t, raw, &moved)
	code, _, raw = send(t, mi, http.MethodPost, path, `"`+local.Rev+`"`, ``)
	if code != http.StatusUnprocessableEntity || !strings.Contains(string(raw), `"field":"period"`) {
		t.Errorf("resolve against the moved term: %d %s, want 422 on period", code, raw)
	}
	moved.SignedOn, moved.ExpiresOn = a.SignedOn, schema.Date{}
	code, _, raw = send(t, mi, http.MethodPut, "/v1/alliances/"+a.ID, `"`+moved.Rev+`"`, string(nzMarshal(t, moved)))
	if code != http.StatusOK {
		t.Fatalf("move it back: %d %s", code, raw)
	}

	code, _, raw = send(t, mi, http.MethodPost, path, `"`+local.Rev+`"`, ``)
	if code != http.StatusOK {
		t.Fatalf("resolve: %d %s", code, raw)
	}
	var res schema.Report
	hubtest.DecodeJSON(t, raw, &res)
	if res.Overview != "Two" {
		t.Errorf("resolved without take: overview %q, want the node's own (Two)", res.Overview)
	}
	syncOK(t, mi)
	if c, err := h.Conflict(r.ID); err == nil {
		t.Errorf("the hub still holds a conflict on %s: %+v", r.ID, c)
	}
}

func getReport(t *testing.T, n *hubtest.Node, allianceID, period string) schema.Report {
	t.Helper()
	var r schema.Report
	hubtest.GetJSON(t, n.URL+"/v1/alliances/"+allianceID+"/reports/"+period, n.Token, &r)
	return r
}

func mustBody(t *testing.T, r *schema.Report) []byte {
	t.Helper()
	b, err := schema.ReportBody(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func day(t *testing.T, s string) schema.Date {
	t.Helper()
	d, err := schema.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func syncOK(t *testing.T, n *hubtest.Node) wire.SyncResult {
	t.Helper()
	res, err := n.Sync(t.Context())
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return res
}
