package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// The node's OpenAPI document (GET /openapi.json, node/openapi.go): served without a
// token, valid OpenAPI, listing exactly the routes the node registers, and true to what
// the node answers. The checks are those of hub/openapi_test.go.

// TestNodeOpenAPIIsValidAndComplete: the document is valid OpenAPI and lists every
// route the node registers, and no other, each saying who may call it.
func TestNodeOpenAPIIsValidAndComplete(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	hubtest.CheckDocumentedRoutes(t, mi.Routes(), hubtest.FetchOpenAPI(t, mi.URL))
}

// TestNodeOpenAPIOffersTerminationReasons: the reasons CSP 04-01-001 XIV (seed 003)
// gives for terminating an Alliance are offered where a client writes a termination
// notice: in the document's description of its reason, each one.
func TestNodeOpenAPIOffersTerminationReasons(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	fed := hubtest.StartNode(t, h, "FED")
	doc := hubtest.FetchOpenAPI(t, fed.URL)
	req := doc.Components.Schemas["TerminateRequest"]
	if req == nil || req.Value.Properties["reason"] == nil {
		t.Fatal("no TerminateRequest.reason in the document")
	}
	desc := req.Value.Properties["reason"].Value.Description
	for _, r := range schema.TerminationReasons {
		if !strings.Contains(desc, r) {
			t.Errorf("reason's description does not offer %q:\n%s", r, desc)
		}
	}
}

// oaChecker sends requests to a node and validates each answer (and each request meant
// to be valid) against the node's document.
type oaChecker struct {
	t      *testing.T
	base   string
	token  string
	doc    *openapi3.T
	router routers.Router
	hit    map[string]bool
}

func newOAChecker(t *testing.T, n *hubtest.Node) *oaChecker {
	t.Helper()
	doc := hubtest.FetchOpenAPI(t, n.URL)
	doc.Servers = openapi3.Servers{{URL: n.URL}}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &oaChecker{t: t, base: n.URL, token: n.Token, doc: doc, router: r, hit: map[string]bool{}}
}

// do sends method path with the checker's token (token "-": none; any other: that
// one), If-Match ifMatch (if not empty), and body (JSON unless contentType says
// otherwise), requires status want, and validates the answer against the document.
func (c *oaChecker) do(method, path, token, ifMatch, contentType, body string, want int) []byte {
	c.t.Helper()
	switch token {
	case "":
		token = c.token
	case "-":
		token = ""
	}
	header := http.Header{}
	var raw []byte
	if body != "" {
		raw = []byte(body)
		if contentType == "" {
			contentType = "application/json"
		}
		header.Set("Content-Type", contentType)
	}
	if ifMatch != "" {
		header.Set("If-Match", ifMatch)
	}
	resp, got := hubtest.Request(c.t, method, c.base+path, token, header, raw)
	if resp.StatusCode != want {
		c.t.Errorf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, oaClip(got))
	}
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(raw))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header = header.Clone()
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		c.t.Errorf("%s %s: no operation in the document: %v", method, path, err)
		return got
	}
	opts := &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if want < 400 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			c.t.Errorf("%s %s: the request does not match the document: %v", method, path, err)
		}
	}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(got)), Options: opts,
	})
	if err != nil {
		c.t.Errorf("%s %s: answer %d does not match the document: %v\n%s", method, path, resp.StatusCode, err, oaClip(got))
	}
	c.hit[route.Method+" "+route.Path+" "+strconv.Itoa(resp.StatusCode)] = true
	return got
}

// component validates a JSON value against one of the document's component schemas.
func (c *oaChecker) component(name string, raw []byte) {
	c.t.Helper()
	ref := c.doc.Components.Schemas[name]
	if ref == nil {
		c.t.Fatalf("no component schema %s", name)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		c.t.Fatalf("%s: %v", raw, err)
	}
	if err := ref.Value.VisitJSON(v, openapi3.MultiErrors()); err != nil {
		c.t.Errorf("%s does not match %s: %v", raw, name, err)
	}
}

func oaClip(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "..."
	}
	return string(b)
}

// TestNodeOpenAPIAnswers: what a real node answers, successes and problems, matches
// its document: Alliances through their whole lifecycle, reports, compliance and the
// calendar, an import stream, a sync and its status, the replica of the roster, a
// conflict and its resolution, a key rotation.
func TestNodeOpenAPIAnswers(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	opt, _ := keyFileOpt(t) // so the node can rotate its key
	fed := hubtest.StartNode(t, h, "FED", opt)
	mi := hubtest.StartNode(t, h, "MI")
	c := newOAChecker(t, fed)
	analyst := hubtest.Token(t, fed.Key, auth.RoleAnalyst, "")
	alliance := func(raw []byte) schema.Alliance {
		var a schema.Alliance
		hubtest.DecodeJSON(t, raw, &a)
		return a
	}
	quoted := func(rev string) string { return `"` + rev + `"` }

	for _, p := range []string{"/healthz", "/readyz", "/.well-known/jwks.json", "/metrics", "/openapi.json", "/ui/signin"} {
		c.do(http.MethodGet, p, "-", "", "", "", http.StatusOK)
	}
	c.do(http.MethodGet, "/v1/roster", "", "", "", "", http.StatusServiceUnavailable)

	// Alliances through their lifecycle.
	const fedBody = `{"level":"national","office":"Directorate of Cooperative and State Programs",
		"participants":[{"name":"%s","type":"association","address":"1 Main St","contact":{"name":"Pat","phone":"555-0100","email":"pat@example.org"}}],
		"goals":[{"category":"training","description":"Courses"},{"category":"Outreach and Communication"}],
		"emphasis_areas":["Falls"],"signed_on":"%s","term_months":24}`
	a := alliance(c.do(http.MethodPost, "/v1/alliances", "", "", "", fmt.Sprintf(fedBody, "Schema Partner A", "2015-01-10"), http.StatusCreated))
	b := alliance(c.do(http.MethodPost, "/v1/alliances", "", "", "", fmt.Sprintf(fedBody, "Schema Partner B", "2025-03-01"), http.StatusCreated))
	e := alliance(c.do(http.MethodPost, "/v1/alliances", "", "", "", fmt.Sprintf(fedBody, "Schema Partner E", "2024-02-01"), http.StatusCreated))
	draft := alliance(c.do(http.MethodPost, "/v1/alliances", "", "", "", `{"level":"area","participants":[{"name":"Draft Partner"}],"goals":[]}`, http.StatusCreated))
	c.do(http.MethodGet, "/v1/alliances", "", "", "", "", http.StatusOK)
	c.do(http.MethodGet, "/v1/alliances?level=national&status=active&standing=active&as_of=2026-01-01&category=training&q=partner&limit=2", analyst, "", "", "", http.StatusOK)
	c.do(http.MethodGet, "/v1/alliances?format=csv", "", "", "", "", http.StatusOK)
	c.do(http.MethodGet, "/v1/alliances/"+a.ID, analyst, "", "", "", http.StatusOK)
	a = alliance(c.do(http.MethodPost, "/v1/alliances/"+a.ID+"/renew", "", quoted(a.Rev), "", `{"signed_on":"2017-01-10","term_months":60}`, http.StatusOK))
	a = alliance(c.do(http.MethodPost, "/v1/alliances/"+a.ID+"/addenda", "", "", "", `{"signed_on":"2018-05-01","added":[{"name":"Second Partner"}],"note":"joined"}`, http.StatusOK))
	a = alliance(c.do(http.MethodPost, "/v1/alliances/"+a.ID+"/ambassador", "", "*", "", `{"on":"2022-02-01"}`, http.StatusOK))
	b.Office = "Region 5"
	putBody, _ := json.Marshal(b)
	b = alliance(c.do(http.MethodPut, "/v1/alliances/"+b.ID, "", quoted(b.Rev), "", string(putBody), http.StatusOK))
	b = alliance(c.do(http.MethodPost, "/v1/alliances/"+b.ID+"/terminate", "", "", "", `{"notice_on":"2025-09-01","reason":"the participant dissolved"}`, http.StatusOK))
	e = alliance(c.do(http.MethodPost, "/v1/alliances/"+e.ID+"/conclude", "", "", "", `{"concluded_on":"2025-12-31"}`, http.StatusOK))
	c.do(http.MethodDelete, "/v1/alliances/"+draft.ID+"?reason=entered+twice", "", "", "", "", http.StatusOK)

	// Reports, compliance and the calendar.
	const report = `{"period":"2025-annual","reported_on":"2025-03-15","overview":"A year of work","team_members":["Pat"],
		"meetings":[{"held_on":"2024-06-01","type":"conference-call","location":"phone"}],
		"events":[{"category":"training","title":"Stand-down","on":"2024-05-06"}],"products":[],
		"activities":[{"type":"training","category":"training","reached":120,"trained":40}],"milestones":["Renewal"]}`
	var eReport schema.Report
	hubtest.DecodeJSON(t, c.do(http.MethodPost, "/v1/alliances/"+e.ID+"/reports", "", "", "", report, http.StatusCreated), &eReport)
	c.do(http.MethodPost, "/v1/alliances/"+e.ID+"/reports", "", "", "", report, http.StatusOK)
	c.do(http.MethodGet, "/v1/alliances/"+e.ID+"/reports", "", "", "", "", http.StatusOK)
	c.do(http.MethodGet, "/v1/alliances/"+e.ID+"/reports/2025-annual", "", "", "", "", http.StatusOK)
	c.do(http.MethodGet, "/v1/alliances/"+e.ID+"/compliance?as_of=2025-06-01", "", "", "", "", http.StatusOK)
	c.do(http.MethodGet, "/v1/alliances/"+a.ID+"/compliance", "", "", "", "", http.StatusOK)
	c.do(http.MethodGet, "/v1/calendar", "", "", "", "", http.StatusOK)
	c.do(http.MethodGet, "/v1/calendar?as_of=2025-01-01&from=2024-01-01&to=2026-12-31&alliance_id="+e.ID+"&kind=report_due&state=submitted&limit=5", "", "", "", "", http.StatusOK)

	// An import stream, each of its lines a component of the document.
	stream := c.do(http.MethodPost, "/v1/import?dry_run=false", "", "", "text/csv",
		"participant,level,signed_on,goal_categories\nImported Partner,national,2025-04-01,training\nBad Partner,galactic,2025-04-01,training\n", http.StatusOK)
	lines := bytes.Split(bytes.TrimSpace(stream), []byte("\n"))
	if len(lines) != 4 {
		t.Fatalf("import stream = %s, want 4 lines", stream)
	}
	c.component("ImportStart", lines[0])
	c.component("ImportRow", lines[1])
	c.component("ImportRow", lines[2])
	c.component("ImportSummary", lines[3])

	// A sync, its status, and the replica it pulled.
	c.do(http.MethodPost, "/v1/sync", "", "", "", "", http.StatusOK)
	c.do(http.MethodPost, "/v1/sync?backstop=true", "", "", "", "", http.StatusOK)
	c.do(http.MethodGet, "/v1/sync/status", analyst, "", "", "", http.StatusOK)
	c.do(http.MethodGet, "/v1/roster", analyst, "", "", "", http.StatusOK)
	c.do(http.MethodGet, "/v1/roster?program=FED&level=national&status=renewed&standing=ambassador&category=training&q=schema&as_of=2026-01-01&sort=participant&limit=1", "", "", "", "", http.StatusOK)
	c.do(http.MethodGet, "/v1/roster?format=csv", "", "", "", "", http.StatusOK)
	c.do(http.MethodGet, "/v1/roster/"+a.ID, "", "", "", "", http.StatusOK)
	c.do(http.MethodGet, "/v1/roster/"+e.ID+"?as_of=2025-06-01", "", "", "", "", http.StatusOK)

	// Conflicts: the hub gets a Lansing branch of b and of e's report from "another
	// replica" holding the same key, the node edits both and syncs; it resolves them.
	forkPush := func(kind schema.Kind, id, prev string, body []byte) string {
		t.Helper()
		rec := &schema.Record{ID: id, Kind: kind, Program: "FED", PrevRev: prev, Seq: 1, IssuedAt: time.Now().UTC(), Body: body}
		var err error
		if rec.Rev, err = schema.NewRev(rec.PrevRev, body); err != nil {
			t.Fatal(err)
		}
		jws, err := wire.SignRecord(fed.Key, rec)
		if err != nil {
			t.Fatal(err)
		}
		batch, err := wire.SignBatch(fed.Key, &wire.Batch{Program: "FED", BatchID: "openapi-fork", SeqFrom: 1, SeqTo: 1, IssuedAt: time.Now(), Records: []string{jws}})
		if err != nil {
			t.Fatal(err)
		}
		if resp, raw := hubtest.Request(t, http.MethodPost, h.URL+"/v1/sync/push", fed.Token, http.Header{"Content-Type": {wire.MediaTypeJOSE}}, []byte(batch)); resp.StatusCode != http.StatusOK {
			t.Fatalf("fork: %d %s", resp.StatusCode, raw)
		}
		return rec.Rev
	}
	fork := b
	fork.Office = "Lansing"
	body, err := schema.AllianceBody(&fork)
	if err != nil {
		t.Fatal(err)
	}
	allianceFork := forkPush(schema.KindAlliance, b.ID, b.Rev, body)
	forkReport := eReport
	forkReport.Overview = "Lansing"
	if body, err = schema.ReportBody(&forkReport); err != nil {
		t.Fatal(err)
	}
	reportFork := forkPush(schema.KindReport, eReport.ID, eReport.Rev, body)
	b.Office = "Detroit"
	putBody, _ = json.Marshal(b)
	b = alliance(c.do(http.MethodPut, "/v1/alliances/"+b.ID, "", quoted(b.Rev), "", string(putBody), http.StatusOK))
	revised := eReport
	revised.ID, revised.Rev, revised.Overview = "", "", "Detroit"
	putBody, _ = json.Marshal(revised)
	hubtest.DecodeJSON(t, c.do(http.MethodPost, "/v1/alliances/"+e.ID+"/reports", "", quoted(eReport.Rev), "", string(putBody), http.StatusOK), &eReport)
	c.do(http.MethodPost, "/v1/sync", "", "", "", "", http.StatusOK)
	c.do(http.MethodPost, "/v1/sync", "", "", "", "", http.StatusOK)
	c.do(http.MethodGet, "/v1/conflicts", analyst, "", "", "", http.StatusOK)
	c.do(http.MethodGet, "/v1/roster/"+b.ID, "", "", "", "", http.StatusOK)
	c.do(http.MethodPost, "/v1/alliances/"+b.ID+"/resolve", "", "", "", "", http.StatusPreconditionRequired)
	c.do(http.MethodPost, "/v1/alliances/"+b.ID+"/resolve", "", quoted(b.Rev), "", `{"take":"`+allianceFork+`"}`, http.StatusOK)
	resolveReport := "/v1/alliances/" + e.ID + "/reports/2025-annual/resolve"
	c.do(http.MethodPost, resolveReport, "", "", "", "", http.StatusPreconditionRequired)
	c.do(http.MethodPost, resolveReport, "", `"1-stale"`, "", "", http.StatusPreconditionFailed)
	c.do(http.MethodPost, resolveReport, "", quoted(eReport.Rev), "", `{"take":"1-nosuchrev"}`, http.StatusUnprocessableEntity)
	c.do(http.MethodPost, "/v1/alliances/"+e.ID+"/reports/2019-annual/resolve", "", "*", "", "", http.StatusNotFound)
	c.do(http.MethodPost, resolveReport, "", quoted(eReport.Rev), "", `{"take":"`+reportFork+`"}`, http.StatusOK)

	// The node's key, rotated; a node without a key file cannot.
	c.do(http.MethodPost, "/v1/keys/rotate", "", "", "", `{"retire_old_at":"`+time.Now().Add(time.Hour).UTC().Format(time.RFC3339)+`"}`, http.StatusOK)
	mc := newOAChecker(t, mi)
	mc.do(http.MethodPost, "/v1/keys/rotate", "", "", "", "", http.StatusConflict)
	c.token = hubtest.Token(t, fed.Key, auth.RoleProgram, "FED") // the old key, still valid for tokens until its end

	// Problems, each with the status and type the document gives it.
	c.do(http.MethodGet, "/v1/alliances", "-", "", "", "", http.StatusUnauthorized)
	c.do(http.MethodGet, "/v1/alliances", hubtest.Token(t, fed.Key, auth.RoleProgram, "MI"), "", "", "", http.StatusForbidden)
	c.do(http.MethodPost, "/v1/alliances", analyst, "", "", `{}`, http.StatusForbidden)
	c.do(http.MethodPost, "/v1/alliances", "", "", "", `{"level":"galactic","participants":[],"goals":[{"category":"nope"}],"signed_on":"someday"}`, http.StatusUnprocessableEntity)
	c.do(http.MethodPost, "/v1/alliances", "", "", "", `{"colour":"blue"}`, http.StatusBadRequest)
	c.do(http.MethodPost, "/v1/alliances", "", "", "", `{`, http.StatusBadRequest)
	c.do(http.MethodPost, "/v1/alliances", "", "", "text/plain", `{}`, http.StatusUnsupportedMediaType)
	c.do(http.MethodGet, "/v1/alliances?level=state", "", "", "", "", http.StatusBadRequest)
	c.do(http.MethodGet, "/v1/alliances/FED-nosuchrecord00", "", "", "", "", http.StatusNotFound)
	c.do(http.MethodGet, "/v1/alliances/"+draft.ID, "", "", "", "", http.StatusGone)
	c.do(http.MethodPut, "/v1/alliances/"+a.ID, "", "", "", `{}`, http.StatusPreconditionRequired)
	c.do(http.MethodPut, "/v1/alliances/"+a.ID, "", `"1-stale"`, "", `{}`, http.StatusPreconditionFailed)
	c.do(http.MethodDelete, "/v1/alliances/"+a.ID, "", "", "", "", http.StatusConflict)
	c.do(http.MethodGet, "/v1/alliances/"+e.ID+"/reports/2019-annual", "", "", "", "", http.StatusNotFound)
	c.do(http.MethodGet, "/v1/calendar?kind=party", "", "", "", "", http.StatusBadRequest)
	c.do(http.MethodPost, "/v1/import", "", "", "text/csv", "colour\nblue\n", http.StatusUnprocessableEntity)
	c.do(http.MethodPost, "/v1/import", "", "", "application/json", `{}`, http.StatusUnsupportedMediaType)
	c.do(http.MethodPost, "/v1/sync?backstop=maybe", "", "", "", "", http.StatusBadRequest)
	c.do(http.MethodGet, "/v1/roster?limit=0&standing=great", "", "", "", "", http.StatusBadRequest)
	c.do(http.MethodGet, "/v1/roster/FED-nosuchrecord00", "", "", "", "", http.StatusNotFound)
	c.do(http.MethodPost, "/v1/alliances/"+a.ID+"/resolve", "", quoted(a.Rev), "", "", http.StatusConflict)
	c.do(http.MethodPost, "/v1/alliances/"+a.ID+"/reports/2019-annual/resolve", "", "*", "", "", http.StatusNotFound)

	ops, hit := 0, map[string]bool{}
	for _, item := range c.doc.Paths.Map() {
		ops += len(item.Operations())
	}
	for k := range c.hit {
		hit[k[:strings.LastIndex(k, " ")]] = true
	}
	t.Logf("%d answers (operation and status) validated, covering %d of the document's %d operations", len(c.hit), len(hit), ops)
}
