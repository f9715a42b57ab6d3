package webui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/labstack/echo/v4"
)

// Call sends a request to the server's own API, in-process, as the signed-in user: with
// the session's token as its bearer token, body (when not nil) as JSON and header added.
// A 2xx answer's JSON is decoded into out (when not nil) and its headers returned; any
// other answer comes back as the API's *edge.Problem, so a page shows the API's own
// words for a refusal (a role that may not, a field that is wrong).
func (s *Site) Call(c echo.Context, method, path string, query url.Values, body any, header http.Header, out any) (http.Header, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return nil, err
		}
		header = header.Clone()
		if header == nil {
			header = http.Header{}
		}
		header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	}
	answer, h, err := s.Send(c, method, path, query, raw, header)
	if err != nil {
		return h, err
	}
	if out != nil {
		if err := json.Unmarshal(answer, out); err != nil {
			return h, fmt.Errorf("webui: decode %s %s: %w", method, path, err)
		}
	}
	return h, nil
}

// Send is Call with a body of any type (its Content-Type in header: a CSV file for an
// import) and the answer kept as it came (NDJSON, say): the answer's body and headers
// when it is a 2xx, the API's *edge.Problem otherwise. The whole answer is held in
// memory, so it is for answers of bounded size.
func (s *Site) Send(c echo.Context, method, path string, query url.Values, body []byte, header http.Header) ([]byte, http.Header, error) {
	rec := &recorder{header: http.Header{}}
	req, err := s.apiRequest(c, method, path, query, body, header)
	if err != nil {
		return nil, nil, err
	}
	s.cfg.API.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status < 200 || rec.status > 299 {
		return nil, rec.header, problemOf(rec.status, rec.header, rec.body.Bytes())
	}
	return rec.body.Bytes(), rec.header, nil
}

// Stream answers the browser with the API's answer to GET path?query (a CSV export, a
// bundle) as it is written, headers and all, when it succeeds; a refusal comes back as a
// problem for the page to show, and nothing reaches the browser.
func (s *Site) Stream(c echo.Context, path string, query url.Values) error {
	req, err := s.apiRequest(c, http.MethodGet, path, query, nil, nil)
	if err != nil {
		return err
	}
	w := &passOn{w: c.Response(), rec: recorder{header: http.Header{}}}
	s.cfg.API.ServeHTTP(w, req)
	if w.passing {
		return nil
	}
	if w.rec.status == 0 {
		return fmt.Errorf("webui: GET %s answered nothing", path)
	}
	return problemOf(w.rec.status, w.rec.header, w.rec.body.Bytes())
}

func (s *Site) apiRequest(c echo.Context, method, path string, query url.Values, body []byte, header http.Header) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	u := path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(c.Request().Context(), method, u, rd)
	if err != nil {
		return nil, err
	}
	req.RemoteAddr = c.Request().RemoteAddr
	req.Host = c.Request().Host
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	if tok := Token(c); tok != "" {
		req.Header.Set(echo.HeaderAuthorization, "Bearer "+tok)
	}
	// The page's request id, so the API's log lines for it carry the same one.
	if id := c.Response().Header().Get(echo.HeaderXRequestID); id != "" {
		req.Header.Set(echo.HeaderXRequestID, id)
	}
	return req, nil
}

// problemOf reads an API refusal.
func problemOf(status int, h http.Header, body []byte) *edge.Problem {
	var p edge.Problem
	if strings.HasPrefix(h.Get(echo.HeaderContentType), edge.ContentType) && json.Unmarshal(body, &p) == nil && p.Status != 0 {
		return &p
	}
	return edge.Errorf(status, "http-error", "The server answered %d %s.", status, http.StatusText(status))
}

// recorder keeps an in-process answer.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(p)
}

// Flush does nothing: the answer is read once it is complete. A handler that streams
// (an import's NDJSON) flushes as it goes, and echo refuses a writer that cannot.
func (r *recorder) Flush() {}

// passOn hands a successful answer on to the browser as it comes, and keeps any other.
type passOn struct {
	w       http.ResponseWriter
	rec     recorder
	passing bool
	decided bool
}

func (p *passOn) Header() http.Header { return p.rec.header }

func (p *passOn) WriteHeader(code int) {
	if p.decided {
		return
	}
	p.decided = true
	p.rec.WriteHeader(code)
	if code != http.StatusOK {
		return
	}
	p.passing = true
	for _, k := range []string{echo.HeaderContentType, echo.HeaderContentDisposition} {
		if v := p.rec.header.Get(k); v != "" {
			p.w.Header().Set(k, v)
		}
	}
	p.w.WriteHeader(code)
}

func (p *passOn) Write(b []byte) (int, error) {
	p.WriteHeader(http.StatusOK)
	if p.passing {
		return p.w.Write(b)
	}
	return p.rec.body.Write(b)
}

// Flush passes a flush on, so a long export reaches the browser as it is written.
func (p *passOn) Flush() {
	if f, ok := p.w.(http.Flusher); ok && p.passing {
		f.Flush()
	}
}
