// Package hubtest starts real hubs and program nodes on loopback for tests: real keys,
// real files in the test's temporary directory, real signatures, real HTTP.
package hubtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/node"
	"github.com/alliancehub/alliancehub/schema"
)

// Hub is a running hub with its key, data directory and URL.
type Hub struct {
	*hub.Hub
	Key *auth.Key
	Dir string
	URL string
	// Catalog is the program definitions the hub starts with (nil: the built-in ones);
	// set it and Restart to change them.
	Catalog *schema.Catalog
	srv     *httptest.Server
	cur     atomic.Pointer[hub.Hub] // the hub the server answers with, swapped by Restart
	now     func() time.Time
	opts    []HubOption
}

// HubOption adjusts a hub's configuration before it starts (and at every Restart).
type HubOption func(*hub.Config)

// StartHub starts a hub with a new key in a temporary directory. now may be nil.
func StartHub(t testing.TB, now func() time.Time, opts ...HubOption) *Hub {
	t.Helper()
	k, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	h := &Hub{Key: k, Dir: filepath.Join(t.TempDir(), "hub"), now: now, opts: opts}
	h.open(t)
	t.Cleanup(h.stop)
	return h
}

func (h *Hub) open(t testing.TB) {
	t.Helper()
	cfg := hub.Config{Key: h.Key, DataDir: h.Dir, Now: h.now, Catalog: h.Catalog}
	for _, o := range h.opts {
		o(&cfg)
	}
	hb, err := hub.New(cfg)
	if err != nil {
		t.Fatalf("start hub: %v", err)
	}
	h.Hub = hb
	h.cur.Store(hb)
	if h.srv == nil {
		h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.cur.Load().Handler().ServeHTTP(w, r)
		}))
		h.URL = h.srv.URL
	}
}

func (h *Hub) stop() {
	if h.srv != nil {
		h.srv.Close()
		h.srv = nil
	}
	if h.Hub != nil {
		h.Hub.Close()
		h.Hub = nil
	}
}

// Restart closes the hub's store and opens it again from its data directory, keeping
// the URL, as a restarted process would.
func (h *Hub) Restart(t testing.TB) { h.Reopen(t, nil) }

// Reopen is Restart with between run while the hub is stopped (to copy or damage its
// files).
func (h *Hub) Reopen(t testing.TB, between func()) {
	t.Helper()
	if err := h.Hub.Close(); err != nil {
		t.Fatal(err)
	}
	if between != nil {
		between()
	}
	h.open(t)
}

// Token mints a token signed by the hub's key.
func (h *Hub) Token(t testing.TB, role auth.Role, program string) string {
	t.Helper()
	return Token(t, h.Key, role, program)
}

// Enroll registers a program key through the API with an admin token.
func (h *Hub) Enroll(t testing.TB, code string, key *auth.Key) {
	t.Helper()
	resp, body := Do(t, http.MethodPost, h.URL+"/v1/programs", h.Token(t, auth.RoleAdmin, ""),
		map[string]any{"code": code, "jwk": key.PublicJWK()})
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		t.Fatalf("enroll %s: %d %s", code, resp.StatusCode, body)
	}
}

// Node is a running program node.
type Node struct {
	*node.Node
	Key   *auth.Key
	Dir   string
	URL   string
	Token string // a program token for this node
	srv   *httptest.Server
	cfg   node.Config
	cur   atomic.Pointer[node.Node] // the node the server answers with, swapped by Restart
}

// NodeOption adjusts a node's configuration before it starts.
type NodeOption func(*node.Config)

// StartNode starts a node for program code with a new key enrolled with h.
func StartNode(t testing.TB, h *Hub, code string, opts ...NodeOption) *Node {
	t.Helper()
	k, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	h.Enroll(t, code, k)
	cat, err := schema.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	def, ok := cat.Get(code)
	if !ok {
		t.Fatalf("no program %s", code)
	}
	cfg := node.Config{
		Program: def, Key: k, DataDir: filepath.Join(t.TempDir(), code), HubURL: h.URL,
		Retry: node.RetryPolicy{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond, Budget: 2 * time.Second},
	}
	for _, o := range opts {
		o(&cfg)
	}
	n, err := node.New(cfg)
	if err != nil {
		t.Fatalf("start node %s: %v", code, err)
	}
	nd := &Node{Node: n, Key: k, Dir: cfg.DataDir, cfg: cfg, Token: Token(t, k, auth.RoleProgram, code)}
	nd.cur.Store(n)
	nd.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nd.cur.Load().Handler().ServeHTTP(w, r)
	}))
	nd.URL = nd.srv.URL
	t.Cleanup(func() {
		nd.srv.Close()
		nd.Node.Close()
	})
	return nd
}

// Restart closes the node's store and opens it again from its data directory, keeping
// its key and URL, as a restarted process would.
func (nd *Node) Restart(t testing.TB) { nd.Reopen(t, nil) }

// Reopen is Restart with between run while the node is stopped (to damage its files).
func (nd *Node) Reopen(t testing.TB, between func()) {
	t.Helper()
	if err := nd.Node.Close(); err != nil {
		t.Fatal(err)
	}
	if between != nil {
		between()
	}
	n, err := node.New(nd.cfg)
	if err != nil {
		t.Fatalf("restart node %s: %v", nd.cfg.Program.Code, err)
	}
	nd.Node = n
	nd.cur.Store(n)
}

// Token mints a 1-hour token signed by k.
func Token(t testing.TB, k *auth.Key, role auth.Role, program string) string {
	t.Helper()
	tok, err := auth.MintToken(k, auth.TokenRequest{Subject: "test-" + string(role), Role: role, Program: program, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Do sends a JSON request (body nil, []byte sent as is, or any value marshalled) with a
// bearer token (none if empty) and returns the response and its body.
func Do(t testing.TB, method, url, token string, body any) (*http.Response, []byte) {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	header := http.Header{}
	if body != nil {
		header.Set("Content-Type", "application/json")
	}
	return Request(t, method, url, token, header, raw)
}

// Request sends body with a bearer token (none if empty) and the given headers, and
// returns the response and its body.
func Request(t testing.TB, method, url, token string, header http.Header, body []byte) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, raw
}

// DecodeJSON unmarshals body into v or fails the test.
func DecodeJSON(t testing.TB, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}

// GetJSON fetches url with a token, requires 200 and decodes the answer into v.
func GetJSON(t testing.TB, url, token string, v any) {
	t.Helper()
	resp, body := Do(t, http.MethodGet, url, token, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	DecodeJSON(t, body, v)
}

// HeldPush is a push the hub has taken a slot for and is reading the body of: it stays
// in flight, holding its slot in the hub's push limits, until Finish sends the body.
type HeldPush struct {
	pw     *io.PipeWriter
	body   []byte
	client *http.Client
	done   chan heldAnswer
}

type heldAnswer struct {
	resp *http.Response
	body []byte
	err  error
}

// HoldPush starts a push of body with token and returns once the hub's handler has
// begun reading the body (the hub's server answers "100 Continue" then), so the push is
// past the hub's limits and holds its slot. Nothing is timed: the body is a pipe that
// only Finish writes to.
func HoldPush(t testing.TB, h *Hub, token string, body []byte) *HeldPush {
	t.Helper()
	pr, pw := io.Pipe()
	reading := make(chan struct{})
	trace := &httptrace.ClientTrace{Got100Continue: func() { close(reading) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodPost, h.URL+"/v1/sync/push", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", wire.MediaTypeJOSE)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Expect", "100-continue")
	// The client sends no body before "100 Continue"; the long wait is a bound, not a
	// clock the test depends on.
	p := &HeldPush{pw: pw, body: body, done: make(chan heldAnswer, 1),
		client: &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Hour}}}
	go func() {
		resp, err := p.client.Do(req)
		a := heldAnswer{resp: resp, err: err}
		if err == nil {
			a.body, a.err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		p.done <- a
	}()
	// Registered after StartHub's, so it runs first: the server's Close waits for the
	// requests in flight, and a failed test must not leave this one hanging.
	t.Cleanup(func() {
		pw.CloseWithError(errors.New("test ended"))
		p.client.CloseIdleConnections()
	})
	select {
	case <-reading:
		return p
	case a := <-p.done:
		if a.err != nil {
			t.Fatalf("held push: %v", a.err)
		}
		t.Fatalf("held push answered %d before its body was read: %s", a.resp.StatusCode, a.body)
		return nil
	}
}

// Finish sends the held push's body and returns the hub's answer.
func (p *HeldPush) Finish(t testing.TB) (*http.Response, []byte) {
	t.Helper()
	go func() {
		// Write blocks until the transport has read it all; a closed pipe ends it.
		p.pw.Write(p.body)
		p.pw.Close()
	}()
	a := <-p.done
	if a.err != nil {
		t.Fatalf("held push: %v", a.err)
	}
	return a.resp, a.body
}
