package node_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/node"
	"github.com/alliancehub/alliancehub/schema"
)

// TestLifecycleEndpoints checks each lifecycle endpoint's success and failure answers on
// a MIOSHA node: reports, addenda, conclusion, Ambassador (not offered by MIOSHA),
// draft deletion, compliance and the calendar.
func TestLifecycleEndpoints(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	create := func(body string) schema.Alliance {
		t.Helper()
		code, _, raw := send(t, mi, http.MethodPost, "/v1/alliances", "", body)
		if code != http.StatusCreated {
			t.Fatalf("create: %d %s", code, raw)
		}
		var a schema.Alliance
		hubtest.DecodeJSON(t, raw, &a)
		return a
	}
	// MIOSHA: three-year term; every Alliance has an outreach goal (seed 004).
	active := create(`{"participants":[{"name":"Michigan Concrete Association"}],"signed_on":"2024-01-10",
		"goals":[{"category":"Outreach and Communication"},{"category":"training-education"}]}`)
	draft := create(`{"participants":[{"name":"Draft Partner"}]}`)
	ended := create(`{"participants":[{"name":"Old Partner"}],"signed_on":"2020-01-10","goals":[{"category":"outreach-communication"}]}`)
	ap, dp, ep := "/v1/alliances/"+active.ID, "/v1/alliances/"+draft.ID, "/v1/alliances/"+ended.ID

	goodReport := `{"period":"2024-Q2","reported_on":"2024-07-15","meetings":[{"held_on":"2024-05-01","type":"in-person","location":"Lansing"}],
		"events":[{"category":"outreach-communication","title":"Construction safety day"}],
		"activities":[{"type":"Conference","category":"Outreach and Communication","reached":300}]}`
	cases := []struct {
		name, method, path, ifMatch, body string
		status                            int
		want                              []string // in the answer
	}{
		// Reports: MIOSHA partners submit quarterly and annual reports (seed 004).
		{"quarterly report", http.MethodPost, ap + "/reports", "", goodReport, 201, []string{`"id":"` + active.ID + `.2024-Q2"`, `"rev":"1-`}},
		{"same report again writes nothing", http.MethodPost, ap + "/reports", "", goodReport, 200, []string{`"rev":"1-`}},
		// Revising a period's report needs If-Match, as an Alliance's PUT does (reports.go,
		// PutReport; TestReportIfMatch has every case).
		{"revised report without If-Match", http.MethodPost, ap + "/reports", "", strings.Replace(goodReport, "300", "350", 1), 428, []string{"precondition-required", "2024-Q2"}},
		{"revised report with a stale If-Match", http.MethodPost, ap + "/reports", `"1-0123"`, strings.Replace(goodReport, "300", "350", 1), 412, []string{"precondition-failed"}},
		{"revised report", http.MethodPost, ap + "/reports", "*", strings.Replace(goodReport, "300", "350", 1), 200, []string{`"rev":"2-`, `"reached":350`}},
		{"If-Match for a period with no report yet", http.MethodPost, ap + "/reports", "*", `{"period":"2025-annual","reported_on":"2025-02-01"}`, 412, []string{"precondition-failed", "no report for 2025-annual yet"}},
		{"annual report", http.MethodPost, ap + "/reports", "", `{"period":"2025-annual","reported_on":"2025-02-01"}`, 201, []string{`"period":"2025-annual"`}},
		{"every bad field at once", http.MethodPost, ap + "/reports", "", `{"period":"2024-H1","reported_on":"2024-07",
			"meetings":[{"held_on":"2024-05-01","type":"lunch"}],"events":[{"category":"awareness","title":""}],
			"activities":[{"type":"","reached":-1}]}`, 422,
			[]string{`"field":"period"`, "semiannual", `"field":"reported_on"`, `"field":"meetings[0].type"`, `"field":"events[0].category"`, `"field":"events[0].title"`, `"field":"activities[0].type"`, `"field":"activities[0].reached"`}},
		{"period outside the term", http.MethodPost, ap + "/reports", "", `{"period":"2023-Q1","reported_on":"2024-07-15"}`, 422, []string{"outside the Alliance's term"}},
		{"period not begun", http.MethodPost, ap + "/reports", "", `{"period":"2024-Q4","reported_on":"2024-07-15"}`, 422, []string{"after the report's date"}},
		{"report on a draft", http.MethodPost, dp + "/reports", "", `{"period":"2024-Q2","reported_on":"2024-07-15"}`, 422, []string{"draft"}},
		{"report for another Alliance", http.MethodPost, ap + "/reports", "", `{"alliance_id":"MI-other","period":"2024-Q2","reported_on":"2024-07-15"}`, 422, []string{`"field":"alliance_id"`}},
		{"report unknown field", http.MethodPost, ap + "/reports", "", `{"period":"2024-Q2","reported_on":"2024-07-15","colour":"red"}`, 400, []string{"colour"}},
		{"report on a missing Alliance", http.MethodPost, "/v1/alliances/MI-nosuch/reports", "", goodReport, 404, []string{"not-found"}},
		{"list reports", http.MethodGet, ap + "/reports", "", "", 200, []string{`"total":2`, "2024-Q2", "2025-annual"}},
		{"one report", http.MethodGet, ap + "/reports/2024-Q2", "", "", 200, []string{`"reached":350`}},
		{"missing report", http.MethodGet, ap + "/reports/2024-Q3", "", "", 404, []string{"not-found"}},

		// Compliance as of a date: a quarter's report is due 30 days after it ends (MI's
		// definition); Q1, signed into on 10 January, is owed too.
		{"compliance", http.MethodGet, ap + "/compliance?as_of=2024-11-15", "", "", 200, []string{`"overdue_reports":["2024-Q1","2024-Q3"]`, `"next_report_due":"2025-01-31"`, `"next_report_period":"2024-Q4"`, `"meetings_last_12_months":1`}},
		{"compliance bad as_of", http.MethodGet, ap + "/compliance?as_of=2024-11", "", "", 400, []string{`"field":"as_of"`}},
		{"compliance of a missing Alliance", http.MethodGet, "/v1/alliances/MI-nosuch/compliance", "", "", 404, []string{"not-found"}},

		// Signatory history: participants join and leave by addendum.
		{"addendum", http.MethodPost, ap + "/addenda", "", `{"signed_on":"2024-09-01","added":[{"name":"Michigan Chapter, ASSP","type":"association"}],"note":"Chapter joins"}`, 200, []string{`"added":[{"name":"Michigan Chapter, ASSP"`, `"Michigan Concrete Association"`}},
		{"addendum removing a stranger", http.MethodPost, ap + "/addenda", "", `{"signed_on":"2024-10-01","removed":["Nobody Inc."]}`, 422, []string{`"field":"removed[0]"`}},
		{"addendum before signing", http.MethodPost, ap + "/addenda", "", `{"signed_on":"2023-01-01","removed":["Michigan Chapter, ASSP"]}`, 422, []string{`"field":"signed_on"`}},
		{"addendum removing everyone", http.MethodPost, ap + "/addenda", "", `{"signed_on":"2024-10-01","removed":["Michigan Concrete Association","michigan chapter, assp"]}`, 422, []string{"no participant"}},

		// A PUT from a client that does not know the signatory history keeps it; one that
		// changes it is refused (addenda only through their endpoint).
		{"PUT without addenda keeps them", http.MethodPut, ap, "*", `{"participants":[{"name":"Michigan Concrete Association"},{"name":"Michigan Chapter, ASSP","type":"association"}],"signed_on":"2024-01-10","office":"CET",
			"goals":[{"category":"outreach-communication"},{"category":"training-education"}]}`, 200, []string{`"office":"CET"`, `"addenda":[{"signed_on":"2024-09-01"`}},
		{"PUT rewriting addenda", http.MethodPut, ap, "*", `{"participants":[{"name":"Michigan Concrete Association"}],"signed_on":"2024-01-10","addenda":[{"signed_on":"2024-09-02","removed":["X"]}],
			"goals":[{"category":"outreach-communication"}]}`, 422, []string{`"field":"addenda"`}},
		{"PUT setting concluded_on", http.MethodPut, ap, "*", `{"participants":[{"name":"Michigan Concrete Association"},{"name":"Michigan Chapter, ASSP","type":"association"}],"signed_on":"2024-01-10","concluded_on":"2027-01-10",
			"goals":[{"category":"outreach-communication"}]}`, 422, []string{`"field":"concluded_on"`}},

		// MIOSHA offers no Ambassador status.
		{"ambassador not offered", http.MethodPost, ap + "/ambassador", "", `{"on":"2030-01-01"}`, 422, []string{"does not offer Ambassador"}},

		// Conclusion at the end of the term (three years: 2020-01-10 to 2023-01-10).
		// An Alliance may be concluded before the end of its term too ("at any time",
		// seed 001: lifecycle.go, Conclude), but not before it was signed.
		{"conclude before signing", http.MethodPost, ep + "/conclude", "", `{"concluded_on":"2019-12-31"}`, 422, []string{`"field":"concluded_on"`, "before the Alliance was signed"}},
		{"conclude with a stale If-Match", http.MethodPost, ep + "/conclude", `"` + active.Rev + `"`, `{}`, 412, []string{"precondition-failed"}},
		{"conclude", http.MethodPost, ep + "/conclude", "", `{}`, 200, []string{`"status":"concluded"`, `"concluded_on":"2023-01-10"`}},
		{"conclude twice", http.MethodPost, ep + "/conclude", "", `{}`, 422, []string{"cannot conclude"}},
		{"terminate after conclusion", http.MethodPost, ep + "/terminate", "", `{"notice_on":"2024-01-01"}`, 422, []string{"cannot be terminated"}},
		{"addendum after conclusion", http.MethodPost, ep + "/addenda", "", `{"signed_on":"2024-01-01","added":[{"name":"Late Joiner"}]}`, 422, []string{"no addenda"}},

		// Drafts are deleted with a tombstone; signed Alliances never are.
		{"delete a signed Alliance", http.MethodDelete, ap, "", "", 409, []string{"not-a-draft"}},
		{"delete a draft with a stale If-Match", http.MethodDelete, dp, `"` + active.Rev + `"`, "", 412, []string{"precondition-failed"}},
		{"delete a draft", http.MethodDelete, dp + "?reason=entered+twice", "", "", 200, []string{`"deleted":true`, `"rev":"2-`}},
		{"get the deleted draft", http.MethodGet, dp, "", "", 410, []string{"deleted"}},
		{"delete it again", http.MethodDelete, dp, "", "", 410, []string{"deleted"}},
		{"edit the deleted draft", http.MethodPut, dp, "*", `{"participants":[{"name":"X"}]}`, 410, []string{"deleted"}},

		// The calendar.
		{"calendar", http.MethodGet, "/v1/calendar?as_of=2024-11-15&from=2024-11-01&to=2025-02-28", "", "", 200, []string{`"kind":"report_due"`, `"state":"overdue"`, `"period":"2024-Q3"`, `"period":"2024-Q4"`}},
		// The concluded Alliance never filed: its reports stay overdue, whatever the window.
		{"calendar of one Alliance", http.MethodGet, "/v1/calendar?as_of=2024-11-15&state=upcoming&alliance_id=" + ended.ID, "", "", 200, []string{`"total":0`}},
		{"overdue whatever the window", http.MethodGet, "/v1/calendar?as_of=2024-11-15&state=overdue&alliance_id=" + ended.ID, "", "", 200, []string{`"total":15`, `"period":"2020-Q1"`, `"period":"2023-annual"`}},
		{"calendar to before from", http.MethodGet, "/v1/calendar?from=2025-01-01&to=2024-01-01", "", "", 400, []string{`"field":"to"`}},
		{"calendar window too wide", http.MethodGet, "/v1/calendar?from=2000-01-01&to=2030-01-01", "", "", 400, []string{`"field":"to"`}},
		{"calendar bad kind", http.MethodGet, "/v1/calendar?kind=birthday", "", "", 400, []string{`"field":"kind"`}},
		{"calendar bad state", http.MethodGet, "/v1/calendar?state=late", "", "", 400, []string{`"field":"state"`}},
		{"calendar bad page token", http.MethodGet, "/v1/calendar?page_token=!!", "", "", 400, []string{"page_token"}},
		{"calendar missing Alliance", http.MethodGet, "/v1/calendar?alliance_id=MI-nosuch", "", "", 404, []string{"not-found"}},
	}
	for _, tc := range cases {
		code, _, raw := send(t, mi, tc.method, tc.path, tc.ifMatch, tc.body)
		if code != tc.status {
			t.Errorf("%s: %d %s; want %d", tc.name, code, raw, tc.status)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(string(raw), w) {
				t.Errorf("%s: answer lacks %s: %s", tc.name, w, raw)
			}
		}
	}

	// An analyst reads but does not write.
	analyst := hubtest.Token(t, mi.Key, auth.RoleAnalyst, "")
	for _, p := range []string{ap + "/reports", ap + "/addenda", ap + "/conclude", ap + "/ambassador"} {
		if resp, raw := hubtest.Do(t, http.MethodPost, mi.URL+p, analyst, `{}`); resp.StatusCode != http.StatusForbidden {
			t.Errorf("analyst POST %s: %d %s", p, resp.StatusCode, raw)
		}
	}
	if resp, _ := hubtest.Do(t, http.MethodDelete, mi.URL+ap, analyst, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("analyst DELETE: %d", resp.StatusCode)
	}
	if resp, _ := hubtest.Do(t, http.MethodGet, mi.URL+"/v1/calendar", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("calendar without a token: %d", resp.StatusCode)
	}

	// The deleted draft is gone from the list, its tombstone and the reports reach the
	// hub, and the national roster never shows the draft.
	if l := list(t, mi, ""); l.Total != 2 {
		t.Errorf("list after deletion: %d Alliances, want 2", l.Total)
	}
	res, err := mi.Sync(t.Context())
	if err != nil || res.Rejected != 0 || res.Accepted != res.Pushed {
		t.Fatalf("sync: %+v %v", res, err)
	}
	var roster struct {
		Total int `json:"total"`
		Items []struct {
			ID         string `json:"id"`
			Compliance struct {
				OverdueReports []string `json:"overdue_reports"`
			} `json:"compliance"`
		} `json:"items"`
	}
	hubtest.GetJSON(t, h.URL+"/v1/roster?program=MI&as_of=2024-11-15", h.Token(t, auth.RoleAnalyst, ""), &roster)
	if roster.Total != 2 {
		t.Fatalf("roster: %+v; want the two signed Alliances", roster)
	}
	for _, it := range roster.Items {
		if it.ID == draft.ID {
			t.Errorf("the deleted draft is on the roster")
		}
		if it.ID == active.ID && strings.Join(it.Compliance.OverdueReports, ",") != "2024-Q1,2024-Q3" {
			t.Errorf("roster compliance = %+v; want 2024-Q1 and Q3 overdue, as the node says", it.Compliance)
		}
	}

	// After a restart the node rebuilds reports and the tombstone from its journal.
	if err := mi.Close(); err != nil {
		t.Fatal(err)
	}
	reopened, err := node.New(node.Config{Program: mi.Program(), Key: mi.Key, DataDir: mi.Dir, HubURL: h.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer reopened.Close()
	if _, err := reopened.Get(draft.ID); !errors.Is(err, node.ErrDeleted) {
		t.Errorf("deleted draft after restart: %v", err)
	}
	if r, err := reopened.Report(active.ID, "2024-Q2"); err != nil || !strings.HasPrefix(r.Rev, "2-") {
		t.Errorf("report after restart: %+v %v", r, err)
	}
}
