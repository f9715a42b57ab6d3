package auth

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-jose/go-jose/v4"
)

// Key is an Ed25519 private key with its key id, the RFC 7638 thumbprint of its public
// half. It never leaves the process except to the 0600 file it was loaded from.
type Key struct {
	priv ed25519.PrivateKey
	kid  string
}

// Signer signs payloads as compact JWS with its key id in the protected header.
// *Key implements it; servers and tests depend on the interface.
type Signer interface {
	KeyID() string
	Sign(payload []byte, typ string) (string, error)
}

var _ Signer = (*Key)(nil)

// GenerateKey makes a new Ed25519 key.
func GenerateKey() (*Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return newKey(priv)
}

func newKey(priv ed25519.PrivateKey) (*Key, error) {
	kid, err := Thumbprint(priv.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, err
	}
	return &Key{priv: priv, kid: kid}, nil
}

// Thumbprint is the RFC 7638 SHA-256 thumbprint of an Ed25519 public key, base64url:
// the key id used everywhere.
func Thumbprint(pub ed25519.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	t, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(t), nil
}

// KeyID is the key's thumbprint.
func (k *Key) KeyID() string { return k.kid }

// PublicKey is the key's public half.
func (k *Key) PublicKey() ed25519.PublicKey { return k.priv.Public().(ed25519.PublicKey) }

// PublicJWK is the public half as a JWK with kid, alg and use set.
func (k *Key) PublicJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.PublicKey(), KeyID: k.kid, Algorithm: string(jose.EdDSA), Use: "sig"}
}

// WriteFile writes the private key as a JWK readable only by its owner (0600). It
// refuses to replace an existing file, so a key is never lost by a mistyped command.
func (k *Key) WriteFile(path string) error {
	jwk := jose.JSONWebKey{Key: k.priv, KeyID: k.kid, Algorithm: string(jose.EdDSA), Use: "sig"}
	data, err := json.MarshalIndent(jwk, "", "  ")
	if err != nil {
		return fmt.Errorf("encode key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write key %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write key %s: %w", path, err)
	}
	return f.Close()
}

// ErrNotPrivate is a key file that holds no private key.
var ErrNotPrivate = errors.New("not an Ed25519 private JWK")

// LoadKey reads a private JWK written by WriteFile (or by `alliancehub keygen`).
func LoadKey(path string) (*Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("key %s: %w", path, err)
	}
	priv, ok := jwk.Key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key %s: %w", path, ErrNotPrivate)
	}
	return newKey(priv)
}

// LoadOrCreateKey loads the key at path, or generates and writes one if there is none.
func LoadOrCreateKey(path string) (*Key, error) {
	k, err := LoadKey(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return k, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("write key: %w", err)
	}
	if k, err = GenerateKey(); err != nil {
		return nil, err
	}
	return k, k.WriteFile(path)
}

// ErrNotEd25519 is a JWK that is not an Ed25519 key.
var ErrNotEd25519 = errors.New("not an Ed25519 (OKP) JWK")

// ParsePublicJWK reads a JWK, public or private, and returns only its public half with
// the thumbprint as kid. A supplied kid that is not the thumbprint is refused, so one key
// can never pose under two ids.
func ParsePublicJWK(data []byte) (jose.JSONWebKey, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(data); err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("jwk: %w", err)
	}
	var pub ed25519.PublicKey
	switch k := jwk.Key.(type) {
	case ed25519.PublicKey:
		pub = k
	case ed25519.PrivateKey:
		pub = k.Public().(ed25519.PublicKey)
	default:
		return jose.JSONWebKey{}, ErrNotEd25519
	}
	kid, err := Thumbprint(pub)
	if err != nil {
		return jose.JSONWebKey{}, err
	}
	if jwk.KeyID != "" && jwk.KeyID != kid {
		return jose.JSONWebKey{}, fmt.Errorf("jwk: kid %q is not the key's thumbprint %q", jwk.KeyID, kid)
	}
	return jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: string(jose.EdDSA), Use: "sig"}, nil
}

// HasPrivatePart reports whether a JWK document carries private key material ("d").
func HasPrivatePart(data []byte) bool {
	var fields struct {
		D *string `json:"d"`
	}
	return json.Unmarshal(data, &fields) == nil && fields.D != nil
}
