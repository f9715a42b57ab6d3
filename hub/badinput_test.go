package hub_test

import (
	"encoding/base64"
	"net/http"
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

// The bad-input catalogue (issue 6 item 5): one table of every class of input the hub
// and the nodes refuse, each with the status and problem type it gets, and a check that
// neither the hub nor the node changed: the hub's journal head, roster, keys,
// checkpoints, links and conflict queue (azHubState), and the node's journal, cursor and
// records (badNodeState), compared before and after. A replayed batch and the bad
// records inside a validly signed batch are not errors: they are answered 200, each
// record duplicate or rejected with its reason, and change nothing either.

// badCase is one rejection class.
type badCase struct {
	class  string
	node   *hubtest.Node // the node the request goes to; nil: the hub
	method string
	path   string
	token  string
	header http.Header
	body   []byte
	status int
	slug   string
	fields []string // when set, the problem's errors name exactly these fields

	// A push answered 200: every result has this outcome, with reason in its reason.
	outcome wire.Outcome
	reason  string
	// shift runs the hub's clock this far ahead during the call.
	shift time.Duration
}

// badNodeState is what a refused call must leave on a node.
type badNodeState struct {
	LastSeq, Checkpoint, PullCheckpoint uint64
	Alliances                           map[string]string
}

func badNode(t *testing.T, n *hubtest.Node) badNodeState {
	t.Helper()
	var st node.SyncStatus
	hubtest.GetJSON(t, n.URL+"/v1/sync/status", n.Token, &st)
	s := badNodeState{LastSeq: st.LastSeq, Checkpoint: st.Cursor, PullCheckpoint: st.PullCheckpoint, Alliances: map[string]string{}}
	var page struct{ Items []schema.Alliance }
	hubtest.GetJSON(t, n.URL+"/v1/alliances?limit=500", n.Token, &page)
	for _, a := range page.Items {
		s.Alliances[a.ID] = a.Rev
	}
	return s
}

type badState struct {
	Hub   azHubState
	Nodes map[string]badNodeState
}

// craftToken signs any claims as a bearer token with k.
func craftToken(t *testing.T, k *auth.Key, claims map[string]any) string {
	t.Helper()
	tok, err := k.Sign(mustJSON(t, claims), auth.TypeToken)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// editPayload rewrites the payload of a compact JWS, keeping its signature.
func editPayload(jws string, edit func(string) string) string {
	parts := strings.Split(jws, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(edit(string(payload))))
	return strings.Join(parts, ".")
}

var (
	jsonHeader = http.Header{"Content-Type": {"application/json"}}
	joseHeader = http.Header{"Content-Type": {wire.MediaTypeJOSE}}
	csvHeader  = http.Header{"Content-Type": {"text/csv"}}
)

func ifMatch(rev string) http.Header {
	return http.Header{"Content-Type": {"application/json"}, "If-Match": {rev}}
}

func TestBadInputCatalogue(t *testing.T) {
	var ahead atomic.Int64 // the hub's clock runs this many nanoseconds ahead
	h := hubtest.StartHub(t, func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) })
	fed := hubtest.StartNode(t, h, "FED")
	mi := hubtest.StartNode(t, h, "MI")
	nv := hubtest.StartNode(t, h, "NV") // never syncs: it has no replica yet
	nodes := []*hubtest.Node{fed, mi, nv}
	now := time.Now()

	// Records on both sides: FED's and MI's NUCA (linked), an MI record, a FED draft
	// deleted, an MI record with two branches (a conflict).
	f := create(t, fed, fedNUCA)
	m := create(t, mi, miNUCA)
	agc := create(t, mi, miAGC)
	draft := create(t, fed, `{"level":"national","participants":[{"name":"Draft Partner"}],"goals":[{"category":"training"}]}`)
	if resp, body := hubtest.Do(t, http.MethodDelete, fed.URL+"/v1/alliances/"+draft.ID, fed.Token, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("delete the draft: %d %s", resp.StatusCode, body)
	}
	syncNode(t, fed)
	syncNode(t, mi)
	link := hub.LinkID(f.ID, m.ID)
	conflictID := schema.NewID("MI")
	rev1 := record(t, mi.Key, "MI", conflictID, 1, nil)
	for i, r := range []string{rev1, record(t, mi.Key, "MI", conflictID, 1, following(revOf(rev1), "Lansing")), record(t, mi.Key, "MI", conflictID, 1, following(revOf(rev1), "Detroit"))} {
		resp, body := pushRaw(t, h, mi.Token, wire.MediaTypeJOSE, batch(t, mi.Key, "MI", now, r))
		wantPushed(t, resp, body, []wire.Outcome{wire.Accepted, wire.Accepted, wire.Conflict}[i])
	}
	// A batch the hub accepted, to be sent again.
	replayed := batch(t, mi.Key, "MI", now, record(t, mi.Key, "MI", schema.NewID("MI"), 1, nil))
	resp, body := pushRaw(t, h, mi.Token, wire.MediaTypeJOSE, replayed)
	wantPushed(t, resp, body, wire.Accepted)

	// MI's other keys: one revoked, one valid only from an hour on, one only for an hour.
	revokedKey, futureKey, expiringKey, stranger := freshKey(t), freshKey(t), freshKey(t), freshKey(t)
	inAnHour := now.Add(time.Hour)
	for _, k := range []struct {
		key    *auth.Key
		nb, na *time.Time
	}{{revokedKey, nil, nil}, {futureKey, &inAnHour, nil}, {expiringKey, nil, &inAnHour}} {
		if _, _, err := h.AddKey("MI", hub.KeyRequest{JWK: mustJSON(t, k.key.PublicJWK()), NotBefore: k.nb, NotAfter: k.na}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.Revoke("MI", revokedKey.KeyID(), hub.Revocation{Reason: "laptop lost"}, "test-admin"); err != nil {
		t.Fatal(err)
	}

	analyst := h.Token(t, auth.RoleAnalyst, "")
	admin := h.Token(t, auth.RoleAdmin, "")
	miHub := h.Token(t, auth.RoleProgram, "MI") // the hub's token for MI: the batch's signature is what is judged
	fedAdmin := hubtest.Token(t, fed.Key, auth.RoleAdmin, "")
	later := now.Add(2 * time.Hour)
	miLater := tokenAt(t, h.Key, auth.RoleProgram, "MI", later)
	claims := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{"sub": "test", "aud": auth.Audience, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "role": "admin"}
		edit(c)
		return c
	}
	good := func() string { return record(t, mi.Key, "MI", schema.NewID("MI"), 1, nil) }
	miBatch := func(edit func(*wire.Batch), records ...string) []byte {
		return signedBatch(t, mi.Key, "MI", edit, records...)
	}
	big := func(n int) string { return strings.Repeat("x", n) }
	nvJWK := nv.Key.PublicJWK()
	rot := func(signer *auth.Key, program string, next any, issued time.Time, retire *time.Time) []byte {
		return rotation(t, signer, program, next, issued, retire)
	}
	fp := "/v1/alliances/" + f.ID
	fedBody := func(edit func(string) string) []byte {
		if edit == nil {
			edit = func(s string) string { return s }
		}
		return []byte(edit(`{"level":"national","participants":[{"name":"Catalogue Partner"}],"goals":[{"category":"training"}],"signed_on":"2025-03-01"}`))
	}
	swap := func(old, new string) func(string) string {
		return func(s string) string { return strings.Replace(s, old, new, 1) }
	}

	cases := []badCase{
		// Tokens, on the hub.
		{class: "no token", method: "GET", path: "/v1/roster", status: 401, slug: "unauthenticated"},
		{class: "another auth scheme", method: "GET", path: "/v1/roster", header: http.Header{"Authorization": {"Basic YWRtaW46YWRtaW4="}}, status: 401, slug: "unauthenticated"},
		{class: "token that is not a JWS", method: "GET", path: "/v1/roster", token: "not.a.token", status: 401, slug: "unauthenticated"},
		{class: "expired token", method: "GET", path: "/v1/roster", token: tokenAt(t, h.Key, auth.RoleAdmin, "", now.Add(-2*time.Hour)), status: 401, slug: "token-expired"},
		{class: "token from an unknown key", method: "GET", path: "/v1/roster", token: hubtest.Token(t, stranger, auth.RoleAnalyst, ""), status: 401, slug: "unauthenticated"},
		{class: "token of a revoked program key", method: "GET", path: "/v1/roster", token: hubtest.Token(t, revokedKey, auth.RoleProgram, "MI"), status: 401, slug: "unauthenticated"},
		{class: "token of a program key not yet valid", method: "GET", path: "/v1/roster", token: hubtest.Token(t, futureKey, auth.RoleProgram, "MI"), status: 401, slug: "unauthenticated"},
		{class: "token of an expired program key", method: "GET", path: "/v1/roster", token: tokenAt(t, expiringKey, auth.RoleProgram, "MI", later), shift: 2 * time.Hour, status: 401, slug: "unauthenticated"},
		{class: "program key minting an admin token", method: "POST", path: "/v1/programs", token: hubtest.Token(t, mi.Key, auth.RoleAdmin, ""), header: jsonHeader, body: mustJSON(t, map[string]any{"code": "MI", "jwk": freshKey(t).PublicJWK()}), status: 401, slug: "unauthenticated"},
		{class: "program key minting for another program", method: "GET", path: "/v1/roster", token: hubtest.Token(t, mi.Key, auth.RoleProgram, "NV"), status: 401, slug: "unauthenticated"},
		{class: "token for another audience", method: "GET", path: "/v1/roster", token: craftToken(t, h.Key, claims(func(c map[string]any) { c["aud"] = "someone-else" })), status: 401, slug: "unauthenticated"},
		{class: "token with an unknown role", method: "GET", path: "/v1/roster", token: craftToken(t, h.Key, claims(func(c map[string]any) { c["role"] = "superuser" })), status: 401, slug: "unauthenticated"},
		{class: "token without a role", method: "GET", path: "/v1/roster", token: craftToken(t, h.Key, claims(func(c map[string]any) { delete(c, "role") })), status: 401, slug: "unauthenticated"},
		{class: "program token without a program", method: "GET", path: "/v1/roster", token: craftToken(t, h.Key, claims(func(c map[string]any) { c["role"] = "program" })), status: 401, slug: "unauthenticated"},
		{class: "token without an expiry", method: "GET", path: "/v1/roster", token: craftToken(t, h.Key, claims(func(c map[string]any) { delete(c, "exp") })), status: 401, slug: "unauthenticated"},
		{class: "token valid for longer than 90 days", method: "GET", path: "/v1/roster", token: craftToken(t, h.Key, claims(func(c map[string]any) { c["exp"] = now.Add(100 * 24 * time.Hour).Unix() })), status: 401, slug: "unauthenticated"},
		{class: "token issued in the future (clock skew)", method: "GET", path: "/v1/roster", token: craftToken(t, h.Key, claims(func(c map[string]any) {
			c["iat"], c["nbf"], c["exp"] = now.Add(time.Hour).Unix(), now.Add(time.Hour).Unix(), now.Add(2*time.Hour).Unix()
		})), status: 401, slug: "unauthenticated"},
		{class: "tampered token (role raised)", method: "GET", path: "/v1/roster", token: editPayload(analyst, swap(`"analyst"`, `"admin"`)), status: 401, slug: "unauthenticated"},
		{class: "unsigned token (alg none)", method: "GET", path: "/v1/roster", token: base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
			base64.RawURLEncoding.EncodeToString(mustJSON(t, claims(func(map[string]any) {}))) + ".", status: 401, slug: "unauthenticated"},
		{class: "a record JWS as a token", method: "GET", path: "/v1/roster", token: good(), status: 401, slug: "unauthenticated"},

		// Enrolment and keys.
		{class: "malformed JSON", method: "POST", path: "/v1/programs", token: admin, header: jsonHeader, body: []byte(`{"code":`), status: 400, slug: "malformed-json"},
		{class: "empty body", method: "POST", path: "/v1/programs", token: admin, header: jsonHeader, body: []byte{}, status: 400, slug: "malformed-json"},
		{class: "data after the JSON value", method: "POST", path: "/v1/programs", token: admin, header: jsonHeader, body: []byte(`{"code":"MI"} {}`), status: 400, slug: "malformed-json"},
		{class: "wrong JSON type", method: "POST", path: "/v1/programs", token: admin, header: jsonHeader, body: []byte(`{"code":5}`), status: 400, slug: "invalid-request", fields: []string{"code"}},
		{class: "unknown field", method: "POST", path: "/v1/programs", token: admin, header: jsonHeader, body: []byte(`{"code":"MI","key":{}}`), status: 400, slug: "invalid-request", fields: []string{"key"}},
		{class: "oversized JSON body", method: "POST", path: "/v1/programs", token: admin, header: jsonHeader, body: []byte(`{"name":"` + big(edgeMaxJSON) + `"}`), status: 413, slug: "too-large"},
		{class: "wrong Content-Type", method: "POST", path: "/v1/programs", token: admin, header: http.Header{"Content-Type": {"text/plain"}}, body: mustJSON(t, map[string]any{"code": "MI", "jwk": freshKey(t).PublicJWK()}), status: 415, slug: "unsupported-media-type"},
		{class: "enrolment of a program without a definition", method: "POST", path: "/v1/programs", token: admin, header: jsonHeader, body: mustJSON(t, map[string]any{"code": "ZZ", "jwk": freshKey(t).PublicJWK()}), status: 422, slug: "validation", fields: []string{"code"}},
		{class: "enrolment of a private key", method: "POST", path: "/v1/programs", token: admin, header: jsonHeader, body: []byte(`{"code":"MI","jwk":` + string(mustPrivateJWK(t, freshKey(t))) + `}`), status: 422, slug: "validation", fields: []string{"jwk"}},
		{class: "enrolment of the hub's own key", method: "POST", path: "/v1/programs", token: admin, header: jsonHeader, body: mustJSON(t, map[string]any{"code": "MI", "jwk": h.Key.PublicJWK()}), status: 422, slug: "validation", fields: []string{"jwk"}},
		{class: "enrolment of a key that is not Ed25519", method: "POST", path: "/v1/programs", token: admin, header: jsonHeader, body: []byte(`{"code":"MI","jwk":{"kty":"RSA","n":"AQAB","e":"AQAB"}}`), status: 422, slug: "validation", fields: []string{"jwk"}},
		{class: "enrolment of another program's key", method: "POST", path: "/v1/programs", token: admin, header: jsonHeader, body: mustJSON(t, map[string]any{"code": "MI", "jwk": nvJWK}), status: 409, slug: "key-in-use"},
		{class: "key window ending in the past", method: "POST", path: "/v1/programs/MI/keys", token: admin, header: jsonHeader, body: mustJSON(t, map[string]any{"jwk": freshKey(t).PublicJWK(), "not_after": now.Add(-time.Hour)}), status: 422, slug: "validation", fields: []string{"not_after"}},
		{class: "key window ending before it begins", method: "POST", path: "/v1/programs/MI/keys", token: admin, header: jsonHeader, body: mustJSON(t, map[string]any{"jwk": freshKey(t).PublicJWK(), "not_before": now.Add(3 * time.Hour), "not_after": now.Add(2 * time.Hour)}), status: 422, slug: "validation", fields: []string{"not_after"}},
		{class: "key for a program not enrolled", method: "POST", path: "/v1/programs/ZZ/keys", token: admin, header: jsonHeader, body: mustJSON(t, map[string]any{"jwk": freshKey(t).PublicJWK()}), status: 404, slug: "not-found"},
		{class: "key asked for again with another window", method: "POST", path: "/v1/programs/MI/keys", token: admin, header: jsonHeader, body: mustJSON(t, map[string]any{"jwk": futureKey.PublicJWK(), "not_before": now.Add(3 * time.Hour)}), status: 409, slug: "key-conflict"},
		{class: "revoked key asked for again", method: "POST", path: "/v1/programs/MI/keys", token: admin, header: jsonHeader, body: mustJSON(t, map[string]any{"jwk": revokedKey.PublicJWK()}), status: 409, slug: "key-conflict"},
		{class: "key request of another media type", method: "POST", path: "/v1/programs/MI/keys", token: admin, header: http.Header{"Content-Type": {"text/plain"}}, body: []byte("key"), status: 415, slug: "unsupported-media-type"},
		{class: "path traversal in a program code", method: "POST", path: "/v1/programs/..%2F..%2Fetc/keys", token: admin, header: jsonHeader, body: mustJSON(t, map[string]any{"jwk": freshKey(t).PublicJWK()}), status: 404, slug: "not-found"},
		{class: "revocation of an unknown key", method: "POST", path: "/v1/programs/MI/keys/nosuchkid/revoke", token: admin, status: 404, slug: "not-found"},
		{class: "path traversal in a key id", method: "POST", path: "/v1/programs/MI/keys/..%2F..%2F" + mi.Key.KeyID() + "/revoke", token: admin, status: 404, slug: "not-found"},
		{class: "revocation of a revoked key", method: "POST", path: "/v1/programs/MI/keys/" + revokedKey.KeyID() + "/revoke", token: admin, status: 409, slug: "already-revoked"},
		{class: "revocation back-dated", method: "POST", path: "/v1/programs/MI/keys/" + expiringKey.KeyID() + "/revoke", token: admin, header: jsonHeader, body: mustJSON(t, map[string]any{"effective_at": now.Add(-time.Hour)}), status: 422, slug: "validation", fields: []string{"effective_at"}},
		{class: "oversized field (revocation reason)", method: "POST", path: "/v1/programs/MI/keys/" + expiringKey.KeyID() + "/revoke", token: admin, header: jsonHeader, body: mustJSON(t, map[string]any{"reason": big(501)}), status: 422, slug: "validation", fields: []string{"reason"}},
		{class: "revocation of another media type", method: "POST", path: "/v1/programs/MI/keys/" + expiringKey.KeyID() + "/revoke", token: admin, header: http.Header{"Content-Type": {"text/plain"}}, body: []byte(`{"reason":"x"}`), status: 415, slug: "unsupported-media-type"},
		{class: "rotation signed by another program's key", method: "POST", path: "/v1/programs/MI/keys", token: admin, header: joseHeader, body: rot(nv.Key, "MI", freshKey(t).PublicJWK(), now, nil), status: 403, slug: "not-owner"},
		{class: "rotation signed by an unknown key", method: "POST", path: "/v1/programs/MI/keys", token: admin, header: joseHeader, body: rot(stranger, "MI", freshKey(t).PublicJWK(), now, nil), status: 401, slug: "unknown-key"},
		{class: "rotation signed by a revoked key", method: "POST", path: "/v1/programs/MI/keys", token: admin, header: joseHeader, body: rot(revokedKey, "MI", freshKey(t).PublicJWK(), now, nil), status: 401, slug: "key-revoked"},
		{class: "rotation signed by a key not yet valid", method: "POST", path: "/v1/programs/MI/keys", token: admin, header: joseHeader, body: rot(futureKey, "MI", freshKey(t).PublicJWK(), now, nil), status: 401, slug: "key-not-valid"},
		{class: "rotation naming another program", method: "POST", path: "/v1/programs/MI/keys", token: admin, header: joseHeader, body: rot(mi.Key, "NV", freshKey(t).PublicJWK(), now, nil), status: 400, slug: "bad-rotation"},
		{class: "rotation with an unknown field", method: "POST", path: "/v1/programs/MI/keys", token: admin, header: joseHeader, body: []byte(mustSign(t, mi.Key, auth.TypeRotation, map[string]any{"program": "MI", "jwk": freshKey(t).PublicJWK(), "issued_at": now, "colour": "red"})), status: 400, slug: "bad-rotation"},
		{class: "rotation with clock skew", method: "POST", path: "/v1/programs/MI/keys", token: admin, header: joseHeader, body: rot(mi.Key, "MI", freshKey(t).PublicJWK(), now.Add(-time.Hour), nil), status: 400, slug: "clock-skew"},
		{class: "rotation to the signing key itself", method: "POST", path: "/v1/programs/MI/keys", token: admin, header: joseHeader, body: rot(mi.Key, "MI", mi.Key.PublicJWK(), now, nil), status: 422, slug: "validation", fields: []string{"jwk"}},
		{class: "rotation retiring the old key in the past", method: "POST", path: "/v1/programs/MI/keys", token: admin, header: joseHeader, body: rot(mi.Key, "MI", freshKey(t).PublicJWK(), now, ptr(now.Add(-time.Hour))), status: 422, slug: "validation", fields: []string{"retire_old_at"}},
		{class: "tampered rotation", method: "POST", path: "/v1/programs/MI/keys", token: admin, header: joseHeader, body: []byte(editPayload(string(rot(mi.Key, "MI", freshKey(t).PublicJWK(), now, nil)), swap(`"MI"`, `"MI" `))), status: 401, slug: "bad-signature"},
		{class: "rotation that is not a JWS", method: "POST", path: "/v1/programs/MI/keys", token: admin, header: joseHeader, body: []byte("rotate please"), status: 400, slug: "malformed-jws"},

		// Pushes.
		{class: "push that is not a JWS", method: "POST", path: "/v1/sync/push", token: mi.Token, header: joseHeader, body: []byte("this is not a JWS"), status: 400, slug: "malformed-jws"},
		{class: "record JWS pushed as a batch (wrong typ)", method: "POST", path: "/v1/sync/push", token: mi.Token, header: joseHeader, body: []byte(good()), status: 400, slug: "malformed-jws"},
		{class: "tampered batch", method: "POST", path: "/v1/sync/push", token: mi.Token, header: joseHeader, body: []byte(tamper(string(batch(t, mi.Key, "MI", now, good())))), status: 401, slug: "bad-signature"},
		{class: "batch signed by an unknown key", method: "POST", path: "/v1/sync/push", token: mi.Token, header: joseHeader, body: batch(t, stranger, "MI", now, good()), status: 401, slug: "unknown-key"},
		{class: "batch signed by a revoked key", method: "POST", path: "/v1/sync/push", token: miHub, header: joseHeader, body: batch(t, revokedKey, "MI", now, good()), status: 401, slug: "key-revoked"},
		{class: "batch signed by a key not yet valid", method: "POST", path: "/v1/sync/push", token: miHub, header: joseHeader, body: batch(t, futureKey, "MI", now, good()), status: 401, slug: "key-not-valid"},
		{class: "batch signed by an expired key", method: "POST", path: "/v1/sync/push", token: miLater, header: joseHeader, body: batch(t, expiringKey, "MI", later, record(t, expiringKey, "MI", schema.NewID("MI"), 1, nil)), shift: 2 * time.Hour, status: 401, slug: "key-not-valid"},
		{class: "batch for another program", method: "POST", path: "/v1/sync/push", token: mi.Token, header: joseHeader, body: batch(t, mi.Key, "NV", now, good()), status: 403, slug: "not-owner"},
		{class: "token of another program than the batch", method: "POST", path: "/v1/sync/push", token: nv.Token, header: joseHeader, body: batch(t, mi.Key, "MI", now, good()), status: 403, slug: "not-owner"},
		{class: "push by an analyst", method: "POST", path: "/v1/sync/push", token: analyst, header: joseHeader, body: batch(t, mi.Key, "MI", now, good()), status: 403, slug: "forbidden"},
		{class: "batch issued an hour ago (clock skew)", method: "POST", path: "/v1/sync/push", token: mi.Token, header: joseHeader, body: batch(t, mi.Key, "MI", now.Add(-time.Hour), good()), status: 400, slug: "clock-skew"},
		{class: "batch issued an hour ahead (clock skew)", method: "POST", path: "/v1/sync/push", token: mi.Token, header: joseHeader, body: batch(t, mi.Key, "MI", now.Add(time.Hour), good()), status: 400, slug: "clock-skew"},
		{class: "empty batch", method: "POST", path: "/v1/sync/push", token: mi.Token, header: joseHeader, body: miBatch(nil), status: 400, slug: "bad-batch"},
		{class: "batch with a bad sequence range", method: "POST", path: "/v1/sync/push", token: mi.Token, header: joseHeader, body: miBatch(func(b *wire.Batch) { b.SeqFrom, b.SeqTo = 5, 2 }, good()), status: 400, slug: "bad-batch"},
		{class: "oversized field (batch id)", method: "POST", path: "/v1/sync/push", token: mi.Token, header: joseHeader, body: miBatch(func(b *wire.Batch) { b.BatchID = big(65) }, good()), status: 400, slug: "bad-batch"},
		{class: "batch head before its last record", method: "POST", path: "/v1/sync/push", token: mi.Token, header: joseHeader, body: miBatch(func(b *wire.Batch) { b.SeqTo, b.Head = 3, 2 }, good()), status: 400, slug: "bad-batch"},
		{class: "batch with an unknown field", method: "POST", path: "/v1/sync/push", token: mi.Token, header: joseHeader, body: []byte(mustSign(t, mi.Key, auth.TypeBatch, map[string]any{"program": "MI", "batch_id": "b", "seq_from": 1, "seq_to": 1, "issued_at": now, "records": []string{good()}, "priority": "high"})), status: 400, slug: "bad-batch"},
		{class: "batch with a wrong JSON type", method: "POST", path: "/v1/sync/push", token: mi.Token, header: joseHeader, body: []byte(mustSign(t, mi.Key, auth.TypeBatch, map[string]any{"program": "MI", "batch_id": "b", "seq_from": "one", "seq_to": 1, "issued_at": now, "records": []string{good()}})), status: 400, slug: "bad-batch"},
		{class: "oversized push body", method: "POST", path: "/v1/sync/push", token: mi.Token, header: joseHeader, body: []byte(big(wire.MaxPushBody + 1)), status: 413, slug: "too-large"},
		{class: "push of another media type", method: "POST", path: "/v1/sync/push", token: mi.Token, header: jsonHeader, body: batch(t, mi.Key, "MI", now, good()), status: 415, slug: "unsupported-media-type"},
		{class: "record the hub's rules refuse (bad category)", method: "POST", path: "/v1/sync/push", token: mi.Token, header: joseHeader, body: batch(t, mi.Key, "MI", now, record(t, mi.Key, "MI", schema.NewID("MI"), 1, func(a *schema.Alliance, _ *schema.Record) {
			a.Goals = []schema.Goal{{Category: "awareness"}}
		})), status: 409, slug: "rules-differ"},
		{class: "replayed batch (answered duplicate)", method: "POST", path: "/v1/sync/push", token: mi.Token, header: joseHeader, body: replayed, status: 200, outcome: wire.Duplicate},
		{class: "tampered record in a signed batch", method: "POST", path: "/v1/sync/push", token: mi.Token, header: joseHeader, body: batch(t, mi.Key, "MI", now, tamper(good())), status: 200, outcome: wire.Rejected, reason: "signature"},
		{class: "record whose rev is not its hash", method: "POST", path: "/v1/sync/push", token: mi.Token, header: joseHeader, body: batch(t, mi.Key, "MI", now, record(t, mi.Key, "MI", schema.NewID("MI"), 1, func(_ *schema.Alliance, r *schema.Record) {
			r.Rev = "1-" + strings.Repeat("ab", 32)
		})), status: 200, outcome: wire.Rejected, reason: "revision does not match"},
		{class: "record of another program in a batch", method: "POST", path: "/v1/sync/push", token: mi.Token, header: joseHeader, body: batch(t, mi.Key, "MI", now, record(t, mi.Key, "NV", schema.NewID("NV"), 1, nil)), status: 200, outcome: wire.Rejected, reason: "not the owner program"},
		{class: "record signed by a revoked key", method: "POST", path: "/v1/sync/push", token: mi.Token, header: joseHeader, body: batch(t, mi.Key, "MI", now, record(t, revokedKey, "MI", schema.NewID("MI"), 1, nil)), status: 200, outcome: wire.Rejected, reason: "revoked"},
		{class: "path traversal in a record id", method: "POST", path: "/v1/sync/push", token: mi.Token, header: joseHeader, body: batch(t, mi.Key, "MI", now, record(t, mi.Key, "MI", "MI-../../etc/passwd", 1, func(a *schema.Alliance, r *schema.Record) { a.ID = r.ID })), status: 200, outcome: wire.Rejected, reason: "id"},

		// Query parameters and ids on the hub.
		{class: "roster: bad as_of", method: "GET", path: "/v1/roster?as_of=2026-02-30", token: analyst, status: 400, slug: "invalid-request", fields: []string{"as_of"}},
		{class: "roster: bad filters, all named", method: "GET", path: "/v1/roster?program=michigan&level=galactic&status=asleep&standing=tall&category=fun&format=xml", token: analyst, status: 400, slug: "invalid-request",
			fields: []string{"program", "level", "status", "standing", "category", "format"}},
		{class: "roster: limit out of range", method: "GET", path: "/v1/roster?limit=1001", token: analyst, status: 400, slug: "invalid-request", fields: []string{"limit"}},
		{class: "roster: limit not a number", method: "GET", path: "/v1/roster?limit=ten", token: analyst, status: 400, slug: "invalid-request", fields: []string{"limit"}},
		{class: "roster: unknown sort", method: "GET", path: "/v1/roster?sort=-salary", token: analyst, status: 400, slug: "invalid-request", fields: []string{"sort"}},
		{class: "roster: bad page token", method: "GET", path: "/v1/roster?page_token=!!not-a-token", token: analyst, status: 400, slug: "invalid-request"},
		{class: "roster entry: unknown id", method: "GET", path: "/v1/roster/MI-nosuchrecord", token: analyst, status: 404, slug: "not-found"},
		{class: "roster entry: path traversal (encoded)", method: "GET", path: "/v1/roster/..%2F..%2Fetc%2Fpasswd", token: analyst, status: 404, slug: "not-found"},
		{class: "roster entry: path traversal (dot segments)", method: "GET", path: "/v1/roster/%2e%2e", token: analyst, status: 404, slug: "not-found"},
		{class: "roster entry: a deleted draft", method: "GET", path: "/v1/roster/" + draft.ID, token: analyst, status: 404, slug: "not-found"},
		// A bad query parameter is 400 invalid-request, as PROTOCOL.md section 12 says.
		{class: "roster entry: bad as_of", method: "GET", path: "/v1/roster/" + agc.ID + "?as_of=2026-01", token: analyst, status: 400, slug: "invalid-request", fields: []string{"as_of"}},
		{class: "roster bundle: a deleted draft", method: "GET", path: "/v1/roster/" + draft.ID + "/bundle", token: analyst, status: 404, slug: "not-found"},
		{class: "roster bundle: unknown id", method: "GET", path: "/v1/roster/MI-nosuchrecord/bundle", token: analyst, status: 404, slug: "not-found"},
		{class: "change feed: bad since, limit and wait", method: "GET", path: "/v1/sync/changes?since=-1&limit=0&wait=2m", token: analyst, status: 400, slug: "invalid-request", fields: []string{"since", "limit", "wait"}},
		{class: "conflicts: bad filters", method: "GET", path: "/v1/conflicts?acknowledged=maybe&limit=0&program=mi", token: analyst, status: 400, slug: "invalid-request", fields: []string{"program", "acknowledged", "limit"}},
		{class: "conflicts: bad page token", method: "GET", path: "/v1/conflicts?page_token=!!", token: analyst, status: 400, slug: "invalid-request"},
		{class: "conflict: a record not conflicted", method: "GET", path: "/v1/conflicts/" + agc.ID, token: analyst, status: 404, slug: "not-conflicted"},
		{class: "conflict: path traversal", method: "POST", path: "/v1/conflicts/..%2F" + conflictID + "/resolve", token: analyst, status: 404, slug: "not-conflicted"},
		{class: "acknowledgement with an oversized note", method: "POST", path: "/v1/conflicts/" + conflictID + "/resolve", token: analyst, header: jsonHeader, body: mustJSON(t, map[string]string{"note": big(10000)}), status: 422, slug: "validation", fields: []string{"note"}},
		{class: "acknowledgement with an unknown field", method: "POST", path: "/v1/conflicts/" + conflictID + "/resolve", token: analyst, header: jsonHeader, body: []byte(`{"winner":"mine"}`), status: 400, slug: "invalid-request", fields: []string{"winner"}},
		{class: "links: bad filters", method: "GET", path: "/v1/links?state=maybe&program=michigan&limit=501", token: analyst, status: 400, slug: "invalid-request", fields: []string{"state", "program", "limit"}},
		{class: "links: bad page token", method: "GET", path: "/v1/links?page_token=!!", token: analyst, status: 400, slug: "invalid-request"},
		{class: "link: unknown id", method: "GET", path: "/v1/links/L-nosuchlink", token: analyst, status: 404, slug: "unknown-link"},
		{class: "link: path traversal", method: "POST", path: "/v1/links/..%2F" + link + "/confirm", token: analyst, status: 404, slug: "unknown-link"},
		{class: "link decision with an oversized note", method: "POST", path: "/v1/links/" + link + "/reject", token: analyst, header: jsonHeader, body: mustJSON(t, map[string]string{"note": big(2001)}), status: 422, slug: "validation", fields: []string{"note"}},
		{class: "link decision with malformed JSON", method: "POST", path: "/v1/links/" + link + "/confirm", token: analyst, header: jsonHeader, body: []byte(`{"note":`), status: 400, slug: "malformed-json"},
		{class: "digest: bad program and range", method: "GET", path: "/v1/sync/digest?program=x&range=ab", token: analyst, status: 400, slug: "invalid-request", fields: []string{"program", "range"}},
		{class: "stats: bad as_of", method: "GET", path: "/v1/stats?as_of=2026-01", token: analyst, status: 400, slug: "invalid-request", fields: []string{"as_of"}},
		{class: "no such route", method: "GET", path: "/v1/secrets", token: analyst, status: 404, slug: "not-found"},
		{class: "method a route does not take", method: "POST", path: "/healthz", status: 405, slug: "method-not-allowed"},

		// A node.
		{class: "node: token signed by the hub", node: fed, method: "GET", path: "/v1/alliances", token: admin, status: 401, slug: "unauthenticated"},
		{class: "node: expired token", node: fed, method: "GET", path: "/v1/alliances", token: tokenAt(t, fed.Key, auth.RoleAdmin, "", now.Add(-2*time.Hour)), status: 401, slug: "token-expired"},
		{class: "node: token of another program", node: fed, method: "POST", path: "/v1/alliances", token: hubtest.Token(t, fed.Key, auth.RoleProgram, "MI"), header: jsonHeader, body: fedBody(nil), status: 403, slug: "forbidden"},
		{class: "node: analyst writing", node: fed, method: "POST", path: "/v1/alliances", token: hubtest.Token(t, fed.Key, auth.RoleAnalyst, ""), header: jsonHeader, body: fedBody(nil), status: 403, slug: "forbidden"},
		{class: "node: malformed JSON", node: fed, method: "POST", path: "/v1/alliances", token: fed.Token, header: jsonHeader, body: []byte(`{"participants":[`), status: 400, slug: "malformed-json"},
		{class: "node: wrong JSON type", node: fed, method: "POST", path: "/v1/alliances", token: fed.Token, header: jsonHeader, body: fedBody(swap(`"signed_on":"2025-03-01"`, `"signed_on":"2025-03-01","term_months":"two years"`)), status: 400, slug: "invalid-request", fields: []string{"term_months"}},
		{class: "node: unknown field", node: fed, method: "POST", path: "/v1/alliances", token: fed.Token, header: jsonHeader, body: fedBody(swap(`"level"`, `"colour":"red","level"`)), status: 400, slug: "invalid-request", fields: []string{"colour"}},
		{class: "node: bad date", node: fed, method: "POST", path: "/v1/alliances", token: fed.Token, header: jsonHeader, body: fedBody(swap("2025-03-01", "2025-02-30")), status: 422, slug: "validation", fields: []string{"signed_on"}},
		{class: "node: bad category", node: fed, method: "POST", path: "/v1/alliances", token: fed.Token, header: jsonHeader, body: fedBody(swap(`"training"`, `"rulemaking-awareness"`)), status: 422, slug: "validation", fields: []string{"goals[0].category"}},
		{class: "node: record for another program", node: fed, method: "POST", path: "/v1/alliances", token: fed.Token, header: jsonHeader, body: fedBody(swap(`"level"`, `"program":"MI","level"`)), status: 422, slug: "validation", fields: []string{"program"}},
		{class: "node: client-chosen id", node: fed, method: "POST", path: "/v1/alliances", token: fed.Token, header: jsonHeader, body: fedBody(swap(`"level"`, `"id":"FED-../../etc","level"`)), status: 422, slug: "validation", fields: []string{"id", "id"}},
		{class: "node: oversized field", node: fed, method: "POST", path: "/v1/alliances", token: fed.Token, header: jsonHeader, body: fedBody(swap("Catalogue Partner", big(5000))), status: 422, slug: "validation", fields: []string{"participants[0].name"}},
		{class: "node: oversized body", node: fed, method: "POST", path: "/v1/alliances", token: fed.Token, header: jsonHeader, body: fedBody(swap("Catalogue Partner", big(2<<20))), status: 413, slug: "too-large"},
		{class: "node: wrong Content-Type", node: fed, method: "POST", path: "/v1/alliances", token: fed.Token, header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, body: []byte("participant=x"), status: 415, slug: "unsupported-media-type"},
		{class: "node: PUT without If-Match", node: fed, method: "PUT", path: fp, token: fed.Token, header: jsonHeader, body: mustJSON(t, f), status: 428, slug: "precondition-required"},
		{class: "node: PUT with a stale If-Match", node: fed, method: "PUT", path: fp, token: fed.Token, header: ifMatch(`"1-` + strings.Repeat("0", 64) + `"`), body: mustJSON(t, f), status: 412, slug: "precondition-failed"},
		{class: "node: PUT naming another id", node: fed, method: "PUT", path: fp, token: fed.Token, header: ifMatch("*"), body: mustJSON(t, withID(f, draft.ID)), status: 422, slug: "validation", fields: []string{"id"}},
		{class: "node: path traversal in an id (encoded)", node: fed, method: "GET", path: "/v1/alliances/..%2F..%2Fetc%2Fpasswd", token: fed.Token, status: 404, slug: "not-found"},
		{class: "node: path traversal in an id (encoded dot segment)", node: fed, method: "PUT", path: "/v1/alliances/%2e%2e", token: fed.Token, header: ifMatch("*"), body: mustJSON(t, f), status: 404, slug: "not-found"},
		{class: "node: path traversal in an id (dot segments)", node: fed, method: "DELETE", path: "/v1/alliances/../../healthz", token: fed.Token, status: 404, slug: "not-found"},
		{class: "node: another program's id", node: fed, method: "GET", path: "/v1/alliances/" + agc.ID, token: fed.Token, status: 404, slug: "not-found"},
		{class: "node: a deleted draft", node: fed, method: "GET", path: "/v1/alliances/" + draft.ID, token: fed.Token, status: 410, slug: "deleted"},
		{class: "node: deleting a signed Alliance", node: fed, method: "DELETE", path: fp, token: fed.Token, status: 409, slug: "not-a-draft"},
		{class: "node: renewal term out of bounds", node: fed, method: "POST", path: fp + "/renew", token: fed.Token, header: jsonHeader, body: []byte(`{"signed_on":"2027-01-10","term_months":12}`), status: 422, slug: "validation", fields: []string{"term_months"}},
		{class: "node: Ambassador too early", node: fed, method: "POST", path: fp + "/ambassador", token: fed.Token, header: jsonHeader, body: []byte(`{"on":"2025-03-01"}`), status: 422, slug: "validation"},
		{class: "node: report for a bad period", node: fed, method: "POST", path: fp + "/reports", token: fed.Token, header: jsonHeader, body: []byte(`{"period":"2025-Q5","reported_on":"2025-03-01"}`), status: 422, slug: "validation"},
		{class: "node: report path traversal", node: fed, method: "GET", path: fp + "/reports/..%2F..%2Fsecrets", token: fed.Token, status: 404, slug: "not-found"},
		{class: "node: list with bad parameters", node: fed, method: "GET", path: "/v1/alliances?limit=501", token: fed.Token, status: 400, slug: "invalid-request", fields: []string{"limit"}},
		{class: "node: list level of another program", node: fed, method: "GET", path: "/v1/alliances?level=state", token: fed.Token, status: 400, slug: "invalid-request", fields: []string{"level"}},
		{class: "node: list bad category", node: fed, method: "GET", path: "/v1/alliances?category=fun", token: fed.Token, status: 400, slug: "invalid-request", fields: []string{"category"}},
		{class: "node: list bad page token", node: fed, method: "GET", path: "/v1/alliances?page_token=!!", token: fed.Token, status: 400, slug: "invalid-request"},
		{class: "node: list bad format", node: fed, method: "GET", path: "/v1/alliances?format=xlsx", token: fed.Token, status: 400, slug: "invalid-request", fields: []string{"format"}},
		{class: "node: compliance bad as_of", node: fed, method: "GET", path: fp + "/compliance?as_of=2025-13-01", token: fed.Token, status: 400, slug: "invalid-request", fields: []string{"as_of"}},
		{class: "calendar: window ending before it begins", node: fed, method: "GET", path: "/v1/calendar?from=2025-01-01&to=2024-01-01", token: fed.Token, status: 400, slug: "invalid-request", fields: []string{"to"}},
		{class: "calendar: window too wide", node: fed, method: "GET", path: "/v1/calendar?from=2000-01-01&to=2030-01-01", token: fed.Token, status: 400, slug: "invalid-request", fields: []string{"to"}},
		{class: "calendar: bad kind", node: fed, method: "GET", path: "/v1/calendar?kind=birthday", token: fed.Token, status: 400, slug: "invalid-request", fields: []string{"kind"}},
		{class: "calendar: bad page token", node: fed, method: "GET", path: "/v1/calendar?page_token=!!", token: fed.Token, status: 400, slug: "invalid-request"},
		{class: "calendar: unknown Alliance", node: fed, method: "GET", path: "/v1/calendar?alliance_id=..%2F..%2Fetc", token: fed.Token, status: 404, slug: "not-found"},
		{class: "import: empty file", node: fed, method: "POST", path: "/v1/import", token: fed.Token, header: csvHeader, body: []byte{}, status: 422, slug: "csv-empty"},
		{class: "import: no header", node: fed, method: "POST", path: "/v1/import", token: fed.Token, header: csvHeader, body: []byte("Acme,2024-05-01\n"), status: 422, slug: "csv-no-header"},
		{class: "import: unknown column", node: fed, method: "POST", path: "/v1/import", token: fed.Token, header: csvHeader, body: []byte("participant,signed_on,Colour\nA,2024-05-01,red\n"), status: 422, slug: "csv-unknown-column"},
		{class: "import: missing column", node: fed, method: "POST", path: "/v1/import", token: fed.Token, header: csvHeader, body: []byte("signed_on,office\n2024-05-01,x\n"), status: 422, slug: "csv-missing-column"},
		{class: "import: duplicate column", node: fed, method: "POST", path: "/v1/import", token: fed.Token, header: csvHeader, body: []byte("participant,signed_on,participant\nA,2024-05-01,B\n"), status: 422, slug: "csv-duplicate-column"},
		{class: "import: not UTF-8", node: fed, method: "POST", path: "/v1/import", token: fed.Token, header: csvHeader, body: []byte("participant,signed_on\nCaf\xe9,2024-05-01\n"), status: 422, slug: "csv-encoding"},
		{class: "import: ragged row", node: fed, method: "POST", path: "/v1/import", token: fed.Token, header: csvHeader, body: []byte("participant,signed_on\nA,2024-05-01,extra\n"), status: 422, slug: "csv-syntax"},
		{class: "import: not text/csv", node: fed, method: "POST", path: "/v1/import", token: fed.Token, header: jsonHeader, body: []byte("participant,signed_on\n"), status: 415, slug: "unsupported-media-type"},
		{class: "import: bad flag", node: fed, method: "POST", path: "/v1/import?dry_run=perhaps", token: fed.Token, header: csvHeader, body: []byte("participant,signed_on\n"), status: 400, slug: "invalid-request", fields: []string{"dry_run"}},
		{class: "node sync: bad flag", node: fed, method: "POST", path: "/v1/sync?backstop=maybe", token: fed.Token, status: 400, slug: "invalid-request", fields: []string{"backstop"}},
		{class: "node key rotation: unknown field", node: fed, method: "POST", path: "/v1/keys/rotate", token: fed.Token, header: jsonHeader, body: []byte(`{"algorithm":"rsa"}`), status: 400, slug: "invalid-request", fields: []string{"algorithm"}},
		{class: "node key rotation without a key file", node: fed, method: "POST", path: "/v1/keys/rotate", token: fedAdmin, status: 409, slug: "no-key-file"},
		{class: "node resolve without If-Match", node: fed, method: "POST", path: fp + "/resolve", token: fed.Token, status: 428, slug: "precondition-required"},
		{class: "node resolve of a record not conflicted", node: fed, method: "POST", path: fp + "/resolve", token: fed.Token, header: ifMatch(`"` + f.Rev + `"`), status: 409, slug: "not-conflicted"},
		{class: "node roster before the first pull", node: nv, method: "GET", path: "/v1/roster", token: nv.Token, status: 503, slug: "no-replica"},
		{class: "node roster: bad filters", node: fed, method: "GET", path: "/v1/roster?level=galactic&limit=0", token: fed.Token, status: 400, slug: "invalid-request", fields: []string{"level", "limit"}},
	}

	state := func(t *testing.T) badState {
		s := badState{Hub: hubState(t, h, analyst), Nodes: map[string]badNodeState{}}
		for _, n := range nodes {
			s.Nodes[n.Program().Code] = badNode(t, n)
		}
		return s
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.class] {
			t.Fatalf("class %q listed twice", tc.class)
		}
		seen[tc.class] = true
		t.Run(tc.class, func(t *testing.T) {
			before := state(t)
			base := h.URL
			if tc.node != nil {
				base = tc.node.URL
			}
			ahead.Store(int64(tc.shift))
			resp, body := hubtest.Request(t, tc.method, base+tc.path, tc.token, tc.header, tc.body)
			ahead.Store(0)
			if tc.status == http.StatusOK {
				var pr wire.PushResponse
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d, want 200: %s", resp.StatusCode, body)
				}
				hubtest.DecodeJSON(t, body, &pr)
				if len(pr.Results) == 0 {
					t.Errorf("no results: %s", body)
				}
				for _, r := range pr.Results {
					if r.Outcome != tc.outcome || !strings.Contains(r.Reason, tc.reason) {
						t.Errorf("result %+v, want %s mentioning %q", r, tc.outcome, tc.reason)
					}
				}
			} else {
				p := wantProblem(t, resp, body, tc.status, tc.slug)
				if tc.fields != nil {
					var got []string
					for _, e := range p.Errors {
						got = append(got, e.Field)
					}
					if !cmp.Equal(got, tc.fields) {
						t.Errorf("fields named %v, want %v: %s", got, tc.fields, body)
					}
				}
			}
			if diff := cmp.Diff(before, state(t)); diff != "" {
				t.Errorf("the store changed (-before +after):\n%s", diff)
			}
		})
	}
	t.Logf("%d rejection classes", len(cases))
}

// edgeMaxJSON is the JSON body limit (internal/edge.MaxJSONBody).
const edgeMaxJSON = 1 << 20

// mustSign signs v as a JWS of typ with k, as a client could for any payload.
func mustSign(t *testing.T, k *auth.Key, typ string, v any) string {
	t.Helper()
	jws, err := k.Sign(mustJSON(t, v), typ)
	if err != nil {
		t.Fatal(err)
	}
	return jws
}

func withID(a schema.Alliance, id string) schema.Alliance {
	a.ID = id
	return a
}
