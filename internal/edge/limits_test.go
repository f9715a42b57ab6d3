package edge

// Connection limits (issue 6 item 7): a client that sends its headers or its body slowly,
// sends too much header, or holds a keep-alive connection open is cut off by the server's
// limits, and many such clients at once do not stop the server answering others. The
// tests run the server Serve runs with one timeout shortened through serve, every other
// limit at its production value, so only the limit under test can close the connection
// in time; each would fail (a connection still open at its bound) without it.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// limitsHandler is an edge server with two routes: GET /ok, and POST /json, which reads
// its body with DecodeJSON (at most MaxJSONBody bytes) and answers how long "s" was.
func limitsHandler() http.Handler {
	e := New(slog.New(slog.DiscardHandler), nil)
	e.GET("/ok", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	e.POST("/json", func(c echo.Context) error {
		var v struct {
			S string `json:"s"`
		}
		if err := DecodeJSON(c, &v); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]int{"len": len(v.S)})
	})
	return e
}

// startServer serves limitsHandler on loopback with run (Serve, or serve with shortened
// limits) until the test ends, and returns its address.
func startServer(t *testing.T, run func(context.Context, net.Listener, http.Handler, *slog.Logger) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, limitsHandler(), slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// withLimits runs serve with lim.
func withLimits(lim limits) func(context.Context, net.Listener, http.Handler, *slog.Logger) error {
	return func(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
		return serve(ctx, ln, h, log, lim)
	}
}

// slowClient is a raw TCP connection that sends head at once and then one byte of
// trickle every second, never finishing, and notes when the server closes it.
type slowClient struct {
	conn    net.Conn
	dialed  time.Time
	sent    atomic.Int64 // bytes of the trickle sent
	closed  chan struct{}
	closeAt time.Time // when the server closed the connection (after closed)
	got     []byte    // what the server sent before closing
	wg      sync.WaitGroup
}

func dialSlow(t *testing.T, addr, head string, trickle func(i int) byte) *slowClient {
	t.Helper()
	c := &slowClient{dialed: time.Now(), closed: make(chan struct{})}
	var err error
	if c.conn, err = net.Dial("tcp", addr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.conn.Close(); c.wg.Wait() })
	if _, err := io.WriteString(c.conn, head); err != nil {
		t.Fatal(err)
	}
	c.wg.Add(2)
	go func() { // the server's side: whatever it sends, until it closes
		defer c.wg.Done()
		c.got, _ = io.ReadAll(c.conn) // EOF, or a reset if it closed with our bytes unread
		c.closeAt = time.Now()
		close(c.closed)
	}()
	go func() {
		defer c.wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for i := 0; ; i++ {
			if _, err := c.conn.Write([]byte{trickle(i)}); err != nil {
				return
			}
			c.sent.Add(1)
			select {
			case <-c.closed:
				return
			case <-tick.C:
			}
		}
	}()
	return c
}

func (c *slowClient) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// waitClosed waits until the server has closed every client, failing for any still open
// bound after it was dialled, and returns the shortest and longest time to the close.
func waitClosed(t *testing.T, clients []*slowClient, bound time.Duration) (shortest, longest time.Duration) {
	t.Helper()
	shortest = time.Hour
	for i, c := range clients {
		select {
		case <-c.closed:
		case <-time.After(time.Until(c.dialed.Add(bound))):
			t.Fatalf("client %d: the connection is still open %s after it was dialled (%d byte(s) trickled)", i, bound, c.sent.Load())
		}
		d := c.closeAt.Sub(c.dialed)
		shortest, longest = min(shortest, d), max(longest, d)
	}
	return shortest, longest
}

// get makes one ordinary request on a new connection.
func get(t *testing.T, method, url, contentType string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, raw
}

// slowloris is a request line and headers that never end.
func slowloris(i int) byte {
	const start = "GET /ok HTTP/1.1\r\nHost: localhost\r\n"
	if i < len(start) {
		return start[i]
	}
	return "X-Slow: more\r\n"[(i-len(start))%len("X-Slow: more\r\n")]
}

// TestServerLimits: the limits Serve applies are the ones the design and the
// reliability document state; the tests below shorten one at a time.
func TestServerLimits(t *testing.T) {
	want := limits{readHeader: 10 * time.Second, read: 2 * time.Minute, write: 5 * time.Minute, idle: 2 * time.Minute, maxHeaderBytes: 64 << 10}
	if serverLimits != want {
		t.Errorf("serverLimits = %+v, want %+v", serverLimits, want)
	}
}

// TestSlowlorisHeaders: clients that send a request line and headers one byte a second
// are closed once the header timeout passes from their first byte (trickling does not
// extend it), without an answer; while 200 of them hold connections, an ordinary request
// is answered at once.
func TestSlowlorisHeaders(t *testing.T) {
	t.Parallel()
	lim := serverLimits
	lim.readHeader = 3 * time.Second
	addr := startServer(t, withLimits(lim))

	const n = 200
	clients := make([]*slowClient, n)
	for i := range clients {
		clients[i] = dialSlow(t, addr, "", slowloris)
	}
	resp, body := get(t, http.MethodGet, "http://"+addr+"/ok", "", nil)
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Errorf("an ordinary request among %d slowloris connections: %d %q, want 200 ok", n, resp.StatusCode, body)
	}
	open := 0
	for _, c := range clients {
		if !c.isClosed() {
			open++
		}
	}
	if open != n {
		t.Errorf("only %d of %d slowloris connections were still open when the ordinary request was answered; it was not answered meanwhile", open, n)
	}

	shortest, longest := waitClosed(t, clients, lim.readHeader+5*time.Second)
	for i, c := range clients {
		if d := c.closeAt.Sub(c.dialed); d < lim.readHeader {
			t.Errorf("client %d closed after %s, before the %s header timeout: closed for another reason", i, d, lim.readHeader)
		}
		if s := c.sent.Load(); s < 2 {
			t.Errorf("client %d trickled only %d byte(s) before the close; the test needs several", i, s)
		}
		if bytes.HasPrefix(c.got, []byte("HTTP/1.1 2")) {
			t.Errorf("client %d got a success for a request it never finished: %q", i, c.got)
		}
	}
	t.Logf("%d slowloris connections, header timeout %s: closed %s to %s after dialling; the ordinary request answered %d",
		n, lim.readHeader, shortest.Round(time.Millisecond), longest.Round(time.Millisecond), resp.StatusCode)
}

// TestSlowlorisProductionTimeout: Serve itself, with its production limits, closes a
// slowloris connection after its ten-second header timeout.
func TestSlowlorisProductionTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the ten-second header timeout")
	}
	t.Parallel()
	addr := startServer(t, Serve)
	c := dialSlow(t, addr, "", slowloris)
	shortest, _ := waitClosed(t, []*slowClient{c}, serverLimits.readHeader+5*time.Second)
	if shortest < serverLimits.readHeader {
		t.Errorf("closed after %s, before the %s header timeout", shortest, serverLimits.readHeader)
	}
	t.Logf("Serve closed a slowloris connection %s after it was dialled (%d byte(s) trickled); header timeout %s",
		shortest.Round(time.Millisecond), c.sent.Load(), serverLimits.readHeader)
}

// TestSlowBody: clients that send whole headers and then trickle the body a byte a
// second are closed once the read timeout passes (not the shorter header timeout), the
// handler never seeing a whole body; an ordinary request is answered meanwhile.
func TestSlowBody(t *testing.T) {
	t.Parallel()
	lim := serverLimits
	lim.readHeader, lim.read = time.Second, 3*time.Second
	addr := startServer(t, withLimits(lim))

	head := "POST /json HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
	body := func(i int) byte {
		if i < len(`{"s":"`) {
			return `{"s":"`[i]
		}
		return 'a'
	}
	const n = 50
	clients := make([]*slowClient, n)
	for i := range clients {
		clients[i] = dialSlow(t, addr, head, body)
	}
	resp, raw := get(t, http.MethodPost, "http://"+addr+"/json", "application/json", strings.NewReader(`{"s":"abc"}`))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), `"len":3`) {
		t.Errorf("an ordinary request among %d slow bodies: %d %s, want 200", n, resp.StatusCode, raw)
	}

	shortest, longest := waitClosed(t, clients, lim.read+5*time.Second)
	answers := map[string]int{}
	for i, c := range clients {
		if d := c.closeAt.Sub(c.dialed); d < lim.read {
			t.Errorf("client %d closed after %s, before the %s read timeout", i, d, lim.read)
		}
		status, _, _ := strings.Cut(string(c.got), "\r\n")
		if status != "" && !strings.HasPrefix(status, "HTTP/1.1 408") {
			t.Errorf("client %d: answered %q to a body that never arrived, want 408 (worth retrying, unlike a 400)", i, status)
		}
		answers[status]++
	}
	t.Logf("%d slow bodies, header timeout %s, read timeout %s: closed %s to %s after dialling; answers %v",
		n, lim.readHeader, lim.read, shortest.Round(time.Millisecond), longest.Round(time.Millisecond), answers)
}

// TestIdleKeepAlive: a keep-alive connection is reused while it is in use and closed
// once it has been idle for the idle timeout.
func TestIdleKeepAlive(t *testing.T) {
	t.Parallel()
	lim := serverLimits
	lim.idle = time.Second
	addr := startServer(t, withLimits(lim))

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	var last time.Time
	for i := range 2 { // two requests on one connection: it is kept alive
		if _, err := io.WriteString(conn, "GET /ok HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		last = time.Now()
		if resp.StatusCode != http.StatusOK || resp.Close {
			t.Fatalf("request %d: %d, close %v; want 200 on a kept-alive connection", i, resp.StatusCode, resp.Close)
		}
	}
	conn.SetReadDeadline(time.Now().Add(lim.idle + 5*time.Second))
	n, err := br.Read(make([]byte, 1))
	idle := time.Since(last)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatalf("the idle connection is still open %s after its last answer", idle.Round(time.Millisecond))
	case err == nil:
		t.Fatalf("the server sent %d unasked byte(s) on an idle connection", n)
	}
	// The server starts the idle clock after writing its answer; allow for the
	// client's reading it.
	if idle < lim.idle-100*time.Millisecond {
		t.Errorf("closed after %s idle, before the %s idle timeout", idle, lim.idle)
	}
	t.Logf("idle timeout %s: the kept-alive connection was closed %s after its last answer (%v)", lim.idle, idle.Round(time.Millisecond), err)
}

// rawRequest sends head on a new connection and reads the answer.
func rawRequest(t *testing.T, addr, head string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	resp.Body.Close()
	return resp
}

// headOf is a GET request whose request line, headers and blank line are size bytes.
func headOf(size int) string {
	const pre, suf = "GET /ok HTTP/1.1\r\nHost: localhost\r\nX-Pad: ", "\r\n\r\n"
	return pre + strings.Repeat("a", size-len(pre)-len(suf)) + suf
}

// TestHeaderTooLarge: Serve answers headers of MaxHeaderBytes and refuses larger ones
// with 431 before any handler runs. net/http reads up to 4 KiB past MaxHeaderBytes
// before it refuses ("bufio slop"), so the refused request is that much larger.
func TestHeaderTooLarge(t *testing.T) {
	t.Parallel()
	addr := startServer(t, Serve)
	limit := serverLimits.maxHeaderBytes
	if resp := rawRequest(t, addr, headOf(limit)); resp.StatusCode != http.StatusOK {
		t.Errorf("headers of %d bytes: %d, want 200", limit, resp.StatusCode)
	}
	const slop = 4096
	if resp := rawRequest(t, addr, headOf(limit+slop)); resp.StatusCode != http.StatusOK {
		t.Errorf("headers of %d bytes: %d, want 200 (net/http's slop)", limit+slop, resp.StatusCode)
	}
	for _, size := range []int{limit + slop + 1, 1 << 20} {
		resp := rawRequest(t, addr, headOf(size))
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || !resp.Close {
			t.Errorf("headers of %d bytes: %d (close %v), want 431 and the connection closed", size, resp.StatusCode, resp.Close)
		}
	}
}

// TestJSONBodyLimit: DecodeJSON takes a body of exactly MaxJSONBody bytes and refuses
// one byte more with 413 problem+json, whether the client declares the length or not.
func TestJSONBodyLimit(t *testing.T) {
	t.Parallel()
	addr := startServer(t, Serve)
	url := "http://" + addr + "/json"
	doc := func(size int) []byte { // {"s":"aaa…"} of size bytes
		return []byte(`{"s":"` + strings.Repeat("a", size-len(`{"s":""}`)) + `"}`)
	}

	at := doc(MaxJSONBody)
	resp, raw := get(t, http.MethodPost, url, "application/json", bytes.NewReader(at))
	if want := fmt.Sprintf(`{"len":%d}`, MaxJSONBody-len(`{"s":""}`)); resp.StatusCode != http.StatusOK || strings.TrimSpace(string(raw)) != want {
		t.Errorf("a body of exactly %d bytes: %d %.200s, want 200 %s", len(at), resp.StatusCode, raw, want)
	}

	over := doc(MaxJSONBody + 1)
	for name, body := range map[string]io.Reader{
		"Content-Length": bytes.NewReader(over),
		"chunked":        io.MultiReader(bytes.NewReader(over)), // hides the length
	} {
		resp, raw := get(t, http.MethodPost, url, "application/json", body)
		var p Problem
		json.Unmarshal(raw, &p)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || resp.Header.Get("Content-Type") != ContentType || p.Type != TypePrefix+"too-large" {
			t.Errorf("%s: a body of %d bytes: %d %s %s, want 413 problem+json too-large", name, len(over), resp.StatusCode, resp.Header.Get("Content-Type"), raw)
		}
	}
}

// TestStreamingOutlastsWriteTimeout: an answer written through Streaming for three times
// the server's write timeout arrives whole while its reader reads; the same answer
// written directly is cut off at the timeout, which is what Streaming is for.
func TestStreamingOutlastsWriteTimeout(t *testing.T) {
	defer func(d time.Duration) { streamStall = d }(streamStall)
	streamStall = 400 * time.Millisecond
	lim := serverLimits
	lim.write = 300 * time.Millisecond
	const chunks, size = 18, 1 << 10 // 18 writes 50 ms apart: 900 ms
	e := echo.New()
	for _, route := range []string{"/streamed", "/direct"} {
		e.GET(route, func(c echo.Context) error {
			c.Response().WriteHeader(http.StatusOK)
			var w io.Writer = c.Response()
			if route == "/streamed" {
				w = Streaming(c.Response(), c.Response().Writer)
			}
			for range chunks {
				if _, err := w.Write(bytes.Repeat([]byte("x"), size)); err != nil {
					return err
				}
				c.Response().Flush()
				time.Sleep(50 * time.Millisecond)
			}
			return nil
		})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, e, slog.New(slog.DiscardHandler), lim) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	get := func(path string) (int, error) {
		resp, err := http.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return len(b), err
	}
	if n, err := get("/streamed"); err != nil || n != chunks*size {
		t.Errorf("streamed: got %d bytes (%v), want %d", n, err, chunks*size)
	}
	if n, err := get("/direct"); err == nil && n == chunks*size {
		t.Errorf("direct: got all %d bytes past the write timeout; the test shows nothing", n)
	}
}
