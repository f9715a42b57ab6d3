package hubtest

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/alliancehub/alliancehub/schema"
)

// Fork gives a, an Alliance of nd the hub already holds, two branches at the hub, as a
// node restored from an older backup and edited again does: the node's store is copied,
// a's office is set to offices[0] and synced, the copy is put back, and a's office is set
// to offices[1] and synced. The second sync reports the conflict, or the test fails.
func (nd *Node) Fork(t testing.TB, a schema.Alliance, offices [2]string) {
	t.Helper()
	put := func(office string) func() {
		return func() {
			a.Office = office
			nd.put(t, http.MethodPut, "/v1/alliances/"+a.ID, a.Rev, a)
		}
	}
	nd.ForkWith(t, [2]func(){put(offices[0]), put(offices[1])})
}

// ForkReport is Fork for r, a report of nd the hub already holds: its overview is set to
// overviews[0] on one branch and to overviews[1] on the other.
func (nd *Node) ForkReport(t testing.TB, r schema.Report, overviews [2]string) {
	t.Helper()
	put := func(overview string) func() {
		return func() {
			in := r
			in.ID, in.Rev, in.Overview = "", "", overview
			nd.put(t, http.MethodPost, "/v1/alliances/"+r.AllianceID+"/reports", r.Rev, in)
		}
	}
	nd.ForkWith(t, [2]func(){put(overviews[0]), put(overviews[1])})
}

// ForkWith makes the two branches of Fork with any two edits of one record the hub
// already holds: the node's store is copied, edits[0] is made and synced, the copy is
// put back, and edits[1] is made and synced. Each edit writes one revision through the
// node's API. The second sync reports the conflict, or the test fails.
func (nd *Node) ForkWith(t testing.TB, edits [2]func()) {
	t.Helper()
	store := filepath.Join(nd.Dir, journal.FileName)
	backup := filepath.Join(t.TempDir(), journal.FileName)
	copyFile := func(from, to string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	nd.Reopen(t, func() { copyFile(store, backup) })
	edits[0]()
	if _, err := nd.Sync(t.Context()); err != nil {
		t.Fatalf("sync: %v", err)
	}
	nd.Reopen(t, func() { copyFile(backup, store) })
	edits[1]()
	if res, err := nd.Sync(t.Context()); err != nil || res.Conflict != 1 {
		t.Fatalf("sync = %+v, %v; want a conflict", res, err)
	}
}

// put sends v as JSON to nd's path with If-Match rev and requires 200.
func (nd *Node) put(t testing.TB, method, path, rev string, v any) {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := Request(t, method, nd.URL+path, nd.Token,
		http.Header{"If-Match": {`"` + rev + `"`}, "Content-Type": {"application/json"}}, raw)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, body)
	}
}
