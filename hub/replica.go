package hub

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/labstack/echo/v4"
)

// ErrUnverified is a pulled record that does not verify against the hub's keys document,
// or that its key's program does not own. Nothing of the page it came in is applied.
var ErrUnverified = errors.New("pulled record does not verify")

// ErrRewind is a change feed page that goes back: a change at or below what the replica
// already holds. The feed never rewinds (couchdb PR #1568, atproto#2400); a page that
// does is refused rather than applied twice.
var ErrRewind = errors.New("change feed went backwards")

// Replica is a node's read-only copy of the national roster, built from the hub's change
// feed with the hub's own reconciliation and roster queries, so it answers GET
// /v1/roster exactly as the hub would for the changes it has pulled.
type Replica struct {
	rosterView
	mu sync.Mutex // one writer at a time

	infoMu sync.Mutex
	info   ReplicaInfo
}

// ReplicaInfo says how fresh a replica is; a node's roster pages carry it.
type ReplicaInfo struct {
	AppliedSeq uint64     `json:"applied_seq"`         // the last hub sequence number applied
	HubHeadSeq uint64     `json:"hub_head_seq"`        // the hub's head when last pulled
	PulledAt   *time.Time `json:"pulled_at,omitempty"` // when the last pull finished
}

// NewReplica makes an empty replica that reads program definitions from catalog (nil:
// the built-in ones).
func NewReplica(catalog *schema.Catalog) (*Replica, error) {
	var err error
	if catalog == nil {
		if catalog, err = schema.LoadCatalog(); err != nil {
			return nil, err
		}
	}
	db, err := newStateDB(catalog)
	if err != nil {
		return nil, err
	}
	r := &Replica{rosterView: rosterView{db: db, catalog: catalog}}
	r.rosterView.info = r.Info
	return r, nil
}

// Info reports the replica's freshness.
func (r *Replica) Info() *ReplicaInfo {
	r.infoMu.Lock()
	defer r.infoMu.Unlock()
	info := r.info
	return &info
}

// Pulled records a finished pull: when, and the hub's head then.
func (r *Replica) Pulled(at time.Time, hubHead uint64) {
	r.infoMu.Lock()
	defer r.infoMu.Unlock()
	at = at.UTC()
	r.info.PulledAt = &at
	r.info.HubHeadSeq = hubHead
}

// Verify checks every change of a page against the hub's keys document: each record's
// signature by an enrolled key that the hub accepted when it received the record (its
// received_at inside the key's window and not after its revocation), the key's program
// owning the record, the record's content hash, and sequence numbers after the
// replica's and increasing. It answers the first failure, naming the change.
func (r *Replica) Verify(keys *wire.KeysDocument, hubKey auth.KeyLookup, changes []wire.Change) error {
	if err := inOrder(r.Info().AppliedSeq, changes); err != nil {
		return err
	}
	return verifyChanges(keys, hubKey, changes)
}

// verifyChanges checks changes, in any order (Verify): records against the keys
// document, the hub's notes against the hub's key.
func verifyChanges(keys *wire.KeysDocument, hubKey auth.KeyLookup, changes []wire.Change) error {
	owner := map[string]string{}
	window := map[string]auth.Window{}
	set := auth.KeySet{}
	for _, p := range keys.Programs {
		for _, k := range p.Keys {
			pub, ok := k.JWK.Key.(ed25519.PublicKey)
			if !ok {
				continue
			}
			set[k.Kid] = pub
			owner[k.Kid] = p.Code
			window[k.Kid] = k.Window
		}
	}
	// Signatures dominate the cost of a pull: check the page on every core. The error
	// reported is the first change's that fails, whichever core finds it.
	errs := make([]error, len(changes))
	workers := min(runtime.GOMAXPROCS(0), len(changes))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(changes); i += workers {
				errs[i] = verifyChange(changes[i], set, owner, window, hubKey)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// verifyChange checks one change (verifyChanges).
func verifyChange(c wire.Change, set auth.KeySet, owner map[string]string, window map[string]auth.Window, hubKey auth.KeyLookup) error {
	if c.Note != "" {
		if c.Record != "" {
			return fmt.Errorf("%w: change %d holds both a record and a note", ErrUnverified, c.Seq)
		}
		v, err := auth.Verify(c.Note, auth.TypeNote, hubKey)
		if err != nil {
			return fmt.Errorf("%w: change %d (a hub note): %v", ErrUnverified, c.Seq, err)
		}
		var n hubNote
		if err := json.Unmarshal(v.Payload, &n); err != nil {
			return fmt.Errorf("%w: change %d (a hub note): %v", ErrUnverified, c.Seq, err)
		}
		if n.Kind != noteLinkDecision && n.Kind != noteConflictAck {
			return fmt.Errorf("change %d: a hub note of kind %q; upgrade this node", c.Seq, n.Kind)
		}
		return nil
	}
	v, err := auth.Verify(c.Record, auth.TypeRecord, set)
	if err != nil {
		return fmt.Errorf("%w: change %d: %v", ErrUnverified, c.Seq, err)
	}
	// The hub takes a key's signatures only inside its window, judged when it
	// receives them; a record it says it received outside that window is not one the
	// hub accepted (docs/PROTOCOL.md 8a).
	if err := window[v.KeyID].Check(c.ReceivedAt); err != nil {
		return fmt.Errorf("%w: change %d: received at %s, when key %s of %s was not accepted: %v",
			ErrUnverified, c.Seq, c.ReceivedAt.UTC().Format(time.RFC3339Nano), v.KeyID, owner[v.KeyID], err)
	}
	var rec schema.Record
	if err := json.Unmarshal(v.Payload, &rec); err != nil {
		return fmt.Errorf("%w: change %d: %v", ErrUnverified, c.Seq, err)
	}
	idOwner, err := schema.ProgramOfID(rec.ID)
	if err != nil || idOwner != owner[v.KeyID] || rec.Program != owner[v.KeyID] {
		return fmt.Errorf("%w: change %d: record %s of program %q is signed by a key of %s", ErrUnverified, c.Seq, rec.ID, rec.Program, owner[v.KeyID])
	}
	if err := rec.CheckRev(); err != nil {
		return fmt.Errorf("%w: change %d: %v", ErrUnverified, c.Seq, err)
	}
	if _, err := decodeBody(&rec, false); err != nil {
		// A kind or body this version cannot read (a newer hub's): refuse the page
		// rather than keep what the replica cannot apply.
		return fmt.Errorf("change %d: %w; upgrade this node", c.Seq, err)
	}
	return nil
}

// Repair reconciles changes the incremental feed missed (found by the digest backstop),
// in any order, after checking them as Verify does. The replica's applied sequence
// number does not move.
func (r *Replica) Repair(keys *wire.KeysDocument, hubKey auth.KeyLookup, changes []wire.Change) error {
	if err := verifyChanges(keys, hubKey, changes); err != nil {
		return err
	}
	return r.apply(changes, false)
}

// Apply reconciles changes (verified by Verify, or read back from the node's own store)
// into the replica in one transaction: all of them or, on an error, none.
func (r *Replica) Apply(changes []wire.Change) error { return r.apply(changes, true) }

func (r *Replica) apply(changes []wire.Change, advance bool) error {
	if len(changes) == 0 {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	txn := r.db.Txn(true)
	defer txn.Abort()
	if advance {
		if err := inOrder(r.Info().AppliedSeq, changes); err != nil {
			return err
		}
	}
	for _, c := range changes {
		if c.Note != "" {
			n, err := decodeNote(c.Note)
			if err == nil {
				err = applyNoteTxn(txn, n, true)
			}
			if err != nil {
				return fmt.Errorf("change %d: %w", c.Seq, err)
			}
			continue
		}
		rv, err := decodeStored(logEntry{ReceivedAt: c.ReceivedAt, JWS: c.Record}, c.Seq)
		if err != nil {
			return fmt.Errorf("change %d: %w", c.Seq, err)
		}
		out, err := applyTxn(txn, rv)
		if err != nil {
			return fmt.Errorf("change %d: %w", c.Seq, err)
		}
		// The programs the replica holds records of (the matcher looks among them).
		if raw, err := txn.First(tablePrograms, indexID, rv.Program); err != nil {
			return err
		} else if raw == nil {
			if err := txn.Insert(tablePrograms, &programState{Code: rv.Program}); err != nil {
				return err
			}
		}
		if stores(out) {
			// Cross-program links, computed as the hub computes them (links.go), with
			// DCSP's decisions from the hub's notes.
			if err := relinkTxn(txn, rv.RecordID); err != nil {
				return fmt.Errorf("change %d: %w", c.Seq, err)
			}
		}
	}
	if !advance {
		txn.Commit()
		return nil
	}
	last := changes[len(changes)-1].Seq
	if err := setHead(txn, last); err != nil {
		return err
	}
	txn.Commit()
	r.infoMu.Lock()
	r.info.AppliedSeq = last
	r.infoMu.Unlock()
	return nil
}

// ServeRoster answers GET /v1/roster from the replica, with the hub's parameters and
// answers; today is the default as_of.
func (r *Replica) ServeRoster(c echo.Context, today schema.Date) error {
	return r.serveRoster(c, today)
}

// inOrder checks that changes follow after and increase.
func inOrder(after uint64, changes []wire.Change) error {
	for _, c := range changes {
		if c.Seq <= after {
			return fmt.Errorf("%w: change %d follows %d", ErrRewind, c.Seq, after)
		}
		after = c.Seq
	}
	return nil
}
