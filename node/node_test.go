package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/node"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

const agc = `{"office":"Construction Safety and Health Division",
	"participants":[{"name":"Associated General Contractors of Michigan","type":"association"}],
	"goals":[{"category":"outreach-communication"}],"signed_on":"2024-05-14"}`

type listPage struct {
	Items         []schema.Alliance `json:"items"`
	Total         int               `json:"total"`
	NextPageToken string            `json:"next_page_token"`
}

func list(t *testing.T, n *hubtest.Node, query string) listPage {
	t.Helper()
	var p listPage
	hubtest.GetJSON(t, n.URL+"/v1/alliances"+query, n.Token, &p)
	return p
}

func status(t *testing.T, n *hubtest.Node) node.SyncStatus {
	t.Helper()
	var st node.SyncStatus
	hubtest.GetJSON(t, n.URL+"/v1/sync/status", n.Token, &st)
	return st
}

func TestCreateGetList(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	resp, body := hubtest.Do(t, http.MethodPost, mi.URL+"/v1/alliances", mi.Token, []byte(agc))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	var a schema.Alliance
	hubtest.DecodeJSON(t, body, &a)
	// MIOSHA agreements run three years (DOMAIN.md, Lifecycle); the level is the
	// program's only one.
	if a.TermMonths != 36 || a.ExpiresOn.String() != "2027-05-14" || a.Level != schema.LevelState || a.Status != schema.StatusActive {
		t.Errorf("created %+v, want 36 months to 2027-05-14, level state, active", a)
	}
	if !strings.HasPrefix(a.ID, "MI-") || resp.Header.Get("Location") != "/v1/alliances/"+a.ID {
		t.Errorf("id %q, Location %q", a.ID, resp.Header.Get("Location"))
	}
	resp, body = hubtest.Do(t, http.MethodGet, mi.URL+"/v1/alliances/"+a.ID, mi.Token, nil)
	var got schema.Alliance
	hubtest.DecodeJSON(t, body, &got)
	if diff := cmp.Diff(a, got); diff != "" || resp.Header.Get("ETag") != `"`+a.Rev+`"` {
		t.Errorf("get (-want +got):\n%s\nETag %s", diff, resp.Header.Get("ETag"))
	}
	resp, body = hubtest.Do(t, http.MethodGet, mi.URL+"/v1/alliances/MI-nosuchrecord", mi.Token, nil)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "urn:alliancehub:problem:not-found") {
		t.Errorf("missing record: %d %s", resp.StatusCode, body)
	}

	for i := range 4 {
		hubtest.Do(t, http.MethodPost, mi.URL+"/v1/alliances", mi.Token,
			[]byte(strings.Replace(agc, "Associated General Contractors", "Partner "+string(rune('A'+i)), 1)))
	}
	var ids []string
	q := "?limit=2"
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("paging does not end")
		}
		p := list(t, mi, q)
		if p.Total != 5 {
			t.Errorf("total = %d, want 5", p.Total)
		}
		for _, it := range p.Items {
			ids = append(ids, it.ID)
		}
		if p.NextPageToken == "" {
			break
		}
		q = "?limit=2&page_token=" + p.NextPageToken
	}
	if len(ids) != 5 {
		t.Errorf("paged %d records, want 5", len(ids))
	}
	if got := list(t, mi, "?q=partner").Total; got != 4 {
		t.Errorf("q=partner total = %d, want 4", got)
	}
	// Standing is derived as of a date: active within the three-year MIOSHA term,
	// expiring within 90 days of its end, expired after it.
	for q, want := range map[string]int{
		"?standing=active&as_of=2025-01-01":   5,
		"?standing=expiring&as_of=2027-04-01": 5,
		"?standing=expired&as_of=2027-06-01":  5,
		"?standing=active&as_of=2027-06-01":   0,
	} {
		if got := list(t, mi, q).Total; got != want {
			t.Errorf("%s total = %d, want %d", q, got, want)
		}
	}
	if resp, _ := hubtest.Do(t, http.MethodGet, mi.URL+"/v1/alliances?as_of=2027", mi.Token, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("as_of=2027: %d, want 400", resp.StatusCode)
	}
	if got := list(t, mi, "?category=outreach").Total; got != 5 {
		t.Errorf("national category total = %d, want 5", got)
	}
	if got := list(t, mi, "?category=dialogue").Total; got != 0 {
		t.Errorf("national category dialogue total = %d, want 0", got)
	}
	if got := list(t, mi, "?category=Outreach%20and%20Communication").Total; got != 5 {
		t.Errorf("category by label total = %d, want 5", got)
	}
}

// TestBadInput: every bad request is a problem naming what is wrong, and nothing is
// stored or queued.
func TestBadInput(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	other, _ := auth.GenerateKey()
	cases := []struct {
		name   string
		token  string
		body   string
		status int
		fields []string
	}{
		{"every failing field at once", mi.Token,
			`{"level":"national","participants":[{"name":"","contact":{"email":"nope"}}],"goals":[{"category":"safety-dialogue"}],"signed_on":"2024-05-14","term_months":500,"id":"MI-x"}`,
			422, []string{"id", "level", "participants[0].name", "participants[0].contact.email", "goals[0].category", "goals", "term_months"}},
		// Each MIOSHA Alliance must include an outreach and promotion goal (seed 004).
		{"MIOSHA outreach goal", mi.Token, `{"participants":[{"name":"A"}],"goals":[{"category":"training-education"}],"signed_on":"2024-05-14"}`, 422, []string{"goals"}},
		{"signed_on required unless draft", mi.Token, `{"participants":[{"name":"A"}],"goals":[{"category":"outreach-communication"}],"status":"active"}`, 422, []string{"signed_on"}},
		// A signing in the last years dates may carry (1970 to 2200) whose three-year
		// MIOSHA term ends after 2200: expires_on would be a date the hub cannot read
		// back, and the record would stall the node's sync. The signing date is named.
		{"term ending after 2200", mi.Token, `{"participants":[{"name":"A"}],"goals":[{"category":"outreach-communication"}],"signed_on":"2198-06-01"}`, 422, []string{"signed_on"}},
		{"expires_on is derived", mi.Token, `{"participants":[{"name":"A"}],"goals":[{"category":"outreach-communication"}],"signed_on":"2024-05-14","expires_on":"2030-01-01"}`, 422, []string{"expires_on"}},
		// 50 goals of 4,000 '&' each: within every text limit, but JSON writes '&' as
		// \u0026, and the signed record would be past what the hub takes.
		{"signed record too large", mi.Token, bigAlliance(), 422, []string{"record"}},
		{"unknown field", mi.Token, `{"participant":"A"}`, 400, []string{"participant"}},
		{"wrong type", mi.Token, `{"term_months":"two years"}`, 400, []string{"term_months"}},
		{"bad dates are named with the other fields", mi.Token,
			`{"participants":[{"name":"A"}],"goals":[{"category":"outreach-communication"}],"signed_on":"05/14/2024","renewals":[{"signed_on":"2025-02-30","term_months":24}],"status":"renewed"}`,
			422, []string{"signed_on", "renewals[0].signed_on"}},
		{"a date that is not a string", mi.Token, `{"signed_on":20240514}`, 400, nil},
		{"malformed JSON", mi.Token, `{"participants":[`, 400, nil},
		{"trailing data", mi.Token, `{} {}`, 400, nil},
		{"oversized body", mi.Token, `{"office":"` + strings.Repeat("x", 2<<20) + `"}`, 413, nil},
		{"no token", "", agc, 401, nil},
		{"token from another key", hubtest.Token(t, other, auth.RoleProgram, "MI"), agc, 401, nil},
		{"token for another program", hubtest.Token(t, mi.Key, auth.RoleProgram, "NV"), agc, 403, nil},
		{"analyst may read, not write", hubtest.Token(t, mi.Key, auth.RoleAnalyst, ""), agc, 403, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := hubtest.Do(t, http.MethodPost, mi.URL+"/v1/alliances", tc.token, []byte(tc.body))
			if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("got %d %s %s, want %d problem+json", resp.StatusCode, resp.Header.Get("Content-Type"), body, tc.status)
			}
			var p struct {
				Errors []schema.FieldError `json:"errors"`
			}
			hubtest.DecodeJSON(t, body, &p)
			var fields []string
			for _, f := range p.Errors {
				fields = append(fields, f.Field)
			}
			if diff := cmp.Diff(tc.fields, fields); tc.fields != nil && diff != "" {
				t.Errorf("failing fields (-want +got):\n%s\n%s", diff, body)
			}
			if got := list(t, mi, "").Total; got != 0 {
				t.Errorf("%d records stored, want 0", got)
			}
			if st := status(t, mi); st.LastSeq != 0 {
				t.Errorf("outbox holds %d revisions, want 0", st.LastSeq)
			}
		})
	}
	// A read with an analyst token is allowed.
	resp, _ := hubtest.Do(t, http.MethodGet, mi.URL+"/v1/alliances", hubtest.Token(t, mi.Key, auth.RoleAnalyst, ""), nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("analyst list: %d", resp.StatusCode)
	}
}

// TestQueryParametersAllNamed: a list, calendar, compliance or import request with
// several bad query parameters is one 400 naming each of them (in errors and in the
// detail), and writes nothing. A program filter naming another program matches none of
// this node's records, as it would on the roster.
func TestQueryParametersAllNamed(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	hubtest.Do(t, http.MethodPost, mi.URL+"/v1/alliances", mi.Token, []byte(agc))
	a := list(t, mi, "").Items[0]
	cases := []struct {
		name, method, path string
		fields             []string
	}{
		{"list", http.MethodGet, "/v1/alliances?as_of=2026-13-01&program=michigan&level=galactic&status=asleep&standing=tall&category=fun&format=xml&page_token=!!&limit=0",
			[]string{"as_of", "program", "level", "status", "standing", "category", "format", "page_token", "limit"}},
		{"list as CSV", http.MethodGet, "/v1/alliances?format=csv&level=national&limit=501", []string{"level", "limit"}},
		{"calendar", http.MethodGet, "/v1/calendar?as_of=2026-01&from=yesterday&kind=birthday&state=late&page_token=!!&limit=9999",
			[]string{"as_of", "from", "kind", "state", "page_token", "limit"}},
		{"calendar window", http.MethodGet, "/v1/calendar?from=2026-01-01&to=2025-01-01&kind=birthday", []string{"to", "kind"}},
		{"compliance", http.MethodGet, "/v1/alliances/" + a.ID + "/compliance?as_of=2026-02-30", []string{"as_of"}},
		{"import flags", http.MethodPost, "/v1/import?dry_run=perhaps&all_or_nothing=yes&allow_extra=never", []string{"dry_run", "all_or_nothing", "allow_extra"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := hubtest.Request(t, tc.method, mi.URL+tc.path, mi.Token, http.Header{"Content-Type": {"text/csv"}},
				[]byte("participant,signed_on\nB,2024-05-01\n"))
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("%d %s %s, want 400 problem+json", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			var p struct {
				Type   string              `json:"type"`
				Detail string              `json:"detail"`
				Errors []schema.FieldError `json:"errors"`
			}
			hubtest.DecodeJSON(t, body, &p)
			var got []string
			for _, f := range p.Errors {
				got = append(got, f.Field)
				if !strings.Contains(p.Detail, f.Field+": ") {
					t.Errorf("detail %q does not name %s", p.Detail, f.Field)
				}
			}
			if diff := cmp.Diff(tc.fields, got); diff != "" || p.Type != "urn:alliancehub:problem:invalid-request" {
				t.Errorf("%s: fields (-want +got):\n%s\n%s", p.Type, diff, body)
			}
		})
	}
	if st := status(t, mi); st.LastSeq != 1 || list(t, mi, "").Total != 1 {
		t.Errorf("after the refusals: %d revisions, %d Alliances; want 1 and 1", st.LastSeq, list(t, mi, "").Total)
	}
	for q, want := range map[string]int{"?program=MI": 1, "?program=NV": 0, "?program=NV&format=json": 0} {
		if got := list(t, mi, q).Total; got != want {
			t.Errorf("%s: total %d, want %d", q, got, want)
		}
	}
	if _, rows, _ := exportCSV(t, mi, "&program=NV"); len(rows) != 1 {
		t.Errorf("export for program NV from the MI node: %d data rows, want none", len(rows)-1)
	}
}

func bigAlliance() string {
	goals := make([]string, 50)
	for i := range goals {
		goals[i] = `{"category":"outreach-communication","description":"` + strings.Repeat("&", 4000) + `"}`
	}
	return `{"participants":[{"name":"A"}],"signed_on":"2024-05-14","goals":[` + strings.Join(goals, ",") + `]}`
}

// TestRulesDifferHoldsRecords: when the node's program definition has a category the
// hub's lacks, the hub refuses the batch; the node keeps every record and the error says
// why, and once the hub's definition matches, the next run delivers them all.
func TestRulesDifferHoldsRecords(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	research := schema.Category{Code: "research", Label: "Research", National: "dialogue"}
	mi := hubtest.StartNode(t, h, "MI", func(c *node.Config) {
		def := *c.Program
		def.Categories = append(append([]schema.Category(nil), def.Categories...), research)
		c.Program = &def
	})
	hubtest.Do(t, http.MethodPost, mi.URL+"/v1/alliances", mi.Token, []byte(
		`{"participants":[{"name":"A"}],"goals":[{"category":"outreach-communication"},{"category":"research"}],"signed_on":"2024-05-14"}`))
	hubtest.Do(t, http.MethodPost, mi.URL+"/v1/alliances", mi.Token, []byte(agc))
	res, err := mi.Sync(t.Context())
	if err == nil || !strings.Contains(res.Error, "rules for this program differ") || res.Pushed != 0 {
		t.Fatalf("sync = %+v, %v; want the batch refused with the reason", res, err)
	}
	if st := status(t, mi); st.Outbox != 2 || !strings.Contains(st.LastError, "research") {
		t.Errorf("status = %+v, want both records still in the outbox and the cause named", st)
	}

	file := t.TempDir() + "/mi.json"
	mustWriteDefinition(t, file, mi.Program())
	cat, err := schema.LoadCatalog(file)
	if err != nil {
		t.Fatal(err)
	}
	h.Catalog = cat
	h.Restart(t)
	res, err = mi.Sync(t.Context())
	if err != nil || res != (wire.SyncResult{Pushed: 2, Accepted: 2, Pulled: 2}) {
		t.Errorf("sync once the definitions agree = %+v, %v; want both accepted", res, err)
	}
}

func mustWriteDefinition(t *testing.T, file string, p *schema.Program) {
	t.Helper()
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRestartKeepsRecordsAndCursor: what the node acknowledged is there after it
// reopens its store, and what the hub acknowledged is not pushed again.
func TestRestartKeepsRecordsAndCursor(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	var want []schema.Alliance
	for range 3 {
		_, body := hubtest.Do(t, http.MethodPost, mi.URL+"/v1/alliances", mi.Token, []byte(agc))
		var a schema.Alliance
		hubtest.DecodeJSON(t, body, &a)
		want = append(want, a)
	}
	res, err := mi.Sync(t.Context())
	if err != nil || res.Accepted != 3 {
		t.Fatalf("sync = %+v, %v", res, err)
	}
	if err := mi.Close(); err != nil {
		t.Fatal(err)
	}
	reopened, err := node.New(node.Config{Program: mi.Program(), Key: mi.Key, DataDir: mi.Dir, HubURL: h.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer reopened.Close()
	for _, a := range want {
		got, err := reopened.Get(a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(a, *got); diff != "" {
			t.Errorf("after restart (-want +got):\n%s", diff)
		}
	}
	res, err = reopened.Sync(t.Context())
	if err != nil || res != (wire.SyncResult{}) {
		t.Errorf("sync after restart = %+v, %v; want nothing pushed", res, err)
	}
	st, err := reopened.Status()
	if err != nil || st.Cursor != 3 || st.Outbox != 0 || st.LastRun == nil || st.LastSuccessAt == nil {
		t.Errorf("status = %+v, %v", st, err)
	}
}

// faultyHub puts a real hub behind a front that answers the first failures pushes with
// the given status and passes everything else through; calls counts the pushes.
func faultyHub(t *testing.T, h *hubtest.Hub, failures int32, status int, retryAfter string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	target, _ := url.Parse(h.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/sync/push" && calls.Add(1) <= failures {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"type":"urn:alliancehub:problem:injected","title":%q,"status":%d,"detail":"injected fault"}`, http.StatusText(status), status)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestSyncRetries(t *testing.T) {
	cases := []struct {
		name       string
		failures   int32
		status     int
		retryAfter string
		wantCalls  int32
		wantErr    bool
		wantAccept int
	}{
		{"503 with Retry-After, then success", 2, http.StatusServiceUnavailable, "0", 3, false, 1},
		{"429, then success", 1, http.StatusTooManyRequests, "", 2, false, 1},
		{"500, then success", 3, http.StatusInternalServerError, "", 4, false, 1},
		{"408, then success", 2, http.StatusRequestTimeout, "", 3, false, 1},
		{"401 is permanent: not retried", 100, http.StatusUnauthorized, "", 1, true, 0},
		{"413 is permanent: not retried", 100, http.StatusRequestEntityTooLarge, "", 1, true, 0},
		{"400 is permanent: not retried", 100, http.StatusBadRequest, "", 1, true, 0},
		{"403 is permanent: not retried", 100, http.StatusForbidden, "", 1, true, 0},
		{"5xx beyond the budget fails the run", 1 << 30, http.StatusBadGateway, "", -1, true, 0},
		{"Retry-After past the budget fails the run at once", 100, http.StatusServiceUnavailable, "3600", 1, true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := hubtest.StartHub(t, nil)
			var front *httptest.Server
			var calls *atomic.Int32
			mi := hubtest.StartNode(t, h, "MI", func(c *node.Config) {
				front, calls = faultyHub(t, h, tc.failures, tc.status, tc.retryAfter)
				c.HubURL = front.URL
				c.Retry = node.RetryPolicy{Initial: time.Millisecond, Max: 5 * time.Millisecond, Budget: 300 * time.Millisecond}
			})
			hubtest.Do(t, http.MethodPost, mi.URL+"/v1/alliances", mi.Token, []byte(agc))
			res, err := mi.Sync(t.Context())
			if (err != nil) != tc.wantErr || (res.Error != "") != tc.wantErr || res.Accepted != tc.wantAccept {
				t.Fatalf("sync = %+v, err %v; want error %v, accepted %d", res, err, tc.wantErr, tc.wantAccept)
			}
			if tc.wantCalls > 0 && calls.Load() != tc.wantCalls {
				t.Errorf("hub called %d times, want %d", calls.Load(), tc.wantCalls)
			}
			st, _ := mi.Status()
			if tc.wantErr {
				// The cursor did not move: the next run resumes with the same records.
				if st.Cursor != 0 || st.Outbox != 1 || st.LastError == "" {
					t.Errorf("after failed run: %+v", st)
				}
				return
			}
			if st.Cursor != 1 || st.Outbox != 0 || st.LastError != "" {
				t.Errorf("after run: %+v", st)
			}
		})
	}
}

// waitTap collects the wait of every retry a node logs ("... failed; retrying").
type waitTap struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (w *waitTap) Enabled(context.Context, slog.Level) bool { return true }
func (w *waitTap) WithAttrs([]slog.Attr) slog.Handler       { return w }
func (w *waitTap) WithGroup(string) slog.Handler            { return w }
func (w *waitTap) Handle(_ context.Context, r slog.Record) error {
	if !strings.HasSuffix(r.Message, "failed; retrying") {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "wait" {
			if d, err := time.ParseDuration(a.Value.String()); err == nil {
				w.mu.Lock()
				w.waits = append(w.waits, d)
				w.mu.Unlock()
			}
		}
		return true
	})
	return nil
}

// TestRetryBackoff: the waits between a push's attempts grow from the first interval,
// are never longer than the cap (jitter included), and start again from the first
// interval after any success. The waits are what the node computed and logged, not
// measured.
func TestRetryBackoff(t *testing.T) {
	const (
		initial = time.Millisecond
		maxWait = 4 * time.Millisecond
	)
	h := hubtest.StartHub(t, nil)
	target, _ := url.Parse(h.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	// Push attempts 1 to 8 fail (batch 1), the 9th passes; the 10th fails (batch 2's
	// first attempt), the 11th passes.
	var calls atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/sync/push" {
			if n := calls.Add(1); n <= 8 || n == 10 {
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, `{"type":"urn:alliancehub:problem:injected","title":"Service Unavailable","status":503,"detail":"injected fault"}`)
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	tap := &waitTap{}
	mi := hubtest.StartNode(t, h, "MI", func(c *node.Config) {
		c.HubURL = front.URL
		c.BatchRecords = 1
		c.Retry = node.RetryPolicy{Initial: initial, Max: maxWait, Budget: time.Minute}
		c.Log = slog.New(tap)
	})
	for range 2 {
		hubtest.Do(t, http.MethodPost, mi.URL+"/v1/alliances", mi.Token, []byte(agc))
	}
	if res, err := mi.Sync(t.Context()); err != nil || res.Accepted != 2 || calls.Load() != 11 {
		t.Fatalf("sync = %+v, %v after %d pushes; want 2 accepted after 11", res, err, calls.Load())
	}
	tap.mu.Lock()
	waits := slices.Clone(tap.waits)
	tap.mu.Unlock()
	if len(waits) != 9 {
		t.Fatalf("%d retries logged (%v), want 9", len(waits), waits)
	}
	// Jitter is ±50% of the interval: the first wait is 0.5 to 1.5 times Initial; the
	// interval grows 1.5 times a failure and reaches the cap by the fifth, after which a
	// wait is at least half the cap and never more than it.
	for i, w := range waits {
		if w > maxWait {
			t.Errorf("wait %d = %s, over the cap %s", i+1, w, maxWait)
		}
	}
	first := func(what string, w time.Duration) {
		if w < initial/2 || w > initial*3/2+time.Microsecond {
			t.Errorf("%s = %s, want the first interval %s ±50%%", what, w, initial)
		}
	}
	first("the first wait", waits[0])
	if last := waits[7]; last < maxWait/2 {
		t.Errorf("the 8th wait in a row = %s, want at least half the cap (%s)", last, maxWait/2)
	}
	first("the wait after a success", waits[8])
}

// TestSyncResumesAfterHubOutage: a hub that is down fails the run without moving the
// cursor; once it is back the next run delivers everything exactly once.
func TestSyncResumesAfterHubOutage(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	var down atomic.Bool
	target, _ := url.Parse(h.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			// Drop the connection without an answer, as a dead host would.
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	mi := hubtest.StartNode(t, h, "MI", func(c *node.Config) {
		c.HubURL = front.URL
		c.Retry = node.RetryPolicy{Initial: time.Millisecond, Max: 5 * time.Millisecond, Budget: 100 * time.Millisecond}
	})
	for range 3 {
		hubtest.Do(t, http.MethodPost, mi.URL+"/v1/alliances", mi.Token, []byte(agc))
	}
	down.Store(true)
	if res, err := mi.Sync(t.Context()); err == nil || res.Accepted != 0 {
		t.Fatalf("sync while the hub is down = %+v, %v; want an error", res, err)
	}
	down.Store(false)
	res, err := mi.Sync(t.Context())
	if err != nil || res != (wire.SyncResult{Pushed: 3, Accepted: 3, Pulled: 3}) {
		t.Fatalf("sync after the outage = %+v, %v", res, err)
	}
	resp, body := hubtest.Do(t, http.MethodGet, h.URL+"/v1/roster", h.Token(t, auth.RoleAnalyst, ""), nil)
	var page struct{ Total int }
	json.Unmarshal(body, &page)
	if resp.StatusCode != http.StatusOK || page.Total != 3 {
		t.Errorf("roster total = %d, want 3", page.Total)
	}
}

func TestNextRun(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	detroit, _ := time.LoadLocation("America/Detroit")
	cases := []struct {
		name   string
		syncAt string
		now    time.Time
		want   time.Time
	}{
		{"later today", "02:00", time.Date(2026, 11, 23, 1, 0, 0, 0, detroit), time.Date(2026, 11, 23, 2, 0, 0, 0, detroit)},
		{"tomorrow", "02:00", time.Date(2026, 11, 23, 2, 0, 0, 0, detroit), time.Date(2026, 11, 24, 2, 0, 0, 0, detroit)},
		{"in the program's zone, from UTC", "23:30", time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC), time.Date(2026, 7, 1, 23, 30, 0, 0, detroit)},
		{"across the DST change", "02:30", time.Date(2026, 11, 1, 3, 0, 0, 0, detroit), time.Date(2026, 11, 2, 2, 30, 0, 0, detroit)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mi := hubtest.StartNode(t, h, "MI", func(c *node.Config) { c.SyncAt = tc.syncAt; c.SyncJitter = -1 })
			if got := mi.NextRun(tc.now); !got.Equal(tc.want) {
				t.Errorf("NextRun(%s) = %s, want %s", tc.now, got, tc.want)
			}
		})
	}
	withJitter := hubtest.StartNode(t, h, "MI", func(c *node.Config) { c.SyncJitter = 10 * time.Minute })
	base := time.Date(2026, 11, 23, 1, 0, 0, 0, detroit)
	for range 20 {
		got := withJitter.NextRun(base)
		if got.Before(base.Add(time.Hour)) || !got.Before(base.Add(time.Hour+10*time.Minute)) {
			t.Fatalf("NextRun with jitter = %s, want within 10 minutes after 02:00", got)
		}
	}
	if _, err := node.New(node.Config{Program: withJitter.Program(), Key: withJitter.Key, DataDir: t.TempDir(), HubURL: h.URL, SyncAt: "25:00"}); err == nil {
		t.Error("sync-at 25:00 accepted")
	}
}

// TestSyncOnDemandWhileRunning: an on-demand sync during a run answers 409 at once
// instead of queuing; the run in progress completes.
func TestSyncOnDemandWhileRunning(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	target, _ := url.Parse(h.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	arrived, release := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if first.CompareAndSwap(false, true) {
			close(arrived)
			<-release
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	mi := hubtest.StartNode(t, h, "MI", func(c *node.Config) { c.HubURL = front.URL })
	hubtest.Do(t, http.MethodPost, mi.URL+"/v1/alliances", mi.Token, []byte(agc))
	done := make(chan wire.SyncResult, 1)
	go func() {
		res, _ := mi.Sync(t.Context())
		done <- res
	}()
	<-arrived
	resp, body := hubtest.Do(t, http.MethodPost, mi.URL+"/v1/sync", mi.Token, nil)
	close(release)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(string(body), "sync-running") {
		t.Errorf("sync during a run: %d %s, want 409 sync-running", resp.StatusCode, body)
	}
	if res := <-done; res.Accepted != 1 {
		t.Errorf("the run in progress = %+v, want 1 accepted", res)
	}
}

// batchFront passes every request to the hub and decodes the batch of each push (its
// payload, unverified: the hub verifies it), so a test sees how the node cut its outbox.
func batchFront(t *testing.T, h *hubtest.Hub) (*httptest.Server, func() []wire.Batch) {
	t.Helper()
	target, _ := url.Parse(h.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var (
		mu      sync.Mutex
		batches []wire.Batch
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/sync/push" {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				t.Errorf("reading a push: %v", err)
				return
			}
			payload, _, err := auth.UnverifiedPayload(string(body))
			var b wire.Batch
			if err == nil {
				err = json.Unmarshal(payload, &b)
			}
			if err != nil {
				t.Errorf("a push that is not a batch: %v", err)
			}
			mu.Lock()
			batches = append(batches, b)
			mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []wire.Batch {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(batches)
	}
}

// checkCut asserts batches cover the sequence numbers 1 to last in order, each within
// maxRecords and maxBytes of records (but at least one record), and each as full as the
// bounds allow: the next batch's first record would not have fitted.
func checkCut(t *testing.T, batches []wire.Batch, last uint64, maxRecords, maxBytes int) {
	t.Helper()
	next := uint64(1)
	size := func(b wire.Batch) (n int) {
		for _, r := range b.Records {
			n += len(r)
		}
		return n
	}
	for i, b := range batches {
		if b.SeqFrom != next || b.SeqTo != next+uint64(len(b.Records))-1 || len(b.Records) == 0 {
			t.Fatalf("batch %d covers %d..%d with %d records, want it to start at %d", i, b.SeqFrom, b.SeqTo, len(b.Records), next)
		}
		next = b.SeqTo + 1
		if len(b.Records) > maxRecords || (len(b.Records) > 1 && size(b) > maxBytes) {
			t.Errorf("batch %d: %d records, %d bytes; bounds %d and %d", i, len(b.Records), size(b), maxRecords, maxBytes)
		}
		if i+1 < len(batches) && len(b.Records) < maxRecords && size(b)+len(batches[i+1].Records[0]) <= maxBytes {
			t.Errorf("batch %d: %d records, %d bytes, and the next record (%d bytes) would have fitted", i, len(b.Records), size(b), len(batches[i+1].Records[0]))
		}
	}
	if next != last+1 {
		t.Errorf("batches end at %d, want %d", next-1, last)
	}
}

// TestBatchBounds: the node cuts its outbox into batches of at most 500 records and
// 1 MiB of records by default, or of the bounds it is configured with, each as full as
// they allow but never empty (a record larger than the byte bound goes alone), and
// refuses bounds beyond the protocol's at start.
func TestBatchBounds(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	cases := []struct {
		name                 string
		records              int
		batchRecords         int // configured; 0: the default
		batchBytes           int
		wantRecords, wantMax int // the bounds the batches must keep
		wantPushes           int // 0: as many as the bounds make
	}{
		{"defaults: 500 records", 1101, 0, 0, wire.MaxBatchRecords, wire.MaxBatchBytes, 3},
		{"--batch-records 2", 5, 2, 0, 2, wire.MaxBatchBytes, 3},
		// Records of about 0.9 KB: four a batch.
		{"--batch-bytes 4000", 12, 0, 4000, wire.MaxBatchRecords, 4000, 0},
		{"--batch-bytes 1: one record each", 3, 0, 1, wire.MaxBatchRecords, 1, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var batches func() []wire.Batch
			mi := hubtest.StartNode(t, h, "MI", func(c *node.Config) {
				var front *httptest.Server
				front, batches = batchFront(t, h)
				c.HubURL = front.URL
				c.BatchRecords, c.BatchBytes = tc.batchRecords, tc.batchBytes
			})
			importOK(t, mi, "", generatedCSV(tc.records))
			res, err := mi.Sync(t.Context())
			if err != nil || res.Accepted != tc.records {
				t.Fatalf("sync = %+v, %v; want %d accepted", res, err, tc.records)
			}
			got := batches()
			if tc.wantPushes > 0 && len(got) != tc.wantPushes {
				t.Errorf("%d pushes, want %d", len(got), tc.wantPushes)
			}
			if tc.wantPushes == 0 && (len(got) < 2 || len(got) == tc.records) {
				t.Errorf("%d pushes for %d records, want more than one, with more than one record in some", len(got), tc.records)
			}
			checkCut(t, got, uint64(tc.records), tc.wantRecords, tc.wantMax)
		})
	}

	cat, _ := schema.LoadCatalog()
	def, _ := cat.Get("MI")
	key, _ := auth.GenerateKey()
	for _, cfg := range []node.Config{{BatchRecords: 501}, {BatchBytes: 2 << 20}, {BatchRecords: -1}} {
		cfg.Program, cfg.Key, cfg.DataDir, cfg.HubURL = def, key, t.TempDir(), h.URL
		_, err := node.New(cfg)
		var ce *node.ConfigError
		if !errors.As(err, &ce) || !strings.HasPrefix(ce.Flag, "batch-") {
			t.Errorf("New(%d records, %d bytes) = %v, want a batch-* configuration error", cfg.BatchRecords, cfg.BatchBytes, err)
		}
	}
}
