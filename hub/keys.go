package hub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/go-jose/go-jose/v4"
	"github.com/hashicorp/go-memdb"
	"github.com/labstack/echo/v4"
)

// Key lifecycle (docs/PROTOCOL.md section 2): a program holds several keys, each with a
// validity window; a program rotates to a new key with an announcement signed by a key
// the hub accepts for it now (or an admin adds one); an admin revokes a key with an
// effective time. Every check is made at the hub's clock when a signature arrives,
// never at a time the signer claims, so a stolen key cannot backdate its way past a
// revocation.

// Key lifecycle errors.
var (
	// ErrNoSuchKey: the program is not enrolled, or has no key with that kid.
	ErrNoSuchKey = errors.New("no such key")
	// ErrAlreadyRevoked: a revocation of a key already revoked; nothing changes.
	ErrAlreadyRevoked = errors.New("key already revoked")
	// ErrKeyConflict: a key asked for again with another window, or a revoked key
	// asked for again.
	ErrKeyConflict = errors.New("key already enrolled differently")
	// ErrBadRotation: a rotation announcement whose payload is not one.
	ErrBadRotation = errors.New("malformed rotation announcement")
)

// Key sources: how a key came to be enrolled.
const (
	sourceEnrollment = "enrollment" // POST /v1/programs (admin)
	sourceAdmin      = "admin"      // POST /v1/programs/{code}/keys with JSON (admin)
	sourceRotation   = "rotation"   // POST /v1/programs/{code}/keys with a signed announcement
)

// maxRevokeReason bounds a revocation's reason.
const maxRevokeReason = 500

// enrolledKey is a program's public key and its lifecycle. It lives in its program's
// programState (journal bucket "programs") and, for lookups by kid, in memdb's keys
// table. Objects read from memdb are shared: copy before changing.
type enrolledKey struct {
	Kid     string          `json:"kid"`
	Program string          `json:"program"`
	JWK     jose.JSONWebKey `json:"jwk"`
	AddedAt time.Time       `json:"added_at"`
	// Window is when the hub accepts the key's signatures: not_before (enrollment sets
	// it to the time of enrollment unless told), not_after (set by a rotation away from
	// the key, or at enrollment) and revoked_at. Keys enrolled before windows existed
	// have none: valid from the start.
	auth.Window
	RevokeReason string `json:"revoke_reason,omitempty"`
	RevokedBy    string `json:"revoked_by,omitempty"` // the admin token's subject
	Source       string `json:"source,omitempty"`     // enrollment, admin or rotation
	RotatedFrom  string `json:"rotated_from,omitempty"`
}

// usableAt answers nil if the hub accepts the key's signatures at at, or why not, naming
// the key, its program and, for a revocation, its reason.
func (k *enrolledKey) usableAt(at time.Time) error {
	err := k.Check(at)
	if err == nil {
		return nil
	}
	why := ""
	if k.RevokedAt != nil && k.RevokeReason != "" && errors.Is(err, auth.ErrKeyRevoked) {
		why = fmt.Sprintf(" (reason: %s)", k.RevokeReason)
	}
	return fmt.Errorf("key %s of program %s: %w%s", k.Kid, k.Program, err, why)
}

func (k *enrolledKey) view(now time.Time) KeyView {
	return KeyView{Kid: k.Kid, JWK: k.JWK, AddedAt: k.AddedAt, Window: k.Window, State: k.State(now),
		RevokeReason: k.RevokeReason, RevokedBy: k.RevokedBy, Source: k.Source, RotatedFrom: k.RotatedFrom}
}

// keyRevokedAt is when the key kid was revoked, or nil: the flag a record's provenance
// carries.
func keyRevokedAt(txn *memdb.Txn, kid string) *time.Time {
	raw, err := txn.First(tableKeys, indexID, kid)
	if err != nil || raw == nil {
		return nil
	}
	return raw.(*enrolledKey).RevokedAt
}

// newWindow checks and completes a requested validity window: not_before defaults to
// now; not_after must follow not_before and not be past already.
func newWindow(errs *schema.ValidationError, notBefore, notAfter *time.Time, now time.Time) auth.Window {
	nb := now
	if notBefore != nil {
		nb = notBefore.UTC()
	}
	w := auth.Window{NotBefore: &nb}
	if notAfter != nil {
		na := notAfter.UTC()
		w.NotAfter = &na
		switch {
		case na.Before(nb):
			errs.Add("not_after", fmt.Sprintf("is before not_before (%s); a key's window must end after it begins", nb.Format(time.RFC3339)))
		case na.Before(now):
			errs.Add("not_after", fmt.Sprintf("is in the past (the hub's time is %s); a key that is already expired cannot sign anything", now.Format(time.RFC3339)))
		}
	}
	return w
}

// parseProgramJWK reads a program's public key from a request, adding what is wrong with
// it to errs under field.
func (h *Hub) parseProgramJWK(errs *schema.ValidationError, field string, raw json.RawMessage) jose.JSONWebKey {
	var jwk jose.JSONWebKey
	var err error
	switch {
	case len(raw) == 0 || string(raw) == "null":
		errs.Add(field, "is required: the program's public Ed25519 JWK")
	case auth.HasPrivatePart(raw):
		// A private key sent over the network is compromised: refuse it so the program
		// makes a new one, rather than quietly keeping its public half.
		errs.Add(field, "holds a private key; send only the public JWK (alliancehub enroll strips it), and generate a new key: this one has left its machine")
	default:
		if jwk, err = auth.ParsePublicJWK(raw); err != nil {
			errs.Add(field, err.Error())
		} else if jwk.KeyID == h.key.KeyID() {
			// The hub never authors records, and a node holding the hub's key could mint
			// tokens the hub takes as its own (admin).
			errs.Add(field, "is the hub's own key; a program needs a key of its own (alliancehub keygen)")
		}
	}
	return jwk
}

// addKeyTxn adds k to p (whose Keys the caller has copied) unless p already holds it.
// A key another program holds is refused; so is a key p holds but revoked, and one it
// holds with another window when explicit says the request named one. It answers
// whether k was added.
func addKeyTxn(txn *memdb.Txn, p *programState, k enrolledKey, explicit bool) (bool, error) {
	if raw, _ := txn.First(tableKeys, indexID, k.Kid); raw != nil && raw.(*enrolledKey).Program != p.Code {
		return false, fmt.Errorf("%w: %s belongs to %s", ErrKeyInUse, k.Kid, raw.(*enrolledKey).Program)
	}
	i := slices.IndexFunc(p.Keys, func(e enrolledKey) bool { return e.Kid == k.Kid })
	if i < 0 {
		p.Keys = append(p.Keys, k)
		return true, nil
	}
	have := p.Keys[i]
	if have.RevokedAt != nil {
		return false, fmt.Errorf("%w: key %s of %s was revoked at %s; a revoked key is never enrolled again: generate a new one (alliancehub keygen)",
			ErrKeyConflict, k.Kid, p.Code, have.RevokedAt.Format(time.RFC3339))
	}
	if explicit && (!sameTime(have.NotBefore, k.NotBefore) || !sameTime(have.NotAfter, k.NotAfter)) {
		return false, fmt.Errorf("%w: key %s of %s is enrolled with not_before %s and not_after %s; a key's window is set once (end it early with POST /v1/programs/%s/keys/%s/revoke, or rotate)",
			ErrKeyConflict, k.Kid, p.Code, showTime(have.NotBefore), showTime(have.NotAfter), p.Code, k.Kid)
	}
	return false, nil
}

func sameTime(a, b *time.Time) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && a.Equal(*b))
}

func showTime(t *time.Time) string {
	if t == nil {
		return "(none)"
	}
	return t.UTC().Format(time.RFC3339)
}

// commitProgram makes p durable, then visible: the journal first, so nothing visible
// can be lost.
func (h *Hub) commitProgram(txn *memdb.Txn, p *programState) error {
	if err := h.saveProgram(p); err != nil {
		return err
	}
	if err := insertProgramTxn(txn, p); err != nil {
		return err
	}
	txn.Commit()
	return nil
}

// enrolledCopy reads an enrolled program for changing: a copy with its own Keys.
func enrolledCopy(txn *memdb.Txn, code string) (*programState, error) {
	raw, err := txn.First(tablePrograms, indexID, code)
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("%w: program %s is not enrolled (enroll it with POST /v1/programs)", ErrNoSuchKey, code)
	}
	p := *raw.(*programState)
	p.Keys = slices.Clone(p.Keys)
	return &p, nil
}

// KeyRequest is an admin's request to add a key to an enrolled program.
type KeyRequest struct {
	JWK       json.RawMessage `json:"jwk"`
	NotBefore *time.Time      `json:"not_before,omitempty"`
	NotAfter  *time.Time      `json:"not_after,omitempty"`
}

// AddKey enrolls another key for an enrolled program (admin), valid from not_before
// (default now) to not_after (default: no end). It leaves the program's other keys as
// they are. added says whether the key is new; asking again for a key the program holds
// with the same window changes nothing.
func (h *Hub) AddKey(code string, req KeyRequest) (view *ProgramView, added bool, err error) {
	now := h.now().UTC()
	var errs schema.ValidationError
	jwk := h.parseProgramJWK(&errs, "jwk", req.JWK)
	win := newWindow(&errs, req.NotBefore, req.NotAfter, now)
	if err := errs.Err(); err != nil {
		return nil, false, err
	}
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	txn := h.db.Txn(true)
	defer txn.Abort()
	p, err := enrolledCopy(txn, code)
	if err != nil {
		return nil, false, err
	}
	k := enrolledKey{Kid: jwk.KeyID, Program: code, JWK: jwk, AddedAt: now, Window: win, Source: sourceAdmin}
	if added, err = addKeyTxn(txn, p, k, req.NotBefore != nil || req.NotAfter != nil); err != nil || !added {
		v := h.view(p)
		return &v, false, err
	}
	if err := h.commitProgram(txn, p); err != nil {
		return nil, false, err
	}
	v := h.view(p)
	return &v, true, nil
}

// Rotate enrolls a program's next key from a rotation announcement (a compact JWS, typ
// auth.TypeRotation) signed by a key the hub accepts for the program now. The new key
// is valid from now, with no end; the signing key's not_after becomes the
// announcement's retire_old_at, or wire.RotationGrace from now, unless it already ends
// sooner. The program is never left without a valid key: the key that takes over is
// valid before the old one stops. An announcement for a key already enrolled (a retry
// whose answer was lost) changes nothing but may bring the old key's end nearer.
func (h *Hub) Rotate(code string, body []byte) (view *ProgramView, added bool, err error) {
	now := h.now().UTC()
	v, err := auth.Verify(string(bytes.TrimSpace(body)), auth.TypeRotation, programKeys{h, now})
	if err != nil {
		return nil, false, fmt.Errorf("rotation: %w", err)
	}
	signer := h.enrolledKey(v.KeyID)
	if signer == nil {
		return nil, false, fmt.Errorf("rotation: %w: %q", auth.ErrUnknownKey, v.KeyID)
	}
	if signer.Program != code {
		return nil, false, fmt.Errorf("%w: a rotation for program %s is signed with a key of %s", ErrNotOwner, code, signer.Program)
	}
	var rot wire.Rotation
	dec := json.NewDecoder(bytes.NewReader(v.Payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rot); err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrBadRotation, err)
	}
	if rot.Program != code {
		return nil, false, fmt.Errorf("%w: it announces a key for program %q but was sent for %s", ErrBadRotation, rot.Program, code)
	}
	if skew := now.Sub(rot.IssuedAt); skew > wire.MaxClockSkew || skew < -wire.MaxClockSkew {
		return nil, false, fmt.Errorf("%w: rotation issued %s, hub time %s (allowed %s); check the node's clock",
			ErrClockSkew, rot.IssuedAt.UTC().Format(time.RFC3339), now.Format(time.RFC3339), wire.MaxClockSkew)
	}
	var errs schema.ValidationError
	jwk := h.parseProgramJWK(&errs, "jwk", rot.JWK)
	if jwk.KeyID != "" && jwk.KeyID == signer.Kid {
		errs.Add("jwk", "is the key that signed this announcement; rotate to a new key (the node generates one)")
	}
	retire := now.Add(wire.RotationGrace)
	if rot.RetireOldAt != nil {
		if retire = rot.RetireOldAt.UTC(); retire.Before(now) {
			errs.Add("retire_old_at", fmt.Sprintf("is in the past (the hub's time is %s); the hub has accepted what the old key signed until now, so its end can be now at the earliest", now.Format(time.RFC3339)))
		}
	}
	if err := errs.Err(); err != nil {
		return nil, false, err
	}

	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	txn := h.db.Txn(true)
	defer txn.Abort()
	p, err := enrolledCopy(txn, code)
	if err != nil {
		return nil, false, err
	}
	// Checked again under the lock: a revocation may have come in since.
	old := slices.IndexFunc(p.Keys, func(k enrolledKey) bool { return k.Kid == signer.Kid })
	if old < 0 {
		return nil, false, fmt.Errorf("rotation: %w: %q", auth.ErrUnknownKey, signer.Kid)
	}
	if err := p.Keys[old].usableAt(now); err != nil {
		return nil, false, fmt.Errorf("rotation: %w", err)
	}
	k := enrolledKey{Kid: jwk.KeyID, Program: code, JWK: jwk, AddedAt: now, Window: auth.Window{NotBefore: &now},
		Source: sourceRotation, RotatedFrom: signer.Kid}
	if added, err = addKeyTxn(txn, p, k, false); err != nil {
		return nil, false, err
	}
	changed := added
	if na := p.Keys[old].NotAfter; na == nil || retire.Before(*na) {
		p.Keys[old].NotAfter = &retire
		changed = true
	}
	if changed {
		if err := h.commitProgram(txn, p); err != nil {
			return nil, false, err
		}
	}
	h.log.Info("key rotated", "program", code, "new_kid", jwk.KeyID, "old_kid", signer.Kid,
		"old_not_after", p.Keys[old].NotAfter.Format(time.RFC3339), "new", added)
	view = new(ProgramView)
	*view = h.view(p)
	return view, added, nil
}

// Revocation is an admin's revocation of a key: effective at effective_at (default now;
// never before now) for the reason given.
type Revocation struct {
	EffectiveAt *time.Time `json:"effective_at,omitempty"`
	Reason      string     `json:"reason,omitempty"`
}

// Revoke revokes a program's key from effective_at on: the hub refuses the key's
// signatures (batches, records, rotations, tokens) received after it. What the key signed
// before stays, flagged in its provenance. An admin may revoke a program's last valid
// key; the program then needs a new key enrolled (POST /v1/programs) before it can push.
// A key already revoked is refused with ErrAlreadyRevoked, and nothing changes.
func (h *Hub) Revoke(code, kid string, req Revocation, by string) (*ProgramView, error) {
	now := h.now().UTC()
	var errs schema.ValidationError
	at := now
	if req.EffectiveAt != nil {
		if at = req.EffectiveAt.UTC(); at.Before(now) {
			errs.Add("effective_at", fmt.Sprintf("is in the past (the hub's time is %s); the hub has accepted what the key signed until now, and those records stay (flagged): a revocation takes effect now or later", now.Format(time.RFC3339)))
		}
	}
	if len(req.Reason) > maxRevokeReason {
		errs.Add("reason", fmt.Sprintf("at most %d characters", maxRevokeReason))
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	txn := h.db.Txn(true)
	defer txn.Abort()
	p, err := enrolledCopy(txn, code)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(p.Keys, func(k enrolledKey) bool { return k.Kid == kid })
	if i < 0 {
		return nil, fmt.Errorf("%w: program %s has no key %q (GET /v1/programs lists its keys)", ErrNoSuchKey, code, kid)
	}
	if r := p.Keys[i].RevokedAt; r != nil {
		return nil, fmt.Errorf("%w: key %s of %s was revoked at %s (reason: %q); nothing changed",
			ErrAlreadyRevoked, kid, code, r.Format(time.RFC3339Nano), p.Keys[i].RevokeReason)
	}
	p.Keys[i].RevokedAt = &at
	p.Keys[i].RevokeReason = req.Reason
	p.Keys[i].RevokedBy = by
	if err := h.commitProgram(txn, p); err != nil {
		return nil, err
	}
	valid := 0
	for _, k := range p.Keys {
		if k.Check(at.Add(time.Nanosecond)) == nil {
			valid++
		}
	}
	h.log.Warn("key revoked", "program", code, "kid", kid, "effective_at", at.Format(time.RFC3339Nano),
		"reason", req.Reason, "by", by, "valid_keys_after", valid)
	v := h.view(p)
	return &v, nil
}

// handleAddKey serves POST /v1/programs/{code}/keys: a rotation announcement
// (application/jose, signed by a key the program holds now, with a program token for
// the program or an admin token), or an admin's key (application/json, KeyRequest).
// 201 when the key is new, 200 when it was already enrolled.
func (h *Hub) handleAddKey(c echo.Context) error {
	code := c.Param("code")
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	var (
		view  *ProgramView
		added bool
		err   error
	)
	switch mt {
	case wire.MediaTypeJOSE:
		if err := edge.Require(c, auth.RoleProgram, auth.RoleAdmin); err != nil {
			return err
		}
		if cl := edge.Claims(c); cl.Role == auth.RoleProgram && cl.Program != code {
			return edge.Errorf(http.StatusForbidden, "forbidden", "token is for program %s; this rotation is for %s", cl.Program, code)
		}
		body, err := edge.ReadBody(c, wire.MediaTypeJOSE, wire.MaxRotationBody)
		if err != nil {
			return err
		}
		view, added, err = h.Rotate(code, body)
		if err != nil {
			return err
		}
	case echo.MIMEApplicationJSON:
		if err := edge.Require(c, auth.RoleAdmin); err != nil {
			return err
		}
		var req KeyRequest
		if err := edge.DecodeJSON(c, &req); err != nil {
			return err
		}
		if view, added, err = h.AddKey(code, req); err != nil {
			return err
		}
		h.log.Info("key added", "program", code, "keys", len(view.Keys), "new", added, "by", edge.Claims(c).Subject)
	default:
		return edge.Errorf(http.StatusUnsupportedMediaType, "unsupported-media-type",
			"Content-Type is %q; want application/jose (a rotation announcement signed by the program's current key) or application/json (an admin adding a key)",
			c.Request().Header.Get(echo.HeaderContentType))
	}
	status := http.StatusOK
	if added {
		status = http.StatusCreated
	}
	return c.JSON(status, view)
}

// handleRevoke serves POST /v1/programs/{code}/keys/{kid}/revoke (admin); the body
// (Revocation) may be empty.
func (h *Hub) handleRevoke(c echo.Context) error {
	if err := edge.Require(c, auth.RoleAdmin); err != nil {
		return err
	}
	var req Revocation
	if c.Request().ContentLength != 0 {
		body, err := edge.ReadBody(c, "", edge.MaxJSONBody)
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(body)) > 0 {
			if mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType)); mt != echo.MIMEApplicationJSON {
				return edge.Errorf(http.StatusUnsupportedMediaType, "unsupported-media-type", "Content-Type is %q; want application/json", c.Request().Header.Get(echo.HeaderContentType))
			}
			if err := edge.Unmarshal(body, &req); err != nil {
				return err
			}
		}
	}
	view, err := h.Revoke(c.Param("code"), c.Param("kid"), req, edge.Claims(c).Subject)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, view)
}

// UseKeys keeps the keys of a verified keys document in the replica, so its roster flags
// records signed by revoked keys as the hub's does.
func (r *Replica) UseKeys(doc *wire.KeysDocument) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	txn := r.db.Txn(true)
	defer txn.Abort()
	if _, err := txn.DeleteAll(tableKeys, indexID); err != nil {
		return err
	}
	for _, p := range doc.Programs {
		for _, k := range p.Keys {
			if err := txn.Insert(tableKeys, &enrolledKey{Kid: k.Kid, Program: p.Code, JWK: k.JWK, AddedAt: k.AddedAt, Window: k.Window}); err != nil {
				return err
			}
		}
	}
	txn.Commit()
	return nil
}
