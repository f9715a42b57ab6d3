package hub

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/journal"
)

// Group commit (issue 7). Each push's journal commit costs an fsync, and pushes of
// different programs verify their records at the same time: so the checked batches that
// are waiting when a commit begins share it. The first push to arrive leads: it takes
// the batches waiting (as many as keep the group within maxGroupRecords), applies them
// in one memdb write transaction and one journal transaction (one fsync), in the order
// they arrived, and answers each. A batch arriving meanwhile waits; the leader hands the
// next group to the first of those still waiting. No goroutine is started: each push
// waits in its own request until it has its answer.
//
// A batch is answered only once the group's journal transaction is durable, and memdb
// shows the group only then. A failed commit leaves neither changed and answers every
// batch of the group with its error (journal.ErrNotDurable among them). Each batch's
// results and checkpoint are what it would get alone after the batches before it, so a
// batch sent again gets the same outcomes as ever.

// pendingPush is a checked batch waiting to be stored, and then its answer.
type pendingPush struct {
	program  string
	batch    *wire.Batch
	revs     []*revision   // the revisions to reconcile; nil for a rejected record
	entries  [][]byte      // the journal entries of revs, for the ones stored
	names    []*nameKeys   // the name keys of revs (links.go); nil where none
	results  []wire.Result // the records' verdicts so far; applying settles outcomes
	received time.Time

	resp *wire.PushResponse
	err  error
	wake chan bool // once: false when answered, true to lead the next group
}

// commitQueue holds the batches waiting for a commit. The zero value is ready.
type commitQueue struct {
	mu      sync.Mutex
	waiting []*pendingPush
	leading bool // a push is leading a group: the others wait to be woken
}

// errGroupAbandoned answers the batches of a group whose leader panicked.
var errGroupAbandoned = errors.New("the commit this batch waited for was abandoned")

// commit stores a checked batch with the others waiting, and returns its answer.
func (h *Hub) commit(p *pendingPush) (*wire.PushResponse, error) {
	q := &h.commits
	p.wake = make(chan bool, 1)
	q.mu.Lock()
	q.waiting = append(q.waiting, p)
	if q.leading {
		q.mu.Unlock()
		if lead := <-p.wake; !lead {
			return p.resp, p.err
		}
		q.mu.Lock()
	}
	q.leading = true
	n := groupSize(q.waiting)
	group := slices.Clone(q.waiting[:n])
	q.waiting = slices.Delete(q.waiting, 0, n)
	q.mu.Unlock()

	defer func() {
		// Hand the next group on, then wake this one's batches, even if applying it
		// panicked: a waiting push must never be left waiting.
		q.mu.Lock()
		var next *pendingPush
		if len(q.waiting) > 0 {
			next = q.waiting[0]
		} else {
			q.leading = false
		}
		q.mu.Unlock()
		if next != nil {
			next.wake <- true
		}
		for _, w := range group {
			if w.resp == nil && w.err == nil {
				w.err = fmt.Errorf("store batch %s: %w", w.batch.BatchID, errGroupAbandoned)
			}
			if w != p {
				w.wake <- false
			}
		}
	}()
	h.applyGroup(group, h.journal.Update)
	return p.resp, p.err
}

// maxGroupRecords bounds the records of one group: its first batch, and those after it
// while the group stays within this many. memdb copies each radix node a transaction
// changes once only while the transaction has changed fewer than 8,192 of them in an
// index; beyond that it copies them again and, at commit, compares the whole old and
// new trees to find what changed (go-immutable-radix's slowNotify), so a larger group
// costs in proportion to the records already held. One fsync for 1,024 records costs
// a few microseconds each.
const maxGroupRecords = 1024

// groupSize is how many of the batches waiting, from the first, make the next group.
func groupSize(waiting []*pendingPush) int {
	n, records := 0, 0
	for _, p := range waiting {
		records += len(p.revs)
		if n > 0 && records > maxGroupRecords {
			break
		}
		n++
	}
	return n
}

// applyGroup stores a group of checked batches, in its order, in one journal transaction
// made durable by update (the journal's Update; tests fail it) and one memdb write
// transaction committed after it, and sets each batch's answer. A batch that cannot be
// applied (its program is not enrolled, or the store fails it) gets its error and the
// group is applied anew without it: an aborted transaction leaves nothing.
func (h *Hub) applyGroup(group []*pendingPush, update func(func(*journal.Tx) error) error) {
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	for len(group) > 0 {
		failed, err := h.applyOnce(group, update)
		if failed < 0 {
			for _, p := range group {
				if err != nil {
					p.resp, p.err = nil, fmt.Errorf("store batch %s: %w", p.batch.BatchID, err)
				}
			}
			return
		}
		group[failed].err = err
		group = slices.Delete(slices.Clone(group), failed, failed+1)
	}
}

// applyOnce tries to store the group: failed is the batch that could not be applied, with
// its error, or -1 with nil when everything is durable and visible, or -1 with the
// commit's error.
func (h *Hub) applyOnce(group []*pendingPush, update func(func(*journal.Tx) error) error) (failed int, err error) {
	txn := h.db.Txn(true)
	defer txn.Abort()
	resps := make([]*wire.PushResponse, len(group))
	failed = -1
	var batchErr error
	err = update(func(tx *journal.Tx) error {
		head := tx.LastSeq()
		for i, p := range group {
			if resps[i], batchErr = h.applyBatchTxn(txn, tx, p); batchErr != nil {
				failed = i
				return batchErr
			}
		}
		if last := tx.LastSeq(); last != head {
			return setHead(txn, last) // long polls wake once memdb commits
		}
		return nil
	})
	if failed >= 0 {
		return failed, batchErr
	}
	if err != nil {
		return -1, err
	}
	txn.Commit()
	for i, p := range group {
		p.resp = resps[i]
	}
	return -1, nil
}
