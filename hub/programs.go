package hub

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/go-jose/go-jose/v4"
)

// Enrollment errors.
var (
	ErrUnknownProgram = errors.New("no program definition for this code")
	ErrKeyInUse       = errors.New("key already enrolled for another program")
	ErrNotEnrolled    = errors.New("program is not enrolled")
)

// Enrollment asks the hub to accept a program's public key, valid from NotBefore
// (default: now) until NotAfter (default: no end).
type Enrollment struct {
	Code      string          `json:"code"`
	Name      string          `json:"name"`
	JWK       json.RawMessage `json:"jwk"`
	NotBefore *time.Time      `json:"not_before,omitempty"`
	NotAfter  *time.Time      `json:"not_after,omitempty"`
}

// ProgramView is an enrolled program as GET /v1/programs shows it.
type ProgramView struct {
	Code       string      `json:"code"`
	Name       string      `json:"name"`
	EnrolledAt time.Time   `json:"enrolled_at"`
	Keys       []KeyView   `json:"keys"`
	Sync       ProgramSync `json:"sync"`
}

// KeyView is an enrolled public key and its lifecycle: its window (not_before,
// not_after, revoked_at), its state at the hub's clock (pending, valid, expired,
// revoked), and how it came (enrollment, admin, rotation from rotated_from).
type KeyView struct {
	Kid     string          `json:"kid"`
	JWK     jose.JSONWebKey `json:"jwk"`
	AddedAt time.Time       `json:"added_at"`
	auth.Window
	State        string `json:"state"`
	RevokeReason string `json:"revoke_reason,omitempty"`
	RevokedBy    string `json:"revoked_by,omitempty"`
	Source       string `json:"source,omitempty"`
	RotatedFrom  string `json:"rotated_from,omitempty"`
}

// ProgramSync is a program's sync position as the hub sees it.
type ProgramSync struct {
	Checkpoint  uint64     `json:"checkpoint"`
	LastPushAt  *time.Time `json:"last_push_at,omitempty"`
	LastBatchID string     `json:"last_batch_id,omitempty"`
	Records     int        `json:"records"`
	// Head is the node's last sequence number as of its last push, and Lag what of it
	// the hub had not applied then (head minus checkpoint, never negative); both absent
	// until a push says its head.
	Head uint64  `json:"head,omitempty"`
	Lag  *uint64 `json:"lag,omitempty"`
	// LastError is the last push the hub refused from the program after authenticating
	// it; the next accepted push clears it.
	LastError  *PushError `json:"last_error,omitempty"`
	LastPullAt *time.Time `json:"last_pull_at,omitempty"`
	// StaleSince is set when the hub has seen neither a push nor a pull from the
	// program for StaleAfter: the moment that ran out.
	StaleSince *time.Time `json:"stale_since,omitempty"`
	// Outcomes counts the records the program has pushed, by outcome (accepted,
	// duplicate, stale, conflict, rejected), since it enrolled.
	Outcomes map[wire.Outcome]uint64 `json:"outcomes"`
}

// PushError is a push the hub refused, as it answered it.
type PushError struct {
	At      time.Time `json:"at"`
	Status  int       `json:"status"`
	Type    string    `json:"type"` // the problem type, e.g. urn:alliancehub:problem:clock-skew
	Detail  string    `json:"detail"`
	BatchID string    `json:"batch_id,omitempty"` // when the batch could be read
}

// StaleAfter is how long a program may go without a push or a pull before the hub calls
// it stale: one missed nightly run plus half a day for jitter, catch-up and time zones
// (DESIGN.md, Lessons: replication that stops silently, consul#12295).
const StaleAfter = 36 * time.Hour

// pullSaveEvery bounds how often a program's pulls are written to the journal: nodes
// long-poll the change feed, and last_pull_at only needs to survive a restart to the
// minute.
const pullSaveEvery = time.Minute

// maxErrorDetail bounds the detail a program's last error keeps.
const maxErrorDetail = 2000

// Enroll registers a program (which must have a definition) and a public key for it,
// valid from req.NotBefore (default now) to req.NotAfter (default no end). A key already
// enrolled for the program changes nothing (a revoked one, or one asked for with
// another window, is refused with ErrKeyConflict); created says whether the program is
// new.
func (h *Hub) Enroll(req Enrollment) (view *ProgramView, created bool, err error) {
	var errs schema.ValidationError
	def, ok := h.catalog.Get(req.Code)
	if !schema.ValidProgramCode(req.Code) {
		errs.Add("code", "must be 2 to 10 capital letters or digits, starting with a letter")
	} else if !ok {
		errs.Add("code", fmt.Sprintf("%v: %q (known: %v; add one with --programs)", ErrUnknownProgram, req.Code, h.catalog.Codes()))
	}
	jwk := h.parseProgramJWK(&errs, "jwk", req.JWK)
	now := h.now().UTC()
	win := newWindow(&errs, req.NotBefore, req.NotAfter, now)
	if len(req.Name) > 200 {
		errs.Add("name", "at most 200 characters")
	}
	if err := errs.Err(); err != nil {
		return nil, false, err
	}
	name := req.Name
	if name == "" {
		name = def.Name
	}

	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	txn := h.db.Txn(true)
	defer txn.Abort()
	var p programState
	if raw, _ := txn.First(tablePrograms, indexID, req.Code); raw != nil {
		p = *raw.(*programState)
		p.Keys = append([]enrolledKey(nil), p.Keys...)
	} else {
		p = programState{Code: req.Code, Name: name, EnrolledAt: now}
		created = true
	}
	if req.Name != "" {
		p.Name = req.Name
	}
	k := enrolledKey{Kid: jwk.KeyID, Program: req.Code, JWK: jwk, AddedAt: now, Window: win, Source: sourceEnrollment}
	if _, err := addKeyTxn(txn, &p, k, req.NotBefore != nil || req.NotAfter != nil); err != nil {
		return nil, false, err
	}
	if err := h.commitProgram(txn, &p); err != nil {
		return nil, false, err
	}
	v := h.view(&p)
	return &v, created, nil
}

// saveProgram makes a program's state durable.
func (h *Hub) saveProgram(p *programState) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return h.journal.Update(func(tx *journal.Tx) error { return tx.Put(bucketPrograms, p.Code, raw) })
}

// Programs lists the enrolled programs with their keys and sync position.
func (h *Hub) Programs() []ProgramView {
	it, err := h.db.Txn(false).Get(tablePrograms, indexID)
	if err != nil {
		return nil
	}
	out := []ProgramView{}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, h.view(raw.(*programState)))
	}
	return out
}

func (h *Hub) view(p *programState) ProgramView {
	now := h.now()
	v := ProgramView{Code: p.Code, Name: p.Name, EnrolledAt: p.EnrolledAt, Keys: []KeyView{},
		Sync: ProgramSync{Checkpoint: p.Checkpoint, LastPushAt: p.LastPushAt, LastBatchID: p.LastBatchID,
			Head: p.Head, LastError: p.LastError, LastPullAt: p.LastPullAt, StaleSince: p.staleSince(now),
			Outcomes: map[wire.Outcome]uint64{wire.Accepted: 0, wire.Duplicate: 0, wire.Stale: 0, wire.Conflict: 0, wire.Rejected: 0}}}
	maps.Copy(v.Sync.Outcomes, p.Outcomes)
	if p.Head > 0 {
		lag := p.Head - min(p.Head, p.Checkpoint) // a re-sent old batch has a head below the checkpoint
		v.Sync.Lag = &lag
	}
	for _, k := range p.Keys {
		v.Keys = append(v.Keys, k.view(now))
	}
	if c, err := countsOf(h.db.Txn(false), p.Code); err == nil {
		v.Sync.Records = c.Records
	}
	return v
}

// staleSince is when the program went StaleAfter without a push or a pull (counted from
// its enrollment if it never made either), or nil if it has not. A refused push does not
// count: nothing of the program's arrived.
func (p *programState) staleSince(now time.Time) *time.Time {
	seen := p.EnrolledAt
	for _, t := range []*time.Time{p.LastPushAt, p.LastPullAt} {
		if t != nil && t.After(seen) {
			seen = *t
		}
	}
	since := seen.Add(StaleAfter).UTC()
	if now.Before(since) {
		return nil
	}
	return &since
}

// noteContact records that program read the change feed at at. memdb has it at once; the
// journal at most once every pullSaveEvery per program, so a node's long polls cost no
// disk writes.
func (h *Hub) noteContact(program string, at time.Time) {
	if program == "" {
		return // not a program's token: an analyst's read is no sign of a node
	}
	at = at.UTC()
	err := h.updateProgram(program, func(p *programState) (persist bool) {
		if p.LastPullAt != nil && !at.After(*p.LastPullAt) {
			return false
		}
		p.LastPullAt = &at
		if at.Sub(p.pullSaved) < pullSaveEvery {
			return false
		}
		p.pullSaved = at
		return true
	})
	if err != nil {
		h.log.Error("recording a pull", "program", program, "err", err)
	}
}

// noteRefusal records a push refused from an authenticated program as its last error,
// durably. An error that is the hub's own (a 500) is not the program's, and is not kept.
func (h *Hub) noteRefusal(program, batchID string, err error) {
	p := pushProblem(err)
	if p == nil || p.Status >= 500 {
		return
	}
	detail := p.Detail
	if len(detail) > maxErrorDetail {
		detail = strings.ToValidUTF8(detail[:maxErrorDetail], "") + "..."
	}
	if len(batchID) > 64 {
		batchID = "" // not a batch id (bad-batch); the detail says so
	}
	e := &PushError{At: h.now().UTC(), Status: p.Status, Type: p.Type, Detail: detail, BatchID: batchID}
	uerr := h.updateProgram(program, func(s *programState) bool {
		s.LastError = e
		return true
	})
	if uerr != nil {
		h.log.Error("recording a refused push", "program", program, "err", uerr)
	}
}

// updateProgram changes an enrolled program's state with fn in memdb and, when fn says
// so, in the journal first. A program that is not enrolled changes nothing.
func (h *Hub) updateProgram(code string, fn func(*programState) (persist bool)) error {
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	txn := h.db.Txn(true)
	defer txn.Abort()
	raw, err := txn.First(tablePrograms, indexID, code)
	if err != nil || raw == nil {
		return err
	}
	p := *raw.(*programState)
	if fn(&p) {
		if err := h.saveProgram(&p); err != nil {
			return err
		}
	}
	if err := txn.Insert(tablePrograms, &p); err != nil {
		return err
	}
	txn.Commit()
	return nil
}

// programKeys looks up enrolled program keys by kid for signatures received at at: the
// keys that sign records, batches and rotations and may mint program tokens. A key
// outside its window or revoked at at is refused, with the reason and its times.
type programKeys struct {
	h  *Hub
	at time.Time
}

func (k programKeys) LookupKey(kid string) (ed25519.PublicKey, error) {
	ek := k.h.enrolledKey(kid)
	if ek == nil {
		return nil, fmt.Errorf("%w: %q is not an enrolled program key", auth.ErrUnknownKey, kid)
	}
	if err := ek.usableAt(k.at); err != nil {
		return nil, err
	}
	if pub, ok := ek.JWK.Key.(ed25519.PublicKey); ok {
		return pub, nil
	}
	return nil, fmt.Errorf("%w: %q is not an Ed25519 key", auth.ErrUnknownKey, kid)
}

func (h *Hub) enrolledKey(kid string) *enrolledKey {
	raw, err := h.db.Txn(false).First(tableKeys, indexID, kid)
	if err != nil || raw == nil {
		return nil
	}
	return raw.(*enrolledKey)
}

// tokenKeys accepts the hub's own key and enrolled program keys valid at at.
type tokenKeys programKeys

func (k tokenKeys) LookupKey(kid string) (ed25519.PublicKey, error) {
	if kid == k.h.key.KeyID() {
		return k.h.key.PublicKey(), nil
	}
	return programKeys(k).LookupKey(kid)
}

// verifyToken accepts tokens signed by the hub's key (any role) and, for role program
// only, by an enrolled key of that same program that is valid now (CONTRACT.md,
// Tokens): a revoked or expired key's tokens are refused, naming the key and the time.
func (h *Hub) verifyToken(raw string) (*auth.Claims, error) {
	now := h.now()
	c, kid, err := h.tokens.Verify(raw, tokenKeys{h, now}, now)
	if err != nil {
		return nil, err
	}
	if kid == h.key.KeyID() {
		return c, nil
	}
	ek := h.enrolledKey(kid)
	if ek == nil || c.Role != auth.RoleProgram || c.Program != ek.Program {
		return nil, fmt.Errorf("%w: a program's key may only mint program tokens for its own program", auth.ErrTokenInvalid)
	}
	return c, nil
}
