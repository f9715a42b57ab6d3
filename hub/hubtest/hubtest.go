// Package hubtest starts real hubs and program nodes on loopback for tests: real keys,
// real files in the test's temporary directory, real signatures, real HTTP.
package hubtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
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
}

// StartHub starts a hub with a new key in a temporary directory. now may be nil.
func StartHub(t testing.TB, now func() time.Time) *Hub {
	t.Helper()
	k, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	h := &Hub{Key: k, Dir: filepath.Join(t.TempDir(), "hub"), now: now}
	h.open(t)
	t.Cleanup(h.stop)
	return h
}

func (h *Hub) open(t testing.TB) {
	t.Helper()
	hb, err := hub.New(hub.Config{Key: h.Key, DataDir: h.Dir, Now: h.now, Catalog: h.Catalog})
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
func (h *Hub) Restart(t testing.TB) {
	t.Helper()
	if err := h.Hub.Close(); err != nil {
		t.Fatal(err)
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
	srv := httptest.NewServer(n.Handler())
	nd := &Node{Node: n, Key: k, Dir: cfg.DataDir, URL: srv.URL, srv: srv, Token: Token(t, k, auth.RoleProgram, code)}
	t.Cleanup(func() {
		srv.Close()
		n.Close()
	})
	return nd
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
