package main

// The multi-process harness: the alliancehub binary is built once per test run with
// `go build`, and tests run it as real processes (servers in the background, CLI
// commands to completion). Every wait is bounded, every started process is killed in
// t.Cleanup, and a process's output is printed when its test fails.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/schema"
)

// Bounds on every wait in these tests. They are generous ceilings for a loaded CI
// machine, not performance assertions.
const (
	buildTimeout = 5 * time.Minute
	cliTimeout   = 60 * time.Second         // one CLI command, start to exit
	readyTimeout = 20 * time.Second         // a server from start to 200 on /readyz
	readyPoll    = 50 * time.Millisecond    // pause between /readyz polls
	readyPolls   = 400                      // at most this many polls
	exitTimeout  = 10 * time.Second         // a killed process to be reaped
	httpTimeout  = 30 * time.Second         // one HTTP request from the test
	envPrefix    = "ALLIANCEHUB_"           // flags from the environment (CONTRACT.md)
	asOf         = "2025-06-01"             // fixed roster date, so standing never depends on today
	outreachCode = "outreach-communication" // MI's outreach category
)

var (
	buildOnce sync.Once
	buildDir  string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binary returns the path of the alliancehub binary, building it on first use. Tests
// that run the binary are skipped under -short.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the built alliancehub binary; skipped with -short")
	}
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "alliancehub-bin-"); buildErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		defer cancel()
		bin := filepath.Join(buildDir, "alliancehub")
		// The test's working directory is this package's directory.
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build -o %s .: %v\n%s", bin, err, out)
			return
		}
		binPath = bin
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// childEnv is the test's environment without any ALLIANCEHUB_ variable (so a developer's
// shell cannot change what a test runs), plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envPrefix) {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// lockedBuffer collects a process's output; exec copies into it from its own goroutine
// while the test may read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// cliResult is what one finished command printed and its exit status.
type cliResult struct {
	stdout, stderr string
	code           int
}

// cliRun runs the binary with args to completion in dir (a fresh temporary directory if
// empty) with extra environment variables, within cliTimeout.
func cliRun(t *testing.T, dir string, env []string, args ...string) cliResult {
	t.Helper()
	bin := binary(t)
	if dir == "" {
		dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = childEnv(env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := cliResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("alliancehub %s: no exit within %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), cliTimeout, res.stdout, res.stderr)
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("alliancehub %s: %v", strings.Join(args, " "), err)
	}
	return res
}

// cli runs a command that must succeed and returns its standard output.
func cli(t *testing.T, args ...string) string {
	t.Helper()
	res := cliRun(t, "", nil, args...)
	if res.code != 0 {
		t.Fatalf("alliancehub %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), res.code, res.stdout, res.stderr)
	}
	return res.stdout
}

// proc is a server started from the binary and left running.
type proc struct {
	name   string
	cmd    *exec.Cmd
	output lockedBuffer // stdout and stderr together
	done   chan struct{}
	err    error // from Wait; read only after done is closed
}

// startProc starts the binary with args in the background. t.Cleanup kills it (if it
// still runs) and prints its output when the test failed.
func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	return startProcEnv(t, name, nil, args...)
}

// startProcEnv is startProc with extra environment variables.
func startProcEnv(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(binary(t), args...)
	p.cmd.Env = childEnv(env...)
	p.cmd.Stdout = &p.output
	p.cmd.Stderr = &p.output
	p.cmd.SysProcAttr = dieWithParent()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill(t)
		if t.Failed() {
			t.Logf("%s (pid %d, alliancehub %s) output:\n%s", p.name, p.cmd.Process.Pid, strings.Join(args, " "), p.output.String())
		}
	})
	return p
}

// kill sends SIGKILL (kill -9: no shutdown code runs) and waits, bounded, until the
// process is reaped.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("kill -9 %s: %v", p.name, err)
	}
	select {
	case <-p.done:
	case <-time.After(exitTimeout):
		t.Errorf("%s (pid %d) not reaped %s after kill -9", p.name, p.cmd.Process.Pid, exitTimeout)
	}
}

// waitReady polls baseURL/readyz until it answers 200, failing the test if the process
// exits first or the bounded poll runs out.
func (p *proc) waitReady(t *testing.T, baseURL string) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	start := time.Now()
	deadline := start.Add(readyTimeout)
	polls := 0
	for ; polls < readyPolls && time.Now().Before(deadline); polls++ {
		select {
		case <-p.done:
			t.Fatalf("%s exited before it was ready (%v); output:\n%s", p.name, p.err, p.output.String())
		default:
		}
		resp, err := client.Get(baseURL + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(readyPoll)
	}
	t.Fatalf("%s not ready at %s/readyz after %d polls in %s; output:\n%s",
		p.name, baseURL, polls, time.Since(start).Round(time.Millisecond), p.output.String())
}

// freeAddr finds a loopback port nobody listens on by listening on port 0 and closing.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

var httpClient = &http.Client{Timeout: httpTimeout}

// call sends a JSON request with a bearer token, checks the status and decodes a JSON
// answer into out (if not nil).
func call(t *testing.T, method, url, token string, body any, wantStatus int, out any) http.Header {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: status %d, want %d; body: %s", method, url, resp.StatusCode, wantStatus, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decoding %s: %v", method, url, raw, err)
		}
	}
	return resp.Header
}

// cluster is a hub process and an MI node process, each with its own key file and data
// directory under one temporary directory, the MI key enrolled with the hub.
type cluster struct {
	t                 *testing.T
	dir               string
	hubKey, miKey     string // private JWK files
	miKid             string // the MI key's id, as keygen printed it
	hubAddr, nodeAddr string
	hubURL, nodeURL   string
	hubData, nodeData string
	syncAt            string // far from now, so the nightly sync never runs during a test (nor a catch-up at start)
	hub, node         *proc
	admin, analyst    string   // tokens signed by the hub's key
	clerk             string   // program token signed by the MI key
	env               []string // extra environment of the hub and node processes
}

// startCluster makes the keys, starts the hub, enrolls MI with the CLI, starts the MI
// node and mints the tokens, all through the binary.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	return startClusterEnv(t, nil)
}

// startClusterEnv is startCluster with extra environment variables for the hub and
// node processes (not the CLI commands).
func startClusterEnv(t *testing.T, env []string) *cluster {
	t.Helper()
	binary(t)
	dir := t.TempDir()
	c := &cluster{
		t: t, dir: dir, env: env,
		hubKey: filepath.Join(dir, "hub.jwk"), miKey: filepath.Join(dir, "mi.jwk"),
		hubAddr: freeAddr(t), nodeAddr: freeAddr(t),
		hubData: filepath.Join(dir, "hub-data"), nodeData: filepath.Join(dir, "mi-data"),
	}
	c.hubURL, c.nodeURL = "http://"+c.hubAddr, "http://"+c.nodeAddr
	c.syncAt = farSyncAt(t)

	cli(t, "keygen", "--out", c.hubKey)
	var pub struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal([]byte(cli(t, "keygen", "--out", c.miKey)), &pub); err != nil || pub.Kid == "" {
		t.Fatalf("keygen printed no public JWK with a kid: %v", err)
	}
	c.miKid = pub.Kid

	c.startHub()
	c.admin = token(t, "--key", c.hubKey, "--role", "admin", "--subject", "t")
	c.analyst = token(t, "--key", c.hubKey, "--role", "analyst", "--subject", "analyst")
	out := cli(t, "enroll", "--hub", c.hubURL, "--token", c.admin, "--program", "MI", "--name", "MIOSHA", "--jwk", c.miKey)
	if !strings.Contains(out, "enrolled MI") || !strings.Contains(out, c.miKid) {
		t.Fatalf("enroll printed %q; want it to name MI and key %s", out, c.miKid)
	}
	c.startNode()
	c.clerk = token(t, "--key", c.miKey, "--role", "program", "--program", "MI", "--subject", "clerk")
	return c
}

// farSyncAt is a nightly sync time about twelve hours from now in MI's time zone.
func farSyncAt(t *testing.T) string {
	t.Helper()
	cat, err := schema.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	mi, ok := cat.Get("MI")
	if !ok {
		t.Fatal("no MI program definition")
	}
	return time.Now().In(mi.Location()).Add(12 * time.Hour).Format("15:04")
}

func token(t *testing.T, args ...string) string {
	t.Helper()
	tok := strings.TrimSpace(cli(t, append([]string{"token"}, args...)...))
	if tok == "" || strings.ContainsAny(tok, " \n") {
		t.Fatalf("token printed %q; want one bearer token", tok)
	}
	return tok
}

func (c *cluster) startHub() {
	c.t.Helper()
	c.hub = startProcEnv(c.t, "hub", c.env, "hub", "--addr", c.hubAddr, "--data", c.hubData, "--key", c.hubKey)
	c.hub.waitReady(c.t, c.hubURL)
}

func (c *cluster) startNode() {
	c.t.Helper()
	c.node = startProcEnv(c.t, "node MI", c.env, "node", "--program", "MI", "--addr", c.nodeAddr, "--data", c.nodeData,
		"--key", c.miKey, "--hub", c.hubURL, "--sync-at", c.syncAt, "--sync-catch-up=false")
	c.node.waitReady(c.t, c.nodeURL)
}

// crashHub kills the hub with SIGKILL and starts it again on the same address and data.
func (c *cluster) crashHub() {
	c.t.Helper()
	c.hub.kill(c.t)
	c.startHub()
}

// crashNode kills the node with SIGKILL and starts it again on the same address and data.
func (c *cluster) crashNode() {
	c.t.Helper()
	c.node.kill(c.t)
	c.startNode()
}

// created is what a node acknowledged for one new Alliance.
type created struct {
	ID, Rev string
	Body    map[string]any // the whole 201 answer
}

// create posts a new MI Alliance and returns the node's acknowledgement.
func (c *cluster) create(participant, signedOn string) created {
	c.t.Helper()
	body := map[string]any{
		"participants": []map[string]any{{"name": participant}},
		"goals":        []map[string]any{{"category": outreachCode}},
		"signed_on":    signedOn,
	}
	var got map[string]any
	h := call(c.t, http.MethodPost, c.nodeURL+"/v1/alliances", c.clerk, body, http.StatusCreated, &got)
	id, _ := got["id"].(string)
	rev, _ := got["rev"].(string)
	if id == "" || rev == "" {
		c.t.Fatalf("201 answer without id and rev: %v", got)
	}
	if etag := h.Get("ETag"); etag != `"`+rev+`"` {
		c.t.Errorf("create %s: ETag %s, want %q", id, etag, `"`+rev+`"`)
	}
	if loc := h.Get("Location"); loc != "/v1/alliances/"+id {
		c.t.Errorf("create %s: Location %q, want /v1/alliances/%s", id, loc, id)
	}
	return created{ID: id, Rev: rev, Body: got}
}

// sync runs `alliancehub sync --json` against the node; it must exit 0.
func (c *cluster) sync() wire.SyncResult {
	c.t.Helper()
	out := cli(c.t, "sync", "--node", c.nodeURL, "--token", c.clerk, "--json")
	var res wire.SyncResult
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		c.t.Fatalf("sync --json printed %q: %v", out, err)
	}
	return res
}

// rosterPage is what `roster --format json` prints.
type rosterPage struct {
	Items []map[string]any `json:"items"`
	Total int              `json:"total"`
}

// roster runs `alliancehub roster --format json` with the analyst token, as of a fixed
// date.
func (c *cluster) roster() rosterPage {
	c.t.Helper()
	out := cli(c.t, "roster", "--hub", c.hubURL, "--token", c.analyst, "--format", "json", "--as-of", asOf)
	var page rosterPage
	if err := json.Unmarshal([]byte(out), &page); err != nil {
		c.t.Fatalf("roster --format json printed %q: %v", out, err)
	}
	return page
}

// syncStatus is the part of the node's GET /v1/sync/status these tests check.
type syncStatus struct {
	Checkpoint uint64 `json:"checkpoint"`
	LastSeq    uint64 `json:"last_seq"`
	Outbox     uint64 `json:"outbox"`
	LastError  string `json:"last_error"`
}

func (c *cluster) syncStatus() syncStatus {
	c.t.Helper()
	var st syncStatus
	call(c.t, http.MethodGet, c.nodeURL+"/v1/sync/status", c.clerk, nil, http.StatusOK, &st)
	return st
}
