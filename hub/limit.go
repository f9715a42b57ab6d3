package hub

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Push limits (DESIGN.md, Security: every input is bounded). A push holds up to 2 MiB
// in memory and verifies every signature in it, so the hub takes only so many at once.
const (
	// DefaultMaxPushes bounds the pushes the hub works on at once, all programs together.
	DefaultMaxPushes = 16
	// DefaultMaxPushesPerProgram bounds one program's pushes at once. A node never
	// overlaps its own runs, so a second push of one program is a retry whose first
	// attempt the hub is still reading; more than that is a misbehaving client, and must
	// not starve the other programs.
	DefaultMaxPushesPerProgram = 2
)

// Retry-After for a refused push: a few whole seconds, spread at random so that the
// nodes refused together do not all come back in the same second (Mastodon PR #21956).
const (
	retryAfterMin    = 1 * time.Second
	retryAfterSpread = 4 // whole seconds added at random: 1 to 5 in all
)

// ErrTooManyPushes is a push refused because the hub already works on as many as a limit
// allows. Nothing of it was read; the client sends it again after Retry-After.
var ErrTooManyPushes = errors.New("too many pushes in flight")

// PushLimitError says which limit refused a push and when to try again.
type PushLimitError struct {
	Limit      string // the flag that sets it: max-pushes or max-pushes-per-program
	Max        int
	Program    string
	RetryAfter time.Duration // whole seconds
}

func (e *PushLimitError) Error() string {
	who := "the hub already works on"
	if e.Limit == "max-pushes-per-program" {
		who = "program " + e.Program + " already has"
	}
	return fmt.Sprintf("%v: %s %d push(es), the most its --%s allows; nothing of this batch was read: send it again after %d second(s)",
		ErrTooManyPushes, who, e.Max, e.Limit, int(e.RetryAfter/time.Second))
}

func (e *PushLimitError) Unwrap() error { return ErrTooManyPushes }

// pushLimiter counts the pushes in flight, in all and per program. It refuses rather
// than queues: a queued push would hold its connection and its body, which is what the
// limit is there to bound, and the node's retry already waits.
type pushLimiter struct {
	max, perProgram int

	mu        sync.Mutex
	total     int
	byProgram map[string]int
}

func newPushLimiter(all, perProgram int) *pushLimiter {
	if all <= 0 {
		all = DefaultMaxPushes
	}
	if perProgram <= 0 {
		perProgram = DefaultMaxPushesPerProgram
	}
	return &pushLimiter{max: all, perProgram: perProgram, byProgram: map[string]int{}}
}

// acquire takes a slot for one push of program (the authenticated caller's) or answers a
// *PushLimitError. release gives the slot back; calling it again does nothing.
func (l *pushLimiter) acquire(program string) (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// The program's own limit is named first: it is the one its operator can act on.
	switch {
	case l.byProgram[program] >= l.perProgram:
		return nil, &PushLimitError{Limit: "max-pushes-per-program", Max: l.perProgram, Program: program, RetryAfter: retryAfter()}
	case l.total >= l.max:
		return nil, &PushLimitError{Limit: "max-pushes", Max: l.max, Program: program, RetryAfter: retryAfter()}
	}
	l.total++
	l.byProgram[program]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.total--
			if l.byProgram[program]--; l.byProgram[program] == 0 {
				delete(l.byProgram, program)
			}
		})
	}, nil
}

// retryAfter is a jittered wait in whole seconds (Retry-After has no fractions).
func retryAfter() time.Duration {
	return retryAfterMin + time.Duration(rand.IntN(retryAfterSpread+1))*time.Second
}
