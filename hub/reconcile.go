package hub

import "github.com/alliancehub/alliancehub/hub/wire"

// revNode is what reconciliation needs to know of one stored revision.
type revNode struct {
	Rev      string
	Prev     string
	Gen      int
	Hash     string
	Deleted  bool     // a tombstone
	Resolves []string // competing revisions this one ends
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
//   - a revision some stored revision resolves (an ended branch arriving late) is stale
//     too;
//   - one that follows a leaf and resolves every other leaf is accepted: it ends the
//     conflict.
func decide(known []revNode, in revNode) wire.Outcome {
	prev := make(map[string]string, len(known))
	resolved := map[string]bool{}
	for _, k := range known {
		if k.Rev == in.Rev {
			return wire.Duplicate
		}
		prev[k.Rev] = k.Prev
		for _, r := range k.Resolves {
			resolved[r] = true
		}
	}
	if resolved[in.Rev] {
		return wire.Stale
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
	if len(in.Resolves) > 0 {
		ends := map[string]bool{in.Prev: true}
		for _, r := range in.Resolves {
			ends[r] = true
		}
		left := false
		for _, l := range leavesOf(known) {
			left = left || !ends[l.Rev]
		}
		if !left {
			return wire.Accepted
		}
	}
	return wire.Conflict
}

// leavesOf lists the revisions nothing follows and nothing resolves. Should resolutions
// close every branch (two revisions resolving each other), they are ignored, so a record
// always has a winner.
func leavesOf(known []revNode) []revNode {
	if out := open(known, true); len(out) > 0 {
		return out
	}
	return open(known, false)
}

func open(known []revNode, withResolves bool) []revNode {
	closed := make(map[string]bool, len(known))
	for _, k := range known {
		closed[k.Prev] = true
		for _, r := range k.Resolves {
			closed[r] = withResolves
		}
	}
	var out []revNode
	for _, k := range known {
		if !closed[k.Rev] {
			out = append(out, k)
		}
	}
	return out
}

// winner picks the revision the roster shows, deterministically on every server: among
// the leaves (revisions nothing follows or resolves), a live one over a tombstone (as
// CouchDB does: a deletion on one branch never hides an edit on another), then the
// highest generation, then the highest hash. leaves > 1 means the record is conflicted.
func winner(known []revNode) (win revNode, leaves int) {
	for _, k := range leavesOf(known) {
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
