package hub_test

// Limits and floods (issue 6 item 7). Every body and batch limit is tried at the limit,
// which is taken, and one past it, which is refused and changes nothing: a JSON body
// (1 MiB), a push (2 MiB), a CSV import (16 MiB), a batch's records (500) and one signed
// record (256 KiB). Then a flood: 50 programs push full-size batches all at once, and the
// hub answers each 200 or 429, never works on more pushes than its limits allow, holds
// memory bounded by those limits rather than by the flood, applies every batch it
// accepts whole and no part of one it refuses.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/node"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/alliancehub/alliancehub/schema/schematest"
)

// What an Alliance may hold (schema): goals with descriptions, participants with names.
const (
	maxGoals    = 50
	maxGoalText = 4000
	maxNameText = 300
)

// issued is the issued_at of every record built here: a fixed width, so a record's size
// follows from its text alone.
var issued = time.Now().UTC().Truncate(time.Second)

// textRecord is a record of def with id, unsigned, holding chars characters of text:
// goal descriptions as long as an Alliance takes, then participants' names. With none
// it has one goal of each category.
func textRecord(t testing.TB, def *schema.Program, id string, seq uint64, chars int) *schema.Record {
	t.Helper()
	a := &schema.Alliance{ID: id, Participants: []schema.Participant{{Name: "Test Association"}}, SignedOn: schema.MustDate("2025-06-01")}
	if chars == 0 {
		for _, c := range def.Categories {
			a.Goals = append(a.Goals, schema.Goal{Category: c.Code})
		}
	}
	for i := 0; chars > 0 && len(a.Goals) < maxGoals; i++ {
		n := min(chars, maxGoalText)
		a.Goals = append(a.Goals, schema.Goal{Category: def.Categories[i%len(def.Categories)].Code, Description: strings.Repeat("a", n)})
		chars -= n
	}
	for chars > 0 {
		n := min(chars, maxNameText)
		a.Participants = append(a.Participants, schema.Participant{Name: strings.Repeat("a", n)})
		chars -= n
	}
	a.Normalize(def)
	body, err := schema.AllianceBody(a)
	if err != nil {
		t.Fatal(err)
	}
	rec := &schema.Record{ID: id, Kind: schema.KindAlliance, Program: def.Code, Seq: seq, IssuedAt: issued, Body: body}
	if rec.Rev, err = schema.NewRev("", body); err != nil {
		t.Fatal(err)
	}
	return rec
}

func signRecord(t testing.TB, k *auth.Key, rec *schema.Record) string {
	t.Helper()
	jws, err := wire.SignRecord(k, rec)
	if err != nil {
		t.Fatal(err)
	}
	return jws
}

// jwsLen is the length of a compact JWS with a protected header of hdr characters and a
// payload of n bytes, signed with Ed25519.
func jwsLen(hdr, n int) int {
	enc := base64.RawURLEncoding
	return hdr + 1 + enc.EncodedLen(n) + 1 + enc.EncodedLen(ed25519.SignatureSize)
}

// headerLen is the length of the encoded protected header k signs typ with.
func headerLen(t testing.TB, k *auth.Key, typ string) int {
	t.Helper()
	jws, err := k.Sign([]byte("{}"), typ)
	if err != nil {
		t.Fatal(err)
	}
	return strings.IndexByte(jws, '.')
}

// payloadFor is the payload length n that makes a JWS with a hdr-character header
// exactly size bytes long, if there is one (base64 never encodes to 4k+1 characters).
func payloadFor(hdr, size int) (int, bool) {
	for n := max(0, (size-jwsLen(hdr, 0))*3/4-4); jwsLen(hdr, n) <= size; n++ {
		if jwsLen(hdr, n) == size {
			return n, true
		}
	}
	return 0, false
}

// recordOfSize is a signed record of def exactly size bytes long, or, when no JWS is
// that long, the longest one shorter (exact false).
func recordOfSize(t testing.TB, k *auth.Key, def *schema.Program, seq uint64, size int) (jws string, exact bool) {
	t.Helper()
	hdr := headerLen(t, k, auth.TypeRecord)
	target := size
	n, ok := payloadFor(hdr, target)
	for !ok && target > size-4 {
		target--
		n, ok = payloadFor(hdr, target)
	}
	id := schema.NewID(def.Code)
	chars := n - 1000
	for range 10 { // each character of text is a byte of the payload, but for a new goal's
		rec := textRecord(t, def, id, seq, chars)
		raw, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) == n {
			jws := signRecord(t, k, rec)
			if len(jws) != target {
				t.Fatalf("record of %d bytes, want %d", len(jws), target)
			}
			return jws, target == size
		}
		chars += n - len(raw)
	}
	t.Fatalf("no record of %d bytes", target)
	return "", false
}

// signBatch signs a batch of records numbered from seqFrom.
func signBatch(t testing.TB, k *auth.Key, program, id string, seqFrom uint64, records []string) string {
	t.Helper()
	b := &wire.Batch{Program: program, BatchID: id, SeqFrom: seqFrom, SeqTo: seqFrom + uint64(len(records)) - 1, IssuedAt: time.Now(), Records: records}
	jws, err := wire.SignBatch(k, b)
	if err != nil {
		t.Fatal(err)
	}
	return jws
}

// fullBatch is a signed batch of def's records numbered from seqFrom, exactly size
// bytes long: records of real text (the largest ones an Alliance holds) to within a few
// bytes, the batch id's length for the rest. When no JWS is exactly size bytes long, one
// newline completes it (the hub reads a push with the white space around it trimmed). It
// returns the batch, its record ids and its last sequence number.
func fullBatch(t testing.TB, k *auth.Key, def *schema.Program, seqFrom uint64, size int) ([]byte, []string, uint64) {
	t.Helper()
	hdr := headerLen(t, k, auth.TypeBatch)
	n, exact := payloadFor(hdr, size)
	if !exact {
		n, _ = payloadFor(hdr, size-1)
	}
	at := time.Now().UTC().Truncate(time.Second) // a fixed width
	batch := func(records []string, id string) *wire.Batch {
		return &wire.Batch{Program: def.Code, BatchID: id, SeqFrom: seqFrom, SeqTo: seqFrom + uint64(len(records)) - 1, IssuedAt: at, Records: records}
	}
	payload := func(records []string) int { // with a batch id of one character
		raw, err := json.Marshal(batch(records, "x"))
		if err != nil {
			t.Fatal(err)
		}
		return len(raw)
	}
	const bigChars = 40 * maxGoalText // a record of about 215 KB signed
	var records, ids []string
	// Whole records while they leave room for a small one; the last one then takes
	// less room than a whole one, so it is under wire.MaxRecordBytes too.
	for {
		rec := textRecord(t, def, schema.NewID(def.Code), seqFrom+uint64(len(records)), bigChars)
		jws := signRecord(t, k, rec)
		if payload(append(records, jws)) > n-8000 {
			break
		}
		records, ids = append(records, jws), append(ids, rec.ID)
	}
	// A last record sized to leave less room than the batch id can take up; each
	// character of its text is about 4/3 of a byte of the payload.
	seq := seqFrom + uint64(len(records))
	id := schema.NewID(def.Code)
	chars := (n - payload(records) - 1600) * 3 / 4
	for range 10 {
		last := signRecord(t, k, textRecord(t, def, id, seq, chars))
		room := n - payload(append(records, last)) // what the batch id's length adds
		if room >= 0 && room < 64 {
			jws, err := wire.SignBatch(k, batch(append(records, last), strings.Repeat("x", 1+room)))
			if err != nil {
				t.Fatal(err)
			}
			if !exact {
				jws += "\n"
			}
			if len(jws) != size {
				t.Fatalf("batch of %d bytes, want %d", len(jws), size)
			}
			return []byte(jws), append(ids, id), seq
		}
		chars = max(0, chars+(room-32)*3/4)
	}
	t.Fatalf("no batch of %d bytes", size)
	return nil, nil, 0
}

// heapWatch samples the heap in use every millisecond from a baseline taken after a
// collection, and keeps the peak.
type heapWatch struct {
	base, peak uint64
	stop, done chan struct{}
}

func watchHeap() *heapWatch {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w := &heapWatch{base: ms.HeapInuse, peak: ms.HeapInuse, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			w.peak = max(w.peak, ms.HeapInuse)
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

// growth stops the sampling and returns the peak's growth over the baseline.
func (w *heapWatch) growth() uint64 {
	close(w.stop)
	<-w.done
	return w.peak - w.base
}

const mib = 1 << 20

// TestPushBodyLimit: a push of exactly wire.MaxPushBody bytes, a batch of full records,
// is applied whole; the same batch one byte longer is refused 413 problem+json and
// nothing of it is applied.
func TestPushBodyLimit(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	nv := newPusher(t, h, "NV")
	cat, _ := schema.LoadCatalog()
	def, _ := cat.Get("NV")
	body, ids, _ := fullBatch(t, nv.key, def, 1, wire.MaxPushBody)

	over := append(slices.Clip(body), '\n')
	resp, raw := pushRaw(t, h, nv.token, wire.MediaTypeJOSE, over)
	wantProblem(t, resp, raw, http.StatusRequestEntityTooLarge, "too-large")
	assertEmpty(t, h)

	heap := watchHeap()
	resp, raw = pushRaw(t, h, nv.token, wire.MediaTypeJOSE, body)
	grew := heap.growth()
	checkAnswer(t, "NV", resp, raw, wire.Accepted)
	var pr wire.PushResponse
	hubtest.DecodeJSON(t, raw, &pr)
	if len(pr.Results) != len(ids) {
		t.Fatalf("%d results for %d records", len(pr.Results), len(ids))
	}
	r := roster(t, h, "?limit=1000")
	for _, id := range ids {
		if !slices.ContainsFunc(r.Items, func(it wire.RosterItem) bool { return it.ID == id }) {
			t.Errorf("record %s of the accepted batch is not on the roster", id)
		}
	}
	t.Logf("a push of %d bytes (%d records of real text, newline-completed: %v) applied; %d bytes refused 413; heap grew %.1f MiB during the push (%.1f times the body, with client and GC slack)",
		len(body), len(ids), body[len(body)-1] == '\n', len(over), float64(grew)/mib, float64(grew)/float64(len(body)))
}

// TestBatchRecordLimits: a batch of wire.MaxBatchRecords records is applied, one of one
// more is refused whole with bad-batch; a record of exactly wire.MaxRecordBytes is
// accepted and one a byte longer is rejected with its reason while the rest of its batch
// applies.
func TestBatchRecordLimits(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	nv := newPusher(t, h, "NV")
	cat, _ := schema.LoadCatalog()
	def, _ := cat.Get("NV")

	records := make([]string, wire.MaxBatchRecords+1)
	for i := range records {
		records[i] = record(t, nv.key, "NV", schema.NewID("NV"), uint64(i+1), nil)
	}
	resp, raw := pushRaw(t, h, nv.token, wire.MediaTypeJOSE, []byte(signBatch(t, nv.key, "NV", "b501", 1, records)))
	p := wantProblem(t, resp, raw, http.StatusBadRequest, "bad-batch")
	if !strings.Contains(p.Detail, "501 records; at most 500") {
		t.Errorf("detail %q does not give the count and the limit", p.Detail)
	}
	assertEmpty(t, h)
	nv.pushOK(t, h, []byte(signBatch(t, nv.key, "NV", "b500", 1, records[:wire.MaxBatchRecords])), wire.Accepted)
	if got := roster(t, h, "?limit=1000").Total; got != wire.MaxBatchRecords {
		t.Errorf("roster holds %d records after a batch of %d, want all", got, wire.MaxBatchRecords)
	}

	at, exact := recordOfSize(t, nv.key, def, 501, wire.MaxRecordBytes)
	if !exact {
		t.Logf("no signed record is exactly %d bytes; the one at the limit is %d", wire.MaxRecordBytes, len(at))
	}
	over, _ := recordOfSize(t, nv.key, def, 502, wire.MaxRecordBytes+1)
	if len(over) <= wire.MaxRecordBytes { // no JWS is a byte over: the next size up
		over, _ = recordOfSize(t, nv.key, def, 502, wire.MaxRecordBytes+2)
	}
	good := record(t, nv.key, "NV", schema.NewID("NV"), 503, nil)
	resp, raw = pushRaw(t, h, nv.token, wire.MediaTypeJOSE, []byte(signBatch(t, nv.key, "NV", "big", 501, []string{at, over, good})))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("push: %d %s", resp.StatusCode, raw)
	}
	var pr wire.PushResponse
	hubtest.DecodeJSON(t, raw, &pr)
	if len(pr.Results) != 3 {
		t.Fatalf("results %+v, want 3", pr.Results)
	}
	if r := pr.Results[0]; r.Outcome != wire.Accepted {
		t.Errorf("record of %d bytes: %+v, want accepted", len(at), r)
	}
	wantReason := fmt.Sprintf("record is %d bytes; at most %d", len(over), wire.MaxRecordBytes)
	if r := pr.Results[1]; r.Outcome != wire.Rejected || r.Reason != wantReason || r.Seq != 502 || r.ID == "" {
		t.Errorf("record of %d bytes: %+v, want rejected, named, with reason %q", len(over), r, wantReason)
	}
	if r := pr.Results[2]; r.Outcome != wire.Accepted {
		t.Errorf("the small record beside them: %+v, want accepted", r)
	}
	if got := roster(t, h, "?limit=1000").Total; got != wire.MaxBatchRecords+2 {
		t.Errorf("roster holds %d records, want %d: the oversized one is not stored", got, wire.MaxBatchRecords+2)
	}
	t.Logf("batch of %d records applied, %d refused; record of %d bytes accepted, %d bytes rejected: %q",
		wire.MaxBatchRecords, wire.MaxBatchRecords+1, len(at), len(over), pr.Results[1].Reason)
}

// TestJSONAndImportLimits: on the hub an enrollment of exactly edge.MaxJSONBody bytes is
// taken and a byte more refused; on a node an import of exactly node.MaxImportBytes is
// taken and a byte more refused, whether the client declares the length or not. Each
// refusal is 413 problem+json too-large and changes nothing.
func TestJSONAndImportLimits(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	admin := h.Token(t, auth.RoleAdmin, "")
	k, _ := auth.GenerateKey()
	enroll, err := json.Marshal(map[string]any{"code": "NV", "jwk": k.PublicJWK()})
	if err != nil {
		t.Fatal(err)
	}
	enroll = append(enroll, bytes.Repeat([]byte(" "), edge.MaxJSONBody-len(enroll))...) // JSON allows white space after the value
	resp, raw := hubtest.Request(t, http.MethodPost, h.URL+"/v1/programs", admin, jsonHeader, append(slices.Clip(enroll), ' '))
	wantProblem(t, resp, raw, http.StatusRequestEntityTooLarge, "too-large")
	if n := len(h.Programs()); n != 0 {
		t.Fatalf("%d programs enrolled after a refused enrollment", n)
	}
	resp, raw = hubtest.Request(t, http.MethodPost, h.URL+"/v1/programs", admin, jsonHeader, enroll)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("enrollment of exactly %d bytes: %d %s", len(enroll), resp.StatusCode, raw)
	}

	mi := hubtest.StartNode(t, h, "MI")
	csv := "participant,signed_on,goal_categories\nLimit Partners,2024-05-01,outreach-communication\n"
	file := []byte(csv + strings.Repeat("\n", node.MaxImportBytes-len(csv))) // blank lines are skipped
	over := append(slices.Clip(file), '\n')
	for name, body := range map[string]io.Reader{
		// Refused on its Content-Length before it is read. The client waits for 100
		// Continue, as it should with a large body: one that sends it straight away may
		// see the connection reset, as net/http closes it with the body unread, rather
		// than the answer (TestPushFlood).
		"Content-Length": bytes.NewReader(over),
		// Refused once the limit is read.
		"chunked": io.MultiReader(bytes.NewReader(over)),
	} {
		resp, raw := importBody(t, mi, body, name == "Content-Length")
		wantProblem(t, resp, raw, http.StatusRequestEntityTooLarge, "too-large")
		if got := len(badNode(t, mi).Alliances); got != 0 {
			t.Errorf("%s: %d records on the node after a refused import", name, got)
		}
	}
	resp, raw = importBody(t, mi, bytes.NewReader(file), false)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), `"imported":1,`) {
		t.Fatalf("import of exactly %d bytes: %d %.500s", len(file), resp.StatusCode, raw)
	}
	t.Logf("enrollment of %d bytes taken, %d refused; import of %d bytes taken, %d refused", len(enroll), len(enroll)+1, len(file), len(file)+1)
}

// importBody sends a CSV import to n, asking for 100 Continue first if expect.
func importBody(t *testing.T, n *hubtest.Node, body io.Reader, expect bool) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, n.URL+"/v1/import", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("Authorization", "Bearer "+n.Token)
	if expect {
		req.Header.Set("Expect", "100-continue")
	}
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, raw
}

// floodCatalog is the built-in programs and n more (S01, S02, ...), each defined as
// Nevada's program is.
func floodCatalog(t *testing.T, n int) (*schema.Catalog, []string) {
	t.Helper()
	builtin, err := schema.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	nv, _ := builtin.Get("NV")
	var defs []schema.Program
	var codes []string
	for i := 1; i <= n; i++ {
		d := *nv
		d.Code, d.Name = fmt.Sprintf("S%02d", i), fmt.Sprintf("State Plan %d", i)
		defs = append(defs, d)
		codes = append(codes, d.Code)
	}
	cat := schematest.Catalog(t, defs)
	return cat, codes
}

// spaces is n bytes of white space, made as they are read.
type spaces struct{ n int }

func (s *spaces) Read(p []byte) (int, error) {
	if s.n == 0 {
		return 0, io.EOF
	}
	p = p[:min(len(p), s.n)]
	for i := range p {
		p[i] = ' '
	}
	s.n -= len(p)
	return len(p), nil
}

// floodEnv set to "real" makes TestPushFlood send batches of real records.
const floodEnv = "ALLIANCEHUB_TEST_FLOOD"

// floodServer is the hub's API behind the server edge.Serve runs in production, with a
// watch on the pushes: it counts those whose bodies the hub is reading, in all and per
// program, keeping the peaks, and notes the status the hub answered each push with (the
// push's index is in X-Flood-Push). A push counts from the first read of its body to the
// end of it: the hub takes the push's slot before that and gives it back after, so the
// counts are never more than the pushes holding slots.
type floodServer struct {
	url       string
	programOf map[string]string // token → program
	answered  []atomic.Int32    // status the hub answered each push with

	mu                sync.Mutex
	total, peak       int
	byProgram         map[string]int
	peakProgram, read int
}

func startFloodServer(t *testing.T, h *hubtest.Hub, programOf map[string]string, pushes int) *floodServer {
	t.Helper()
	s := &floodServer{programOf: programOf, answered: make([]atomic.Int32, pushes), byProgram: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- edge.Serve(ctx, ln, s.wrap(h.Handler()), slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	s.url = "http://" + ln.Addr().String() + "/v1/sync/push"
	return s
}

func (s *floodServer) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, err := strconv.Atoi(r.Header.Get("X-Flood-Push"))
		if r.URL.Path != "/v1/sync/push" || err != nil {
			next.ServeHTTP(w, r)
			return
		}
		b := &watchedBody{ReadCloser: r.Body, s: s, program: s.programOf[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]}
		// A copy of the request: net/http looks at its own request's body after the
		// handler, to tell whether a client waiting for 100 Continue was answered.
		watched := r.WithContext(r.Context())
		watched.Body = b
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, watched)
		b.end()
		s.answered[i].Store(int32(sw.status))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type watchedBody struct {
	io.ReadCloser
	s              *floodServer
	program        string
	began, stopped bool
}

func (b *watchedBody) Read(p []byte) (int, error) {
	if !b.began {
		b.began = true
		b.s.mu.Lock()
		b.s.read++
		b.s.total++
		b.s.byProgram[b.program]++
		b.s.peak = max(b.s.peak, b.s.total)
		b.s.peakProgram = max(b.s.peakProgram, b.s.byProgram[b.program])
		b.s.mu.Unlock()
	}
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.end()
	}
	return n, err
}

func (b *watchedBody) end() {
	if !b.began || b.stopped {
		return
	}
	b.stopped = true
	b.s.mu.Lock()
	b.s.total--
	b.s.byProgram[b.program]--
	b.s.mu.Unlock()
}

// floodPush is one push of the flood and the answer its client got.
type floodPush struct {
	program, token string
	batch          string // the signed batch; the body is it and white space to MaxPushBody
	file           string // or, with real records, the file holding the body
	ids            []string
	seqTo          uint64
	// patient pushes send Expect: 100-continue and wait for the hub's answer before
	// sending the body; the others send it straight away.
	patient bool

	status     int
	retryAfter string
	ctype      string
	answer     []byte
	err        error
}

// TestPushFlood: 50 enrolled programs each send four full-size pushes (2 MiB bodies)
// at once, 200 in all: half wait for "100 Continue" before sending their bodies, half
// send them straight away. The hub answers every one 200 or 429 with Retry-After, never
// a 5xx; no patient client loses its answer; it never reads more bodies at once than its
// limits allow, nor any body of a push it refuses; its heap grows by less than
// MaxPushes × MaxPushBody × 8 (the body, as much again while the buffer grows, and the
// collector's headroom of as much as is live), however many pushes come; every accepted
// batch is on the roster whole, no record of a refused one is, and each program's
// checkpoint is that of its last accepted batch.
//
// A client that sends its body before the answer may lose a 429 to the connection's
// reset: the hub answers without reading the body, net/http then closes the connection
// with the body unread, and Go's client reports the failed write rather than the answer.
// Those are counted, and allowed only where the hub answered 429.
//
// Each body is a signed batch of five records with white space after it up to exactly
// MaxPushBody, which the hub reads whole and then trims; made as it is sent, it costs the
// test process nothing, so the heap measured is the hub's. With ALLIANCEHUB_TEST_FLOOD=real
// each body is instead a batch of 2 MiB of real records, as in TestPushBodyLimit, signed
// beforehand and sent from a file (for nightly runs: it signs 200 such batches, about
// 30 s without the race detector and several minutes with it).
func TestPushFlood(t *testing.T) {
	const (
		programs      = 50
		pushesEach    = 4
		recordsEach   = 5
		maxPushes     = hub.DefaultMaxPushes
		maxPerProgram = hub.DefaultMaxPushesPerProgram
		heapFactor    = 8
	)
	realRecords := os.Getenv(floodEnv) == "real"
	cat, codes := floodCatalog(t, programs)
	// Signing real batches may take minutes: the hub's clock is then set back by half
	// that time, so every batch's issued_at is within half of it of the hub's clock.
	var behind atomic.Int64
	h := hubtest.StartHub(t, func() time.Time { return time.Now().Add(-time.Duration(behind.Load())) }, func(c *hub.Config) {
		c.Catalog, c.MaxPushes, c.MaxPushesPerProgram = cat, maxPushes, maxPerProgram
	})
	programOf := map[string]string{}
	var pushers []pusher
	for _, code := range codes {
		p := newPusher(t, h, code)
		programOf[p.token] = code
		pushers = append(pushers, p)
	}
	signing := time.Now()
	var pushes []*floodPush
	for _, p := range pushers {
		code := p.code
		def, _ := cat.Get(code)
		for j := range pushesEach {
			fp := &floodPush{program: code, token: p.token, patient: len(pushes)%2 == 0}
			if realRecords {
				var body []byte
				body, fp.ids, fp.seqTo = fullBatch(t, p.key, def, uint64(j*100+1), wire.MaxPushBody)
				fp.file = filepath.Join(t.TempDir(), fmt.Sprintf("%s-%d", code, j))
				if err := os.WriteFile(fp.file, body, 0o600); err != nil {
					t.Fatal(err)
				}
				pushes = append(pushes, fp)
				continue
			}
			seq := uint64(j * recordsEach)
			var records []string
			for range recordsEach {
				seq++
				rec := textRecord(t, def, schema.NewID(code), seq, 0)
				records, fp.ids = append(records, signRecord(t, p.key, rec)), append(fp.ids, rec.ID)
			}
			fp.seqTo = seq
			fp.batch = signBatch(t, p.key, code, fmt.Sprintf("%s-%d", code, j), seq-recordsEach+1, records)
			pushes = append(pushes, fp)
		}
	}
	behind.Store(int64(time.Since(signing) / 2))
	srv := startFloodServer(t, h, programOf, len(pushes))
	// A patient client waits as long as it takes for 100 Continue or the answer.
	transport := &http.Transport{ExpectContinueTimeout: time.Minute, MaxIdleConnsPerHost: len(pushes)}
	t.Cleanup(transport.CloseIdleConnections)
	client := &http.Client{Transport: transport, Timeout: time.Minute}

	heap := watchHeap()
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, p := range pushes {
		wg.Go(func() {
			var body io.Reader = io.MultiReader(strings.NewReader(p.batch), &spaces{wire.MaxPushBody - len(p.batch)})
			if p.file != "" {
				f, err := os.Open(p.file)
				if err != nil {
					p.err = err
					return
				}
				defer f.Close()
				body = f
			}
			req, err := http.NewRequest(http.MethodPost, srv.url, body)
			if err != nil {
				p.err = err
				return
			}
			req.ContentLength = wire.MaxPushBody
			req.Header.Set("Content-Type", wire.MediaTypeJOSE)
			req.Header.Set("Authorization", "Bearer "+p.token)
			req.Header.Set("X-Flood-Push", strconv.Itoa(i))
			if p.patient {
				req.Header.Set("Expect", "100-continue")
			}
			<-start
			resp, err := client.Do(req)
			if err != nil {
				p.err = err
				return
			}
			defer resp.Body.Close()
			p.status, p.retryAfter, p.ctype = resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type")
			p.answer, p.err = io.ReadAll(resp.Body)
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	took := time.Since(began)
	grew := heap.growth()

	// Every push answered 200 or 429, and the client told so.
	var accepted, acceptedRecords, refused, resets int
	for i, p := range pushes {
		answered := int(srv.answered[i].Load())
		switch answered {
		case http.StatusOK:
			accepted++
			acceptedRecords += len(p.ids)
		case http.StatusTooManyRequests:
			refused++
		default:
			t.Errorf("%s push: the hub answered %d, want 200 or 429", p.program, answered)
		}
		if p.err != nil {
			if p.patient || answered != http.StatusTooManyRequests {
				t.Errorf("%s push (patient %v), answered %d: the client got no answer: %v", p.program, p.patient, answered, p.err)
			}
			resets++
			continue
		}
		if p.status != answered {
			t.Errorf("%s push: the client got %d, the hub answered %d", p.program, p.status, answered)
		}
		switch p.status {
		case http.StatusOK:
			var pr wire.PushResponse
			if err := json.Unmarshal(p.answer, &pr); err != nil || len(pr.Results) != len(p.ids) {
				t.Errorf("%s push: answer %s", p.program, p.answer)
				continue
			}
			for i, r := range pr.Results {
				if r.Outcome != wire.Accepted || r.ID != p.ids[i] {
					t.Errorf("%s push: result %+v, want %s accepted", p.program, r, p.ids[i])
				}
			}
		case http.StatusTooManyRequests:
			var prob problem
			json.Unmarshal(p.answer, &prob)
			secs, err := strconv.Atoi(p.retryAfter)
			if p.ctype != edge.ContentType || prob.Type != edge.TypePrefix+"too-many-pushes" || err != nil || secs < 1 || secs > 5 {
				t.Errorf("%s push: 429 %s Retry-After %q %s, want too-many-pushes problem+json and 1 to 5 seconds", p.program, p.ctype, p.retryAfter, p.answer)
			}
		}
	}
	if accepted == 0 || refused == 0 {
		t.Errorf("%d accepted and %d refused: a flood must see both", accepted, refused)
	}

	// Never more in flight than the limits, and no refused push's body read.
	srv.mu.Lock()
	peak, peakProgram, read := srv.peak, srv.peakProgram, srv.read
	srv.mu.Unlock()
	if peak > maxPushes || peakProgram > maxPerProgram {
		t.Errorf("the hub read up to %d push bodies at once, %d of one program; its limits are %d and %d", peak, peakProgram, maxPushes, maxPerProgram)
	}
	if read != accepted {
		t.Errorf("the hub read %d push bodies and accepted %d pushes: it read the body of a push it refused", read, accepted)
	}

	// Memory bounded by the limits, not the flood.
	bound := uint64(maxPushes * wire.MaxPushBody * heapFactor)
	offered := uint64(len(pushes) * wire.MaxPushBody)
	if grew > bound {
		t.Errorf("the hub's heap grew by %.1f MiB during the flood, more than %d pushes × %d MiB × %d = %.0f MiB (the flood offered %.0f MiB)",
			float64(grew)/mib, maxPushes, wire.MaxPushBody/mib, heapFactor, float64(bound)/mib, float64(offered)/mib)
	}

	// Accepted batches whole, refused ones not at all.
	onRoster := map[string]bool{}
	for _, it := range roster(t, h, "?limit=1000").Items {
		onRoster[it.ID] = true
	}
	checkpoint := map[string]uint64{}
	for i, p := range pushes {
		ok := srv.answered[i].Load() == http.StatusOK
		for _, id := range p.ids {
			if onRoster[id] != ok {
				t.Errorf("%s push answered %d: record %s on the roster: %v", p.program, srv.answered[i].Load(), id, onRoster[id])
			}
		}
		if ok {
			checkpoint[p.program] = max(checkpoint[p.program], p.seqTo)
		}
	}
	if len(onRoster) != acceptedRecords {
		t.Errorf("roster holds %d records; the accepted batches hold %d", len(onRoster), acceptedRecords)
	}
	for _, pv := range h.Programs() {
		if pv.Sync.Checkpoint != checkpoint[pv.Code] {
			t.Errorf("%s checkpoint %d, want %d (its last accepted batch)", pv.Code, pv.Sync.Checkpoint, checkpoint[pv.Code])
		}
	}
	t.Logf("%d programs × %d pushes of %d bytes (real records: %v; %.0f MiB offered) in %s: %d accepted (%d records), %d refused 429, %d of those lost to a reset by clients that did not wait; "+
		"at most %d bodies read at once (limit %d), %d of one program (limit %d); heap grew %.1f MiB (bound %.0f MiB)",
		programs, pushesEach, wire.MaxPushBody, realRecords, float64(offered)/mib, took.Round(time.Millisecond), accepted, acceptedRecords, refused, resets,
		peak, maxPushes, peakProgram, maxPerProgram, float64(grew)/mib, float64(bound)/mib)
}
