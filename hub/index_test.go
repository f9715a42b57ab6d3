package hub

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-memdb"
)

// TestTimeline: the standing timeline the index keeps says what Alliance.Standing says,
// on every day near the days it may change and on random ones.
func TestTimeline(t *testing.T) {
	cat := benchCatalog(t)
	r := rand.New(rand.NewPCG(1, 2))
	fed, _ := cat.Get("FED")
	var alliances []*schema.Alliance
	for range 2000 {
		code := "FED"
		if r.IntN(2) == 0 {
			code = benchStatePlans[r.IntN(len(benchStatePlans))]
		}
		def, _ := cat.Get(code)
		alliances = append(alliances, benchAlliance(r, def))
	}
	// The odd cases: partial and missing dates, a concluded Ambassador, a termination
	// without an effective date, a conclusion after today.
	odd := []func(a *schema.Alliance){
		func(a *schema.Alliance) {
			a.Status, a.ConcludedOn, a.AmbassadorOn = schema.StatusConcluded, schema.MustDate("2027-05"), schema.MustDate("2020")
		},
		func(a *schema.Alliance) { a.Status, a.ConcludedOn = schema.StatusConcluded, schema.Date{} },
		func(a *schema.Alliance) { a.Status, a.AmbassadorOn = schema.StatusAmbassador, schema.Date{} },
		func(a *schema.Alliance) {
			a.Status, a.AmbassadorOn = schema.StatusAmbassador, schema.MustDate("2030-02-28")
		},
		func(a *schema.Alliance) { a.Status, a.Termination = schema.StatusTerminated, &schema.Termination{} },
		func(a *schema.Alliance) { a.Status, a.Termination = schema.StatusTerminated, nil },
		func(a *schema.Alliance) {
			a.Status, a.Termination = schema.StatusTerminated, &schema.Termination{EffectiveOn: schema.MustDate("2026-07")}
		},
		func(a *schema.Alliance) { a.ExpiresOn = schema.MustDate("2026") },
		func(a *schema.Alliance) { a.ExpiresOn = schema.Date{} },
		func(a *schema.Alliance) { a.Status = "unheard-of" },
	}
	for _, f := range odd {
		a := benchAlliance(r, fed)
		f(a)
		alliances = append(alliances, a)
	}
	for _, a := range alliances {
		tl := timelineOf(a)
		days := []int32{-800_000, 0, dayNum(benchToday.First()), 3_000_000}
		for i := range int(tl.n) {
			days = append(days, tl.from[i]-1, tl.from[i], tl.from[i]+1)
		}
		for _, d := range []schema.Date{a.ExpiresOn, a.ConcludedOn, a.AmbassadorOn, a.SignedOn} {
			for _, t := range []time.Time{d.First(), d.Last()} {
				for _, delta := range []int32{-91, -90, -89, -1, 0, 1} {
					days = append(days, dayNum(t)+delta)
				}
			}
		}
		for range 20 {
			days = append(days, dayNum(benchToday.First())+int32(r.IntN(20000))-15000)
		}
		for _, d := range days {
			if got, want := standingCodes[tl.at(d)], a.Standing(dayDate(d)); got != want {
				t.Fatalf("%+v on %s: timeline says %s, Standing %s", a, dayDate(d), got, want)
			}
		}
	}
}

// TestDateRank: date ranks sort as the dates' text does and write it back.
func TestDateRank(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var dates []schema.Date
	dates = append(dates, schema.Date{})
	for range 3000 {
		d := schema.Date{Year: 1970 + r.IntN(60)}
		if r.IntN(4) > 0 {
			d.Month = 1 + r.IntN(12)
			if r.IntN(3) > 0 {
				d.Day = 1 + r.IntN(28)
			}
		}
		dates = append(dates, d)
	}
	for _, a := range dates {
		ra, ok := dateRank(a)
		if !ok || string(appendRank(nil, ra)) != a.String() {
			t.Fatalf("rank of %q: %d %v, written %q", a, ra, ok, appendRank(nil, ra))
		}
		for range 5 {
			b := dates[r.IntN(len(dates))]
			rb, _ := dateRank(b)
			if got, want := cmpUint(ra, rb), strings.Compare(a.String(), b.String()); got != want {
				t.Fatalf("%q vs %q: ranks compare %d, text %d", a, b, got, want)
			}
		}
	}
}

// TestCmpJoined: comparing a cursor's parts is comparing its text.
func TestCmpJoined(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	alphabet := "ab-\x00z"
	str := func() string {
		b := make([]byte, r.IntN(5))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(b)
	}
	for range 100_000 {
		key, id, s := strings.ReplaceAll(str(), "\x00", ""), str(), str()
		if r.IntN(3) == 0 {
			s = key + s
		}
		if got, want := cmpJoined(key, id, s), strings.Compare(key+"\x00"+id, s); got != want {
			t.Fatalf("cmpJoined(%q, %q, %q) = %d, want %d", key, id, s, got, want)
		}
	}
}

// indexFixture is a database whose roster went through every kind of write: new
// Alliances and reports, edits that move them in every order and filter, conflicting
// branches, deleted drafts, and transactions that were aborted.
type indexFixture struct {
	db      *memdb.MemDB
	catalog *schema.Catalog
	r       *rand.Rand
	heads   map[string]*revision // the last revision written of each record
	ids     []string
	seq     uint64
}

func newIndexFixture(t *testing.T) *indexFixture {
	t.Helper()
	cat := benchCatalog(t)
	db, err := newStateDB(cat)
	if err != nil {
		t.Fatal(err)
	}
	txn := db.Txn(true)
	for _, code := range cat.Codes() {
		if err := txn.Insert(tablePrograms, &programState{Code: code}); err != nil {
			t.Fatal(err)
		}
	}
	txn.Commit()
	return &indexFixture{db: db, catalog: cat, r: rand.New(rand.NewPCG(7, 8)), heads: map[string]*revision{}}
}

// write applies n random revisions in one transaction, and commits it unless abort.
func (f *indexFixture) write(t *testing.T, n int, abort bool) {
	t.Helper()
	r := f.r
	txn := f.db.Txn(true)
	defer txn.Abort()
	heads := map[string]*revision{}
	for range n {
		f.seq++
		var rv *revision
		if len(f.ids) == 0 || r.IntN(3) == 0 {
			code := "FED"
			if r.IntN(2) == 0 {
				code = []string{"MI", "NV", "CA", "WA"}[r.IntN(4)]
			}
			def, _ := f.catalog.Get(code)
			a := benchAlliance(r, def)
			switch r.IntN(10) {
			case 0:
				a.Participants = nil // no participant: sorts first by participant
			case 1, 2: // a name other programs' records have too: a link
				a.Participants = []schema.Participant{{Name: []string{"Zeta Union", "Alpha Guild", "Mid Roofing Chapter 9"}[r.IntN(3)]}}
			}
			rv = &revision{RecordID: a.ID, Program: a.Program, Gen: 1, Kind: schema.KindAlliance, Alliance: a}
			f.ids = append(f.ids, a.ID)
		} else {
			id := f.ids[r.IntN(len(f.ids))]
			head := heads[id]
			if head == nil {
				head = f.heads[id]
			}
			if head != nil && head.Report != nil { // a report's next revision
				rp := *head.Report
				rp.Meetings = append(slices.Clip(rp.Meetings), schema.Meeting{HeldOn: benchToday.AddDays(-r.IntN(800))})
				rv = &revision{RecordID: id, Program: head.Program, Prev: head.Rev, Gen: head.Gen + 1, Kind: schema.KindReport, Report: &rp}
				rv.Hash = fmt.Sprintf("%064x", r.Uint64())
				rv.Rev = fmt.Sprintf("%d-%s", rv.Gen, rv.Hash)
				rp.Rev = rv.Rev
				rv.HubSeq, rv.Kid = f.seq, "k"
				if _, err := applyTxn(txn, rv); err != nil {
					t.Fatal(err)
				}
				heads[id] = rv
				continue
			}
			if head == nil || head.Alliance == nil {
				continue // deleted, or written in an aborted transaction
			}
			prev := head
			if r.IntN(8) == 0 && head.Gen > 1 {
				prev = &revision{Rev: head.Prev, Gen: head.Gen - 1} // a competing branch
			}
			rv = &revision{RecordID: id, Program: head.Program, Prev: prev.Rev, Gen: prev.Gen + 1, Kind: schema.KindAlliance}
			if head.Alliance.Status == schema.StatusDraft && r.IntN(3) == 0 {
				rv.Kind = schema.KindTombstone
			} else {
				a := *head.Alliance
				def, _ := f.catalog.Get(a.Program)
				f.edit(&a, def)
				rv.Alliance = &a
			}
		}
		rv.Hash = fmt.Sprintf("%064x", r.Uint64())
		rv.Rev = fmt.Sprintf("%d-%s", rv.Gen, rv.Hash)
		if rv.Alliance != nil {
			rv.Alliance.Rev = rv.Rev
		}
		rv.HubSeq, rv.Kid = f.seq, "k"
		rv.ReceivedAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		if _, err := applyTxn(txn, rv); err != nil {
			t.Fatal(err)
		}
		if err := relinkTxn(txn, rv.RecordID); err != nil { // as ingest does: links are in the items
			t.Fatal(err)
		}
		heads[rv.RecordID] = rv
		if rv.Alliance != nil && r.IntN(5) == 0 && !rv.Alliance.SignedOn.IsZero() {
			rp := benchReport(r, rv.Alliance)
			rp.Rev = fmt.Sprintf("1-%064x", r.Uint64())
			if _, ok := f.heads[rp.ID]; !ok && heads[rp.ID] == nil {
				rrv := &revision{RecordID: rp.ID, Program: rp.Program, Rev: rp.Rev, Gen: 1, Hash: rp.Rev[2:], Kind: schema.KindReport, Report: rp}
				if _, err := applyTxn(txn, rrv); err != nil {
					t.Fatal(err)
				}
				heads[rp.ID] = rrv
				f.ids = append(f.ids, rp.ID)
			}
		}
	}
	if abort {
		return
	}
	txn.Commit()
	for id, rv := range heads {
		f.heads[id] = rv
	}
}

// edit changes what the roster filters and sorts by.
func (f *indexFixture) edit(a *schema.Alliance, def *schema.Program) {
	r := f.r
	switch r.IntN(8) {
	case 0:
		a.Status = []schema.Status{schema.StatusActive, schema.StatusRenewed, schema.StatusConcluded, schema.StatusTerminated, schema.StatusAmbassador, schema.StatusDraft}[r.IntN(6)]
		a.ConcludedOn, a.AmbassadorOn, a.Termination = schema.Date{}, schema.Date{}, nil
		if a.Status == schema.StatusTerminated {
			a.Termination = &schema.Termination{NoticeOn: benchToday.AddDays(r.IntN(400) - 200)}
		}
	case 1:
		a.Renewals = append(slices.Clip(a.Renewals), schema.Renewal{SignedOn: a.ExpiresOn, TermMonths: 24 + r.IntN(37)})
	case 2:
		a.Level = def.Levels[r.IntN(len(def.Levels))]
	case 3:
		a.Goals = []schema.Goal{{Category: def.Categories[r.IntN(len(def.Categories))].Code}}
	case 4:
		a.Participants = []schema.Participant{{Name: []string{"Zeta Union", "alpha guild", "Alpha Guild", "Mid Roofing Chapter 9", ""}[r.IntN(5)]}}
	case 5:
		a.SignedOn = benchToday.AddDays(-r.IntN(9000))
		if r.IntN(4) == 0 {
			a.SignedOn.Day = 0
		}
	case 6:
		a.TermMonths = 12 + r.IntN(48)
	}
	a.Normalize(def)
}

// randomQuery draws a roster query over every filter, order and page size.
func (f *indexFixture) randomQuery() RosterQuery {
	r := f.r
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	q := RosterQuery{
		Program:  pick("", "", "FED", "MI", "NV", "CA", "ZZ"),
		Level:    schema.Level(pick("", "", "", "national", "regional", "area", "state")),
		Status:   schema.Status(pick("", "", "", "active", "renewed", "concluded", "terminated", "ambassador", "draft")),
		Standing: schema.Standing(pick("", "", "active", "expiring", "expired", "concluded", "terminated", "ambassador", "draft")),
		Category: pick("", "", "training", "outreach", "awareness", "dialogue", "nonesuch"),
		Q:        pick("", "", "", "roof", "CHAPTER 1", "guild", "zzz"),
		Sort:     pick("", "id", "-id", "program", "-program", "participant", "-participant", "signed_on", "-signed_on", "expires_on", "-expires_on"),
		Limit:    []int{0, 1, 3, 50}[r.IntN(4)],
		AsOf:     benchToday.AddDays(r.IntN(6000) - 4000),
	}
	switch r.IntN(3) {
	case 0:
		q.AsOf = benchToday
	case 1: // a day some record's standing changes on
		for range 20 {
			if rv := f.heads[f.ids[r.IntN(len(f.ids))]]; rv != nil && rv.Alliance != nil {
				if tl := timelineOf(rv.Alliance); tl.n > 0 {
					i := r.IntN(int(tl.n))
					q.AsOf = dayDate(tl.from[i] + int32(r.IntN(3)) - 1)
					if r.IntN(2) == 0 { // just the standing it changes to or from
						q = RosterQuery{Standing: standingCodes[tl.st[i+r.IntN(2)]], AsOf: q.AsOf, Sort: q.Sort, Limit: q.Limit}
					}
					break
				}
			}
		}
	}
	return q
}

// pages reads the first 6 pages of q.
func pages(t *testing.T, h *rosterView, q RosterQuery) []byte {
	t.Helper()
	var out bytes.Buffer
	for range 6 {
		p, err := h.Roster(q)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(p)
		out.Write(b)
		out.WriteByte('\n')
		if p.NextPageToken == "" || q.Limit == 0 {
			return out.Bytes()
		}
		q.Token = p.NextPageToken
	}
	return out.Bytes()
}

// TestRosterIndexMatchesScan: answered from the index, every roster query gives, byte
// for byte, the pages and the CSV that reading every entry gives, after every kind of
// write, for page tokens it issued and for ones it never did.
func TestRosterIndexMatchesScan(t *testing.T) {
	f := newIndexFixture(t)
	indexed := &rosterView{db: f.db, catalog: f.catalog}
	scanned := &rosterView{db: f.db, catalog: f.catalog, scan: true}
	pulled := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	info := func() *ReplicaInfo { return &ReplicaInfo{AppliedSeq: 7, HubHeadSeq: 9, PulledAt: &pulled} }
	r := f.r
	check := func(round int) {
		for i := range 24 {
			q := f.randomQuery()
			want, got := pages(t, scanned, q), pages(t, indexed, q)
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Fatalf("round %d query %d %+v: pages differ (-scan +index):\n%s", round, i, q, diff)
			}
			// The JSON the handler writes: encoding/json's, the items' kept or not.
			for range 2 {
				page, err := scanned.Roster(q)
				if err != nil {
					t.Fatal(err)
				}
				var want bytes.Buffer
				if err := json.NewEncoder(&want).Encode(page); err != nil {
					t.Fatal(err)
				}
				var got bytes.Buffer
				if err := indexed.WriteRosterJSON(&got, q); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want.String(), got.String()); diff != "" {
					t.Fatalf("round %d query %d %+v: JSON differs (-encoding/json +WriteRosterJSON):\n%s", round, i, q, diff)
				}
			}
			// Cursors nobody issued: any text, and ones near real keys.
			q.Limit = 1 + r.IntN(5)
			cursors := []string{"", "\x00", "\x00FED-", "FED\x00", "2020-05\x00", "2020\x00ZZ", "alpha\x00", "\xff", "2026-03-02\x00\x00", "mid"}
			for _, c := range []string{cursors[r.IntN(len(cursors))], cursors[r.IntN(len(cursors))]} {
				q.Token = base64.RawURLEncoding.EncodeToString([]byte(c))
				a, err1 := scanned.Roster(q)
				b, err2 := indexed.Roster(q)
				ja, _ := json.Marshal(a)
				jb, _ := json.Marshal(b)
				if err1 != nil || err2 != nil || !bytes.Equal(ja, jb) {
					t.Fatalf("round %d query %+v cursor %q: scan %s (%v), index %s (%v)", round, q, c, ja, err1, jb, err2)
				}
			}
			if i%8 == 0 {
				var wa, wb bytes.Buffer
				if err := scanned.WriteRosterCSV(&wa, q); err != nil {
					t.Fatal(err)
				}
				if err := indexed.WriteRosterCSV(&wb, q); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(wa.String(), wb.String()); diff != "" {
					t.Fatalf("round %d query %+v: CSV differs (-scan +index):\n%s", round, q, diff)
				}
			}
		}
	}
	defer func(slack int) { walkSlack = slack }(walkSlack)
	for round := range 12 {
		walkSlack = []int{4096, 0, 1}[round%3] // pages walked, picked, or both
		switch round {
		case 4: // the key that signed everything, revoked: every item says so
			txn := f.db.Txn(true)
			at := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
			k := &enrolledKey{Kid: "k", Program: "FED"}
			k.RevokedAt = &at
			if err := txn.Insert(tableKeys, k); err != nil {
				t.Fatal(err)
			}
			txn.Commit()
		case 6: // a node's replica: pages say how fresh it is
			indexed.info, scanned.info = info, info
		}
		before := dumpIndex(readIndex(f.db.Txn(false)))
		snap := readIndex(f.db.Txn(false))
		f.write(t, 50+r.IntN(300), round%4 == 3)
		if round%4 == 3 {
			if after := dumpIndex(readIndex(f.db.Txn(false))); after != before {
				t.Fatalf("round %d: an aborted write changed the index", round)
			}
		}
		check(round)
		checkRecordCounts(t, f.db)
		if now := dumpIndex(readIndex(f.db.Txn(false))); strings.Contains(now, "COUNTED") {
			t.Fatalf("round %d: a bit set's count is off:\n%s", round, now)
		}
		if again := dumpIndex(snap); again != before {
			t.Fatalf("round %d: a write changed a committed snapshot of the index", round)
		}
	}
}

// dumpIndex writes out everything an index holds, to compare snapshots.
func dumpIndex(ix *rosterIndex) string {
	var b strings.Builder
	set := func(name string, s *bitset) {
		fmt.Fprintf(&b, "%s:", name)
		n := 0
		for ord := range ix.next {
			if s.has(ord) {
				fmt.Fprintf(&b, " %d", ord)
				n++
			}
		}
		if s != nil && s.n != n {
			fmt.Fprintf(&b, " COUNTED %d, NOT %d", n, s.n)
		}
		b.WriteByte('\n')
	}
	set("roster", ix.roster)
	for _, m := range []map[string]*bitset{ix.program, ix.level, ix.status} {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			set(k, m[k])
		}
	}
	for i, s := range ix.category {
		set(nationalOrder[i], s)
	}
	days := make([]int32, 0, len(ix.days))
	for d := range ix.days {
		days = append(days, d)
	}
	slices.Sort(days)
	for _, d := range days {
		for i, s := range ix.days[d].sets {
			set(fmt.Sprint(d, standingCodes[i]), s)
		}
	}
	for o, ord := range ix.orders {
		fmt.Fprintf(&b, "order %d:", o)
		for _, blk := range ord.blocks {
			fmt.Fprint(&b, blk.ords)
		}
		b.WriteByte('\n')
	}
	for ord := range ix.next {
		if s := ix.slots.get(ord); s != nil {
			fmt.Fprintf(&b, "%d %s %p\n", ord, s.e.ID, s.e)
		}
	}
	return b.String()
}

// checkRecordCounts: the records and revisions each program holds, as GET /v1/programs
// and /metrics read them (tableRecordCounts), are those of that program in the tables,
// after commits and aborted writes alike.
func checkRecordCounts(t *testing.T, db *memdb.MemDB) {
	t.Helper()
	txn := db.Txn(false)
	want := map[string]int{}
	it, err := txn.Get(tableRecords, indexID)
	if err != nil {
		t.Fatal(err)
	}
	revs := map[string]int{}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		want[raw.(*entry).Program]++
		revs[raw.(*entry).Program] += len(raw.(*entry).Revs)
	}
	if len(want) == 0 {
		t.Fatal("no records: the check shows nothing")
	}
	for p, n := range want {
		if got, err := countsOf(txn, p); err != nil || got.Records != n || got.Revisions != revs[p] {
			t.Errorf("program %s: counted %+v (%v), want %d records, %d revisions", p, got, err, n, revs[p])
		}
	}
}
