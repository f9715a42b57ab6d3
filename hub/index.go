package hub

import (
	"errors"
	"math/bits"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alliancehub/alliancehub/schema"
	"github.com/hashicorp/go-memdb"
)

// The roster index answers GET /v1/roster without reading every entry (issue 7): each
// Alliance on the roster has a small ordinal; bit sets of ordinals per program, level,
// status, national category and, for the days asked about, standing give a query's
// exact total by intersection; orderings of the ordinals by id, program, participant,
// signed_on and expires_on give its page by walking the asked order from the page token
// and stopping after limit matches.
//
// The index is one row of its own memdb table, so a reader sees the index of the very
// snapshot its transaction reads. A write transaction copies the row on its first
// change and every part of it (bit set chunks, slot leaves, order blocks) on the first
// change to that part, marking what it copied with its own token: nothing a committed
// index holds is ever changed in place, so readers never lock and an aborted
// transaction leaves the committed index as it was.

// memdb table of the roster index: one row, rosterIndexID.
const (
	tableRosterIndex = "roster_index"
	rosterIndexID    = "roster"
)

// errIndexOutOfStep is an index that no longer matches the records it indexes: a bug,
// refused rather than answered wrong.
var errIndexOutOfStep = errors.New("roster index out of step with the records")

// Sizes of the index's parts: a bit set chunk holds chunkBits ordinals, a slot leaf
// slotLeafSize, an order block at most maxBlock. Small parts keep what a write copies
// small; few parts keep reads fast.
const (
	chunkBits    = 4096
	chunkWords   = chunkBits / 64
	slotLeafSize = 256
	maxBlock     = 512
	// maxTrackedDays bounds the days whose standings the index keeps up to date on every
	// write (the default as_of, today, and a few others asked about); maxCachedDays, the
	// days whose standings readers keep for the snapshot they read, until a write adopts
	// them.
	maxTrackedDays = 4
	maxCachedDays  = 8
)

// Orders the index keeps, one per RosterSorts entry.
const (
	orderID = iota
	orderProgram
	orderParticipant
	orderSignedOn
	orderExpiresOn
	numOrders
)

// orderOf maps a sort name (without "-") to its order.
var orderOf = map[string]int{"": orderID, "id": orderID, "program": orderProgram, "participant": orderParticipant,
	"signed_on": orderSignedOn, "expires_on": orderExpiresOn}

// standingCodes lists the standings in code order: a standing's index is its code.
var standingCodes = [...]schema.Standing{schema.StandingDraft, schema.StandingActive, schema.StandingExpiring,
	schema.StandingExpired, schema.StandingConcluded, schema.StandingTerminated, schema.StandingAmbassador}

func standingCode(s schema.Standing) (uint8, bool) {
	for i, st := range standingCodes {
		if st == s {
			return uint8(i), true
		}
	}
	return 0, false
}

// nationalOrder lists the national categories in bit order: bit i of a slot's cats is
// nationalOrder[i].
var nationalOrder = [...]string{schema.NationalAwareness, schema.NationalTraining, schema.NationalOutreach, schema.NationalDialogue}

// token marks the parts one write transaction has copied and may change in place.
type token struct{ _ byte }

// rosterIndex is one snapshot of the index: the row of tableRosterIndex.
type rosterIndex struct {
	ID      string     // rosterIndexID
	owner   *memdb.Txn // the write transaction that copied this row and may change it
	tok     *token
	catalog *schema.Catalog // national categories are the catalog's mapping
	shared  *indexShared    // what every snapshot of one database shares

	next     uint32 // ordinals handed out: 1..next-1
	slots    slotVec
	roster   *bitset            // every ordinal on the roster
	program  map[string]*bitset // by the entry's program
	level    map[string]*bitset
	status   map[string]*bitset
	category [len(nationalOrder)]*bitset
	days     map[int32]*dayStanding // standings on the tracked days
	orders   [numOrders]*order
	odd      [numOrders]int // slots whose key the order cannot sort as text (orderable)
}

// rosterSlot is what the index knows of one ordinal's entry, computed when the entry
// is written. Slots are never changed: a write makes a new one.
type rosterSlot struct {
	e       *entry
	name    string // the participant order's key
	signed  uint32 // dateRank of signed_on
	expires uint32 // dateRank of expires_on
	cats    uint8  // national categories, bit i for nationalOrder[i]
	odd     uint8  // bit o: order o cannot sort this slot's key as text
	tl      timeline
}

// indexShared is shared by every snapshot of one database's index: the standings
// readers computed for days the index does not track, for the snapshot they read, and
// what queries keep of items for later ones (index_cache.go).
type indexShared struct {
	mu    sync.Mutex
	cache map[int32]*dayCache
	clock atomic.Int64 // ticks of use, for the least recently used tracked day

	// comp holds roster items' compliance by slot and as_of: a slot is replaced when
	// its entry or any of its Alliance's reports is written, so an entry is never stale.
	comp [compShards]compShard
	// links holds records' links for one version of the links table.
	links linkCache
	// items holds roster items' JSON (rosterView.WriteRosterJSON).
	items itemCache
	// counts holds the totals of filters, by snapshot.
	counts countCache
}

// categoryLists are the national category lists of every set of categories, by the
// set's bits (rosterSlot.cats); the roster's items share them and never change them.
var categoryLists = func() (out [1 << len(nationalOrder)][]string) {
	for bits := range out {
		l := []string{}
		for i, c := range nationalOrder {
			if bits>>i&1 == 1 {
				l = append(l, c)
			}
		}
		out[bits] = l[:len(l):len(l)]
	}
	return out
}()

// dayCache is the standings of one day computed by a reader for one snapshot.
type dayCache struct {
	snap *rosterIndex
	once sync.Once
	ds   *dayStanding
}

// dayStanding is every roster ordinal's standing on one day, as bit sets by standing
// code.
type dayStanding struct {
	day  int32
	sets [len(standingCodes)]*bitset
	used *atomic.Int64 // last use, shared by the snapshots that carry the day
	tok  *token        // the write that copied it and may change it
}

// initRosterIndex installs an empty roster index in a new, empty database (newStateDB).
// The index maps programs' goal categories with catalog, which the roster views of the
// database must use too.
func initRosterIndex(txn *memdb.Txn, catalog *schema.Catalog) error {
	shared := &indexShared{cache: map[int32]*dayCache{}}
	ix := &rosterIndex{ID: rosterIndexID, catalog: catalog, shared: shared, next: 1,
		roster: &bitset{}, program: map[string]*bitset{}, level: map[string]*bitset{}, status: map[string]*bitset{},
		days: map[int32]*dayStanding{}}
	for i := range ix.category {
		ix.category[i] = &bitset{}
	}
	for o := range ix.orders {
		ix.orders[o] = &order{}
	}
	return txn.Insert(tableRosterIndex, ix)
}

// readIndex is the index of txn's snapshot, or nil if the database has none.
func readIndex(txn *memdb.Txn) *rosterIndex {
	raw, err := txn.First(tableRosterIndex, indexID, rosterIndexID)
	if err != nil || raw == nil {
		return nil
	}
	return raw.(*rosterIndex)
}

// indexEntryTxn brings the roster index up to date with e, about to be inserted into
// the records table in txn in place of the entry stored under its id, and gives e its
// ordinal. A database without an index is left as it is.
func indexEntryTxn(txn *memdb.Txn, e *entry) error {
	raw, err := txn.First(tableRecords, indexID, e.ID)
	if err != nil {
		return err
	}
	var old *entry
	if raw != nil {
		old = raw.(*entry)
		e.ord = old.ord
	}
	// A report changes its Alliance's item (its compliance): the Alliance's slot is
	// renewed, so nothing computed for the old one is used again.
	var bump []string
	if e.Kind == schema.KindReport {
		bump = append(bump, e.AllianceID)
	}
	if old != nil && old.Kind == schema.KindReport && old.AllianceID != e.AllianceID {
		bump = append(bump, old.AllianceID)
	}
	if len(bump) == 0 && !e.onRoster() && (old == nil || !old.onRoster()) {
		return nil
	}
	ix := readIndex(txn)
	if ix == nil {
		return nil
	}
	if ix.owner != txn {
		ix = ix.copyFor(txn)
		if err := txn.Insert(tableRosterIndex, ix); err != nil {
			return err
		}
	}
	for _, id := range bump {
		raw, err := txn.First(tableRecords, indexID, id)
		if err != nil {
			return err
		}
		if raw == nil {
			continue // the report came first: its Alliance gets a new slot when it comes
		}
		if a := raw.(*entry); a.ord != 0 {
			if s := ix.slots.get(a.ord); s != nil {
				renewed := *s
				ix.slots.set(ix.tok, a.ord, &renewed)
			}
		}
	}
	return ix.update(old, e)
}

// copyFor copies the index row for a write transaction: the row and its maps, sharing
// every part until the transaction changes it. It carries the tracked days, adopts the
// days readers computed for this very snapshot, and lets go of the least recently used
// beyond maxTrackedDays.
func (ix *rosterIndex) copyFor(txn *memdb.Txn) *rosterIndex {
	c := *ix
	c.owner, c.tok = txn, &token{}
	c.program = cloneMap(ix.program)
	c.level = cloneMap(ix.level)
	c.status = cloneMap(ix.status)
	c.days = make(map[int32]*dayStanding, len(ix.days)+1)
	for d, ds := range ix.days {
		c.days[d] = ds
	}
	ix.shared.mu.Lock()
	for d, dc := range ix.shared.cache {
		if dc.snap == ix && dc.ds != nil {
			if _, ok := c.days[d]; !ok {
				c.days[d] = dc.ds
			}
		}
		if dc.snap != ix || dc.ds != nil {
			delete(ix.shared.cache, d) // adopted, or computed for an older snapshot
		}
	}
	ix.shared.mu.Unlock()
	for len(c.days) > maxTrackedDays {
		var lru int32
		first := true
		for d, ds := range c.days {
			if first || ds.used.Load() < c.days[lru].used.Load() {
				lru, first = d, false
			}
		}
		delete(c.days, lru)
	}
	return &c
}

func cloneMap(m map[string]*bitset) map[string]*bitset {
	c := make(map[string]*bitset, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// update replaces old (nil: none) by e, which has old's ordinal if it had one.
func (ix *rosterIndex) update(old, e *entry) error {
	oldOn := old != nil && old.onRoster() && old.ord != 0
	if !oldOn && !e.onRoster() {
		return nil
	}
	if e.ord == 0 {
		e.ord = ix.next
		ix.next++
	}
	ord := e.ord
	var was *rosterSlot
	if oldOn {
		if was = ix.slots.get(ord); was == nil || was.e != old {
			return errIndexOutOfStep
		}
	}
	var now *rosterSlot
	if e.onRoster() {
		now = ix.slotOf(e)
	}
	// Orders: out by the old key, in by the new, unless the key stayed.
	for o := range ix.orders {
		if was != nil && now != nil && sameKey(o, was, now) {
			continue
		}
		if was != nil {
			if err := ix.mutOrder(o).remove(ix, o, ord); err != nil {
				return err
			}
			ix.odd[o] -= int(was.odd >> o & 1)
		}
	}
	ix.slots.set(ix.tok, ord, now)
	for o := range ix.orders {
		if was != nil && now != nil && sameKey(o, was, now) {
			continue
		}
		if now != nil {
			ix.mutOrder(o).insert(ix, o, ord)
			ix.odd[o] += int(now.odd >> o & 1)
		}
	}
	// Bit sets: each attribute that changed.
	var wasA, nowA slotAttrs
	if was != nil {
		wasA = attrsOf(was)
	}
	if now != nil {
		nowA = attrsOf(now)
	}
	if wasA.on != nowA.on {
		ix.roster = ix.roster.put(ix.tok, ord, nowA.on)
	}
	ix.putKeyed(ix.program, ord, wasA.on, wasA.program, nowA.on, nowA.program)
	ix.putKeyed(ix.level, ord, wasA.on, wasA.level, nowA.on, nowA.level)
	ix.putKeyed(ix.status, ord, wasA.on, wasA.status, nowA.on, nowA.status)
	for i := range ix.category {
		w, n := wasA.cats>>i&1 == 1, nowA.cats>>i&1 == 1
		if w != n {
			ix.category[i] = ix.category[i].put(ix.tok, ord, n)
		}
	}
	for d, ds := range ix.days {
		w, n := -1, -1
		if was != nil {
			w = int(was.tl.at(d))
		}
		if now != nil {
			n = int(now.tl.at(d))
		}
		if w == n {
			continue
		}
		if ds.tok != ix.tok { // copy the day on its first change in this write
			c := *ds
			c.tok = ix.tok
			ds = &c
			ix.days[d] = ds
		}
		if w >= 0 {
			ds.sets[w] = ds.sets[w].put(ix.tok, ord, false)
		}
		if n >= 0 {
			ds.sets[n] = ds.sets[n].put(ix.tok, ord, true)
		}
	}
	return nil
}

// slotAttrs are the filterable attributes of a slot.
type slotAttrs struct {
	on                     bool
	program, level, status string
	cats                   uint8
}

func attrsOf(s *rosterSlot) slotAttrs {
	a := s.e.Winner.Alliance
	return slotAttrs{on: true, program: s.e.Program, level: string(a.Level), status: string(a.Status), cats: s.cats}
}

func (ix *rosterIndex) putKeyed(m map[string]*bitset, ord uint32, wasOn bool, was string, nowOn bool, now string) {
	if wasOn == nowOn && was == now {
		return
	}
	if wasOn {
		m[was] = m[was].put(ix.tok, ord, false)
	}
	if nowOn {
		b := m[now]
		if b == nil {
			b = &bitset{}
		}
		m[now] = b.put(ix.tok, ord, true)
	}
}

func (ix *rosterIndex) mutOrder(o int) *order {
	if ix.orders[o].tok != ix.tok {
		c := &order{tok: ix.tok, blocks: append([]*oblock(nil), ix.orders[o].blocks...)}
		ix.orders[o] = c
	}
	return ix.orders[o]
}

// slotOf computes the slot of an entry on the roster.
func (ix *rosterIndex) slotOf(e *entry) *rosterSlot {
	a := e.Winner.Alliance
	s := &rosterSlot{e: e, tl: timelineOf(a)}
	if len(a.Participants) > 0 {
		s.name = strings.ToLower(a.Participants[0].Name)
	}
	var ok bool
	if s.signed, ok = dateRank(a.SignedOn); !ok {
		s.odd |= 1 << orderSignedOn
	}
	if s.expires, ok = dateRank(a.ExpiresOn); !ok {
		s.odd |= 1 << orderExpiresOn
	}
	if strings.IndexByte(s.name, 0) >= 0 {
		s.odd |= 1 << orderParticipant
	}
	if strings.IndexByte(a.Program, 0) >= 0 {
		s.odd |= 1 << orderProgram
	}
	if strings.IndexByte(e.ID, 0) >= 0 {
		s.odd = 1<<numOrders - 1
	}
	if def, ok := ix.catalog.Get(e.Program); ok {
		for _, c := range def.NationalCategories(a.Goals) {
			for i, n := range nationalOrder {
				if c == n {
					s.cats |= 1 << i
				}
			}
		}
	}
	return s
}

// sameKey reports whether two slots of one ordinal sort alike in order o.
func sameKey(o int, a, b *rosterSlot) bool {
	switch o {
	case orderProgram:
		return a.e.Winner.Alliance.Program == b.e.Winner.Alliance.Program
	case orderParticipant:
		return a.name == b.name
	case orderSignedOn:
		return a.signed == b.signed
	case orderExpiresOn:
		return a.expires == b.expires
	}
	return true // the id never changes
}

// cmpSlots compares two slots in order o: by the order's key, then by id.
func cmpSlots(o int, a, b *rosterSlot) int {
	var c int
	switch o {
	case orderProgram:
		c = strings.Compare(a.e.Winner.Alliance.Program, b.e.Winner.Alliance.Program)
	case orderParticipant:
		c = strings.Compare(a.name, b.name)
	case orderSignedOn:
		c = cmpUint(a.signed, b.signed)
	case orderExpiresOn:
		c = cmpUint(a.expires, b.expires)
	}
	if c != 0 {
		return c
	}
	return strings.Compare(a.e.ID, b.e.ID)
}

func cmpUint(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpCursor compares a slot's page cursor in order o, its key, a NUL and its id (as
// Roster makes them), with the cursor s, as text, without building it.
func cmpCursor(o int, sl *rosterSlot, s string) int {
	var buf [10]byte
	var key string
	switch o {
	case orderProgram:
		key = sl.e.Winner.Alliance.Program
	case orderParticipant:
		key = sl.name
	case orderSignedOn:
		key = string(appendRank(buf[:0], sl.signed))
	case orderExpiresOn:
		key = string(appendRank(buf[:0], sl.expires))
	}
	return cmpJoined(key, sl.e.ID, s)
}

// cmpJoined compares key+"\x00"+id with s.
func cmpJoined(key, id, s string) int {
	if len(s) < len(key) {
		if c := strings.Compare(key[:len(s)], s); c != 0 {
			return c
		}
		return 1
	}
	if c := strings.Compare(key, s[:len(key)]); c != 0 {
		return c
	}
	s = s[len(key):]
	switch {
	case s == "":
		return 1
	case s[0] != 0:
		return -1
	}
	return strings.Compare(id, s[1:])
}

// dateRank maps a date to a number that sorts as its text does ("" < "2024" <
// "2024-01" < "2024-01-01" < "2024-01-02"), or false for a date whose text it cannot
// rank (a malformed one).
func dateRank(d schema.Date) (uint32, bool) {
	if d.IsZero() {
		return 0, true
	}
	if d.Invalid() != nil || d.Year < 1 || d.Year > 9999 {
		return 1<<32 - 1, false
	}
	switch d.Precision() {
	case schema.PrecisionYear:
		return uint32(d.Year) * 10000, true
	case schema.PrecisionMonth:
		if d.Month >= 1 && d.Month <= 12 {
			return uint32(d.Year*10000 + d.Month*100), true
		}
	case schema.PrecisionDay:
		if d.Month >= 1 && d.Month <= 12 && d.Day >= 1 && d.Day <= 31 {
			return uint32(d.Year*10000 + d.Month*100 + d.Day), true
		}
	}
	return 1<<32 - 1, false
}

// appendRank appends the text of a date rank (dateRank): what Date.String gives.
func appendRank(b []byte, r uint32) []byte {
	if r == 0 {
		return b
	}
	y, m, d := r/10000, r/100%100, r%100
	b = append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10))
	if m > 0 {
		b = append(b, '-', byte('0'+m/10), byte('0'+m%10))
	}
	if d > 0 {
		b = append(b, '-', byte('0'+d/10), byte('0'+d%10))
	}
	return b
}

// timeline is an Alliance's standing as a function of the day: st[0] before from[0],
// st[i] from from[i-1] on. Standing depends on the day only through comparisons with
// the record's own dates (schema.Alliance.Standing), so it changes on at most six
// days: the day it is signed (a draft before), 90 days before the term ends
// (expiring), the day after it ends (expired), and the days it is concluded, becomes
// an Ambassador, or its termination takes effect.
type timeline struct {
	from [6]int32
	st   [7]uint8
	n    uint8
}

// dayNum is the day of a midnight UTC, counted from 1970-01-01.
func dayNum(t time.Time) int32 {
	s := t.Unix()
	d := s / 86400
	if s%86400 < 0 {
		d--
	}
	return int32(d)
}

// dayDate is the Date of a day number.
func dayDate(d int32) schema.Date { return schema.DateOf(time.Unix(int64(d)*86400, 0).UTC()) }

// timelineOf computes an Alliance's standing timeline with schema's own Standing, at
// each day its standing may change.
func timelineOf(a *schema.Alliance) timeline {
	var cand [6]int32
	n := 0
	add := func(d int32) {
		for _, c := range cand[:n] {
			if c == d {
				return
			}
		}
		cand[n] = d
		n++
	}
	if !a.SignedOn.IsZero() {
		add(dayNum(a.SignedOn.First()))
	}
	if !a.ExpiresOn.IsZero() {
		end := dayNum(a.ExpiresOn.Last())
		add(end - schema.ExpiringWindowDays)
		add(end + 1)
	}
	if !a.ConcludedOn.IsZero() {
		add(dayNum(a.ConcludedOn.Last()))
	}
	if !a.AmbassadorOn.IsZero() {
		add(dayNum(a.AmbassadorOn.First()))
	}
	if t := a.Termination; t != nil {
		add(dayNum(t.EffectiveOn.Last()))
	}
	c := cand[:n]
	sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
	var tl timeline
	before := int32(0)
	if n > 0 {
		before = c[0] - 1
	}
	tl.st[0] = codeOf(a.Standing(dayDate(before)))
	for _, d := range c {
		s := codeOf(a.Standing(dayDate(d)))
		if s == tl.st[tl.n] {
			continue
		}
		tl.from[tl.n] = d
		tl.n++
		tl.st[tl.n] = s
	}
	return tl
}

func codeOf(s schema.Standing) uint8 {
	c, _ := standingCode(s)
	return c
}

// at is the standing code on day d.
func (tl *timeline) at(d int32) uint8 {
	i := 0
	for i < int(tl.n) && d >= tl.from[i] {
		i++
	}
	return tl.st[i]
}

// bitset is a set of ordinals in chunks of chunkBits; a nil chunk is empty. A bitset
// and its chunks belong to the write transaction whose token they carry; any other's
// are copied before they change.
type bitset struct {
	chunks []*bchunk
	n      int // ordinals in the set
	tok    *token
}

type bchunk struct {
	w   [chunkWords]uint64
	tok *token
}

func (b *bitset) has(ord uint32) bool {
	if b == nil {
		return false
	}
	c := int(ord / chunkBits)
	if c >= len(b.chunks) || b.chunks[c] == nil {
		return false
	}
	return b.chunks[c].w[ord%chunkBits/64]&(1<<(ord%64)) != 0
}

// owned is b, or a copy of it that tok may change (its chunks still shared).
func (b *bitset) owned(tok *token) *bitset {
	if b == nil {
		return &bitset{tok: tok}
	}
	if b.tok == tok {
		return b
	}
	return &bitset{chunks: append([]*bchunk(nil), b.chunks...), n: b.n, tok: tok}
}

// put sets or clears ord, in b if tok owns it or else in a copy, and returns the set.
func (b *bitset) put(tok *token, ord uint32, on bool) *bitset {
	if b.has(ord) == on {
		return b
	}
	b = b.owned(tok)
	c := int(ord / chunkBits)
	for len(b.chunks) <= c {
		b.chunks = append(b.chunks, nil)
	}
	ch := b.chunks[c]
	switch {
	case ch == nil:
		ch = &bchunk{tok: tok}
	case ch.tok != tok:
		cp := *ch
		cp.tok = tok
		ch = &cp
	}
	b.chunks[c] = ch
	if on {
		ch.w[ord%chunkBits/64] |= 1 << (ord % 64)
		b.n++
	} else {
		ch.w[ord%chunkBits/64] &^= 1 << (ord % 64)
		b.n--
	}
	return b
}

// slotVec maps ordinals to slots, in leaves of slotLeafSize.
type slotVec struct {
	leaves []*slotLeaf
	tok    *token // the write transaction that owns leaves (the slice)
}

type slotLeaf struct {
	s   [slotLeafSize]*rosterSlot
	tok *token
}

func (v *slotVec) get(ord uint32) *rosterSlot {
	l := int(ord / slotLeafSize)
	if l >= len(v.leaves) || v.leaves[l] == nil {
		return nil
	}
	return v.leaves[l].s[ord%slotLeafSize]
}

func (v *slotVec) set(tok *token, ord uint32, s *rosterSlot) {
	if v.tok != tok {
		v.leaves = append([]*slotLeaf(nil), v.leaves...)
		v.tok = tok
	}
	l := int(ord / slotLeafSize)
	for len(v.leaves) <= l {
		v.leaves = append(v.leaves, nil)
	}
	leaf := v.leaves[l]
	switch {
	case leaf == nil:
		leaf = &slotLeaf{tok: tok}
	case leaf.tok != tok:
		cp := *leaf
		cp.tok = tok
		leaf = &cp
	}
	v.leaves[l] = leaf
	leaf.s[ord%slotLeafSize] = s
}

// order is the roster's ordinals sorted by one order's key, then id, in blocks of at
// most maxBlock; no block is empty.
type order struct {
	blocks []*oblock
	tok    *token
}

type oblock struct {
	ords []uint32
	tok  *token
}

// pos is a position in an order: block b, index i; b == len(blocks) is the end.
type pos struct{ b, i int }

// search finds the first position whose ordinal satisfies pred, which must be false
// for a prefix of the order and true for the rest.
func (o *order) search(pred func(uint32) bool) pos {
	b := sort.Search(len(o.blocks), func(k int) bool { return pred(o.blocks[k].ords[0]) })
	if b == 0 {
		return pos{0, 0}
	}
	blk := o.blocks[b-1]
	i := sort.Search(len(blk.ords), func(k int) bool { return pred(blk.ords[k]) })
	if i == len(blk.ords) {
		return pos{b, 0}
	}
	return pos{b - 1, i}
}

// prev is the position before p, or false at the start.
func (o *order) prev(p pos) (pos, bool) {
	if p.i > 0 {
		return pos{p.b, p.i - 1}, true
	}
	if p.b == 0 {
		return p, false
	}
	return pos{p.b - 1, len(o.blocks[p.b-1].ords) - 1}, true
}

func (ix *rosterIndex) cmpOrd(o int, a, b uint32) int {
	return cmpSlots(o, ix.slots.get(a), ix.slots.get(b))
}

// insert adds ord, whose slot is already in ix.
func (o *order) insert(ix *rosterIndex, kind int, ord uint32) {
	if len(o.blocks) == 0 {
		o.blocks = append(o.blocks, &oblock{ords: []uint32{ord}, tok: o.tok})
		return
	}
	p := o.search(func(x uint32) bool { return ix.cmpOrd(kind, x, ord) > 0 })
	if p.i == 0 && p.b > 0 { // between two blocks: the end of the first
		p = pos{p.b - 1, len(o.blocks[p.b-1].ords)}
	}
	blk := o.ownBlock(p.b)
	blk.ords = append(blk.ords, 0)
	copy(blk.ords[p.i+1:], blk.ords[p.i:])
	blk.ords[p.i] = ord
	if len(blk.ords) > maxBlock {
		half := len(blk.ords) / 2
		right := &oblock{ords: append(make([]uint32, 0, maxBlock/2+1), blk.ords[half:]...), tok: o.tok}
		blk.ords = blk.ords[:half:half]
		o.blocks = append(o.blocks, nil)
		copy(o.blocks[p.b+2:], o.blocks[p.b+1:])
		o.blocks[p.b+1] = right
	}
}

// remove takes ord out; its slot must still be the one it was inserted with.
func (o *order) remove(ix *rosterIndex, kind int, ord uint32) error {
	p := o.search(func(x uint32) bool { return ix.cmpOrd(kind, x, ord) >= 0 })
	if p.b == len(o.blocks) || o.blocks[p.b].ords[p.i] != ord {
		return errIndexOutOfStep
	}
	blk := o.ownBlock(p.b)
	blk.ords = append(blk.ords[:p.i], blk.ords[p.i+1:]...)
	if len(blk.ords) == 0 {
		o.blocks = append(o.blocks[:p.b], o.blocks[p.b+1:]...)
	}
	return nil
}

// ownBlock is block b, copied first unless this write owns it (the caller owns o).
func (o *order) ownBlock(b int) *oblock {
	blk := o.blocks[b]
	if blk.tok != o.tok {
		blk = &oblock{ords: append(make([]uint32, 0, len(blk.ords)+1), blk.ords...), tok: o.tok}
		o.blocks[b] = blk
	}
	return blk
}

// matchSet is the ordinals matching a query's filters: the intersection of the
// filters' bit sets, tested set by set, and with a text filter the intersection
// materialized chunk by chunk (live says which chunks hold any) less what the text
// rules out.
type matchSet struct {
	sets  []*bitset // at least one
	next  uint32    // ordinals are below it
	count int

	dense bool
	words []uint64
	live  []bool
}

var matchSetPool = sync.Pool{New: func() any { return &matchSet{sets: make([]*bitset, 0, 8)} }}

func (m *matchSet) chunks() int { return int(m.next+chunkBits-1) / chunkBits }

// chunk is the intersection's words in chunk c, or false if it is empty there.
func (m *matchSet) chunk(c int, w *[chunkWords]uint64) bool {
	if m.dense {
		if !m.live[c] {
			return false
		}
		*w = *(*[chunkWords]uint64)(m.words[c*chunkWords:])
		return true
	}
	var ch [8]*bchunk
	for k, s := range m.sets {
		if c >= len(s.chunks) || s.chunks[c] == nil {
			return false
		}
		ch[k] = s.chunks[c]
	}
	*w = ch[0].w
	for _, x := range ch[1:len(m.sets)] {
		for i := range w {
			w[i] &= x.w[i]
		}
	}
	return true
}

// countAll counts the intersection.
func (m *matchSet) countAll() int {
	n := 0
	var w [chunkWords]uint64
	for c := range m.chunks() {
		if m.chunk(c, &w) {
			for _, x := range w {
				n += bits.OnesCount64(x)
			}
		}
	}
	return n
}

// materialize keeps the intersection's words, for a filter the bit sets cannot tell.
func (m *matchSet) materialize() {
	chunks := m.chunks()
	if cap(m.live) < chunks {
		m.live = make([]bool, chunks)
		m.words = make([]uint64, chunks*chunkWords)
	}
	m.live, m.words = m.live[:chunks], m.words[:chunks*chunkWords]
	for c := range chunks {
		w := (*[chunkWords]uint64)(m.words[c*chunkWords:])
		m.live[c] = m.chunk(c, w)
	}
	m.dense = true
}

func (m *matchSet) has(ord uint32) bool {
	if m.dense {
		c := int(ord / chunkBits)
		return c < len(m.live) && m.live[c] && m.words[ord/64]&(1<<(ord%64)) != 0
	}
	for _, s := range m.sets {
		if !s.has(ord) {
			return false
		}
	}
	return true
}

// drop takes ord out of a materialized set.
func (m *matchSet) drop(ord uint32) {
	m.words[ord/64] &^= 1 << (ord % 64)
	m.count--
}

// each calls fn for every ordinal in m, in ordinal order, until fn returns false.
func (m *matchSet) each(fn func(uint32) bool) {
	var w [chunkWords]uint64
	for c := range m.chunks() {
		if !m.chunk(c, &w) {
			continue
		}
		for i, x := range w {
			for x != 0 {
				if !fn(uint32(c*chunkBits + i*64 + bits.TrailingZeros64(x))) {
					return
				}
				x &= x - 1
			}
		}
	}
}

// standingOn is the standings on day d: the index's own if it tracks the day, or else
// computed once for this snapshot and kept until a write adopts it.
func (ix *rosterIndex) standingOn(d int32) *dayStanding {
	tick := ix.shared.clock.Add(1)
	if ds, ok := ix.days[d]; ok {
		ds.used.Store(tick)
		return ds
	}
	sh := ix.shared
	sh.mu.Lock()
	dc, ok := sh.cache[d]
	if !ok || dc.snap != ix {
		for other := range sh.cache {
			if len(sh.cache) < maxCachedDays {
				break
			}
			delete(sh.cache, other) // any: a day asked about once is not worth more
		}
		dc = &dayCache{snap: ix}
		sh.cache[d] = dc
	}
	sh.mu.Unlock()
	dc.once.Do(func() {
		ds := &dayStanding{day: d, used: &atomic.Int64{}}
		tok := &token{}
		for i := range ds.sets {
			ds.sets[i] = &bitset{tok: tok}
		}
		for l, leaf := range ix.slots.leaves {
			if leaf == nil {
				continue
			}
			for i, s := range leaf.s {
				if s != nil {
					ord := uint32(l*slotLeafSize + i)
					ds.sets[s.tl.at(d)].put(tok, ord, true)
				}
			}
		}
		for i := range ds.sets {
			ds.sets[i].tok = nil // finished: a write copies before it changes them
			for _, ch := range ds.sets[i].chunks {
				if ch != nil {
					ch.tok = nil
				}
			}
		}
		ds.used.Store(tick)
		sh.mu.Lock()
		dc.ds = ds
		sh.mu.Unlock()
	})
	return dc.ds
}
