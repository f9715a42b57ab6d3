package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/go-jose/go-jose/v4"
)

// runVerify checks an exported bundle (GET /v1/roster/{id}/bundle on the hub) or a lone
// signed record offline, and says who signed what.
func runVerify(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("verify", "verify [--hub-jwk FILE] [--jwk FILE] [--json] FILE", stderr)
	hubJWK := fs.String("hub-jwk", "", "the hub's public key to trust (else the bundle's own, whose key id is printed for you to compare)")
	progJWK := fs.String("jwk", "", "for a lone record: the signing program's public key")
	asJSON := fs.Bool("json", false, "print the verified records as JSON")
	// FILE comes last, after any flags.
	if len(args) == 0 || strings.HasPrefix(args[len(args)-1], "-") {
		if err := parse(fs, args); err != nil {
			return err
		}
		return usageError("verify takes one FILE: a bundle (.bundle.json) or a signed record")
	}
	file := args[len(args)-1]
	if err := parse(fs, args[:len(args)-1]); err != nil {
		return err
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	raw = bytes.TrimSpace(raw)
	var (
		hubKid string
		out    []hub.Verified
	)
	if len(raw) > 0 && raw[0] == '{' {
		var b wire.Bundle
		if err := json.Unmarshal(raw, &b); err != nil {
			return fmt.Errorf("%s is not a bundle: %v", file, err)
		}
		var trusted *jose.JSONWebKey
		if *hubJWK != "" {
			if trusted, err = readPublicJWK(*hubJWK); err != nil {
				return usageError("--hub-jwk: %v", err)
			}
		}
		if hubKid, out, err = hub.VerifyBundle(&b, trusted); err != nil {
			return err
		}
	} else {
		v, err := verifyLone(string(raw), *progJWK)
		if err != nil {
			return err
		}
		out = []hub.Verified{v}
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"hub_kid": hubKid, "records": out})
	}
	if hubKid != "" {
		fmt.Fprintf(stdout, "keys vouched for by hub key %s\n", hubKid)
	}
	for _, v := range out {
		fmt.Fprintf(stdout, "OK %s %s %s: signed by program %s with key %s at %s",
			v.Kind, v.ID, v.Rev, v.Program, v.Kid, v.SignedAt.UTC().Format("2006-01-02T15:04:05Z"))
		if !v.ReceivedAt.IsZero() {
			fmt.Fprintf(stdout, ", received by the hub at %s", v.ReceivedAt.UTC().Format("2006-01-02T15:04:05Z"))
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

// verifyLone checks one signed record: its revision hash always, its signature when the
// program's public key is given (a lone record names its key but does not carry it).
func verifyLone(jws, jwkFile string) (hub.Verified, error) {
	_, kid, err := auth.UnverifiedPayload(jws)
	if err != nil {
		return hub.Verified{}, fmt.Errorf("not a bundle or a signed record: %v", err)
	}
	if jwkFile == "" {
		return hub.Verified{}, errors.New("a lone record names its key (" + kid + ") but does not carry it: pass --jwk with the program's public key, or verify a bundle (GET /v1/roster/{id}/bundle)")
	}
	k, err := readPublicJWK(jwkFile)
	if err != nil {
		return hub.Verified{}, usageError("--jwk: %v", err)
	}
	pub, ok := k.Key.(ed25519.PublicKey)
	if !ok {
		return hub.Verified{}, usageError("--jwk: not an Ed25519 public key")
	}
	v, err := auth.Verify(jws, auth.TypeRecord, auth.KeySet{k.KeyID: pub})
	if err != nil {
		return hub.Verified{}, fmt.Errorf("signature: %v", err)
	}
	var rec schema.Record
	if err := json.Unmarshal(v.Payload, &rec); err != nil {
		return hub.Verified{}, fmt.Errorf("not a record: %v", err)
	}
	if err := rec.CheckRev(); err != nil {
		return hub.Verified{}, err
	}
	if owner, err := schema.ProgramOfID(rec.ID); err != nil || owner != rec.Program {
		return hub.Verified{}, fmt.Errorf("record %s claims program %q", rec.ID, rec.Program)
	}
	return hub.Verified{ID: rec.ID, Kind: rec.Kind, Rev: rec.Rev, Program: rec.Program, Kid: v.KeyID, SignedAt: rec.IssuedAt}, nil
}

// readPublicJWK reads a public Ed25519 JWK, or a JWK Set holding one (as the hub's
// /.well-known/jwks.json answers).
func readPublicJWK(file string) (*jose.JSONWebKey, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if json.Unmarshal(raw, &set) == nil && len(set.Keys) == 1 {
		raw = set.Keys[0]
	}
	k, err := auth.ParsePublicJWK(raw)
	if err != nil {
		return nil, err
	}
	return &k, nil
}
