package auth_test

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
)

var b64 = base64.RawURLEncoding

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := b64.DecodeString(s)
	if err != nil {
		t.Fatalf("base64url %q: %v", s, err)
	}
	return b
}

// sign signs payload with k, failing the test on error.
func sign(t *testing.T, k auth.Signer, payload []byte, typ string) string {
	t.Helper()
	jws, err := k.Sign(payload, typ)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return jws
}

// handJWS builds a compact JWS by hand from a header, a payload and a function that
// signs the signing input, so a test can make what go-jose would refuse to make.
func handJWS(t *testing.T, header map[string]any, payload []byte, signFn func(input []byte) []byte) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(payload)
	var sig []byte
	if signFn != nil {
		sig = signFn([]byte(input))
	}
	return input + "." + b64.EncodeToString(sig)
}

// edSigner signs a signing input with a raw Ed25519 key.
func edSigner(priv ed25519.PrivateKey) func([]byte) []byte {
	return func(input []byte) []byte { return ed25519.Sign(priv, input) }
}

// replacePayload decodes the payload segment of a compact JWS, lets edit change it,
// and re-encodes it, keeping the original header and signature.
func replacePayload(t *testing.T, compact string, edit func([]byte) []byte) string {
	t.Helper()
	parts := strings.Split(compact, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", compact)
	}
	parts[1] = b64.EncodeToString(edit(mustB64(t, parts[1])))
	return strings.Join(parts, ".")
}

func TestSignVerify(t *testing.T) {
	k := newKey(t)
	keys := auth.KeySet{k.KeyID(): k.PublicKey()}
	payload := []byte(`{"id":"MI-abc","rev":"1-x"}`)
	for _, typ := range []string{auth.TypeRecord, auth.TypeBatch, auth.TypeToken} {
		t.Run(typ, func(t *testing.T) {
			jws := sign(t, k, payload, typ)
			got, err := auth.Verify(jws, typ, keys)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(auth.Verified{Payload: payload, KeyID: k.KeyID()}, got); diff != "" {
				t.Errorf("Verify (-want +got):\n%s", diff)
			}
			// The header names the algorithm, the key and the purpose.
			var header map[string]any
			if err := json.Unmarshal(mustB64(t, strings.Split(jws, ".")[0]), &header); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"alg": "EdDSA", "kid": k.KeyID(), "typ": typ}
			if diff := cmp.Diff(want, header); diff != "" {
				t.Errorf("protected header (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	k := newKey(t)
	stranger := newKey(t)
	keys := auth.KeySet{k.KeyID(): k.PublicKey()}
	payload := []byte(`{"id":"NV-abc","status":"active"}`)
	record := sign(t, k, payload, auth.TypeRecord)

	_, rawPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rawKeys := auth.KeySet{"raw": rawPriv.Public().(ed25519.PublicKey)}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaSigner, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: rsaKey, KeyID: k.KeyID()}},
		(&jose.SignerOptions{}).WithType(auth.TypeRecord))
	if err != nil {
		t.Fatal(err)
	}
	rsaObj, err := rsaSigner.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	rsaJWS, err := rsaObj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		jws     string
		typ     string
		keys    auth.KeyLookup
		wantErr error // nil: must verify
	}{
		{
			// Control: the hand-made JWS is well formed, so the failures below are
			// due to the one thing each changes.
			name: "hand-made EdDSA JWS verifies",
			jws:  handJWS(t, map[string]any{"alg": "EdDSA", "kid": "raw", "typ": auth.TypeRecord}, payload, edSigner(rawPriv)),
			typ:  auth.TypeRecord, keys: rawKeys,
		},
		// A signature made for one purpose is never accepted for another.
		{name: "batch presented as a record", jws: sign(t, k, payload, auth.TypeBatch), typ: auth.TypeRecord, keys: keys, wantErr: auth.ErrWrongType},
		{name: "record presented as a batch", jws: record, typ: auth.TypeBatch, keys: keys, wantErr: auth.ErrWrongType},
		{name: "token presented as a record", jws: sign(t, k, payload, auth.TypeToken), typ: auth.TypeRecord, keys: keys, wantErr: auth.ErrWrongType},
		{
			name: "no typ",
			jws:  handJWS(t, map[string]any{"alg": "EdDSA", "kid": "raw"}, payload, edSigner(rawPriv)),
			typ:  auth.TypeRecord, keys: rawKeys, wantErr: auth.ErrWrongType,
		},
		{name: "unknown kid", jws: sign(t, stranger, payload, auth.TypeRecord), typ: auth.TypeRecord, keys: keys, wantErr: auth.ErrUnknownKey},
		{name: "empty key set", jws: record, typ: auth.TypeRecord, keys: auth.KeySet{}, wantErr: auth.ErrUnknownKey},
		{
			// Another key posing under a known kid.
			name: "kid of a known key, signed by another",
			jws:  handJWS(t, map[string]any{"alg": "EdDSA", "kid": k.KeyID(), "typ": auth.TypeRecord}, payload, edSigner(rawPriv)),
			typ:  auth.TypeRecord, keys: keys, wantErr: auth.ErrBadSignature,
		},
		{
			name: "payload byte flipped",
			jws: replacePayload(t, record, func(p []byte) []byte {
				p = append([]byte(nil), p...)
				p[len(p)-3] ^= 0x01 // "active" -> "actiwe"
				return p
			}),
			typ: auth.TypeRecord, keys: keys, wantErr: auth.ErrBadSignature,
		},
		{
			name: "payload status changed",
			jws: replacePayload(t, record, func(p []byte) []byte {
				return []byte(strings.Replace(string(p), "active", "ambassador", 1))
			}),
			typ: auth.TypeRecord, keys: keys, wantErr: auth.ErrBadSignature,
		},
		{
			name: "signature byte flipped",
			jws: func() string {
				parts := strings.Split(record, ".")
				sig := mustB64(t, parts[2])
				sig[0] ^= 0x80
				parts[2] = b64.EncodeToString(sig)
				return strings.Join(parts, ".")
			}(),
			typ: auth.TypeRecord, keys: keys, wantErr: auth.ErrBadSignature,
		},
		{
			name: "header swapped for another typ",
			jws: func() string {
				parts := strings.Split(record, ".")
				h, _ := json.Marshal(map[string]any{"alg": "EdDSA", "kid": k.KeyID(), "typ": auth.TypeBatch})
				parts[0] = b64.EncodeToString(h)
				return strings.Join(parts, ".")
			}(),
			typ: auth.TypeBatch, keys: keys, wantErr: auth.ErrBadSignature,
		},
		// Only EdDSA is on the allow-list.
		{
			// The classic confusion: HMAC keyed with the public key bytes.
			name: "alg HS256",
			jws: handJWS(t, map[string]any{"alg": "HS256", "kid": k.KeyID(), "typ": auth.TypeRecord}, payload, func(in []byte) []byte {
				m := hmac.New(sha256.New, k.PublicKey())
				m.Write(in)
				return m.Sum(nil)
			}),
			typ: auth.TypeRecord, keys: keys, wantErr: auth.ErrMalformed,
		},
		{
			name: "alg none",
			jws:  handJWS(t, map[string]any{"alg": "none", "kid": k.KeyID(), "typ": auth.TypeRecord}, payload, nil),
			typ:  auth.TypeRecord, keys: keys, wantErr: auth.ErrMalformed,
		},
		{name: "alg RS256", jws: rsaJWS, typ: auth.TypeRecord, keys: keys, wantErr: auth.ErrMalformed},
		{
			name: "no kid",
			jws:  handJWS(t, map[string]any{"alg": "EdDSA", "typ": auth.TypeRecord}, payload, edSigner(rawPriv)),
			typ:  auth.TypeRecord, keys: rawKeys, wantErr: auth.ErrMalformed,
		},
		{
			name: "empty kid",
			jws:  handJWS(t, map[string]any{"alg": "EdDSA", "kid": "", "typ": auth.TypeRecord}, payload, edSigner(rawPriv)),
			typ:  auth.TypeRecord, keys: auth.KeySet{"": rawPriv.Public().(ed25519.PublicKey)}, wantErr: auth.ErrMalformed,
		},
		{name: "two segments", jws: strings.Join(strings.Split(record, ".")[:2], "."), typ: auth.TypeRecord, keys: keys, wantErr: auth.ErrMalformed},
		{name: "not base64", jws: "!!!.???.***", typ: auth.TypeRecord, keys: keys, wantErr: auth.ErrMalformed},
		{name: "empty", jws: "", typ: auth.TypeRecord, keys: keys, wantErr: auth.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := auth.Verify(tt.jws, tt.typ, tt.keys)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if string(got.Payload) != string(payload) {
					t.Errorf("payload %s, want %s", got.Payload, payload)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Verify error %v, want %v", err, tt.wantErr)
			}
			if got.Payload != nil {
				t.Errorf("refused JWS returned payload %s", got.Payload)
			}
		})
	}
}

func TestUnverifiedPayload(t *testing.T) {
	k := newKey(t)
	payload := []byte(`{"seq":7}`)
	tests := []struct {
		name        string
		jws         string
		wantPayload []byte
		wantKid     string
		wantErr     bool
	}{
		{name: "signed record", jws: sign(t, k, payload, auth.TypeRecord), wantPayload: payload, wantKid: k.KeyID()},
		{name: "alg none is still refused", jws: handJWS(t, map[string]any{"alg": "none", "kid": "x"}, payload, nil), wantErr: true},
		{name: "garbage", jws: "abc", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, kid, err := auth.UnverifiedPayload(tt.jws)
			if tt.wantErr {
				if !errors.Is(err, auth.ErrMalformed) {
					t.Errorf("UnverifiedPayload error %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("UnverifiedPayload: %v", err)
			}
			if string(got) != string(tt.wantPayload) || kid != tt.wantKid {
				t.Errorf("UnverifiedPayload = %s, %s; want %s, %s", got, kid, tt.wantPayload, tt.wantKid)
			}
		})
	}
}

func TestKeySetLookup(t *testing.T) {
	k := newKey(t)
	keys := auth.KeySet{k.KeyID(): k.PublicKey()}
	tests := []struct {
		name    string
		kid     string
		wantErr error
	}{
		{name: "known", kid: k.KeyID()},
		{name: "unknown", kid: "nope", wantErr: auth.ErrUnknownKey},
		{name: "empty", kid: "", wantErr: auth.ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub, err := keys.LookupKey(tt.kid)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("LookupKey(%q) error %v, want %v", tt.kid, err, tt.wantErr)
			}
			if tt.wantErr == nil && !pub.Equal(k.PublicKey()) {
				t.Error("LookupKey returned another key")
			}
		})
	}
}
