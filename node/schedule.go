package node

import (
	"context"
	"math/rand/v2"
	"time"
)

// When the node syncs on its own (docs/PROTOCOL.md, section 9, Schedule). A scheduled run
// has up to four reasons, each a slot with a time; the next run is the earliest slot.
const (
	// catchUpAge is how old the last success may be before a node catches up at start.
	catchUpAge = 24 * time.Hour
	// defaultCatchUpDelay bounds the random delay of a catch-up run at start, so nodes
	// restarted together (after a data-centre outage) do not all arrive at once.
	defaultCatchUpDelay = time.Minute
	// minSyncEvery is the shortest --sync-every the node accepts.
	minSyncEvery = time.Minute
	// After a failed scheduled run the next comes retryFirst later, doubling with each
	// failure in a row up to retryMax: hours, never days (synapse#14513).
	retryFirst = 15 * time.Minute
	retryMax   = 4 * time.Hour
)

// Reasons for a scheduled run, as logged.
const (
	reasonNightly  = "nightly"
	reasonPeriodic = "sync-every"
	reasonCatchUp  = "catch-up"
	reasonRetry    = "retry"
)

// clock is a time of day.
type clock struct{ hour, minute int }

func parseClock(s string) (clock, error) {
	if s == "" {
		return clock{hour: 2}, nil
	}
	t, err := time.Parse("15:04", s)
	if err != nil {
		return clock{}, &ConfigError{Flag: "sync-at", Value: s, Problem: "want HH:MM (24-hour)"}
	}
	return clock{hour: t.Hour(), minute: t.Minute()}, nil
}

// NextRun is the next nightly run after now: the configured time of day in the program's
// time zone, plus up to SyncJitter so programs do not all arrive at once. On the night
// the clocks spring forward over that time (02:30 on the second Sunday of March in the
// United States), the run is at the end of the gap (03:00, new time); on the night they
// fall back, a time that occurs twice runs at its first occurrence only. The next run
// of any kind, nightly or not, is next_run in GET /v1/sync/status.
func (n *Node) NextRun(now time.Time) time.Time {
	loc := n.program.Location()
	local := now.In(loc)
	next := n.nightlyOn(local.Year(), local.Month(), local.Day(), loc)
	if !next.After(local) {
		next = n.nightlyOn(local.Year(), local.Month(), local.Day()+1, loc)
	}
	if n.jitter > 0 {
		next = next.Add(rand.N(n.jitter))
	}
	return next
}

// nightlyOn is the configured time of day on a date, without jitter. time.Date gives a
// time that does not exist that day (skipped by a DST change) with the offset from after
// the change, which would move the run an hour early, before the change (01:30 EST for
// 02:30 in Detroit); the run is at the end of the gap instead.
func (n *Node) nightlyOn(year int, month time.Month, day int, loc *time.Location) time.Time {
	t := time.Date(year, month, day, n.syncAt.hour, n.syncAt.minute, 0, 0, loc)
	if t.Hour() != n.syncAt.hour || t.Minute() != n.syncAt.minute {
		_, end := t.ZoneBounds()
		if !end.IsZero() {
			t = end
		}
	}
	return t
}

// scheduler is the state of the schedule loop: one time per reason for a run (zero: no
// run for that reason), and what it knows of past runs.
type scheduler struct {
	nightly, periodic, catchUp, retry time.Time
	lastEnd                           time.Time // end of the latest run seen; periodic counts from it
	failures                          int       // scheduled runs failed in a row
	failedAt                          time.Time // end of the latest of those
}

// next is the earliest slot and its reason.
func (s *scheduler) next() (time.Time, string) {
	at, reason := s.nightly, reasonNightly
	for _, c := range []struct {
		at     time.Time
		reason string
	}{{s.retry, reasonRetry}, {s.catchUp, reasonCatchUp}, {s.periodic, reasonPeriodic}} {
		if !c.at.IsZero() && c.at.Before(at) {
			at, reason = c.at, c.reason
		}
	}
	return at, reason
}

// schedule runs the scheduled syncs until ctx ends: nightly at --sync-at, every
// --sync-every if set, once soon after start if the node is behind (catch-up), and
// sooner than the next night after a failed run (retry). Runs never overlap: a run that
// comes due while another (on demand) is in progress waits for it, and then runs only
// if that one did not do its work.
func (n *Node) schedule(ctx context.Context) {
	now := n.now()
	s := &scheduler{nightly: n.NextRun(now), lastEnd: now}
	if n.every > 0 {
		s.periodic = n.nextPeriodic(now)
	}
	if !n.noCatchUp {
		st, err := n.Status()
		if err != nil {
			n.log.Error("reading the sync status at start", "err", err)
		} else if why := catchUpNeeded(st, now); why != "" {
			s.catchUp = now.Add(randUpTo(n.catchUpDelay))
			n.log.Info("catching up at start", "why", why, "at", s.catchUp)
		}
	}
	for {
		at, reason := s.next()
		n.statusMu.Lock()
		n.nextRun = at
		n.statusMu.Unlock()
		if d := at.Sub(n.now()); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-n.after(d):
			}
		}
		if ctx.Err() != nil {
			return
		}
		n.scheduledRun(ctx, s, at, reason)
	}
}

// scheduledRun runs the sync that came due at due, unless a run since has done its work,
// and moves the slots on. It waits for a run in progress: a node stopping meanwhile waits
// as long as that run, which the HTTP server's shutdown cancels.
func (n *Node) scheduledRun(ctx context.Context, s *scheduler, due time.Time, reason string) {
	if !n.syncMu.TryLock() {
		n.log.Info("scheduled sync waits for the run in progress", "reason", reason)
		n.syncMu.Lock()
	}
	defer n.syncMu.Unlock()
	if ctx.Err() != nil {
		return
	}
	now := n.now()
	if st, err := n.Status(); err != nil {
		// Without the status there is nothing to decide on; running is the safe side.
		n.log.Error("reading the sync status; running anyway", "err", err)
	} else if n.notNeeded(s, st, due, now, reason) {
		return
	}
	n.log.Info("scheduled sync", "reason", reason)
	_, err := n.syncLocked(ctx, false)
	if ctx.Err() != nil {
		return // stopped, not failed: the next start decides whether to catch up
	}
	end := n.now()
	if err != nil {
		n.log.Error("scheduled sync failed", "reason", reason, "err", err, "failures_in_a_row", s.failures+1)
	}
	n.ranAt(s, end, end, err != nil)
}

// notNeeded reports whether the run that came due at due has nothing left to do, and if
// so moves the slots on.
func (n *Node) notNeeded(s *scheduler, st *SyncStatus, due, now time.Time, reason string) bool {
	if st.LastRun != nil && !st.LastRun.FinishedAt.Before(due) {
		// A run on demand was in progress when this one came due (or ran since): running
		// again at once would be a duplicate. Its outcome stands for this run's.
		n.log.Info("scheduled sync not needed: a run finished after it came due", "reason", reason,
			"finished_at", st.LastRun.FinishedAt)
		n.ranAt(s, now, st.LastRun.FinishedAt, st.LastRun.Result.Error != "")
		return true
	}
	n.observe(s, st, now)
	if at, _ := s.next(); at.After(now) {
		n.log.Info("scheduled sync not needed any more", "reason", reason)
		return true
	}
	return false
}

// observe brings the scheduler up to date with runs it did not start (on demand).
func (n *Node) observe(s *scheduler, st *SyncStatus, now time.Time) {
	if st.LastRun != nil && st.LastRun.FinishedAt.After(s.lastEnd) {
		s.lastEnd = st.LastRun.FinishedAt
		if n.every > 0 {
			s.periodic = n.nextPeriodic(s.lastEnd)
		}
	}
	if s.failures > 0 && st.LastSuccessAt != nil && st.LastSuccessAt.After(s.failedAt) {
		s.failures, s.retry = 0, time.Time{}
	}
	if !s.catchUp.IsZero() && catchUpNeeded(st, now) == "" {
		s.catchUp = time.Time{}
	}
}

// ranAt moves the slots on after a run that ended at end (now is after it): every slot
// that came due is done, the periodic run counts from end, and a failure brings a retry
// sooner than the next night.
func (n *Node) ranAt(s *scheduler, now, end time.Time, failed bool) {
	if !s.nightly.After(now) {
		s.nightly = n.NextRun(now)
	}
	if !s.catchUp.After(now) {
		s.catchUp = time.Time{}
	}
	s.lastEnd = end
	if n.every > 0 {
		s.periodic = n.nextPeriodic(end)
	}
	if !failed {
		s.failures, s.retry = 0, time.Time{}
		return
	}
	s.failures++
	s.failedAt = end
	s.retry = end.Add(retryWait(s.failures))
}

// nextPeriodic is the --sync-every run after a run that ended at end: SyncEvery later,
// plus up to a tenth of it so nodes started together drift apart.
func (n *Node) nextPeriodic(end time.Time) time.Time {
	return end.Add(n.every + randUpTo(n.every/10))
}

// retryWait is the wait before the next run after failures scheduled runs failed in a
// row: 15 minutes, doubling to at most 4 hours, less up to a tenth at random so nodes
// that failed together (the hub was down) do not retry together.
func retryWait(failures int) time.Duration {
	d := retryFirst
	for i := 1; i < failures && d < retryMax; i++ {
		d *= 2
	}
	d = min(d, retryMax)
	return d - randUpTo(d/10)
}

// catchUpNeeded says why a node starting at now should sync soon instead of waiting for
// its next scheduled run; "" means it need not.
func catchUpNeeded(st *SyncStatus, now time.Time) string {
	switch {
	case st.LastSuccessAt == nil:
		// Even with nothing to push: the replica of the national roster is empty until
		// the first pull.
		return "never synced"
	case st.LastRun != nil && st.LastError != "":
		return "the last sync failed"
	case st.LastSuccessAt != nil && now.Sub(*st.LastSuccessAt) > catchUpAge:
		return "the last successful sync is more than a day old"
	}
	return ""
}

// randUpTo is a random duration in [0, d), or 0 when d is not positive.
func randUpTo(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}
