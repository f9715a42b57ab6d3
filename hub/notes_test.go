package hub_test

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/node"
	"github.com/google/go-cmp/cmp"
)

// TestReplicaShowsHubDecisions: DCSP's decision on a link reaches every node's replica
// through the change feed as a note the hub signs, so a node's roster shows the links
// and their state exactly as the hub's, also after a restart; a forged note is refused.
func TestReplicaShowsHubDecisions(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	fed := hubtest.StartNode(t, h, "FED")
	mi := hubtest.StartNode(t, h, "MI")
	f := create(t, fed, fedNUCA)
	create(t, mi, miNUCA)
	syncNode(t, fed)
	syncNode(t, mi)
	syncNode(t, fed)
	analyst := h.Token(t, auth.RoleAnalyst, "")
	same := func(t *testing.T, n *hubtest.Node, want wire.LinkState) {
		t.Helper()
		var hubPage hub.RosterPage
		hubtest.GetJSON(t, h.URL+"/v1/roster?as_of=2026-01-01", analyst, &hubPage)
		got := nodeRoster(t, n, "?as_of=2026-01-01")
		got.Replica = nil
		if diff := cmp.Diff(hubPage, got); diff != "" {
			t.Errorf("%s replica differs from the hub (-hub +node):\n%s", n.Program().Code, diff)
		}
		for _, it := range got.Items {
			if it.ID == f.ID && (len(it.Links) != 1 || it.Links[0].State != want) {
				t.Errorf("%s: links of %s = %+v, want one %s", n.Program().Code, f.ID, it.Links, want)
			}
		}
	}
	same(t, fed, wire.LinkProposed)
	same(t, mi, wire.LinkProposed)

	var links hub.LinkPage
	hubtest.GetJSON(t, h.URL+"/v1/links", analyst, &links)
	if len(links.Items) != 1 {
		t.Fatalf("links = %+v", links)
	}
	resp, body := hubtest.Do(t, http.MethodPost, h.URL+"/v1/links/"+links.Items[0].ID+"/confirm", analyst, map[string]string{"note": "same Alliance"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("confirm: %d %s", resp.StatusCode, body)
	}
	if got := syncNode(t, mi); got.Pulled != 1 {
		t.Errorf("sync after the decision pulled %d changes, want the one note", got.Pulled)
	}
	syncNode(t, fed)
	same(t, fed, wire.LinkConfirmed)
	same(t, mi, wire.LinkConfirmed)
	mi.Restart(t)
	h.Restart(t)
	same(t, mi, wire.LinkConfirmed)
}

// TestForgedNoteRefused: a note in the feed that the hub's key did not sign is refused
// with the page it came in.
func TestForgedNoteRefused(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	stranger, _ := auth.GenerateKey()
	var forging atomic.Bool
	forging.Store(true)
	front := frontFunc(t, h, func(p *wire.ChangesPage) {
		if !forging.Load() || len(p.Changes) == 0 {
			return
		}
		note, _ := stranger.Sign([]byte(`{"kind":"conflict-ack","issued_at":"2026-01-01T00:00:00Z","ack":{"id":"MI-x","leaves":[],"by":"me","at":"2026-01-01T00:00:00Z"}}`), auth.TypeNote)
		p.Changes[0].Record, p.Changes[0].Note = "", note
	})
	nv := hubtest.StartNode(t, h, "NV")
	mi := hubtest.StartNode(t, h, "MI", func(c *node.Config) { c.HubURL = front.URL })
	create(t, nv, nvNCA)
	syncNode(t, nv)
	if res, err := mi.Sync(t.Context()); err == nil || res.Pulled != 0 {
		t.Fatalf("sync with a forged note = %+v, %v; want refused", res, err)
	}
	forging.Store(false)
	if res, err := mi.Sync(t.Context()); err != nil || res.Pulled != 1 {
		t.Fatalf("honest sync = %+v, %v", res, err)
	}
}
