package auth_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
)

// newKey generates a key, failing the test on error.
func newKey(t *testing.T) *auth.Key {
	t.Helper()
	k, err := auth.GenerateKey()
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	return k
}

// marshalJWK encodes a JWK, failing the test on error.
func marshalJWK(t *testing.T, jwk jose.JSONWebKey) []byte {
	t.Helper()
	b, err := jwk.MarshalJSON()
	if err != nil {
		t.Fatalf("marshal JWK: %v", err)
	}
	return b
}

// writeKeyFile writes data to a new file in a temporary directory and returns its path.
func writeKeyFile(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key.jwk")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGenerateKey(t *testing.T) {
	k := newKey(t)
	// The key id is the RFC 7638 thumbprint of the public half.
	kid, err := auth.Thumbprint(k.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if k.KeyID() != kid || kid == "" {
		t.Errorf("KeyID() = %q, thumbprint %q", k.KeyID(), kid)
	}
	// 32 bytes of SHA-256, base64url without padding.
	if len(kid) != 43 || strings.ContainsAny(kid, "+/=") {
		t.Errorf("kid %q is not unpadded base64url SHA-256", kid)
	}
	if other := newKey(t); other.KeyID() == k.KeyID() {
		t.Errorf("two generated keys share kid %s", k.KeyID())
	}
	jwk := k.PublicJWK()
	if !jwk.IsPublic() || jwk.KeyID != kid || jwk.Algorithm != "EdDSA" || jwk.Use != "sig" {
		t.Errorf("PublicJWK() = %+v", jwk)
	}
	if _, ok := jwk.Key.(ed25519.PublicKey); !ok {
		t.Errorf("PublicJWK key is %T, want ed25519.PublicKey", jwk.Key)
	}
}

func TestThumbprintKnownValue(t *testing.T) {
	// RFC 8037 Appendix A.3: the thumbprint of the example Ed25519 key.
	pub := ed25519.PublicKey(mustB64(t, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"))
	got, err := auth.Thumbprint(pub)
	if err != nil {
		t.Fatal(err)
	}
	if want := "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Errorf("Thumbprint = %s, want %s", got, want)
	}
}

func TestWriteFileAndLoadKey(t *testing.T) {
	k := newKey(t)
	path := filepath.Join(t.TempDir(), "node.jwk")
	if err := k.WriteFile(path); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// Readable only by its owner.
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode %v, want 0600", perm)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(data, &fields); err != nil {
		t.Fatalf("key file is not JSON: %v", err)
	}
	want := map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": k.KeyID(), "alg": "EdDSA", "use": "sig"}
	for name, v := range want {
		if fields[name] != v {
			t.Errorf("key file %s = %v, want %v", name, fields[name], v)
		}
	}
	if _, ok := fields["d"].(string); !ok {
		t.Errorf("key file holds no private part: %s", data)
	}

	loaded, err := auth.LoadKey(path)
	if err != nil {
		t.Fatalf("LoadKey: %v", err)
	}
	if loaded.KeyID() != k.KeyID() {
		t.Errorf("loaded kid %s, want %s", loaded.KeyID(), k.KeyID())
	}
	if !loaded.PublicKey().Equal(k.PublicKey()) {
		t.Error("loaded key has another public key")
	}
	// The loaded key signs what the original's public key verifies.
	jws, err := loaded.Sign([]byte("hello"), auth.TypeRecord)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Verify(jws, auth.TypeRecord, auth.KeySet{k.KeyID(): k.PublicKey()}); err != nil {
		t.Errorf("Verify with the original key: %v", err)
	}
}

func TestWriteFileRefusesOverwrite(t *testing.T) {
	// A key is never lost by a mistyped command.
	first, second := newKey(t), newKey(t)
	path := filepath.Join(t.TempDir(), "node.jwk")
	if err := first.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := second.WriteFile(path); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second WriteFile error %v, want fs.ErrExist", err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Error("WriteFile replaced an existing key file")
	}
}

func TestWriteFileMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "key.jwk")
	if err := newKey(t).WriteFile(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WriteFile into a missing directory: error %v, want fs.ErrNotExist", err)
	}
}

func TestLoadKeyErrors(t *testing.T) {
	k := newKey(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    []byte
		wantIs  error
		wantErr bool
	}{
		{name: "public Ed25519 JWK", data: marshalJWK(t, k.PublicJWK()), wantIs: auth.ErrNotPrivate},
		{name: "RSA private JWK", data: marshalJWK(t, jose.JSONWebKey{Key: rsaKey}), wantIs: auth.ErrNotPrivate},
		{name: "EC private JWK", data: marshalJWK(t, jose.JSONWebKey{Key: ecKey}), wantIs: auth.ErrNotPrivate},
		{name: "not JSON", data: []byte("-----BEGIN PRIVATE KEY-----"), wantErr: true},
		{name: "empty", data: nil, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeKeyFile(t, tt.data)
			got, err := auth.LoadKey(path)
			if err == nil {
				t.Fatalf("LoadKey = %v, want an error", got.KeyID())
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("LoadKey error %v, want %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		if _, err := auth.LoadKey(filepath.Join(t.TempDir(), "none.jwk")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("LoadKey(missing) error %v, want fs.ErrNotExist", err)
		}
	})
}

func TestLoadOrCreateKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data", "keys", "node.jwk")
	created, err := auth.LoadOrCreateKey(path)
	if err != nil {
		t.Fatalf("LoadOrCreateKey (create): %v", err)
	}
	for _, d := range []string{filepath.Join(dir, "data"), filepath.Join(dir, "data", "keys")} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatalf("directory not created: %v", err)
		}
		if perm := fi.Mode().Perm(); perm != 0o700 {
			t.Errorf("%s mode %v, want 0700", d, perm)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("key file not written: %v", err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode %v, want 0600", perm)
	}
	reloaded, err := auth.LoadOrCreateKey(path)
	if err != nil {
		t.Fatalf("LoadOrCreateKey (reload): %v", err)
	}
	if reloaded.KeyID() != created.KeyID() || !reloaded.PublicKey().Equal(created.PublicKey()) {
		t.Errorf("reloaded kid %s, created %s", reloaded.KeyID(), created.KeyID())
	}
}

func TestLoadOrCreateKeyKeepsBadFile(t *testing.T) {
	// A key file that cannot be read as a key is an error, never silently replaced.
	path := writeKeyFile(t, []byte(`{"kty":"oct","k":"c2VjcmV0"}`))
	if k, err := auth.LoadOrCreateKey(path); err == nil {
		t.Fatalf("LoadOrCreateKey over a bad file = %s, want an error", k.KeyID())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != `{"kty":"oct","k":"c2VjcmV0"}` {
		t.Errorf("bad key file replaced: %s", data)
	}
}

func TestParsePublicJWK(t *testing.T) {
	k := newKey(t)
	other := newKey(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	privFile := filepath.Join(t.TempDir(), "k.jwk")
	if err := k.WriteFile(privFile); err != nil {
		t.Fatal(err)
	}
	privJWK, err := os.ReadFile(privFile)
	if err != nil {
		t.Fatal(err)
	}
	bare := jose.JSONWebKey{Key: k.PublicKey()}

	tests := []struct {
		name    string
		data    []byte
		wantIs  error
		wantErr bool
	}{
		{name: "public JWK with kid", data: marshalJWK(t, k.PublicJWK())},
		{name: "public JWK without kid", data: marshalJWK(t, bare)},
		{name: "private JWK: only the public half is kept", data: privJWK},
		{name: "kid that is not the thumbprint", data: marshalJWK(t, jose.JSONWebKey{Key: k.PublicKey(), KeyID: other.KeyID()}), wantErr: true},
		{name: "kid chosen by the sender", data: marshalJWK(t, jose.JSONWebKey{Key: k.PublicKey(), KeyID: "hub-2026"}), wantErr: true},
		{name: "RSA public key", data: marshalJWK(t, jose.JSONWebKey{Key: &rsaKey.PublicKey}), wantIs: auth.ErrNotEd25519},
		{name: "RSA private key", data: marshalJWK(t, jose.JSONWebKey{Key: rsaKey}), wantIs: auth.ErrNotEd25519},
		{name: "EC P-256 public key", data: marshalJWK(t, jose.JSONWebKey{Key: &ecKey.PublicKey}), wantIs: auth.ErrNotEd25519},
		{name: "symmetric key", data: []byte(`{"kty":"oct","k":"c2VjcmV0"}`), wantIs: auth.ErrNotEd25519},
		{name: "not JSON", data: []byte("ssh-ed25519 AAAA"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := auth.ParsePublicJWK(tt.data)
			if tt.wantIs != nil || tt.wantErr {
				if err == nil {
					t.Fatalf("ParsePublicJWK = %+v, want an error", got)
				}
				if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
					t.Errorf("error %v, want %v", err, tt.wantIs)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePublicJWK: %v", err)
			}
			pub, ok := got.Key.(ed25519.PublicKey)
			if !ok {
				t.Fatalf("key is %T, want ed25519.PublicKey", got.Key)
			}
			if !pub.Equal(k.PublicKey()) {
				t.Error("public key differs from the input's")
			}
			if got.KeyID != k.KeyID() || got.Algorithm != "EdDSA" || got.Use != "sig" {
				t.Errorf("kid %q alg %q use %q; want kid %q, EdDSA, sig", got.KeyID, got.Algorithm, got.Use, k.KeyID())
			}
			// Nothing private survives into what the hub stores and publishes.
			var fields map[string]any
			if err := json.Unmarshal(marshalJWK(t, got), &fields); err != nil {
				t.Fatal(err)
			}
			if _, ok := fields["d"]; ok {
				t.Errorf("parsed JWK still holds the private part: %v", fields)
			}
		})
	}
}

func TestJWKS(t *testing.T) {
	a, b := newKey(t), newKey(t)
	set := auth.JWKS(a.PublicJWK(), b.PublicJWK())
	var got []string
	for _, k := range set.Keys {
		got = append(got, k.KeyID)
	}
	if diff := cmp.Diff([]string{a.KeyID(), b.KeyID()}, got); diff != "" {
		t.Errorf("JWKS key ids (-want +got):\n%s", diff)
	}
	if found := set.Key(b.KeyID()); len(found) != 1 {
		t.Errorf("JWKS lookup by kid found %d keys", len(found))
	}
}
