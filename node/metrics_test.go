package node_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/node"
	"github.com/alliancehub/alliancehub/schema"
)

const agcFarm = `{"participants":[{"name":"Michigan Farm Bureau"}],
	"goals":[{"category":"outreach-communication"}],"signed_on":"2025-10-07"}`

// TestNodeMetrics: after a sync run, the node's GET /metrics (no token) shows the run,
// the records it pushed by outcome, the changes it pulled, its outbox, cursors and store,
// and request latencies by route pattern, never by a record's id.
func TestNodeMetrics(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	var created []schema.Alliance
	for _, body := range []string{agc, agcFarm} {
		resp, raw := hubtest.Do(t, http.MethodPost, mi.URL+"/v1/alliances", mi.Token, []byte(body))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("create: %d %s", resp.StatusCode, raw)
		}
		var a schema.Alliance
		hubtest.DecodeJSON(t, raw, &a)
		created = append(created, a)
		hubtest.Do(t, http.MethodGet, mi.URL+"/v1/alliances/"+a.ID, mi.Token, nil)
	}
	before := time.Now()
	if resp, raw := hubtest.Do(t, http.MethodPost, mi.URL+"/v1/sync", mi.Token, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("sync: %d %s", resp.StatusCode, raw)
	}
	// One more, not pushed yet: the outbox.
	if resp, raw := hubtest.Do(t, http.MethodPost, mi.URL+"/v1/alliances", mi.Token,
		[]byte(`{"participants":[{"name":"Michigan Manufacturers Association"}],"goals":[{"category":"outreach-communication"}]}`)); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, raw)
	}

	m := hubtest.Scrape(t, mi.URL)
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"alliancehub_node_info", []string{"program", "MI"}, 1},
		{"alliancehub_node_sync_runs_total", []string{"result", "success"}, 1},
		{"alliancehub_node_sync_runs_total", []string{"result", "failure"}, 0},
		{"alliancehub_node_sync_run_duration_seconds", nil, 1},
		{"alliancehub_node_records_pushed_total", []string{"outcome", "accepted"}, 2},
		{"alliancehub_node_records_pushed_total", []string{"outcome", "rejected"}, 0},
		{"alliancehub_node_changes_pulled_total", nil, 2},
		{"alliancehub_node_pushes_total", []string{"outcome", "ok"}, 1},
		{"alliancehub_node_pushes_total", []string{"outcome", "refused"}, 0},
		{"alliancehub_node_pulls_total", []string{"outcome", "ok"}, 1},
		{"alliancehub_node_pulls_total", []string{"outcome", "unreachable"}, 0},
		{"alliancehub_node_outbox", nil, 1},
		{"alliancehub_node_push_checkpoint", nil, 2},
		{"alliancehub_node_replica_applied_seq", nil, 2},
		{"alliancehub_node_hub_head_seq", nil, 2},
		{"alliancehub_node_store_records", []string{"kind", "alliance"}, 3},
		{"alliancehub_node_store_records", []string{"kind", "report"}, 0},
		{"alliancehub_node_store_revisions", nil, 3},
		{"alliancehub_node_conflicts_open", nil, 0},
		{"alliancehub_http_request_duration_seconds", []string{"route", "/v1/alliances", "method", "POST", "status", "2xx"}, 3},
		{"alliancehub_http_request_duration_seconds", []string{"route", "/v1/alliances/:id", "method", "GET", "status", "2xx"}, 2},
		{"alliancehub_http_request_duration_seconds", []string{"route", "/v1/sync", "method", "POST", "status", "2xx"}, 1},
	} {
		got, ok := m.Value(tc.name, tc.labels...)
		if !ok || got != tc.want {
			t.Errorf("%s%v = %v (present %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	for _, name := range []string{"alliancehub_node_last_success_timestamp_seconds", "alliancehub_node_last_pull_timestamp_seconds"} {
		got, ok := m.Value(name)
		if !ok || got < float64(before.Unix()) || got > float64(time.Now().Unix()+1) {
			t.Errorf("%s = %v (present %v), want the run's end, after %d", name, got, ok, before.Unix())
		}
	}
	// The node is not running its schedule (Run was not called): no next run.
	if _, ok := m.Value("alliancehub_node_next_run_timestamp_seconds"); ok {
		t.Error("next run shown, though none is scheduled")
	}
	if got, ok := m.Value("alliancehub_node_store_bytes"); !ok || got <= 0 {
		t.Errorf("store bytes = %v (present %v), want the journal's size", got, ok)
	}
	// hubtest enrolls the node's key with no end to its window: no expiry series, as the
	// hub shows none for such a key (TestNodeKeyExpiryMetric has one with an end).
	if got, ok := m.Value("alliancehub_node_key_not_after_timestamp_seconds"); ok {
		t.Errorf("key expiry %v shown for a key with no end", got)
	}
	patterns := []string{"/v1/*", "/v1", "/*", "unmatched"}
	for _, r := range mi.Routes() {
		_, path, _ := strings.Cut(r, " ")
		patterns = append(patterns, path)
	}
	for _, lv := range m.LabelValues() {
		for _, a := range created {
			if strings.Contains(lv, a.ID) {
				t.Errorf("label %s holds record id %s", lv, a.ID)
			}
		}
		if _, route, ok := strings.Cut(lv, " route="); ok && !slices.Contains(patterns, route) {
			t.Errorf("label %s is not a route pattern", lv)
		}
	}

	// The hub refuses the next push (the node's key revoked): a refused push, a failed run.
	if resp, raw := hubtest.Do(t, http.MethodPost, h.URL+"/v1/programs/MI/keys/"+mi.Key.KeyID()+"/revoke", h.Token(t, auth.RoleAdmin, ""), nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d %s", resp.StatusCode, raw)
	}
	hubtest.Do(t, http.MethodPost, mi.URL+"/v1/sync", mi.Token, nil)
	m = hubtest.Scrape(t, mi.URL)
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"alliancehub_node_pushes_total", []string{"outcome", "refused"}, 1},
		{"alliancehub_node_pushes_total", []string{"outcome", "ok"}, 1},
		{"alliancehub_node_sync_runs_total", []string{"result", "failure"}, 1},
	} {
		if got, ok := m.Value(tc.name, tc.labels...); !ok || got != tc.want {
			t.Errorf("after a refused push, %s%v = %v (present %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
}

// TestNodeConflictsMetric: alliancehub_node_conflicts_open is, at every step, the number
// of conflicts the node's GET /v1/conflicts lists: none in sync; one per record of its
// program with two branches at the hub, an Alliance's or a report's, and never another
// program's that its replica also holds; still counted once DCSP acknowledged it, and
// after a resolution is written until it is synced; none once every resolution is.
func TestNodeConflictsMetric(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	nv := hubtest.StartNode(t, h, "NV")
	a := create(t, mi, agc)
	var r schema.Report
	code, _, raw := send(t, mi, http.MethodPost, "/v1/alliances/"+a.ID+"/reports", "",
		`{"period":"2024-Q3","reported_on":"2024-10-15","overview":"First draft"}`)
	if code != http.StatusCreated {
		t.Fatalf("report: %d %s", code, raw)
	}
	hubtest.DecodeJSON(t, raw, &r)
	other := create(t, nv, `{"participants":[{"name":"Nevada Contractors Association"}],
		"goals":[{"category":"safety-dialogue"}],"signed_on":"2025-01-15"}`)
	syncOK(t, nv)
	syncOK(t, mi)

	check := func(step string, want int) {
		t.Helper()
		var cs struct {
			Items []node.LocalConflict `json:"items"`
			Total int                  `json:"total"`
		}
		hubtest.GetJSON(t, mi.URL+"/v1/conflicts", mi.Token, &cs)
		if cs.Total != want || len(cs.Items) != want {
			t.Fatalf("%s: GET /v1/conflicts lists %d (total %d), want %d", step, len(cs.Items), cs.Total, want)
		}
		if got, ok := hubtest.Scrape(t, mi.URL).Value("alliancehub_node_conflicts_open"); !ok || got != float64(want) {
			t.Errorf("%s: alliancehub_node_conflicts_open = %v (present %v), want %d, as GET /v1/conflicts lists", step, got, ok, want)
		}
	}
	check("in sync", 0)

	// Another program's conflict reaches this node's replica, and is not this node's.
	nv.Fork(t, other, [2]string{"Reno", "Las Vegas"})
	syncOK(t, mi)
	if page, err := mi.Conflicts(); err != nil || len(page) != 0 {
		t.Fatalf("MI's conflicts with only NV's record in two branches: %+v, %v", page, err)
	}
	if c, err := h.Conflict(other.ID); err != nil || len(c.Leaves) != 2 {
		t.Fatalf("the hub's conflict on NV's %s: %+v, %v", other.ID, c, err)
	}
	check("another program's conflict", 0)

	mi.Fork(t, a, [2]string{"Lansing", "Detroit"})
	check("an Alliance in two branches", 1)
	mi.ForkReport(t, r, [2]string{"Written in Lansing", "Written in Detroit"})
	check("and a report", 2)

	// DCSP acknowledges the report's conflict: acknowledged, it is still open.
	if resp, raw := hubtest.Do(t, http.MethodPost, h.URL+"/v1/conflicts/"+r.ID+"/resolve",
		h.Token(t, auth.RoleAnalyst, ""), map[string]string{"note": "MI is looking"}); resp.StatusCode != http.StatusOK {
		t.Fatalf("acknowledge: %d %s", resp.StatusCode, raw)
	}
	syncOK(t, mi)
	check("one acknowledged", 2)

	// The node resolves the Alliance's: the replica shows the conflict until the
	// resolution has gone to the hub and come back.
	var cur schema.Alliance
	hubtest.GetJSON(t, mi.URL+"/v1/alliances/"+a.ID, mi.Token, &cur)
	if code, _, raw := send(t, mi, http.MethodPost, "/v1/alliances/"+a.ID+"/resolve", `"`+cur.Rev+`"`, ``); code != http.StatusOK {
		t.Fatalf("resolve %s: %d %s", a.ID, code, raw)
	}
	check("resolved, not synced", 2)
	syncOK(t, mi)
	check("the Alliance's resolution synced", 1)

	local := getReport(t, mi, a.ID, r.Period)
	if code, _, raw := send(t, mi, http.MethodPost, "/v1/alliances/"+a.ID+"/reports/"+r.Period+"/resolve", `"`+local.Rev+`"`, ``); code != http.StatusOK {
		t.Fatalf("resolve report %s: %d %s", r.ID, code, raw)
	}
	syncOK(t, mi)
	check("every resolution synced", 0)
}

// TestNodeKeyExpiryMetric: alliancehub_node_key_not_after_timestamp_seconds{kid} is the
// not_after the hub enrolled the node's signing key with, once a pull brought the
// hub's keys document, and after a restart before any pull; never another key of the
// program's, with an end or not. After a rotation the node signs with a key that has no
// end: no series, though the key rotated away from now has one (its grace period).
func TestNodeKeyExpiryMetric(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	admin := h.Token(t, auth.RoleAdmin, "")
	enroll := func(path string, k *auth.Key, notAfter time.Time) {
		t.Helper()
		body := map[string]any{"jwk": k.PublicJWK(), "not_after": notAfter}
		if path == "/v1/programs" {
			body["code"] = "MI"
		}
		if resp, raw := hubtest.Do(t, http.MethodPost, h.URL+path, admin, body); resp.StatusCode != http.StatusCreated {
			t.Fatalf("enroll %s at %s: %d %s", k.KeyID(), path, resp.StatusCode, raw)
		}
	}
	// MI enrolled with the key its node signs with, to end in 90 days, and another key
	// (not the node's) that ends sooner.
	signing, spare := newKey(t), newKey(t)
	notAfter := time.Now().Add(90 * 24 * time.Hour).UTC().Truncate(time.Second)
	enroll("/v1/programs", signing, notAfter)
	enroll("/v1/programs/MI/keys", spare, notAfter.Add(-30*24*time.Hour))
	// hubtest.StartNode enrolls a key of its own (with no end) and mints mi.Token with it;
	// the node signs with signing instead, and its tokens are signed by that.
	keyFile := filepath.Join(t.TempDir(), "mi.jwk")
	if err := signing.WriteFile(keyFile); err != nil {
		t.Fatal(err)
	}
	mi := hubtest.StartNode(t, h, "MI", func(c *node.Config) { c.Key, c.KeyFile = signing, keyFile })
	token := hubtest.Token(t, signing, auth.RoleProgram, "MI")

	series := func() map[string]float64 {
		t.Helper()
		out := map[string]float64{}
		for _, s := range hubtest.Scrape(t, mi.URL)["alliancehub_node_key_not_after_timestamp_seconds"].GetMetric() {
			kid := ""
			for _, l := range s.GetLabel() {
				if l.GetName() == "kid" {
					kid = l.GetValue()
				}
			}
			out[kid] = s.GetGauge().GetValue()
		}
		return out
	}
	want := map[string]float64{signing.KeyID(): float64(notAfter.Unix())}
	if got := series(); len(got) != 0 {
		t.Errorf("before the first pull: %v, want no series (the node has not read the hub's keys yet)", got)
	}
	syncOK(t, mi)
	if got := series(); !maps.Equal(got, want) {
		t.Errorf("after a sync: %v, want %v (the signing key's end alone)", got, want)
	}
	mi.Restart(t)
	if got := series(); !maps.Equal(got, want) {
		t.Errorf("restarted, before a pull: %v, want %v (from the keys document it kept)", got, want)
	}

	// A rotation: the new key has no end, the old one ends with its grace period; the
	// node signs with the new one, so no series, before the next pull and after it.
	resp, raw := hubtest.Do(t, http.MethodPost, mi.URL+"/v1/keys/rotate", token, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("rotate: %d %s", resp.StatusCode, raw)
	}
	var rot node.RotateResult
	hubtest.DecodeJSON(t, raw, &rot)
	if got := series(); len(got) != 0 {
		t.Errorf("rotated, before a pull: %v, want no series (the new key is not in the kept keys document)", got)
	}
	syncOK(t, mi)
	if got := series(); len(got) != 0 {
		t.Errorf("rotated and synced: %v, want no series (the new key %s has no end)", got, rot.Kid)
	}
	// The hub's own metric does show the end of the key rotated away from.
	if got, ok := hubtest.Scrape(t, h.URL).Value("alliancehub_hub_key_not_after_timestamp_seconds", "program", "MI", "kid", rot.PreviousKid); !ok || got != float64(rot.PreviousNotAfter.Unix()) {
		t.Errorf("hub's expiry of the key rotated away from = %v (present %v), want %d", got, ok, rot.PreviousNotAfter.Unix())
	}
}

func newKey(t *testing.T) *auth.Key {
	t.Helper()
	k, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// syncBuffer is a log destination shared by a hub and a node.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// privateParts is the private half of k in the encodings it could leak in: the JWK's d,
// and its seed in standard base64 and hex.
func privateParts(t *testing.T, k *auth.Key) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key.jwk")
	if err := k.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	jwk, err := auth.LoadKey(path) // proves the file is a private key
	if err != nil || jwk.KeyID() != k.KeyID() {
		t.Fatalf("reload key: %v", err)
	}
	var f struct {
		D string `json:"d"`
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &f); err != nil || f.D == "" {
		t.Fatalf("key file has no d: %v", err)
	}
	seed, err := base64.RawURLEncoding.DecodeString(f.D)
	if err != nil {
		t.Fatal(err)
	}
	return []string{f.D, base64.StdEncoding.EncodeToString(seed), hex.EncodeToString(seed)}
}

// TestLogsNeverHoldSecrets: the JSON logs of a hub and a node through a sync run and a
// few requests carry one line per request (method, route, status, duration, request
// id, and the caller's subject) and one per sync run with its counts, and never a
// token, a JWS of any kind, or private key material.
func TestLogsNeverHoldSecrets(t *testing.T) {
	var out syncBuffer
	logger := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := hubtest.StartHub(t, nil, func(c *hub.Config) { c.Log = logger })
	mi := hubtest.StartNode(t, h, "MI", func(c *node.Config) { c.Log = logger })
	analyst := h.Token(t, auth.RoleAnalyst, "")

	var nodeRequests int
	do := func(method, url, token string, body []byte, want int) {
		t.Helper()
		resp, raw := hubtest.Request(t, method, url, token, http.Header{"Content-Type": {"application/json"}}, body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, url, resp.StatusCode, raw, want)
		}
		if strings.HasPrefix(url, mi.URL) {
			nodeRequests++
		}
	}
	do(http.MethodPost, mi.URL+"/v1/alliances", mi.Token, []byte(agc), http.StatusCreated)
	do(http.MethodGet, mi.URL+"/v1/alliances", mi.Token, nil, http.StatusOK)
	do(http.MethodPost, mi.URL+"/v1/sync", mi.Token, nil, http.StatusOK)
	do(http.MethodGet, mi.URL+"/v1/sync/status", mi.Token, nil, http.StatusOK)
	do(http.MethodGet, mi.URL+"/v1/alliances", mi.Token+"x", nil, http.StatusUnauthorized) // a bad token is not logged either
	do(http.MethodGet, h.URL+"/v1/roster", analyst, nil, http.StatusOK)
	do(http.MethodGet, h.URL+"/v1/roster", "Bearer "+analyst, nil, http.StatusUnauthorized)

	logs := out.String()
	secrets := map[string]string{"node token": mi.Token, "analyst token": analyst}
	for i, p := range privateParts(t, mi.Key) {
		secrets["node private key "+string(rune('a'+i))] = p
	}
	for i, p := range privateParts(t, h.Key) {
		secrets["hub private key "+string(rune('a'+i))] = p
	}
	for what, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the log holds the %s", what)
		}
	}
	// Every token and signed object is a compact JWS whose header starts {"alg"..., which
	// base64url-encodes to eyJ: the tokens the node mints for itself are caught here.
	for _, s := range []string{"eyJ", "Bearer"} {
		if strings.Contains(logs, s) {
			t.Errorf("the log holds %q (a token or a JWS)", s)
		}
	}

	var requests, runs int
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, line)
		}
		switch e["msg"] {
		case "request":
			if e["level"] != "INFO" {
				t.Errorf("request logged at %v, want INFO: %s", e["level"], line)
			}
			for _, k := range []string{"method", "route", "status", "duration_ms", "request_id"} {
				if v, ok := e[k]; !ok || v == "" {
					t.Errorf("request line without %s: %s", k, line)
				}
			}
			if e["component"] != "node" {
				continue
			}
			requests++
			wantSubject := e["status"] != float64(http.StatusUnauthorized)
			if _, ok := e["subject"]; ok != wantSubject {
				t.Errorf("subject present %v, want %v: %s", ok, wantSubject, line)
			}
		case "sync run":
			runs++
			for _, k := range []string{"result", "duration_ms", "pushed", "accepted", "duplicate", "stale", "conflict", "rejected", "pulled"} {
				if _, ok := e[k]; !ok {
					t.Errorf("sync run line without %s: %s", k, line)
				}
			}
			if e["result"] != "success" || e["pushed"] != float64(1) || e["accepted"] != float64(1) || e["pulled"] != float64(1) {
				t.Errorf("sync run line %s, want success with 1 pushed, accepted and pulled", line)
			}
		}
	}
	if requests != nodeRequests {
		t.Errorf("%d request lines from the node, want one per request (%d)", requests, nodeRequests)
	}
	if runs != 1 {
		t.Errorf("%d sync run lines, want 1", runs)
	}
}
