// Package webuitest drives a web UI over HTTP in tests as a browser without scripts
// would: it keeps cookies, signs in with a token, and sends forms with the CSRF token of
// the page they came from.
package webuitest

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Client is one browser: its own cookies, never following redirects by itself, so a
// test sees every 303.
type Client struct {
	Base string
	HTTP *http.Client
}

// New makes a client of the UI served at base (a server's URL).
func New(t testing.TB, base string) *Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Client{Base: base, HTTP: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// Page is an answer: its status, headers and body.
type Page struct {
	Status int
	Header http.Header
	Body   string
}

// Location is where a redirect leads.
func (p *Page) Location() string { return p.Header.Get("Location") }

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

// CSRF is the CSRF token the page's forms carry ("" when it has none).
func (p *Page) CSRF() string {
	if m := csrfInput.FindStringSubmatch(p.Body); m != nil {
		return m[1]
	}
	return ""
}

// Get fetches path (from the UI's base).
func (c *Client) Get(t testing.TB, path string) *Page {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.Base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.Do(t, req)
}

// Post sends a form to path as a browser would (urlencoded, same-origin).
func (c *Client) Post(t testing.TB, path string, form url.Values) *Page {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.Base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return c.Do(t, req)
}

// Submit fetches the page at from, and posts form to action with that page's CSRF token.
func (c *Client) Submit(t testing.TB, from, action string, form url.Values) *Page {
	t.Helper()
	p := c.Get(t, from)
	if p.Status != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", from, p.Status, p.Body)
	}
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", p.CSRF())
	return c.Post(t, action, form)
}

// File is a file a form sends.
type File struct {
	Field, Name string
	Content     []byte
}

// PostFile sends a form with a file to path as a browser would (multipart/form-data,
// same-origin). A nil file sends the field empty, as a browser does when none is chosen.
func (c *Client) PostFile(t testing.TB, path string, form url.Values, file *File) *Page {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, vs := range form {
		for _, v := range vs {
			if err := mw.WriteField(k, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if file != nil {
		fw, err := mw.CreateFormFile(file.Field, file.Name)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(file.Content)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, c.Base+path, &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return c.Do(t, req)
}

// SubmitFile fetches the page at from, and posts form and file to action with that
// page's CSRF token.
func (c *Client) SubmitFile(t testing.TB, from, action string, form url.Values, file *File) *Page {
	t.Helper()
	p := c.Get(t, from)
	if p.Status != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", from, p.Status, p.Body)
	}
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", p.CSRF())
	return c.PostFile(t, action, form, file)
}

// Do sends req with the client's cookies.
func (c *Client) Do(t testing.TB, req *http.Request) *Page {
	t.Helper()
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &Page{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// SignIn signs in with token and fails the test unless the UI takes it.
func (c *Client) SignIn(t testing.TB, token string) {
	t.Helper()
	p := c.Submit(t, "/ui/signin", "/ui/signin", url.Values{"token": {token}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("sign in: %d\n%s", p.Status, p.Body)
	}
}
