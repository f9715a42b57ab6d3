package hub_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/alliancehub/alliancehub/node"
	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

// backstopSync runs a sync with the digest backstop and returns the run's status.
func backstopSync(t *testing.T, n *hubtest.Node) *node.SyncStatus {
	t.Helper()
	resp, body := hubtest.Do(t, http.MethodPost, n.URL+"/v1/sync?backstop=true", n.Token, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sync: %d %s", resp.StatusCode, body)
	}
	var st node.SyncStatus
	hubtest.GetJSON(t, n.URL+"/v1/sync/status", n.Token, &st)
	if st.LastRun == nil || st.LastRun.Result.Error != "" || st.LastRun.Backstop == nil {
		t.Fatalf("backstop run: %s; status %+v", body, st.LastRun)
	}
	return &st
}

// sameRoster fails unless the node's replica answers as the hub does.
func sameRoster(t *testing.T, h *hubtest.Hub, n *hubtest.Node, wantTotal int) {
	t.Helper()
	var want hub.RosterPage
	hubtest.GetJSON(t, h.URL+"/v1/roster?limit=1000", h.Token(t, auth.RoleAnalyst, ""), &want)
	got := nodeRoster(t, n, "?limit=1000")
	got.Replica = nil
	if want.Total != wantTotal {
		t.Errorf("hub roster total = %d, want %d", want.Total, wantTotal)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s replica differs from the hub (-hub +node):\n%s", n.Program().Code, diff)
	}
}

// TestBackstopRepairsReplica: changes deleted from a node's replica on disk are found by
// the digest comparison and fetched back, only they; nothing else moves.
func TestBackstopRepairsReplica(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	nv := hubtest.StartNode(t, h, "NV")
	for i := range 30 {
		create(t, nv, fmt.Sprintf(`{"participants":[{"name":"Nevada Partner %d"}],"goals":[{"category":"training-education"}],"signed_on":"2025-01-15"}`, i))
	}
	create(t, mi, miAGC)
	syncNode(t, nv)
	syncNode(t, mi)
	if st := backstopSync(t, mi); st.LastRun.Backstop.ReplicaFetched != 0 || st.LastRun.Backstop.Repushed != 0 {
		t.Fatalf("backstop with nothing wrong = %+v", st.LastRun.Backstop)
	}

	// Damage MI's replica: forget changes 3, 7 and 20 as if they had never been pulled.
	mi.Reopen(t, func() {
		db, err := bolt.Open(filepath.Join(mi.Dir, journal.FileName), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte("replica"))
			for _, seq := range []uint64{3, 7, 20} {
				if err := b.Delete(fmt.Appendf(nil, "%020d", seq)); err != nil {
					return err
				}
			}
			return nil
		})
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
	})
	if got := nodeRoster(t, mi, ""); got.Total != 28 {
		t.Fatalf("damaged replica total = %d, want 28", got.Total)
	}
	st := backstopSync(t, mi)
	if b := st.LastRun.Backstop; b.ReplicaFetched != 3 || b.ReplicaRebuilt || b.Repushed != 0 || st.LastRun.Result.Pulled != 0 {
		t.Errorf("backstop = %+v, pulled %d; want exactly the 3 missing changes fetched", b, st.LastRun.Result.Pulled)
	}
	sameRoster(t, h, mi, 31)
	mi.Restart(t) // the repair is durable
	sameRoster(t, h, mi, 31)
}

// TestBackstopAfterHubRestore: the hub is restored from a backup older than what a node
// pushed since. The node's next pull sees the feed went back and rebuilds its replica;
// the backstop finds the revisions the hub lost and sends only them again.
func TestBackstopAfterHubRestore(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	create(t, mi, miAGC)
	syncNode(t, mi)
	backup := t.TempDir()
	h.Reopen(t, func() { copyFile(t, filepath.Join(h.Dir, journal.FileName), filepath.Join(backup, journal.FileName)) })
	for i := range 5 {
		create(t, mi, fmt.Sprintf(`{"participants":[{"name":"Michigan Partner %d"}],"goals":[{"category":"outreach-communication"}],"signed_on":"2025-03-01"}`, i))
	}
	syncNode(t, mi)
	h.Reopen(t, func() { copyFile(t, filepath.Join(backup, journal.FileName), filepath.Join(h.Dir, journal.FileName)) })

	st := backstopSync(t, mi)
	if b := st.LastRun.Backstop; b.Repushed != 5 || len(b.HubOnly) != 0 {
		t.Errorf("backstop = %+v, want the 5 lost revisions sent again", b)
	}
	sameRoster(t, h, mi, 6)
	if st := backstopSync(t, mi); st.LastRun.Backstop.Repushed != 0 || st.LastRun.Backstop.ReplicaFetched != 0 {
		t.Errorf("second backstop = %+v, want nothing left to repair", st.LastRun.Backstop)
	}
}

// TestBackstopReportsNodeRestore: a node restored from an older backup does not hold
// revisions the hub has; the backstop names them and rewrites nothing.
func TestBackstopReportsNodeRestore(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	create(t, mi, miAGC)
	syncNode(t, mi)
	backup := t.TempDir()
	mi.Reopen(t, func() { copyFile(t, filepath.Join(mi.Dir, journal.FileName), filepath.Join(backup, journal.FileName)) })
	farm := create(t, mi, miFarm)
	syncNode(t, mi)
	mi.Reopen(t, func() { copyFile(t, filepath.Join(backup, journal.FileName), filepath.Join(mi.Dir, journal.FileName)) })
	st := backstopSync(t, mi)
	b := st.LastRun.Backstop
	if len(b.HubOnly) != 1 || b.HubOnly[0].ID != farm.ID || b.Repushed != 0 {
		t.Errorf("backstop = %+v, want %s named as held only by the hub", b, farm.ID)
	}
	sameRoster(t, h, mi, 2) // the replica still shows it
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	raw, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, raw, 0o600); err != nil {
		t.Fatal(err)
	}
}
