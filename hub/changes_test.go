package hub_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/node"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

func changes(t *testing.T, h *hubtest.Hub, token, query string) wire.ChangesPage {
	t.Helper()
	var p wire.ChangesPage
	hubtest.GetJSON(t, h.URL+"/v1/sync/changes"+query, token, &p)
	return p
}

// TestChangeFeedPages: the feed hands out every accepted revision once, in the order the
// hub accepted them, as the program signed it, in pages that resume from last_seq.
func TestChangeFeedPages(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	miKey, push := miPusher(t, h)
	var sent []string
	for range 7 {
		jws := record(t, miKey, "MI", schema.NewID("MI"), 1, nil)
		sent = append(sent, jws)
		push(jws)
	}
	push(sent[0]) // a duplicate adds nothing to the feed
	token := h.Token(t, auth.RoleAnalyst, "")

	var got []wire.Change
	since := uint64(0)
	for pages := 0; ; pages++ {
		p := changes(t, h, token, fmt.Sprintf("?since=%d&limit=3", since))
		if p.HeadSeq != 7 {
			t.Fatalf("head_seq = %d, want 7", p.HeadSeq)
		}
		if len(p.Changes) == 0 {
			if p.LastSeq != since || pages != 3 {
				t.Fatalf("empty page: last_seq %d after %d pages; want %d after 3", p.LastSeq, pages, since)
			}
			break
		}
		if len(p.Changes) > 3 || p.LastSeq != p.Changes[len(p.Changes)-1].Seq {
			t.Fatalf("page = %+v", p)
		}
		got = append(got, p.Changes...)
		since = p.LastSeq
	}
	if len(got) != len(sent) {
		t.Fatalf("%d changes, want %d", len(got), len(sent))
	}
	for i, c := range got {
		if c.Seq != uint64(i+1) || c.Record != sent[i] || c.ReceivedAt.IsZero() {
			t.Errorf("change %d = seq %d, same bytes %v; want seq %d and the signed record unchanged", i, c.Seq, c.Record == sent[i], i+1)
		}
		if c.Hub.Conflict || c.Hub.WinningRev != revOf(sent[i]) {
			t.Errorf("change %d annotation = %+v, want winning_rev %s", i, c.Hub, revOf(sent[i]))
		}
	}

	// A conflict shows on every change of the record, as of the page's reading.
	id := mustPayloadID(t, sent[0])
	left := record(t, miKey, "MI", id, 1, following(revOf(sent[0]), "Lansing"))
	right := record(t, miKey, "MI", id, 1, following(revOf(sent[0]), "Detroit"))
	push(left)
	push(right)
	p := changes(t, h, token, "?since=0&limit=1")
	if !p.Changes[0].Hub.Conflict || p.Changes[0].Hub.WinningRev != max(revOf(left), revOf(right)) {
		t.Errorf("first change after the conflict: %+v, want conflict and the higher rev winning", p.Changes[0].Hub)
	}

	// The feed survives a restart with the same sequence numbers.
	h.Restart(t)
	if p := changes(t, h, token, "?since=7"); len(p.Changes) != 2 || p.Changes[0].Seq != 8 || p.Changes[1].Record != right {
		t.Errorf("after restart, since=7: %+v", p)
	}
}

func mustPayloadID(t *testing.T, jws string) string {
	t.Helper()
	payload, _, err := auth.UnverifiedPayload(jws)
	if err != nil {
		t.Fatal(err)
	}
	var r schema.Record
	if err := json.Unmarshal(payload, &r); err != nil {
		t.Fatal(err)
	}
	return r.ID
}

// TestChangeFeedRefusals: bad parameters are named; no token is 401.
func TestChangeFeedRefusals(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	token := h.Token(t, auth.RoleAnalyst, "")
	resp, body := hubtest.Do(t, http.MethodGet, h.URL+"/v1/sync/changes?since=-1&limit=0&wait=2m", token, nil)
	p := wantProblem(t, resp, body, http.StatusBadRequest, "invalid-request")
	var fields []string
	for _, e := range p.Errors {
		fields = append(fields, e.Field)
	}
	if !cmp.Equal(fields, []string{"since", "limit", "wait"}) {
		t.Errorf("fields named = %v, want since, limit, wait", fields)
	}
	resp, body = hubtest.Do(t, http.MethodGet, h.URL+"/v1/sync/changes", "", nil)
	wantProblem(t, resp, body, http.StatusUnauthorized, "unauthenticated")
	resp, body = hubtest.Do(t, http.MethodGet, h.URL+"/v1/sync/keys", "", nil)
	wantProblem(t, resp, body, http.StatusUnauthorized, "unauthenticated")
}

// TestChangeFeedLongPoll: a reader caught up waits, with heartbeats, and is answered as
// soon as a revision is accepted; with nothing new it gets an empty page when the wait
// ends.
func TestChangeFeedLongPoll(t *testing.T) {
	defer hub.SetHeartbeat(5 * time.Millisecond)()
	h := hubtest.StartHub(t, nil)
	miKey, push := miPusher(t, h)
	token := h.Token(t, auth.RoleAnalyst, "")

	resp, body := hubtest.Do(t, http.MethodGet, h.URL+"/v1/sync/changes?since=0&wait=1s", token, nil)
	if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(body, []byte("\n")) {
		t.Fatalf("long poll with nothing new: %d %q; want 200 starting with heartbeats", resp.StatusCode, body)
	}
	var p wire.ChangesPage
	if err := json.Unmarshal(body, &p); err != nil || len(p.Changes) != 0 || p.LastSeq != 0 {
		t.Fatalf("long poll with nothing new: %q (%v); want an empty page", body, err)
	}

	done := make(chan wire.ChangesPage, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, h.URL+"/v1/sync/changes?since=0&wait=50s", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		var p wire.ChangesPage
		if err == nil {
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			json.Unmarshal(raw, &p)
		}
		done <- p
	}()
	jws := record(t, miKey, "MI", schema.NewID("MI"), 1, nil)
	push(jws)
	p = <-done
	if len(p.Changes) != 1 || p.Changes[0].Record != jws {
		t.Errorf("long poll answered %+v, want the pushed record", p)
	}
}

// TestKeysDocument: the hub signs the enrolled programs' keys; the signature verifies
// with the hub's published key and nothing else.
func TestKeysDocument(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	miKey, _ := auth.GenerateKey()
	nvKey, _ := auth.GenerateKey()
	h.Enroll(t, "MI", miKey)
	h.Enroll(t, "NV", nvKey)
	resp, body := hubtest.Do(t, http.MethodGet, h.URL+"/v1/sync/keys", hubtest.Token(t, miKey, auth.RoleProgram, "MI"), nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != wire.MediaTypeJOSE {
		t.Fatalf("keys: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	v, err := auth.Verify(string(body), auth.TypeKeys, auth.KeySet{h.Key.KeyID(): h.Key.PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	var doc wire.KeysDocument
	if err := json.Unmarshal(v.Payload, &doc); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range doc.Programs {
		for _, k := range p.Keys {
			got[p.Code] = k.Kid
		}
	}
	if want := map[string]string{"MI": miKey.KeyID(), "NV": nvKey.KeyID()}; !cmp.Equal(got, want) {
		t.Errorf("keys document = %v, want %v", got, want)
	}
	if _, err := auth.Verify(string(body), auth.TypeKeys, auth.KeySet{miKey.KeyID(): miKey.PublicKey()}); err == nil {
		t.Error("the keys document verified with a program's key")
	}
}

// nodeRoster reads a node's replica of the national roster.
func nodeRoster(t *testing.T, n *hubtest.Node, query string) hub.RosterPage {
	t.Helper()
	var p hub.RosterPage
	hubtest.GetJSON(t, n.URL+"/v1/roster"+query, n.Token, &p)
	return p
}

// TestReplicaMatchesHub: after a sync, every node answers GET /v1/roster exactly as the
// hub does, for any filter and in CSV, and keeps doing so after a restart.
func TestReplicaMatchesHub(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	nv := hubtest.StartNode(t, h, "NV")
	fed := hubtest.StartNode(t, h, "FED")

	resp, body := hubtest.Do(t, http.MethodGet, mi.URL+"/v1/roster", mi.Token, nil)
	wantProblem(t, resp, body, http.StatusServiceUnavailable, "no-replica")

	create(t, mi, miAGC)
	create(t, mi, miFarm)
	create(t, nv, nvNCA)
	create(t, fed, `{"level":"national","participants":[{"name":"American Society of Safety Professionals"}],
		"goals":[{"category":"training"}],"signed_on":"2023-06-01"}`)
	for _, n := range []*hubtest.Node{mi, nv, fed, mi, nv} {
		syncNode(t, n)
	}
	analyst := h.Token(t, auth.RoleAnalyst, "")
	queries := []string{"", "?program=MI", "?category=training", "?standing=active&as_of=2026-01-01", "?limit=1", "?q=nevada"}
	check := func(t *testing.T, n *hubtest.Node) {
		t.Helper()
		for _, q := range queries {
			var want hub.RosterPage
			hubtest.GetJSON(t, h.URL+"/v1/roster"+q, analyst, &want)
			got := nodeRoster(t, n, q)
			if got.Replica == nil || got.Replica.AppliedSeq != 4 || got.Replica.HubHeadSeq != 4 || got.Replica.PulledAt == nil {
				t.Errorf("%s%s: replica = %+v, want applied and head 4", n.Program().Code, q, got.Replica)
			}
			got.Replica = nil
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s roster%s differs from the hub's (-hub +node):\n%s", n.Program().Code, q, diff)
			}
		}
		_, hubCSV := hubtest.Do(t, http.MethodGet, h.URL+"/v1/roster?format=csv", analyst, nil)
		_, nodeCSV := hubtest.Do(t, http.MethodGet, n.URL+"/v1/roster?format=csv", n.Token, nil)
		if !bytes.Equal(hubCSV, nodeCSV) || bytes.Count(nodeCSV, []byte("\n")) != 5 {
			t.Errorf("%s CSV differs from the hub's:\n%s\nvs\n%s", n.Program().Code, nodeCSV, hubCSV)
		}
	}
	for _, n := range []*hubtest.Node{mi, nv, fed} {
		check(t, n)
	}
	mi.Restart(t)
	check(t, mi)
	if got := syncNode(t, mi); got != (wire.SyncResult{}) {
		t.Errorf("sync after restart = %+v, want nothing pulled again", got)
	}
}

// frontFunc puts a real hub behind a front whose change-feed answers pass through edit.
func frontFunc(t *testing.T, h *hubtest.Hub, edit func(*wire.ChangesPage)) *httptest.Server {
	t.Helper()
	target, _ := url.Parse(h.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.URL.Path != "/v1/sync/changes" || resp.StatusCode != http.StatusOK {
			return nil
		}
		var p wire.ChangesPage
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		edit(&p)
		raw, _ = json.Marshal(p)
		resp.Body = io.NopCloser(bytes.NewReader(raw))
		resp.ContentLength = int64(len(raw))
		resp.Header.Set("Content-Length", fmt.Sprint(len(raw)))
		return nil
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv
}

// TestPullRefusesWhatDoesNotVerify: a change feed that hands the node a tampered
// record, a record signed by a key not in the keys document, or a page that goes back
// fails the run with the cause named, and the node keeps nothing of that page; once
// the feed is honest again the next run converges.
func TestPullRefusesWhatDoesNotVerify(t *testing.T) {
	stranger, _ := auth.GenerateKey()
	cases := []struct {
		name string
		edit func(*wire.ChangesPage)
		want string
	}{
		{"tampered payload", func(p *wire.ChangesPage) {
			parts := strings.Split(p.Changes[0].Record, ".")
			payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
			parts[1] = base64.RawURLEncoding.EncodeToString(bytes.Replace(payload, []byte("Nevada"), []byte("Nevadb"), 1))
			p.Changes[0].Record = strings.Join(parts, ".")
		}, "does not verify"},
		{"unknown signer", func(p *wire.ChangesPage) {
			payload, _, _ := auth.UnverifiedPayload(p.Changes[0].Record)
			p.Changes[0].Record, _ = stranger.Sign(payload, auth.TypeRecord)
		}, "does not verify"},
		{"feed goes back", func(p *wire.ChangesPage) { p.Changes[len(p.Changes)-1].Seq, p.LastSeq = 1, 1 }, "went backwards"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := hubtest.StartHub(t, nil)
			var lying atomic.Bool
			lying.Store(true)
			front := frontFunc(t, h, func(p *wire.ChangesPage) {
				if lying.Load() && len(p.Changes) > 0 {
					tc.edit(p)
				}
			})
			nv := hubtest.StartNode(t, h, "NV")
			mi := hubtest.StartNode(t, h, "MI", func(c *node.Config) { c.HubURL = front.URL })
			create(t, nv, nvNCA)
			create(t, nv, `{"participants":[{"name":"Las Vegas Builders"}],"goals":[{"category":"training-education"}],"signed_on":"2025-02-01"}`)
			syncNode(t, nv)
			res, err := mi.Sync(t.Context())
			if err == nil || !strings.Contains(res.Error, tc.want) {
				t.Fatalf("sync = %+v, %v; want an error saying %q", res, err, tc.want)
			}
			if st, _ := mi.Status(); res.Pulled != 0 || st.LastError == "" {
				t.Errorf("pulled %d, last error %q; want nothing kept and the error shown", res.Pulled, st.LastError)
			}
			lying.Store(false)
			if res, err := mi.Sync(t.Context()); err != nil || res.Pulled != 2 {
				t.Fatalf("honest sync = %+v, %v; want both records pulled", res, err)
			}
			if got := nodeRoster(t, mi, ""); got.Total != 2 {
				t.Errorf("replica total = %d, want 2", got.Total)
			}
		})
	}
}

// TestPullPinsTheHubKey: the node trusts the hub key it first met; a server with
// another key at the hub's address cannot feed it.
func TestPullPinsTheHubKey(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	impostor := hubtest.StartHub(t, nil)
	var target atomic.Pointer[url.URL]
	real, _ := url.Parse(h.URL)
	target.Store(real)
	front := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target.Load()) }})
	defer front.Close()
	mi := hubtest.StartNode(t, h, "MI", func(c *node.Config) { c.HubURL = front.URL })
	impostor.Enroll(t, "MI", mi.Key)
	if _, err := mi.Sync(t.Context()); err != nil {
		t.Fatalf("first sync: %v", err)
	}
	fake, _ := url.Parse(impostor.URL)
	target.Store(fake)
	mi.Restart(t) // the pin is durable
	res, err := mi.Sync(t.Context())
	if err == nil || !strings.Contains(res.Error, "not signed by the hub key this node trusts") {
		t.Fatalf("sync against another hub = %+v, %v; want the key named", res, err)
	}
}

// TestHubJWKGiven: a node given the hub's key (a JWK, or the hub's JWKS as served)
// trusts only that key; a private key or a set of several is refused at start.
func TestHubJWKGiven(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	other, _ := auth.GenerateKey()
	_, jwks := hubtest.Do(t, http.MethodGet, h.URL+"/.well-known/jwks.json", "", nil)
	otherJWK, _ := json.Marshal(other.PublicJWK())
	for _, tc := range []struct {
		name string
		jwk  []byte
		want string
	}{
		{"the hub's JWKS", jwks, ""},
		{"another key", otherJWK, "not signed by the hub key this node trusts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mi := hubtest.StartNode(t, h, "MI", func(c *node.Config) { c.HubJWK = tc.jwk })
			res, _ := mi.Sync(t.Context())
			if !strings.Contains(res.Error, tc.want) || (tc.want == "") != (res.Error == "") {
				t.Errorf("sync = %+v; want error %q", res, tc.want)
			}
		})
	}
	priv := mustPrivateJWK(t, other)
	two := []byte(`{"keys":[` + string(otherJWK) + `,` + string(otherJWK) + `]}`)
	for name, raw := range map[string][]byte{"private": priv, "two keys": two, "garbage": []byte("{")} {
		_, err := node.New(node.Config{Program: mustProgram(t, "MI"), Key: other, DataDir: t.TempDir(), HubURL: h.URL, HubJWK: raw})
		var ce *node.ConfigError
		if !errors.As(err, &ce) || ce.Flag != "hub-jwk" {
			t.Errorf("%s: New = %v, want a hub-jwk configuration error", name, err)
		}
	}
}

func mustProgram(t *testing.T, code string) *schema.Program {
	t.Helper()
	cat, err := schema.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := cat.Get(code)
	return p
}

// TestLongPollEndsAtShutdown: a server stopping answers its waiting long polls (an
// empty page) instead of holding shutdown until they time out.
func TestLongPollEndsAtShutdown(t *testing.T) {
	defer hub.SetHeartbeat(5 * time.Millisecond)()
	key, _ := auth.GenerateKey()
	h, err := hub.New(hub.Config{Key: key, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan error, 1)
	go func() { ran <- h.Run(ctx, ln) }()

	// The response's headers arrive with the first heartbeat: from then on the poll is
	// waiting inside the handler.
	req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/v1/sync/changes?wait=50s", nil)
	req.Header.Set("Authorization", "Bearer "+hubtest.Token(t, key, auth.RoleAnalyst, ""))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	cancel()
	select {
	case err := <-ran:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(8 * time.Second): // edge.Serve's own shutdown bound is 10 s
		t.Fatal("the server did not stop while a long poll waited")
	}
	var p wire.ChangesPage
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || len(p.Changes) != 0 {
		t.Errorf("the waiting long poll answered %+v, %v; want an empty page", p, err)
	}
}
