package hub

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestNameIndex: the matcher's look-up of a name key finds every record of every other
// program carrying it and none of the program's own, whatever codes sort around it;
// changing or dropping a record's keys takes it out of the old ones; a transaction that
// aborts leaves the index as the last commit left it, and one that commits keeps its
// changes.
func TestNameIndex(t *testing.T) {
	db, err := newStateDB(benchCatalog(t))
	if err != nil {
		t.Fatal(err)
	}
	const k = "w:american society safety professionals"
	programs := []string{"A", "MI", "MIX", "M", "NV", "ZZ"}
	carries := map[string][]string{} // record id -> keys, as committed
	write := func(commit bool, change func(ni *nameIndex, next map[string][]string)) {
		t.Helper()
		txn := db.Txn(true)
		ni, err := nameIndexOf(txn)
		if err != nil {
			t.Fatal(err)
		}
		next := map[string][]string{}
		for id, keys := range carries {
			next[id] = keys
		}
		change(ni, next)
		if commit {
			txn.Commit()
			carries = next
		} else {
			txn.Abort()
		}
	}
	check := func(when string) {
		t.Helper()
		txn := db.Txn(true)
		defer txn.Abort()
		ni, err := nameIndexOf(txn)
		if err != nil {
			t.Fatal(err)
		}
		for _, own := range append(slices.Clone(programs), "B", "MIXED") {
			for _, key := range []string{k, "i:assp", "w:nothing"} {
				got := ni.others(keyHash(key), own, nil)
				var want []string
				for id, keys := range carries {
					if !strings.HasPrefix(id, own+"-") && slices.Contains(keys, key) {
						want = append(want, id)
					}
				}
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Fatalf("%s: program %s, key %q: found %v, want %v", when, own, key, got, want)
				}
			}
		}
	}
	write(true, func(ni *nameIndex, next map[string][]string) {
		for _, p := range programs {
			for i := range 3 {
				id := fmt.Sprintf("%s-%d", p, i)
				keys := []string{k}
				if i == 2 {
					keys = append(keys, "i:assp")
				}
				ni.set(id, p, keyHashes(keys))
				next[id] = keys
			}
		}
	})
	check("after the first commit")

	// An aborted transaction: new records, changed keys, dropped ones; none of it stays,
	// and the next transaction (here check's) sees the last commit.
	write(false, func(ni *nameIndex, _ map[string][]string) {
		ni.set("NV-9", "NV", keyHashes([]string{k}))
		ni.set("MI-0", "MI", keyHashes([]string{"i:assp"}))
		ni.set("MI-0", "MI", keyHashes([]string{"w:nothing"}))
		ni.set("A-2", "", nil)
		ni.set("ZZ-1", "", nil)
	})
	check("after an abort")

	// A committed transaction of the same changes keeps them.
	write(true, func(ni *nameIndex, next map[string][]string) {
		ni.set("NV-9", "NV", keyHashes([]string{k}))
		next["NV-9"] = []string{k}
		ni.set("MI-0", "MI", keyHashes([]string{"w:nothing"}))
		next["MI-0"] = []string{"w:nothing"}
		ni.set("A-2", "", nil)
		delete(next, "A-2")
	})
	check("after the second commit")

	// Two aborts in a row, then a commit: still only the commits count.
	for range 2 {
		write(false, func(ni *nameIndex, _ map[string][]string) { ni.set("M-0", "", nil) })
	}
	write(true, func(ni *nameIndex, next map[string][]string) {
		ni.set("ZZ-0", "ZZ", keyHashes([]string{"i:assp"}))
		next["ZZ-0"] = []string{"i:assp"}
	})
	check("after aborts then a commit")
}
