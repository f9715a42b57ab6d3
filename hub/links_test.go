package hub_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

const (
	// fedNUCA is a national Alliance; Michigan co-signed it and records it too, signed
	// three days later by its own account (miNUCA), with a participant the federal record
	// leaves out.
	fedNUCA = `{"level":"national","participants":[{"name":"National Utility Contractors Association (NUCA)","type":"association"}],
		"goals":[{"category":"training"},{"category":"outreach"}],"signed_on":"2025-02-12"}`
	miNUCA = `{"participants":[{"name":"NUCA"},{"name":"Michigan Infrastructure & Transportation Association"}],
		"goals":[{"category":"training-education"},{"category":"outreach-communication"}],"signed_on":"2025-02-15"}`
	// miOldNUCA names NUCA too, but its term ended long before the federal one began.
	miOldNUCA = `{"participants":[{"name":"National Utility Contractors Assn."}],
		"goals":[{"category":"outreach-communication"}],"signed_on":"2015-03"}`
)

// TestCrossProgramLinks: the same Alliance recorded by FED and MI, signed three days
// apart, is proposed as one link naming its discrepancies, counted once in the national
// totals; DCSP's confirmation survives a restart; a rejection counts both records again
// and stays visible.
func TestCrossProgramLinks(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	fed := hubtest.StartNode(t, h, "FED")
	mi := hubtest.StartNode(t, h, "MI")
	nv := hubtest.StartNode(t, h, "NV")

	f := create(t, fed, fedNUCA)
	m := create(t, mi, miNUCA)
	old := create(t, mi, miOldNUCA)
	agc := create(t, mi, miAGC)
	nca := create(t, nv, nvNCA)
	syncNode(t, fed)
	syncNode(t, mi)
	syncNode(t, nv)

	analyst := h.Token(t, auth.RoleAnalyst, "")
	linkID := hub.LinkID(f.ID, m.ID)
	var page hub.LinkPage
	hubtest.GetJSON(t, h.URL+"/v1/links?state=proposed", analyst, &page)
	if page.Total != 1 || len(page.Items) != 1 {
		t.Fatalf("proposed links = %+v, want one", page)
	}
	l := page.Items[0]
	first, second := f, m // records are in id order: FED- before MI-
	want := wire.Link{
		ID:    linkID,
		State: wire.LinkProposed,
		Records: []wire.LinkRecord{
			{ID: first.ID, Program: first.Program, Rev: first.Rev},
			{ID: second.ID, Program: second.Program, Rev: second.Rev},
		},
		Matched: []map[string]string{{f.ID: "National Utility Contractors Association (NUCA)", m.ID: "NUCA"}},
		Discrepancies: []wire.Discrepancy{
			{Field: "signed_on", Values: map[string]string{f.ID: "2025-02-12", m.ID: "2025-02-15"}, Days: 3, Message: "signed_on differs by 3 days"},
			{Field: "term_months", Values: map[string]string{f.ID: "24", m.ID: "36"}, Message: "terms of 24 and 36 months"},
			{Field: "expires_on", Values: map[string]string{f.ID: "2027-02-12", m.ID: "2028-02-15"}, Days: 368, Message: "expires_on differs by 368 days"},
			{Field: "participants", Values: map[string]string{f.ID: "", m.ID: "Michigan Infrastructure & Transportation Association"}, Message: "participants named in one record only"},
		},
	}
	if diff := cmp.Diff(want, l); diff != "" {
		t.Errorf("link (-want +got):\n%s", diff)
	}

	// Roster items carry their links, every item a list, never null.
	resp, raw := hubtest.Do(t, http.MethodGet, h.URL+"/v1/roster?as_of=2026-01-01", analyst, nil)
	if resp.StatusCode != http.StatusOK || bytes.Contains(raw, []byte(`"links":null`)) {
		t.Fatalf("roster: %d %s", resp.StatusCode, raw)
	}
	linksOf := func(t *testing.T) map[string][]wire.Link {
		t.Helper()
		out := map[string][]wire.Link{}
		for _, it := range roster(t, h, "?as_of=2026-01-01&limit=1000").Items {
			out[it.ID] = it.Links
		}
		return out
	}
	byID := linksOf(t)
	for _, id := range []string{f.ID, m.ID} {
		if got := byID[id]; len(got) != 1 || got[0].ID != linkID {
			t.Errorf("roster links of %s = %+v, want %s", id, got, linkID)
		}
	}
	for _, id := range []string{old.ID, agc.ID, nca.ID} {
		if got := byID[id]; got == nil || len(got) != 0 {
			t.Errorf("roster links of %s = %#v, want an empty list", id, got)
		}
	}

	// The change feed annotates the linked records.
	var feed wire.ChangesPage
	hubtest.GetJSON(t, h.URL+"/v1/sync/changes?since=0", analyst, &feed)
	annotated := 0
	for _, c := range feed.Changes {
		if len(c.Hub.Links) == 1 && c.Hub.Links[0].ID == linkID {
			annotated++
		}
	}
	if annotated != 2 {
		t.Errorf("changes annotated with the link = %d, want 2 (the FED and MI records)", annotated)
	}

	// Counted once: the federal record represents the pair.
	wantStats := func(t *testing.T, total, dups, groups int, fedCount, miCount int) {
		t.Helper()
		var s hub.Stats
		hubtest.GetJSON(t, h.URL+"/v1/stats?as_of=2026-01-01", mi.Token, &s)
		if s.Records != 5 || s.Total != total || s.Duplicates != dups || s.LinkedGroups != groups {
			t.Errorf("stats records %d total %d duplicates %d groups %d, want 5 %d %d %d", s.Records, s.Total, s.Duplicates, s.LinkedGroups, total, dups, groups)
		}
		if want := map[string]int{"FED": fedCount, "MI": miCount, "NV": 1}; !cmp.Equal(want, s.ByProgram) {
			t.Errorf("by_program = %v, want %v", s.ByProgram, want)
		}
		if want := map[string]int{"FED": 1, "MI": 3, "NV": 1}; !cmp.Equal(want, s.RecordsByProgram) {
			t.Errorf("records_by_program = %v, want %v", s.RecordsByProgram, want)
		}
		sum := 0
		for _, m := range []map[string]int{s.ByProgram, s.ByLevel, s.ByStanding, s.ByYearSigned} {
			sum = 0
			for _, n := range m {
				sum += n
			}
			if sum != s.Total {
				t.Errorf("a breakdown sums to %d, want the total %d: %v", sum, s.Total, m)
			}
		}
		if s.ByStanding["expired"] != 1 || s.ByYearSigned["2015"] != 1 || s.ByYearSigned["2025"] != total-2 {
			t.Errorf("by_standing %v by_year_signed %v", s.ByStanding, s.ByYearSigned)
		}
		if s.ByCategory["training"] != total-1 || s.ByCategory["dialogue"] != 1 || s.ByCategory["awareness"] != 0 {
			t.Errorf("by_category = %v", s.ByCategory)
		}
	}
	wantStats(t, 4, 1, 1, 1, 2)

	// A program may not decide; DCSP confirms, durably.
	resp, raw = hubtest.Do(t, http.MethodPost, h.URL+"/v1/links/"+linkID+"/confirm", mi.Token, nil)
	wantProblem(t, resp, raw, http.StatusForbidden, "forbidden")
	resp, raw = hubtest.Do(t, http.MethodPost, h.URL+"/v1/links/"+linkID+"/confirm", analyst,
		map[string]string{"note": "MIOSHA co-signed the national NUCA Alliance"})
	var decided wire.Link
	hubtest.DecodeJSON(t, raw, &decided)
	if resp.StatusCode != http.StatusOK || decided.State != wire.LinkConfirmed || decided.Decision == nil ||
		decided.Decision.By != "test-analyst" || decided.Decision.Revs[m.ID] != m.Rev {
		t.Fatalf("confirm: %d %s", resp.StatusCode, raw)
	}
	h.Restart(t)
	hubtest.GetJSON(t, h.URL+"/v1/links?state=confirmed", analyst, &page)
	if page.Total != 1 || page.Items[0].ID != linkID || page.Items[0].Decision == nil ||
		page.Items[0].Decision.Note != "MIOSHA co-signed the national NUCA Alliance" {
		t.Fatalf("after restart, confirmed links = %+v", page)
	}
	hubtest.GetJSON(t, h.URL+"/v1/links?state=proposed", analyst, &page)
	if page.Total != 0 {
		t.Errorf("after confirming, proposed links = %+v, want none", page)
	}
	wantStats(t, 4, 1, 1, 1, 2)

	// DCSP changes its mind: rejected, the link stays visible as rejected, and both
	// records count.
	resp, raw = hubtest.Do(t, http.MethodPost, h.URL+"/v1/links/"+linkID+"/reject", h.Token(t, auth.RoleAdmin, ""), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reject: %d %s", resp.StatusCode, raw)
	}
	wantStats(t, 5, 0, 0, 1, 3)
	if got := linksOf(t)[m.ID]; len(got) != 1 || got[0].State != wire.LinkRejected {
		t.Errorf("roster links of %s after rejecting = %+v, want the rejected link", m.ID, got)
	}

	// A new revision recomputes the link's discrepancies and keeps the decision, across
	// a restart too.
	m2 := m
	m2.SignedOn = schema.MustDate("2025-02-12")
	m2.ExpiresOn = schema.Date{}
	m2 = putAlliance(t, mi, m2)
	syncNode(t, mi)
	h.Restart(t)
	got, err := h.Link(linkID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != wire.LinkRejected || got.Decision == nil || got.Decision.Revs[m.ID] != m.Rev {
		t.Errorf("after a new revision, link = %+v, want still rejected, decided on %s", got, m.Rev)
	}
	if got.Records[0].Rev != m2.Rev && got.Records[1].Rev != m2.Rev {
		t.Errorf("link records = %+v, want the new revision %s", got.Records, m2.Rev)
	}
	for _, d := range got.Discrepancies {
		if d.Field == "signed_on" {
			t.Errorf("signed_on discrepancy %+v after the dates agree", d)
		}
	}
	wantStats(t, 5, 0, 0, 1, 3)
}

// putAlliance replaces an Alliance on its node and returns the stored record.
func putAlliance(t *testing.T, n *hubtest.Node, a schema.Alliance) schema.Alliance {
	t.Helper()
	resp, body := hubtest.Request(t, http.MethodPut, n.URL+"/v1/alliances/"+a.ID, n.Token,
		http.Header{"If-Match": {`"` + a.Rev + `"`}, "Content-Type": {"application/json"}}, mustJSON(t, a))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("put: %d %s", resp.StatusCode, body)
	}
	var out schema.Alliance
	hubtest.DecodeJSON(t, body, &out)
	return out
}

// TestLinksBadInput: unknown links are 404, bad parameters name the field, nothing
// changes.
func TestLinksBadInput(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	fed := hubtest.StartNode(t, h, "FED")
	mi := hubtest.StartNode(t, h, "MI")
	f := create(t, fed, fedNUCA)
	m := create(t, mi, miNUCA)
	syncNode(t, fed)
	syncNode(t, mi)
	analyst := h.Token(t, auth.RoleAnalyst, "")
	linkID := hub.LinkID(f.ID, m.ID)

	for _, path := range []string{"/v1/links/L-nosuchlink", "/v1/links/L-nosuchlink/confirm", "/v1/links/L-nosuchlink/reject"} {
		method := http.MethodPost
		if !strings.Contains(path, "/confirm") && !strings.Contains(path, "/reject") {
			method = http.MethodGet
		}
		resp, body := hubtest.Do(t, method, h.URL+path, analyst, nil)
		wantProblem(t, resp, body, http.StatusNotFound, "unknown-link")
	}
	for _, tc := range []struct {
		path, field string
	}{
		{"/v1/links?state=maybe", "state"},
		{"/v1/links?program=michigan", "program"},
		{"/v1/links?limit=0", "limit"},
		{"/v1/stats?as_of=2026-13-01", "as_of"},
		{"/v1/stats?as_of=2026-01", "as_of"},
	} {
		resp, body := hubtest.Do(t, http.MethodGet, h.URL+tc.path, analyst, nil)
		p := wantProblem(t, resp, body, http.StatusBadRequest, "invalid-request")
		if len(p.Errors) != 1 || p.Errors[0].Field != tc.field {
			t.Errorf("%s: errors = %+v, want the field %s", tc.path, p.Errors, tc.field)
		}
	}
	resp, body := hubtest.Do(t, http.MethodGet, h.URL+"/v1/links?page_token=!!", analyst, nil)
	wantProblem(t, resp, body, http.StatusBadRequest, "invalid-request")
	resp, body = hubtest.Do(t, http.MethodPost, h.URL+"/v1/links/"+linkID+"/confirm", analyst, map[string]string{"note": strings.Repeat("x", 2001)})
	if p := wantProblem(t, resp, body, http.StatusUnprocessableEntity, "validation"); len(p.Errors) != 1 || p.Errors[0].Field != "note" {
		t.Errorf("long note: errors = %+v, want note", p.Errors)
	}
	resp, body = hubtest.Do(t, http.MethodPost, h.URL+"/v1/links/"+linkID+"/confirm", analyst, []byte(`{"note":`))
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("malformed body: %d %s", resp.StatusCode, body)
	}
	resp, body = hubtest.Do(t, http.MethodGet, h.URL+"/v1/links", "", nil)
	wantProblem(t, resp, body, http.StatusUnauthorized, "unauthenticated")
	// Nothing was decided.
	l, err := h.Link(linkID)
	if err != nil || l.State != wire.LinkProposed || l.Decision != nil {
		t.Errorf("link after bad requests = %+v, %v; want still proposed", l, err)
	}
	// Paging: one per page, the token leads on.
	var page hub.LinkPage
	hubtest.GetJSON(t, h.URL+"/v1/links?limit=1&program=MI", analyst, &page)
	if page.Total != 1 || len(page.Items) != 1 || page.NextPageToken != "" {
		t.Errorf("links page = %+v", page)
	}
	hubtest.GetJSON(t, h.URL+"/v1/links?program=NV", analyst, &page)
	if page.Total != 0 || page.Items == nil {
		t.Errorf("links of NV = %+v, want an empty list", page)
	}
}
