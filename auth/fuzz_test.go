package auth_test

// Fuzz targets for JWS and bearer-token verification. Each asserts that what is
// accepted was signed by the key it is checked against and says what the caller asked
// for, and that every refusal is one of the package's errors. Seeds are added in code
// and kept in testdata/fuzz/<FuzzName>/; run one target with
// `go test -run=^$ -fuzz=^FuzzVerify$ -fuzztime=60s ./auth`.

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/go-jose/go-jose/v4"
)

// fuzzKey is an Ed25519 key made from a fixed seed, so seeds signed with it stay valid
// from run to run (Ed25519 signatures are deterministic too).
func fuzzKey(f *testing.F, seed byte) (*auth.Key, ed25519.PrivateKey) {
	f.Helper()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	data, err := jose.JSONWebKey{Key: priv}.MarshalJSON()
	if err != nil {
		f.Fatal(err)
	}
	path := filepath.Join(f.TempDir(), "key.jwk")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		f.Fatal(err)
	}
	k, err := auth.LoadKey(path)
	if err != nil {
		f.Fatal(err)
	}
	return k, priv
}

// jwsErrors are the errors Verify refuses with.
var jwsErrors = []error{auth.ErrMalformed, auth.ErrWrongType, auth.ErrUnknownKey, auth.ErrBadSignature}

func isOneOf(err error, targets []error) bool {
	return slices.ContainsFunc(targets, func(target error) bool { return errors.Is(err, target) })
}

// checkSignedBy asserts, without go-jose, that an accepted compact JWS has a protected
// header naming EdDSA, the key's kid and typ, and a valid Ed25519 signature by pub over
// the header and payload it carries (the payload raw when the header says "b64": false,
// RFC 7797), and that the payload returned is the one signed.
func checkSignedBy(t *testing.T, compact, typ string, v auth.Verified, pub ed25519.PublicKey, kid string) {
	t.Helper()
	parts := strings.Split(compact, ".")
	if len(parts) != 3 {
		t.Fatalf("accepted %q: %d parts", compact, len(parts))
	}
	rawHeader, err1 := b64.DecodeString(parts[0])
	payload, err2 := b64.DecodeString(parts[1])
	sig, err3 := b64.DecodeString(parts[2])
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatalf("accepted %q, which is not base64url: %v", compact, err)
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(rawHeader, &header); err != nil {
		t.Fatalf("accepted %q, whose header %q is not a JSON object: %v", compact, rawHeader, err)
	}
	field := func(name string) string {
		var s string
		json.Unmarshal(header[name], &s)
		return s
	}
	if field("alg") != "EdDSA" || field("kid") != kid || field("typ") != typ || v.KeyID != kid {
		t.Fatalf("accepted header %s (Verified kid %q) for typ %q and kid %q", rawHeader, v.KeyID, typ, kid)
	}
	encoded := true
	if raw, ok := header["b64"]; ok {
		json.Unmarshal(raw, &encoded)
	}
	input := b64.EncodeToString(rawHeader) + "."
	if encoded {
		input += b64.EncodeToString(payload)
	} else {
		input += string(payload)
	}
	if !ed25519.Verify(pub, []byte(input), sig) {
		t.Fatalf("accepted %q, which the key did not sign", compact)
	}
	if !bytes.Equal(v.Payload, payload) {
		t.Fatalf("accepted %q with payload %q, but it carries %q", compact, v.Payload, payload)
	}
}

// checkVerify runs Verify for every typ against keys and asserts checkSignedBy of what
// it accepts and the package's errors for what it refuses; UnverifiedPayload agrees with
// what was accepted. It reports whether any typ was accepted.
func checkVerify(t *testing.T, compact string, keys auth.KeySet, pub ed25519.PublicKey, kid string) bool {
	t.Helper()
	var accepted *auth.Verified
	for _, typ := range []string{auth.TypeRecord, auth.TypeBatch, auth.TypeToken} {
		v, err := auth.Verify(compact, typ, keys)
		if err != nil {
			if !isOneOf(err, jwsErrors) {
				t.Fatalf("Verify(%q, %s): %v is not one of the package's errors", compact, typ, err)
			}
			continue
		}
		if accepted != nil {
			t.Fatalf("%q accepted as %s and as another typ", compact, typ)
		}
		checkSignedBy(t, compact, typ, v, pub, kid)
		accepted = &v
	}
	payload, gotKid, err := auth.UnverifiedPayload(compact)
	switch {
	case err != nil && !errors.Is(err, auth.ErrMalformed):
		t.Fatalf("UnverifiedPayload(%q): %v is not ErrMalformed", compact, err)
	case accepted != nil && (err != nil || gotKid != accepted.KeyID || !bytes.Equal(payload, accepted.Payload)):
		t.Fatalf("UnverifiedPayload(%q) = %q, %q, %v; Verify gave %q, %q", compact, payload, gotKid, err, accepted.Payload, accepted.KeyID)
	}
	return accepted != nil
}

// FuzzVerify feeds Verify and UnverifiedPayload arbitrary compact JWS (checkVerify).
func FuzzVerify(f *testing.F) {
	k, priv := fuzzKey(f, 1)
	other, _ := fuzzKey(f, 2)
	pub := k.PublicKey()
	for _, typ := range []string{auth.TypeRecord, auth.TypeBatch, auth.TypeToken, auth.TypeKeys} {
		jws, err := k.Sign([]byte(`{"id":"MI-0123456789abcdef","seq":1}`), typ)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(jws)
	}
	jws, _ := other.Sign([]byte(`{}`), auth.TypeRecord)
	f.Add(jws)
	hand := func(header string, payload string, signed bool) string {
		input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
		if !signed {
			return input + "."
		}
		return input + "." + b64.EncodeToString(ed25519.Sign(priv, []byte(input)))
	}
	f.Add(hand(`{"alg":"none","kid":"`+k.KeyID()+`","typ":"`+auth.TypeRecord+`"}`, `{}`, false))
	f.Add(hand(`{"alg":"EdDSA","typ":"`+auth.TypeRecord+`"}`, `{}`, true))
	f.Add(hand(`{"alg":"EdDSA","kid":"`+k.KeyID()+`","typ":"`+auth.TypeRecord+`","crit":["exp"],"exp":1}`, `{}`, true))
	f.Add(hand(`{"alg":"EdDSA","kid":"`+k.KeyID()+`","typ":"`+auth.TypeBatch+`","typ":"`+auth.TypeRecord+`"}`, `{}`, true))
	f.Add(hand(`{"alg":"HS256","kid":"`+k.KeyID()+`","typ":"`+auth.TypeRecord+`"}`, `{}`, true))
	f.Add("")
	f.Add("..")
	f.Add("a.b.c.d")
	f.Fuzz(func(t *testing.T, compact string) {
		checkVerify(t, compact, auth.KeySet{k.KeyID(): pub}, pub, k.KeyID())
		// The same kid bound to another key accepts only what that key signed.
		checkVerify(t, compact, auth.KeySet{k.KeyID(): other.PublicKey()}, other.PublicKey(), k.KeyID())
	})
}

// FuzzVerifySigned signs an arbitrary protected header and payload with the key, so the
// fuzzer reaches every check behind the signature: algorithm, kid, typ, "crit" and
// "b64". What Verify accepts is as checkVerify says; the same bytes are refused when the
// kid names another key, or no key at all.
func FuzzVerifySigned(f *testing.F) {
	k, priv := fuzzKey(f, 1)
	other, _ := fuzzKey(f, 2)
	pub, kid := k.PublicKey(), k.KeyID()
	for _, typ := range []string{auth.TypeRecord, auth.TypeBatch, auth.TypeToken, "JOSE", ""} {
		f.Add([]byte(`{"alg":"EdDSA","kid":"`+kid+`","typ":"`+typ+`"}`), []byte(`{"seq":1}`), false)
	}
	f.Add([]byte(`{"alg":"EdDSA","kid":"`+kid+`","typ":"`+auth.TypeRecord+`","b64":false,"crit":["b64"]}`), []byte(`{"seq":1}`), true)
	f.Add([]byte(`{"alg":"EdDSA","kid":"`+kid+`","typ":"`+auth.TypeRecord+`","b64":false}`), []byte(`{"seq":1}`), true)
	f.Add([]byte(`{"alg":"EdDSA","kid":"`+kid+`","typ":"`+auth.TypeRecord+`","crit":["b64"]}`), []byte(`{}`), false)
	f.Add([]byte(`{"alg":"EdDSA","kid":"`+kid+`","typ":"`+auth.TypeRecord+`","jwk":{"kty":"OKP","crv":"Ed25519","x":"`+b64.EncodeToString(other.PublicKey())+`"}}`), []byte(`{}`), false)
	f.Add([]byte(`{"alg":"EdDSA","kid":"`+kid+`","kid":"other","typ":"`+auth.TypeRecord+`"}`), []byte(``), false)
	f.Add([]byte(`{"alg":"ES256","kid":"`+kid+`","typ":"`+auth.TypeRecord+`"}`), []byte(`{}`), false)
	f.Add([]byte(`{"ALG":"EdDSA","KID":"`+kid+`","TYP":"`+auth.TypeRecord+`"}`), []byte(`{}`), false)
	f.Fuzz(func(t *testing.T, header, payload []byte, unencoded bool) {
		h64 := b64.EncodeToString(header)
		signed := h64 + "." + b64.EncodeToString(payload)
		if unencoded {
			signed = h64 + "." + string(payload) // RFC 7797's signing input
		}
		compact := h64 + "." + b64.EncodeToString(payload) + "." + b64.EncodeToString(ed25519.Sign(priv, []byte(signed)))

		checkVerify(t, compact, auth.KeySet{kid: pub}, pub, kid)
		for _, keys := range []auth.KeySet{{kid: other.PublicKey()}, {other.KeyID(): pub}, {}} {
			for _, typ := range []string{auth.TypeRecord, auth.TypeBatch, auth.TypeToken} {
				if v, err := auth.Verify(compact, typ, keys); err == nil {
					t.Fatalf("header %s accepted as %s (%+v) by a key set without the key that signed it", header, typ, v)
				} else if !isOneOf(err, jwsErrors) {
					t.Fatalf("Verify: %v is not one of the package's errors", err)
				}
			}
		}
	})
}

// tokenErrors are the errors VerifyToken refuses with.
var tokenErrors = []error{auth.ErrTokenMissing, auth.ErrTokenExpired, auth.ErrTokenInvalid}

// checkToken asserts what VerifyToken promises of a token it accepts at now: signed by
// the key (the same bytes verify as a JWS of typ JWT), for this audience, in its time
// (with the leeway), issued for at most MaxTTL and so dead by MaxTTL after now, with a
// role, and a program for a program token; and of a token it refuses, one of the
// package's errors.
func checkToken(t *testing.T, raw string, keys auth.KeySet, pub ed25519.PublicKey, kid string, now time.Time) {
	t.Helper()
	c, gotKid, err := auth.VerifyToken(raw, keys, now)
	if err != nil {
		if !isOneOf(err, tokenErrors) {
			t.Fatalf("VerifyToken(%q): %v is not one of the package's errors", raw, err)
		}
		return
	}
	v, err := auth.Verify(raw, auth.TypeToken, keys)
	if err != nil {
		t.Fatalf("token %q accepted, but it does not verify as a JWS: %v", raw, err)
	}
	checkSignedBy(t, raw, auth.TypeToken, v, pub, kid)
	if gotKid != kid {
		t.Fatalf("token accepted under kid %q, want %q", gotKid, kid)
	}
	var payload auth.Claims
	if err := json.Unmarshal(v.Payload, &payload); err != nil {
		t.Fatalf("accepted token's payload %q does not decode: %v", v.Payload, err)
	}
	switch {
	case !slices.Contains(c.Audience, auth.Audience):
		t.Fatalf("accepted for audience %q", c.Audience)
	case c.Expiry == nil || c.IssuedAt == nil:
		t.Fatalf("accepted without exp or iat: %+v", c)
	case c.Expiry.Time().Before(now.Add(-auth.Leeway)):
		t.Fatalf("accepted at %v, expired at %v", now, c.Expiry.Time())
	case c.IssuedAt.Time().After(now.Add(auth.Leeway)):
		t.Fatalf("accepted at %v, issued at %v", now, c.IssuedAt.Time())
	case c.NotBefore != nil && c.NotBefore.Time().After(now.Add(auth.Leeway)):
		t.Fatalf("accepted at %v, not valid before %v", now, c.NotBefore.Time())
	case c.Expiry.Time().Sub(c.IssuedAt.Time()) > auth.MaxTTL, c.Expiry.Time().After(now.Add(auth.MaxTTL + auth.Leeway)):
		t.Fatalf("accepted at %v, issued %v, lives until %v: longer than %s", now, c.IssuedAt.Time(), c.Expiry.Time(), auth.MaxTTL)
	case c.Role != auth.RoleAdmin && c.Role != auth.RoleAnalyst && c.Role != auth.RoleProgram:
		t.Fatalf("accepted with role %q", c.Role)
	case c.Role == auth.RoleProgram && c.Program == "":
		t.Fatalf("accepted a program token without a program")
	case payload.Role != c.Role || payload.Program != c.Program || payload.Subject != c.Subject:
		t.Fatalf("claims %+v, but the signed payload says %+v", c, payload)
	}
}

// FuzzVerifyToken checks an arbitrary token, and arbitrary claims signed as a token by
// the key, at a fuzzed time (checkToken).
func FuzzVerifyToken(f *testing.F) {
	k, _ := fuzzKey(f, 1)
	other, _ := fuzzKey(f, 2)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, r := range []auth.TokenRequest{
		{Subject: "analyst", Role: auth.RoleAnalyst, TTL: time.Hour, Now: now},
		{Subject: "node:MI", Role: auth.RoleProgram, Program: "MI", TTL: 5 * time.Minute, Now: now},
		{Subject: "svc", Role: auth.RoleAdmin, TTL: auth.MaxTTL, Now: now.Add(-auth.MaxTTL + time.Minute)},
	} {
		tok, err := auth.MintToken(k, r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tok, []byte(nil), int64(0))
		f.Add(tok, []byte(nil), int64(3600+29))
	}
	tok, _ := auth.MintToken(other, auth.TokenRequest{Subject: "x", Role: auth.RoleAdmin, TTL: time.Hour, Now: now})
	f.Add(tok, []byte(nil), int64(0))
	iat := now.Unix()
	for _, claims := range []string{
		`{"sub":"a","aud":"alliancehub","iat":%d,"exp":%d,"role":"admin"}`,
		`{"sub":"a","aud":["other","alliancehub"],"iat":%d,"nbf":%[1]d,"exp":%d,"role":"program","program":"MI"}`,
		`{"sub":"a","aud":"alliancehub","iat":%d,"exp":%d,"role":"program"}`,
		`{"sub":"a","aud":"other","iat":%d,"exp":%d,"role":"analyst"}`,
		`{"sub":"a","aud":"alliancehub","iat":%d,"exp":%d,"role":"root"}`,
		`{"sub":"a","aud":"alliancehub","iat":%d,"exp":%d,"ROLE":"admin","Role":"analyst"}`,
	} {
		f.Add("", []byte(fmt.Sprintf(claims, iat, iat+3600)), int64(0))
	}
	f.Add("", []byte(`{"sub":"a","aud":"alliancehub","iat":1e300,"exp":1e300,"role":"admin"}`), int64(0))
	f.Add("", []byte(`{"sub":"a","aud":"alliancehub","iat":`+jsonInt(iat+3600*24*365)+`,"exp":`+jsonInt(iat+3600*24*366)+`,"role":"admin"}`), int64(0))
	f.Add("", []byte(`{"sub":"a","aud":"alliancehub","exp":`+jsonInt(iat+60)+`,"role":"admin"}`), int64(0))
	f.Fuzz(func(t *testing.T, token string, claims []byte, skew int64) {
		at := now.Add(time.Duration(skew%(400*24*3600)) * time.Second)
		keys := auth.KeySet{k.KeyID(): k.PublicKey()}
		checkToken(t, token, keys, k.PublicKey(), k.KeyID(), at)
		if claims != nil {
			signed, err := k.Sign(claims, auth.TypeToken)
			if err != nil {
				t.Fatal(err)
			}
			checkToken(t, signed, keys, k.PublicKey(), k.KeyID(), at)
		}
	})
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
