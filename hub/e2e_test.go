package hub_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

// rosterPage is the roster answer as a client reads it.
type rosterPage struct {
	Items         []wire.RosterItem `json:"items"`
	Total         int               `json:"total"`
	NextPageToken string            `json:"next_page_token"`
}

func roster(t *testing.T, h *hubtest.Hub, query string) rosterPage {
	t.Helper()
	var p rosterPage
	hubtest.GetJSON(t, h.URL+"/v1/roster"+query, h.Token(t, auth.RoleAnalyst, ""), &p)
	return p
}

func create(t *testing.T, n *hubtest.Node, body string) schema.Alliance {
	t.Helper()
	resp, raw := hubtest.Do(t, http.MethodPost, n.URL+"/v1/alliances", n.Token, []byte(body))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create on %s: %d %s", n.Program().Code, resp.StatusCode, raw)
	}
	var a schema.Alliance
	hubtest.DecodeJSON(t, raw, &a)
	if got := resp.Header.Get("ETag"); got != `"`+a.Rev+`"` {
		t.Errorf("ETag = %s, want the rev %q", got, a.Rev)
	}
	return a
}

func syncNode(t *testing.T, n *hubtest.Node) wire.SyncResult {
	t.Helper()
	resp, raw := hubtest.Do(t, http.MethodPost, n.URL+"/v1/sync", n.Token, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sync %s: %d %s", n.Program().Code, resp.StatusCode, raw)
	}
	var res wire.SyncResult
	hubtest.DecodeJSON(t, raw, &res)
	return res
}

const (
	miAGC = `{"office":"Construction Safety and Health Division",
		"participants":[{"name":"Associated General Contractors of Michigan","type":"association"}],
		"goals":[{"category":"Outreach and Communication","description":"Newsletters"},{"category":"training-education"}],
		"signed_on":"2024-05-14"}`
	miFarm = `{"participants":[{"name":"Michigan Farm Bureau"}],
		"goals":[{"category":"outreach-communication"},{"category":"rulemaking-awareness"}],"signed_on":"2025-10"}`
	nvNCA = `{"participants":[{"name":"Nevada Contractors Association"}],
		"goals":[{"category":"safety-dialogue"},{"category":"training-education"}],"signed_on":"2025-01-15"}`
)

// TestEndToEnd: Alliances created on the MI and NV nodes reach the national roster with
// their national categories and provenance, and survive a hub restart.
func TestEndToEnd(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	nv := hubtest.StartNode(t, h, "NV")

	agc := create(t, mi, miAGC)
	farm := create(t, mi, miFarm)
	nca := create(t, nv, nvNCA)

	// Each run pushes, then pulls what the hub holds that the node has not seen.
	if got, want := syncNode(t, mi), (wire.SyncResult{Pushed: 2, Accepted: 2, Pulled: 2}); got != want {
		t.Errorf("MI sync = %+v, want %+v", got, want)
	}
	if got, want := syncNode(t, nv), (wire.SyncResult{Pushed: 1, Accepted: 1, Pulled: 3}); got != want {
		t.Errorf("NV sync = %+v, want %+v", got, want)
	}
	// Nothing is pushed or pulled twice: both cursors advanced on what was acknowledged
	// and applied.
	if got := syncNode(t, mi); got != (wire.SyncResult{Pulled: 1}) {
		t.Errorf("second MI sync = %+v, want only NV's Alliance pulled", got)
	}
	if got := syncNode(t, mi); got != (wire.SyncResult{}) {
		t.Errorf("third MI sync = %+v, want nothing", got)
	}

	check := func(t *testing.T) {
		t.Helper()
		r := roster(t, h, "?as_of=2026-01-01")
		if r.Total != 3 {
			t.Fatalf("roster total = %d, want 3", r.Total)
		}
		byID := map[string]wire.RosterItem{}
		for _, it := range r.Items {
			byID[it.ID] = it
		}
		for _, tc := range []struct {
			a    schema.Alliance
			kid  string
			cats []string
		}{
			{agc, mi.Key.KeyID(), []string{"training", "outreach"}},
			{farm, mi.Key.KeyID(), []string{"awareness", "outreach"}},
			{nca, nv.Key.KeyID(), []string{"training", "dialogue"}},
		} {
			it, ok := byID[tc.a.ID]
			if !ok {
				t.Errorf("%s missing from the roster", tc.a.ID)
				continue
			}
			if diff := cmp.Diff(tc.a, *it.Alliance); diff != "" {
				t.Errorf("roster record %s (-want +got):\n%s", tc.a.ID, diff)
			}
			if diff := cmp.Diff(tc.cats, it.NationalCategories); diff != "" {
				t.Errorf("%s national_categories (-want +got):\n%s", tc.a.ID, diff)
			}
			if it.Provenance.Kid != tc.kid || it.Provenance.SignedAt.IsZero() || it.Provenance.ReceivedAt.Before(it.Provenance.SignedAt) {
				t.Errorf("%s provenance = %+v, want kid %s and received after signed", tc.a.ID, it.Provenance, tc.kid)
			}
			if it.Standing != schema.StandingActive {
				t.Errorf("%s standing = %s, want active", tc.a.ID, it.Standing)
			}
		}
		// A label was stored as the program's code.
		if got := byID[agc.ID].Goals[0].Category; got != "outreach-communication" {
			t.Errorf("label stored as %q, want the code outreach-communication", got)
		}
		if got := roster(t, h, "?program=NV").Total; got != 1 {
			t.Errorf("program=NV total = %d, want 1", got)
		}
		if got := roster(t, h, "?category=awareness").Total; got != 1 {
			t.Errorf("category=awareness total = %d, want 1", got)
		}
		if got := roster(t, h, "?q=contractors").Total; got != 2 {
			t.Errorf("q=contractors total = %d, want 2", got)
		}
	}
	check(t)
	h.Restart(t)
	check(t)

	// The hub's checkpoint for MI survived the restart: a resend is not needed.
	if got := syncNode(t, mi); got != (wire.SyncResult{}) {
		t.Errorf("MI sync after hub restart = %+v, want nothing pushed", got)
	}
}

func TestRosterPagingAndCSV(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	nv := hubtest.StartNode(t, h, "NV")
	var ids []string
	for i := range 5 {
		a := create(t, nv, strings.Replace(nvNCA, "Nevada Contractors Association", "Contractor "+string(rune('A'+i)), 1))
		ids = append(ids, a.ID)
	}
	syncNode(t, nv)
	var got []string
	token := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		q := "?limit=2"
		if token != "" {
			q += "&page_token=" + token
		}
		p := roster(t, h, q)
		if p.Total != 5 {
			t.Errorf("total = %d on every page, want 5", p.Total)
		}
		for _, it := range p.Items {
			got = append(got, it.ID)
		}
		if token = p.NextPageToken; token == "" {
			break
		}
	}
	if len(got) != 5 {
		t.Errorf("paged through %d records, want 5: %v", len(got), got)
	}

	resp, body := hubtest.Do(t, http.MethodGet, h.URL+"/v1/roster?format=csv&program=NV", h.Token(t, auth.RoleAnalyst, ""), nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if len(lines) != 6 || !strings.Contains(lines[0], "national_categories") || !strings.Contains(lines[1], "training; dialogue") {
		t.Errorf("csv = %q, want a header with national_categories and 5 rows", body)
	}
}

// problem is an RFC 9457 answer.
type problem struct {
	Type   string              `json:"type"`
	Title  string              `json:"title"`
	Status int                 `json:"status"`
	Detail string              `json:"detail"`
	Errors []schema.FieldError `json:"errors"`
}

func wantProblem(t *testing.T, resp *http.Response, body []byte, status int, slug string) problem {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d: %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	var p problem
	hubtest.DecodeJSON(t, body, &p)
	if p.Type != "urn:alliancehub:problem:"+slug || p.Status != status || p.Title == "" {
		t.Errorf("problem = %+v, want type slug %q and status %d", p, slug, status)
	}
	return p
}

// pushRaw sends a push body as is.
func pushRaw(t testing.TB, h *hubtest.Hub, token, contentType string, body []byte) (*http.Response, []byte) {
	t.Helper()
	return hubtest.Request(t, http.MethodPost, h.URL+"/v1/sync/push", token, http.Header{"Content-Type": {contentType}}, body)
}

// record builds a valid signed Alliance revision for program, signed by k.
func record(t testing.TB, k *auth.Key, program, id string, seq uint64, edit func(*schema.Alliance, *schema.Record)) string {
	t.Helper()
	cat, _ := schema.LoadCatalog()
	def, _ := cat.Get(program)
	a := &schema.Alliance{ID: id, Participants: []schema.Participant{{Name: "Test Association"}}, SignedOn: schema.MustDate("2025-06-01")}
	for _, c := range def.Categories {
		a.Goals = append(a.Goals, schema.Goal{Category: c.Code})
	}
	a.Normalize(def)
	rec := &schema.Record{ID: id, Kind: schema.KindAlliance, Program: program, Seq: seq, IssuedAt: time.Now().UTC()}
	if edit != nil {
		edit(a, rec)
	}
	body, err := schema.AllianceBody(a)
	if err != nil {
		t.Fatal(err)
	}
	rec.Body = body
	if rec.Rev == "" {
		rec.Rev, _ = schema.NewRev(rec.PrevRev, body)
	}
	jws, err := wire.SignRecord(k, rec)
	if err != nil {
		t.Fatal(err)
	}
	return jws
}

func batch(t *testing.T, k *auth.Key, program string, issued time.Time, records ...string) []byte {
	t.Helper()
	b := &wire.Batch{Program: program, BatchID: "test-batch", SeqFrom: 1, SeqTo: uint64(len(records)), IssuedAt: issued, Records: records}
	jws, err := wire.SignBatch(k, b)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(jws)
}

// tamper flips one character of a compact JWS's payload segment, keeping it valid
// base64url.
func tamper(jws string) string {
	parts := strings.Split(jws, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	// A record's body names "Test Association"; a batch's id is "test-batch".
	payload = []byte(strings.NewReplacer("Test Association", "Tost Association", "test-batch", "tost-batch").Replace(string(payload)))
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

// TestPushRefusals: every bad push is refused with a problem (or a per-record rejection
// inside a valid batch) and changes nothing on the hub.
func TestPushRefusals(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	miKey, _ := auth.GenerateKey()
	nvKey, _ := auth.GenerateKey()
	strangerKey, _ := auth.GenerateKey()
	h.Enroll(t, "MI", miKey)
	h.Enroll(t, "NV", nvKey)
	miToken := hubtest.Token(t, miKey, auth.RoleProgram, "MI")
	now := time.Now()
	good := func(seq uint64) string { return record(t, miKey, "MI", schema.NewID("MI"), seq, nil) }

	expiredToken, err := auth.MintToken(miKey, auth.TokenRequest{Subject: "x", Role: auth.RoleProgram, Program: "MI", TTL: time.Minute, Now: now.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, wire.MaxPushBody+1)
	for i := range big {
		big[i] = 'a'
	}

	refusals := []struct {
		name   string
		token  string
		ctype  string
		body   []byte
		status int
		slug   string
	}{
		{"missing token", "", wire.MediaTypeJOSE, batch(t, miKey, "MI", now, good(1)), 401, "unauthenticated"},
		{"expired token", expiredToken, wire.MediaTypeJOSE, batch(t, miKey, "MI", now, good(1)), 401, "token-expired"},
		{"token from an unknown key", hubtest.Token(t, strangerKey, auth.RoleProgram, "MI"), wire.MediaTypeJOSE, batch(t, miKey, "MI", now, good(1)), 401, "unauthenticated"},
		{"program key minting for another program", hubtest.Token(t, miKey, auth.RoleProgram, "NV"), wire.MediaTypeJOSE, batch(t, nvKey, "NV", now, good(1)), 401, "unauthenticated"},
		{"analyst may not push", h.Token(t, auth.RoleAnalyst, ""), wire.MediaTypeJOSE, batch(t, miKey, "MI", now, good(1)), 403, "forbidden"},
		{"batch signed by an unknown key", miToken, wire.MediaTypeJOSE, batch(t, strangerKey, "MI", now, good(1)), 401, "unknown-key"},
		{"tampered batch", miToken, wire.MediaTypeJOSE, []byte(tamper(string(batch(t, miKey, "MI", now, good(1))))), 401, "bad-signature"},
		{"batch for another program", miToken, wire.MediaTypeJOSE, batch(t, miKey, "NV", now, good(1)), 403, "not-owner"},
		{"batch of another program's node", miToken, wire.MediaTypeJOSE, batch(t, nvKey, "NV", now, record(t, nvKey, "NV", schema.NewID("NV"), 1, nil)), 403, "not-owner"},
		{"malformed body", miToken, wire.MediaTypeJOSE, []byte("this is not a JWS"), 400, "malformed-jws"},
		{"record JWS as a batch", miToken, wire.MediaTypeJOSE, []byte(good(1)), 400, "malformed-jws"},
		{"wrong content type", miToken, "application/json", batch(t, miKey, "MI", now, good(1)), 415, "unsupported-media-type"},
		{"oversized body", miToken, wire.MediaTypeJOSE, big, 413, "too-large"},
		{"clock skew", miToken, wire.MediaTypeJOSE, batch(t, miKey, "MI", now.Add(-time.Hour), good(1)), 400, "clock-skew"},
		{"empty batch", miToken, wire.MediaTypeJOSE, batch(t, miKey, "MI", now), 400, "bad-batch"},
		// A correctly signed record that breaks the hub's rules for MI (MIOSHA requires an
		// outreach goal, seed 004): the hub's definition may be the one out of step, so the
		// whole batch is refused and the node keeps it, rather than the record being lost.
		{"record breaking the hub's rules", miToken, wire.MediaTypeJOSE, batch(t, miKey, "MI", now, good(1), record(t, miKey, "MI", schema.NewID("MI"), 2, func(a *schema.Alliance, r *schema.Record) {
			a.Goals = []schema.Goal{{Category: "training-education"}}
		})), 409, "rules-differ"},
		// MIOSHA reports quarterly and annually (seed 004): a semiannual report means the
		// node's definition differs.
		{"report breaking the hub's rules", miToken, wire.MediaTypeJOSE, batch(t, miKey, "MI", now, rawRecord(t, miKey, &schema.Record{ID: miAlliance + ".2025-H1", Kind: schema.KindReport, Seq: 1},
			&schema.Report{ID: miAlliance + ".2025-H1", Program: "MI", AllianceID: miAlliance, Period: "2025-H1", ReportedOn: schema.MustDate("2025-07-15")})), 409, "rules-differ"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := pushRaw(t, h, tc.token, tc.ctype, tc.body)
			wantProblem(t, resp, body, tc.status, tc.slug)
			assertEmpty(t, h)
		})
	}

	// Inside a validly signed batch, each bad record is rejected with its reason and
	// nothing of it is stored.
	rejections := []struct {
		name   string
		record string
		reason string
	}{
		{"tampered record", tamper(good(1)), "signature"},
		{"record signed by an unknown key", record(t, strangerKey, "MI", schema.NewID("MI"), 1, nil), "unknown signing key"},
		{"record signed by another program's key", record(t, nvKey, "MI", schema.NewID("MI"), 1, nil), "not the owner program"},
		{"record for another program", record(t, miKey, "NV", schema.NewID("NV"), 1, nil), "not the owner program"},
		{"id of another program", record(t, miKey, "MI", schema.NewID("NV"), 1, func(a *schema.Alliance, r *schema.Record) { a.ID = r.ID }), "not the owner program"},
		{"hash mismatch", record(t, miKey, "MI", schema.NewID("MI"), 1, func(a *schema.Alliance, r *schema.Record) {
			r.Rev = "1-" + strings.Repeat("ab", 32)
		}), "revision does not match"},
		{"sequence outside the batch", good(7), "out of order"},
		{"unknown kind", rawRecord(t, miKey, &schema.Record{ID: miAlliance, Kind: "memo", Seq: 1}, map[string]string{"id": miAlliance}), `kind "memo"`},
		{"report under another id", rawRecord(t, miKey, &schema.Record{ID: miAlliance + ".2025-Q1", Kind: schema.KindReport, Seq: 1},
			&schema.Report{ID: miAlliance + ".2025-Q1", Program: "MI", AllianceID: miAlliance, Period: "2025-Q2", ReportedOn: schema.MustDate("2025-07-15")}), "its Alliance's id, a dot and its period"},
		{"tombstone with nothing to delete", rawRecord(t, miKey, &schema.Record{ID: miAlliance, Kind: schema.KindTombstone, Seq: 1}, &schema.Tombstone{ID: miAlliance, Deleted: true}), "prev_rev is empty"},
		{"tombstone that does not delete", rawRecord(t, miKey, &schema.Record{ID: miAlliance, Kind: schema.KindTombstone, Seq: 1, PrevRev: "1-" + strings.Repeat("ab", 32)}, &schema.Tombstone{ID: miAlliance}), "deleted: must be true"},
	}
	for _, tc := range rejections {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := pushRaw(t, h, miToken, wire.MediaTypeJOSE, batch(t, miKey, "MI", now, tc.record))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200 with a per-record rejection: %s", resp.StatusCode, body)
			}
			var pr wire.PushResponse
			hubtest.DecodeJSON(t, body, &pr)
			if len(pr.Results) != 1 || pr.Results[0].Outcome != wire.Rejected || !strings.Contains(pr.Results[0].Reason, tc.reason) {
				t.Errorf("results = %+v, want one rejection mentioning %q", pr.Results, tc.reason)
			}
			if got := roster(t, h, "").Total; got != 0 {
				t.Errorf("roster holds %d records after a rejection, want 0", got)
			}
		})
	}
}

// miAlliance is an MI record id for records built by hand.
const miAlliance = "MI-0123456789abcdef"

// rawRecord signs a record of any kind with body as its JSON body.
func rawRecord(t testing.TB, k *auth.Key, rec *schema.Record, body any) string {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	rec.Program, rec.IssuedAt, rec.Body = "MI", time.Now().UTC(), raw
	if rec.Rev, err = schema.NewRev(rec.PrevRev, raw); err != nil {
		t.Fatal(err)
	}
	jws, err := wire.SignRecord(k, rec)
	if err != nil {
		t.Fatal(err)
	}
	return jws
}

// assertEmpty checks that nothing reached the roster and no checkpoint moved.
func assertEmpty(t *testing.T, h *hubtest.Hub) {
	t.Helper()
	if got := roster(t, h, "").Total; got != 0 {
		t.Errorf("roster holds %d records, want 0", got)
	}
	for _, p := range h.Programs() {
		if p.Sync.Checkpoint != 0 || p.Sync.LastPushAt != nil {
			t.Errorf("program %s sync state moved: %+v", p.Code, p.Sync)
		}
	}
}

func TestEnrollRefusals(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	k, _ := auth.GenerateKey()
	private, err := json.Marshal(map[string]any{"code": "MI", "jwk": json.RawMessage(mustPrivateJWK(t, k))})
	if err != nil {
		t.Fatal(err)
	}
	admin := h.Token(t, auth.RoleAdmin, "")
	cases := []struct {
		name   string
		token  string
		body   []byte
		status int
		slug   string
	}{
		{"private key sent", admin, private, 422, "validation"},
		{"the hub's own key", admin, mustJSON(t, map[string]any{"code": "FED", "jwk": h.Key.PublicJWK()}), 422, "validation"},
		{"unknown program", admin, []byte(`{"code":"ZZ","jwk":{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}`), 422, "validation"},
		{"no key", admin, []byte(`{"code":"MI"}`), 422, "validation"},
		{"unknown field", admin, []byte(`{"code":"MI","key":{}}`), 400, "invalid-request"},
		{"analyst may not enroll", h.Token(t, auth.RoleAnalyst, ""), []byte(`{"code":"MI"}`), 403, "forbidden"},
		{"program may not enroll", hubtest.Token(t, h.Key, auth.RoleProgram, "MI"), []byte(`{"code":"MI"}`), 403, "forbidden"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := hubtest.Do(t, http.MethodPost, h.URL+"/v1/programs", tc.token, tc.body)
			wantProblem(t, resp, body, tc.status, tc.slug)
			if got := h.Programs(); len(got) != 0 {
				t.Errorf("programs after a refusal: %+v", got)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustPrivateJWK(t *testing.T, k *auth.Key) []byte {
	t.Helper()
	path := t.TempDir() + "/k.jwk"
	if err := k.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// miPusher enrolls a fresh MI key with h and returns it and a function that pushes
// records in one signed batch and returns the answer.
func miPusher(t *testing.T, h *hubtest.Hub) (*auth.Key, func(records ...string) wire.PushResponse) {
	t.Helper()
	key, _ := auth.GenerateKey()
	h.Enroll(t, "MI", key)
	token := hubtest.Token(t, key, auth.RoleProgram, "MI")
	return key, func(records ...string) wire.PushResponse {
		t.Helper()
		resp, body := pushRaw(t, h, token, wire.MediaTypeJOSE, batch(t, key, "MI", time.Now(), records...))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("push: %d %s", resp.StatusCode, body)
		}
		var pr wire.PushResponse
		hubtest.DecodeJSON(t, body, &pr)
		return pr
	}
}

// revOf reads the rev of a signed record.
func revOf(jws string) string {
	payload, _, _ := auth.UnverifiedPayload(jws)
	var r schema.Record
	json.Unmarshal(payload, &r)
	return r.Rev
}

// following edits a record to follow prev, with another office.
func following(prev, office string) func(*schema.Alliance, *schema.Record) {
	return func(a *schema.Alliance, r *schema.Record) { a.Office = office; r.PrevRev = prev }
}

// TestPushIdempotentAndConflict: a re-sent batch is answered duplicate and changes
// nothing; a competing revision is kept and marks the record conflicted.
func TestPushIdempotentAndConflict(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	miKey, push := miPusher(t, h)
	id := schema.NewID("MI")
	rev1 := record(t, miKey, "MI", id, 1, nil)
	if got := push(rev1).Results[0].Outcome; got != wire.Accepted {
		t.Fatalf("first push = %s, want accepted", got)
	}
	for range 3 {
		pr := push(rev1)
		if pr.Results[0].Outcome != wire.Duplicate || pr.Checkpoint != 1 {
			t.Fatalf("re-sent batch = %+v, want duplicate and checkpoint 1", pr)
		}
	}
	left := record(t, miKey, "MI", id, 1, following(revOf(rev1), "Lansing"))
	right := record(t, miKey, "MI", id, 1, following(revOf(rev1), "Detroit"))
	if got := push(left).Results[0].Outcome; got != wire.Accepted {
		t.Fatalf("rev 2 = %s, want accepted", got)
	}
	if got := push(right).Results[0].Outcome; got != wire.Conflict {
		t.Fatalf("competing rev 2 = %s, want conflict", got)
	}
	// The older revision is now an ancestor of what the hub holds.
	if got := push(rev1).Results[0].Outcome; got != wire.Duplicate {
		t.Errorf("rev 1 again = %s, want duplicate", got)
	}
	r := roster(t, h, "")
	if r.Total != 1 || !r.Items[0].Conflict {
		t.Fatalf("roster = %+v, want one conflicted record", r)
	}
	// The winner is deterministic: same generation, higher hash.
	want := max(revOf(left), revOf(right))
	if r.Items[0].Rev != want {
		t.Errorf("winner = %s, want the higher hash %s", r.Items[0].Rev, want)
	}
	// Every outcome is counted for the program, durably: replays and stale revisions are
	// visible, though they change nothing.
	outcomes := func() map[wire.Outcome]uint64 {
		var page struct{ Items []hub.ProgramView }
		hubtest.GetJSON(t, h.URL+"/v1/programs", h.Token(t, auth.RoleAnalyst, ""), &page)
		return page.Items[0].Sync.Outcomes
	}
	wantOutcomes := map[wire.Outcome]uint64{wire.Accepted: 2, wire.Duplicate: 4, wire.Stale: 0, wire.Conflict: 1, wire.Rejected: 0}
	if got := outcomes(); !cmp.Equal(got, wantOutcomes) {
		t.Errorf("outcomes = %v, want %v", got, wantOutcomes)
	}
	h.Restart(t)
	if got := outcomes(); !cmp.Equal(got, wantOutcomes) {
		t.Errorf("outcomes after restart = %v, want %v", got, wantOutcomes)
	}
	if got := roster(t, h, ""); got.Items[0].Rev != want || !got.Items[0].Conflict {
		t.Errorf("after restart: %+v, want winner %s still conflicted", got.Items[0], want)
	}
}

// TestPublicEndpoints: health, readiness and the JWKS answer without a token; the JWKS
// holds the hub's public key under its thumbprint and nothing private.
func TestPublicEndpoints(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	for _, base := range []struct {
		name, url, kid string
	}{{"hub", h.URL, h.Key.KeyID()}, {"node", mi.URL, mi.Key.KeyID()}} {
		for _, path := range []string{"/healthz", "/readyz"} {
			if resp, body := hubtest.Do(t, http.MethodGet, base.url+path, "", nil); resp.StatusCode != http.StatusOK {
				t.Errorf("%s %s: %d %s", base.name, path, resp.StatusCode, body)
			}
		}
		resp, body := hubtest.Do(t, http.MethodGet, base.url+"/.well-known/jwks.json", "", nil)
		var set struct {
			Keys []map[string]any `json:"keys"`
		}
		hubtest.DecodeJSON(t, body, &set)
		if resp.StatusCode != http.StatusOK || len(set.Keys) != 1 || set.Keys[0]["kid"] != base.kid || set.Keys[0]["d"] != nil {
			t.Errorf("%s JWKS = %d %s, want the public key %s", base.name, resp.StatusCode, body, base.kid)
		}
		if resp, _ := hubtest.Do(t, http.MethodGet, base.url+"/v1/sync/status", "", nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s /v1 without a token: %d, want 401", base.name, resp.StatusCode)
		}
	}
}

// TestOutOfOrderHistoryHeals: rev 3 arriving before rev 2 is held as a conflict (the hub
// cannot know it is on the same line); when rev 2 arrives it is stale but stored, the
// line closes up, and the record is no longer conflicted, before or after a restart.
func TestOutOfOrderHistoryHeals(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	miKey, push := miPusher(t, h)
	id := schema.NewID("MI")
	rev1 := record(t, miKey, "MI", id, 1, nil)
	rev2 := record(t, miKey, "MI", id, 1, following(revOf(rev1), "Lansing"))
	rev3 := record(t, miKey, "MI", id, 1, following(revOf(rev2), "Detroit"))
	for _, step := range []struct {
		jws      string
		want     wire.Outcome
		conflict bool
	}{{rev1, wire.Accepted, false}, {rev3, wire.Conflict, true}, {rev2, wire.Stale, false}} {
		if got := push(step.jws).Results[0].Outcome; got != step.want {
			t.Fatalf("push %s = %s, want %s", revOf(step.jws), got, step.want)
		}
		if got := roster(t, h, "").Items[0]; got.Conflict != step.conflict || got.Rev != revOf(rev3) && step.want != wire.Accepted {
			t.Errorf("after %s: rev %s conflict %v, want rev 3 and conflict %v", step.want, got.Rev, got.Conflict, step.conflict)
		}
	}
	h.Restart(t)
	if got := roster(t, h, "").Items[0]; got.Conflict || got.Rev != revOf(rev3) {
		t.Errorf("after restart: rev %s conflict %v, want rev 3, not conflicted", got.Rev, got.Conflict)
	}
}

// TestTombstonesOnlyDeleteDrafts: a signed Alliance is never deleted (it concludes or is
// terminated); a tombstone must follow a stored draft, and a record never changes kind.
func TestTombstonesOnlyDeleteDrafts(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	k, push := miPusher(t, h)
	signed := record(t, k, "MI", miAlliance, 1, nil)
	draftID := schema.NewID("MI")
	draft := record(t, k, "MI", draftID, 2, func(a *schema.Alliance, _ *schema.Record) {
		a.SignedOn, a.Status, a.ExpiresOn = schema.Date{}, schema.StatusDraft, schema.Date{}
	})
	if pr := push(signed, draft); pr.Results[0].Outcome != wire.Accepted || pr.Results[1].Outcome != wire.Accepted {
		t.Fatalf("push: %+v", pr.Results)
	}
	// Each case is a batch of its own, so each record is seq 1 of its batch.
	tombstone := func(id, prev string, seq uint64) string {
		return rawRecord(t, k, &schema.Record{ID: id, Kind: schema.KindTombstone, Seq: seq, PrevRev: prev}, &schema.Tombstone{ID: id, Deleted: true})
	}
	cases := []struct {
		name, record string
		want         wire.Outcome
		reason       string
	}{
		{"tombstone of a signed Alliance", tombstone(miAlliance, revOf(signed), 1), wire.Rejected, "only a draft is deleted"},
		{"tombstone of an unknown revision", tombstone(draftID, "1-"+strings.Repeat("0", 64), 1), wire.Rejected, "must follow a stored revision"},
		{"report under an Alliance's id", rawRecord(t, k, &schema.Record{ID: miAlliance, Kind: schema.KindReport, Seq: 1},
			&schema.Report{ID: miAlliance, Program: "MI", AllianceID: miAlliance, Period: "2025-Q1", ReportedOn: schema.MustDate("2025-05-01")}), wire.Rejected, "its Alliance's id"},
		{"tombstone of the draft", tombstone(draftID, revOf(draft), 1), wire.Accepted, ""},
	}
	for _, tc := range cases {
		pr := push(tc.record)
		if r := pr.Results[0]; r.Outcome != tc.want || !strings.Contains(r.Reason, tc.reason) {
			t.Errorf("%s: %+v; want %s %q", tc.name, r, tc.want, tc.reason)
		}
	}
	for _, restart := range []bool{false, true} {
		if restart {
			h.Restart(t)
		}
		if page := roster(t, h, ""); page.Total != 1 || page.Items[0].ID != miAlliance {
			t.Errorf("roster (restart %v) = %+v; want only the signed Alliance", restart, page.Items)
		}
	}
}
