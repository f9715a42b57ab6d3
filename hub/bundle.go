package hub

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/go-jose/go-jose/v4"
	"github.com/labstack/echo/v4"
)

// BundleKind marks an exported bundle (wire.Bundle.Kind).
const BundleKind = "alliancehub-bundle"

// Bundle exports every stored revision of an Alliance and of its reports, as their
// programs signed them, with the hub's signed keys document and the hub's public key,
// so that anyone can verify them offline (alliancehub verify).
func (h *Hub) Bundle(id string) (*wire.Bundle, error) {
	txn := h.db.Txn(false)
	raw, err := txn.First(tableRecords, indexID, id)
	if err != nil {
		return nil, err
	}
	if raw == nil || !raw.(*entry).onRoster() { // as GET /v1/roster/{id}: not a deleted draft
		return nil, fmt.Errorf("%w: %s", ErrNotOnRoster, id)
	}
	ids := []string{id}
	it, err := txn.Get(tableRecords, indexAlliance, id)
	if err != nil {
		return nil, err
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if e := raw.(*entry); e.ID != id {
			ids = append(ids, e.ID)
		}
	}
	var seqs []uint64
	for _, rid := range ids {
		revs, err := revisionsOf(txn, rid)
		if err != nil {
			return nil, err
		}
		for _, r := range revs {
			seqs = append(seqs, r.HubSeq)
		}
	}
	slices.Sort(seqs)
	keys, err := h.KeysDocument()
	if err != nil {
		return nil, err
	}
	b := &wire.Bundle{Kind: BundleKind, ExportedAt: h.now().UTC(), HubJWK: h.key.PublicJWK(), Keys: keys, Changes: []wire.Change{}}
	err = h.journal.View(func(tx *journal.Tx) error {
		for _, seq := range seqs {
			err := tx.Scan(seq-1, func(got uint64, v []byte) error {
				var le logEntry
				if err := json.Unmarshal(v, &le); err != nil {
					return err
				}
				if got == seq {
					b.Changes = append(b.Changes, wire.Change{Seq: seq, ReceivedAt: le.ReceivedAt, Record: le.JWS})
				}
				return journal.ErrStop
			})
			if err != nil {
				return fmt.Errorf("journal entry %d: %w", seq, err)
			}
		}
		return nil
	})
	return b, err
}

func (h *Hub) handleBundle(c echo.Context) error {
	b, err := h.Bundle(c.Param("id"))
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s.bundle.json"`, c.Param("id")))
	return c.JSON(http.StatusOK, b)
}

// ErrBundle is a bundle that does not verify.
var ErrBundle = errors.New("bundle does not verify")

// Verified is one verified revision of a bundle: who signed it, with which key, when, and
// when the hub received it.
type Verified struct {
	ID         string      `json:"id"`
	Kind       schema.Kind `json:"kind"`
	Rev        string      `json:"rev"`
	Program    string      `json:"program"`
	Kid        string      `json:"kid"`
	SignedAt   time.Time   `json:"signed_at"`
	ReceivedAt time.Time   `json:"received_at"`
}

// VerifyBundle checks a bundle offline: the keys document's signature with the hub key
// the bundle names (or trusted, when given: the hub key the reader trusts), then every
// revision exactly as a node checks what it pulls (signature by a key of the owning
// program, inside the key's window when the hub received it, the revision hash). It
// answers the hub key that vouched and each revision's provenance.
func VerifyBundle(b *wire.Bundle, trusted *jose.JSONWebKey) (hubKid string, out []Verified, err error) {
	if b.Kind != BundleKind {
		return "", nil, fmt.Errorf("%w: kind %q, want %s", ErrBundle, b.Kind, BundleKind)
	}
	hubKey := &b.HubJWK
	if trusted != nil {
		if trusted.KeyID != b.HubJWK.KeyID {
			return "", nil, fmt.Errorf("%w: vouched for by hub key %s, not the trusted %s", ErrBundle, b.HubJWK.KeyID, trusted.KeyID)
		}
		hubKey = trusted
	}
	pub, ok := hubKey.Key.(ed25519.PublicKey)
	if !ok {
		return "", nil, fmt.Errorf("%w: the hub key is not an Ed25519 public key", ErrBundle)
	}
	if kid, err := auth.Thumbprint(pub); err != nil || kid != hubKey.KeyID {
		return "", nil, fmt.Errorf("%w: the hub key's kid is not its thumbprint", ErrBundle)
	}
	hubSet := auth.KeySet{hubKey.KeyID: pub}
	v, err := auth.Verify(b.Keys, auth.TypeKeys, hubSet)
	if err != nil {
		return "", nil, fmt.Errorf("%w: keys document: %v", ErrBundle, err)
	}
	var keys wire.KeysDocument
	if err := json.Unmarshal(v.Payload, &keys); err != nil {
		return "", nil, fmt.Errorf("%w: keys document: %v", ErrBundle, err)
	}
	if len(b.Changes) == 0 {
		return "", nil, fmt.Errorf("%w: it holds no records", ErrBundle)
	}
	for _, c := range b.Changes {
		if c.Note != "" || c.Record == "" {
			return "", nil, fmt.Errorf("%w: change %d is not a record", ErrBundle, c.Seq)
		}
	}
	if err := verifyChanges(&keys, hubSet, b.Changes); err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrBundle, err)
	}
	for _, c := range b.Changes {
		payload, kid, _ := auth.UnverifiedPayload(c.Record)
		var rec schema.Record
		json.Unmarshal(payload, &rec)
		out = append(out, Verified{ID: rec.ID, Kind: rec.Kind, Rev: rec.Rev, Program: rec.Program, Kid: kid,
			SignedAt: rec.IssuedAt, ReceivedAt: c.ReceivedAt})
	}
	return hubKey.KeyID, out, nil
}
