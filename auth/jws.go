package auth

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// Algorithms is the allow-list for every signature this project verifies: EdDSA only.
// go-jose refuses any other "alg" a token or record names (none, HS256, RS256, ...).
var Algorithms = []jose.SignatureAlgorithm{jose.EdDSA}

// JWS media types ("typ"), so a signature made for one purpose is never accepted for
// another (a token as a record, a record as a batch).
const (
	TypeRecord = "alliancehub-record+jws"
	TypeBatch  = "alliancehub-batch+jws"
	TypeKeys   = "alliancehub-keys+jws"
	TypeNote   = "alliancehub-note+jws" // the hub's own annotations in its change feed
	// TypeRotation is a program's announcement of its next key, signed by a key the
	// hub currently accepts for that program.
	TypeRotation = "alliancehub-rotation+jws"
	TypeToken    = "JWT"
)

// Verification errors, matched with errors.Is.
var (
	ErrMalformed    = errors.New("malformed JWS")
	ErrUnknownKey   = errors.New("unknown signing key")
	ErrBadSignature = errors.New("signature does not verify")
	ErrWrongType    = errors.New("wrong JWS type")
)

// KeyLookup finds a public key by key id; it answers ErrUnknownKey (wrapped) for a kid it
// does not know or no longer accepts.
type KeyLookup interface {
	LookupKey(kid string) (ed25519.PublicKey, error)
}

// KeySet is a fixed set of public keys by key id.
type KeySet map[string]ed25519.PublicKey

// LookupKey implements KeyLookup.
func (s KeySet) LookupKey(kid string) (ed25519.PublicKey, error) {
	if k, ok := s[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownKey, kid)
}

// Sign signs payload as a compact JWS with alg EdDSA and the key id and typ in the
// protected header.
func (k *Key) Sign(payload []byte, typ string) (string, error) {
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ))
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}}, opts)
	if err != nil {
		return "", fmt.Errorf("signer: %w", err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return obj.CompactSerialize()
}

// Verified is a JWS whose signature checked out.
type Verified struct {
	Payload []byte
	KeyID   string
}

// Verify checks a compact JWS: one signature, alg on the allow-list, typ as expected, a
// kid the lookup knows, and a valid signature. See VerifyBytes.
func Verify(compact string, typ string, keys KeyLookup) (Verified, error) {
	return VerifyBytes([]byte(compact), typ, keys)
}

// VerifyBytes is Verify for a JWS held as bytes (a request body), which it neither keeps
// nor changes.
//
// A JWS as this project's signers make it (Key.Sign: a protected header of alg, kid and
// typ alone) is checked here directly: the header decoded once, the signature verified
// over the JWS's own text. Any other header shape goes to go-jose (verifyJose), which
// decodes it again and judges it as before.
//
// Both paths refuse, as ErrMalformed, what is spelled more than one way:
//   - base64url that is not canonical: padding, line breaks, or unused low bits set in a
//     part's last character. go-jose decodes the header and payload and verifies the
//     signature over their canonical re-encoding, and ignores the signature's unused
//     bits: so every such spelling of a signed JWS verified as the same JWS, and two
//     different strings could carry one signature. A correct signer encodes each part
//     canonically (RFC 7515 section 2 forbids padding; base64.RawURLEncoding never sets
//     the unused bits), so nothing it makes is refused.
//   - a protected header that names a member twice, also in two cases ("typ" and
//     "TYP"): go-jose takes the last, another reader the first or either (uniqueNames).
func VerifyBytes(compact []byte, typ string, keys KeyLookup) (Verified, error) {
	h, payload, sig, err := decodeCompact(compact)
	if err != nil {
		return Verified{}, err
	}
	hdr, ok := parseSimpleHeader(h)
	if !ok {
		if err := uniqueNames(h); err != nil {
			return Verified{}, fmt.Errorf("%w: protected header: %v", ErrMalformed, err)
		}
		return verifyJose(string(compact), typ, keys)
	}
	// The order of the checks, and so the error a JWS gets, is verifyJose's.
	if len(hdr.kid) == 0 {
		return Verified{}, fmt.Errorf("%w: no kid in the protected header", ErrMalformed)
	}
	if string(hdr.typ) != typ {
		return Verified{}, fmt.Errorf("%w: typ %q, want %q", ErrWrongType, hdr.typ, typ)
	}
	kid := string(hdr.kid)
	pub, err := keys.LookupKey(kid)
	if err != nil {
		return Verified{}, err
	}
	// The signing input is the header and payload as they came: canonical, so the very
	// bytes go-jose would have re-encoded. A key of the wrong size verifies nothing
	// (crypto/ed25519 would panic on it).
	input := compact[:bytes.LastIndexByte(compact, '.')]
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, input, sig) {
		return Verified{}, fmt.Errorf("%w (kid %s)", ErrBadSignature, kid)
	}
	return Verified{Payload: payload, KeyID: kid}, nil
}

// verifyJose is Verify by go-jose alone, for the JWS whose header the direct path does
// not read.
func verifyJose(compact string, typ string, keys KeyLookup) (Verified, error) {
	obj, err := jose.ParseSignedCompact(compact, Algorithms)
	if err != nil {
		return Verified{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(obj.Signatures) != 1 {
		return Verified{}, fmt.Errorf("%w: want one signature", ErrMalformed)
	}
	h := obj.Signatures[0].Protected
	if h.KeyID == "" {
		return Verified{}, fmt.Errorf("%w: no kid in the protected header", ErrMalformed)
	}
	if got, _ := h.ExtraHeaders[jose.HeaderType].(string); got != typ {
		return Verified{}, fmt.Errorf("%w: typ %q, want %q", ErrWrongType, got, typ)
	}
	pub, err := keys.LookupKey(h.KeyID)
	if err != nil {
		return Verified{}, err
	}
	payload, err := obj.Verify(pub)
	if err != nil {
		return Verified{}, fmt.Errorf("%w (kid %s)", ErrBadSignature, h.KeyID)
	}
	return Verified{Payload: payload, KeyID: h.KeyID}, nil
}

// b64url decodes the parts of a compact JWS: base64url without padding, and with the
// unused bits of the last character zero (Strict). Strict still skips CR and LF, which
// decodeCompact refuses before.
var b64url = base64.RawURLEncoding.Strict()

// decodeCompact splits a compact JWS into its three parts and decodes them, refusing
// (ErrMalformed) any part that is not canonical base64url (see VerifyBytes). The header
// and payload are new slices; sig is empty or a signature-sized one.
func decodeCompact(compact []byte) (header, payload, sig []byte, err error) {
	if len(compact) == 0 {
		return nil, nil, nil, fmt.Errorf("%w: empty", ErrMalformed)
	}
	h, rest, ok1 := bytes.Cut(compact, []byte{'.'})
	p, s, ok2 := bytes.Cut(rest, []byte{'.'})
	if !ok1 || !ok2 || bytes.IndexByte(s, '.') >= 0 {
		return nil, nil, nil, fmt.Errorf("%w: compact JWS format must have three parts", ErrMalformed)
	}
	if bytes.ContainsAny(compact, "\r\n") {
		return nil, nil, nil, fmt.Errorf("%w: line break in base64url", ErrMalformed)
	}
	decode := func(what string, src []byte) ([]byte, error) {
		dst := make([]byte, b64url.DecodedLen(len(src)))
		n, err := b64url.Decode(dst, src)
		if err != nil {
			return nil, fmt.Errorf("%w: %s is not canonical base64url: %v", ErrMalformed, what, err)
		}
		return dst[:n], nil
	}
	if header, err = decode("protected header", h); err != nil {
		return nil, nil, nil, err
	}
	if payload, err = decode("payload", p); err != nil {
		return nil, nil, nil, err
	}
	if sig, err = decode("signature", s); err != nil {
		return nil, nil, nil, err
	}
	return header, payload, sig, nil
}

// simpleHeader is a protected header as Key.Sign makes it, its values as written.
type simpleHeader struct {
	kid, typ []byte
}

// parseSimpleHeader reads a protected header of the one shape Key.Sign makes: a JSON
// object whose members are "alg" (whose value is "EdDSA"), "kid" and "typ" (either may
// be missing), each named once, each a string of printable ASCII without escapes, so
// its value is the text between its quotes. For anything else it answers false, and
// go-jose reads the header: other members ("crit", "b64", "jwk", "x5c", "nonce", ...)
// and what go-jose makes of them, escapes, non-ASCII text, other algorithms, other
// value types, JSON that is not an object.
func parseSimpleHeader(h []byte) (simpleHeader, bool) {
	var (
		out  simpleHeader
		seen [3]bool // alg, kid, typ
		i    int
	)
	ws := func() {
		for i < len(h) && (h[i] == ' ' || h[i] == '\t' || h[i] == '\n' || h[i] == '\r') {
			i++
		}
	}
	str := func() ([]byte, bool) {
		if i >= len(h) || h[i] != '"' {
			return nil, false
		}
		i++
		start := i
		for i < len(h) && h[i] != '"' {
			if c := h[i]; c < 0x20 || c > 0x7e || c == '\\' {
				return nil, false
			}
			i++
		}
		if i >= len(h) {
			return nil, false
		}
		i++
		return h[start : i-1], true
	}
	ws()
	if i >= len(h) || h[i] != '{' {
		return out, false
	}
	i++
	ws()
	if i < len(h) && h[i] == '}' {
		return out, false // no alg
	}
	for {
		ws()
		name, ok := str()
		if !ok {
			return out, false
		}
		ws()
		if i >= len(h) || h[i] != ':' {
			return out, false
		}
		i++
		ws()
		value, ok := str()
		if !ok {
			return out, false
		}
		var m int
		switch string(name) {
		case "alg":
			if string(value) != string(jose.EdDSA) {
				return out, false
			}
			m = 0
		case "kid":
			out.kid, m = value, 1
		case "typ":
			out.typ, m = value, 2
		default:
			return out, false
		}
		if seen[m] {
			return out, false // uniqueNames refuses it
		}
		seen[m] = true
		ws()
		if i < len(h) && h[i] == ',' {
			i++
			continue
		}
		if i < len(h) && h[i] == '}' {
			i++
			break
		}
		return out, false
	}
	ws()
	return out, i == len(h) && seen[0]
}

// UnverifiedPayload returns a JWS payload and kid without checking the signature. Only
// for bytes this process verified before it stored them (rebuilding state at start).
func UnverifiedPayload(compact string) (payload []byte, kid string, err error) {
	obj, err := jose.ParseSignedCompact(compact, Algorithms)
	if err != nil || len(obj.Signatures) != 1 {
		return nil, "", fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return obj.UnsafePayloadWithoutVerification(), obj.Signatures[0].Protected.KeyID, nil
}
