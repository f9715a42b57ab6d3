package auth

import (
	"crypto/ed25519"
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
// kid the lookup knows, and a valid signature.
func Verify(compact string, typ string, keys KeyLookup) (Verified, error) {
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

// UnverifiedPayload returns a JWS payload and kid without checking the signature. Only
// for bytes this process verified before it stored them (rebuilding state at start).
func UnverifiedPayload(compact string) (payload []byte, kid string, err error) {
	obj, err := jose.ParseSignedCompact(compact, Algorithms)
	if err != nil || len(obj.Signatures) != 1 {
		return nil, "", fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return obj.UnsafePayloadWithoutVerification(), obj.Signatures[0].Protected.KeyID, nil
}
