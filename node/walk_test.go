package node_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/node"
	"github.com/alliancehub/alliancehub/schema"
)

// clock is a settable time for a node under test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// set moves the clock to noon on day (YYYY-MM-DD) in New York, the federal time zone.
func (c *clock) set(t *testing.T, day string) {
	t.Helper()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	d, err := time.ParseInLocation(time.DateOnly, day, ny)
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.now = d.Add(12 * time.Hour)
	c.mu.Unlock()
}

// walker drives one node through time: every request carries a token minted at the
// node's current time, as a clerk's would be.
type walker struct {
	t     *testing.T
	n     *hubtest.Node
	clock *clock
}

func (w *walker) do(method, path, body string, wantStatus int) []byte {
	w.t.Helper()
	tok, err := auth.MintToken(w.n.Key, auth.TokenRequest{Subject: "clerk", Role: auth.RoleProgram, Program: w.n.Program().Code, TTL: time.Hour, Now: w.clock.Now()})
	if err != nil {
		w.t.Fatal(err)
	}
	var raw []byte
	if body != "" {
		raw = []byte(body)
	}
	resp, out := hubtest.Request(w.t, method, w.n.URL+path, tok, http.Header{"Content-Type": {"application/json"}}, raw)
	if resp.StatusCode != wantStatus {
		w.t.Fatalf("%s %s on %s: %d %s; want %d", method, path, w.clock.Now().Format(time.DateOnly), resp.StatusCode, out, wantStatus)
	}
	return out
}

// doIfMatch is do with an If-Match header (the ETag as a client read it, quoted).
func (w *walker) doIfMatch(method, path, ifMatch, body string, wantStatus int) []byte {
	w.t.Helper()
	tok, err := auth.MintToken(w.n.Key, auth.TokenRequest{Subject: "clerk", Role: auth.RoleProgram, Program: w.n.Program().Code, TTL: time.Hour, Now: w.clock.Now()})
	if err != nil {
		w.t.Fatal(err)
	}
	hdr := http.Header{"Content-Type": {"application/json"}, "If-Match": {`"` + ifMatch + `"`}}
	resp, out := hubtest.Request(w.t, method, w.n.URL+path, tok, hdr, []byte(body))
	if resp.StatusCode != wantStatus {
		w.t.Fatalf("%s %s (If-Match %s) on %s: %d %s; want %d", method, path, ifMatch, w.clock.Now().Format(time.DateOnly), resp.StatusCode, out, wantStatus)
	}
	return out
}

func (w *walker) alliance(path string) schema.Alliance {
	w.t.Helper()
	var a schema.Alliance
	hubtest.DecodeJSON(w.t, w.do(http.MethodGet, path, "", http.StatusOK), &a)
	return a
}

func (w *walker) compliance(path string) schema.Compliance {
	w.t.Helper()
	var c schema.Compliance
	hubtest.DecodeJSON(w.t, w.do(http.MethodGet, path+"/compliance", "", http.StatusOK), &c)
	return c
}

func (w *walker) calendar(query string) node.Calendar {
	w.t.Helper()
	var c node.Calendar
	hubtest.DecodeJSON(w.t, w.do(http.MethodGet, "/v1/calendar?"+query, "", http.StatusOK), &c)
	return c
}

// has reports whether the calendar holds an item of kind (and state, if given).
func has(c node.Calendar, kind, state string) bool {
	for _, it := range c.Items {
		if it.Kind == kind && (state == "" || it.State == state) {
			return true
		}
	}
	return false
}

// report is an annual report body with n implementation team meetings.
func report(period, reportedOn string, meetings ...string) string {
	var ms []string
	for _, m := range meetings {
		ms = append(ms, `{"held_on":"`+m+`","type":"conference-call"}`)
	}
	return `{"period":"` + period + `","reported_on":"` + reportedOn + `",
		"overview":"Fall prevention in utility construction.","team_members":["J. Doe (OSHA)","R. Roe (NUCA)"],
		"meetings":[` + strings.Join(ms, ",") + `],
		"events":[{"category":"Training and Education","title":"Trench safety stand-down"}],
		"products":[{"category":"outreach","title":"Trenching quick card (Spanish)"}],
		"activities":[{"type":"Training","category":"training","reached":420},{"type":"Print and Electronic Distribution","reached":12000}],
		"milestones":["Plan the renewal"]}`
}

// TestWalkToAmbassador walks one federal Alliance, with an injected clock, from draft
// through signing, its annual reports (one late, one revised), expiry warning, a
// renewal, and Ambassador eligibility to Ambassador status; and another from signing to
// termination. Each rule is the directive's or the FAQ's, named where it is checked.
func TestWalkToAmbassador(t *testing.T) {
	c := &clock{}
	c.set(t, "2020-02-20")
	h := hubtest.StartHub(t, nil)
	fed := hubtest.StartNode(t, h, "FED", func(cfg *node.Config) { cfg.Now = c.Now })
	w := &walker{t: t, n: fed, clock: c}

	// A draft: no signing date, no reports, nothing on the calendar.
	var a schema.Alliance
	hubtest.DecodeJSON(t, w.do(http.MethodPost, "/v1/alliances", `{"level":"national","office":"DCSP",
		"participants":[{"name":"National Utility Contractors Association (NUCA)","type":"association"}],
		"goals":[{"category":"training"},{"category":"outreach"}]}`, http.StatusCreated), &a)
	path := "/v1/alliances/" + a.ID
	if a.Status != schema.StatusDraft {
		t.Fatalf("created %s, want draft", a.Status)
	}
	if body := w.do(http.MethodPost, path+"/reports", report("2020-annual", "2020-02-20"), http.StatusUnprocessableEntity); !strings.Contains(string(body), "draft") {
		t.Errorf("a report on a draft: %s", body)
	}

	// Signed: the initial term is two years (CSP 04-01-001 X.G).
	c.set(t, "2020-03-02")
	signed := strings.Replace(`{"level":"national","office":"DCSP","status":"active","signed_on":"2020-03-02",
		"participants":[{"name":"National Utility Contractors Association (NUCA)","type":"association"}],
		"goals":[{"category":"training"},{"category":"outreach"}]}`, "\n", "", -1)
	hdr := http.Header{"If-Match": {a.Rev}, "Content-Type": {"application/json"}}
	resp, _ := hubtest.Request(t, http.MethodPut, fed.URL+path, hubtest.Token(t, fed.Key, auth.RoleProgram, "FED"), hdr, []byte(signed))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a token minted today, sent to a node living in 2020: %d, want 401", resp.StatusCode)
	}
	tok, _ := auth.MintToken(fed.Key, auth.TokenRequest{Subject: "clerk", Role: auth.RoleProgram, Program: "FED", TTL: time.Hour, Now: c.Now()})
	resp, raw := hubtest.Request(t, http.MethodPut, fed.URL+path, tok, hdr, []byte(signed))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign: %d %s", resp.StatusCode, raw)
	}
	if a = w.alliance(path); a.ExpiresOn.String() != "2022-03-02" || a.Status != schema.StatusActive {
		t.Fatalf("signed: expires %s, status %s", a.ExpiresOn, a.Status)
	}

	// The first annual report is due within 60 days of the anniversary (CSP 04-01-001
	// XII.D.2.a): 2021-03-02 + 60 days = 2021-05-01.
	c.set(t, "2021-03-10")
	if got := w.compliance(path); got.NextReportDue == nil || got.NextReportDue.String() != "2021-05-01" || got.NextReportPeriod != "2021-annual" || len(got.OverdueReports) != 0 {
		t.Fatalf("2021-03-10 compliance = %+v; want 2021-annual due 2021-05-01", got)
	}
	if cal := w.calendar(""); !has(cal, node.ItemReportDue, schema.ObligationDue) || cal.Summary.ReportsDue != 1 {
		t.Errorf("2021-03-10 calendar = %+v; want the 2021-annual report due", cal)
	}
	c.set(t, "2021-05-10")
	if got := w.compliance(path); len(got.OverdueReports) != 1 || got.OverdueReports[0] != "2021-annual" {
		t.Fatalf("2021-05-10 overdue = %v; want 2021-annual", got.OverdueReports)
	}
	if cal := w.calendar("state=overdue"); len(cal.Items) != 1 || cal.Summary.ReportsOverdue != 1 {
		t.Errorf("overdue calendar = %+v", cal)
	}
	// Filed late, then revised: one report, two revisions (a second report for a period
	// is a new revision of it). A revision names the revision it replaces in If-Match,
	// as an Alliance's PUT does: without it, 428.
	var r1, r2 schema.Report
	hubtest.DecodeJSON(t, w.do(http.MethodPost, path+"/reports", report("2021-annual", "2021-05-10", "2020-06-01", "2020-10-01"), http.StatusCreated), &r1)
	revised := report("2021-annual", "2021-05-10", "2020-06-01", "2020-10-01", "2021-02-01")
	if body := w.do(http.MethodPost, path+"/reports", revised, http.StatusPreconditionRequired); !strings.Contains(string(body), "precondition-required") {
		t.Errorf("a revision without If-Match: %s", body)
	}
	hubtest.DecodeJSON(t, w.doIfMatch(http.MethodPost, path+"/reports", r1.Rev, revised, http.StatusOK), &r2)
	w.doIfMatch(http.MethodPost, path+"/reports", r1.Rev, report("2021-annual", "2021-05-10"), http.StatusPreconditionFailed)
	if r1.ID != r2.ID || !strings.HasPrefix(r2.Rev, "2-") || r1.TotalReached() != 12420 {
		t.Errorf("revised report: %s %s -> %s %s (reached %d)", r1.ID, r1.Rev, r2.ID, r2.Rev, r1.TotalReached())
	}
	got := w.compliance(path)
	if len(got.OverdueReports) != 0 || got.NextReportDue.String() != "2022-05-01" {
		t.Errorf("after the report: %+v", got)
	}
	// Three meetings in the last 12 months meet the directive's minimum (VII.F).
	if got.MeetingsLast12Months != 3 || got.MeetingsShort {
		t.Errorf("meetings = %d short %v; want 3, not short", got.MeetingsLast12Months, got.MeetingsShort)
	}
	if ob := got.Obligations[0]; ob.State != schema.ObligationSubmitted || !ob.Late {
		t.Errorf("2021-annual obligation = %+v; want submitted late", ob)
	}

	// Within 90 days of the end of the term the Alliance is expiring, and the calendar
	// says renew or conclude.
	c.set(t, "2022-01-15")
	// One meeting in the last 12 months, but the months since 2021-03-01 are not
	// reported yet: the year judged is the last one reported, 2020-03-02 to 2021-03-01,
	// with its three meetings (compliance.go, meetings).
	if got := w.compliance(path); !got.Expiring || got.MeetingsLast12Months != 1 || got.MeetingsShort ||
		got.MeetingsJudgedThrough == nil || got.MeetingsJudgedThrough.String() != "2021-03-01" || got.MeetingsInJudgedYear != 3 {
		t.Errorf("2022-01-15: %+v; want expiring, 1 meeting in 12 months, the year to 2021-03-01 judged with 3, not short", got)
	}
	if cal := w.calendar("kind=term_ends"); len(cal.Items) != 1 || cal.Items[0].Date.String() != "2022-03-02" {
		t.Errorf("term_ends = %+v", cal.Items)
	}
	// The second year's report, filed early with one meeting, reaches today: the twelve
	// months to 2022-01-15 are judged, with two meetings: short (VII.F).
	var early schema.Report
	hubtest.DecodeJSON(t, w.do(http.MethodPost, path+"/reports", report("2022-annual", "2022-01-15", "2021-06-01"), http.StatusCreated), &early)
	if got := w.compliance(path); !got.MeetingsShort || got.MeetingsInJudgedYear != 2 || got.MeetingsJudgedThrough.String() != "2022-01-15" {
		t.Errorf("2022-01-15, second year reported early: %+v; want the year to 2022-01-15 judged with 2, short", got)
	}
	if cal := w.calendar("kind=meetings_short"); len(cal.Items) != 1 || cal.Summary.MeetingsShort != 1 || !strings.Contains(cal.Items[0].Detail, "2 implementation team meetings") {
		t.Errorf("meetings_short calendar = %+v", cal)
	}

	// Renewed for two years (two to five at the office's discretion, seed 001), and the
	// second year's report revised with the meetings held since.
	c.set(t, "2022-03-01")
	w.do(http.MethodPost, path+"/renew", `{"signed_on":"2022-03-01","term_months":24}`, http.StatusOK)
	full := report("2022-annual", "2022-03-01", "2021-06-01", "2021-09-01", "2021-12-01")
	w.do(http.MethodPost, path+"/reports", full, http.StatusPreconditionRequired)
	w.doIfMatch(http.MethodPost, path+"/reports", early.Rev, full, http.StatusOK)
	if got := w.compliance(path); got.MeetingsShort || got.MeetingsInJudgedYear != 3 || got.MeetingsJudgedThrough.String() != "2022-03-01" {
		t.Errorf("2022-03-01, second year reported: %+v; want the year to 2022-03-01 judged with 3, not short", got)
	}

	// Not yet eligible: the initial term and one renewal must be completed (seed 001).
	c.set(t, "2023-06-01")
	w.do(http.MethodPost, path+"/reports", report("2023-annual", "2023-06-01", "2022-06-01", "2022-09-01", "2022-12-01"), http.StatusCreated)
	// The renewal term's last day is 2024-03-01: completed, and eligible, the day after.
	if body := w.do(http.MethodPost, path+"/ambassador", `{"on":"2023-06-01"}`, http.StatusUnprocessableEntity); !strings.Contains(string(body), "2024-03-02") {
		t.Errorf("early Ambassador: %s; want the date it becomes eligible", body)
	}
	if got := w.compliance(path); got.AmbassadorEligible || got.AmbassadorEligibleOn == nil || got.AmbassadorEligibleOn.String() != "2024-03-02" {
		t.Errorf("2023-06-01: eligible %v from %v", got.AmbassadorEligible, got.AmbassadorEligibleOn)
	}
	if cal := w.calendar("to=2024-06-01&kind=ambassador_eligible"); len(cal.Items) != 1 || cal.Items[0].State != "upcoming" || cal.Items[0].Date.String() != "2024-03-02" {
		t.Errorf("calendar ambassador item = %+v", cal.Items)
	}
	c.set(t, "2024-03-01")
	if got := w.compliance(path); got.AmbassadorEligible {
		t.Errorf("2024-03-01, the renewal term's last day: eligible already")
	}
	w.do(http.MethodPost, path+"/ambassador", `{"on":"2024-03-01"}`, http.StatusUnprocessableEntity)
	if cal := w.calendar("kind=ambassador_eligible"); len(cal.Items) != 1 || cal.Items[0].State != "upcoming" || cal.Summary.AmbassadorEligible != 0 {
		t.Errorf("calendar on 2024-03-01 = %+v; want the item upcoming", cal)
	}

	c.set(t, "2024-03-05")
	if got := w.compliance(path); !got.AmbassadorEligible {
		t.Fatalf("2024-03-05: not eligible: %+v", got)
	}
	if cal := w.calendar("kind=ambassador_eligible"); cal.Summary.AmbassadorEligible != 1 || !has(cal, node.ItemAmbassadorEligible, "eligible") {
		t.Errorf("calendar = %+v; want the Alliance eligible", cal)
	}
	w.do(http.MethodPost, path+"/ambassador", `{"on":"2024-03-05"}`, http.StatusOK)
	if a = w.alliance(path); a.Status != schema.StatusAmbassador || a.Standing(schema.MustDate("2030-01-01")) != schema.StandingAmbassador {
		t.Fatalf("after ambassador: %s", a.Status)
	}
	// Ambassadors have no reporting requirements (seed 001): what is owed is the year
	// completed before, nothing after.
	got = w.compliance(path)
	if len(got.OverdueReports) != 0 || got.NextReportDue == nil || got.NextReportDue.String() != "2024-05-01" {
		t.Errorf("ambassador compliance = %+v; want only 2024-annual due 2024-05-01", got)
	}
	c.set(t, "2026-01-01")
	if got := w.compliance(path); len(got.OverdueReports) != 1 || got.OverdueReports[0] != "2024-annual" || got.NextReportDue != nil || got.MeetingsShort {
		t.Errorf("2026 ambassador compliance = %+v; want only 2024-annual overdue, nothing next, no meeting flag", got)
	}
	// The relationship remains in effect for as long as the cooperation does (seed
	// 001); when it ends, it concludes on the day given, and the record keeps the day
	// it became an Ambassador.
	c.set(t, "2026-07-01")
	w.do(http.MethodPost, path+"/conclude", `{}`, http.StatusUnprocessableEntity) // no term to default to
	w.do(http.MethodPost, path+"/conclude", `{"concluded_on":"2024-03-04"}`, http.StatusUnprocessableEntity)
	w.do(http.MethodPost, path+"/conclude", `{"concluded_on":"2026-06-30"}`, http.StatusOK)
	if a = w.alliance(path); a.Status != schema.StatusConcluded || a.AmbassadorOn.String() != "2024-03-05" ||
		a.Standing(schema.MustDate("2026-06-29")) != schema.StandingAmbassador || a.Standing(schema.MustDate("2026-06-30")) != schema.StandingConcluded {
		t.Errorf("concluded Ambassador: %+v", a)
	}
	if got := w.compliance(path); len(got.OverdueReports) != 1 || got.NextReportDue != nil {
		t.Errorf("concluded Ambassador's compliance = %+v; want still only 2024-annual overdue", got)
	}

	// Another Alliance, to termination: effective 30 days after written notice (seed
	// 001; CSP 04-01-001 XIV), in force until then.
	c.set(t, "2020-06-01")
	var b schema.Alliance
	hubtest.DecodeJSON(t, w.do(http.MethodPost, "/v1/alliances", `{"level":"area","office":"Area Office 5",
		"participants":[{"name":"Example Builders Association"}],"goals":[{"category":"dialogue"}],"signed_on":"2020-06-01"}`, http.StatusCreated), &b)
	bpath := "/v1/alliances/" + b.ID
	c.set(t, "2021-01-10")
	w.do(http.MethodPost, bpath+"/terminate", `{"notice_on":"2021-01-10","reason":"`+schema.TerminationReasons[0]+`"}`, http.StatusOK)
	c.set(t, "2021-01-20")
	if b = w.alliance(bpath); b.Standing(schema.MustDate("2021-01-20")) != schema.StandingActive || b.Termination.EffectiveOn.String() != "2021-02-09" {
		t.Errorf("during notice: standing %s, effective %s", b.Standing(schema.MustDate("2021-01-20")), b.Termination.EffectiveOn)
	}
	if cal := w.calendar("alliance_id=" + b.ID); !has(cal, node.ItemTerminationEffective, "") {
		t.Errorf("calendar during notice = %+v", cal.Items)
	}
	c.set(t, "2021-06-01")
	if got := w.compliance(bpath); len(got.OverdueReports) != 0 || got.NextReportDue != nil {
		t.Errorf("terminated before its first anniversary owes nothing: %+v", got)
	}
	var list struct {
		Items []schema.Alliance `json:"items"`
	}
	hubtest.DecodeJSON(t, w.do(http.MethodGet, "/v1/alliances?standing=terminated", "", http.StatusOK), &list)
	if len(list.Items) != 1 || list.Items[0].ID != b.ID {
		t.Errorf("terminated list = %+v", list.Items)
	}

	// Everything the node recorded reaches the hub: two Alliances and four reports.
	c.set(t, "2026-11-23")
	c.mu.Lock()
	c.now = time.Now() // the hub checks batch times against its own clock
	c.mu.Unlock()
	res, err := fed.Sync(t.Context())
	if err != nil || res.Rejected != 0 {
		t.Fatalf("sync: %+v %v", res, err)
	}
	var roster struct {
		Items []struct {
			ID         string `json:"id"`
			Standing   string `json:"standing"`
			Compliance struct {
				OverdueReports       []string `json:"overdue_reports"`
				MeetingsLast12Months int      `json:"meetings_last_12_months"`
			} `json:"compliance"`
		} `json:"items"`
	}
	hubtest.GetJSON(t, h.URL+"/v1/roster?as_of=2026-01-01", h.Token(t, auth.RoleAnalyst, ""), &roster)
	if len(roster.Items) != 2 {
		t.Fatalf("roster has %d Alliances, want 2", len(roster.Items))
	}
	for _, it := range roster.Items {
		if it.ID == a.ID && (it.Standing != "ambassador" || len(it.Compliance.OverdueReports) != 1) {
			t.Errorf("roster shows %+v; want the Ambassador (concluded only in June) with 2024-annual overdue, as the node does", it)
		}
	}
}
