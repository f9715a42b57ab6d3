package hub_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/hub/wire"
)

// TestMetrics: after a node pushes and pulls, the hub's GET /metrics (no token) shows the
// pushes and change-feed reads by outcome, the records by outcome, the store, the program's sync
// position and key expiry, request latencies by route pattern, and no label that holds
// a record id or a raw path.
func TestMetrics(t *testing.T) {
	h := hubtest.StartHub(t, nil, func(c *hub.Config) { c.MaxPushesPerProgram = 1 })
	mi := hubtest.StartNode(t, h, "MI")
	agc := create(t, mi, miAGC)
	farm := create(t, mi, miFarm)
	if got, want := syncNode(t, mi), (wire.SyncResult{Pushed: 2, Accepted: 2, Pulled: 2}); got != want {
		t.Fatalf("sync = %+v, want %+v", got, want)
	}

	// A push refused whole (not a JWS), and one throttled while it is in flight.
	held := hubtest.HoldPush(t, h, mi.Token, []byte("not a JWS"))
	resp, raw := hubtest.Request(t, http.MethodPost, h.URL+"/v1/sync/push", mi.Token,
		http.Header{"Content-Type": {wire.MediaTypeJOSE}}, []byte("not a JWS either"))
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second push in flight: %d %s, want 429", resp.StatusCode, raw)
	}
	if resp, raw := held.Finish(t); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("held push: %d %s, want 400 malformed-jws", resp.StatusCode, raw)
	}

	// A key with an end to its window, and one without (never shown).
	k, _ := auth.GenerateKey()
	jwk, _ := json.Marshal(k.PublicJWK())
	notAfter := time.Now().Add(90 * 24 * time.Hour).UTC().Truncate(time.Second)
	if _, _, err := h.AddKey("MI", hub.KeyRequest{JWK: jwk, NotAfter: &notAfter}); err != nil {
		t.Fatal(err)
	}

	analyst := h.Token(t, auth.RoleAnalyst, "")
	hubtest.Do(t, http.MethodGet, h.URL+"/v1/roster/"+agc.ID, analyst, nil)
	hubtest.Do(t, http.MethodGet, h.URL+"/v1/roster/"+farm.ID, analyst, nil)
	hubtest.Do(t, http.MethodGet, h.URL+"/v1/no/such/"+agc.ID, analyst, nil)
	hubtest.Do(t, http.MethodGet, h.URL+"/"+farm.ID, "", nil)
	if resp, raw := hubtest.Do(t, http.MethodGet, h.URL+"/v1/sync/changes?since=soon", mi.Token, nil); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("change feed with a bad since: %d %s, want 400", resp.StatusCode, raw)
	}

	m := hubtest.Scrape(t, h.URL)
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"alliancehub_hub_pushes_total", []string{"outcome", "accepted"}, 1},
		{"alliancehub_hub_pushes_total", []string{"outcome", "refused", "reason", "malformed-jws"}, 1},
		{"alliancehub_hub_pushes_total", []string{"outcome", "throttled", "reason", "too-many-pushes"}, 1},
		{"alliancehub_hub_records_pushed_total", []string{"program", "MI", "outcome", "accepted"}, 2},
		{"alliancehub_hub_records_pushed_total", []string{"program", "MI", "outcome", "duplicate"}, 0},
		{"alliancehub_hub_pulls_total", []string{"outcome", "served"}, 1},
		{"alliancehub_hub_pulls_total", []string{"outcome", "refused"}, 1},
		{"alliancehub_hub_pulls_total", []string{"outcome", "failed"}, 0},
		{"alliancehub_hub_changes_served_total", nil, 2},
		{"alliancehub_hub_program_checkpoint", []string{"program", "MI"}, 2},
		{"alliancehub_hub_program_lag", []string{"program", "MI"}, 0},
		{"alliancehub_hub_program_stale", []string{"program", "MI"}, 0},
		{"alliancehub_hub_program_keys", []string{"program", "MI", "state", "valid"}, 2},
		{"alliancehub_hub_program_keys", []string{"program", "MI", "state", "revoked"}, 0},
		{"alliancehub_hub_key_not_after_timestamp_seconds", []string{"program", "MI", "kid", k.KeyID()}, float64(notAfter.Unix())},
		{"alliancehub_hub_store_records", []string{"program", "MI"}, 2},
		{"alliancehub_hub_store_revisions", []string{"program", "MI"}, 2},
		{"alliancehub_hub_conflicts_open", []string{"program", "MI"}, 0},
		{"alliancehub_hub_feed_head_seq", nil, 2},
		{"alliancehub_hub_links", []string{"state", "proposed"}, 0},
		{"alliancehub_http_request_duration_seconds", []string{"route", "/v1/sync/push", "method", "POST", "status", "2xx"}, 1},
		{"alliancehub_http_request_duration_seconds", []string{"route", "/v1/sync/push", "method", "POST", "status", "4xx"}, 2},
		{"alliancehub_http_request_duration_seconds", []string{"route", "/v1/roster/:id", "method", "GET", "status", "2xx"}, 2},
		{"alliancehub_http_request_duration_seconds", []string{"route", "/v1/*", "method", "GET", "status", "4xx"}, 1},
	} {
		got, ok := m.Value(tc.name, tc.labels...)
		if !ok || got != tc.want {
			t.Errorf("%s%v = %v (present %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	// Only the key with a not_after has an expiry series.
	if n := len(m["alliancehub_hub_key_not_after_timestamp_seconds"].GetMetric()); n != 1 {
		t.Errorf("%d key expiry series, want 1 (keys without not_after are left out)", n)
	}
	if got, ok := m.Value("alliancehub_hub_program_seconds_since_contact", "program", "MI"); !ok || got < 0 || got > 60 {
		t.Errorf("seconds since MI's contact = %v (present %v), want a few", got, ok)
	}
	if got, ok := m.Value("alliancehub_hub_store_bytes"); !ok || got <= 0 {
		t.Errorf("store bytes = %v (present %v), want the journal's size", got, ok)
	}
	for name := range m {
		if !strings.HasPrefix(name, "alliancehub_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
			t.Errorf("metric %s is not prefixed alliancehub_", name)
		}
	}
	checkLabels(t, m, h.Routes(), agc.ID, farm.ID)
}

// checkLabels requires every route label to be a registered route pattern (or echo's
// catch-alls) and no label value to hold a record id or a raw path.
func checkLabels(t *testing.T, m hubtest.Metrics, routes []string, ids ...string) {
	t.Helper()
	patterns := []string{"/v1/*", "/v1", "/*", "unmatched"}
	for _, r := range routes {
		_, path, _ := strings.Cut(r, " ")
		patterns = append(patterns, path)
	}
	for _, lv := range m.LabelValues() {
		for _, id := range ids {
			if strings.Contains(lv, id) {
				t.Errorf("label %s holds record id %s", lv, id)
			}
		}
		if _, route, ok := strings.Cut(lv, " route="); ok && !slices.Contains(patterns, route) {
			t.Errorf("label %s is not a route pattern", lv)
		}
	}
}
