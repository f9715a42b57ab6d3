package node

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/cenkalti/backoff/v4"
)

// RetryPolicy bounds how a sync run retries a push the hub could not take.
type RetryPolicy struct {
	Initial time.Duration // first wait; zero means 1s
	Max     time.Duration // cap on one backoff wait, jitter included; zero means 2m (minutes, never days: synapse#14513)
	Budget  time.Duration // total retrying per run, after which the run fails and the next resumes; zero means 10m
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Initial <= 0 {
		p.Initial = time.Second
	}
	if p.Max <= 0 {
		p.Max = 2 * time.Minute
	}
	if p.Budget <= 0 {
		p.Budget = 10 * time.Minute
	}
	return p
}

// maxRejected bounds the rejections the sync status keeps.
const maxRejected = 100

// SyncStatus is what GET /v1/sync/status reports.
type SyncStatus struct {
	LastRun       *RunStatus    `json:"last_run,omitempty"`
	LastSuccessAt *time.Time    `json:"last_success_at,omitempty"`
	LastError     string        `json:"last_error,omitempty"`
	Cursor        uint64        `json:"checkpoint"` // last local sequence the hub acknowledged
	LastSeq       uint64        `json:"last_seq"`   // last local sequence written
	Outbox        uint64        `json:"outbox"`     // revisions waiting to be pushed
	NextRun       *time.Time    `json:"next_run,omitempty"`
	Rejected      []wire.Result `json:"rejected,omitempty"` // records the hub refused, newest last
	// Pull: the replica's position in the hub's change feed.
	PullCheckpoint uint64     `json:"pull_checkpoint"` // last hub sequence number applied
	HubHeadSeq     uint64     `json:"hub_head_seq"`    // the hub's head at the last pull
	LastPullAt     *time.Time `json:"last_pull_at,omitempty"`
	LastBackstop   *Backstop  `json:"last_backstop,omitempty"` // the last digest comparison
}

// RunStatus describes one sync run.
type RunStatus struct {
	StartedAt  time.Time       `json:"started_at"`
	FinishedAt time.Time       `json:"finished_at"`
	Result     wire.SyncResult `json:"result"`
	Backstop   *Backstop       `json:"backstop,omitempty"` // when this run compared digests
}

// Sync pushes every revision the hub has not acknowledged, in sequence order, in bounded
// signed batches. The cursor advances only when the hub's answer covers a batch, so an
// interrupted run resumes where it stopped and a re-sent batch changes nothing. Runs never
// overlap.
func (n *Node) Sync(ctx context.Context) (wire.SyncResult, error) {
	n.syncMu.Lock()
	defer n.syncMu.Unlock()
	return n.syncLocked(ctx, false)
}

// ErrSyncRunning is an on-demand sync asked for while a run is in progress.
var ErrSyncRunning = errors.New("a sync run is already in progress; its outcome will be in GET /v1/sync/status")

// TrySync is Sync for on-demand requests: it answers ErrSyncRunning at once instead of
// queuing behind a run in progress.
func (n *Node) TrySync(ctx context.Context) (wire.SyncResult, error) { return n.trySync(ctx, false) }

// trySync is TrySync, with the digest backstop run whether due or not when backstop is
// set.
func (n *Node) trySync(ctx context.Context, backstop bool) (wire.SyncResult, error) {
	if !n.syncMu.TryLock() {
		return wire.SyncResult{}, ErrSyncRunning
	}
	defer n.syncMu.Unlock()
	return n.syncLocked(ctx, backstop)
}

// backstopDue reports whether the last digest comparison is older than BackstopEvery.
func (n *Node) backstopDue() bool {
	if n.backstopEvery < 0 {
		return false
	}
	st, err := n.Status()
	return err == nil && (st.LastBackstop == nil || n.now().Sub(st.LastBackstop.CheckedAt) >= n.backstopEvery)
}

func (n *Node) syncLocked(ctx context.Context, backstop bool) (wire.SyncResult, error) {
	run := RunStatus{StartedAt: n.now().UTC()}
	var rejected []wire.Result
	r := n.newRetrier()
	err := n.push(ctx, r, &run.Result, &rejected)
	if ctx.Err() == nil {
		// Pull even when the push failed for good (a record the hub refuses must not
		// keep the national roster from reaching this node); one budget covers both.
		err = errors.Join(err, n.pull(ctx, r, &run.Result))
	}
	if err == nil && (backstop || n.backstopDue()) {
		run.Backstop, err = n.backstop(ctx, r, &run.Result, &rejected)
		if err != nil {
			err = fmt.Errorf("digest backstop: %w", err)
		}
	}
	run.FinishedAt = n.now().UTC()
	if err != nil {
		run.Result.Error = err.Error()
	}
	if serr := n.saveStatus(run, rejected); serr != nil && err == nil {
		err = serr
	}
	n.observeRun(run, ctx.Err() != nil) // its log line and metrics (metrics.go)
	return run.Result, err
}

func (n *Node) push(ctx context.Context, r *retrier, res *wire.SyncResult, rejected *[]wire.Result) error {
	for {
		batch, err := n.nextBatch()
		if err != nil || batch == nil {
			return err
		}
		if err := n.send(ctx, r, batch, res, rejected); err != nil {
			return err
		}
		err = n.journal.Update(func(tx *journal.Tx) error {
			return tx.PutUint(bucketMeta, keyPushCursor, batch.SeqTo)
		})
		if err != nil {
			return fmt.Errorf("saving the push cursor: %w", err)
		}
	}
}

// send pushes one batch (withRetry) and counts the hub's answer, which must cover it.
func (n *Node) send(ctx context.Context, r *retrier, batch *wire.Batch, res *wire.SyncResult, rejected *[]wire.Result) error {
	resp, err := n.pushWithRetry(ctx, r, batch)
	if err != nil {
		return err
	}
	if len(resp.Results) != len(batch.Records) || resp.Checkpoint < batch.SeqTo {
		return fmt.Errorf("%w: %d results for %d records, checkpoint %d for a batch ending at %d",
			errBadAnswer, len(resp.Results), len(batch.Records), resp.Checkpoint, batch.SeqTo)
	}
	var refused []wire.Result
	for _, r := range resp.Results {
		res.Count(r)
		if r.Outcome == wire.Rejected {
			refused = append(refused, r)
		}
	}
	if len(refused) == 0 {
		return nil
	}
	*rejected = append(*rejected, refused...)
	// Kept before the run goes on, so that the backstop of this run and of every later
	// one leaves these revisions out (backstop.go, ownRevisions).
	err = n.journal.Update(func(tx *journal.Tx) error {
		for _, r := range refused {
			reason := cmp.Or(r.Reason, string(wire.Rejected)) // never an empty value
			if err := tx.Put(bucketRejected, r.ID+" "+r.Rev, []byte(reason)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("saving the hub's rejections: %w", err)
	}
	return nil
}

// nextBatch reads the revisions after the cursor, at most Config.BatchRecords of them
// and Config.BatchBytes in all (but always at least one). nil means nothing to push.
func (n *Node) nextBatch() (*wire.Batch, error) {
	var b wire.Batch
	size := 0
	err := n.journal.View(func(tx *journal.Tx) error {
		cursor := tx.GetUint(bucketMeta, keyPushCursor)
		return tx.Scan(cursor, func(seq uint64, v []byte) error {
			if len(b.Records) == n.batchRecords || (len(b.Records) > 0 && size+len(v) > n.batchBytes) {
				return journal.ErrStop
			}
			if len(b.Records) == 0 {
				b.SeqFrom = seq
			}
			b.SeqTo = seq
			b.Records = append(b.Records, string(v))
			size += len(v)
			return nil
		})
	})
	if err != nil || len(b.Records) == 0 {
		return nil, err
	}
	var id [12]byte
	crand.Read(id[:])
	b.Program = n.program.Code
	b.BatchID = hex.EncodeToString(id[:])
	return &b, nil
}

// retrier paces the retries of one sync run: exponential backoff with jitter, capped per
// wait, reset by any success, within one budget for the whole run.
type retrier struct {
	eb       *backoff.ExponentialBackOff
	deadline time.Time
}

func (n *Node) newRetrier() *retrier {
	eb := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(n.retry.Initial),
		backoff.WithMaxInterval(n.retry.Max),
		backoff.WithMaxElapsedTime(0), // the run's budget is checked below
		backoff.WithRandomizationFactor(0.5),
	)
	return &retrier{eb: eb, deadline: time.Now().Add(n.retry.Budget)}
}

// withRetry runs op until it succeeds, retrying network errors, 408, 429 and 5xx with
// exponential backoff and jitter and honouring Retry-After, within the run's budget.
// what names the operation in logs and errors.
func (n *Node) withRetry(ctx context.Context, r *retrier, what string, op func() error) error {
	for attempt := 1; ; attempt++ {
		err := op()
		n.metrics.hubRequest(what, err, ctx.Err() != nil)
		if err == nil {
			r.eb.Reset() // any success resets the backoff (synapse#9335: no long stall after one error)
			return nil
		}
		if permanent(err) || ctx.Err() != nil {
			return err
		}
		// The interval grows to Max; its jitter (±50%) could take a wait past it, so the
		// wait itself is capped too.
		wait := min(r.eb.NextBackOff(), n.retry.Max)
		var he *HubError
		if errors.As(err, &he) && he.RetryAfter > wait {
			wait = he.RetryAfter // the hub knows best when it can take more
		}
		if left := time.Until(r.deadline); wait > left {
			return fmt.Errorf("%s: gave up after %d attempt(s): the next try would be in %s, past this run's %s budget (the next run resumes): %w",
				what, attempt, wait.Round(time.Second), n.retry.Budget, err)
		}
		n.log.Warn(what+" failed; retrying", "attempt", attempt, "wait", wait.String(), "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("sync stopped: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// pushWithRetry sends a batch until the hub answers it (withRetry). Each attempt is
// signed afresh so its issued_at stays current.
func (n *Node) pushWithRetry(ctx context.Context, r *retrier, batch *wire.Batch) (resp *wire.PushResponse, err error) {
	err = n.withRetry(ctx, r, "push", func() (err error) {
		resp, err = n.pushOnce(ctx, batch)
		return err
	})
	return resp, err
}

func (n *Node) pushOnce(ctx context.Context, batch *wire.Batch) (*wire.PushResponse, error) {
	now := n.now()
	batch.IssuedAt = now.UTC()
	// head: how far the node has written as it signs, so the hub can show its lag.
	err := n.journal.View(func(tx *journal.Tx) error {
		batch.Head = tx.LastSeq()
		return nil
	})
	if err != nil {
		return nil, err
	}
	signed, err := wire.SignBatch(n.key, batch)
	if err != nil {
		return nil, err
	}
	return n.hub.Push(ctx, n.hubToken(), signed)
}

func (n *Node) saveStatus(run RunStatus, rejected []wire.Result) error {
	return n.journal.Update(func(tx *journal.Tx) error {
		var st SyncStatus
		if raw := tx.Get(bucketMeta, keySyncStatus); raw != nil {
			json.Unmarshal(raw, &st)
		}
		st.LastRun = &run
		// Rejections stay listed across runs (newest last, at most maxRejected), so an
		// operator who looks the next morning still sees which records need fixing.
		st.Rejected = append(st.Rejected, rejected...)
		if len(st.Rejected) > maxRejected {
			st.Rejected = st.Rejected[len(st.Rejected)-maxRejected:]
		}
		if run.Backstop != nil && run.Result.Error == "" {
			st.LastBackstop = run.Backstop
		}
		st.LastError = run.Result.Error
		if run.Result.Error == "" {
			t := run.FinishedAt
			st.LastSuccessAt = &t
		}
		raw, err := json.Marshal(st)
		if err != nil {
			return err
		}
		return tx.Put(bucketMeta, keySyncStatus, raw)
	})
}

// Status reports the last run, the cursor, the outbox depth and the next scheduled run.
func (n *Node) Status() (*SyncStatus, error) {
	var st SyncStatus
	err := n.journal.View(func(tx *journal.Tx) error {
		if raw := tx.Get(bucketMeta, keySyncStatus); raw != nil {
			if err := json.Unmarshal(raw, &st); err != nil {
				return err
			}
		}
		st.Cursor = tx.GetUint(bucketMeta, keyPushCursor)
		info := n.replica.Load().Info()
		st.PullCheckpoint, st.HubHeadSeq, st.LastPullAt = info.AppliedSeq, info.HubHeadSeq, info.PulledAt
		st.LastSeq = tx.LastSeq()
		st.Outbox = st.LastSeq - st.Cursor
		return nil
	})
	n.statusMu.Lock()
	if !n.nextRun.IsZero() {
		t := n.nextRun
		st.NextRun = &t
	}
	n.statusMu.Unlock()
	return &st, err
}
