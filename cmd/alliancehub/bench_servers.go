package main

// Servers and clients of alliancehub bench: hubs started in this process on loopback
// (as demo does) or a running hub given by URL, enrollment through the admin API, and a
// simulated node's push that honours 429 and Retry-After.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/schema"
)

// benchHub is the hub a scenario runs against: one this process started, or a running
// one (remote) it only has a URL and an admin token for.
type benchHub struct {
	URL     string
	admin   string // an admin token
	reader  string // a token for roster queries
	remote  bool
	key     *auth.Key // in-process only
	dir     string
	catalog *schema.Catalog
	log     *slog.Logger

	h      *hub.Hub
	cancel context.CancelFunc
	done   chan error
}

// startLocalHub starts a hub on a loopback port, with a new key in dir.
func startLocalHub(ctx context.Context, dir string, catalog *schema.Catalog, log *slog.Logger) (*benchHub, error) {
	key, err := auth.LoadOrCreateKey(filepath.Join(dir, "key.jwk"))
	if err != nil {
		return nil, err
	}
	b := &benchHub{key: key, dir: dir, catalog: catalog, log: log}
	if err := b.open(ctx); err != nil {
		return nil, err
	}
	b.admin, err = auth.MintToken(key, auth.TokenRequest{Subject: "bench-admin", Role: auth.RoleAdmin, TTL: 24 * time.Hour})
	if err != nil {
		return nil, err
	}
	b.reader, err = auth.MintToken(key, auth.TokenRequest{Subject: "bench-analyst", Role: auth.RoleAnalyst, TTL: 24 * time.Hour})
	return b, err
}

// open opens the hub's store and serves it on a new loopback port.
func (b *benchHub) open(ctx context.Context) error {
	h, err := hub.New(hub.Config{Key: b.key, DataDir: b.dir, Catalog: b.catalog, Log: b.log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.Close()
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	b.h, b.cancel, b.done = h, cancel, make(chan error, 1)
	b.URL = "http://" + ln.Addr().String()
	go func() { b.done <- h.Run(rctx, ln) }()
	return nil
}

// stop stops serving and closes the store; a remote hub is left alone.
func (b *benchHub) stop() error {
	if b == nil || b.remote || b.h == nil {
		return nil
	}
	b.cancel()
	err := <-b.done
	err = errors.Join(err, b.h.Close())
	b.h = nil
	return err
}

// restart starts a stopped hub again on its data directory, and returns how long it
// took from the start of the new hub to its first 200 on /readyz, and to the return of
// hub.New.
func (b *benchHub) restart(ctx context.Context, client *http.Client) (ready, opened time.Duration, err error) {
	start := time.Now()
	if err := b.open(ctx); err != nil {
		return 0, 0, err
	}
	opened = time.Since(start)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.URL+"/readyz", nil)
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start), opened, nil
			}
		}
		if ctx.Err() != nil {
			return 0, 0, ctx.Err()
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// jwk is the hub's public JWK: given to nodes in-process, fetched from a remote hub.
func (b *benchHub) jwk() ([]byte, error) {
	if b.key != nil {
		return json.Marshal(b.key.PublicJWK())
	}
	return nil, nil // a node pins the key the hub shows on first contact
}

// enroll registers each feed's key with the hub through the admin API, several at once.
func (b *benchHub) enroll(ctx context.Context, feeds []*benchFeed) error {
	c, err := newAPIClient(b.URL, b.admin)
	if err != nil {
		return err
	}
	var (
		mu   sync.Mutex
		errs error
		wg   sync.WaitGroup
		next = make(chan *benchFeed)
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range next {
				if err := c.do(ctx, http.MethodPost, "/v1/programs", map[string]any{"code": f.program.Code, "jwk": f.key.PublicJWK()}, nil); err != nil {
					mu.Lock()
					errs = errors.Join(errs, fmt.Errorf("enroll %s: %w", f.program.Code, err))
					mu.Unlock()
				}
			}
		}()
	}
	for _, f := range feeds {
		next <- f
	}
	close(next)
	wg.Wait()
	return errs
}

// benchClient is an HTTP client for many concurrent connections to one hub. Like the
// node's (node.NewHTTPHub), it waits for "100 Continue" before sending a push's body,
// so a hub at its push limit answers 429 without the body being sent (a body sent
// anyway can cost the answer when the hub closes the connection: golang/go#11745).
func benchClient(conns int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = conns + 16
	t.MaxIdleConnsPerHost = conns + 16
	t.ExpectContinueTimeout = 15 * time.Second
	return &http.Client{Transport: t}
}

// pushStats counts what pushes met.
type pushStats struct {
	batches   int
	records   int
	outcomes  map[wire.Outcome]int
	throttled int           // 429 answers, each waited out and sent again
	waited    time.Duration // time spent waiting for Retry-After
	netRetry  int           // attempts that met a network error and were sent again, as a node does
	errors    []string      // anything else: a failure of the scenario
}

func (s *pushStats) add(o pushStats) {
	s.batches += o.batches
	s.records += o.records
	if s.outcomes == nil {
		s.outcomes = map[wire.Outcome]int{}
	}
	for k, v := range o.outcomes {
		s.outcomes[k] += v
	}
	s.throttled += o.throttled
	s.waited += o.waited
	s.netRetry += o.netRetry
	s.errors = append(s.errors, o.errors...)
}

// maxPushAttempts bounds how often one batch is sent again after a 429;
// maxNetRetries how often after a network error (with a growing wait, as a node's
// retries do).
const (
	maxPushAttempts = 1000
	maxNetRetries   = 6
)

// pushFeed pushes a feed's batches one after another, as a node does: each batch signed
// afresh for each attempt with a program token of its own, a 429 waited out for its
// Retry-After and sent again. Outcomes other than accepted, and every other failure,
// are counted; a failed batch does not stop the next.
func pushFeed(ctx context.Context, client *http.Client, hubURL string, f *benchFeed) pushStats {
	st := pushStats{outcomes: map[wire.Outcome]int{}}
	fail := func(format string, args ...any) {
		st.errors = append(st.errors, fmt.Sprintf("%s: ", f.program.Code)+fmt.Sprintf(format, args...))
	}
	last := uint64(0)
	if n := len(f.batches); n > 0 {
		last = f.batches[n-1].to
	}
	for _, b := range f.batches {
		recs, err := readBatch(b)
		if err != nil {
			fail("%v", err)
			continue
		}
		netErrs := 0
		for attempt := 1; ; attempt++ {
			if ctx.Err() != nil {
				fail("%v", ctx.Err())
				return st
			}
			status, retryAfter, resp, err := pushOnce(ctx, client, hubURL, f, b, recs, last)
			var ne *netError
			if errors.As(err, &ne) && netErrs < maxNetRetries && ctx.Err() == nil {
				netErrs++
				st.netRetry++
				select {
				case <-time.After(time.Duration(1<<(netErrs-1)) * 250 * time.Millisecond):
				case <-ctx.Done():
				}
				continue
			}
			if err != nil {
				fail("batch %d-%d: %v", b.from, b.to, err)
				break
			}
			if status == http.StatusTooManyRequests && attempt < maxPushAttempts {
				st.throttled++
				st.waited += retryAfter
				select {
				case <-time.After(retryAfter):
				case <-ctx.Done():
				}
				continue
			}
			if status != http.StatusOK {
				fail("batch %d-%d: %d %s", b.from, b.to, status, resp.problem)
				break
			}
			st.batches++
			if len(resp.push.Results) != len(recs) || resp.push.Checkpoint < b.to {
				fail("batch %d-%d: %d results for %d records, checkpoint %d", b.from, b.to, len(resp.push.Results), len(recs), resp.push.Checkpoint)
			}
			for _, r := range resp.push.Results {
				st.records++
				st.outcomes[r.Outcome]++
				if r.Outcome == wire.Rejected || r.Outcome == wire.Conflict {
					fail("record %s (seq %d) %s: %s", r.ID, r.Seq, r.Outcome, r.Reason)
				}
			}
			break
		}
	}
	return st
}

// netError is a push that met a network error: a node sends it again.
type netError struct{ err error }

func (e *netError) Error() string { return "network: " + e.err.Error() }
func (e *netError) Unwrap() error { return e.err }

type pushAnswer struct {
	push    wire.PushResponse
	problem string
}

// pushOnce signs and sends one attempt of batch b. It returns the status, the wait a 429
// asks for, and the decoded answer.
func pushOnce(ctx context.Context, client *http.Client, hubURL string, f *benchFeed, b benchBatch, recs []string, head uint64) (int, time.Duration, pushAnswer, error) {
	var ans pushAnswer
	var id [12]byte
	rand.Read(id[:])
	jws, err := wire.SignBatch(f.key, &wire.Batch{Program: f.program.Code, BatchID: hex.EncodeToString(id[:]),
		SeqFrom: b.from, SeqTo: b.to, IssuedAt: time.Now().UTC(), Records: recs, Head: head})
	if err != nil {
		return 0, 0, ans, err
	}
	token, err := auth.MintToken(f.key, auth.TokenRequest{Subject: "node:" + f.program.Code, Role: auth.RoleProgram,
		Program: f.program.Code, TTL: 5 * time.Minute})
	if err != nil {
		return 0, 0, ans, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hubURL+"/v1/sync/push", bytes.NewReader([]byte(jws)))
	if err != nil {
		return 0, 0, ans, err
	}
	req.Header.Set("Content-Type", wire.MediaTypeJOSE)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Expect", "100-continue")
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, ans, &netError{err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return 0, 0, ans, &netError{err}
	}
	switch resp.StatusCode {
	case http.StatusOK:
		if err := json.Unmarshal(body, &ans.push); err != nil {
			return 0, 0, ans, fmt.Errorf("unreadable answer: %w", err)
		}
	case http.StatusTooManyRequests:
		secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		if err != nil || secs < 0 {
			return 0, 0, ans, fmt.Errorf("429 without a usable Retry-After (%q)", resp.Header.Get("Retry-After"))
		}
		return resp.StatusCode, time.Duration(secs) * time.Second, ans, nil
	default:
		var p struct {
			Type, Detail string
		}
		json.Unmarshal(body, &p)
		ans.problem = p.Type + ": " + p.Detail
	}
	return resp.StatusCode, 0, ans, nil
}
