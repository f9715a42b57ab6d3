package hub

import "github.com/alliancehub/alliancehub/hub/wire"

// revNode is what reconciliation needs to know of one stored revision.
type revNode struct {
	Rev     string
	Prev    string
	Gen     int
	Hash    string
	Deleted bool // a tombstone
}

// decide says what to do with an incoming revision of a record, given the revisions
// already stored for it (CouchDB-style revision trees, DESIGN.md "Conflicts"):
//   - a revision already stored is a duplicate;
//   - an ancestor of a stored revision is stale: it never regresses the roster, but it is
//     stored, so a history that arrived out of order (rev 3 before rev 2) closes up into
//     one line again instead of staying a false conflict;
//   - the first revision, or one that follows the current winner, is accepted;
//   - anything else is a competing branch: stored and marked as a conflict, never
//     silently dropped or allowed to overwrite.
func decide(known []revNode, in revNode) wire.Outcome {
	prev := make(map[string]string, len(known))
	for _, k := range known {
		if k.Rev == in.Rev {
			return wire.Duplicate
		}
		prev[k.Rev] = k.Prev
	}
	for _, k := range known {
		for r := k.Prev; r != ""; r = prev[r] {
			if r == in.Rev {
				return wire.Stale
			}
			if _, ok := prev[r]; !ok {
				break
			}
		}
	}
	if len(known) == 0 {
		return wire.Accepted
	}
	if win, _ := winner(known); in.Prev == win.Rev {
		return wire.Accepted
	}
	return wire.Conflict
}

// winner picks the revision the roster shows, deterministically on every server: among
// the leaves (revisions nothing follows), a live one over a tombstone (as CouchDB does:
// a deletion on one branch never hides an edit on another), then the highest
// generation, then the highest hash. leaves > 1 means the record is conflicted.
func winner(known []revNode) (win revNode, leaves int) {
	followed := make(map[string]bool, len(known))
	for _, k := range known {
		followed[k.Prev] = true
	}
	for _, k := range known {
		if followed[k.Rev] {
			continue
		}
		leaves++
		better := k.Gen > win.Gen || (k.Gen == win.Gen && k.Hash > win.Hash)
		if k.Deleted != win.Deleted {
			better = win.Deleted
		}
		if leaves == 1 || better {
			win = k
		}
	}
	return win, leaves
}

// stores reports whether a revision with this outcome is kept. Everything verified and
// new is kept; only exact duplicates are not.
func stores(o wire.Outcome) bool {
	return o == wire.Accepted || o == wire.Conflict || o == wire.Stale
}
