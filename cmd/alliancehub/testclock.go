package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// testClockEnv names a file whose content (an RFC 3339 time) a hub or node takes as the
// time, for the multi-process schedule test (sync_schedule_test.go): the test moves the
// clock of its processes by rewriting the file, and a node's scheduled waits end when
// the file's time reaches them, so a test of nights and days runs in seconds. It is not
// a flag and is never meant for production; a server started with it logs a warning.
const testClockEnv = "ALLIANCEHUB_TEST_CLOCK"

// testClockPoll is how often a wait on the test clock reads the file again.
const testClockPoll = 10 * time.Millisecond

// fileClock is the clock read from testClockEnv's file. Every reading reads the file,
// so that a hub and a node sharing it never see two times at once; the file is
// replaced whole (written beside it, then renamed), so a reading never sees half of it.
type fileClock struct {
	path string

	mu   sync.Mutex
	last time.Time // the last time read, kept should a later read fail
}

// testClock returns the clock testClockEnv names, or nil when it is not set.
func testClock(log *slog.Logger) (*fileClock, error) {
	path := os.Getenv(testClockEnv)
	if path == "" {
		return nil, nil
	}
	c := &fileClock{path: path}
	if _, err := c.read(); err != nil {
		return nil, fmt.Errorf("%s: %w", testClockEnv, err)
	}
	log.Warn("the clock is read from a file, for tests; never set this in production", "env", testClockEnv, "file", path, "now", c.Now())
	return c, nil
}

func (c *fileClock) read() (time.Time, error) {
	raw, err := os.ReadFile(c.path)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(raw)))
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", c.path, err)
	}
	return t, nil
}

// Now is the time in the file.
func (c *fileClock) Now() time.Time {
	t, err := c.read()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.last = t
	}
	return c.last
}

// After is time.After on the file's time: the channel receives once the file's time
// has reached d after the call.
func (c *fileClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	at := c.Now().Add(d)
	go func() {
		for {
			if now := c.Now(); !now.Before(at) {
				ch <- now
				return
			}
			time.Sleep(testClockPoll)
		}
	}()
	return ch
}
