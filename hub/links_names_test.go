package hub

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/go-memdb"
)

// TestOtherPrograms: the matcher's look-up of one name key finds every record of every
// other program holding it, and none of the program's own, whatever codes sort around
// it (a code that begins with another's, the first and the last in order), and whatever
// other keys the rows hold (rows after the key's own that hold it as well, rows holding
// a key that begins with it).
func TestOtherPrograms(t *testing.T) {
	db, err := memdb.NewMemDB(dbSchema())
	if err != nil {
		t.Fatal(err)
	}
	programs := []string{"A", "MI", "MIX", "M", "NV", "ZZ"}
	const k = "american society of safety professionals"
	type row struct {
		id   string
		keys []string
	}
	var rows []row
	for _, p := range programs {
		for i := range 3 {
			rows = append(rows, row{fmt.Sprintf("%s-%d", p, i), []string{k}})
		}
		// Rows under later keys that hold k as well, and ones under a key beginning
		// with k, or under other keys only.
		rows = append(rows,
			row{p + "-both", []string{k, "zeta"}},
			row{p + "-longer", []string{k + " inc"}},
			row{p + "-other", []string{"assp"}},
		)
	}
	txn := db.Txn(true)
	for _, r := range rows {
		p := r.id[:strings.IndexByte(r.id, '-')]
		if err := txn.Insert(tableLinkNames, &nameRow{ID: r.id, Keys: nameRowKeys(p, r.keys)}); err != nil {
			t.Fatal(err)
		}
	}
	txn.Commit()
	for _, own := range append(programs, "B", "MIXED", "ZZZ") {
		got, err := otherPrograms(db.Txn(false), k, own, nil)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, r := range rows {
			p := r.id[:strings.IndexByte(r.id, '-')]
			if p != own && slices.Contains(r.keys, k) {
				want = append(want, r.id)
			}
		}
		slices.Sort(got)
		got = slices.Compact(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("program %s: found\n%v\nwant\n%v", own, got, want)
		}
	}
}
