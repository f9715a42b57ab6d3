package ui_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/chromedp/chromedp"
)

// updateDocs rewrites docs/ui-roster.png, the README's picture of the UI, from this
// test's roster screenshot.
var updateDocs = flag.Bool("update-docs", false, "write the roster screenshot to docs/ui-roster.png")

// chromium finds the browser the tests drive: $ALLIANCEHUB_CHROMIUM, else Debian's
// chromium on the PATH. Without one the browser tests skip locally; in CI (CI set), where
// .ci/run installs it, they fail instead, so they can never pass by not running.
func chromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests do not run with -short")
	}
	if p := os.Getenv("ALLIANCEHUB_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no chromium to drive: install Debian's chromium package (apt-get install chromium) or set ALLIANCEHUB_CHROMIUM"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// browser is a headless Chromium tab for one test, with a place for its screenshots.
type browser struct {
	t    *testing.T
	ctx  context.Context
	dir  string
	shot int
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromium(t)
	dir := os.Getenv("ALLIANCEHUB_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "alliancehub-ui-screenshots")
	}
	dir = filepath.Join(dir, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // containers and root; the pages are the test's own
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("lang", "en-US"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	t.Logf("screenshots in %s", dir)
	return &browser{t: t, ctx: ctx, dir: dir}
}

// do runs steps, failing the test with what it was doing.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.screenshot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s: %v", what, err)
	}
}

// load runs steps that lead to a new page and waits for it; it answers its status.
func (b *browser) load(what string, steps ...chromedp.Action[chromedp.Void]) int {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, steps...)
	if err != nil {
		b.screenshot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s: %v", what, err)
	}
	return int(resp.Status)
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (b *browser) location() string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return s
}

// screenshot saves the whole page as NN-name.png and answers its path.
func (b *browser) screenshot(name string) string {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return ""
	}
	b.shot++
	p := filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.shot, name))
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Error(err)
	}
	return p
}

// docs copies a screenshot to docs/ui-roster.png when the test runs with -update-docs:
// the national roster of the demo's samples, as the README's tour shows it.
func (b *browser) docs(shot string) {
	b.t.Helper()
	if !*updateDocs || shot == "" {
		return
	}
	png, err := os.ReadFile(shot)
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("..", "..", "docs", "ui-roster.png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// signIn pastes a token on a UI's sign-in page.
func (b *browser) signIn(base, token string) {
	b.t.Helper()
	b.load("open "+base, chromedp.Navigate(base+"/"))
	if h1 := b.text("h1"); h1 != "Sign in" {
		b.t.Fatalf("%s/ shows %q without a token, want the sign-in page", base, h1)
	}
	b.do("paste the token", chromedp.SetValue(chromedp.CSS("#token"), token))
	b.load("sign in", chromedp.Click(chromedp.CSS("form button[type=submit]")))
}

func wantText(t *testing.T, where, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s: %q not found in:\n%s", where, w, got)
		}
	}
}

// seedDemo loads the demo's sample Alliances and reports (cmd/alliancehub's
// demo_samples.json: program code to Alliances, each with its "reports") on the nodes and
// syncs them, so the pages look as the README's tour shows them.
func seedDemo(t *testing.T, nodes map[string]*hubtest.Node) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "cmd", "alliancehub", "demo_samples.json"))
	if err != nil {
		t.Fatal(err)
	}
	var samples map[string][]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &samples); err != nil {
		t.Fatal(err)
	}
	for code, alliances := range samples {
		n := nodes[code]
		for _, a := range alliances {
			var reports []json.RawMessage
			if r, ok := a["reports"]; ok {
				if err := json.Unmarshal(r, &reports); err != nil {
					t.Fatal(err)
				}
				delete(a, "reports")
			}
			body, _ := json.Marshal(a)
			resp, out := hubtest.Do(t, http.MethodPost, n.URL+"/v1/alliances", n.Token, body)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("seed %s: %d %s", code, resp.StatusCode, out)
			}
			var created struct{ ID string }
			hubtest.DecodeJSON(t, out, &created)
			for _, r := range reports {
				if resp, out := hubtest.Do(t, http.MethodPost, n.URL+"/v1/alliances/"+created.ID+"/reports", n.Token, []byte(r)); resp.StatusCode != http.StatusCreated {
					t.Fatalf("seed report: %d %s", resp.StatusCode, out)
				}
			}
		}
		if resp, out := hubtest.Do(t, http.MethodPost, n.URL+"/v1/sync", n.Token, nil); resp.StatusCode != http.StatusOK || strings.Contains(string(out), `"error"`) {
			t.Fatalf("seed sync %s: %d %s", code, resp.StatusCode, out)
		}
	}
	// Every node pulls again, so each copy of the roster holds every program's records.
	for _, n := range nodes {
		hubtest.Do(t, http.MethodPost, n.URL+"/v1/sync", n.Token, nil)
	}
}

// TestBrowser walks the tour of issue 8 in a real browser: an analyst signs in to the
// hub, filters the roster and opens an Alliance's provenance; a MIOSHA clerk creates an
// Alliance on the MI node with one invalid field, fixes it and syncs now; the analyst
// finds it on the hub.
func TestBrowser(t *testing.T) {
	b := newBrowser(t)
	h := hubtest.StartHub(t, nil)
	nodes := map[string]*hubtest.Node{}
	for _, code := range []string{"FED", "MI", "NV"} {
		nodes[code] = hubtest.StartNode(t, h, code, quiet)
	}
	seedDemo(t, nodes)
	mi := nodes["MI"]

	// An analyst signs in to the hub and sees the national roster.
	b.signIn(h.URL, h.Token(t, auth.RoleAnalyst, ""))
	if got := b.text("h1"); got != "National roster" {
		t.Fatalf("after signing in the hub shows %q", got)
	}
	wantText(t, "roster", b.text("table.roster"), "American Society of Safety Professionals", "Associated General Contractors of Michigan",
		"Nevada Contractors Association")
	wantText(t, "count", b.text("p.count"), "of 11 Alliances")
	b.docs(b.screenshot("hub-roster"))

	// Filter: MIOSHA's Alliances whose participant names hold "farm".
	b.do("filter the roster",
		chromedp.SetValue(chromedp.CSS("#f-program"), "MI"),
		chromedp.SetValue(chromedp.CSS("#f-q"), "farm"))
	b.load("search", chromedp.Click(chromedp.CSS("form.filters button[type=submit]")))
	rows := b.text("table.roster tbody")
	wantText(t, "filtered roster", rows, "Michigan Farm Bureau")
	if strings.Contains(rows, "Nevada") || strings.Contains(rows, "Associated General") || strings.Count(rows, "MI-") != 1 {
		t.Errorf("the filter program=MI q=farm left other rows:\n%s", rows)
	}
	wantText(t, "count", b.text("p.count"), "1 Alliance")
	if loc := b.location(); !strings.Contains(loc, "program=MI") || !strings.Contains(loc, "q=farm") {
		t.Errorf("the filtered page's address %s does not keep its filters", loc)
	}
	b.screenshot("hub-roster-filtered")

	// The CSV of this view comes through the UI with the session (no bearer header).
	csvHref, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS("a[download]"), "href"))
	if err != nil || !strings.Contains(csvHref.Value, "program=MI") || !strings.Contains(csvHref.Value, "q=farm") {
		t.Errorf("CSV link %q (%v) does not keep the filters", csvHref.Value, err)
	}

	// Open the Alliance: its provenance, with each signature checked again.
	b.load("open the Alliance", chromedp.Click(chromedp.CSS("table.roster tbody a")))
	wantText(t, "Alliance page", b.text("main"), "Michigan Farm Bureau", "Provenance", "✓ verifies", "on the roster",
		"Outreach and Communication", "In sync", "Reports received")
	b.screenshot("hub-alliance-provenance")

	// A MIOSHA clerk signs in to the MI node and enters a new Alliance, with a signing
	// date that is not a date.
	b.signIn(mi.URL, mi.Token)
	if got := b.text("h1"); got != "Alliances" {
		t.Fatalf("after signing in the node shows %q", got)
	}
	b.load("new Alliance", chromedp.Navigate(mi.URL+"/ui/alliances/new"))
	b.do("fill in the form",
		chromedp.SetValue(chromedp.CSS("#f-office"), "Consultation Education and Training Division"),
		chromedp.SetValue(chromedp.CSS("#f-signed-on"), "2026-13-02"),
		chromedp.SetValue(chromedp.CSS("#f-p0-name"), "Michigan Health & Hospital Association"),
		chromedp.SetValue(chromedp.CSS("#f-p0-type"), "association"),
		chromedp.SetValue(chromedp.CSS("#f-g0-category"), "outreach-communication"),
		chromedp.SetValue(chromedp.CSS("#f-g0-description"), "Workplace violence prevention outreach to member hospitals"),
		chromedp.SetValue(chromedp.CSS("#f-emphasis-areas"), "Workplace violence\nSafe patient handling"))
	b.screenshot("node-new-alliance")
	if status := b.load("save", chromedp.Click(chromedp.CSS(".actions button[type=submit]"))); status != http.StatusUnprocessableEntity {
		t.Errorf("saving with a bad date answered %d, want 422", status)
	}
	wantText(t, "error summary", b.text(".error-summary"), "Signed on", "month must be 01 to 12")
	wantText(t, "the field's own error", b.text("#f-signed-on-error"), "month must be 01 to 12")
	if v, _ := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("#f-p0-name"))); v != "Michigan Health & Hospital Association" {
		t.Errorf("the form lost what was typed: participant name %q", v)
	}
	if inv, _ := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS("#f-signed-on"), "aria-invalid")); inv.Value != "true" {
		t.Errorf("the bad field is not marked aria-invalid (%q)", inv.Value)
	}
	b.screenshot("node-invalid-field")

	// Fix it and save: the Alliance is signed, and not on the national roster yet.
	b.do("fix the date", chromedp.SetValue(chromedp.CSS("#f-signed-on"), "2026-11-02"))
	b.load("save again", chromedp.Click(chromedp.CSS(".actions button[type=submit]")))
	main := b.text("main")
	wantText(t, "saved Alliance", main, "Michigan Health & Hospital Association", "saved and signed", "Not on the national roster yet", "2029-11-02")
	loc := b.location()
	newID, _, _ := strings.Cut(loc[strings.LastIndex(loc, "/")+1:], "?")
	if !strings.HasPrefix(newID, "MI-") {
		t.Fatalf("saved Alliance's page is %s", b.location())
	}
	b.screenshot("node-alliance-saved")

	// Sync now.
	b.load("open sync", chromedp.Navigate(mi.URL+"/ui/sync"))
	b.load("sync now", chromedp.Click(chromedp.CSS("main form button[type=submit]")))
	wantText(t, "sync page", b.text("main"), "The sync ran", "In sync")
	wantText(t, "last run", b.text("main table"), "Accepted by the hub")
	if got := b.text("main table tbody tr:nth-child(2) td"); got != "1" {
		t.Errorf("the sync accepted %q record(s), want 1", got)
	}
	b.screenshot("node-synced")

	// The analyst finds it on the hub.
	b.load("hub roster", chromedp.Navigate(h.URL+"/ui/roster?q=hospital"))
	wantText(t, "hub roster after sync", b.text("table.roster tbody"), newID, "Michigan Health & Hospital Association", "2029-11-02")
	b.load("open it on the hub", chromedp.Click(chromedp.CSS("table.roster tbody a")))
	wantText(t, "hub Alliance page", b.text("main"), newID, "✓ verifies", "Workplace violence prevention outreach")
	b.screenshot("hub-new-alliance")

	// The other hub pages render, for the record.
	for _, p := range []string{"programs", "conflicts", "totals"} {
		if status := b.load(p, chromedp.Navigate(h.URL+"/ui/"+p)); status != http.StatusOK {
			t.Errorf("/ui/%s answered %d", p, status)
		}
		b.screenshot("hub-" + p)
	}

	// Sign out: the pages need the token again.
	b.load("sign out", chromedp.Click(chromedp.CSS(".who button")))
	wantText(t, "signed out", b.text("main"), "You are signed out")
	b.load("roster after signing out", chromedp.Navigate(h.URL+"/ui/roster"))
	if got := b.text("h1"); got != "Sign in" {
		t.Errorf("after signing out the roster shows %q, want the sign-in page", got)
	}
}

// TestBrowserReconcile walks the reconciliation pages in a real browser: a MIOSHA clerk
// imports a small CSV file with one bad row, fixes the row and imports the file again,
// then resolves a conflict on the MI node by keeping the other version and syncs; an
// analyst confirms the link the hub proposed between the federal and the Michigan
// records of one Alliance.
func TestBrowserReconcile(t *testing.T) {
	b := newBrowser(t)
	h := hubtest.StartHub(t, nil)
	fed := hubtest.StartNode(t, h, "FED", quiet)
	mi := hubtest.StartNode(t, h, "MI", quiet)
	fedID, miID := linkedPair(t, fed, mi)
	conflicted := makeConflict(t, h, mi)

	// Import: a file with a bad third line.
	dir := t.TempDir()
	bad := filepath.Join(dir, "mi-alliances.csv")
	rows := "participant,participant_type,signed_on,goal_categories,emphasis_areas\n" +
		"Michigan Farm Bureau,association,2025-10-07,outreach-communication,Agriculture\n" +
		"Michigan Health & Hospital Association,association,2025-13-02,outreach-communication,Workplace violence\n" +
		"Associated Builders and Contractors of Michigan,association,2024-06,Outreach and Communication;training-education,Falls\n"
	if err := os.WriteFile(bad, []byte(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	b.signIn(mi.URL, mi.Token)
	b.load("Alliances", chromedp.Navigate(mi.URL+"/ui/alliances"))
	b.load("open the import", chromedp.Click(chromedp.CSS(`a[href="/ui/import"]`)))
	if got := b.text("h1"); got != "Import Alliances from a CSV file" {
		t.Fatalf("the import page shows %q", got)
	}
	b.do("choose the file", chromedp.SetUploadFiles(chromedp.CSS("#f-file"), []string{bad}))
	b.screenshot("node-import-form")
	if status := b.load("import", chromedp.Click(chromedp.CSS("main form button[type=submit]"))); status != http.StatusOK {
		t.Errorf("the import answered %d", status)
	}
	wantText(t, "import summary", b.text("ul.tiles"), "3\nrows in the file", "2\nimported", "1\nfailed")
	result := b.text("table.import tbody")
	wantText(t, "import rows", result, "Failed", "signed_on", "month must be 01 to 12", "Imported")
	if strings.Count(result, "Imported") != 2 {
		t.Errorf("the import lists %d imported rows, want 2:\n%s", strings.Count(result, "Imported"), result)
	}
	b.screenshot("node-import-one-bad-row")

	// Fix the row and import the same file again: the two rows in are duplicates.
	fixed := strings.Replace(rows, "2025-13-02", "2025-12-02", 1)
	if err := os.WriteFile(bad, []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	b.do("choose the fixed file", chromedp.SetUploadFiles(chromedp.CSS("#f-file"), []string{bad}))
	b.load("import again", chromedp.Click(chromedp.CSS("main form[enctype] button[type=submit]")))
	wantText(t, "re-import summary", b.text("ul.tiles"), "1\nimported", "2\nduplicates", "0\nfailed")
	if result := b.text("table.import tbody"); strings.Count(result, "Duplicate") != 2 || strings.Count(result, "Imported") != 1 {
		t.Errorf("re-import rows:\n%s", result)
	}
	b.screenshot("node-import-fixed")

	// Resolve the conflict: keep the version the node does not hold (Lansing).
	b.load("conflicts", chromedp.Navigate(mi.URL+"/ui/conflicts"))
	wantText(t, "conflict list", b.text("main table"), conflicted.ID, "office")
	b.screenshot("node-conflicts")
	b.load("open the conflict", chromedp.Click(chromedp.CSS(`main table a[href$="/resolve"]`)))
	wantText(t, "resolve page", b.text("table.diff"), "office", "Lansing", "Detroit", "this node's current", "on the national roster")
	b.do("choose the other version", chromedp.Click(chromedp.CSS("input[name=take]:not(:checked)")))
	b.screenshot("node-resolve-conflict")
	b.load("resolve", chromedp.Click(chromedp.CSS("main form button[type=submit]")))
	wantText(t, "resolved Alliance", b.text("main"), "The conflict is resolved", "Lansing")
	b.screenshot("node-conflict-resolved")
	b.load("open sync", chromedp.Navigate(mi.URL+"/ui/sync"))
	b.load("sync now", chromedp.Click(chromedp.CSS("main form button[type=submit]")))
	wantText(t, "sync page", b.text("main"), "The sync ran")
	b.load("conflicts after the sync", chromedp.Navigate(mi.URL+"/ui/conflicts"))
	wantText(t, "conflicts after the sync", b.text("main"), "No record of this program is in conflict")

	// The other new pages of a node, for the record.
	b.load("addendum form", chromedp.Navigate(mi.URL+"/ui/alliances/"+conflicted.ID+"/addenda"))
	b.screenshot("node-addendum")
	b.load("Alliance", chromedp.Navigate(mi.URL+"/ui/alliances/"+miID))
	b.screenshot("node-alliance-actions")

	// An analyst confirms the link the hub proposed.
	b.signIn(h.URL, h.Token(t, auth.RoleAnalyst, ""))
	b.load("links", chromedp.Navigate(h.URL+"/ui/links"))
	card := b.text("main section.card")
	wantText(t, "proposed link", card, fedID, miID, "signed_on differs by 3 days", "Michigan Infrastructure & Transportation Association")
	b.do("write a note", chromedp.SetValue(chromedp.CSS("form.decide textarea"), "MIOSHA co-signed the federal NUCA Alliance"))
	b.screenshot("hub-links")
	b.load("confirm", chromedp.Click(chromedp.CSS("form.decide button:not(.secondary)")))
	wantText(t, "after confirming", b.text("main"), "The link is confirmed", "0 links")
	b.load("confirmed links", chromedp.Navigate(h.URL+"/ui/links?state=confirmed"))
	wantText(t, "confirmed link", b.text("main section.card"), "Confirmed", "by test-analyst", "MIOSHA co-signed the federal NUCA Alliance")
	b.screenshot("hub-link-confirmed")
	b.load("hub conflicts", chromedp.Navigate(h.URL+"/ui/conflicts"))
	wantText(t, "hub conflicts", b.text("main"), "0 conflicts")

	// An admin's keys page, with its actions.
	b.load("sign out", chromedp.Click(chromedp.CSS(".who button")))
	b.signIn(h.URL, h.Token(t, auth.RoleAdmin, ""))
	b.load("keys", chromedp.Navigate(h.URL+"/ui/keys"))
	wantText(t, "keys", b.text("main"), "FED", "MI", "Valid", "Revoke")
	b.screenshot("hub-keys")
	b.load("enroll", chromedp.Click(chromedp.CSS(`a[href="/ui/keys/enroll"]`)))
	b.do("paste a key that is not JSON", chromedp.SetValue(chromedp.CSS("#f-code"), "NV"), chromedp.SetValue(chromedp.CSS("#f-jwk"), "kty: OKP"))
	if status := b.load("enroll", chromedp.Click(chromedp.CSS("main form button[type=submit]"))); status != http.StatusUnprocessableEntity {
		t.Errorf("enrolling a key that is not JSON answered %d", status)
	}
	wantText(t, "enroll error", b.text("#f-jwk-error"), "is not JSON")
	b.screenshot("hub-enroll-error")
}
