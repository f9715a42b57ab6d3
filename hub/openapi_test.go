package hub_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// The hub's OpenAPI document (GET /openapi.json, hub/openapi.go): served without a
// token, valid OpenAPI, listing exactly the routes the hub registers, and true to what
// the hub answers: real answers, successes and problems, validate against it.

// apiChecker sends requests to a server and validates every answer (status, headers,
// body) against the server's document; with a valid request, the request too.
type apiChecker struct {
	t      *testing.T
	base   string
	doc    *openapi3.T
	router routers.Router
	hit    map[string]bool // "GET /v1/roster 200"
}

func newChecker(t *testing.T, base string) *apiChecker {
	t.Helper()
	doc := hubtest.FetchOpenAPI(t, base)
	doc.Servers = openapi3.Servers{{URL: base}}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &apiChecker{t: t, base: base, doc: doc, router: r, hit: map[string]bool{}}
}

// call sends a request and checks its answer against the document, and, if validReq,
// the request as well. It answers the response and its body.
func (c *apiChecker) call(method, path, token string, header http.Header, body []byte, validReq bool) (*http.Response, []byte) {
	c.t.Helper()
	resp, raw := hubtest.Request(c.t, method, c.base+path, token, header, body)
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		c.t.Errorf("%s %s: no operation in the document: %v", method, path, err)
		return resp, raw
	}
	opts := &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if validReq {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			c.t.Errorf("%s %s: the request does not match the document: %v", method, path, err)
		}
	}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(raw)), Options: opts,
	})
	if err != nil {
		c.t.Errorf("%s %s: answer %d does not match the document: %v\n%s", method, path, resp.StatusCode, err, clip(raw))
	}
	c.hit[route.Method+" "+route.Path+" "+strconv.Itoa(resp.StatusCode)] = true
	return resp, raw
}

// get is a GET with a token whose answer must have status want.
func (c *apiChecker) get(path, token string, want int) []byte {
	c.t.Helper()
	resp, raw := c.call(http.MethodGet, path, token, nil, nil, want < 400)
	if resp.StatusCode != want {
		c.t.Errorf("GET %s: %d, want %d: %s", path, resp.StatusCode, want, clip(raw))
	}
	return raw
}

// send is a request with a JSON body (nil: none) whose answer must have status want.
func (c *apiChecker) send(method, path, token string, header http.Header, body []byte, want int) []byte {
	c.t.Helper()
	h := http.Header{}
	for k, v := range header {
		h[k] = v
	}
	if body != nil && h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	resp, raw := c.call(method, path, token, h, body, want < 400)
	if resp.StatusCode != want {
		c.t.Errorf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, clip(raw))
	}
	return raw
}

// report logs how many documented operations the answers covered.
func (c *apiChecker) report() {
	ops, hit := 0, map[string]bool{}
	for _, item := range c.doc.Paths.Map() {
		ops += len(item.Operations())
	}
	for k := range c.hit {
		hit[k[:strings.LastIndex(k, " ")]] = true
	}
	c.t.Logf("%d answers (operation and status) validated, covering %d of the document's %d operations", len(c.hit), len(hit), ops)
}

func clip(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "..."
	}
	return string(b)
}

// TestHubOpenAPIIsValidAndComplete: the document is valid OpenAPI and lists every route
// the hub registers, and no other.
func TestHubOpenAPIIsValidAndComplete(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	doc := hubtest.FetchOpenAPI(t, h.URL)
	hubtest.CheckDocumentedRoutes(t, h.Routes(), doc)
	if !slices.Contains(h.Routes(), "GET /openapi.json") {
		t.Error("GET /openapi.json is not registered")
	}
}

// TestHubOpenAPIAnswers: what a real hub answers, successes and problems, matches the
// document: the roster page, an Alliance with its history, a pushed batch's answer,
// the change feed, programs and keys, conflicts, links, and problems of each kind.
func TestHubOpenAPIAnswers(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	c := newChecker(t, h.URL)
	fed := hubtest.StartNode(t, h, "FED")
	mi := hubtest.StartNode(t, h, "MI")
	analyst := h.Token(t, auth.RoleAnalyst, "")
	admin := h.Token(t, auth.RoleAdmin, "")

	// Records of two programs that link (links_test.go), synced by their nodes.
	f := create(t, fed, fedNUCA)
	m := create(t, mi, miNUCA)
	agc := create(t, mi, miAGC)
	syncNode(t, fed)
	syncNode(t, mi)

	for _, p := range []string{"/healthz", "/readyz", "/.well-known/jwks.json", "/metrics", "/openapi.json", "/ui/signin"} {
		c.get(p, "", http.StatusOK)
	}

	// The roster, as JSON pages and CSV, every filter, and one Alliance.
	c.get("/v1/roster", analyst, http.StatusOK)
	c.get("/v1/roster?program=MI&level=state&status=active&standing=active&category=outreach&q=nuca&as_of=2026-01-01&sort=-signed_on&limit=1", analyst, http.StatusOK)
	c.get("/v1/roster?format=csv", analyst, http.StatusOK)
	c.get("/v1/roster/"+f.ID, analyst, http.StatusOK)
	c.get("/v1/roster/"+m.ID+"?as_of=2026-01-01", mi.Token, http.StatusOK)
	c.get("/v1/roster/"+m.ID+"/bundle", analyst, http.StatusOK)
	c.get("/v1/stats?as_of=2026-01-01", analyst, http.StatusOK)

	// A push answered record by record, and its effects in the feed.
	key, _ := auth.GenerateKey()
	c.send(http.MethodPost, "/v1/programs/MI/keys", admin, nil, mustJSON(t, map[string]any{"jwk": key.PublicJWK()}), http.StatusCreated)
	c.send(http.MethodPost, "/v1/programs/MI/keys", admin, nil, mustJSON(t, map[string]any{"jwk": key.PublicJWK()}), http.StatusOK)
	token := hubtest.Token(t, key, auth.RoleProgram, "MI")
	id := schema.NewID("MI")
	rev1 := record(t, key, "MI", id, 1, nil)
	jose := http.Header{"Content-Type": {wire.MediaTypeJOSE}}
	c.send(http.MethodPost, "/v1/sync/push", token, jose, batch(t, key, "MI", time.Now(), rev1, "not a JWS"), http.StatusOK)
	left := record(t, key, "MI", id, 1, following(revOf(rev1), "Lansing"))
	right := record(t, key, "MI", id, 2, following(revOf(rev1), "Detroit"))
	c.send(http.MethodPost, "/v1/sync/push", token, jose, batch(t, key, "MI", time.Now(), left, right), http.StatusOK)
	c.get("/v1/sync/changes", mi.Token, http.StatusOK)
	c.get("/v1/sync/changes?since=2&limit=1&wait=0s", analyst, http.StatusOK)
	c.get("/v1/sync/keys", mi.Token, http.StatusOK)
	c.get("/v1/sync/digest", mi.Token, http.StatusOK)
	c.get("/v1/sync/digest?program=MI", mi.Token, http.StatusOK)
	c.get("/v1/sync/digest?program=MI&range="+wire.RangeOf(id), mi.Token, http.StatusOK)
	c.get("/v1/programs", analyst, http.StatusOK)

	// The conflict the push made, acknowledged by DCSP.
	c.get("/v1/conflicts", analyst, http.StatusOK)
	c.get("/v1/conflicts?program=MI&acknowledged=false&limit=10", analyst, http.StatusOK)
	c.get("/v1/conflicts/"+id, analyst, http.StatusOK)
	c.send(http.MethodPost, "/v1/conflicts/"+id+"/resolve", analyst, nil, []byte(`{"note":"asked MIOSHA"}`), http.StatusOK)
	c.send(http.MethodPost, "/v1/conflicts/"+id+"/resolve", admin, nil, nil, http.StatusOK)
	c.get("/v1/roster/"+id, analyst, http.StatusOK)

	// The link between the FED and MI records, confirmed and rejected.
	linkID := hub.LinkID(f.ID, m.ID)
	c.get("/v1/links", analyst, http.StatusOK)
	c.get("/v1/links?state=proposed&program=FED&limit=5", analyst, http.StatusOK)
	c.get("/v1/links/"+linkID, analyst, http.StatusOK)
	c.send(http.MethodPost, "/v1/links/"+linkID+"/confirm", analyst, nil, []byte(`{"note":"same agreement"}`), http.StatusOK)
	c.send(http.MethodPost, "/v1/links/"+linkID+"/reject", admin, nil, nil, http.StatusOK)
	c.get("/v1/roster/"+f.ID, analyst, http.StatusOK) // with its decided link

	// Keys: enrollment (new, again), revocation (and again).
	other, _ := auth.GenerateKey()
	enroll := mustJSON(t, map[string]any{"code": "NV", "jwk": other.PublicJWK()})
	c.send(http.MethodPost, "/v1/programs", admin, nil, enroll, http.StatusCreated)
	c.send(http.MethodPost, "/v1/programs", admin, nil, enroll, http.StatusOK)
	c.send(http.MethodPost, "/v1/programs/NV/keys/"+other.KeyID()+"/revoke", admin, nil, []byte(`{"reason":"test"}`), http.StatusOK)
	c.send(http.MethodPost, "/v1/programs/NV/keys/"+other.KeyID()+"/revoke", admin, nil, nil, http.StatusConflict)
	c.get("/v1/programs", analyst, http.StatusOK) // with a revoked key

	// Problems, each with the status and type the document gives it.
	c.get("/v1/roster", "", http.StatusUnauthorized)
	c.get("/v1/roster?level=galactic&limit=0&sort=colour", analyst, http.StatusBadRequest)
	c.get("/v1/roster/MI-nosuchrecord0", analyst, http.StatusNotFound)
	c.get("/v1/roster/"+f.ID+"?as_of=soon", analyst, http.StatusBadRequest)
	c.get("/v1/sync/changes?limit=5000", analyst, http.StatusBadRequest)
	c.get("/v1/conflicts/"+agc.ID, analyst, http.StatusNotFound)
	c.get("/v1/links/L-00000000000000000000", analyst, http.StatusNotFound)
	c.get("/v1/stats?as_of=2026", analyst, http.StatusBadRequest)
	c.send(http.MethodPost, "/v1/programs", analyst, nil, enroll, http.StatusForbidden)
	c.send(http.MethodPost, "/v1/programs", admin, nil, []byte(`{"code":"nope","jwk":null}`), http.StatusUnprocessableEntity)
	c.send(http.MethodPost, "/v1/programs", admin, nil, []byte(`{"code":"NV","colour":"blue"}`), http.StatusBadRequest)
	c.send(http.MethodPost, "/v1/programs", admin, http.Header{"Content-Type": {"text/plain"}}, []byte(`x`), http.StatusUnsupportedMediaType)
	c.send(http.MethodPost, "/v1/links/"+linkID+"/confirm", mi.Token, nil, nil, http.StatusForbidden)
	c.send(http.MethodPost, "/v1/sync/push", token, jose, []byte("not.a.jws"), http.StatusBadRequest)
	c.send(http.MethodPost, "/v1/sync/push", token, nil, []byte(`{}`), http.StatusUnsupportedMediaType)
	c.send(http.MethodPost, "/v1/sync/push", analyst, jose, batch(t, key, "MI", time.Now(), rev1), http.StatusForbidden)
	c.send(http.MethodPost, "/v1/sync/push", token, jose, batch(t, key, "MI", time.Now().Add(-time.Hour), rev1), http.StatusBadRequest)
	c.send(http.MethodPost, "/v1/programs/ZZ/keys/nokey/revoke", admin, nil, nil, http.StatusNotFound)
	c.report()
}
