package ui_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	hubui "github.com/alliancehub/alliancehub/hub/ui"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/alliancehub/alliancehub/internal/webui/webuitest"
	"github.com/alliancehub/alliancehub/node"
	"github.com/alliancehub/alliancehub/schema"
)

// clock is a settable clock for the hub, so a test can let a token expire.
type clock struct{ now atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.now.Store(time.Now().UnixNano())
	return c
}

func (c *clock) Now() time.Time      { return time.Unix(0, c.now.Load()) }
func (c *clock) Add(d time.Duration) { c.now.Add(int64(d)) }
func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// cookie finds a Set-Cookie of the answer by name.
func cookie(p *webuitest.Page, name string) *http.Cookie {
	for _, c := range (&http.Response{Header: p.Header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// createMI creates an Alliance on the MI node through the API.
func createMI(t *testing.T, n *hubtest.Node, name string) schema.Alliance {
	t.Helper()
	resp, body := hubtest.Do(t, http.MethodPost, n.URL+"/v1/alliances", n.Token, map[string]any{
		"participants": []map[string]string{{"name": name, "type": "association"}},
		"goals":        []map[string]string{{"category": "outreach-communication", "description": "Outreach"}},
		"signed_on":    "2025-05-14",
	})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	var a schema.Alliance
	hubtest.DecodeJSON(t, body, &a)
	return a
}

func syncNode(t *testing.T, n *hubtest.Node) wire.SyncResult {
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

// TestSignIn: the sign-in page is the only page without a token; a pasted token is kept
// in an HttpOnly, SameSite=Strict cookie (Secure over TLS) that ends with the token, and
// an expired token leads back to sign-in.
func TestSignIn(t *testing.T) {
	clk := newClock()
	h := hubtest.StartHub(t, clk.Now)
	c := webuitest.New(t, h.URL)

	if p := c.Get(t, "/"); p.Status != http.StatusSeeOther || p.Location() != "/ui/" {
		t.Errorf("GET / = %d %q, want a redirect to /ui/", p.Status, p.Location())
	}
	p := c.Get(t, "/ui/roster?program=MI")
	if p.Status != http.StatusSeeOther || p.Location() != "/ui/signin?next=%2Fui%2Froster%3Fprogram%3DMI" {
		t.Fatalf("GET /ui/roster without a token = %d %q, want the sign-in page", p.Status, p.Location())
	}
	if p := c.Get(t, "/ui/static/ui.css"); p.Status != http.StatusOK || !strings.HasPrefix(p.Header.Get("Content-Type"), "text/css") {
		t.Errorf("the style sheet needs no token: %d %s", p.Status, p.Header.Get("Content-Type"))
	}

	form := c.Get(t, "/ui/signin?next=%2Fui%2Froster%3Fprogram%3DMI")
	if form.Status != http.StatusOK || form.CSRF() == "" || !strings.Contains(form.Body, `<label for="token">Token</label>`) {
		t.Fatalf("sign-in page: %d\n%s", form.Status, form.Body)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"} {
		if form.Header.Get(h) == "" {
			t.Errorf("the sign-in page has no %s header", h)
		}
	}
	if ck := cookie(form, "alliancehub_signin_hub"); ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
		t.Errorf("sign-in form cookie = %+v", ck)
	}

	analyst := h.Token(t, auth.RoleAnalyst, "")
	// Without the form's CSRF token, the sign-in is refused and no session starts.
	p = c.Post(t, "/ui/signin", url.Values{"token": {analyst}, "csrf": {"forged"}})
	if p.Status != http.StatusForbidden || cookie(p, "alliancehub_session_hub") != nil {
		t.Errorf("sign-in without the form's CSRF token = %d, session cookie %v", p.Status, cookie(p, "alliancehub_session_hub"))
	}
	// A token the hub does not take is explained.
	p = c.Submit(t, "/ui/signin", "/ui/signin", url.Values{"token": {"not-a-token"}})
	if p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "does not take this token") || cookie(p, "alliancehub_session_hub") != nil {
		t.Errorf("sign-in with a bad token = %d\n%s", p.Status, p.Body)
	}
	// A good one: a session cookie that scripts cannot read and other sites never send.
	p = c.Submit(t, "/ui/signin", "/ui/signin", url.Values{"token": {"Bearer " + analyst}, "next": {"/ui/roster?program=MI"}})
	if p.Status != http.StatusSeeOther || p.Location() != "/ui/roster?program=MI" {
		t.Fatalf("sign-in = %d %q, want back to the page asked for", p.Status, p.Location())
	}
	ck := cookie(p, "alliancehub_session_hub")
	if ck == nil || ck.Value != analyst || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/ui/" || ck.Secure {
		t.Fatalf("session cookie = %+v", ck)
	}
	claims, _, err := auth.VerifyToken(analyst, auth.KeySet{h.Key.KeyID(): h.Key.PublicKey()}, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if d := ck.Expires.Sub(claims.Expiry.Time()); d < -time.Second || d > time.Second {
		t.Errorf("the cookie expires at %s, the token at %s", ck.Expires, claims.Expiry.Time())
	}
	p = c.Get(t, "/ui/roster?program=MI")
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "test-analyst") || p.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("roster after sign-in: %d %q", p.Status, p.Header.Get("Cache-Control"))
	}

	// Over TLS (here: through a proxy that says so) the cookie is Secure.
	tls := webuitest.New(t, h.URL)
	form = tls.Get(t, "/ui/signin")
	req, _ := http.NewRequest(http.MethodPost, h.URL+"/ui/signin", strings.NewReader(url.Values{"token": {analyst}, "csrf": {form.CSRF()}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-Proto", "https")
	if ck := cookie(tls.Do(t, req), "alliancehub_session_hub"); ck == nil || !ck.Secure {
		t.Errorf("session cookie over TLS = %+v, want Secure", ck)
	}

	// Once the token expires, pages lead back to sign-in, saying why.
	clk.Add(2 * time.Hour)
	p = c.Get(t, "/ui/roster")
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location(), "/ui/signin?") || !strings.Contains(p.Location(), "why=expired") {
		t.Fatalf("roster with an expired token = %d %q", p.Status, p.Location())
	}
	if p := c.Get(t, p.Location()); !strings.Contains(p.Body, "Your token has expired") {
		t.Errorf("the sign-in page does not say the token expired:\n%s", p.Body)
	}
}

// TestCSRF: every form of a signed-in user needs the session's CSRF token, and a form
// another site started is refused even with one.
func TestCSRF(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	c := webuitest.New(t, h.URL)
	c.SignIn(t, h.Token(t, auth.RoleAnalyst, ""))
	other := webuitest.New(t, h.URL)
	other.SignIn(t, h.Token(t, auth.RoleAdmin, ""))
	otherCSRF := other.Get(t, "/ui/roster").CSRF()
	mine := c.Get(t, "/ui/roster").CSRF()
	if mine == "" || mine == otherCSRF {
		t.Fatalf("CSRF tokens %q and %q: want one per session", mine, otherCSRF)
	}
	for _, tc := range []struct {
		name  string
		csrf  string
		cross bool
	}{
		{"none", "", false},
		{"another session's", otherCSRF, false},
		{"right token, started by another site", mine, true},
	} {
		req, _ := http.NewRequest(http.MethodPost, h.URL+"/ui/signout", strings.NewReader(url.Values{"csrf": {tc.csrf}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if tc.cross {
			req.Header.Set("Sec-Fetch-Site", "cross-site")
		}
		p := c.Do(t, req)
		if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "could not be accepted") {
			t.Errorf("%s: sign-out = %d, want 403", tc.name, p.Status)
		}
		if p := c.Get(t, "/ui/roster"); p.Status != http.StatusOK {
			t.Errorf("%s: the refused form signed the user out (%d)", tc.name, p.Status)
		}
	}
	p := c.Submit(t, "/ui/roster", "/ui/signout", nil)
	if p.Status != http.StatusSeeOther || !strings.Contains(p.Location(), "signed-out") {
		t.Fatalf("sign-out = %d %q", p.Status, p.Location())
	}
	if ck := cookie(p, "alliancehub_session_hub"); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("sign-out does not drop the cookie: %+v", ck)
	}
	if p := c.Get(t, "/ui/roster"); p.Status != http.StatusSeeOther {
		t.Errorf("after sign-out the roster answers %d", p.Status)
	}
	// A form that is not urlencoded is refused before anything runs.
	req, _ := http.NewRequest(http.MethodPost, h.URL+"/ui/signin", strings.NewReader(`{"token":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	if p := c.Do(t, req); p.Status != http.StatusUnsupportedMediaType {
		t.Errorf("JSON posted to the sign-in form = %d, want 415", p.Status)
	}
}

// TestNextIsLocal: after signing in, only a page of the UI itself is returned to.
func TestNextIsLocal(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	tok := h.Token(t, auth.RoleAnalyst, "")
	for next, want := range map[string]string{
		"/ui/roster?q=farm":       "/ui/roster?q=farm",
		"https://evil.example/ui": "/ui/",
		"//evil.example/ui/":      "/ui/",
		"/v1/roster":              "/ui/",
		"/ui/\\evil":              "/ui/",
		"":                        "/ui/",
	} {
		c := webuitest.New(t, h.URL)
		p := c.Submit(t, "/ui/signin", "/ui/signin", url.Values{"token": {tok}, "next": {next}})
		if p.Location() != want {
			t.Errorf("next %q leads to %q, want %q", next, p.Location(), want)
		}
	}
}

// TestRosterCSV: the download is the API's CSV of the same view, sent with the session.
func TestRosterCSV(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI", quiet)
	createMI(t, mi, "Michigan Farm Bureau")
	createMI(t, mi, "Associated General Contractors of Michigan")
	syncNode(t, mi)
	analyst := h.Token(t, auth.RoleAnalyst, "")
	c := webuitest.New(t, h.URL)
	c.SignIn(t, analyst)

	p := c.Get(t, "/ui/roster.csv?program=MI&q=farm&sort=-participant")
	_, want := hubtest.Do(t, http.MethodGet, h.URL+"/v1/roster?program=MI&q=farm&sort=-participant&format=csv", analyst, nil)
	if p.Status != http.StatusOK || p.Body != string(want) || !strings.HasPrefix(p.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("CSV via the UI = %d %q\n%s\nwant\n%s", p.Status, p.Header.Get("Content-Disposition"), p.Body, want)
	}
	if n := strings.Count(p.Body, "\n"); n != 2 {
		t.Errorf("CSV has %d lines, want a header and one row", n)
	}
	// A filter the API refuses is shown as a page, not a broken download.
	if p := c.Get(t, "/ui/roster.csv?level=galactic"); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "level") {
		t.Errorf("CSV with a bad filter = %d\n%s", p.Status, p.Body)
	}
	// The table shows the API's errors next to the filter.
	if p := c.Get(t, "/ui/roster?as_of=2026-02-30"); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `id="e-as_of"`) {
		t.Errorf("roster with a bad as_of = %d", p.Status)
	}
	// Sorting and paging keep the filters.
	p = c.Get(t, "/ui/roster?program=MI&limit=25&sort=participant")
	if !contains(p.Body, `aria-sort="ascending"`, `href="/ui/roster?limit=25&amp;program=MI&amp;sort=-participant"`) {
		t.Errorf("sort links do not keep the filters:\n%s", p.Body)
	}
}

// makeConflict gives the MI node's Alliance two branches at the hub, as a node restored
// from an older backup and edited again does.
func makeConflict(t *testing.T, h *hubtest.Hub, mi *hubtest.Node) schema.Alliance {
	t.Helper()
	a := createMI(t, mi, "Associated General Contractors of Michigan")
	syncNode(t, mi)
	store := filepath.Join(mi.Dir, journal.FileName)
	backup := filepath.Join(t.TempDir(), journal.FileName)
	copyFile := func(from, to string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	put := func(office string) {
		a.Office = office
		resp, body := hubtest.Request(t, http.MethodPut, mi.URL+"/v1/alliances/"+a.ID, mi.Token,
			http.Header{"If-Match": {`"` + a.Rev + `"`}, "Content-Type": {"application/json"}}, must(json.Marshal(a)))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("put: %d %s", resp.StatusCode, body)
		}
	}
	mi.Reopen(t, func() { copyFile(store, backup) })
	put("Lansing")
	syncNode(t, mi)
	mi.Reopen(t, func() { copyFile(backup, store) })
	put("Detroit")
	if got := syncNode(t, mi); got.Conflict != 1 {
		t.Fatalf("sync = %+v, want a conflict", got)
	}
	return a
}

// quiet starts a node without its catch-up run, so only the test syncs it.
func quiet(c *node.Config) { c.NoCatchUp = true }

// token mints a token of the hub's key valid for ttl.
func token(t *testing.T, k *auth.Key, role auth.Role, ttl time.Duration) string {
	t.Helper()
	tok, err := auth.MintToken(k, auth.TokenRequest{Subject: "test-" + string(role), Role: role, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestConflictQueue: the queue shows each differing field by revision; DCSP acknowledges
// a conflict, and a program token may not, exactly as on the API.
func TestConflictQueue(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI", quiet)
	a := makeConflict(t, h, mi)

	prog := webuitest.New(t, h.URL)
	prog.SignIn(t, h.Token(t, auth.RoleProgram, "MI"))
	p := prog.Get(t, "/ui/conflicts")
	if p.Status != http.StatusOK || !contains(p.Body, a.ID, "<th scope=\"row\">office</th>", "Lansing", "Detroit") {
		t.Fatalf("conflict queue: %d\n%s", p.Status, p.Body)
	}
	if strings.Contains(p.Body, "Acknowledge conflict") {
		t.Error("a program token is offered the acknowledge form")
	}
	p = prog.Post(t, "/ui/conflicts/"+a.ID+"/acknowledge", url.Values{"csrf": {p.CSRF()}, "note": {"ours"}})
	if p.Status != http.StatusForbidden || !strings.Contains(p.Body, `role &#34;program&#34; may not do this`) {
		t.Errorf("a program token acknowledging = %d\n%s", p.Status, p.Body)
	}

	analyst := webuitest.New(t, h.URL)
	analyst.SignIn(t, h.Token(t, auth.RoleAnalyst, ""))
	if p := analyst.Get(t, "/ui/conflicts"); !strings.Contains(p.Body, "Acknowledge conflict") {
		t.Error("an analyst is not offered the acknowledge form")
	}
	p = analyst.Submit(t, "/ui/conflicts", "/ui/conflicts/"+a.ID+"/acknowledge", url.Values{"note": {"asked MIOSHA to resolve"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("acknowledge = %d\n%s", p.Status, p.Body)
	}
	p = analyst.Get(t, "/ui/conflicts?state=acknowledged")
	if !contains(p.Body, a.ID, "Acknowledged by test-analyst", "asked MIOSHA to resolve") {
		t.Errorf("acknowledged conflict not shown:\n%s", p.Body)
	}
	if p := analyst.Get(t, "/ui/conflicts"); strings.Contains(p.Body, a.ID) {
		t.Error("an acknowledged conflict stays in the open queue")
	}
	// The Alliance's page flags the conflict and shows both branches.
	p = analyst.Get(t, "/ui/roster/"+a.ID)
	if !contains(p.Body, "competing revisions", "competing", "on the roster") {
		t.Errorf("Alliance page of a conflicted record:\n%s", p.Body)
	}
}

// TestProgramsAndTotals: sync status with its colour in words, and the national totals.
func TestProgramsAndTotals(t *testing.T) {
	clk := newClock()
	h := hubtest.StartHub(t, clk.Now)
	mi := hubtest.StartNode(t, h, "MI", quiet)
	createMI(t, mi, "Michigan Farm Bureau")
	syncNode(t, mi)
	hubtest.StartNode(t, h, "NV", quiet) // enrolled, never heard from
	c := webuitest.New(t, h.URL)
	c.SignIn(t, token(t, h.Key, auth.RoleAnalyst, 72*time.Hour))
	p := c.Get(t, "/ui/programs")
	if !contains(p.Body, "health-ok", "In sync", "health-warn", "Not heard from", "has not pushed or pulled") {
		t.Errorf("programs page:\n%s", p.Body)
	}
	clk.Add(40 * time.Hour)
	p = c.Get(t, "/ui/programs")
	if !contains(p.Body, "health-bad", "Stale", "stale since") {
		t.Errorf("programs page 40 hours later:\n%s", p.Body)
	}
	p = c.Get(t, "/ui/totals")
	if p.Status != http.StatusOK || !contains(p.Body, `<caption id="by-program">`, `<caption id="by-year">`, "2025", `width="100.0%"`) {
		t.Errorf("totals page: %d\n%s", p.Status, p.Body)
	}
	if p := c.Get(t, "/ui/totals?as_of=yesterday"); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `id="e-as_of"`) {
		t.Errorf("totals with a bad date = %d", p.Status)
	}
}

// TestSignatureVerdicts: each revision's signature is checked again, and one that does
// not verify is named as such with the reason.
func TestSignatureVerdicts(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI", quiet)
	a := createMI(t, mi, "Michigan Farm Bureau")
	a.Office = "Lansing"
	resp, body := hubtest.Request(t, http.MethodPut, mi.URL+"/v1/alliances/"+a.ID, mi.Token,
		http.Header{"If-Match": {`"` + a.Rev + `"`}, "Content-Type": {"application/json"}}, must(json.Marshal(a)))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("put: %d %s", resp.StatusCode, body)
	}
	syncNode(t, mi)

	// A checker that refuses the first revision, as it would a record whose bytes were
	// changed after signing.
	site, err := hubui.New(hubui.Config{
		API: h.Handler(),
		Verify: func(raw string) (*auth.Claims, error) {
			c, _, err := auth.VerifyToken(raw, auth.KeySet{h.Key.KeyID(): h.Key.PublicKey()}, time.Now())
			return c, err
		},
		VerifyBundle: func(b *wire.Bundle) error {
			for _, ch := range b.Changes {
				payload, _, err := auth.UnverifiedPayload(ch.Record)
				if err != nil || strings.Contains(string(payload), `"rev":"`+a.Rev+`"`) {
					return errors.New("record " + a.Rev + ": signature does not verify")
				}
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(site.Handler())
	defer srv.Close()
	c := webuitest.New(t, srv.URL)
	c.SignIn(t, h.Token(t, auth.RoleAnalyst, ""))
	p := c.Get(t, "/ui/roster/"+a.ID)
	if p.Status != http.StatusOK || strings.Count(p.Body, "✓ verifies") != 1 || strings.Count(p.Body, "✗ does not verify") != 1 ||
		!strings.Contains(p.Body, "signature does not verify") {
		t.Errorf("Alliance page with one bad signature: %d\n%s", p.Status, p.Body)
	}
	// The bundle downloads for alliancehub verify.
	p = c.Get(t, "/ui/roster/"+a.ID+"/bundle")
	var b wire.Bundle
	if err := json.NewDecoder(strings.NewReader(p.Body)).Decode(&b); err != nil || len(b.Changes) != 2 {
		t.Errorf("bundle: %v, %d changes", err, len(b.Changes))
	}
}

var nextLink = regexp.MustCompile(`<a href="([^"]+)" rel="next">`)
var prevLink = regexp.MustCompile(`<a href="([^"]+)" rel="prev">`)

// TestRosterPaging: pages go on and back, keeping the filters and the page size.
func TestRosterPaging(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI", quiet)
	for i := range 30 {
		createMI(t, mi, fmt.Sprintf("Michigan Association %02d", i))
	}
	syncNode(t, mi)
	c := webuitest.New(t, h.URL)
	c.SignIn(t, h.Token(t, auth.RoleAnalyst, ""))
	p := c.Get(t, "/ui/roster?program=MI&limit=25&sort=participant")
	if !strings.Contains(p.Body, "Showing 1 to 25 of 30 Alliances") || prevLink.MatchString(p.Body) {
		t.Fatalf("first page:\n%s", p.Body)
	}
	m := nextLink.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatal("no next page link")
	}
	p = c.Get(t, html.UnescapeString(m[1]))
	if !contains(p.Body, "Showing 26 to 30 of 30 Alliances", "Michigan Association 29", "First page") || nextLink.MatchString(p.Body) ||
		strings.Contains(p.Body, "Michigan Association 24") {
		t.Fatalf("second page:\n%s", p.Body)
	}
	m = prevLink.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatal("no previous page link")
	}
	p = c.Get(t, html.UnescapeString(m[1]))
	if !contains(p.Body, "Showing 1 to 25 of 30 Alliances", "Michigan Association 00", "Michigan Association 24") {
		t.Errorf("back to the first page:\n%s", p.Body)
	}
}
