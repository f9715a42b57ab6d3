package hub_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/google/go-cmp/cmp"
)

// TestRosterEntryProvenance (issue 5 item 4, GET /v1/roster/{id}): an Alliance that is
// conflicted (its node restored from a backup), linked to another program's record, and
// signed by a key an admin has since revoked shows all of it in one answer: every
// revision with its key id, signing and arrival times and hub sequence, which are leaves
// and which one wins, the revocation flagged on each revision and on the provenance
// (nothing deleted), the conflict, the link with its discrepancies, and the owning
// node's freshness. A node's replica answers the same, without the freshness.
func TestRosterEntryProvenance(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	fed := hubtest.StartNode(t, h, "FED")
	mi := hubtest.StartNode(t, h, "MI")
	f := create(t, fed, fedNUCA)
	m := create(t, mi, miNUCA)
	syncNode(t, fed)
	syncNode(t, mi)
	mi.Fork(t, m, [2]string{"Lansing", "Detroit"})
	syncNode(t, mi)
	before := time.Now()
	v := revoke(t, h, "MI", mi.Key.KeyID(), before, map[string]string{"reason": "laptop lost"})
	revokedAt := keyOf(t, v, mi.Key.KeyID()).RevokedAt
	if revokedAt == nil {
		t.Fatalf("revocation answered %+v", v)
	}

	analyst := h.Token(t, auth.RoleAnalyst, "")
	var e hub.RosterEntry
	hubtest.GetJSON(t, h.URL+"/v1/roster/"+m.ID+"?as_of=2026-01-01", analyst, &e)
	var c hub.Conflict
	hubtest.GetJSON(t, h.URL+"/v1/conflicts/"+m.ID, analyst, &c)

	if !e.Conflict || e.Rev != c.WinningRev {
		t.Errorf("entry: rev %s conflict %v, want the conflict's winner %s", e.Rev, e.Conflict, c.WinningRev)
	}
	if p := e.Provenance; p.Kid != mi.Key.KeyID() || p.KeyRevokedAt == nil || !p.KeyRevokedAt.Equal(*revokedAt) || p.SignedAt.IsZero() || p.ReceivedAt.Before(p.SignedAt) {
		t.Errorf("provenance = %+v, want MI's key, flagged revoked at %s", p, revokedAt)
	}
	leaves := map[string]bool{}
	for _, l := range c.Leaves {
		leaves[l.Rev] = true
	}
	if len(e.Revisions) != 3 {
		t.Fatalf("revisions = %+v, want 3 (the first and two branches)", e.Revisions)
	}
	seqs := map[uint64]bool{}
	for i, r := range e.Revisions {
		if r.Kid != mi.Key.KeyID() || r.SignedAt.IsZero() || r.ReceivedAt.IsZero() || r.HubSeq == 0 || seqs[r.HubSeq] {
			t.Errorf("revision %s: kid %s signed %s received %s seq %d", r.Rev, r.Kid, r.SignedAt, r.ReceivedAt, r.HubSeq)
		}
		seqs[r.HubSeq] = true
		if r.KeyRevokedAt == nil || !r.KeyRevokedAt.Equal(*revokedAt) || r.ReceivedAt.After(*revokedAt) {
			t.Errorf("revision %s: key_revoked_at %v, received %s; want flagged, received before %s", r.Rev, r.KeyRevokedAt, r.ReceivedAt, revokedAt)
		}
		if r.Leaf != leaves[r.Rev] || r.Winner != (r.Rev == e.Rev) {
			t.Errorf("revision %s: leaf %v winner %v", r.Rev, r.Leaf, r.Winner)
		}
		if want := i == 2; (r.Rev == m.Rev) != want {
			t.Errorf("revision %d is %s; want the first revision %s last (newest first)", i, r.Rev, m.Rev)
		}
	}
	if len(e.Links) != 1 || e.Links[0].ID != hub.LinkID(f.ID, m.ID) || e.Links[0].State != wire.LinkProposed || len(e.Links[0].Discrepancies) == 0 {
		t.Errorf("links = %+v, want the proposed link to %s with its discrepancies", e.Links, f.ID)
	}
	if n := e.Node; n == nil || n.Checkpoint == 0 || n.LastPushAt == nil || n.LastPullAt == nil || n.Records != 1 {
		t.Errorf("node freshness = %+v, want MI's checkpoint, last push and pull, 1 record", n)
	}

	// The FED node's replica holds the same entry (the links it computes as the hub
	// does), without the owning node's freshness.
	syncNode(t, fed) // pulls the keys document that says MI's key was revoked
	var r hub.RosterEntry
	hubtest.GetJSON(t, fed.URL+"/v1/roster/"+m.ID+"?as_of=2026-01-01", fed.Token, &r)
	e.Node = nil
	if diff := cmp.Diff(e, r); diff != "" {
		t.Errorf("FED's replica entry differs (-hub +replica):\n%s", diff)
	}

	// A program token reads it too (the national roster); the revoked key's does not.
	if resp, body := hubtest.Do(t, http.MethodGet, h.URL+"/v1/roster/"+m.ID, fed.Token, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("FED's token: %d %s", resp.StatusCode, body)
	}
	resp, body := hubtest.Do(t, http.MethodGet, h.URL+"/v1/roster/"+m.ID, mi.Token, nil)
	wantProblem(t, resp, body, http.StatusUnauthorized, "unauthenticated")
}
