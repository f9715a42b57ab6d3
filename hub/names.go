package hub

import (
	"slices"

	"github.com/hashicorp/go-memdb"
)

// The matcher's name index (links.go): which linkable Alliances carry each participant
// name key, by program. Only reconciliation reads it, and only inside the one write
// transaction there is at a time; roster queries read the links it leads to, never the
// index. So it is not kept in memdb's radix trees, where its keys were some six leaves
// a record, the largest part of what an ingest transaction wrote, and where a batch's
// keys went past the 8,192 changed nodes beyond which memdb compares the whole tree at
// every commit (issue 7). It is a plain map, changed in place by the write transaction
// that holds memdb's writer lock, with an undo log: a transaction that commits clears
// the log (memdb's Txn.Defer); one that aborts leaves it, and the next write
// transaction to use the index rolls it back first. Between the two nobody reads it.

// tableNameIndex holds one row, the name index (nameIndexRow).
const tableNameIndex = "name_index"

type nameIndexRow struct {
	ID    string // "names"
	index *nameIndex
}

// nameIndex maps name keys to the records carrying them.
type nameIndex struct {
	byKey map[string]map[string]map[string]struct{} // key -> program -> record ids
	byID  map[string]nameEntry                      // record id -> what it carries

	txn  *memdb.Txn // the write transaction whose changes undo holds
	undo []nameUndo // what set replaced, oldest first
}

type nameEntry struct {
	program string
	keys    []string
}

type nameUndo struct {
	id   string
	had  bool
	prev nameEntry
}

// nameIndexOf is the name index as txn, a write transaction, may use and change it:
// an aborted transaction's changes rolled back, this one's recorded for its own abort.
func nameIndexOf(txn *memdb.Txn) (*nameIndex, error) {
	raw, err := txn.First(tableNameIndex, indexID, "names")
	if err != nil {
		return nil, err
	}
	if raw == nil {
		row := &nameIndexRow{ID: "names", index: &nameIndex{
			byKey: map[string]map[string]map[string]struct{}{}, byID: map[string]nameEntry{}}}
		if err := txn.Insert(tableNameIndex, row); err != nil {
			return nil, err
		}
		raw = row
	}
	ni := raw.(*nameIndexRow).index
	if ni.txn != txn {
		ni.rollback()
		ni.txn = txn
		txn.Defer(func() { ni.undo, ni.txn = ni.undo[:0], nil })
	}
	return ni, nil
}

// rollback undoes the changes of a transaction that did not commit.
func (ni *nameIndex) rollback() {
	for i := len(ni.undo) - 1; i >= 0; i-- {
		u := ni.undo[i]
		if u.had {
			ni.put(u.id, u.prev.program, u.prev.keys)
		} else {
			ni.put(u.id, "", nil)
		}
	}
	ni.undo = ni.undo[:0]
}

// set makes keys (none: nothing) what record id of program carries.
func (ni *nameIndex) set(id, program string, keys []string) {
	prev, had := ni.byID[id]
	if !had && len(keys) == 0 {
		return
	}
	ni.undo = append(ni.undo, nameUndo{id: id, had: had, prev: prev})
	ni.put(id, program, keys)
}

func (ni *nameIndex) put(id, program string, keys []string) {
	if prev, ok := ni.byID[id]; ok {
		for _, k := range prev.keys {
			progs := ni.byKey[k]
			delete(progs[prev.program], id)
			if len(progs[prev.program]) == 0 {
				delete(progs, prev.program)
			}
			if len(progs) == 0 {
				delete(ni.byKey, k)
			}
		}
		delete(ni.byID, id)
	}
	if len(keys) == 0 {
		return
	}
	ni.byID[id] = nameEntry{program: program, keys: slices.Clone(keys)}
	for _, k := range keys {
		progs := ni.byKey[k]
		if progs == nil {
			progs = map[string]map[string]struct{}{}
			ni.byKey[k] = progs
		}
		ids := progs[program]
		if ids == nil {
			ids = map[string]struct{}{}
			progs[program] = ids
		}
		ids[id] = struct{}{}
	}
}

// others appends to ids the records of programs other than program that carry key k:
// a program's own records, which never link with one another, are never read, however
// many there are.
func (ni *nameIndex) others(k, program string, ids []string) []string {
	for p, set := range ni.byKey[k] {
		if p == program {
			continue
		}
		for id := range set {
			ids = append(ids, id)
		}
	}
	return ids
}
