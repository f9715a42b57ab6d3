package node_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/schema"
)

// send makes a request with optional If-Match and returns status, ETag and body.
func send(t *testing.T, n *hubtest.Node, method, path, ifMatch, body string) (int, string, []byte) {
	t.Helper()
	header := http.Header{"Content-Type": {"application/json"}}
	if ifMatch != "" {
		header.Set("If-Match", ifMatch)
	}
	resp, raw := hubtest.Request(t, method, n.URL+path, n.Token, header, []byte(body))
	return resp.StatusCode, resp.Header.Get("ETag"), raw
}

// TestEditRenewTerminate walks one federal Alliance through an edit, a renewal and a
// termination on the node, with optimistic concurrency, and finds the last revision in
// the national roster after a sync.
func TestEditRenewTerminate(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	fed := hubtest.StartNode(t, h, "FED")
	const body = `{"level":"national","participants":[{"name":"National Utility Contractors Association (NUCA)"}],
		"goals":[{"category":"awareness"},{"category":"outreach"}],"signed_on":"2024-01-15"}`
	code, etag1, raw := send(t, fed, http.MethodPost, "/v1/alliances", "", body)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, raw)
	}
	var a schema.Alliance
	hubtest.DecodeJSON(t, raw, &a)
	path := "/v1/alliances/" + a.ID
	edited := strings.Replace(body, `"level":"national"`, `"level":"national","office":"Directorate of Cooperative and State Programs"`, 1)

	steps := []struct {
		name, method, path, ifMatch, body string
		status                            int
		want                              string // in the answer
	}{
		{"PUT without If-Match", http.MethodPut, path, "", edited, 428, "precondition-required"},
		{"PUT with a stale rev", http.MethodPut, path, `"1-` + strings.Repeat("0", 64) + `"`, edited, 412, "precondition-failed"},
		{"PUT back to draft", http.MethodPut, path, etag1, strings.Replace(edited, `"signed_on"`, `"status":"draft","signed_on"`, 1), 422, "back to draft"},
		{"PUT that edits", http.MethodPut, path, etag1, edited, 200, "Directorate of Cooperative"},
		{"the same PUT again, with the old rev", http.MethodPut, path, etag1, edited, 412, "precondition-failed"},
		// Renewals run two to five years (seed 001).
		{"renew for one year", http.MethodPost, path + "/renew", "", `{"signed_on":"2026-01-10","term_months":12}`, 422, "term_months"},
		{"renew for the default five years", http.MethodPost, path + "/renew", "", `{"signed_on":"2026-01-10"}`, 200, `"expires_on":"2031-01-10"`},
		{"terminate a missing Alliance", http.MethodPost, "/v1/alliances/FED-nosuch/terminate", "", `{"notice_on":"2027-03-01"}`, 404, "not-found"},
		// 30 days' written notice (seed 001; CSP 04-01-001 XIV).
		{"terminate", http.MethodPost, path + "/terminate", "", `{"notice_on":"2027-03-01","reason":"Lack of activity"}`, 200, `"effective_on":"2027-03-31"`},
		{"revive by PUT", http.MethodPut, path, "*", strings.Replace(edited, `"signed_on"`, `"status":"active","signed_on"`, 1), 422, "stays terminated"},
		{"terminate twice", http.MethodPost, path + "/terminate", "", `{"notice_on":"2027-04-01"}`, 422, "cannot be terminated"},
	}
	for _, st := range steps {
		code, etag, raw := send(t, fed, st.method, st.path, st.ifMatch, st.body)
		if code != st.status || !strings.Contains(string(raw), st.want) {
			t.Fatalf("%s: %d %s; want %d with %q", st.name, code, raw, st.status, st.want)
		}
		if code == http.StatusOK {
			var got schema.Alliance
			hubtest.DecodeJSON(t, raw, &got)
			if etag != `"`+got.Rev+`"` {
				t.Errorf("%s: ETag %s, rev %s", st.name, etag, got.Rev)
			}
		}
	}
	// What GET answers can be PUT back as it is; an identical PUT makes no new revision.
	_, cur, current := send(t, fed, http.MethodGet, path, "", "")
	if code, etag, raw := send(t, fed, http.MethodPut, path, cur, string(current)); code != http.StatusOK || etag != cur {
		t.Errorf("identical PUT: %d, ETag %s (was %s): %s", code, etag, cur, raw)
	}
	if gen, _, _ := schema.ParseRev(strings.Trim(cur, `"`)); gen != 4 {
		t.Errorf("current revision %s, want generation 4 (create, edit, renew, terminate)", cur)
	}

	res, err := fed.Sync(t.Context())
	if err != nil || res.Accepted != 4 {
		t.Fatalf("sync = %+v, %v; want 4 revisions accepted", res, err)
	}
	var page struct {
		Items []struct {
			schema.Alliance
			Conflict bool   `json:"conflict"`
			Standing string `json:"standing"`
		} `json:"items"`
	}
	hubtest.GetJSON(t, h.URL+"/v1/roster?as_of=2027-06-01", h.Token(t, auth.RoleAnalyst, ""), &page)
	if len(page.Items) != 1 {
		t.Fatalf("roster holds %d records", len(page.Items))
	}
	got := page.Items[0]
	if "\""+got.Rev+"\"" != cur || got.Status != schema.StatusTerminated || got.Conflict || got.Standing != "terminated" || len(got.Renewals) != 1 {
		t.Errorf("roster entry = %+v; want the last revision, terminated, renewed once, not conflicted", got)
	}
}
