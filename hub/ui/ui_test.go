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
	mi.Fork(t, a, [2]string{"Lansing", "Detroit"})
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

// TestUISlash: /ui without its slash leads to /ui/.
func TestUISlash(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	c := webuitest.New(t, h.URL)
	if p := c.Get(t, "/ui"); p.Status != http.StatusMovedPermanently || p.Location() != "/ui/" {
		t.Errorf("GET /ui = %d %q, want a redirect to /ui/", p.Status, p.Location())
	}
	c.SignIn(t, h.Token(t, auth.RoleAnalyst, ""))
	if p := c.Get(t, "/ui"); p.Status != http.StatusMovedPermanently || p.Location() != "/ui/" {
		t.Errorf("GET /ui signed in = %d %q", p.Status, p.Location())
	}
	if p := c.Get(t, "/ui/"); p.Status != http.StatusSeeOther || p.Location() != "/ui/roster" {
		t.Errorf("GET /ui/ = %d %q", p.Status, p.Location())
	}
}

// linkedPair records one national Alliance on the FED node and, as Michigan co-signed it,
// on the MI node too, three days later and with a participant the federal record leaves
// out; after both sync, the hub proposes a link between them.
func linkedPair(t *testing.T, fed, mi *hubtest.Node) (fedID, miID string) {
	t.Helper()
	create := func(n *hubtest.Node, body string) string {
		resp, out := hubtest.Do(t, http.MethodPost, n.URL+"/v1/alliances", n.Token, []byte(body))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("create: %d %s", resp.StatusCode, out)
		}
		var a schema.Alliance
		hubtest.DecodeJSON(t, out, &a)
		return a.ID
	}
	fedID = create(fed, `{"level":"national","participants":[{"name":"National Utility Contractors Association (NUCA)","type":"association"}],
		"goals":[{"category":"training"},{"category":"outreach"}],"signed_on":"2025-02-12"}`)
	miID = create(mi, `{"participants":[{"name":"NUCA"},{"name":"Michigan Infrastructure & Transportation Association"}],
		"goals":[{"category":"training-education"},{"category":"outreach-communication"}],"signed_on":"2025-02-15"}`)
	syncNode(t, fed)
	syncNode(t, mi)
	return fedID, miID
}

var linkForm = regexp.MustCompile(`action="/ui/links/([^"/]+)/confirm"`)

// TestLinks: the links to review, each with the two records' differences; DCSP confirms
// or rejects one with a note (a note the API refuses is shown next to it), and a program
// token is offered no form and refused if it sends one. A form without the CSRF token
// changes nothing.
func TestLinks(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	fed := hubtest.StartNode(t, h, "FED", quiet)
	mi := hubtest.StartNode(t, h, "MI", quiet)
	fedID, miID := linkedPair(t, fed, mi)
	analystToken := h.Token(t, auth.RoleAnalyst, "")
	var links struct {
		Items []wire.Link `json:"items"`
	}
	hubtest.GetJSON(t, h.URL+"/v1/links", analystToken, &links)
	if len(links.Items) != 1 {
		t.Fatalf("links = %+v, want one", links)
	}
	id := links.Items[0].ID

	prog := webuitest.New(t, h.URL)
	prog.SignIn(t, h.Token(t, auth.RoleProgram, "MI"))
	p := prog.Get(t, "/ui/links")
	if p.Status != http.StatusOK || !contains(p.Body, "1 link", fedID, miID, "signed_on differs by 3 days", "2025-02-12", "2025-02-15", "“NUCA”") {
		t.Fatalf("links page: %d\n%s", p.Status, p.Body)
	}
	if strings.Contains(p.Body, "Confirm: one Alliance") {
		t.Error("a program token is offered the link decision")
	}
	p = prog.Post(t, "/ui/links/"+id+"/confirm", url.Values{"csrf": {p.CSRF()}})
	if p.Status != http.StatusForbidden || !strings.Contains(p.Body, `role &#34;program&#34; may not do this`) {
		t.Errorf("a program token confirming = %d\n%s", p.Status, p.Body)
	}

	analyst := webuitest.New(t, h.URL)
	analyst.SignIn(t, analystToken)
	p = analyst.Get(t, "/ui/links")
	if m := linkForm.FindStringSubmatch(p.Body); m == nil || m[1] != id || !contains(p.Body, `formaction="/ui/links/`+id+`/reject"`, `formaction="/ui/links/`+id+`/confirm"`) {
		t.Fatalf("an analyst is not offered the decision:\n%s", p.Body)
	}
	if p := analyst.Post(t, "/ui/links/"+id+"/confirm", url.Values{"note": {"same"}}); p.Status != http.StatusForbidden {
		t.Errorf("a decision without CSRF = %d", p.Status)
	}
	// A note longer than the API takes: refused, and said next to the note.
	p = analyst.Submit(t, "/ui/links", "/ui/links/"+id+"/reject", url.Values{"note": {strings.Repeat("x", 2001)}})
	if p.Status != http.StatusUnprocessableEntity || !contains(p.Body, `id="note-`+id+`-error"`, "at most 2000", `href="#note-`+id+`"`, `aria-invalid="true"`) {
		t.Errorf("a long note = %d\n%s", p.Status, p.Body)
	}
	var l wire.Link
	hubtest.GetJSON(t, h.URL+"/v1/links/"+id, analystToken, &l)
	if l.State != wire.LinkProposed {
		t.Fatalf("refused decisions changed the link: %s", l.State)
	}

	p = analyst.Submit(t, "/ui/links/"+id, "/ui/links/"+id+"/confirm", url.Values{"note": {"MIOSHA co-signed the federal agreement"}})
	if p.Status != http.StatusSeeOther || p.Location() != "/ui/links?done=link-confirmed" {
		t.Fatalf("confirm = %d %q\n%s", p.Status, p.Location(), p.Body)
	}
	hubtest.GetJSON(t, h.URL+"/v1/links/"+id, analystToken, &l)
	if l.State != wire.LinkConfirmed || l.Decision == nil || l.Decision.By != "test-analyst" || l.Decision.Note != "MIOSHA co-signed the federal agreement" {
		t.Errorf("after confirming: %+v %+v", l.State, l.Decision)
	}
	p = analyst.Get(t, p.Location())
	if !contains(p.Body, "The link is confirmed", "0 links") {
		t.Errorf("the proposed list after confirming:\n%s", p.Body)
	}
	p = analyst.Get(t, "/ui/links?state=confirmed")
	if !contains(p.Body, "1 link", "Confirmed by test-analyst", "MIOSHA co-signed the federal agreement", "Change to rejected") ||
		strings.Contains(p.Body, "Confirm: one Alliance") {
		t.Errorf("confirmed links:\n%s", p.Body)
	}
	// Each record's page leads to the link.
	if p := analyst.Get(t, "/ui/roster/"+miID); !contains(p.Body, `href="/ui/links/`+id+`"`, "Review this link") {
		t.Errorf("the Alliance page does not lead to its link:\n%s", p.Body)
	}
}

// TestKeys: every program's keys with their windows and state; an admin enrolls a
// program (errors next to the field they name: the form's own and the API's) and
// revokes a key; an analyst is offered neither and refused if it sends a form anyway.
func TestKeys(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI", quiet)
	nvKey, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	nvJWK := string(must(json.Marshal(nvKey.PublicJWK())))
	keyFile := filepath.Join(t.TempDir(), "nv.jwk")
	if err := nvKey.WriteFile(keyFile); err != nil {
		t.Fatal(err)
	}
	private := string(must(os.ReadFile(keyFile)))

	analyst := webuitest.New(t, h.URL)
	analyst.SignIn(t, h.Token(t, auth.RoleAnalyst, ""))
	p := analyst.Get(t, "/ui/keys")
	if p.Status != http.StatusOK || !contains(p.Body, `id="program-MI"`, mi.Key.KeyID(), "Valid", "no end", "at enrollment", "Defined but not enrolled: FED, NV") {
		t.Fatalf("keys page: %d\n%s", p.Status, p.Body)
	}
	if strings.Contains(p.Body, "/ui/keys/enroll") || strings.Contains(p.Body, "/revoke") {
		t.Error("an analyst is offered enrollment or revocation")
	}
	p = analyst.Post(t, "/ui/keys/enroll", url.Values{"csrf": {p.CSRF()}, "code": {"NV"}, "jwk": {nvJWK}})
	if p.Status != http.StatusForbidden || !strings.Contains(p.Body, `role &#34;analyst&#34; may not do this`) {
		t.Errorf("an analyst's enrollment = %d\n%s", p.Status, p.Body)
	}

	admin := webuitest.New(t, h.URL)
	admin.SignIn(t, h.Token(t, auth.RoleAdmin, ""))
	p = admin.Get(t, "/ui/keys")
	if !contains(p.Body, `href="/ui/keys/enroll"`, `href="/ui/keys/MI/`+mi.Key.KeyID()+`/revoke"`) {
		t.Fatalf("an admin is not offered enrollment and revocation:\n%s", p.Body)
	}
	if p := admin.Post(t, "/ui/keys/enroll", url.Values{"code": {"NV"}, "jwk": {nvJWK}}); p.Status != http.StatusForbidden {
		t.Errorf("an enrollment without CSRF = %d", p.Status)
	}
	for name, tc := range map[string]struct {
		form  url.Values
		field string
		want  string
	}{
		"not JSON":       {url.Values{"code": {"NV"}, "jwk": {"{kty: OKP"}}, "jwk", "is not JSON"},
		"private key":    {url.Values{"code": {"NV"}, "jwk": {private}}, "jwk", "holds a private key"},
		"no program":     {url.Values{"jwk": {nvJWK}}, "code", "must be 2 to 10 capital letters"},
		"not a time":     {url.Values{"code": {"NV"}, "jwk": {nvJWK}, "not_after": {"next year"}}, "not_after", "is not a time"},
		"window in past": {url.Values{"code": {"NV"}, "jwk": {nvJWK}, "not_after": {"2020-01-01"}}, "not_after", "2020-01-01"},
	} {
		p := admin.Submit(t, "/ui/keys/enroll", "/ui/keys/enroll", tc.form)
		if p.Status != http.StatusUnprocessableEntity || !contains(p.Body, `id="f-`+tc.field+`-error"`, tc.want, `href="#f-`+tc.field+`"`) {
			t.Errorf("%s: %d\n%s", name, p.Status, p.Body)
		}
	}
	var programs struct {
		Items []struct {
			Code string
			Keys []struct{ Kid, State string }
		}
	}
	hubtest.GetJSON(t, h.URL+"/v1/programs", h.Token(t, auth.RoleAnalyst, ""), &programs)
	if len(programs.Items) != 1 {
		t.Fatalf("refused enrollments enrolled something: %+v", programs.Items)
	}
	p = admin.Submit(t, "/ui/keys/enroll", "/ui/keys/enroll", url.Values{"code": {"NV"}, "jwk": {nvJWK}, "not_before": {"2026-01-01"}})
	if p.Status != http.StatusSeeOther || p.Location() != "/ui/keys?done=enrolled#program-NV" {
		t.Fatalf("enrol = %d %q\n%s", p.Status, p.Location(), p.Body)
	}
	if p := admin.Get(t, "/ui/keys?done=enrolled"); !contains(p.Body, "The program is enrolled", `id="program-NV"`, nvKey.KeyID()) {
		t.Errorf("keys page after enrollment:\n%s", p.Body)
	}

	// Revoke MI's only key: the page warns; the API's refusals land next to their fields.
	revoke := "/ui/keys/MI/" + mi.Key.KeyID() + "/revoke"
	p = admin.Get(t, revoke)
	if p.Status != http.StatusOK || !contains(p.Body, "only key of MI", mi.Key.KeyID(), `class="danger"`) {
		t.Fatalf("revoke page: %d\n%s", p.Status, p.Body)
	}
	p = admin.Submit(t, revoke, revoke, url.Values{"reason": {strings.Repeat("r", 501)}, "effective_at": {"2020-01-01"}})
	if p.Status != http.StatusUnprocessableEntity || !contains(p.Body, `id="f-reason-error"`, "at most 500", `id="f-effective_at-error"`, "is in the past") {
		t.Errorf("bad revocation = %d\n%s", p.Status, p.Body)
	}
	if p := analyst.Post(t, revoke, url.Values{"csrf": {analyst.Get(t, "/ui/keys").CSRF()}}); p.Status != http.StatusForbidden {
		t.Errorf("an analyst's revocation = %d", p.Status)
	}
	p = admin.Submit(t, revoke, revoke, url.Values{"reason": {"the node's disk was replaced"}})
	if p.Status != http.StatusSeeOther || p.Location() != "/ui/keys?done=revoked#program-MI" {
		t.Fatalf("revoke = %d %q\n%s", p.Status, p.Location(), p.Body)
	}
	p = admin.Get(t, "/ui/keys?done=revoked")
	if !contains(p.Body, "The key is revoked", "Revoked", "by test-admin", "the node&#39;s disk was replaced") || strings.Contains(p.Body, `href="`+revoke+`"`) {
		t.Errorf("keys page after revoking:\n%s", p.Body)
	}
	// Revoking it again is the API's 409, shown on the form.
	p = admin.Submit(t, revoke, revoke, nil)
	if p.Status != http.StatusConflict || !strings.Contains(p.Body, "Not done") {
		t.Errorf("revoking twice = %d\n%s", p.Status, p.Body)
	}
}
