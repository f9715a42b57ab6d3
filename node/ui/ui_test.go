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
