package hub_test

// Half-closed connections between a node and the hub, in both directions (issue 6): one
// side's stream ends (a FIN) while the other stays open, at chosen points of chosen
// requests. toxiproxy, which the multi-process network tests use, closes both directions
// of a connection together, so this file has its own small proxy: it reads each HTTP/1.1
// request's head to know where it is, and half-closes with TCP's CloseWrite.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/node"
	"github.com/google/go-cmp/cmp"
)

// halfClose is what the proxy does to one request.
type halfClose struct {
	// up: the node's direction ends; down: the hub's.
	up bool
	// after is how many bytes of the direction pass before its FIN: for up, of the
	// request (head and body; -1 for all of it), for down, of the answer.
	after int
	what  string
}

var (
	hcPass = halfClose{what: "pass"}
	// The node's stream ends in the middle of the request's body (or, without one, of
	// its head): the hub reads a request cut short, and its answer still reaches the node.
	hcUpMid = halfClose{up: true, after: -2, what: "node->hub FIN mid-request"}
	// The node's stream ends right after a whole request, as a client that shuts down
	// its sending side once it has asked: the hub must still answer.
	hcUpAfter = halfClose{up: true, after: -1, what: "node->hub FIN after the request"}
	// The hub's stream ends before the first byte of its answer (the hub has done the
	// work), or after some of it; the node's side stays open.
	hcDownBefore = halfClose{after: 0, what: "hub->node FIN before the answer"}
)

func hcDownAfter(n int) halfClose {
	return halfClose{after: n, what: fmt.Sprintf("hub->node FIN after %d bytes of the answer", n)}
}

// halfProxy forwards TCP between a node and the hub, following a script per route.
type halfProxy struct {
	t      *testing.T
	target string
	ln     net.Listener
	url    string

	mu     sync.Mutex
	script map[string][]halfClose // by "METHOD /path"
	log    []string               // what was done, in order
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func startHalfProxy(t *testing.T, hubURL string) *halfProxy {
	t.Helper()
	u, err := url.Parse(hubURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &halfProxy{t: t, target: u.Host, ln: ln, url: "http://" + ln.Addr().String(),
		script: map[string][]halfClose{}, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *halfProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(c.(*net.TCPConn))
		}()
	}
}

func (p *halfProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *halfProxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	c.Close()
}

// next takes the route's next step, noting it.
func (p *halfProxy) next(route string) halfClose {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := hcPass
	if q := p.script[route]; len(q) > 0 {
		f, p.script[route] = q[0], q[1:]
	}
	p.log = append(p.log, time.Now().Format("15:04:05.000")+" "+route+": "+f.what)
	return f
}

// left is the script's steps not yet taken.
func (p *halfProxy) left() map[string][]halfClose {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string][]halfClose{}
	for r, q := range p.script {
		if len(q) > 0 {
			out[r] = q
		}
	}
	return out
}

// serve relays one connection: requests from the node, read head by head, and the hub's
// bytes back, either of which may be half-closed by the script.
func (p *halfProxy) serve(node *net.TCPConn) {
	if !p.track(node) {
		node.Close()
		return
	}
	defer p.untrack(node)
	d, err := net.Dial("tcp", p.target)
	if err != nil {
		p.t.Errorf("half-close proxy: dial the hub: %v", err)
		return
	}
	hub := d.(*net.TCPConn)
	if !p.track(hub) {
		return
	}
	defer p.untrack(hub)

	down := &downStream{node: node}
	done := make(chan struct{})
	go func() {
		defer close(done)
		down.relay(hub)
	}()
	defer func() { <-done }()

	in := bufio.NewReader(node)
	for {
		head, route, length, err := readHead(in)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				p.t.Errorf("half-close proxy: %v", err)
			}
			hub.CloseWrite() // the node closed: pass its FIN on
			return
		}
		// The head goes first: a push waits for the hub's 100 Continue before its body.
		f := p.next(route)
		if f == hcPass {
			hub.Write(head)
			if _, err := io.CopyN(hub, in, int64(length)); err != nil {
				hub.CloseWrite()
				return
			}
			continue
		}
		req := head
		if length > 0 {
			hub.Write(head)
			req = make([]byte, length)
			if _, err := io.ReadFull(in, req); err != nil {
				hub.CloseWrite()
				return
			}
		}
		switch {
		case f.up:
			cut := len(req)
			if f.after == -2 {
				cut = len(req) / 2 // half the body, or without one half the head
			}
			hub.Write(req[:cut])
			hub.CloseWrite()
			io.Copy(io.Discard, in) // the node's side is still open: take what it sends
			return
		default:
			// Arm before the request's last byte leaves, so the whole answer is counted.
			hub.Write(req[:len(req)-1])
			down.arm(f.after)
			hub.Write(req[len(req)-1:])
		}
	}
}

// readHead reads a request's head, returning it as sent, its route and its body's length.
// A chunked body would be a surprise (the node sends whole bodies): it is an error.
func readHead(r *bufio.Reader) (head []byte, route string, length int, err error) {
	var buf bytes.Buffer
	for {
		line, err := r.ReadSlice('\n')
		buf.Write(line)
		if err != nil {
			if buf.Len() == 0 && errors.Is(err, io.EOF) {
				return nil, "", 0, io.EOF
			}
			return nil, "", 0, fmt.Errorf("reading a request head: %w", err)
		}
		if len(line) <= 2 { // "\r\n": end of the head
			break
		}
		if route == "" {
			f := strings.Fields(string(line))
			if len(f) != 3 {
				return nil, "", 0, fmt.Errorf("request line %q", line)
			}
			path, _, _ := strings.Cut(f[1], "?")
			route = f[0] + " " + path
			continue
		}
		name, value, _ := strings.Cut(strings.TrimSpace(string(line)), ":")
		switch strings.ToLower(name) {
		case "content-length":
			if length, err = strconv.Atoi(strings.TrimSpace(value)); err != nil {
				return nil, "", 0, fmt.Errorf("Content-Length %q", value)
			}
		case "transfer-encoding":
			return nil, "", 0, fmt.Errorf("%s: Transfer-Encoding %q", route, value)
		}
	}
	return buf.Bytes(), route, length, nil
}

// downStream relays the hub's bytes to the node; once armed with n, it lets n more
// through and then half-closes the node's side, and discards the rest.
type downStream struct {
	node  *net.TCPConn
	mu    sync.Mutex
	armed bool
	left  int
	cut   bool
}

func (d *downStream) arm(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.armed, d.left = true, n
}

func (d *downStream) relay(hub net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := hub.Read(buf)
		if n > 0 {
			d.mu.Lock()
			switch {
			case d.cut:
			case d.armed:
				k := min(n, d.left)
				d.node.Write(buf[:k])
				d.left -= k
				if d.left == 0 {
					d.node.CloseWrite()
					d.cut = true
				}
			default:
				d.node.Write(buf[:n])
			}
			d.mu.Unlock()
		}
		if err != nil {
			d.mu.Lock()
			if !d.cut {
				d.node.CloseWrite() // the hub closed: pass its FIN on
			}
			d.mu.Unlock()
			return
		}
	}
}

// TestSyncAcrossHalfClosedConnections: pushes, the keys document and change pages meet
// connections half-closed in each direction: the node's stream ending mid-request or
// right after it, the hub's ending before or inside its answer, while the other
// direction stays open. The hub stores nothing from a request cut short and answers
// what it can; the node retries within the run; nothing is lost or stored twice, and the
// node's replica answers as the hub does. The next run has nothing to do.
func TestSyncAcrossHalfClosedConnections(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	nv := hubtest.StartNode(t, h, "NV")
	for i := range 40 {
		create(t, nv, fmt.Sprintf(`{"participants":[{"name":"Nevada Partner %d"}],"goals":[{"category":"training-education"}],"signed_on":"2025-01-15"}`, i))
	}
	syncNode(t, nv)

	p := startHalfProxy(t, h.URL)
	mi := hubtest.StartNode(t, h, "MI", func(c *node.Config) {
		c.HubURL = p.url
		c.BatchRecords = 10
		c.Retry = node.RetryPolicy{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond, Budget: time.Minute}
	})
	const total = 50 // five batches
	for i := range total {
		create(t, mi, fmt.Sprintf(`{"participants":[{"name":"Michigan Partner %d"}],"goals":[{"category":"outreach-communication"}],"signed_on":"2024-05-14"}`, i))
	}
	const (
		push    = "POST /v1/sync/push"
		keys    = "GET /v1/sync/keys"
		changes = "GET /v1/sync/changes"
		jwks    = "GET /.well-known/jwks.json"
	)
	p.mu.Lock()
	p.script = map[string][]halfClose{
		push: {
			hcUpMid,         // batch 1 cut mid-body: the hub answers 408 and stores nothing
			hcDownBefore,    // batch 1 stored, its answer never starts
			hcUpAfter,       // batch 1 again, the node's side closed after it: answered, duplicate
			hcDownAfter(1),  // batch 2 stored, its answer cut after one byte
			hcPass,          // batch 2 again: duplicate
			hcDownAfter(60), // batch 3 stored, its answer cut inside the head
		},
		jwks: {hcUpMid},                     // the hub's key, asked for with half a head
		keys: {hcDownAfter(200), hcUpAfter}, // the keys document cut, then asked for and shut
		changes: { // the first page: each of these is a retry of it
			hcDownBefore,     // it never starts
			hcDownAfter(300), // cut in its body
			hcUpMid,          // asked for with half a head: Go's server answers a bare 400
			hcUpAfter,        // asked for, the node's side closed: answered
		},
	}
	p.mu.Unlock()

	res, err := mi.Sync(t.Context())
	if err != nil {
		t.Fatalf("sync across half-closed connections: %v\n%s", err, strings.Join(p.log, "\n"))
	}
	if left := p.left(); len(left) != 0 {
		t.Errorf("script steps never reached: %v", left)
	}
	// Batches 1, 2 and 3 were each stored before an answer was lost: they come back
	// duplicate. Every change is kept once.
	if diff := cmp.Diff(wire.SyncResult{Pushed: total, Accepted: total - 30, Duplicate: 30, Pulled: 40 + total}, res); diff != "" {
		t.Errorf("run (-want +got):\n%s\n%s", diff, strings.Join(p.log, "\n"))
	}
	var progs struct{ Items []hub.ProgramView }
	hubtest.GetJSON(t, h.URL+"/v1/programs", h.Token(t, auth.RoleAnalyst, ""), &progs)
	for _, ps := range progs.Items {
		if ps.Code == "MI" && (ps.Sync.Checkpoint != total || ps.Sync.Records != total) {
			t.Errorf("hub: MI checkpoint %d with %d records, want %d and %d", ps.Sync.Checkpoint, ps.Sync.Records, total, total)
		}
	}
	sameRoster(t, h, mi, 40+total)

	// Nothing left over: the next run through the same proxy, untouched, moves nothing.
	if res, err := mi.Sync(t.Context()); err != nil || res != (wire.SyncResult{}) {
		t.Errorf("next run = %+v, %v; want nothing to do", res, err)
	}
	resp, raw := hubtest.Do(t, http.MethodGet, h.URL+"/v1/roster?program=MI&limit=1", h.Token(t, auth.RoleAnalyst, ""), nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("hub roster after the run: %d %s", resp.StatusCode, raw)
	}
}
