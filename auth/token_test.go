package auth_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"
)

// t0 is the fixed "now" of the token tests: tokens are minted and checked with explicit
// times, never by sleeping.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// mint mints a token, failing the test on error.
func mint(t *testing.T, s auth.Signer, r auth.TokenRequest) string {
	t.Helper()
	tok, err := auth.MintToken(s, r)
	if err != nil {
		t.Fatalf("MintToken(%+v): %v", r, err)
	}
	return tok
}

// signClaims signs arbitrary claims as a JWS of the given typ with k: a token MintToken
// would refuse to make.
func signClaims(t *testing.T, k auth.Signer, claims any, typ string) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return sign(t, k, payload, typ)
}

// validClaims are the claims MintToken would make for an analyst at t0 for an hour.
func validClaims() auth.Claims {
	return auth.Claims{
		Claims: jwt.Claims{
			Subject:   "analyst@osha.gov",
			Audience:  jwt.Audience{auth.Audience},
			IssuedAt:  jwt.NewNumericDate(t0),
			NotBefore: jwt.NewNumericDate(t0),
			Expiry:    jwt.NewNumericDate(t0.Add(time.Hour)),
		},
		Role: auth.RoleAnalyst,
	}
}

func TestMintVerifyToken(t *testing.T) {
	k := newKey(t)
	keys := auth.KeySet{k.KeyID(): k.PublicKey()}
	tests := []struct {
		name string
		req  auth.TokenRequest
	}{
		{name: "admin", req: auth.TokenRequest{Subject: "ops", Role: auth.RoleAdmin, TTL: time.Hour, Now: t0}},
		{name: "analyst", req: auth.TokenRequest{Subject: "analyst@osha.gov", Role: auth.RoleAnalyst, TTL: 24 * time.Hour, Now: t0}},
		{name: "program", req: auth.TokenRequest{Subject: "node-MI", Role: auth.RoleProgram, Program: "MI", TTL: 30 * 24 * time.Hour, Now: t0}},
		{name: "longest life", req: auth.TokenRequest{Subject: "svc", Role: auth.RoleProgram, Program: "NV", TTL: auth.MaxTTL, Now: t0}},
		{name: "one second", req: auth.TokenRequest{Subject: "svc", Role: auth.RoleAnalyst, TTL: time.Second, Now: t0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := mint(t, k, tt.req)
			got, kid, err := auth.VerifyToken(tok, keys, t0)
			if err != nil {
				t.Fatalf("VerifyToken: %v", err)
			}
			if kid != k.KeyID() {
				t.Errorf("kid %s, want %s", kid, k.KeyID())
			}
			want := &auth.Claims{
				Claims: jwt.Claims{
					Subject:   tt.req.Subject,
					Audience:  jwt.Audience{"alliancehub"},
					IssuedAt:  jwt.NewNumericDate(t0),
					NotBefore: jwt.NewNumericDate(t0),
					Expiry:    jwt.NewNumericDate(t0.Add(tt.req.TTL)),
				},
				Role:    tt.req.Role,
				Program: tt.req.Program,
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
			// A token is a JWS of typ JWT, so it can never pass as a record.
			if _, err := auth.Verify(tok, auth.TypeRecord, keys); !errors.Is(err, auth.ErrWrongType) {
				t.Errorf("token verified as a record: %v", err)
			}
		})
	}
}

func TestMintTokenDefaultNow(t *testing.T) {
	// Without Now, the token starts at the current time and is valid now.
	k := newKey(t)
	tok := mint(t, k, auth.TokenRequest{Subject: "ops", Role: auth.RoleAdmin, TTL: time.Hour})
	if _, _, err := auth.VerifyToken(tok, auth.KeySet{k.KeyID(): k.PublicKey()}, time.Now()); err != nil {
		t.Errorf("VerifyToken now: %v", err)
	}
}

func TestMintTokenRefuses(t *testing.T) {
	k := newKey(t)
	tests := []struct {
		name string
		req  auth.TokenRequest
	}{
		{name: "unknown role", req: auth.TokenRequest{Subject: "x", Role: "root", TTL: time.Hour, Now: t0}},
		{name: "no role", req: auth.TokenRequest{Subject: "x", TTL: time.Hour, Now: t0}},
		{name: "role in capitals", req: auth.TokenRequest{Subject: "x", Role: "Admin", TTL: time.Hour, Now: t0}},
		{name: "no subject", req: auth.TokenRequest{Role: auth.RoleAdmin, TTL: time.Hour, Now: t0}},
		{name: "role program without program", req: auth.TokenRequest{Subject: "node", Role: auth.RoleProgram, TTL: time.Hour, Now: t0}},
		{name: "zero TTL", req: auth.TokenRequest{Subject: "x", Role: auth.RoleAdmin, Now: t0}},
		{name: "negative TTL", req: auth.TokenRequest{Subject: "x", Role: auth.RoleAdmin, TTL: -time.Hour, Now: t0}},
		{name: "TTL over the maximum", req: auth.TokenRequest{Subject: "x", Role: auth.RoleAdmin, TTL: auth.MaxTTL + time.Second, Now: t0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tok, err := auth.MintToken(k, tt.req); err == nil {
				t.Errorf("MintToken = %q, want an error", tok)
			}
		})
	}
}

func TestVerifyTokenRefuses(t *testing.T) {
	k := newKey(t)
	stranger := newKey(t)
	keys := auth.KeySet{k.KeyID(): k.PublicKey()}
	analyst := mint(t, k, auth.TokenRequest{Subject: "analyst@osha.gov", Role: auth.RoleAnalyst, TTL: time.Hour, Now: t0})

	with := func(edit func(c *auth.Claims)) auth.Claims {
		c := validClaims()
		edit(&c)
		return c
	}
	tests := []struct {
		name    string
		tok     string
		now     time.Time
		keys    auth.KeyLookup
		wantErr error // nil: must verify
	}{
		{name: "control: hand-signed claims verify", tok: signClaims(t, k, validClaims(), auth.TypeToken), now: t0, keys: keys},
		{name: "within the leeway after expiry", tok: analyst, now: t0.Add(time.Hour + auth.Leeway - time.Second), keys: keys},
		{name: "within the leeway before it starts", tok: analyst, now: t0.Add(-auth.Leeway + time.Second), keys: keys},

		{name: "expired", tok: analyst, now: t0.Add(time.Hour + auth.Leeway + time.Second), keys: keys, wantErr: auth.ErrTokenExpired},
		{name: "long expired", tok: analyst, now: t0.AddDate(1, 0, 0), keys: keys, wantErr: auth.ErrTokenExpired},
		{name: "not yet valid", tok: analyst, now: t0.Add(-time.Hour), keys: keys, wantErr: auth.ErrTokenInvalid},
		{name: "missing", tok: "", now: t0, keys: keys, wantErr: auth.ErrTokenMissing},
		{name: "garbage", tok: "not.a.token", now: t0, keys: keys, wantErr: auth.ErrTokenInvalid},
		{name: "signed by an unknown key", tok: mint(t, stranger, auth.TokenRequest{Subject: "x", Role: auth.RoleAdmin, TTL: time.Hour, Now: t0}), now: t0, keys: keys, wantErr: auth.ErrTokenInvalid},
		{
			name: "kid of a known key, signed by another",
			tok:  signClaims(t, stranger, validClaims(), auth.TypeToken),
			now:  t0, keys: auth.KeySet{stranger.KeyID(): k.PublicKey()}, wantErr: auth.ErrTokenInvalid,
		},
		{name: "another audience", tok: signClaims(t, k, with(func(c *auth.Claims) { c.Audience = jwt.Audience{"other-service"} }), auth.TypeToken), now: t0, keys: keys, wantErr: auth.ErrTokenInvalid},
		{name: "no audience", tok: signClaims(t, k, with(func(c *auth.Claims) { c.Audience = nil }), auth.TypeToken), now: t0, keys: keys, wantErr: auth.ErrTokenInvalid},
		{name: "no expiry", tok: signClaims(t, k, with(func(c *auth.Claims) { c.Expiry = nil }), auth.TypeToken), now: t0, keys: keys, wantErr: auth.ErrTokenInvalid},
		{name: "issued in the future", tok: signClaims(t, k, with(func(c *auth.Claims) {
			c.IssuedAt = jwt.NewNumericDate(t0.Add(time.Hour))
			c.NotBefore = nil
			c.Expiry = jwt.NewNumericDate(t0.Add(2 * time.Hour))
		}), auth.TypeToken), now: t0, keys: keys, wantErr: auth.ErrTokenInvalid},
		{name: "unknown role", tok: signClaims(t, k, with(func(c *auth.Claims) { c.Role = "root" }), auth.TypeToken), now: t0, keys: keys, wantErr: auth.ErrTokenInvalid},
		{name: "no role", tok: signClaims(t, k, with(func(c *auth.Claims) { c.Role = "" }), auth.TypeToken), now: t0, keys: keys, wantErr: auth.ErrTokenInvalid},
		{name: "role program without program", tok: signClaims(t, k, with(func(c *auth.Claims) { c.Role = auth.RoleProgram }), auth.TypeToken), now: t0, keys: keys, wantErr: auth.ErrTokenInvalid},
		// A signature made for one purpose is never accepted for another.
		{name: "record-typed JWS as a token", tok: signClaims(t, k, validClaims(), auth.TypeRecord), now: t0, keys: keys, wantErr: auth.ErrTokenInvalid},
		{name: "batch-typed JWS as a token", tok: signClaims(t, k, validClaims(), auth.TypeBatch), now: t0, keys: keys, wantErr: auth.ErrTokenInvalid},
		{
			name: "alg none",
			tok:  handJWS(t, map[string]any{"alg": "none", "kid": k.KeyID(), "typ": "JWT"}, mustJSON(t, validClaims()), nil),
			now:  t0, keys: keys, wantErr: auth.ErrTokenInvalid,
		},
		{
			name: "tampered role",
			tok: replacePayload(t, analyst, func(p []byte) []byte {
				var m map[string]any
				if err := json.Unmarshal(p, &m); err != nil {
					t.Fatal(err)
				}
				m["role"] = "admin"
				return mustJSON(t, m)
			}),
			now: t0, keys: keys, wantErr: auth.ErrTokenInvalid,
		},
	}
	// A TokenCache that has seen every token verify answers each case as VerifyToken
	// does: what it remembers never lets a token through that VerifyToken refuses.
	var cache auth.TokenCache
	for _, tt := range tests {
		cache.Verify(tt.tok, keys, t0)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, tt.tok, tt.keys, tt.now, tt.wantErr, auth.VerifyToken)
			check(t, tt.tok, tt.keys, tt.now, tt.wantErr, cache.Verify)
		})
	}
}

// check verifies tok with verify and compares the answer with wantErr (nil: must verify).
func check(t *testing.T, tok string, keys auth.KeyLookup, now time.Time, wantErr error, verify func(string, auth.KeyLookup, time.Time) (*auth.Claims, string, error)) {
	t.Helper()
	c, kid, err := verify(tok, keys, now)
	if wantErr == nil {
		if err != nil {
			t.Fatalf("verify: %v", err)
		}
		if c == nil || kid == "" {
			t.Errorf("verify = %v, %q", c, kid)
		}
		return
	}
	if !errors.Is(err, wantErr) {
		t.Errorf("verify error %v, want %v", err, wantErr)
	}
	if c != nil || kid != "" {
		t.Errorf("refused token returned claims %+v, kid %q", c, kid)
	}
}

// TestTokenCache: a remembered token is still refused once its key is no longer
// accepted (revoked), when another key appears under its key id, and once it expires;
// the cache holds a bounded number of tokens; and it answers the same claims.
func TestTokenCache(t *testing.T) {
	k, other := newKey(t), newKey(t)
	keys := auth.KeySet{k.KeyID(): k.PublicKey()}
	tok := mint(t, k, auth.TokenRequest{Subject: "node-MI", Role: auth.RoleProgram, Program: "MI", TTL: time.Hour, Now: t0})
	var cache auth.TokenCache
	want, _, err := auth.VerifyToken(tok, keys, t0)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		got, kid, err := cache.Verify(tok, keys, t0.Add(time.Minute))
		if err != nil || kid != k.KeyID() {
			t.Fatalf("Verify: %v, kid %q", err, kid)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("claims (-VerifyToken +cache):\n%s", diff)
		}
		got.Program = "NV" // a caller changing what it got changes nothing remembered
	}
	check(t, tok, auth.KeySet{}, t0, auth.ErrTokenInvalid, cache.Verify)                             // key revoked
	check(t, tok, auth.KeySet{k.KeyID(): other.PublicKey()}, t0, auth.ErrTokenInvalid, cache.Verify) // another key under its id
	check(t, tok, keys, t0.Add(2*time.Hour), auth.ErrTokenExpired, cache.Verify)                     // expired
	check(t, tok, keys, t0.Add(time.Minute), nil, cache.Verify)                                      // and still good where it was
	if c, _, err := cache.Verify(tok, keys, t0); err != nil || c.Program != "MI" {
		t.Fatalf("after a caller's change: %+v, %v", c, err)
	}

	// Many clients: the cache stays bounded and each token still verifies.
	for i := range 5000 {
		tok := mint(t, k, auth.TokenRequest{Subject: fmt.Sprint("client-", i), Role: auth.RoleAnalyst, TTL: time.Hour, Now: t0})
		check(t, tok, keys, t0, nil, cache.Verify)
	}
	if n := cache.Len(); n > 4096 {
		t.Errorf("cache holds %d tokens, want at most 4096", n)
	}
}

func TestParseRole(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    auth.Role
		wantErr bool
	}{
		{name: "admin", in: "admin", want: auth.RoleAdmin},
		{name: "analyst", in: "analyst", want: auth.RoleAnalyst},
		{name: "program", in: "program", want: auth.RoleProgram},
		{name: "capitals", in: "ADMIN", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "other", in: "superuser", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := auth.ParseRole(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseRole(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
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

// A token whose payload names a claim twice, in two spellings, is refused: go-jose and
// encoding/json would read different subjects from it (found by FuzzVerifyToken).
func TestVerifyTokenRefusesClaimNamedTwice(t *testing.T) {
	k, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	keys := auth.KeySet{k.KeyID(): k.PublicKey()}
	for _, payload := range []string{
		`{"sub":"","SUB":"000000000","aud":"alliancehub","iat":%d,"exp":%d,"role":"program","program":"00"}`,
		`{"sub":"a","aud":"alliancehub","iat":%d,"exp":%d,"role":"analyst","role":"admin"}`,
		`{"sub":"a","aud":"alliancehub","iat":%d,"exp":%d,"role":"program","program":"MI","Program":"NV"}`,
	} {
		signed, err := k.Sign([]byte(fmt.Sprintf(payload, now.Unix(), now.Unix()+60)), auth.TypeToken)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := auth.VerifyToken(signed, keys, now); !errors.Is(err, auth.ErrTokenInvalid) {
			t.Errorf("%s: err %v, want ErrTokenInvalid", payload, err)
		}
	}
	ok := `{"sub":"a","aud":"alliancehub","iat":%d,"exp":%d,"role":"program","program":"MI","x":{"a":1,"b":[{"a":2}]}}`
	signed, _ := k.Sign([]byte(fmt.Sprintf(ok, now.Unix(), now.Unix()+60)), auth.TypeToken)
	if _, _, err := auth.VerifyToken(signed, keys, now); err != nil {
		t.Errorf("nested repeats in different objects: %v", err)
	}
}
