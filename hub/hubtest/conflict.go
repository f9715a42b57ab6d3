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
	put := func(office string) {
		a.Office = office
		raw, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		resp, body := Request(t, http.MethodPut, nd.URL+"/v1/alliances/"+a.ID, nd.Token,
			http.Header{"If-Match": {`"` + a.Rev + `"`}, "Content-Type": {"application/json"}}, raw)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("put: %d %s", resp.StatusCode, body)
		}
	}
	nd.Reopen(t, func() { copyFile(store, backup) })
	put(offices[0])
	if _, err := nd.Sync(t.Context()); err != nil {
		t.Fatalf("sync: %v", err)
	}
	nd.Reopen(t, func() { copyFile(backup, store) })
	put(offices[1])
	if res, err := nd.Sync(t.Context()); err != nil || res.Conflict != 1 {
		t.Fatalf("sync = %+v, %v; want a conflict", res, err)
	}
}
