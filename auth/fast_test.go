package auth

// The direct path of VerifyBytes against go-jose (verifyJose): a differential fuzz
// target for arbitrary input and one for validly signed JWS and mutations of them, and
// the cases where the two are meant to differ. Seeds are added in code and kept in
// testdata/fuzz/<FuzzName>/; run one with
// `go test -run=^$ -fuzz=^FuzzVerifyFast$ -fuzztime=60s ./auth`.

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// diffKey is a fixed Ed25519 key, so seeds signed with it stay valid from run to run.
var diffKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

const diffKid = "k1"

var diffTypes = []string{TypeRecord, TypeBatch, TypeToken}

// diffKeySets: the key under its kid, the kid bound to another key, and no key at all.
var diffKeySets = []KeySet{
	{diffKid: diffKey.Public().(ed25519.PublicKey)},
	{diffKid: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, ed25519.SeedSize)).Public().(ed25519.PublicKey)},
	{},
}

// errClass is which of Verify's errors err is.
func errClass(err error) error {
	for _, e := range []error{ErrMalformed, ErrWrongType, ErrUnknownKey, ErrBadSignature} {
		if errors.Is(err, e) {
			return e
		}
	}
	return err
}

// nonCanonical reports whether compact has three parts and one of them is not the
// canonical base64url spelling of what go-jose decodes it to.
func nonCanonical(compact string) bool {
	parts := strings.Split(compact, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		b, err := base64.RawURLEncoding.DecodeString(p)
		if err == nil && base64.RawURLEncoding.EncodeToString(b) != p {
			return true
		}
	}
	return false
}

// namesTwice reports whether compact's protected header names a member twice, in any
// case.
func namesTwice(compact string) bool {
	h, _, _ := strings.Cut(compact, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	return err == nil && uniqueNames(b) != nil
}

// checkSameVerdict asserts that Verify and verifyJose agree on compact for every typ and
// key set: the same payload and kid when both accept, the same kind of error when both
// refuse. Verify may refuse, as ErrMalformed, what go-jose accepts only when compact is
// not canonical base64url or its header names a member twice.
func checkSameVerdict(t *testing.T, compact string) {
	t.Helper()
	byDesign := nonCanonical(compact) || namesTwice(compact)
	for _, keys := range diffKeySets {
		for _, typ := range diffTypes {
			got, err := Verify(compact, typ, keys)
			want, wantErr := verifyJose(compact, typ, keys)
			switch {
			case err == nil && wantErr != nil:
				t.Fatalf("Verify(%q, %s) accepted what go-jose refuses: %v", compact, typ, wantErr)
			case err == nil:
				if !bytes.Equal(got.Payload, want.Payload) || got.KeyID != want.KeyID {
					t.Fatalf("Verify(%q, %s) = %q, %q; go-jose %q, %q", compact, typ, got.Payload, got.KeyID, want.Payload, want.KeyID)
				}
			case byDesign:
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("Verify(%q, %s): %v; want ErrMalformed for a JWS spelled more than one way", compact, typ, err)
				}
			case wantErr == nil:
				t.Fatalf("Verify(%q, %s) refused what go-jose accepts: %v", compact, typ, err)
			case errClass(err) != errClass(wantErr):
				t.Fatalf("Verify(%q, %s): %v; go-jose: %v", compact, typ, err, wantErr)
			}
		}
	}
}

// signDiff signs header and payload with diffKey as a compact JWS.
func signDiff(header, payload []byte) string {
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(diffKey, []byte(input)))
}

// diffHeaders are protected headers to sign: the one shape Key.Sign makes and shapes
// near it, each of which one path or the other reads.
var diffHeaders = []string{
	`{"alg":"EdDSA","kid":"k1","typ":"alliancehub-record+jws"}`,
	`{"alg":"EdDSA","kid":"k1","typ":"alliancehub-batch+jws"}`,
	`{"alg":"EdDSA","kid":"k1","typ":"JWT"}`,
	` { "typ" : "alliancehub-record+jws" , "kid":"k1","alg":"EdDSA" } `,
	`{"alg":"EdDSA","kid":"k1"}`,
	`{"alg":"EdDSA","typ":"alliancehub-record+jws"}`,
	`{"alg":"EdDSA","kid":"","typ":"alliancehub-record+jws"}`,
	`{"alg":"EdDSA","kid":"k\u0031","typ":"alliancehub-record+jws"}`,
	`{"alg":"EdDSA","kid":"k1","typ":"alliancehub-record+jws","kid":"k2"}`,
	`{"alg":"EdDSA","kid":"k1","typ":"alliancehub-record+jws","TYP":"JWT"}`,
	`{"alg":"EdDSA","kid":"k1","typ":"alliancehub-record+jws","crit":["b64"],"b64":false}`,
	`{"alg":"EdDSA","kid":"k1","typ":"alliancehub-record+jws","b64":false}`,
	`{"alg":"EdDSA","kid":"k1","typ":"alliancehub-record+jws","crit":["exp"]}`,
	`{"alg":"EdDSA","kid":"k1","typ":"alliancehub-record+jws","cty":"json"}`,
	`{"alg":"EdDSA","kid":"k1","typ":"alliancehub-record+jws","nonce":1}`,
	`{"alg":"EdDSA","kid":1,"typ":"alliancehub-record+jws"}`,
	`{"alg":"HS256","kid":"k1","typ":"alliancehub-record+jws"}`,
	`{"alg":"none","kid":"k1","typ":"alliancehub-record+jws"}`,
	`{"alg":"EdDSA","kid":"k1","typ":"alliancehub-record+jws"}x`,
	`{"alg":"EdDSA","kid":"k1","typ":"alliancehub-record+jws"`,
	`{"alg":"EdDSA","kid":"k1","typ":"alliancehub-record+jws",}`,
	`{}`, `null`, `[]`, ``,
}

// FuzzVerifyFast compares Verify with go-jose on arbitrary compact JWS
// (checkSameVerdict); the seeds are validly signed JWS and spellings of them.
func FuzzVerifyFast(f *testing.F) {
	for _, h := range diffHeaders {
		f.Add(signDiff([]byte(h), []byte(`{"id":"MI-0123456789abcdef","seq":1}`)))
	}
	jws := signDiff([]byte(diffHeaders[0]), []byte(`{"seq":1}`))
	last := len(jws) - 1
	f.Add(jws[:last] + string(jws[last]+1))       // the signature's unused bits set
	f.Add(strings.Replace(jws, ".", "\n.", 1))    // a line break go-jose skips
	f.Add(strings.Replace(jws, ".", "=.", 1))     // padding
	f.Add(strings.Replace(jws, ".", " .", 1))     // a space
	f.Add(jws[:last-1])                           // a short signature
	f.Add(signDiff([]byte(diffHeaders[0]), nil))  // an empty payload
	f.Add(jws + ".")                              // four parts
	f.Add(strings.Replace(jws, "-", "+", 1) + "") // base64, not base64url
	f.Add("")
	f.Add("..")
	f.Fuzz(func(t *testing.T, compact string) {
		checkSameVerdict(t, compact)
	})
}

// FuzzVerifyFastSigned signs an arbitrary header and payload with the key, so that both
// paths get past the signature, then optionally changes the JWS at a position: a byte
// there replaced, a line break inserted, or the signature's last character bumped.
func FuzzVerifyFastSigned(f *testing.F) {
	for _, h := range diffHeaders {
		f.Add([]byte(h), []byte(`{"seq":1}`), uint8(0), uint16(0))
	}
	f.Add([]byte(diffHeaders[0]), []byte(`{"seq":1}`), uint8(1), uint16(3))
	f.Add([]byte(diffHeaders[0]), []byte(`{"seq":1}`), uint8(2), uint16(40))
	f.Add([]byte(diffHeaders[0]), []byte(`{"seq":1}`), uint8(3), uint16(0))
	f.Fuzz(func(t *testing.T, header, payload []byte, mutate uint8, at uint16) {
		jws := signDiff(header, payload)
		pos := int(at) % len(jws)
		switch mutate % 4 {
		case 1:
			jws = jws[:pos] + string(rune('A'+int(at)%58)) + jws[pos+1:]
		case 2:
			jws = jws[:pos] + "\n" + jws[pos:]
		case 3:
			jws = jws[:len(jws)-1] + string(jws[len(jws)-1]^byte(1+at%3))
		}
		checkSameVerdict(t, jws)
	})
}

// TestVerifyFastPath: what Key.Sign makes takes the direct path, and what it refuses
// that go-jose accepts.
func TestVerifyFastPath(t *testing.T) {
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	jws, err := k.Sign([]byte(`{"seq":1}`), TypeRecord)
	if err != nil {
		t.Fatal(err)
	}
	h, _, _, err := decodeCompact([]byte(jws))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := parseSimpleHeader(h); !ok {
		t.Fatalf("header %s of Key.Sign does not take the direct path", h)
	}
	keys := KeySet{k.KeyID(): k.PublicKey()}
	if v, err := Verify(jws, TypeRecord, keys); err != nil || string(v.Payload) != `{"seq":1}` || v.KeyID != k.KeyID() {
		t.Fatalf("Verify = %+v, %v", v, err)
	}
	// The unused bits of the signature's last character (86 characters carry 64 bytes
	// and 4 bits more).
	sig := jws[strings.LastIndexByte(jws, '.')+1:]
	alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	c := strings.IndexByte(alphabet, sig[len(sig)-1])
	bumped := jws[:len(jws)-1] + string(alphabet[c^1])
	header, rest, _ := strings.Cut(jws, ".")
	for _, tc := range []struct{ name, jws string }{
		{"signature's unused bits", bumped},
		{"line break in the payload", header + ".\n" + rest},
		{"carriage return", header + "\r." + rest},
		{"duplicate kid", signDiff([]byte(`{"alg":"EdDSA","kid":"x","kid":"`+k.KeyID()+`","typ":"`+TypeRecord+`"}`), []byte(`{}`))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Verify(tc.jws, TypeRecord, keys); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Verify: %v, want ErrMalformed", err)
			}
		})
	}
	if _, err := verifyJose(bumped, TypeRecord, keys); err != nil {
		t.Fatalf("go-jose refuses the bumped signature (%v); the test no longer shows the difference", err)
	}
}
