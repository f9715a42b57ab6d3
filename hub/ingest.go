package hub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/hashicorp/go-memdb"
)

// Push errors (the batch as a whole is refused and nothing is stored).
var (
	ErrNotOwner  = errors.New("not the owner program")
	ErrBadBatch  = errors.New("malformed batch")
	ErrClockSkew = errors.New("batch issued_at too far from the hub's clock")
	// ErrRulesDiffer: a correctly signed record breaks the hub's rules for its program.
	// The hub's program definition (or version) differs from the node's; the batch is
	// refused whole so the node keeps it and sends it again once the two agree, rather
	// than the record being dropped for good.
	ErrRulesDiffer = errors.New("the hub's rules for this program differ from the node's")
)

// Push verifies a signed batch from the caller's program and every record in it, then
// stores the acceptable ones durably in one transaction (shared with the other programs'
// batches ready at the same time: commit.go) and answers per record. A record
// that fails a check is rejected with its reason and the others still apply; a batch
// that fails a check is refused whole. Applying the same batch again changes nothing.
//
// A refusal is kept as the caller's program's last error (GET /v1/programs).
func (h *Hub) Push(caller *auth.Claims, body []byte) (_ *wire.PushResponse, err error) {
	if caller.Role != auth.RoleProgram {
		return nil, fmt.Errorf("%w: only a program token may push (role %s)", ErrNotOwner, caller.Role)
	}
	var b wire.Batch
	defer func() {
		if err != nil {
			h.noteRefusal(caller.Program, b.BatchID, err)
		}
	}()
	pb, err := h.checkBatch(caller, body, &b)
	if err != nil {
		return nil, err
	}
	return h.commit(pb)
}

// checkBatch verifies a pushed batch, decoded into b, and every record in it: what Push
// does before it stores anything.
func (h *Hub) checkBatch(caller *auth.Claims, body []byte, b *wire.Batch) (*pendingPush, error) {
	// Every key is judged at the hub's clock when the batch arrives, never at a time the
	// batch or a record claims: a stolen key cannot backdate its way past a revocation.
	now := h.now()
	// The body as it came, not a copy of it (a megabyte for a full batch).
	v, err := auth.VerifyBytes(bytes.TrimSpace(body), auth.TypeBatch, programKeys{h, now})
	if err != nil {
		return nil, fmt.Errorf("batch: %w", err)
	}
	signer := h.enrolledKey(v.KeyID).Program
	dec := json.NewDecoder(bytes.NewReader(v.Payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadBatch, err)
	}
	switch {
	case b.Program != signer:
		return nil, fmt.Errorf("%w: batch for program %q is signed with a key of %s", ErrNotOwner, b.Program, signer)
	case caller.Program != signer:
		return nil, fmt.Errorf("%w: token for program %s, batch signed by %s", ErrNotOwner, caller.Program, signer)
	case len(b.Records) == 0:
		return nil, fmt.Errorf("%w: no records", ErrBadBatch)
	case len(b.Records) > wire.MaxBatchRecords:
		return nil, fmt.Errorf("%w: %d records; at most %d", ErrBadBatch, len(b.Records), wire.MaxBatchRecords)
	case b.SeqFrom == 0 || b.SeqTo < b.SeqFrom:
		return nil, fmt.Errorf("%w: sequence range %d..%d", ErrBadBatch, b.SeqFrom, b.SeqTo)
	case b.BatchID == "" || len(b.BatchID) > 64:
		return nil, fmt.Errorf("%w: batch_id must be 1 to 64 characters", ErrBadBatch)
	case b.Head != 0 && b.Head < b.SeqTo:
		return nil, fmt.Errorf("%w: head %d is before seq_to %d; head is the node's last sequence number when it signed the batch", ErrBadBatch, b.Head, b.SeqTo)
	}
	if skew := now.Sub(b.IssuedAt); skew > wire.MaxClockSkew || skew < -wire.MaxClockSkew {
		return nil, fmt.Errorf("%w: issued %s, hub time %s (allowed %s); check the node's clock",
			ErrClockSkew, b.IssuedAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), wire.MaxClockSkew)
	}
	def, _ := h.catalog.Get(signer)
	if def == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownProgram, signer)
	}

	// Each record is checked on its own (its signature is most of a push's work), on
	// every core; then, in the batch's order, what depends on the records before it.
	received := now.UTC()
	checks := make([]recordCheck, len(b.Records))
	inParallel(len(b.Records), func(i int) {
		c := &checks[i]
		c.rv, c.res, c.differ = h.checkRecord(def, b.Records[i], received)
		if c.rv != nil {
			// What storing the record needs of it alone, made here rather than while
			// every other writer waits for the commit: its journal entry and its name
			// keys (links.go).
			c.entry, c.err = json.Marshal(logEntry{ReceivedAt: received, JWS: b.Records[i]})
			c.names = newNameKeys(c.rv)
		}
	})
	pb := &pendingPush{program: signer, batch: b, received: received,
		revs: make([]*revision, len(b.Records)), entries: make([][]byte, len(b.Records)),
		names: make([]*nameKeys, len(b.Records)), results: make([]wire.Result, len(b.Records))}
	lastSeq := b.SeqFrom - 1
	for i, c := range checks {
		res := c.res
		switch {
		case c.differ != nil:
			return nil, fmt.Errorf("%w: record %s (seq %d): %v; nothing in this batch was stored, and the node will send it again: align the hub's --programs definition (or version) with the node's",
				ErrRulesDiffer, res.ID, res.Seq, c.differ)
		case c.err != nil:
			return nil, fmt.Errorf("store batch %s: %w", b.BatchID, c.err)
		}
		if res.Outcome != wire.Rejected {
			if res.Seq <= lastSeq || res.Seq > b.SeqTo {
				res = reject(res, fmt.Sprintf("seq %d is out of order for the batch range %d..%d", res.Seq, b.SeqFrom, b.SeqTo))
			} else {
				lastSeq = res.Seq
				pb.revs[i], pb.entries[i], pb.names[i] = c.rv, c.entry, c.names
			}
		}
		pb.results[i] = res
	}
	return pb, nil
}

// applyBatchTxn reconciles a checked batch's revisions inside the group's memdb and
// journal transactions (commit.go), stores the ones that take their place in a record's
// history and the program's new checkpoint, and returns the batch's answer. Nothing is
// visible or durable until the group commits, the journal first.
func (h *Hub) applyBatchTxn(txn *memdb.Txn, tx *journal.Tx, pb *pendingPush) (*wire.PushResponse, error) {
	raw, err := txn.First(tablePrograms, indexID, pb.program)
	if err != nil || raw == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotEnrolled, pb.program)
	}
	p := *raw.(*programState)
	b := pb.batch
	results := slices.Clone(pb.results) // a group applied anew starts from the verdicts
	for i, rv := range pb.revs {
		if rv == nil {
			continue
		}
		if reason := admissible(txn, rv); reason != "" {
			results[i] = reject(results[i], reason)
			continue
		}
		// The hub sequence number is only known inside the journal transaction;
		// peek it so applyTxn stores it with the revision.
		rv.HubSeq = tx.LastSeq() + 1
		out, err := applyTxn(txn, rv)
		if err != nil {
			return nil, fmt.Errorf("store batch %s: %w", b.BatchID, err)
		}
		results[i].Outcome = out
		if !stores(out) {
			continue
		}
		if err := relinkKeysTxn(txn, rv.RecordID, pb.names[i], nil); err != nil { // cross-program links (links.go)
			return nil, fmt.Errorf("store batch %s: %w", b.BatchID, err)
		}
		if _, err := tx.Append(func(uint64) ([]byte, error) { return pb.entries[i], nil }); err != nil {
			return nil, fmt.Errorf("store batch %s: %w", b.BatchID, err)
		}
	}
	p.Checkpoint = max(p.Checkpoint, b.SeqTo)
	p.Outcomes = maps.Clone(p.Outcomes) // the stored state is shared: copy before counting
	if p.Outcomes == nil {
		p.Outcomes = map[wire.Outcome]uint64{}
	}
	for _, r := range results {
		p.Outcomes[r.Outcome]++
	}
	p.LastPushAt = &pb.received
	p.LastBatchID = b.BatchID
	p.Head = b.Head
	p.LastError = nil // an accepted push clears the last refusal
	state, err := json.Marshal(&p)
	if err == nil {
		err = tx.Put(bucketPrograms, p.Code, state)
	}
	if err == nil {
		err = txn.Insert(tablePrograms, &p)
	}
	if err != nil {
		return nil, fmt.Errorf("store batch %s: %w", b.BatchID, err)
	}
	return &wire.PushResponse{BatchID: b.BatchID, Checkpoint: p.Checkpoint, Results: results}, nil
}

// recordCheck is checkRecord's verdict on one record of a batch, and the journal entry
// and name keys that store it.
type recordCheck struct {
	rv     *revision
	res    wire.Result
	differ error
	entry  []byte
	names  *nameKeys
	err    error
}

// inParallel calls fn(i) for each i in [0, n) on up to GOMAXPROCS goroutines and returns
// once every call has returned. The goroutines are its own and end before it returns. A
// panic in fn is raised again in the caller's goroutine, with the stack where it
// happened, so that it ends the request as it would have without the workers.
func inParallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var (
		next     atomic.Int64
		panicked atomic.Pointer[string]
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					msg := fmt.Sprintf("%v\n\n%s", r, debug.Stack())
					panicked.CompareAndSwap(nil, &msg)
				}
			}()
			for i := int(next.Add(1) - 1); i < n && panicked.Load() == nil; i = int(next.Add(1) - 1) {
				fn(i)
			}
		})
	}
	wg.Wait()
	if msg := panicked.Load(); msg != nil {
		panic(*msg)
	}
}

// checkRecord verifies one signed record for the program that signed the batch. A record
// that can never be accepted (bad signature, another program's, a wrong hash) is a
// rejection with a reason the node can show its operator. A correctly signed record
// whose body breaks the hub's rules is returned as differ: the hub's configuration, not
// the record, may be what is wrong.
func (h *Hub) checkRecord(def *schema.Program, jws string, received time.Time) (rv *revision, res wire.Result, differ error) {
	// name names the record if its payload can be read at all, so the node's operator
	// knows which one it is; the names are the record's claim, not verified.
	name := func() {
		if payload, _, err := auth.UnverifiedPayload(jws); err == nil {
			var rec schema.Record
			if json.Unmarshal(payload, &rec) == nil {
				res.Seq, res.ID, res.Rev = rec.Seq, rec.ID, rec.Rev
			}
		}
	}
	if len(jws) > wire.MaxRecordBytes {
		name()
		return nil, reject(res, fmt.Sprintf("record is %d bytes; at most %d", len(jws), wire.MaxRecordBytes)), nil
	}
	// The record's key must be valid when the hub receives it (not at its issued_at).
	v, err := auth.Verify(jws, auth.TypeRecord, programKeys{h, received})
	if err != nil {
		if errors.Is(err, auth.ErrKeyRevoked) || errors.Is(err, auth.ErrKeyNotValid) {
			name() // an enrolled key out of its window: say which record needs signing anew
		}
		return nil, reject(res, "signature: "+err.Error()), nil
	}
	return h.readRecord(def, v, received)
}

// readRecord checks a record whose signature verified: what checkRecord does after the
// signature.
func (h *Hub) readRecord(def *schema.Program, v auth.Verified, received time.Time) (rv *revision, res wire.Result, differ error) {
	var rec schema.Record
	dec := json.NewDecoder(bytes.NewReader(v.Payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return nil, reject(res, "malformed record: "+err.Error()), nil
	}
	res.Seq, res.ID, res.Rev = rec.Seq, rec.ID, rec.Rev
	if signer := h.enrolledKey(v.KeyID).Program; signer != def.Code {
		return nil, reject(res, fmt.Sprintf("%v: signed with a key of program %s inside a batch of %s", ErrNotOwner, signer, def.Code)), nil
	}
	owner, err := schema.ProgramOfID(rec.ID)
	switch {
	case err != nil:
		return nil, reject(res, err.Error()), nil
	case owner != def.Code || rec.Program != def.Code:
		return nil, reject(res, fmt.Sprintf("%v: record %s (program %q) is owned by %s; only the owner program may write it", ErrNotOwner, rec.ID, rec.Program, owner)), nil
	case !rec.Kind.Valid():
		return nil, reject(res, fmt.Sprintf("kind %q is not one this hub accepts", rec.Kind)), nil
	}
	if err := rec.CheckRev(); err != nil {
		return nil, reject(res, err.Error()), nil
	}
	body, err := decodeBody(&rec, true)
	if err != nil {
		// A body this hub cannot read may be a newer node's: hold the batch.
		return nil, res, err
	}
	switch b := body.(type) {
	case *schema.Alliance:
		if b.ID != rec.ID {
			return nil, reject(res, fmt.Sprintf("body id %q does not match record id %q", b.ID, rec.ID)), nil
		}
		if b.Rev != "" {
			return nil, reject(res, "body carries a rev; the revision belongs to the record, not its body"), nil
		}
		if err := b.Validate(def); err != nil {
			return nil, res, err
		}
	case *schema.Report:
		if want := schema.ReportID(b.AllianceID, b.Period); b.ID != rec.ID || rec.ID != want {
			return nil, reject(res, fmt.Sprintf("report id %q: a report's record id is its Alliance's id, a dot and its period (%s)", rec.ID, want)), nil
		}
		if b.Rev != "" {
			return nil, reject(res, "body carries a rev; the revision belongs to the record, not its body"), nil
		}
		// What a report says of itself; its fit with the Alliance's term is the node's
		// to check, since the Alliance may arrive later.
		if err := b.Validate(def); err != nil {
			return nil, res, err
		}
	case *schema.Tombstone:
		if rec.PrevRev == "" {
			return nil, reject(res, "a tombstone follows the revision it deletes; prev_rev is empty"), nil
		}
		if err := b.Validate(rec.ID); err != nil {
			return nil, reject(res, err.Error()), nil
		}
	}
	rv, err = newRevision(&rec, body, v.KeyID, received, 0)
	if err != nil {
		return nil, reject(res, err.Error()), nil
	}
	res.Outcome = wire.Accepted // provisional; apply decides
	return rv, res, nil
}

// family is what a record is: an Alliance (its tombstone included) or a report.
func family(k schema.Kind) schema.Kind {
	if k == schema.KindTombstone {
		return schema.KindAlliance
	}
	return k
}

// admissible checks a verified revision against what the hub already stores for its
// record, and returns why it cannot be accepted, or "". A record never changes family
// (an Alliance id never carries a report, nor the reverse), and a tombstone may only
// follow a stored draft: signed Alliances conclude or are terminated, never deleted.
func admissible(txn *memdb.Txn, rv *revision) string {
	e, err := entryOf(txn, rv.RecordID)
	if err == nil && e != nil {
		if have := e.Kind; have != family(rv.Kind) {
			return fmt.Sprintf("record %s is a %s; a %s revision cannot join it", rv.RecordID, have, rv.Kind)
		}
	}
	if rv.Kind != schema.KindTombstone {
		return ""
	}
	prev, err := revisionOf(txn, rv.RecordID, rv.Prev)
	if err != nil || prev == nil {
		return fmt.Sprintf("a tombstone must follow a stored revision; %s %s is not one", rv.RecordID, rv.Prev)
	}
	if prev.Alliance == nil || prev.Alliance.Status != schema.StatusDraft {
		return fmt.Sprintf("only a draft is deleted; %s %s is not a draft, and a signed Alliance concludes or is terminated", rv.RecordID, rv.Prev)
	}
	return ""
}

func reject(r wire.Result, reason string) wire.Result {
	r.Outcome = wire.Rejected
	r.Reason = strings.TrimSpace(reason)
	return r
}
