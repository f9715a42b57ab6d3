package hub

import (
	"hash/maphash"
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

// nameIndex maps name keys to the records carrying them. Keys are held as 64-bit hashes
// (keyHash), a fifth of the memory of the strings in maps of maps they were (issue 7):
// two keys that share a hash only make the matcher compare two more records, whose
// names it then compares in full (compareAlliances), so a collision never makes a link.
type nameIndex struct {
	byKey map[uint64][]nameRef // key hash -> the records carrying the key
	byID  map[string]nameEntry // record id -> what it carries

	txn  *memdb.Txn // the write transaction whose changes undo holds
	undo []nameUndo // what set replaced, oldest first
}

// nameRef is a record carrying a key: its id and program.
type nameRef struct{ id, program string }

type nameEntry struct {
	program string
	keys    []uint64
}

type nameUndo struct {
	id   string
	had  bool
	prev nameEntry
}

// nameSeed seeds keyHash: the index lives in memory only, so any seed will do.
var nameSeed = maphash.MakeSeed()

// keyHash is the hash the name index holds a name key (schema.NameKeys) by.
func keyHash(k string) uint64 { return maphash.String(nameSeed, k) }

// keyHashes are the hashes of keys, in their order.
func keyHashes(keys []string) []uint64 {
	hs := make([]uint64, len(keys))
	for i, k := range keys {
		hs[i] = keyHash(k)
	}
	return hs
}

// nameIndexOf is the name index as txn, a write transaction, may use and change it:
// an aborted transaction's changes rolled back, this one's recorded for its own abort.
func nameIndexOf(txn *memdb.Txn) (*nameIndex, error) {
	raw, err := txn.First(tableNameIndex, indexID, "names")
	if err != nil {
		return nil, err
	}
	if raw == nil {
		row := &nameIndexRow{ID: "names", index: &nameIndex{byKey: map[uint64][]nameRef{}, byID: map[string]nameEntry{}}}
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

// set makes the keys with hashes keys (none: nothing) what record id of program
// carries.
func (ni *nameIndex) set(id, program string, keys []uint64) {
	prev, had := ni.byID[id]
	if !had && len(keys) == 0 {
		return
	}
	if had && prev.program == program && slices.Equal(prev.keys, keys) {
		return // the revision changed nothing the matcher reads
	}
	ni.undo = append(ni.undo, nameUndo{id: id, had: had, prev: prev})
	ni.put(id, program, keys)
}

func (ni *nameIndex) put(id, program string, keys []uint64) {
	if prev, ok := ni.byID[id]; ok {
		for _, k := range prev.keys {
			refs := ni.byKey[k]
			if i := slices.IndexFunc(refs, func(r nameRef) bool { return r.id == id }); i >= 0 {
				refs[i] = refs[len(refs)-1]
				refs[len(refs)-1] = nameRef{}
				refs = refs[:len(refs)-1]
			}
			if len(refs) == 0 {
				delete(ni.byKey, k)
			} else {
				ni.byKey[k] = refs
			}
		}
		delete(ni.byID, id)
	}
	if len(keys) == 0 {
		return
	}
	ni.byID[id] = nameEntry{program: program, keys: slices.Clip(slices.Clone(keys))}
	for _, k := range keys {
		ni.byKey[k] = append(ni.byKey[k], nameRef{id: id, program: program})
	}
}

// others appends to ids the records of programs other than program that carry the key
// with hash k.
func (ni *nameIndex) others(k uint64, program string, ids []string) []string {
	for _, r := range ni.byKey[k] {
		if r.program != program {
			ids = append(ids, r.id)
		}
	}
	return ids
}
