package node_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/node"
)

// keyFileOpt keeps the node's key in a file in a directory of its own, as the node
// command does; it answers the option and the file.
func keyFileOpt(t *testing.T) (hubtest.NodeOption, string) {
	path := filepath.Join(t.TempDir(), "mi.jwk")
	return func(c *node.Config) {
		if err := c.Key.WriteFile(path); err != nil {
			t.Fatal(err)
		}
		c.KeyFile = path
	}, path
}

func rotate(t *testing.T, n *hubtest.Node, token string, body any) (*http.Response, []byte) {
	t.Helper()
	return hubtest.Do(t, http.MethodPost, n.URL+"/v1/keys/rotate", token, body)
}

func rotateOK(t *testing.T, n *hubtest.Node, token string) node.RotateResult {
	t.Helper()
	resp, body := rotate(t, n, token, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("rotate: %d %s", resp.StatusCode, body)
	}
	var rr node.RotateResult
	hubtest.DecodeJSON(t, body, &rr)
	return rr
}

func kidIn(t *testing.T, path string) string {
	t.Helper()
	k, err := auth.LoadKey(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return k.KeyID()
}

// TestRotateKeyKeepsEveryKeyFile: two rotations in a row leave the current key in KEY
// (0600), the one before in KEY.old, and the first in KEY.old.<its kid>: nothing is
// overwritten. Each rotation is enrolled at the hub, and the node signs its pushes with
// the newest key. retire_old_at reaches the hub.
func TestRotateKeyKeepsEveryKeyFile(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	opt, file := keyFileOpt(t)
	mi := hubtest.StartNode(t, h, "MI", opt)
	k0 := mi.Key.KeyID()

	retire := time.Now().UTC().Add(time.Hour).Truncate(time.Second)
	resp, body := rotate(t, mi, mi.Token, map[string]any{"retire_old_at": retire})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("rotate: %d %s", resp.StatusCode, body)
	}
	var r1 node.RotateResult
	hubtest.DecodeJSON(t, body, &r1)
	if !r1.PreviousNotAfter.Equal(retire) {
		t.Errorf("old key ends %s, want retire_old_at %s", r1.PreviousNotAfter, retire)
	}
	r2 := rotateOK(t, mi, mi.Token) // the first key's token still counts until its end
	if r2.PreviousKid != r1.Kid || r1.PreviousKid != k0 {
		t.Fatalf("rotations %+v then %+v do not chain from %s", r1, r2, k0)
	}
	files := map[string]string{
		file:                r2.Kid,
		file + ".old":       r1.Kid,
		file + ".old." + k0: k0,
	}
	for path, kid := range files {
		if got := kidIn(t, path); got != kid {
			t.Errorf("%s holds %s, want %s", path, got, kid)
		}
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", path, st.Mode(), err)
		}
	}
	if all, _ := filepath.Glob(filepath.Join(filepath.Dir(file), "*")); len(all) != len(files) {
		t.Errorf("key directory holds %v, want exactly %d files", all, len(files))
	}

	// The hub holds all three, and the node pushes with the newest.
	var page struct{ Items []hub.ProgramView }
	hubtest.GetJSON(t, h.URL+"/v1/programs", h.Token(t, auth.RoleAnalyst, ""), &page)
	states := map[string]string{}
	for _, k := range page.Items[0].Keys {
		states[k.Kid] = k.State
	}
	if len(states) != 3 || states[r2.Kid] != "valid" {
		t.Errorf("hub keys = %v, want three, the newest valid", states)
	}
	created := postAlliance(t, mi)
	if res, err := mi.Sync(t.Context()); err != nil || res.Accepted != 1 {
		t.Fatalf("sync = %+v, %v", res, err)
	}
	var roster struct{ Items []wire.RosterItem }
	hubtest.GetJSON(t, h.URL+"/v1/roster", h.Token(t, auth.RoleAnalyst, ""), &roster)
	if len(roster.Items) != 1 || roster.Items[0].ID != created || roster.Items[0].Provenance.Kid != r2.Kid {
		t.Errorf("roster = %+v, want the Alliance signed by %s", roster.Items, r2.Kid)
	}
}

func postAlliance(t *testing.T, n *hubtest.Node) string {
	t.Helper()
	resp, body := hubtest.Do(t, http.MethodPost, n.URL+"/v1/alliances", n.Token, []byte(agc))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	var a struct{ ID string }
	json.Unmarshal(body, &a)
	return a.ID
}

// TestRotateKeyAnswerLost: the hub enrolls the new key but its answer never reaches the
// node. The node keeps signing with its old key and keeps the new one in KEY.new; the
// next rotation announces that same key again, the hub takes it again, and the node
// switches to it.
func TestRotateKeyAnswerLost(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	target, _ := url.Parse(h.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var lose atomic.Bool
	lose.Store(true)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/keys") && lose.Load() {
			rec := httptest.NewRecorder()
			proxy.ServeHTTP(rec, r) // the hub does the work...
			http.Error(w, "gateway timeout", http.StatusGatewayTimeout)
			return // ...and the answer is lost
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	opt, file := keyFileOpt(t)
	mi := hubtest.StartNode(t, h, "MI", opt, func(c *node.Config) { c.HubURL = front.URL })
	old := mi.Key.KeyID()

	resp, body := rotate(t, mi, mi.Token, nil)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "rotation-failed") {
		t.Fatalf("rotation with its answer lost: %d %s", resp.StatusCode, body)
	}
	pending := kidIn(t, file+".new")
	if kidIn(t, file) != old {
		t.Fatal("the key file changed though the node never heard the hub take the new key")
	}
	if _, err := os.Stat(file + ".old"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("KEY.old written before the rotation finished: %v", err)
	}
	lose.Store(false)
	rr := rotateOK(t, mi, mi.Token)
	if rr.Kid != pending || rr.PreviousKid != old || kidIn(t, file) != pending {
		t.Errorf("second rotation = %+v, want the pending key %s", rr, pending)
	}
	if _, err := os.Stat(file + ".new"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("KEY.new left behind: %v", err)
	}
}

// TestRotateKeyRefusals: a node without a key file cannot rotate (409); only the
// program's staff or an admin may ask (403); a rotation the hub refuses (502) leaves
// the node signing with its key and no KEY.new behind.
func TestRotateKeyRefusals(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	bare := hubtest.StartNode(t, h, "NV")
	resp, body := rotate(t, bare, bare.Token, nil)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(string(body), "no-key-file") {
		t.Errorf("rotation without a key file: %d %s", resp.StatusCode, body)
	}

	opt, file := keyFileOpt(t)
	mi := hubtest.StartNode(t, h, "MI", opt)
	resp, body = rotate(t, mi, hubtest.Token(t, mi.Key, auth.RoleAnalyst, ""), nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("rotation by an analyst: %d %s", resp.StatusCode, body)
	}
	resp, body = rotate(t, mi, mi.Token, map[string]any{"retire_old_at": time.Now().Add(-time.Hour)})
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "retire_old_at") {
		t.Errorf("rotation the hub refuses: %d %s", resp.StatusCode, body)
	}
	if kidIn(t, file) != mi.Key.KeyID() {
		t.Error("the key file changed after a refused rotation")
	}
	if all, _ := filepath.Glob(filepath.Join(filepath.Dir(file), "*")); len(all) != 1 {
		t.Errorf("key directory after a refused rotation holds %v, want the key file alone", all)
	}
	resp, body = rotate(t, mi, hubtest.Token(t, mi.Key, auth.RoleAdmin, ""), nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("rotation by an admin: %d %s", resp.StatusCode, body)
	}
}
