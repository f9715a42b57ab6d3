package hub_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/node"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

// Key lifecycle tests: validity windows, rotation, revocation, with real keys, hubs and
// nodes, and the hub's (and nodes') clock injected where time matters.

// tokenAt mints a token signed by k, valid at now.
func tokenAt(t testing.TB, k *auth.Key, role auth.Role, program string, now time.Time) string {
	t.Helper()
	tok, err := auth.MintToken(k, auth.TokenRequest{Subject: "test-" + string(role), Role: role, Program: program, TTL: time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// programView reads one program from GET /v1/programs at the hub's time now.
func programView(t *testing.T, h *hubtest.Hub, code string, now time.Time) hub.ProgramView {
	t.Helper()
	var page struct{ Items []hub.ProgramView }
	hubtest.GetJSON(t, h.URL+"/v1/programs", tokenAt(t, h.Key, auth.RoleAnalyst, "", now), &page)
	for _, p := range page.Items {
		if p.Code == code {
			return p
		}
	}
	t.Fatalf("program %s not enrolled", code)
	return hub.ProgramView{}
}

func keyOf(t *testing.T, v hub.ProgramView, kid string) hub.KeyView {
	t.Helper()
	for _, k := range v.Keys {
		if k.Kid == kid {
			return k
		}
	}
	t.Fatalf("program %s has no key %s: %+v", v.Code, kid, v.Keys)
	return hub.KeyView{}
}

// rotation signs an announcement of next for program with signer.
func rotation(t *testing.T, signer *auth.Key, program string, next any, issued time.Time, retire *time.Time) []byte {
	t.Helper()
	jws, err := wire.SignRotation(signer, &wire.Rotation{Program: program, JWK: mustJSON(t, next), IssuedAt: issued, RetireOldAt: retire})
	if err != nil {
		t.Fatal(err)
	}
	return []byte(jws)
}

func postJOSE(t *testing.T, url, token string, body []byte) (*http.Response, []byte) {
	t.Helper()
	return hubtest.Request(t, http.MethodPost, url, token, http.Header{"Content-Type": {wire.MediaTypeJOSE}}, body)
}

// pushAt pushes records in a batch signed by k with a program token of k, both at now.
func pushAt(t *testing.T, h *hubtest.Hub, k *auth.Key, program string, now time.Time, records ...string) (*http.Response, []byte) {
	t.Helper()
	return pushRaw(t, h, tokenAt(t, k, auth.RoleProgram, program, now), wire.MediaTypeJOSE, batch(t, k, program, now, records...))
}

func wantPushed(t *testing.T, resp *http.Response, body []byte, want wire.Outcome) wire.PushResponse {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("push: %d %s", resp.StatusCode, body)
	}
	var pr wire.PushResponse
	hubtest.DecodeJSON(t, body, &pr)
	for _, r := range pr.Results {
		if r.Outcome != want {
			t.Fatalf("push result %+v, want %s", r, want)
		}
	}
	return pr
}

func enrollWindow(t *testing.T, h *hubtest.Hub, code string, k *auth.Key, now time.Time, nb, na *time.Time) {
	t.Helper()
	resp, body := hubtest.Do(t, http.MethodPost, h.URL+"/v1/programs", tokenAt(t, h.Key, auth.RoleAdmin, "", now),
		map[string]any{"code": code, "jwk": k.PublicJWK(), "not_before": nb, "not_after": na})
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		t.Fatalf("enroll %s: %d %s", code, resp.StatusCode, body)
	}
}

func addKey(t *testing.T, h *hubtest.Hub, code string, k *auth.Key, now time.Time, nb, na *time.Time) {
	t.Helper()
	resp, body := hubtest.Do(t, http.MethodPost, h.URL+"/v1/programs/"+code+"/keys", tokenAt(t, h.Key, auth.RoleAdmin, "", now),
		map[string]any{"jwk": k.PublicJWK(), "not_before": nb, "not_after": na})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("add key to %s: %d %s", code, resp.StatusCode, body)
	}
}

func revoke(t *testing.T, h *hubtest.Hub, code, kid string, now time.Time, body any) hub.ProgramView {
	t.Helper()
	resp, raw := hubtest.Do(t, http.MethodPost, h.URL+"/v1/programs/"+code+"/keys/"+kid+"/revoke", tokenAt(t, h.Key, auth.RoleAdmin, "", now), body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke %s: %d %s", kid, resp.StatusCode, raw)
	}
	var v hub.ProgramView
	hubtest.DecodeJSON(t, raw, &v)
	return v
}

func ptr[T any](v T) *T { return &v }

// TestKeyWindows: a key's signatures (batches, the records in them, tokens) count only
// inside its window, judged at the hub's clock when they arrive: a key enrolled for
// later is refused until then, an expired key after its not_after, whatever time the
// record claims; the windows survive a restart.
func TestKeyWindows(t *testing.T) {
	t0 := time.Now().UTC().Truncate(time.Second)
	clock := &testClock{t: t0}
	h := hubtest.StartHub(t, clock.Now)
	k1, k2 := mustKey(t), mustKey(t)
	enrollWindow(t, h, "MI", k1, t0, nil, ptr(t0.Add(time.Hour)))
	addKey(t, h, "MI", k2, t0, ptr(t0.Add(30*time.Minute)), nil)

	v := programView(t, h, "MI", t0)
	if k := keyOf(t, v, k1.KeyID()); k.State != "valid" || !k.NotBefore.Equal(t0) || !k.NotAfter.Equal(t0.Add(time.Hour)) || k.Source != "enrollment" {
		t.Errorf("k1 = %+v, want valid from enrollment (default not_before now) to its not_after", k)
	}
	if k := keyOf(t, v, k2.KeyID()); k.State != "pending" || k.Source != "admin" {
		t.Errorf("k2 = %+v, want pending, added by an admin", k)
	}

	// Before its not_before, k2 signs nothing the hub takes: batch, token.
	resp, body := pushAt(t, h, k2, "MI", t0, record(t, k2, "MI", schema.NewID("MI"), 1, nil))
	p := wantProblem(t, resp, body, http.StatusUnauthorized, "unauthenticated") // its token is refused first
	if !strings.Contains(p.Detail, k2.KeyID()) || !strings.Contains(p.Detail, "valid from") {
		t.Errorf("detail %q should name the key and its not_before", p.Detail)
	}
	resp, body = pushRaw(t, h, tokenAt(t, k1, auth.RoleProgram, "MI", t0), wire.MediaTypeJOSE,
		batch(t, k2, "MI", t0, record(t, k2, "MI", schema.NewID("MI"), 1, nil)))
	p = wantProblem(t, resp, body, http.StatusUnauthorized, "key-not-valid")
	if !strings.Contains(p.Detail, k2.KeyID()) {
		t.Errorf("detail %q should name the key", p.Detail)
	}
	// A record signed by k2 inside k1's batch is rejected, the others apply.
	resp, body = pushAt(t, h, k1, "MI", t0, record(t, k2, "MI", schema.NewID("MI"), 1, nil), record(t, k1, "MI", schema.NewID("MI"), 2, nil))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("push: %d %s", resp.StatusCode, body)
	}
	var pr wire.PushResponse
	hubtest.DecodeJSON(t, body, &pr)
	if pr.Results[0].Outcome != wire.Rejected || !strings.Contains(pr.Results[0].Reason, "not valid") || pr.Results[1].Outcome != wire.Accepted {
		t.Errorf("results %+v, want the pending key's record rejected and k1's accepted", pr.Results)
	}

	// From its not_before on, k2 signs.
	t1 := t0.Add(45 * time.Minute)
	clock.set(t1)
	resp, body = pushAt(t, h, k2, "MI", t1, record(t, k2, "MI", schema.NewID("MI"), 1, nil))
	wantPushed(t, resp, body, wire.Accepted)

	// After k1's not_after nothing of k1's counts, even a record claiming to be issued
	// while k1 was valid: the hub judges by when it receives it.
	t2 := t0.Add(2 * time.Hour)
	clock.set(t2)
	resp, body = pushAt(t, h, k1, "MI", t2, record(t, k1, "MI", schema.NewID("MI"), 1, nil))
	p = wantProblem(t, resp, body, http.StatusUnauthorized, "unauthenticated")
	if !strings.Contains(p.Detail, k1.KeyID()) || !strings.Contains(p.Detail, "expired") {
		t.Errorf("detail %q should name the key and say it expired", p.Detail)
	}
	backdated := record(t, k1, "MI", schema.NewID("MI"), 1, func(_ *schema.Alliance, r *schema.Record) { r.IssuedAt = t0 })
	resp, body = pushAt(t, h, k2, "MI", t2, backdated)
	hubtest.DecodeJSON(t, body, &pr)
	if resp.StatusCode != http.StatusOK || pr.Results[0].Outcome != wire.Rejected || !strings.Contains(pr.Results[0].Reason, "expired") {
		t.Errorf("backdated record of an expired key: %d %s; want rejected as expired", resp.StatusCode, body)
	}
	before := programView(t, h, "MI", t2)
	if k := keyOf(t, before, k1.KeyID()); k.State != "expired" {
		t.Errorf("k1 state = %q, want expired", k.State)
	}
	h.Restart(t)
	if after := programView(t, h, "MI", t2); !cmp.Equal(before.Keys, after.Keys) {
		t.Errorf("keys changed across a restart:\n%s", cmp.Diff(before.Keys, after.Keys))
	}
}

// TestRotationAnnounced: a rotation signed by the program's current key enrolls the
// new key at once and ends the old one after the grace period (or at retire_old_at);
// batches signed by the old key still land until then; the same announcement again
// changes nothing; all of it survives a restart, and the keys document publishes it.
func TestRotationAnnounced(t *testing.T) {
	t0 := time.Now().UTC().Truncate(time.Second)
	clock := &testClock{t: t0}
	h := hubtest.StartHub(t, clock.Now)
	k1, k2, k3 := mustKey(t), mustKey(t), mustKey(t)
	enrollWindow(t, h, "MI", k1, t0, nil, nil)
	url := h.URL + "/v1/programs/MI/keys"

	ann := rotation(t, k1, "MI", k2.PublicJWK(), t0, nil)
	resp, body := postJOSE(t, url, tokenAt(t, k1, auth.RoleProgram, "MI", t0), ann)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("rotation: %d %s", resp.StatusCode, body)
	}
	var v hub.ProgramView
	hubtest.DecodeJSON(t, body, &v)
	if k := keyOf(t, v, k2.KeyID()); k.State != "valid" || k.Source != "rotation" || k.RotatedFrom != k1.KeyID() || !k.NotBefore.Equal(t0) || k.NotAfter != nil {
		t.Errorf("new key = %+v, want valid from now, from a rotation of k1, with no end", k)
	}
	if k := keyOf(t, v, k1.KeyID()); k.State != "valid" || k.NotAfter == nil || !k.NotAfter.Equal(t0.Add(wire.RotationGrace)) {
		t.Errorf("old key = %+v, want valid until the grace period ends", k)
	}
	// The same announcement again (a retry whose answer was lost): 200, nothing changes.
	resp, body = postJOSE(t, url, tokenAt(t, k1, auth.RoleProgram, "MI", t0), ann)
	var again hub.ProgramView
	hubtest.DecodeJSON(t, body, &again)
	if resp.StatusCode != http.StatusOK || !cmp.Equal(v.Keys, again.Keys) {
		t.Errorf("repeated rotation: %d, keys changed: %s", resp.StatusCode, cmp.Diff(v.Keys, again.Keys))
	}

	// In the grace period, both keys sign.
	t1 := t0.Add(24 * time.Hour)
	clock.set(t1)
	resp, body = pushAt(t, h, k1, "MI", t1, record(t, k1, "MI", schema.NewID("MI"), 1, nil))
	wantPushed(t, resp, body, wire.Accepted)
	resp, body = pushAt(t, h, k2, "MI", t1, record(t, k2, "MI", schema.NewID("MI"), 1, nil))
	wantPushed(t, resp, body, wire.Accepted)

	// A rotation may name when the old key ends: k2 to k3, k2 ending in an hour.
	retire := t1.Add(time.Hour)
	resp, body = postJOSE(t, url, tokenAt(t, k2, auth.RoleProgram, "MI", t1), rotation(t, k2, "MI", k3.PublicJWK(), t1, &retire))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("second rotation: %d %s", resp.StatusCode, body)
	}
	hubtest.DecodeJSON(t, body, &v)
	if k := keyOf(t, v, k2.KeyID()); k.NotAfter == nil || !k.NotAfter.Equal(retire) {
		t.Errorf("k2 not_after = %v, want retire_old_at %v", k.NotAfter, retire)
	}

	// After the grace period, k1 is refused; the windows survive a restart and are in
	// the keys document.
	t2 := t0.Add(wire.RotationGrace + time.Second)
	clock.set(t2)
	resp, body = pushRaw(t, h, tokenAt(t, k3, auth.RoleProgram, "MI", t2), wire.MediaTypeJOSE,
		batch(t, k1, "MI", t2, record(t, k1, "MI", schema.NewID("MI"), 1, nil)))
	wantProblem(t, resp, body, http.StatusUnauthorized, "key-not-valid")
	before := programView(t, h, "MI", t2)
	h.Restart(t)
	after := programView(t, h, "MI", t2)
	if !cmp.Equal(before.Keys, after.Keys) {
		t.Errorf("keys changed across a restart:\n%s", cmp.Diff(before.Keys, after.Keys))
	}
	states := map[string]string{}
	for _, k := range after.Keys {
		states[k.Kid] = k.State
	}
	if want := map[string]string{k1.KeyID(): "expired", k2.KeyID(): "expired", k3.KeyID(): "valid"}; !cmp.Equal(states, want) {
		t.Errorf("states = %v, want %v", states, want)
	}
	doc := keysDocument(t, h, tokenAt(t, k3, auth.RoleProgram, "MI", t2))
	for _, k := range doc.Programs[0].Keys {
		if k.Kid == k1.KeyID() && (k.NotBefore == nil || !k.NotAfter.Equal(t0.Add(wire.RotationGrace))) {
			t.Errorf("keys document has k1 as %+v, want its window", k)
		}
	}
}

// keysDocument reads and verifies the hub's keys document.
func keysDocument(t *testing.T, h *hubtest.Hub, token string) wire.KeysDocument {
	t.Helper()
	resp, body := hubtest.Do(t, http.MethodGet, h.URL+"/v1/sync/keys", token, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("keys: %d %s", resp.StatusCode, body)
	}
	v, err := auth.Verify(string(body), auth.TypeKeys, auth.KeySet{h.Key.KeyID(): h.Key.PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	var doc wire.KeysDocument
	hubtest.DecodeJSON(t, v.Payload, &doc)
	return doc
}

// TestRotationRefusals: a rotation the hub cannot trust, or that asks for what it must
// not do, is refused with a clear problem, and no key changes.
func TestRotationRefusals(t *testing.T) {
	t0 := time.Now().UTC().Truncate(time.Second)
	clock := &testClock{t: t0}
	h := hubtest.StartHub(t, clock.Now)
	mi, revoked, expired, nv, stranger, next := mustKey(t), mustKey(t), mustKey(t), mustKey(t), mustKey(t), mustKey(t)
	enrollWindow(t, h, "MI", mi, t0, nil, nil)
	addKey(t, h, "MI", revoked, t0, nil, nil)
	addKey(t, h, "MI", expired, t0, nil, ptr(t0.Add(time.Minute)))
	enrollWindow(t, h, "NV", nv, t0, nil, nil)
	revoke(t, h, "MI", revoked.KeyID(), t0, map[string]string{"reason": "laptop stolen"})
	now := t0.Add(2 * time.Minute)
	clock.set(now)
	miToken := tokenAt(t, mi, auth.RoleProgram, "MI", now)
	url := h.URL + "/v1/programs/MI/keys"
	private := mustPrivateJWK(t, next)
	batchJWS := batch(t, mi, "MI", now, record(t, mi, "MI", schema.NewID("MI"), 1, nil))

	cases := []struct {
		name   string
		token  string
		ctype  string
		body   []byte
		status int
		slug   string
		field  string // for 422: the field named
		detail string // a part of the detail
	}{
		{"signed by a revoked key", miToken, wire.MediaTypeJOSE, rotation(t, revoked, "MI", next.PublicJWK(), now, nil), 401, "key-revoked", "", "laptop stolen"},
		{"signed by an expired key", miToken, wire.MediaTypeJOSE, rotation(t, expired, "MI", next.PublicJWK(), now, nil), 401, "key-not-valid", "", expired.KeyID()},
		{"signed by another program's key", miToken, wire.MediaTypeJOSE, rotation(t, nv, "MI", next.PublicJWK(), now, nil), 403, "not-owner", "", "NV"},
		{"signed by a key never enrolled", miToken, wire.MediaTypeJOSE, rotation(t, stranger, "MI", next.PublicJWK(), now, nil), 401, "unknown-key", "", ""},
		{"a batch, not a rotation", miToken, wire.MediaTypeJOSE, batchJWS, 400, "malformed-jws", "", "typ"},
		{"for another program", miToken, wire.MediaTypeJOSE, rotation(t, mi, "NV", next.PublicJWK(), now, nil), 400, "bad-rotation", "", "NV"},
		{"issued an hour ago", miToken, wire.MediaTypeJOSE, rotation(t, mi, "MI", next.PublicJWK(), now.Add(-time.Hour), nil), 400, "clock-skew", "", ""},
		{"to the signing key itself", miToken, wire.MediaTypeJOSE, rotation(t, mi, "MI", mi.PublicJWK(), now, nil), 422, "validation", "jwk", ""},
		{"to a private key", miToken, wire.MediaTypeJOSE, rotation(t, mi, "MI", json.RawMessage(private), now, nil), 422, "validation", "jwk", ""},
		{"to another program's key", miToken, wire.MediaTypeJOSE, rotation(t, mi, "MI", nv.PublicJWK(), now, nil), 409, "key-in-use", "", "NV"},
		{"to a revoked key", miToken, wire.MediaTypeJOSE, rotation(t, mi, "MI", revoked.PublicJWK(), now, nil), 409, "key-conflict", "", "revoked"},
		{"retiring the old key in the past", miToken, wire.MediaTypeJOSE, rotation(t, mi, "MI", next.PublicJWK(), now, ptr(now.Add(-time.Hour))), 422, "validation", "retire_old_at", ""},
		{"another program's token", tokenAt(t, nv, auth.RoleProgram, "NV", now), wire.MediaTypeJOSE, rotation(t, mi, "MI", next.PublicJWK(), now, nil), 403, "forbidden", "", ""},
		{"an analyst's token", tokenAt(t, h.Key, auth.RoleAnalyst, "", now), wire.MediaTypeJOSE, rotation(t, mi, "MI", next.PublicJWK(), now, nil), 403, "forbidden", "", ""},
		{"a revoked key's token", tokenAt(t, revoked, auth.RoleProgram, "MI", now), wire.MediaTypeJOSE, rotation(t, mi, "MI", next.PublicJWK(), now, nil), 401, "unauthenticated", "", "revoked"},
		{"neither JOSE nor JSON", miToken, "text/plain", []byte("rotate please"), 415, "unsupported-media-type", "", ""},
		{"JSON from a program", miToken, "application/json", mustJSON(t, map[string]any{"jwk": next.PublicJWK()}), 403, "forbidden", "", ""},
	}
	want := h.Programs()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := hubtest.Request(t, http.MethodPost, url, tc.token, http.Header{"Content-Type": {tc.ctype}}, tc.body)
			p := wantProblem(t, resp, body, tc.status, tc.slug)
			if tc.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tc.field) {
				t.Errorf("errors = %+v, want one naming %s", p.Errors, tc.field)
			}
			if !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("detail %q does not say %q", p.Detail, tc.detail)
			}
			if got := h.Programs(); !cmp.Equal(got, want) {
				t.Errorf("programs changed:\n%s", cmp.Diff(want, got))
			}
		})
	}
}

// TestKeyRequestRefusals: the bad-input table of adding and revoking keys. Revoking a
// key twice is 409 (not idempotent: the first revocation's time and reason stand).
func TestKeyRequestRefusals(t *testing.T) {
	t0 := time.Now().UTC().Truncate(time.Second)
	clock := &testClock{t: t0}
	h := hubtest.StartHub(t, clock.Now)
	mi, gone, nv, next := mustKey(t), mustKey(t), mustKey(t), mustKey(t)
	enrollWindow(t, h, "MI", mi, t0, nil, nil)
	addKey(t, h, "MI", gone, t0, nil, nil)
	enrollWindow(t, h, "NV", nv, t0, nil, nil)
	revoke(t, h, "MI", gone.KeyID(), t0, nil) // an empty body: now, no reason
	admin := tokenAt(t, h.Key, auth.RoleAdmin, "", t0)
	keys := func(code string) string { return h.URL + "/v1/programs/" + code + "/keys" }
	revokeURL := func(code, kid string) string { return keys(code) + "/" + kid + "/revoke" }

	cases := []struct {
		name   string
		url    string
		token  string
		body   any
		status int
		slug   string
		field  string
		detail string
	}{
		{"not_after before not_before", keys("MI"), admin, map[string]any{"jwk": next.PublicJWK(), "not_before": t0.Add(2 * time.Hour), "not_after": t0.Add(time.Hour)}, 422, "validation", "not_after", ""},
		{"not_after in the past", keys("MI"), admin, map[string]any{"jwk": next.PublicJWK(), "not_before": t0.Add(-2 * time.Hour), "not_after": t0.Add(-time.Hour)}, 422, "validation", "not_after", ""},
		{"enrollment with not_after before not_before", h.URL + "/v1/programs", admin, map[string]any{"code": "MI", "jwk": next.PublicJWK(), "not_before": t0.Add(2 * time.Hour), "not_after": t0.Add(time.Hour)}, 422, "validation", "not_after", ""},
		{"no key", keys("MI"), admin, map[string]any{}, 422, "validation", "jwk", ""},
		{"a program may not add a key by JSON", keys("MI"), tokenAt(t, mi, auth.RoleProgram, "MI", t0), map[string]any{"jwk": next.PublicJWK()}, 403, "forbidden", "", ""},
		{"a program not enrolled", keys("FED"), admin, map[string]any{"jwk": next.PublicJWK()}, 404, "not-found", "", "FED"},
		{"a key with another window", keys("MI"), admin, map[string]any{"jwk": mi.PublicJWK(), "not_after": t0.Add(time.Hour)}, 409, "key-conflict", "", ""},
		{"a revoked key enrolled again", h.URL + "/v1/programs", admin, map[string]any{"code": "MI", "jwk": gone.PublicJWK()}, 409, "key-conflict", "", "revoked"},
		{"revoke an unknown kid", revokeURL("MI", next.KeyID()), admin, map[string]any{}, 404, "not-found", "", next.KeyID()},
		{"revoke another program's kid", revokeURL("MI", nv.KeyID()), admin, map[string]any{}, 404, "not-found", "", ""},
		{"revoke in a program not enrolled", revokeURL("FED", mi.KeyID()), admin, map[string]any{}, 404, "not-found", "", ""},
		{"revoke twice", revokeURL("MI", gone.KeyID()), admin, map[string]any{"reason": "again"}, 409, "already-revoked", "", gone.KeyID()},
		{"revoke effective in the past", revokeURL("MI", mi.KeyID()), admin, map[string]any{"effective_at": t0.Add(-time.Minute)}, 422, "validation", "effective_at", ""},
		{"revoke with a reason too long", revokeURL("MI", mi.KeyID()), admin, map[string]any{"reason": strings.Repeat("x", 501)}, 422, "validation", "reason", ""},
		{"revoke with an unknown field", revokeURL("MI", mi.KeyID()), admin, map[string]any{"when": "now"}, 400, "invalid-request", "when", ""},
		{"revoke by a program", revokeURL("MI", mi.KeyID()), tokenAt(t, mi, auth.RoleProgram, "MI", t0), map[string]any{}, 403, "forbidden", "", ""},
		{"revoke by an analyst", revokeURL("MI", mi.KeyID()), tokenAt(t, h.Key, auth.RoleAnalyst, "", t0), map[string]any{}, 403, "forbidden", "", ""},
	}
	want := h.Programs()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := hubtest.Do(t, http.MethodPost, tc.url, tc.token, tc.body)
			p := wantProblem(t, resp, body, tc.status, tc.slug)
			if tc.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tc.field) {
				t.Errorf("errors = %+v, want one naming %s", p.Errors, tc.field)
			}
			if !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("detail %q does not say %q", p.Detail, tc.detail)
			}
			if got := h.Programs(); !cmp.Equal(got, want) {
				t.Errorf("programs changed:\n%s", cmp.Diff(want, got))
			}
		})
	}
}

// withKeyFile keeps a node's key in a file of its own directory, as the node command
// does, so it can rotate; it answers the option and the file.
func withKeyFile(t *testing.T) (hubtest.NodeOption, string) {
	path := filepath.Join(t.TempDir(), "node.jwk")
	return func(c *node.Config) {
		if err := c.Key.WriteFile(path); err != nil {
			t.Fatal(err)
		}
		c.KeyFile = path
	}, path
}

func syncWith(t *testing.T, n *hubtest.Node, token string) wire.SyncResult {
	t.Helper()
	resp, raw := hubtest.Do(t, http.MethodPost, n.URL+"/v1/sync", token, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sync %s: %d %s", n.Program().Code, resp.StatusCode, raw)
	}
	var res wire.SyncResult
	hubtest.DecodeJSON(t, raw, &res)
	return res
}

func createWith(t *testing.T, n *hubtest.Node, token, body string) schema.Alliance {
	t.Helper()
	resp, raw := hubtest.Do(t, http.MethodPost, n.URL+"/v1/alliances", token, []byte(body))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create on %s: %d %s", n.Program().Code, resp.StatusCode, raw)
	}
	var a schema.Alliance
	hubtest.DecodeJSON(t, raw, &a)
	return a
}

func rosterAt(t *testing.T, url, token string) map[string]wire.RosterItem {
	t.Helper()
	var p rosterPage
	hubtest.GetJSON(t, url+"/v1/roster", token, &p)
	out := map[string]wire.RosterItem{}
	for _, it := range p.Items {
		out[it.ID] = it
	}
	return out
}

// TestRotationThenRevocation, end to end with real nodes: the MI node rotates its key
// through its API (the hub enrolls the new key, the node keeps the old key file and
// signs with the new key), an admin then revokes the old key: what it signed before
// stays on the roster, flagged, on the hub and on every node's replica; its batches,
// records and tokens are refused from then on, naming the key and the time. The node
// accepts tokens of its old key until that key's end, across a restart, and not after.
func TestRotationThenRevocation(t *testing.T) {
	t0 := time.Now().UTC().Truncate(time.Second)
	clock := &testClock{t: t0}
	withClock := func(c *node.Config) { c.Now = clock.Now }
	h := hubtest.StartHub(t, clock.Now)
	keyFile, _ := withKeyFile(t)
	mi := hubtest.StartNode(t, h, "MI", withClock, keyFile)
	nv := hubtest.StartNode(t, h, "NV", withClock)
	old := mi.Key
	first := create(t, mi, miAGC)
	if res := syncNode(t, mi); res.Accepted != 1 {
		t.Fatalf("first sync = %+v", res)
	}

	resp, body := hubtest.Do(t, http.MethodPost, mi.URL+"/v1/keys/rotate", mi.Token, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("rotate: %d %s", resp.StatusCode, body)
	}
	var rr node.RotateResult
	hubtest.DecodeJSON(t, body, &rr)
	if rr.PreviousKid != old.KeyID() || rr.Kid == old.KeyID() || !rr.PreviousNotAfter.Equal(t0.Add(wire.RotationGrace)) {
		t.Fatalf("rotation = %+v, want a new key and the old one ending after the grace period", rr)
	}
	newKey, err := auth.LoadKey(rr.KeyFile)
	if err != nil || newKey.KeyID() != rr.Kid {
		t.Fatalf("key file holds %v, %v; want the new key", newKey, err)
	}
	if k, err := auth.LoadKey(rr.OldKeyFile); err != nil || k.KeyID() != old.KeyID() || rr.OldKeyFile != rr.KeyFile+".old" {
		t.Errorf("old key file %s: %v, %v; want the old key in KEY.old", rr.OldKeyFile, k, err)
	}
	if _, err := os.Stat(rr.KeyFile + ".new"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("KEY.new left behind: %v", err)
	}
	if k := keyOf(t, programView(t, h, "MI", t0), rr.Kid); k.State != "valid" || k.RotatedFrom != old.KeyID() {
		t.Errorf("hub shows the new key as %+v", k)
	}
	// The old key's token (mi.Token) still works on the node; the node signs with the
	// new key now.
	second := create(t, mi, miFarm)
	if res := syncNode(t, mi); res.Accepted != 1 {
		t.Fatalf("sync after rotation = %+v", res)
	}
	syncNode(t, nv)

	// A minute later an admin revokes the old key.
	t1 := t0.Add(time.Minute)
	clock.set(t1)
	v := revoke(t, h, "MI", old.KeyID(), t1, map[string]string{"reason": "laptop stolen"})
	if k := keyOf(t, v, old.KeyID()); k.State != "valid" || !k.RevokedAt.Equal(t1) || k.RevokeReason != "laptop stolen" {
		t.Errorf("revoked key at its revocation time = %+v, want still valid at that instant, revoked_at set", k)
	}
	t2 := t1.Add(time.Second)
	clock.set(t2)
	if k := keyOf(t, programView(t, h, "MI", t2), old.KeyID()); k.State != "revoked" {
		t.Errorf("state after the revocation = %q, want revoked", k.State)
	}
	analyst := tokenAt(t, h.Key, auth.RoleAnalyst, "", t2)
	r := rosterAt(t, h.URL, analyst)
	if p := r[first.ID].Provenance; p.Kid != old.KeyID() || p.KeyRevokedAt == nil || !p.KeyRevokedAt.Equal(t1) {
		t.Errorf("first Alliance provenance = %+v, want signed by the old key, flagged revoked at %s", p, t1)
	}
	if p := r[second.ID].Provenance; p.Kid != rr.Kid || p.KeyRevokedAt != nil {
		t.Errorf("second Alliance provenance = %+v, want the new key, unflagged", p)
	}

	// The old key's batch, record and token are refused, naming the key and the time.
	revokedAt := t1.Format(time.RFC3339Nano)
	resp, body = pushRaw(t, h, tokenAt(t, newKey, auth.RoleProgram, "MI", t2), wire.MediaTypeJOSE,
		batch(t, old, "MI", t2, record(t, old, "MI", schema.NewID("MI"), 1, nil)))
	if p := wantProblem(t, resp, body, http.StatusUnauthorized, "key-revoked"); !strings.Contains(p.Detail, old.KeyID()) || !strings.Contains(p.Detail, revokedAt) || !strings.Contains(p.Detail, "laptop stolen") {
		t.Errorf("batch refusal %q should name the key, the revocation time and reason", p.Detail)
	}
	resp, body = pushAt(t, h, newKey, "MI", t2, record(t, old, "MI", schema.NewID("MI"), 1, func(_ *schema.Alliance, rec *schema.Record) { rec.IssuedAt = t0 }))
	var pr wire.PushResponse
	hubtest.DecodeJSON(t, body, &pr)
	if resp.StatusCode != http.StatusOK || pr.Results[0].Outcome != wire.Rejected || !strings.Contains(pr.Results[0].Reason, "key revoked at "+revokedAt) {
		t.Errorf("a record signed by the revoked key (claiming an earlier issued_at): %s; want it rejected as revoked", body)
	}
	resp, body = hubtest.Do(t, http.MethodGet, h.URL+"/v1/programs", tokenAt(t, old, auth.RoleProgram, "MI", t2), nil)
	if p := wantProblem(t, resp, body, http.StatusUnauthorized, "unauthenticated"); !strings.Contains(p.Detail, old.KeyID()) || !strings.Contains(p.Detail, revokedAt) {
		t.Errorf("token refusal %q should name the key and the revocation time", p.Detail)
	}

	// Nodes keep what the old key signed before: a node that pulls everything now
	// verifies it (received before the revocation) and flags it as the hub does.
	fed := hubtest.StartNode(t, h, "FED", withClock)
	fedToken := tokenAt(t, fed.Key, auth.RoleProgram, "FED", t2)
	if res := syncWith(t, fed, fedToken); res.Error != "" || res.Pulled != 2 {
		t.Fatalf("FED sync = %+v, want both MI Alliances pulled", res)
	}
	fr := rosterAt(t, fed.URL, fedToken)
	for _, id := range []string{first.ID, second.ID} {
		if diff := cmp.Diff(r[id].Provenance, fr[id].Provenance); diff != "" {
			t.Errorf("FED replica provenance of %s differs from the hub's:\n%s", id, diff)
		}
	}
	nvToken := tokenAt(t, nv.Key, auth.RoleProgram, "NV", t2)
	if res := syncWith(t, nv, nvToken); res.Error != "" {
		t.Fatalf("NV sync after the revocation: %+v", res)
	}
	if p := rosterAt(t, nv.URL, nvToken)[first.ID].Provenance; p.KeyRevokedAt == nil {
		t.Errorf("NV replica does not flag the revoked key: %+v", p)
	}

	// The MI node keeps the new key and accepts the old key's tokens across a restart
	// until it learns of the revocation at its next pull; and the hub's state is the
	// same after its restart.
	before := programView(t, h, "MI", t2)
	h.Restart(t)
	if after := programView(t, h, "MI", t2); !cmp.Equal(before.Keys, after.Keys) {
		t.Errorf("hub keys changed across a restart:\n%s", cmp.Diff(before.Keys, after.Keys))
	}
	mi.Restart(t)
	oldTok := tokenAt(t, old, auth.RoleProgram, "MI", t2)
	third := createWith(t, mi, oldTok, `{"participants":[{"name":"Michigan Nursery and Landscape Association"}],"goals":[{"category":"outreach-communication"}],"signed_on":"2025-03-01"}`)
	if res := syncWith(t, mi, oldTok); res.Accepted != 1 || res.Error != "" {
		t.Fatalf("MI sync after restarts = %+v", res)
	}
	if p := rosterAt(t, h.URL, analyst)[third.ID].Provenance; p.Kid != rr.Kid {
		t.Errorf("after a restart the node signs with %s, want the new key %s", p.Kid, rr.Kid)
	}
	// That sync read the revocation: the old key's tokens are refused from then on, long
	// before its grace period ends, after a restart too; the new key's are not.
	for _, restart := range []bool{false, true} {
		if restart {
			mi.Restart(t)
		}
		resp, body = hubtest.Do(t, http.MethodGet, mi.URL+"/v1/alliances", tokenAt(t, old, auth.RoleProgram, "MI", t2), nil)
		if p := wantProblem(t, resp, body, http.StatusUnauthorized, "unauthenticated"); !strings.Contains(p.Detail, old.KeyID()) || !strings.Contains(p.Detail, "revoked") {
			t.Errorf("old key's token after the node learnt of its revocation (restarted %v): %q, want it refused as revoked", restart, p.Detail)
		}
		resp, body = hubtest.Do(t, http.MethodGet, mi.URL+"/v1/alliances", tokenAt(t, newKey, auth.RoleProgram, "MI", t2), nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("new key's token (restarted %v): %d %s", restart, resp.StatusCode, body)
		}
	}
	t3 := t0.Add(wire.RotationGrace + time.Minute)
	clock.set(t3)
	resp, body = hubtest.Do(t, http.MethodGet, mi.URL+"/v1/alliances", tokenAt(t, old, auth.RoleProgram, "MI", t3), nil)
	if p := wantProblem(t, resp, body, http.StatusUnauthorized, "unauthenticated"); !strings.Contains(p.Detail, old.KeyID()) {
		t.Errorf("old token after the old key's end: %q, want it refused naming the key", p.Detail)
	}
	resp, body = hubtest.Do(t, http.MethodGet, mi.URL+"/v1/alliances", tokenAt(t, newKey, auth.RoleProgram, "MI", t3), nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("new key's token: %d %s", resp.StatusCode, body)
	}
}

// TestAdminRevokesLastKey: an admin may revoke a program's only key; the node can then
// neither push nor rotate (the rotation is refused, the node keeps its key and drops the
// key it made), until the program has a new key enrolled and its node uses it.
func TestAdminRevokesLastKey(t *testing.T) {
	t0 := time.Now().UTC().Truncate(time.Second)
	clock := &testClock{t: t0}
	withClock := func(c *node.Config) { c.Now = clock.Now }
	h := hubtest.StartHub(t, clock.Now)
	keyOpt, keyFile := withKeyFile(t)
	nv := hubtest.StartNode(t, h, "NV", withClock, keyOpt)
	unsent := create(t, nv, nvNCA)
	v := revoke(t, h, "NV", nv.Key.KeyID(), t0, map[string]string{"reason": "node decommissioned"})
	if len(v.Keys) != 1 {
		t.Fatalf("keys = %+v", v.Keys)
	}
	t1 := t0.Add(time.Second)
	clock.set(t1)
	res, err := nv.Sync(t.Context())
	if err == nil || !strings.Contains(res.Error, "revoked") {
		t.Fatalf("sync with a revoked key = %+v, %v; want refused as revoked", res, err)
	}
	tok := tokenAt(t, nv.Key, auth.RoleProgram, "NV", t1)
	resp, body := hubtest.Do(t, http.MethodPost, nv.URL+"/v1/keys/rotate", tok, nil)
	if p := wantProblem(t, resp, body, http.StatusBadGateway, "rotation-failed"); !strings.Contains(p.Detail, "revoked") {
		t.Errorf("rotation with the revoked key: %q", p.Detail)
	}
	if files, _ := filepath.Glob(filepath.Join(filepath.Dir(keyFile), "*")); len(files) != 1 {
		t.Errorf("files beside the key after a refused rotation: %v, want the key file alone", files)
	}
	if k, err := auth.LoadKey(keyFile); err != nil || k.KeyID() != nv.Key.KeyID() {
		t.Errorf("key file after a refused rotation holds %v, %v; want the node's key", k, err)
	}
	// The program makes a new key, an admin enrolls it, the node restarts with it. The
	// record signed by the revoked key that never reached the hub is rejected; what the
	// node signs from now on is accepted.
	fresh := mustKey(t)
	enrollWindow(t, h, "NV", fresh, t1, nil, nil)
	nv.Reopen(t, func() {
		if err := os.Rename(keyFile, keyFile+".revoked"); err != nil {
			t.Fatal(err)
		}
		if err := fresh.WriteFile(keyFile); err != nil {
			t.Fatal(err)
		}
	})
	freshTok := tokenAt(t, fresh, auth.RoleProgram, "NV", t1)
	if res := syncWith(t, nv, freshTok); res.Rejected == 0 || res.Accepted != 0 || res.Error != "" {
		t.Errorf("sync with the new key = %+v, want the revoked key's record rejected", res)
	}
	// The digest backstop of that run does not send the rejected record again.
	if st, _ := nv.Status(); len(st.Rejected) != 1 || st.Rejected[0].ID != unsent.ID || !strings.Contains(st.Rejected[0].Reason, "key revoked") {
		t.Errorf("rejections = %+v, want %s named once, its key revoked", st.Rejected, unsent.ID)
	}
	// The clerk saves the rejected record again as it is: a new revision, signed with the
	// new key (an unchanged save of an accepted record stores nothing).
	resp, body = hubtest.Do(t, http.MethodGet, nv.URL+"/v1/alliances/"+unsent.ID, freshTok, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get %s: %d %s", unsent.ID, resp.StatusCode, body)
	}
	resp, body = hubtest.Request(t, http.MethodPut, nv.URL+"/v1/alliances/"+unsent.ID, freshTok,
		http.Header{"Content-Type": {"application/json"}, "If-Match": {unsent.Rev}}, body)
	var again schema.Alliance
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("save again: %d %s", resp.StatusCode, body)
	}
	hubtest.DecodeJSON(t, body, &again)
	if again.Rev == unsent.Rev || !strings.HasPrefix(again.Rev, "2-") {
		t.Errorf("saving the rejected record again gave rev %s, want a second revision after %s", again.Rev, unsent.Rev)
	}
	createWith(t, nv, freshTok, `{"participants":[{"name":"Las Vegas Builders"}],"goals":[{"category":"training-education"}],"signed_on":"2025-02-01"}`)
	if res := syncWith(t, nv, freshTok); res.Accepted != 2 || res.Error != "" {
		t.Errorf("sync of the record saved again and a new one, signed with the new key = %+v, want both accepted", res)
	}
	resp, body = hubtest.Request(t, http.MethodPut, nv.URL+"/v1/alliances/"+unsent.ID, freshTok,
		http.Header{"Content-Type": {"application/json"}, "If-Match": {again.Rev}}, body)
	var same schema.Alliance
	if hubtest.DecodeJSON(t, body, &same); resp.StatusCode != http.StatusOK || same.Rev != again.Rev {
		t.Errorf("an unchanged save of the accepted revision: %d, rev %s; want nothing new (%s)", resp.StatusCode, same.Rev, again.Rev)
	}
	// Nor does any later backstop, after a restart too: the hub rejected it once and
	// would reject it every time (docs/PROTOCOL.md section 9).
	nv.Restart(t)
	resp, body = hubtest.Do(t, http.MethodPost, nv.URL+"/v1/sync?backstop=true", freshTok, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("backstop sync: %d %s", resp.StatusCode, body)
	}
	st, err := nv.Status()
	if err != nil || st.LastRun == nil || st.LastRun.Backstop == nil {
		t.Fatalf("status after a backstop sync: %+v, %v", st, err)
	}
	if b, res := st.LastRun.Backstop, st.LastRun.Result; b.Repushed != 0 || res.Pushed != 0 || res.Rejected != 0 || len(st.Rejected) != 1 {
		t.Errorf("backstop after the rejection = %+v, result %+v, %d rejections listed; want nothing sent again", b, res, len(st.Rejected))
	}
	if got, ok := hubtest.Scrape(t, h.URL).Value("alliancehub_hub_records_pushed_total", "program", "NV", "outcome", "rejected"); got != 1 {
		t.Errorf("hub counts %v rejected records of NV (present %v), want 1: the record sent once", got, ok)
	}
}

// TestRejectedReportSavedAgain is TestAdminRevokesLastKey's save-again step for a report:
// a report written with a key revoked before it reached the hub is rejected; posted
// again unchanged with If-Match its rev, it is a new revision, signed with the node's new
// key, which the hub takes (without If-Match it is refused, not taken as already saved);
// posted again unchanged once accepted, it stores nothing.
func TestRejectedReportSavedAgain(t *testing.T) {
	t0 := time.Now().UTC().Truncate(time.Second)
	clock := &testClock{t: t0}
	h := hubtest.StartHub(t, clock.Now)
	keyOpt, keyFile := withKeyFile(t)
	mi := hubtest.StartNode(t, h, "MI", func(c *node.Config) { c.Now = clock.Now }, keyOpt)
	a := create(t, mi, miAGC)
	if res := syncNode(t, mi); res.Accepted != 1 || res.Error != "" {
		t.Fatalf("sync of the Alliance = %+v", res)
	}
	const report = `{"period":"2024-Q3","reported_on":"2024-10-15","overview":"Two trainings","activities":[{"type":"Training","reached":40}]}`
	post := func(token, ifMatch string) (*http.Response, schema.Report) {
		t.Helper()
		header := http.Header{"Content-Type": {"application/json"}}
		if ifMatch != "" {
			header.Set("If-Match", `"`+ifMatch+`"`)
		}
		resp, body := hubtest.Request(t, http.MethodPost, mi.URL+"/v1/alliances/"+a.ID+"/reports", token, header, []byte(report))
		var r schema.Report
		if resp.StatusCode < 300 {
			hubtest.DecodeJSON(t, body, &r)
		}
		return resp, r
	}
	resp, unsent := post(mi.Token, "")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("report: %d", resp.StatusCode)
	}

	// The key is revoked before the report is pushed; the program enrolls a new key and
	// the node restarts with it. The report, signed with the revoked key, is rejected.
	revoke(t, h, "MI", mi.Key.KeyID(), t0, map[string]string{"reason": "key lost"})
	t1 := t0.Add(time.Second)
	clock.set(t1)
	fresh := mustKey(t)
	enrollWindow(t, h, "MI", fresh, t1, nil, nil)
	mi.Reopen(t, func() {
		if err := os.Rename(keyFile, keyFile+".revoked"); err != nil {
			t.Fatal(err)
		}
		if err := fresh.WriteFile(keyFile); err != nil {
			t.Fatal(err)
		}
	})
	freshTok := tokenAt(t, fresh, auth.RoleProgram, "MI", t1)
	if res := syncWith(t, mi, freshTok); res.Rejected != 1 || res.Accepted != 0 || res.Error != "" {
		t.Fatalf("sync with the new key = %+v, want the revoked key's report rejected", res)
	}
	if st, _ := mi.Status(); len(st.Rejected) != 1 || st.Rejected[0].ID != unsent.ID || !strings.Contains(st.Rejected[0].Reason, "key revoked") {
		t.Fatalf("rejections = %+v, want report %s, its key revoked", st.Rejected, unsent.ID)
	}

	// The clerk posts the report again as it is. Without If-Match the node asks for one
	// rather than answering the rejected revision as if it were saved.
	if resp, r := post(freshTok, ""); resp.StatusCode != http.StatusPreconditionRequired {
		t.Errorf("unchanged rejected report without If-Match: %d (rev %s), want 428", resp.StatusCode, r.Rev)
	}
	resp, again := post(freshTok, unsent.Rev)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("save again: %d", resp.StatusCode)
	}
	if again.Rev == unsent.Rev || !strings.HasPrefix(again.Rev, "2-") || again.Overview != "Two trainings" {
		t.Errorf("saving the rejected report again gave rev %s (%q), want a second revision after %s with the same content", again.Rev, again.Overview, unsent.Rev)
	}
	if res := syncWith(t, mi, freshTok); res.Accepted != 1 || res.Rejected != 0 || res.Error != "" {
		t.Errorf("sync of the report saved again = %+v, want it accepted", res)
	}
	var entry hub.RosterEntry
	hubtest.GetJSON(t, h.URL+"/v1/roster/"+a.ID, tokenAt(t, h.Key, auth.RoleAnalyst, "", t1), &entry)
	if len(entry.Reports) != 1 || entry.Reports[0].ID != unsent.ID || entry.Reports[0].Rev != again.Rev {
		t.Errorf("the hub's reports of %s = %+v, want %s at %s", a.ID, entry.Reports, unsent.ID, again.Rev)
	}

	// Once the hub took it, an unchanged post stores nothing, with If-Match or without.
	for _, ifMatch := range []string{again.Rev, ""} {
		if resp, same := post(freshTok, ifMatch); resp.StatusCode != http.StatusOK || same.Rev != again.Rev {
			t.Errorf("an unchanged post of the accepted report (If-Match %q): %d, rev %s; want nothing new (%s)", ifMatch, resp.StatusCode, same.Rev, again.Rev)
		}
	}
	if st, _ := mi.Status(); st.Outbox != 0 || len(st.Rejected) != 1 {
		t.Errorf("status: outbox %d, %d rejections; want nothing to send and the one rejection kept", st.Outbox, len(st.Rejected))
	}
}

// TestReplicaKeyWindow: a pulled record verifies only if the hub received it while its
// key was valid (received_at inside not_before..not_after, not after revoked_at).
func TestReplicaKeyWindow(t *testing.T) {
	k := mustKey(t)
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	doc := &wire.KeysDocument{Programs: []wire.ProgramKeys{{Code: "MI", Keys: []wire.PublishedKey{{
		Kid: k.KeyID(), JWK: k.PublicJWK(),
		Window: auth.Window{NotBefore: ptr(t0), NotAfter: ptr(t0.Add(2 * time.Hour)), RevokedAt: ptr(t0.Add(time.Hour))},
	}}}}}
	rec := record(t, k, "MI", schema.NewID("MI"), 1, nil)
	cases := []struct {
		received time.Time
		ok       bool
	}{
		{t0.Add(-time.Second), false},
		{t0, true},
		{t0.Add(time.Hour), true},
		{t0.Add(time.Hour + time.Second), false},
		{t0.Add(3 * time.Hour), false},
	}
	for _, tc := range cases {
		rep, err := hub.NewReplica(nil)
		if err != nil {
			t.Fatal(err)
		}
		err = rep.Verify(doc, auth.KeySet{}, []wire.Change{{Seq: 1, ReceivedAt: tc.received, Record: rec}})
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, hub.ErrUnverified)) {
			t.Errorf("received at %s: %v, want ok %v", tc.received, err, tc.ok)
		}
	}
}

// TestPullRefusesRecordOutsideKeyWindow: a feed that says the hub received a record
// after its key was revoked (the hub never accepts such a record) is refused whole, and
// the node converges once the feed is honest.
func TestPullRefusesRecordOutsideKeyWindow(t *testing.T) {
	t0 := time.Now().UTC().Truncate(time.Second)
	clock := &testClock{t: t0}
	withClock := func(c *node.Config) { c.Now = clock.Now }
	h := hubtest.StartHub(t, clock.Now)
	var lying atomic.Bool
	lying.Store(true)
	front := frontFunc(t, h, func(p *wire.ChangesPage) {
		if lying.Load() {
			for i := range p.Changes {
				p.Changes[i].ReceivedAt = t0.Add(time.Hour)
			}
		}
	})
	nv := hubtest.StartNode(t, h, "NV", withClock)
	mi := hubtest.StartNode(t, h, "MI", withClock, func(c *node.Config) { c.HubURL = front.URL })
	create(t, nv, nvNCA)
	syncNode(t, nv)
	revoke(t, h, "NV", nv.Key.KeyID(), t0, nil)
	res, err := mi.Sync(t.Context())
	if err == nil || !strings.Contains(res.Error, "not accepted") || !strings.Contains(res.Error, "revoked") || res.Pulled != 0 {
		t.Fatalf("sync = %+v, %v; want the page refused: received after the key's revocation", res, err)
	}
	lying.Store(false)
	if res, err := mi.Sync(t.Context()); err != nil || res.Pulled != 1 {
		t.Fatalf("honest sync = %+v, %v", res, err)
	}
}
