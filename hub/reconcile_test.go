package hub

import (
	"testing"

	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/hashicorp/go-memdb"
)

func TestSchemaBuilds(t *testing.T) {
	if _, err := memdb.NewMemDB(dbSchema()); err != nil {
		t.Fatalf("memdb schema: %v", err)
	}
}

func rn(rev, prev string) revNode {
	gen := int(rev[0] - '0')
	return revNode{Rev: rev, Prev: prev, Gen: gen, Hash: rev[2:]}
}

func TestDecide(t *testing.T) {
	a1 := rn("1-aa", "")
	a2 := rn("2-bb", "1-aa")
	a3 := rn("3-cc", "2-bb")
	b2 := rn("2-ff", "1-aa") // a competing second revision
	cases := []struct {
		name  string
		known []revNode
		in    revNode
		want  wire.Outcome
	}{
		{"first revision", nil, a1, wire.Accepted},
		{"fast-forward", []revNode{a1}, a2, wire.Accepted},
		{"same revision again", []revNode{a1, a2}, a2, wire.Duplicate},
		{"ancestor of the stored revision", []revNode{a1, a2, a3}, a1, wire.Duplicate},
		// The hub holds rev 3 (whose parent it never saw); rev 2 arriving late is stale.
		{"late ancestor never stored", []revNode{a1, a3}, a2, wire.Stale},
		{"competing branch", []revNode{a1, a2}, b2, wire.Conflict},
		{"a second first revision", []revNode{a1}, rn("1-dd", ""), wire.Conflict},
		{"follows a losing branch", []revNode{a1, a2, b2}, rn("3-00", "2-bb"), wire.Conflict},
		{"follows the winner", []revNode{a1, a2, b2}, rn("3-00", "2-ff"), wire.Accepted},
		// The owner ends a conflict from the losing branch by naming the winner.
		{"follows a loser, resolves the rest", []revNode{a1, a2, b2}, resolving(rn("3-00", "2-bb"), "2-ff"), wire.Accepted},
		{"resolves only some of the other leaves", []revNode{a1, a2, b2, rn("2-01", "1-aa")}, resolving(rn("3-00", "2-bb"), "2-ff"), wire.Conflict},
		{"a resolved branch arriving late", []revNode{a1, a2, resolving(rn("3-00", "2-bb"), "2-ff")}, b2, wire.Stale},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := decide(tc.known, tc.in); got != tc.want {
				t.Errorf("decide = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestWinner(t *testing.T) {
	a1 := rn("1-aa", "")
	cases := []struct {
		name       string
		known      []revNode
		want       string
		wantLeaves int
	}{
		{"single", []revNode{a1}, "1-aa", 1},
		{"linear", []revNode{a1, rn("2-bb", "1-aa")}, "2-bb", 1},
		{"higher generation wins", []revNode{a1, rn("2-bb", "1-aa"), rn("2-cc", "1-aa"), rn("3-01", "2-bb")}, "3-01", 2},
		{"same generation: higher hash wins", []revNode{a1, rn("2-cc", "1-aa"), rn("2-bb", "1-aa")}, "2-cc", 2},
		{"order of arrival does not matter", []revNode{rn("2-bb", "1-aa"), rn("2-cc", "1-aa"), a1}, "2-cc", 2},
		// Rev 3 arrived before rev 2: two leaves until rev 2 (stale, but stored) closes
		// the gap into one line.
		{"a gap is two leaves", []revNode{a1, rn("3-cc", "2-bb")}, "3-cc", 2},
		{"a filled gap is one line", []revNode{a1, rn("3-cc", "2-bb"), rn("2-bb", "1-aa")}, "3-cc", 1},
		// A draft deleted on one replica and edited on another: the edit shows (a live
		// leaf wins over a tombstone, as in CouchDB), and the record is conflicted.
		{"live beats a tombstone of a higher generation", []revNode{a1, rn("2-bb", "1-aa"), tomb("3-ff", "2-bb"), rn("2-00", "1-aa")}, "2-00", 2},
		{"a lone tombstone wins", []revNode{a1, tomb("2-bb", "1-aa")}, "2-bb", 1},
		{"two tombstones: higher generation", []revNode{a1, tomb("2-bb", "1-aa"), rn("2-cc", "1-aa"), tomb("3-00", "2-cc")}, "3-00", 2},
		{"a resolution ends the conflict", []revNode{a1, rn("2-bb", "1-aa"), rn("2-ff", "1-aa"), resolving(rn("3-00", "2-bb"), "2-ff")}, "3-00", 1},
		// The resolved revision arrives after the resolution: it is no leaf either.
		{"resolved before it arrived", []revNode{a1, resolving(rn("3-00", "2-bb"), "2-ff"), rn("2-bb", "1-aa"), rn("2-ff", "1-aa")}, "3-00", 1},
		{"two branches resolving each other still have a winner", []revNode{a1, resolving(rn("2-bb", "1-aa"), "2-ff"), resolving(rn("2-ff", "1-aa"), "2-bb")}, "2-ff", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, leaves := winner(tc.known)
			if got.Rev != tc.want || leaves != tc.wantLeaves {
				t.Errorf("winner = %s with %d leaves, want %s with %d", got.Rev, leaves, tc.want, tc.wantLeaves)
			}
		})
	}
}

func resolving(n revNode, revs ...string) revNode {
	n.Resolves = revs
	return n
}

func tomb(rev, prev string) revNode {
	n := rn(rev, prev)
	n.Deleted = true
	return n
}
