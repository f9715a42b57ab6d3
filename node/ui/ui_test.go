package ui_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/webui/webuitest"
	"github.com/alliancehub/alliancehub/node"
	"github.com/alliancehub/alliancehub/schema"
)

func quiet(c *node.Config) { c.NoCatchUp = true }

func contains(t *testing.T, what, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(body, s) {
			t.Errorf("%s: %q not found in:\n%s", what, s, body)
			return
		}
	}
}

var createdID = regexp.MustCompile(`^/ui/alliances/(MI-[0-9a-z]+)\?done=created$`)

// valid is a good new MIOSHA Alliance, as the form posts it.
func valid() url.Values {
	return url.Values{
		"office":         {"Construction Safety and Health Division"},
		"signed_on":      {"2025-05-14"},
		"p0.name":        {"Associated General Contractors of Michigan"},
		"p0.type":        {"association"},
		"g0.category":    {"outreach-communication"},
		"g0.description": {"Fall prevention outreach"},
		"emphasis_areas": {"Falls\nSilica"},
	}
}

func getAlliance(t *testing.T, n *hubtest.Node, id string) schema.Alliance {
	t.Helper()
	var a schema.Alliance
	hubtest.GetJSON(t, n.URL+"/v1/alliances/"+id, n.Token, &a)
	return a
}

// TestAllianceForms: create with errors shown next to their fields (in the row they
// were typed in), fix, edit (never over someone else's edit), renew, terminate.
func TestAllianceForms(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI", quiet)
	c := webuitest.New(t, mi.URL)
	c.SignIn(t, mi.Token)

	// Row 1 left empty; row 2 has an unknown type; no outreach goal (MIOSHA needs one).
	bad := valid()
	bad.Del("p0.name")
	bad.Del("p0.type")
	bad.Set("p1.name", "Detroit Regional Chamber")
	bad.Set("p1.type", "chamber")
	bad.Set("g0.category", "training-education")
	p := c.Submit(t, "/ui/alliances/new", "/ui/alliances", bad)
	if p.Status != http.StatusUnprocessableEntity {
		t.Fatalf("create with errors = %d\n%s", p.Status, p.Body)
	}
	contains(t, "form with errors", p.Body, "There are 2 problems; nothing was saved",
		`id="f-p1-type-error"`, `is not a participant type`, `href="#f-p1-type"`,
		`requires a goal in category`, `value="Detroit Regional Chamber"`)
	if n := strings.Count(p.Body, `aria-invalid="true"`); n != 1 {
		t.Errorf("%d inputs marked invalid, want 1 (the type; the goals error is the list's)", n)
	}
	var page struct{ Total int }
	hubtest.GetJSON(t, mi.URL+"/v1/alliances", mi.Token, &page)
	if page.Total != 0 {
		t.Fatalf("a refused form stored %d Alliance(s)", page.Total)
	}

	// "Add another participant" adds a row and saves nothing.
	more := valid()
	more.Set("add", "p")
	p = c.Submit(t, "/ui/alliances/new", "/ui/alliances", more)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `id="f-p1-name"`) || strings.Contains(p.Body, `id="f-p2-name"`) {
		t.Errorf("add a row: %d", p.Status)
	}

	p = c.Submit(t, "/ui/alliances/new", "/ui/alliances", valid())
	m := createdID.FindStringSubmatch(p.Location())
	if p.Status != http.StatusSeeOther || m == nil {
		t.Fatalf("create = %d %q\n%s", p.Status, p.Location(), p.Body)
	}
	id := m[1]
	p = c.Get(t, p.Location())
	contains(t, "new Alliance", p.Body, "saved and signed", "Associated General Contractors of Michigan", "2028-05-14",
		"Not on the national roster yet", "Falls, Silica")

	// Someone else edits it through the API while the clerk has the form open.
	form := c.Get(t, "/ui/alliances/"+id+"/edit")
	contains(t, "edit form", form.Body, `value="Construction Safety and Health Division"`, `value="2025-05-14"`)
	a := getAlliance(t, mi, id)
	a.Office = "Lansing"
	raw, _ := json.Marshal(a)
	if resp, body := hubtest.Request(t, http.MethodPut, mi.URL+"/v1/alliances/"+id, mi.Token,
		http.Header{"If-Match": {`"` + a.Rev + `"`}, "Content-Type": {"application/json"}}, raw); resp.StatusCode != http.StatusOK {
		t.Fatalf("put: %d %s", resp.StatusCode, body)
	}
	edit := valid()
	edit.Set("office", "Detroit")
	edit.Set("status", "active")
	edit.Set("term_months", "36")
	edit.Set("rev", regexp.MustCompile(`name="rev" value="([^"]+)"`).FindStringSubmatch(form.Body)[1])
	edit.Set("csrf", form.CSRF())
	p = c.Post(t, "/ui/alliances/"+id, edit)
	if p.Status != http.StatusPreconditionFailed || !strings.Contains(p.Body, "Someone saved a newer version") || !strings.Contains(p.Body, `value="Detroit"`) {
		t.Errorf("stale edit = %d\n%s", p.Status, p.Body)
	}
	if got := getAlliance(t, mi, id).Office; got != "Lansing" {
		t.Errorf("the stale edit overwrote the office: %q", got)
	}

	// Renew, then edit again: the renewal, which the form does not show, is kept.
	p = c.Submit(t, "/ui/alliances/"+id+"/renew", "/ui/alliances/"+id+"/renew", url.Values{"signed_on": {"2028-05-14"}, "term_months": {"60"},
		"rev": {getAlliance(t, mi, id).Rev}})
	if p.Status != http.StatusSeeOther || !strings.HasSuffix(p.Location(), "done=renewed") {
		t.Fatalf("renew = %d\n%s", p.Status, p.Body)
	}
	form = c.Get(t, "/ui/alliances/"+id+"/edit")
	edit.Set("status", "renewed")
	edit.Set("rev", getAlliance(t, mi, id).Rev)
	edit.Set("csrf", form.CSRF())
	p = c.Post(t, "/ui/alliances/"+id, edit)
	if p.Status != http.StatusSeeOther || !strings.HasSuffix(p.Location(), "done=saved") {
		t.Fatalf("edit = %d\n%s", p.Status, p.Body)
	}
	got := getAlliance(t, mi, id)
	if got.Office != "Detroit" || len(got.Renewals) != 1 || got.Status != schema.StatusRenewed || got.ExpiresOn.String() != "2033-05-14" {
		t.Errorf("after renew and edit: %+v", got)
	}

	// Terminate: a notice that is not a date is named; a good one is recorded.
	p = c.Submit(t, "/ui/alliances/"+id+"/terminate", "/ui/alliances/"+id+"/terminate", url.Values{"notice_on": {"soon"}, "rev": {got.Rev}})
	if p.Status != http.StatusUnprocessableEntity && p.Status != http.StatusBadRequest {
		t.Errorf("terminate with a bad date = %d", p.Status)
	}
	contains(t, "terminate form", p.Body, `id="f-notice-on-error"`)
	p = c.Submit(t, "/ui/alliances/"+id+"/terminate", "/ui/alliances/"+id+"/terminate",
		url.Values{"notice_on": {"2026-01-05"}, "reason": {schema.TerminationReasons[0]}, "rev": {got.Rev}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("terminate = %d\n%s", p.Status, p.Body)
	}
	if got := getAlliance(t, mi, id); got.Status != schema.StatusTerminated || got.Termination.EffectiveOn.String() != "2026-02-04" {
		t.Errorf("after terminate: %+v", got)
	}
}

// TestReports: the report form names every problem, and a second report for a period
// leads to revising the first.
func TestReports(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI", quiet)
	c := webuitest.New(t, mi.URL)
	c.SignIn(t, mi.Token)
	p := c.Submit(t, "/ui/alliances/new", "/ui/alliances", valid())
	id := createdID.FindStringSubmatch(p.Location())[1]

	report := url.Values{"period": {"2026-H2"}, "reported_on": {"2026-01-10"}, "a0.type": {"Training"}, "a0.reached": {"-5"},
		"m0.held_on": {"2025-09-10"}, "m0.type": {"virtual"}}
	p = c.Submit(t, "/ui/alliances/"+id+"/reports/new", "/ui/alliances/"+id+"/reports", report)
	if p.Status != http.StatusUnprocessableEntity {
		t.Fatalf("bad report = %d\n%s", p.Status, p.Body)
	}
	contains(t, "report errors", p.Body, `id="f-period-error"`, "semiannual", `id="f-a0-reached-error"`, "must be 0 to")

	report.Set("period", "2025-Q3")
	report.Set("a0.reached", "40")
	p = c.Submit(t, "/ui/alliances/"+id+"/reports/new", "/ui/alliances/"+id+"/reports", report)
	if p.Status != http.StatusSeeOther {
		t.Fatalf("report = %d\n%s", p.Status, p.Body)
	}
	p = c.Get(t, "/ui/alliances/"+id)
	contains(t, "Alliance with a report", p.Body, "2025-Q3", "Submitted", "/ui/alliances/"+id+"/reports/2025-Q3/edit")

	// The same period again, as new: the page leads to revising it.
	report.Set("a0.reached", "45")
	p = c.Submit(t, "/ui/alliances/"+id+"/reports/new", "/ui/alliances/"+id+"/reports", report)
	if p.Status != http.StatusPreconditionRequired || !strings.Contains(p.Body, "There is already a report for 2025-Q3") {
		t.Errorf("second report for a period = %d\n%s", p.Status, p.Body)
	}
	form := c.Get(t, "/ui/alliances/"+id+"/reports/2025-Q3/edit")
	contains(t, "report edit form", form.Body, `value="2025-Q3" readonly`, `value="40"`, `name="rev"`)
	rev := regexp.MustCompile(`name="rev" value="([^"]+)"`).FindStringSubmatch(form.Body)[1]
	report.Set("rev", rev)
	report.Set("csrf", form.CSRF())
	if p := c.Post(t, "/ui/alliances/"+id+"/reports", report); p.Status != http.StatusSeeOther {
		t.Fatalf("revise report = %d\n%s", p.Status, p.Body)
	}
	var r schema.Report
	hubtest.GetJSON(t, mi.URL+"/v1/alliances/"+id+"/reports/2025-Q3", mi.Token, &r)
	if len(r.Activities) != 1 || r.Activities[0].Reached != 45 || len(r.Meetings) != 1 {
		t.Errorf("revised report = %+v", r)
	}
}

// TestRolesAsOnTheAPI: a node's analyst token reads and is offered no form; a form it
// sends anyway is refused by the API with its own words.
func TestRolesAsOnTheAPI(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI", quiet)
	analyst, err := auth.MintToken(mi.Key, auth.TokenRequest{Subject: "dcsp@dol.gov", Role: auth.RoleAnalyst, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c := webuitest.New(t, mi.URL)
	c.SignIn(t, analyst)
	p := c.Get(t, "/ui/alliances")
	if p.Status != http.StatusOK || strings.Contains(p.Body, "New Alliance") {
		t.Errorf("an analyst's list offers to create: %d", p.Status)
	}
	if p := c.Get(t, "/ui/sync"); strings.Contains(p.Body, "Sync now") {
		t.Error("an analyst is offered Sync now")
	}
	p = c.Post(t, "/ui/alliances", url.Values{"csrf": {p.CSRF()}, "p0.name": {"X"}, "g0.category": {"outreach-communication"}, "signed_on": {"2025-01-01"}})
	if p.Status != http.StatusForbidden || !strings.Contains(p.Body, `role &#34;analyst&#34; may not do this`) {
		t.Errorf("an analyst's create = %d\n%s", p.Status, p.Body)
	}
	p = c.Post(t, "/ui/sync", url.Values{"csrf": {c.Get(t, "/ui/sync").CSRF()}})
	if p.Status != http.StatusForbidden {
		t.Errorf("an analyst's sync = %d", p.Status)
	}

	// A program token for another program is not taken by this node at all.
	other, err := auth.MintToken(mi.Key, auth.TokenRequest{Subject: "x", Role: auth.RoleProgram, Program: "NV", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	p = webuitest.New(t, mi.URL).Submit(t, "/ui/signin", "/ui/signin", url.Values{"token": {other}})
	if p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "this node serves MI") {
		t.Errorf("sign-in with an NV token at MI = %d\n%s", p.Status, p.Body)
	}
	// A hub-signed token is not a node's either.
	p = webuitest.New(t, mi.URL).Submit(t, "/ui/signin", "/ui/signin", url.Values{"token": {h.Token(t, auth.RoleAnalyst, "")}})
	if p.Status != http.StatusUnauthorized {
		t.Errorf("sign-in with a hub token at a node = %d", p.Status)
	}
}

// TestSyncCalendarRoster: sync now, the calendar and the node's copy of the national
// roster.
func TestSyncCalendarRoster(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI", quiet)
	c := webuitest.New(t, mi.URL)
	c.SignIn(t, mi.Token)
	p := c.Submit(t, "/ui/alliances/new", "/ui/alliances", valid())
	id := createdID.FindStringSubmatch(p.Location())[1]

	if p := c.Get(t, "/ui/roster"); !strings.Contains(p.Body, "has not pulled the national roster") {
		t.Errorf("roster before the first pull:\n%s", p.Body)
	}
	if p := c.Get(t, "/ui/sync"); !strings.Contains(p.Body, "Never synced") {
		t.Errorf("sync page before any sync:\n%s", p.Body)
	}
	p = c.Submit(t, "/ui/sync", "/ui/sync", nil)
	if p.Status != http.StatusSeeOther || p.Location() != "/ui/sync?done=synced" {
		t.Fatalf("sync now = %d %q", p.Status, p.Location())
	}
	p = c.Get(t, p.Location())
	contains(t, "sync page", p.Body, "The sync ran", "health-ok", "In sync", "Accepted by the hub</th><td class=\"num\">1</td>")
	p = c.Get(t, "/ui/roster")
	contains(t, "node roster", p.Body, id, "copy of the national roster", "hub change 1 of 1")
	contains(t, "node entry", c.Get(t, "/ui/roster/"+id).Body, "Provenance", "checked each one against the program keys")
	contains(t, "Alliance", c.Get(t, "/ui/alliances/"+id).Body, "This revision is on the national roster")

	p = c.Get(t, "/ui/calendar?from=2025-01-01&to=2026-12-31")
	contains(t, "calendar", p.Body, "reports overdue", "Report due", id)
	if p := c.Get(t, "/ui/calendar?from=2026-01-01&to=2025-01-01"); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `id="e-to"`) {
		t.Errorf("calendar with to before from = %d", p.Status)
	}
	if p := c.Get(t, "/ui/alliances/MI-0000000000000000"); p.Status != http.StatusNotFound {
		t.Errorf("an unknown Alliance = %d", p.Status)
	}
	if p := c.Get(t, "/ui/no-such-page"); p.Status != http.StatusNotFound || !strings.Contains(p.Body, "There is no page at this address") {
		t.Errorf("an unknown page = %d", p.Status)
	}
}

// create makes an Alliance on node n through the API.
func create(t *testing.T, n *hubtest.Node, body string) schema.Alliance {
	t.Helper()
	resp, out := hubtest.Do(t, http.MethodPost, n.URL+"/v1/alliances", n.Token, []byte(body))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, out)
	}
	var a schema.Alliance
	hubtest.DecodeJSON(t, out, &a)
	return a
}

var revInput = regexp.MustCompile(`name="rev" value="([^"]+)"`)

// TestUISlash: /ui without its slash leads to /ui/.
func TestUISlash(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI", quiet)
	c := webuitest.New(t, mi.URL)
	if p := c.Get(t, "/ui"); p.Status != http.StatusMovedPermanently || p.Location() != "/ui/" {
		t.Errorf("GET /ui = %d %q, want a redirect to /ui/", p.Status, p.Location())
	}
	c.SignIn(t, mi.Token)
	if p := c.Get(t, "/ui"); p.Status != http.StatusMovedPermanently || p.Location() != "/ui/" {
		t.Errorf("GET /ui signed in = %d %q", p.Status, p.Location())
	}
	if p := c.Get(t, "/ui/"); p.Status != http.StatusSeeOther || p.Location() != "/ui/alliances" {
		t.Errorf("GET /ui/ = %d %q", p.Status, p.Location())
	}
}

// TestAddendaAndConclude: an addendum's errors land next to the field they name (the
// date, the box of a participant who is not one); a good one changes the signatories and
// keeps the history; a conclusion defaults to the end of the term. Only what the API
// would take is offered, and an analyst's form is refused in the API's words.
func TestAddendaAndConclude(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI", quiet)
	c := webuitest.New(t, mi.URL)
	c.SignIn(t, mi.Token)
	a := create(t, mi, `{"participants":[{"name":"Associated General Contractors of Michigan","type":"association"}],
		"goals":[{"category":"outreach-communication"}],"signed_on":"2025-05-14"}`)

	p := c.Get(t, "/ui/alliances/"+a.ID)
	contains(t, "active Alliance", p.Body, `href="/ui/alliances/`+a.ID+`/addenda"`, `href="/ui/alliances/`+a.ID+`/conclude"`)
	for _, no := range []string{"/ambassador\"", "/delete\""} {
		if strings.Contains(p.Body, `href="/ui/alliances/`+a.ID+no) {
			t.Errorf("an active MIOSHA Alliance is offered %s (MIOSHA offers no Ambassador status; only drafts are deleted)", no)
		}
	}

	form := c.Get(t, "/ui/alliances/"+a.ID+"/addenda")
	contains(t, "addendum form", form.Body, `<legend>Participants leaving</legend>`, `value="Associated General Contractors of Michigan"`, `id="f-p0-name"`)
	// Before the signing, and removing the only participant with no one joining.
	bad := url.Values{"signed_on": {"2024-01-01"}, "removed": {"Associated General Contractors of Michigan", "Not a participant"}, "note": {"AGC leaves"},
		"rev": {revInput.FindStringSubmatch(form.Body)[1]}, "csrf": {form.CSRF()}}
	p = c.Post(t, "/ui/alliances/"+a.ID+"/addenda", bad)
	if p.Status != http.StatusUnprocessableEntity {
		t.Fatalf("bad addendum = %d\n%s", p.Status, p.Body)
	}
	contains(t, "addendum errors", p.Body, `id="f-signed-on-error"`, `id="f-removed-error"`, "would leave the Alliance with no participant",
		`href="#f-removed"`, `value="Associated General Contractors of Michigan" checked`, "AGC leaves</textarea>")
	if got := getAlliance(t, mi, a.ID); got.Rev != a.Rev {
		t.Fatal("a refused addendum wrote a revision")
	}
	good := url.Values{"signed_on": {"2025-09-01"}, "removed": {"Associated General Contractors of Michigan"},
		"p0.name": {"Michigan Infrastructure & Transportation Association"}, "p0.type": {"association"}, "note": {"AGC hands over to MITA"}, "rev": {a.Rev}}
	p = c.Submit(t, "/ui/alliances/"+a.ID+"/addenda", "/ui/alliances/"+a.ID+"/addenda", good)
	if p.Status != http.StatusSeeOther || !strings.HasSuffix(p.Location(), "done=amended") {
		t.Fatalf("addendum = %d\n%s", p.Status, p.Body)
	}
	got := getAlliance(t, mi, a.ID)
	if len(got.Participants) != 1 || got.Participants[0].Name != "Michigan Infrastructure & Transportation Association" || len(got.Addenda) != 1 {
		t.Errorf("after the addendum: %+v", got)
	}
	contains(t, "Alliance after the addendum", c.Get(t, p.Location()).Body, "The addendum is recorded", "<caption>Addenda</caption>", "AGC hands over to MITA")

	// An analyst reads and is offered none of it; a form sent anyway is the API's 403.
	ac := analystClient(t, mi)
	p = ac.Get(t, "/ui/alliances/"+a.ID)
	if strings.Contains(p.Body, "/conclude") || strings.Contains(p.Body, "/addenda") {
		t.Error("an analyst is offered the conclude or addendum forms")
	}
	p = ac.Post(t, "/ui/alliances/"+a.ID+"/conclude", url.Values{"csrf": {p.CSRF()}, "rev": {got.Rev}})
	if p.Status != http.StatusForbidden || !strings.Contains(p.Body, `role &#34;analyst&#34; may not do this`) {
		t.Errorf("an analyst's conclusion = %d\n%s", p.Status, p.Body)
	}
	// Without the CSRF token nothing runs.
	p = c.Post(t, "/ui/alliances/"+a.ID+"/conclude", url.Values{"rev": {got.Rev}})
	if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "could not be accepted") {
		t.Errorf("a conclusion without CSRF = %d", p.Status)
	}

	// Conclude: a date before the signing is named; none means the end of the term.
	contains(t, "conclude form", c.Get(t, "/ui/alliances/"+a.ID+"/conclude").Body, "end of the term (2028-05-14)")
	p = c.Submit(t, "/ui/alliances/"+a.ID+"/conclude", "/ui/alliances/"+a.ID+"/conclude", url.Values{"concluded_on": {"2020-01-01"}, "rev": {got.Rev}})
	if p.Status != http.StatusUnprocessableEntity {
		t.Fatalf("conclude before signing = %d\n%s", p.Status, p.Body)
	}
	contains(t, "conclude error", p.Body, `id="f-concluded-on-error"`, "before the Alliance was signed")
	p = c.Submit(t, "/ui/alliances/"+a.ID+"/conclude", "/ui/alliances/"+a.ID+"/conclude", url.Values{"rev": {got.Rev}})
	if p.Status != http.StatusSeeOther || !strings.HasSuffix(p.Location(), "done=concluded") {
		t.Fatalf("conclude = %d\n%s", p.Status, p.Body)
	}
	if got := getAlliance(t, mi, a.ID); got.Status != schema.StatusConcluded || got.ConcludedOn.String() != "2028-05-14" {
		t.Errorf("after concluding: %s %s", got.Status, got.ConcludedOn)
	}
	p = c.Get(t, p.Location())
	contains(t, "concluded Alliance", p.Body, "The conclusion is recorded", "<dt>Concluded</dt><dd>2028-05-14</dd>")
	if strings.Contains(p.Body, "/addenda\"") || strings.Contains(p.Body, "/conclude\"") {
		t.Error("a concluded Alliance is offered an addendum or a conclusion")
	}
}

// TestAmbassador: offered only when the API says the Alliance is eligible (a program
// that offers the status, the initial term and a renewal completed); an early date is
// named next to its field.
func TestAmbassador(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	fed := hubtest.StartNode(t, h, "FED", quiet)
	c := webuitest.New(t, fed.URL)
	c.SignIn(t, fed.Token)
	young := create(t, fed, `{"level":"national","participants":[{"name":"National Safety Council"}],"goals":[{"category":"training"}],"signed_on":"2025-01-10"}`)
	if p := c.Get(t, "/ui/alliances/"+young.ID); strings.Contains(p.Body, "/ambassador\"") {
		t.Error("an Alliance in its first term is offered Ambassador status")
	}
	a := create(t, fed, `{"level":"national","participants":[{"name":"American Society of Safety Professionals"}],"goals":[{"category":"training"}],"signed_on":"2015-01-10"}`)
	resp, out := hubtest.Do(t, http.MethodPost, fed.URL+"/v1/alliances/"+a.ID+"/renew", fed.Token, []byte(`{"signed_on":"2017-01-10","term_months":60}`))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("renew: %d %s", resp.StatusCode, out)
	}
	a = getAlliance(t, fed, a.ID)
	p := c.Get(t, "/ui/alliances/"+a.ID)
	contains(t, "eligible Alliance", p.Body, `href="/ui/alliances/`+a.ID+`/ambassador"`)
	p = c.Submit(t, "/ui/alliances/"+a.ID+"/ambassador", "/ui/alliances/"+a.ID+"/ambassador", url.Values{"on": {"2021-06-01"}, "rev": {a.Rev}})
	if p.Status != http.StatusUnprocessableEntity {
		t.Fatalf("Ambassador too early = %d\n%s", p.Status, p.Body)
	}
	contains(t, "early Ambassador", p.Body, `id="f-on-error"`, "eligible from 2022-01-11")
	form := c.Get(t, "/ui/alliances/"+a.ID+"/ambassador")
	p = c.Post(t, "/ui/alliances/"+a.ID+"/ambassador", url.Values{"on": {"2024-03-01"}, "rev": {revInput.FindStringSubmatch(form.Body)[1]}, "csrf": {form.CSRF()}})
	if p.Status != http.StatusSeeOther || !strings.HasSuffix(p.Location(), "done=ambassador") {
		t.Fatalf("Ambassador = %d\n%s", p.Status, p.Body)
	}
	if got := getAlliance(t, fed, a.ID); got.Status != schema.StatusAmbassador || got.AmbassadorOn.String() != "2024-03-01" {
		t.Errorf("after: %s %s", got.Status, got.AmbassadorOn)
	}
	contains(t, "Ambassador", c.Get(t, p.Location()).Body, "Ambassadors have no reporting requirements", "<dt>Ambassador since</dt>")
}

// TestDeleteDraft: a draft, and only a draft, is offered deletion behind a confirmation
// page; it ends with a signed tombstone, after which the Alliance is gone.
func TestDeleteDraft(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI", quiet)
	c := webuitest.New(t, mi.URL)
	c.SignIn(t, mi.Token)
	draft := create(t, mi, `{"participants":[{"name":"Michigan Manufacturers Association"}],"goals":[{"category":"outreach-communication"}],"status":"draft"}`)
	signed := create(t, mi, `{"participants":[{"name":"Michigan Farm Bureau"}],"goals":[{"category":"outreach-communication"}],"signed_on":"2025-10-07"}`)

	contains(t, "draft", c.Get(t, "/ui/alliances/"+draft.ID).Body, `href="/ui/alliances/`+draft.ID+`/delete"`)
	if strings.Contains(c.Get(t, "/ui/alliances/"+signed.ID).Body, "/delete\"") {
		t.Error("a signed Alliance is offered deletion")
	}
	form := c.Get(t, "/ui/alliances/"+draft.ID+"/delete")
	contains(t, "confirmation", form.Body, "Delete the draft: Michigan Manufacturers Association", "signed tombstone", `class="danger"`)
	// Without the CSRF token, nothing is deleted.
	if p := c.Post(t, "/ui/alliances/"+draft.ID+"/delete", url.Values{"rev": {draft.Rev}}); p.Status != http.StatusForbidden {
		t.Errorf("delete without CSRF = %d", p.Status)
	}
	// A signed one sent anyway is the API's refusal, on the form.
	p := c.Submit(t, "/ui/alliances/"+signed.ID+"/delete", "/ui/alliances/"+signed.ID+"/delete", url.Values{"rev": {signed.Rev}})
	if p.Status != http.StatusConflict || !strings.Contains(p.Body, "only a draft can be deleted") {
		t.Errorf("deleting a signed Alliance = %d\n%s", p.Status, p.Body)
	}
	p = c.Post(t, "/ui/alliances/"+draft.ID+"/delete", url.Values{"reason": {"entered twice"}, "rev": {revInput.FindStringSubmatch(form.Body)[1]}, "csrf": {form.CSRF()}})
	if p.Status != http.StatusSeeOther || p.Location() != "/ui/alliances?done=deleted" {
		t.Fatalf("delete = %d %q\n%s", p.Status, p.Location(), p.Body)
	}
	if resp, _ := hubtest.Do(t, http.MethodGet, mi.URL+"/v1/alliances/"+draft.ID, mi.Token, nil); resp.StatusCode != http.StatusGone {
		t.Errorf("the deleted draft answers %d, want 410", resp.StatusCode)
	}
	p = c.Get(t, p.Location())
	contains(t, "list after deleting", p.Body, "The draft is deleted", signed.ID)
	if strings.Contains(p.Body, draft.ID) {
		t.Error("the deleted draft is still listed")
	}
	// The tombstone is a signed revision that goes to the hub like any change.
	if res := syncOnce(t, mi); res.Accepted != 3 {
		t.Errorf("sync after the deletion = %+v, want 3 revisions accepted (two Alliances and the tombstone)", res)
	}
}

func syncOnce(t *testing.T, n *hubtest.Node) wire.SyncResult {
	t.Helper()
	var res wire.SyncResult
	resp, body := hubtest.Do(t, http.MethodPost, n.URL+"/v1/sync", n.Token, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sync: %d %s", resp.StatusCode, body)
	}
	hubtest.DecodeJSON(t, body, &res)
	if res.Error != "" {
		t.Fatalf("sync: %s", res.Error)
	}
	return res
}

// makeConflict gives the MI node's Alliance two branches at the hub, as a node restored
// from an older backup and edited again does, and has the node pull the conflict back.
func makeConflict(t *testing.T, mi *hubtest.Node) schema.Alliance {
	t.Helper()
	a := create(t, mi, `{"participants":[{"name":"Associated General Contractors of Michigan","type":"association"}],
		"goals":[{"category":"outreach-communication"}],"signed_on":"2025-05-14"}`)
	syncOnce(t, mi)
	mi.Fork(t, a, [2]string{"Lansing", "Detroit"})
	return a
}

// otherVersion is the competing version a resolve page offers besides local, which must
// be the one chosen at first.
func otherVersion(t *testing.T, body, local string) string {
	t.Helper()
	other := ""
	for _, m := range radio.FindAllStringSubmatch(body, -1) {
		if m[1] == local {
			if !strings.Contains(m[2], "checked") {
				t.Errorf("the node's current version is not the one chosen at first")
			}
			continue
		}
		other = m[1]
	}
	if other == "" {
		t.Fatalf("no other version to choose:\n%s", body)
	}
	return other
}

// analystClient is a browser signed in to n as a DCSP analyst.
func analystClient(t *testing.T, n *hubtest.Node) *webuitest.Client {
	t.Helper()
	analyst, err := auth.MintToken(n.Key, auth.TokenRequest{Subject: "dcsp", Role: auth.RoleAnalyst, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c := webuitest.New(t, n.URL)
	c.SignIn(t, analyst)
	return c
}

var radio = regexp.MustCompile(`<input type="radio" id="take-[0-9]" name="take" value="([^"]+)"([^>]*)>\s*<label for="take-[0-9]">([^<]*)`)

// TestResolveConflict: the program's conflicts, each version's fields side by side, and
// the one chosen kept with a resolving revision that ends the conflict at the hub. An
// analyst may look, not resolve; a form without its CSRF token changes nothing.
func TestResolveConflict(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI", quiet)
	a := makeConflict(t, mi)
	c := webuitest.New(t, mi.URL)
	c.SignIn(t, mi.Token)

	contains(t, "conflict list", c.Get(t, "/ui/conflicts").Body, "1 conflict", a.ID, "office", `href="/ui/alliances/`+a.ID+`/resolve"`)
	contains(t, "Alliance page", c.Get(t, "/ui/alliances/"+a.ID).Body, "competing revisions", `href="/ui/alliances/`+a.ID+`/resolve"`)
	p := c.Get(t, "/ui/alliances/"+a.ID+"/resolve")
	contains(t, "resolve page", p.Body, `<th scope="row">office</th>`, "Lansing", "Detroit", "this node's current", "on the national roster")
	local := getAlliance(t, mi, a.ID)
	lansing := otherVersion(t, p.Body, local.Rev)

	// An analyst sees the versions and no form; one sent anyway is refused by the API.
	ac := analystClient(t, mi)
	ap := ac.Get(t, "/ui/alliances/"+a.ID+"/resolve")
	if ap.Status != http.StatusOK || strings.Contains(ap.Body, `name="take"`) || !strings.Contains(ap.Body, "Detroit") {
		t.Errorf("an analyst's resolve page: %d, form offered: %v", ap.Status, strings.Contains(ap.Body, `name="take"`))
	}
	ap = ac.Post(t, "/ui/alliances/"+a.ID+"/resolve", url.Values{"csrf": {ap.CSRF()}, "take": {lansing}, "rev": {local.Rev}})
	if ap.Status != http.StatusForbidden || !strings.Contains(ap.Body, `role &#34;analyst&#34; may not do this`) {
		t.Errorf("an analyst's resolution = %d\n%s", ap.Status, ap.Body)
	}
	if p := c.Post(t, "/ui/alliances/"+a.ID+"/resolve", url.Values{"take": {lansing}, "rev": {local.Rev}}); p.Status != http.StatusForbidden {
		t.Errorf("a resolution without CSRF = %d", p.Status)
	}
	// A revision that is not one of the versions is named next to the choice.
	p = c.Post(t, "/ui/alliances/"+a.ID+"/resolve", url.Values{"csrf": {p.CSRF()}, "take": {"9-" + strings.Repeat("0", 64)}, "rev": {local.Rev}})
	if p.Status != http.StatusUnprocessableEntity {
		t.Fatalf("take an unknown revision = %d\n%s", p.Status, p.Body)
	}
	contains(t, "unknown revision", p.Body, `id="f-take-error"`, "is not one of the competing revisions", `href="#f-take"`)
	if got := getAlliance(t, mi, a.ID); got.Rev != local.Rev {
		t.Fatal("a refused resolution wrote a revision")
	}

	// Keep Lansing.
	p = c.Submit(t, "/ui/alliances/"+a.ID+"/resolve", "/ui/alliances/"+a.ID+"/resolve", url.Values{"take": {lansing}, "rev": {local.Rev}})
	if p.Status != http.StatusSeeOther || !strings.HasSuffix(p.Location(), "done=resolved") {
		t.Fatalf("resolve = %d\n%s", p.Status, p.Body)
	}
	if got := getAlliance(t, mi, a.ID); got.Office != "Lansing" {
		t.Errorf("after resolving the office is %q, want Lansing", got.Office)
	}
	// Until the sync, the roster copy still shows the conflict; the pages say it waits.
	contains(t, "resolved", c.Get(t, p.Location()).Body, "The conflict is resolved", "which the hub has not seen")
	contains(t, "resolve page before the sync", c.Get(t, "/ui/alliances/"+a.ID+"/resolve").Body, "which the hub has not seen yet")
	syncOnce(t, mi)
	var hubConflicts struct{ Total int }
	hubtest.GetJSON(t, h.URL+"/v1/conflicts", h.Token(t, auth.RoleAnalyst, ""), &hubConflicts)
	if hubConflicts.Total != 0 {
		t.Errorf("the hub still has %d conflict(s)", hubConflicts.Total)
	}
	contains(t, "conflicts after the sync", c.Get(t, "/ui/conflicts").Body, "0 conflicts", "No record of this program is in conflict")
	if p := c.Get(t, "/ui/alliances/"+a.ID+"/resolve"); p.Status != http.StatusNotFound || !strings.Contains(p.Body, "shows no conflict") {
		t.Errorf("resolve page of a resolved record = %d", p.Status)
	}
}

// makeReportConflict gives a report of an MI Alliance two branches at the hub, as
// makeConflict does an Alliance, with overviews "Written in Lansing" (the hub's other
// branch) and "Written in Detroit" (the node's), and answers the report before the fork.
func makeReportConflict(t *testing.T, mi *hubtest.Node) schema.Report {
	t.Helper()
	a := create(t, mi, `{"participants":[{"name":"Michigan Concrete Association","type":"association"}],
		"goals":[{"category":"outreach-communication"}],"signed_on":"2024-01-10"}`)
	resp, raw := hubtest.Do(t, http.MethodPost, mi.URL+"/v1/alliances/"+a.ID+"/reports", mi.Token,
		[]byte(`{"period":"2024-Q2","reported_on":"2024-07-15","overview":"First draft","activities":[{"type":"Conference","reached":300}]}`))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("report: %d %s", resp.StatusCode, raw)
	}
	var r schema.Report
	hubtest.DecodeJSON(t, raw, &r)
	syncOnce(t, mi)
	mi.ForkReport(t, r, [2]string{"Written in Lansing", "Written in Detroit"})
	return r
}

// TestResolveReportConflict: a report's conflict is listed with the Alliance's and
// resolved from the same page: its versions side by side, the one chosen kept with a
// resolving revision that ends the conflict at the hub. An analyst may look, not
// resolve; a form without its CSRF token changes nothing.
func TestResolveReportConflict(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI", quiet)
	r := makeReportConflict(t, mi)
	c := webuitest.New(t, mi.URL)
	c.SignIn(t, mi.Token)
	page := "/ui/alliances/" + r.AllianceID + "/reports/2024-Q2/resolve"
	report := func() schema.Report {
		t.Helper()
		var got schema.Report
		hubtest.GetJSON(t, mi.URL+"/v1/alliances/"+r.AllianceID+"/reports/2024-Q2", mi.Token, &got)
		return got
	}

	list := c.Get(t, "/ui/conflicts").Body
	contains(t, "conflict list", list, "1 conflict", r.ID, "report for 2024-Q2", "overview", `href="`+page+`"`)
	if strings.Contains(list, "cannot be resolved here") {
		t.Error("the list says the report's conflict is not resolved here")
	}
	p := c.Get(t, page)
	contains(t, "resolve page", p.Body, "versions of this report", `<th scope="row">overview</th>`, "Written in Lansing", "Written in Detroit",
		"this node's current", `action="`+page+`"`)
	local := report()
	lansing := otherVersion(t, p.Body, local.Rev)

	// An analyst sees the versions and no form; one sent anyway is refused by the API.
	ac := analystClient(t, mi)
	ap := ac.Get(t, page)
	if ap.Status != http.StatusOK || strings.Contains(ap.Body, `name="take"`) || !strings.Contains(ap.Body, "Written in Detroit") {
		t.Errorf("an analyst's resolve page: %d, form offered: %v", ap.Status, strings.Contains(ap.Body, `name="take"`))
	}
	ap = ac.Post(t, page, url.Values{"csrf": {ap.CSRF()}, "take": {lansing}, "rev": {local.Rev}})
	if ap.Status != http.StatusForbidden || !strings.Contains(ap.Body, `role &#34;analyst&#34; may not do this`) {
		t.Errorf("an analyst's resolution = %d\n%s", ap.Status, ap.Body)
	}
	if p := c.Post(t, page, url.Values{"take": {lansing}, "rev": {local.Rev}}); p.Status != http.StatusForbidden {
		t.Errorf("a resolution without CSRF = %d", p.Status)
	}
	// A revision that is not one of the versions is named next to the choice; a stale
	// rev says the report changed.
	p = c.Post(t, page, url.Values{"csrf": {p.CSRF()}, "take": {"9-" + strings.Repeat("0", 64)}, "rev": {local.Rev}})
	if p.Status != http.StatusUnprocessableEntity {
		t.Fatalf("take an unknown revision = %d\n%s", p.Status, p.Body)
	}
	contains(t, "unknown revision", p.Body, `id="f-take-error"`, "is not one of the competing revisions", `href="#f-take"`)
	p = c.Post(t, page, url.Values{"csrf": {p.CSRF()}, "take": {lansing}, "rev": {r.Rev}})
	if p.Status != http.StatusPreconditionFailed {
		t.Fatalf("a stale rev = %d\n%s", p.Status, p.Body)
	}
	contains(t, "stale rev", p.Body, "The report changed on this node")
	if got := report(); got.Rev != local.Rev {
		t.Fatal("a refused resolution wrote a revision")
	}

	// Keep Lansing.
	p = c.Submit(t, page, page, url.Values{"take": {lansing}, "rev": {local.Rev}})
	if p.Status != http.StatusSeeOther || p.Location() != "/ui/alliances/"+r.AllianceID+"?done=resolved" {
		t.Fatalf("resolve = %d %s\n%s", p.Status, p.Location(), p.Body)
	}
	if got := report(); got.Overview != "Written in Lansing" {
		t.Errorf("after resolving the overview is %q, want Lansing's", got.Overview)
	}
	contains(t, "resolved", c.Get(t, p.Location()).Body, "The conflict is resolved")
	contains(t, "resolve page before the sync", c.Get(t, page).Body, "which the hub has not seen yet")
	syncOnce(t, mi)
	var hubConflicts struct{ Total int }
	hubtest.GetJSON(t, h.URL+"/v1/conflicts", h.Token(t, auth.RoleAnalyst, ""), &hubConflicts)
	if hubConflicts.Total != 0 {
		t.Errorf("the hub still has %d conflict(s)", hubConflicts.Total)
	}
	contains(t, "conflicts after the sync", c.Get(t, "/ui/conflicts").Body, "0 conflicts")
	if p := c.Get(t, page); p.Status != http.StatusNotFound || !strings.Contains(p.Body, "shows no conflict") {
		t.Errorf("resolve page of a resolved report = %d", p.Status)
	}
}

// importRows are a small import file: two good MIOSHA rows and one whose date is not a
// date and whose category is not MIOSHA's (line 3).
const importRows = `participant,participant_type,signed_on,goal_categories,emphasis_areas
Michigan Farm Bureau,association,2025-10-07,outreach-communication,Agriculture
Michigan Health & Hospital Association,association,2025-13-02,dialogue;outreach-communication,Workplace violence
Associated Builders and Contractors of Michigan,association,2024-06,Outreach and Communication;training-education,Falls
`

var importRow = regexp.MustCompile(`(?s)<td class="num">(\d+)</td>\s*<td>(.*?)</td>`)

// outcomes reads the result table: line to outcome, in words.
func outcomes(body string) map[string]string {
	out := map[string]string{}
	tag := regexp.MustCompile(`<[^>]+>`)
	for _, m := range importRow.FindAllStringSubmatch(body, -1) {
		out[m[1]] = strings.TrimSpace(tag.ReplaceAllString(m[2], ""))
	}
	return out
}

// TestImport: a CSV file is checked (dry run), imported with its bad row named by line
// and column, fixed and imported again (the rows already in come back as duplicates); a
// file refused whole says why next to the file input. An analyst is offered no form and
// refused; a form without its CSRF token is refused before anything is read.
func TestImport(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI", quiet)
	c := webuitest.New(t, mi.URL)
	c.SignIn(t, mi.Token)
	file := func(s string) *webuitest.File {
		return &webuitest.File{Field: "file", Name: "alliances.csv", Content: []byte(s)}
	}
	total := func() int {
		var page struct{ Total int }
		hubtest.GetJSON(t, mi.URL+"/v1/alliances", mi.Token, &page)
		return page.Total
	}

	contains(t, "list", c.Get(t, "/ui/alliances").Body, `href="/ui/import"`)
	form := c.Get(t, "/ui/import")
	contains(t, "import form", form.Body, `enctype="multipart/form-data"`, `<label for="f-file">CSV file</label>`, `name="dry_run"`)

	// A dry run writes nothing and says what would happen.
	p := c.SubmitFile(t, "/ui/import", "/ui/import", url.Values{"dry_run": {"true"}}, file(importRows))
	if p.Status != http.StatusOK {
		t.Fatalf("dry run = %d\n%s", p.Status, p.Body)
	}
	contains(t, "dry run", p.Body, "This was a check only", "would be imported", `name="dry_run" value="true" checked`)
	if got := outcomes(p.Body); got["2"] != "Would import" || got["3"] != "Failed" || got["4"] != "Would import" {
		t.Errorf("dry run outcomes = %v", got)
	}
	if n := total(); n != 0 {
		t.Fatalf("a dry run stored %d Alliance(s)", n)
	}

	// The import: two in, line 3 failed, with each problem by column.
	p = c.SubmitFile(t, "/ui/import", "/ui/import", nil, file(importRows))
	if p.Status != http.StatusOK {
		t.Fatalf("import = %d\n%s", p.Status, p.Body)
	}
	if got := outcomes(p.Body); got["2"] != "Imported" || got["3"] != "Failed" || got["4"] != "Imported" {
		t.Errorf("import outcomes = %v", got)
	}
	contains(t, "import result", p.Body, "Import of alliances.csv", `<strong>signed_on</strong>: `, "month must be 01 to 12",
		`<strong>goal_categories</strong>: `, "Fix the rows that failed", `href="/ui/alliances/MI-`)
	if n := total(); n != 2 {
		t.Fatalf("after the import the node holds %d Alliances, want 2", n)
	}

	// Fixed and imported again: the two already in are duplicates, the fixed row is in.
	fixed := strings.Replace(importRows, "2025-13-02,dialogue;outreach-communication", "2025-12-02,outreach-communication", 1)
	p = c.SubmitFile(t, "/ui/import", "/ui/import", nil, file(fixed))
	if got := outcomes(p.Body); got["2"] != "Duplicate" || got["3"] != "Imported" || got["4"] != "Duplicate" {
		t.Errorf("re-import outcomes = %v\n%s", got, p.Body)
	}
	if n := total(); n != 3 {
		t.Errorf("after the re-import the node holds %d Alliances, want 3", n)
	}

	// Refused whole: the reason is next to the file input, nothing is written.
	for name, tc := range map[string]struct {
		file *webuitest.File
		want string
	}{
		"unknown column": {file("participant,signed_on,colour\nX,2025-01-01,red\n"), "colour"},
		"not UTF-8":      {file("participant,signed_on\nCaf\xe9 Society,2025-01-01\n"), "not UTF-8"},
		"no file":        {nil, "Choose a CSV file"},
	} {
		p := c.SubmitFile(t, "/ui/import", "/ui/import", nil, tc.file)
		if p.Status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d", name, p.Status)
		}
		contains(t, name, p.Body, `id="f-file-error"`, tc.want, `href="#f-file"`, `aria-invalid="true"`)
	}
	if n := total(); n != 3 {
		t.Errorf("refused files changed the node: %d Alliances", n)
	}

	// No CSRF token: refused before the file is read.
	p = c.PostFile(t, "/ui/import", nil, file(fixed))
	if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "could not be accepted") {
		t.Errorf("import without CSRF = %d", p.Status)
	}
	// A form larger than the import takes is refused before it is read whole.
	big := &webuitest.File{Field: "file", Name: "big.csv", Content: []byte("participant,signed_on\n" + strings.Repeat("x", 17<<20))}
	if p := c.PostFile(t, "/ui/import", url.Values{"csrf": {form.CSRF()}}, big); p.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("a 17 MiB form = %d, want 413", p.Status)
	}
	// Only the import route takes a multipart form.
	p = c.PostFile(t, "/ui/sync", url.Values{"csrf": {form.CSRF()}}, nil)
	if p.Status != http.StatusUnsupportedMediaType {
		t.Errorf("a multipart form to /ui/sync = %d, want 415", p.Status)
	}

	// An analyst: no form, and the API's refusal if sent anyway.
	ac := analystClient(t, mi)
	ap := ac.Get(t, "/ui/import")
	if strings.Contains(ap.Body, `name="file"`) || strings.Contains(ac.Get(t, "/ui/alliances").Body, `href="/ui/import"`) {
		t.Error("an analyst is offered the import")
	}
	ap = ac.PostFile(t, "/ui/import", url.Values{"csrf": {ap.CSRF()}}, file(fixed))
	if ap.Status != http.StatusForbidden || !strings.Contains(ap.Body, `role &#34;analyst&#34; may not do this`) {
		t.Errorf("an analyst's import = %d\n%s", ap.Status, ap.Body)
	}
}
