package node

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/journal"
)

// maxRepairFetch bounds the changes one backstop fetches one by one into the replica;
// beyond it the replica is rebuilt from the feed instead.
const maxRepairFetch = 1000

// Backstop is what the last digest comparison found and repaired.
type Backstop struct {
	CheckedAt time.Time `json:"checked_at"`
	// Repushed: revisions this node had pushed that the hub no longer held (the hub was
	// restored from an older backup, say), sent again. Never one the hub rejected.
	Repushed int `json:"repushed"`
	// HubOnly: revisions of this program the hub holds that this node does not (this
	// node was restored from an older backup). They are in the replica; the node's own
	// records are not rewritten from the hub.
	HubOnly []wire.RevisionRef `json:"hub_only,omitempty"`
	// ReplicaFetched: changes the replica lacked, fetched one by one.
	ReplicaFetched int `json:"replica_fetched"`
	// ReplicaRebuilt: the replica held revisions the hub does not, or lacked too many;
	// it was rebuilt from the change feed.
	ReplicaRebuilt bool `json:"replica_rebuilt,omitempty"`
}

// backstop compares per-program digests of what this node and the hub hold and repairs
// any drift the incremental push and pull missed, transferring only the records in the
// ranges whose digests differ (DESIGN.md, Schedule: "a periodic full comparison").
func (n *Node) backstop(ctx context.Context, r *retrier, res *wire.SyncResult, rejected *[]wire.Result) (*Backstop, error) {
	b := &Backstop{CheckedAt: n.now().UTC()}
	hubs, err := n.hubDigests(ctx, r)
	if err != nil {
		return b, err
	}
	if err := n.backstopOwn(ctx, r, hubs, b, res, rejected); err != nil {
		return b, err
	}
	if b.Repushed > 0 {
		// What was sent again is in the hub's feed now, under new numbers.
		if err := n.pull(ctx, r, res); err != nil {
			return b, err
		}
		if hubs, err = n.hubDigests(ctx, r); err != nil {
			return b, err
		}
	}
	return b, n.backstopReplica(ctx, r, hubs, b, res)
}

// digest asks the hub for its digests (DigestPage).
func (n *Node) digest(ctx context.Context, r *retrier, program, rng string) (page *wire.DigestPage, err error) {
	err = n.withRetry(ctx, r, "digest", func() (err error) {
		page, err = n.hub.Digest(ctx, n.hubToken(), program, rng)
		return err
	})
	return page, err
}

// ownRevisions lists the revisions this node has pushed (up to its cursor) and the hub
// did not reject, by local sequence number: what the hub should hold of this program. A
// rejected revision is left out, as the hub never holds it; sending it again would only
// be rejected again, at every backstop (docs/PROTOCOL.md section 9).
func (n *Node) ownRevisions() ([]wire.RevisionRef, error) {
	var out []wire.RevisionRef
	err := n.journal.View(func(tx *journal.Tx) error {
		refused := map[string]bool{}
		err := tx.ForEach(bucketRejected, func(key string, _ []byte) error {
			refused[key] = true
			return nil
		})
		if err != nil {
			return err
		}
		// A store written before bucketRejected existed has its rejections only in the
		// sync status (the latest maxRejected).
		if raw := tx.Get(bucketMeta, keySyncStatus); raw != nil {
			var st SyncStatus
			if err := json.Unmarshal(raw, &st); err != nil {
				return fmt.Errorf("sync status: %w", err)
			}
			for _, r := range st.Rejected {
				refused[r.ID+" "+r.Rev] = true
			}
		}
		cursor := tx.GetUint(bucketMeta, keyPushCursor)
		return tx.Scan(0, func(seq uint64, v []byte) error {
			if seq > cursor {
				return journal.ErrStop
			}
			rec, _, err := decodeEntry(string(v))
			if err != nil {
				return fmt.Errorf("journal entry %d: %w", seq, err)
			}
			if !refused[rec.ID+" "+rec.Rev] {
				out = append(out, wire.RevisionRef{ID: rec.ID, Rev: rec.Rev, Seq: seq})
			}
			return nil
		})
	})
	return out, err
}

// differing compares mine with the hub's digests of one program range by range, and
// returns the ranges that differ and the hub's revisions in them.
func (n *Node) differing(ctx context.Context, r *retrier, program string, mine []wire.RevisionRef) (ranges map[string]bool, theirs []wire.RevisionRef, err error) {
	page, err := n.digest(ctx, r, program, "")
	if err != nil {
		return nil, nil, err
	}
	if len(page.Programs) > 1 {
		return nil, nil, fmt.Errorf("%w: digest of %s names %d programs", errBadAnswer, program, len(page.Programs))
	}
	local := map[string]wire.Digest{}
	for _, rd := range wire.DigestRanges(mine) {
		local[rd.Range] = rd.Digest
	}
	ranges = map[string]bool{}
	for _, p := range page.Programs {
		for _, rd := range p.Ranges {
			if local[rd.Range] != rd.Digest {
				ranges[rd.Range] = true
			}
			delete(local, rd.Range)
		}
	}
	for rng := range local { // ranges the hub holds nothing in
		ranges[rng] = true
	}
	for _, rng := range slices.Sorted(maps.Keys(ranges)) {
		p, err := n.digest(ctx, r, program, rng)
		if err != nil {
			return nil, nil, err
		}
		theirs = append(theirs, p.Revisions...)
	}
	return ranges, theirs, nil
}

func refKey(r wire.RevisionRef) string { return r.ID + " " + r.Rev }

// compare splits two sides' revisions in the ranges that differ: what only mine holds and
// what only theirs holds.
func compare(ranges map[string]bool, mine, theirs []wire.RevisionRef) (onlyMine, onlyTheirs []wire.RevisionRef) {
	held := map[string]bool{}
	for _, t := range theirs {
		held[refKey(t)] = true
	}
	have := map[string]bool{}
	for _, m := range mine {
		have[refKey(m)] = true
		if ranges[wire.RangeOf(m.ID)] && !held[refKey(m)] {
			onlyMine = append(onlyMine, m)
		}
	}
	for _, t := range theirs {
		if !have[refKey(t)] {
			onlyTheirs = append(onlyTheirs, t)
		}
	}
	return onlyMine, onlyTheirs
}

// hubDigests reads the hub's digest of every program.
func (n *Node) hubDigests(ctx context.Context, r *retrier) (map[string]wire.Digest, error) {
	page, err := n.digest(ctx, r, "", "")
	if err != nil {
		return nil, err
	}
	out := map[string]wire.Digest{}
	for _, p := range page.Programs {
		out[p.Code] = p.Digest
	}
	return out, nil
}

// backstopOwn compares this program's records, what the node pushed against what the hub
// holds: it sends again what the hub lacks and reports what only the hub holds.
func (n *Node) backstopOwn(ctx context.Context, r *retrier, hubs map[string]wire.Digest, b *Backstop, res *wire.SyncResult, rejected *[]wire.Result) error {
	mine, err := n.ownRevisions()
	if err != nil {
		return err
	}
	if hubs[n.program.Code] == wire.DigestOf(mine) || (len(mine) == 0 && hubs[n.program.Code].Count == 0) {
		return nil
	}
	ranges, theirs, err := n.differing(ctx, r, n.program.Code, mine)
	if err != nil {
		return err
	}
	missing, hubOnly := compare(ranges, mine, theirs)
	if len(hubOnly) > 0 {
		n.log.Warn("the hub holds revisions of this program that this node does not; was the node restored from an older backup?", "count", len(hubOnly))
		b.HubOnly = hubOnly[:min(len(hubOnly), maxRejected)]
	}
	return n.repush(ctx, r, missing, b, res, rejected)
}

// repush sends the given pushed revisions again, in sequence order, in bounded batches.
func (n *Node) repush(ctx context.Context, r *retrier, missing []wire.RevisionRef, b *Backstop, res *wire.SyncResult, rejected *[]wire.Result) error {
	slices.SortFunc(missing, func(a, b wire.RevisionRef) int { return int(a.Seq) - int(b.Seq) })
	for len(missing) > 0 {
		var batch wire.Batch
		size := 0
		err := n.journal.View(func(tx *journal.Tx) error {
			for len(missing) > 0 && len(batch.Records) < n.batchRecords {
				m := missing[0]
				var v []byte
				err := tx.Scan(m.Seq-1, func(seq uint64, val []byte) error {
					v = append([]byte(nil), val...)
					return journal.ErrStop
				})
				if err != nil {
					return err
				}
				if len(batch.Records) > 0 && size+len(v) > n.batchBytes {
					break
				}
				if len(batch.Records) == 0 {
					batch.SeqFrom = m.Seq
				}
				batch.SeqTo = m.Seq
				batch.Records = append(batch.Records, string(v))
				size += len(v)
				missing = missing[1:]
			}
			return nil
		})
		if err != nil {
			return err
		}
		var id [12]byte
		crand.Read(id[:])
		batch.Program, batch.BatchID = n.program.Code, "backstop-"+hex.EncodeToString(id[:])
		if err := n.send(ctx, r, &batch, res, rejected); err != nil {
			return err
		}
		b.Repushed += len(batch.Records)
	}
	return nil
}

// backstopReplica compares the replica with the hub, program by program and range by
// range. It fetches the changes the replica lacks; if the replica holds revisions the hub
// does not (the hub was restored and reused feed numbers), or lacks more than
// maxRepairFetch, it rebuilds the replica from the feed.
func (n *Node) backstopReplica(ctx context.Context, r *retrier, hubs map[string]wire.Digest, b *Backstop, res *wire.SyncResult) error {
	rep := n.replica.Load()
	local, err := rep.Digest("", "")
	if err != nil {
		return err
	}
	programs := map[string]bool{}
	for code := range hubs {
		programs[code] = true
	}
	for _, p := range local.Programs {
		if hubs[p.Code] != p.Digest {
			programs[p.Code] = true
		} else {
			delete(programs, p.Code)
		}
	}
	var fetch []uint64
	for _, code := range slices.Sorted(maps.Keys(programs)) {
		mine, err := rep.Revisions(code)
		if err != nil {
			return err
		}
		ranges, theirs, err := n.differing(ctx, r, code, mine)
		if err != nil {
			return err
		}
		extra, lacking := compare(ranges, mine, theirs)
		if len(extra) > 0 {
			return n.rebuildReplica(ctx, r, b, res)
		}
		for _, t := range lacking {
			fetch = append(fetch, t.Seq)
		}
	}
	if len(fetch) > maxRepairFetch {
		return n.rebuildReplica(ctx, r, b, res)
	}
	return n.fetchInto(ctx, r, fetch, b)
}

// fetchInto fetches the given changes by sequence number, checks them against the
// keys document and repairs the replica with them.
func (n *Node) fetchInto(ctx context.Context, r *retrier, seqs []uint64, b *Backstop) error {
	if len(seqs) == 0 {
		return nil
	}
	keys, err := n.fetchKeys(ctx, r)
	if err != nil {
		return err
	}
	var changes []wire.Change
	for _, seq := range seqs {
		var page *wire.ChangesPage
		err := n.withRetry(ctx, r, "fetch", func() (err error) {
			page, err = n.hub.Changes(ctx, n.hubToken(), seq-1, 1)
			return err
		})
		if err != nil {
			return err
		}
		if len(page.Changes) != 1 || page.Changes[0].Seq != seq {
			return fmt.Errorf("%w: asked for change %d", errBadAnswer, seq)
		}
		changes = append(changes, page.Changes[0])
	}
	if err := n.replica.Load().Repair(keys, n.hubKeySet(), changes); err != nil {
		return err
	}
	if err := n.keepChanges(changes); err != nil {
		return err
	}
	b.ReplicaFetched = len(changes)
	return nil
}

// keepChanges writes pulled changes to the node's store under their sequence numbers.
func (n *Node) keepChanges(changes []wire.Change) error {
	return n.journal.Update(func(tx *journal.Tx) error {
		for _, c := range changes {
			raw, err := json.Marshal(c)
			if err != nil {
				return err
			}
			if err := tx.Put(bucketReplica, replicaKey(c.Seq), raw); err != nil {
				return err
			}
		}
		return nil
	})
}

// rebuildReplica drops the replica and pulls the whole feed again.
func (n *Node) rebuildReplica(ctx context.Context, r *retrier, b *Backstop, res *wire.SyncResult) error {
	n.log.Warn("the replica of the national roster differs from the hub's beyond repair; rebuilding it from the change feed")
	rep, err := hub.NewReplica(n.catalog)
	if err != nil {
		return err
	}
	err = n.journal.Update(func(tx *journal.Tx) error {
		if err := tx.DeleteBucket(bucketReplica); err != nil {
			return err
		}
		return tx.Put(bucketMeta, keyPulledAt, []byte("{}"))
	})
	if err != nil {
		return err
	}
	n.replica.Store(rep)
	b.ReplicaRebuilt = true
	return n.pull(ctx, r, res)
}
