package hub

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"math/bits"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/hashicorp/go-memdb"
)

// RosterQuery filters the national roster (CONTRACT.md, GET /v1/roster).
type RosterQuery struct {
	Program  string
	Level    schema.Level
	Status   schema.Status
	Standing schema.Standing
	Category string      // national category
	Q        string      // text in a participant's name
	AsOf     schema.Date // standing as of this day
	Limit    int         // 0: no limit (exports)
	Sort     string      // one of RosterSorts, or "-" and one; "" is id
	Token    string
}

// RosterPage is one page of the roster.
type RosterPage struct {
	Items         []wire.RosterItem `json:"items"`
	Total         int               `json:"total"`
	NextPageToken string            `json:"next_page_token"`
	Replica       *ReplicaInfo      `json:"replica,omitempty"` // on a node's replica: how fresh it is
}

// rosterView answers roster queries over the reconciled records in db, with the
// program definitions in catalog: the hub's roster and a node's replica of it are the
// same code over the same tables.
type rosterView struct {
	db      *memdb.MemDB
	catalog *schema.Catalog
	info    func() *ReplicaInfo // a replica's freshness, for its pages; nil on the hub
	scan    bool                // read every entry, never the index (tests compare the two)
}

var errBadPageToken = errors.New("page_token is not one this server issued")

// Roster answers a roster query in its order (id unless q.Sort says otherwise). Each
// item carries its national categories, its standing as of the query's date, its
// conflict state and its provenance.
func (h *rosterView) Roster(q RosterQuery) (*RosterPage, error) {
	after, err := decodeToken(q.Token)
	if err != nil {
		return nil, err
	}
	page := &RosterPage{Items: []wire.RosterItem{}}
	if h.info != nil {
		page.Replica = h.info()
	}
	txn := h.db.Txn(false)
	key, desc := sortKey(q.Sort)
	cursor := func(it wire.RosterItem) string { return key(it) + "\x00" + it.ID }
	if ix := h.index(txn, q); ix != nil {
		slots, err := h.pageSlots(ix, q, after, page)
		if err != nil {
			return nil, err
		}
		if q.Limit > 0 {
			page.Items = make([]wire.RosterItem, 0, len(slots))
		}
		ctx := newItemCtx(txn, ix)
		for _, s := range slots {
			it, err := h.slotItem(ctx, s, q.AsOf, true)
			if err != nil {
				return nil, err
			}
			page.Items = append(page.Items, it)
		}
		return page, nil
	}
	past := func(it wire.RosterItem) bool {
		if after == "" {
			return true
		}
		if desc {
			return cursor(it) < after
		}
		return cursor(it) > after
	}
	add := func(it wire.RosterItem) {
		page.Total++
		switch {
		case !past(it):
		case q.Limit == 0 || len(page.Items) < q.Limit:
			page.Items = append(page.Items, it)
		case page.NextPageToken == "":
			page.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(cursor(page.Items[len(page.Items)-1])))
		}
	}
	if q.Sort == "" || q.Sort == "id" {
		return page, h.eachRosterItem(txn, q, add) // already in id order
	}
	all, err := h.sorted(txn, q)
	for _, it := range all {
		add(it)
	}
	return page, err
}

// sorted collects every item matching q in q.Sort's order: the way without the index.
func (h *rosterView) sorted(txn *memdb.Txn, q RosterQuery) ([]wire.RosterItem, error) {
	var all []wire.RosterItem
	err := h.eachRosterItem(txn, q, func(it wire.RosterItem) { all = append(all, it) })
	key, desc := sortKey(q.Sort)
	slices.SortStableFunc(all, func(a, b wire.RosterItem) int {
		c := strings.Compare(key(a)+"\x00"+a.ID, key(b)+"\x00"+b.ID)
		if desc {
			return -c
		}
		return c
	})
	return all, err
}

// pageSlots is Roster's page from the index: the matching slots past the cursor after,
// at most q.Limit of them (all for 0), with the page's total and next page token set.
func (h *rosterView) pageSlots(ix *rosterIndex, q RosterQuery, after string, page *RosterPage) ([]*rosterSlot, error) {
	var slots []*rosterSlot
	more := false
	err := h.indexed(ix, q, after, func(total int) {
		page.Total = total
		if q.Limit > 0 {
			slots = make([]*rosterSlot, 0, min(q.Limit, total))
		}
	}, func(s *rosterSlot) (bool, error) {
		if q.Limit > 0 && len(slots) == q.Limit {
			more = true // one more match: there is a next page
			return false, nil
		}
		slots = append(slots, s)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	if more {
		page.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(slotCursor(q.Sort, slots[len(slots)-1])))
	}
	return slots, nil
}

// slotCursor is the page cursor of a slot's item: what cursor makes of it in Roster.
func slotCursor(sort string, s *rosterSlot) string {
	var key string
	a := s.e.Winner.Alliance
	switch orderOf[strings.TrimPrefix(sort, "-")] {
	case orderProgram:
		key = a.Program
	case orderParticipant:
		key = s.name
	case orderSignedOn:
		key = dateText(a.SignedOn)
	case orderExpiresOn:
		key = dateText(a.ExpiresOn)
	}
	return key + "\x00" + s.e.ID
}

// WriteRosterJSON writes to w, in one Write, the JSON of the page Roster answers q
// with, as encoding/json writes it (a newline after it, as json.Encoder ends what it
// writes), and nothing if q is refused. From the index, each item's JSON is kept for later pages
// that show the same item on the same day.
func (h *rosterView) WriteRosterJSON(w io.Writer, q RosterQuery) error {
	buf := jsonBufs.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 4<<20 {
			buf.Reset()
			jsonBufs.Put(buf)
		}
	}()
	if err := h.rosterJSON(buf, q); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// jsonBufs are the buffers pages are written to before they are sent: a page is tens
// of kilobytes, which the collector would otherwise clear for every query.
var jsonBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (h *rosterView) rosterJSON(buf *bytes.Buffer, q RosterQuery) error {
	after, err := decodeToken(q.Token)
	if err != nil {
		return err
	}
	txn := h.db.Txn(false)
	ix := h.index(txn, q)
	if ix == nil {
		page, err := h.Roster(q)
		if err != nil {
			return err
		}
		return json.NewEncoder(buf).Encode(page)
	}
	var page RosterPage
	slots, err := h.pageSlots(ix, q, after, &page)
	if err != nil {
		return err
	}
	ctx := newItemCtx(txn, ix)
	buf.WriteString(`{"items":[`)
	for i, s := range slots {
		if i > 0 {
			buf.WriteByte(',')
		}
		b, err := h.itemJSON(ctx, s, q.AsOf)
		if err != nil {
			return err
		}
		buf.Write(b)
	}
	buf.WriteString(`],"total":`)
	buf.WriteString(strconv.Itoa(page.Total))
	buf.WriteString(`,"next_page_token":`)
	tok, _ := json.Marshal(page.NextPageToken)
	buf.Write(tok)
	if h.info != nil {
		info, err := json.Marshal(h.info())
		if err != nil {
			return err
		}
		buf.WriteString(`,"replica":`)
		buf.Write(info)
	}
	buf.WriteString("}\n")
	return nil
}

// itemJSON is the JSON of a slot's item as of asOf: kept by slot, day, version of the
// links table and the signing key's revocation, everything an item shows.
func (h *rosterView) itemJSON(ctx *itemCtx, s *rosterSlot, asOf schema.Date) ([]byte, error) {
	revoked := ctx.revokedAt(s.e.Winner.Kid)
	k := itemKey{s, asOf, ctx.linksVer, revoked}
	if b, ok := ctx.ix.shared.items.get(k); ok && ctx.linksVer != nil {
		return b, nil
	}
	it, err := h.slotItem(ctx, s, asOf, true)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(&it) // as an element of Items: addressable
	if err == nil && ctx.linksVer != nil {
		ctx.ix.shared.items.put(k, b)
	}
	return b, err
}

// index is the roster index of txn's snapshot if it can answer q, or nil: a database
// made without one, an index made with another catalog, or an order holding a key it
// cannot sort as the text cursors compare (one no validated record has).
func (h *rosterView) index(txn *memdb.Txn, q RosterQuery) *rosterIndex {
	ix := readIndex(txn)
	if h.scan || ix == nil || ix.catalog != h.catalog {
		return nil
	}
	o, ok := orderOf[strings.TrimPrefix(q.Sort, "-")]
	if !ok || ix.odd[o] > 0 {
		return nil
	}
	return ix
}

// indexed answers q from the index: it reports the exact total, then calls fn with the
// matching entries past the cursor after, in q.Sort's order, until fn returns false
// (with q.Limit set, with at most q.Limit+1 of them). The total comes from intersecting
// the filters' bit sets (and, with q.Q, reading the participant names of the matches);
// the entries, from walking the order and skipping what does not match, or from the
// matches themselves when they are few beside the roster.
func (h *rosterView) indexed(ix *rosterIndex, q RosterQuery, after string, total func(int), fn func(*rosterSlot) (bool, error)) error {
	m := matchSetPool.Get().(*matchSet)
	defer matchSetPool.Put(m)
	if !ix.match(q, m) {
		total(0)
		return nil
	}
	if q.Q != "" {
		m.materialize()
		m.count = 0
		text := strings.ToLower(q.Q)
		m.each(func(ord uint32) bool {
			m.count++
			if !slices.ContainsFunc(ix.slots.get(ord).e.Winner.Alliance.Participants, func(p schema.Participant) bool {
				return strings.Contains(strings.ToLower(p.Name), text)
			}) {
				m.drop(ord)
			}
			return true
		})
	}
	total(m.count)
	if m.count == 0 {
		return nil
	}
	w := walker{ix: ix, m: m, o: orderOf[strings.TrimPrefix(q.Sort, "-")], desc: strings.HasPrefix(q.Sort, "-"), after: after}
	var err error
	call := func(s *rosterSlot) bool {
		ok, ferr := fn(s)
		if ferr != nil {
			err = ferr
		}
		return ok && ferr == nil
	}
	size := int(ix.next)
	if q.Limit > 0 {
		// A page: the first limit+1 matches (one more tells there is a next page).
		// Walking the order finds them in about (limit+1)*size/count steps where
		// the matches are spread evenly; where they are not (the oldest expired
		// Alliances, newest first), a walk that has not found them within its budget
		// gives way to picking them from the matches, which costs about 2*count
		// steps.
		k := q.Limit + 1
		budget := 2*m.count + walkSlack
		var picked []*rosterSlot
		ok := false
		if k*size/m.count <= budget {
			picked, ok = w.walk(k, budget)
		}
		if !ok {
			picked = w.top(k)
		}
		for _, s := range picked {
			if !call(s) {
				break
			}
		}
		return err
	}
	// An export: every match, from the order or, when the matches are few beside the
	// roster, from sorting just them.
	if 4*m.count*bits.Len(uint(m.count)) < size {
		for _, s := range w.top(0) {
			if !call(s) {
				break
			}
		}
		return err
	}
	w.each(func(x uint32) bool {
		return !w.m.has(x) || call(ix.slots.get(x))
	})
	return err
}

// walkSlack is what a page's walk may take beyond twice the matches: about what
// picking from the matches costs at the least (a test varies it, to take both ways).
var walkSlack = 4096

// walker finds the matches of a query in its order, past its cursor.
type walker struct {
	ix    *rosterIndex
	m     *matchSet
	o     int  // the order
	desc  bool // reversed
	after string
}

// past reports whether s comes after the cursor in the walk.
func (w *walker) past(s *rosterSlot) bool {
	if w.after == "" {
		return true
	}
	c := cmpCursor(w.o, s, w.after)
	return c > 0 && !w.desc || c < 0 && w.desc
}

// before reports whether a comes before b in the walk.
func (w *walker) before(a, b *rosterSlot) bool {
	c := cmpSlots(w.o, a, b)
	return c < 0 && !w.desc || c > 0 && w.desc
}

// each calls fn with the order's ordinals past the cursor, in the walk's direction,
// until fn returns false.
func (w *walker) each(fn func(uint32) bool) {
	ord, ix := w.ix.orders[w.o], w.ix
	var p pos
	switch {
	case !w.desc && w.after == "":
	case !w.desc:
		p = ord.search(func(x uint32) bool { return cmpCursor(w.o, ix.slots.get(x), w.after) > 0 })
	default:
		end := pos{len(ord.blocks), 0}
		if w.after != "" {
			end = ord.search(func(x uint32) bool { return cmpCursor(w.o, ix.slots.get(x), w.after) >= 0 })
		}
		var ok bool
		if p, ok = ord.prev(end); !ok {
			return
		}
	}
	if w.desc {
		for b := p.b; b >= 0; b-- {
			blk := ord.blocks[b].ords
			if b == p.b {
				blk = blk[:p.i+1]
			}
			for i := len(blk) - 1; i >= 0; i-- {
				if !fn(blk[i]) {
					return
				}
			}
		}
		return
	}
	for b := p.b; b < len(ord.blocks); b++ {
		blk := ord.blocks[b].ords
		if b == p.b {
			blk = blk[p.i:]
		}
		for _, x := range blk {
			if !fn(x) {
				return
			}
		}
	}
}

// walk finds the first k matches by walking the order, or reports false if that takes
// more than budget steps.
func (w *walker) walk(k, budget int) ([]*rosterSlot, bool) {
	picked := make([]*rosterSlot, 0, k)
	steps := 0
	w.each(func(x uint32) bool {
		if steps++; steps > budget {
			return false
		}
		if w.m.has(x) {
			picked = append(picked, w.ix.slots.get(x))
		}
		return len(picked) < k
	})
	return picked, steps <= budget
}

// top picks the first k matches (every one for 0) from the matches themselves, in
// ordinal order, keeping the best k seen in a heap whose root is the last of them.
func (w *walker) top(k int) []*rosterSlot {
	var h []*rosterSlot
	w.m.each(func(x uint32) bool {
		s := w.ix.slots.get(x)
		switch {
		case !w.past(s):
		case k == 0 || len(h) < k:
			h = append(h, s)
			if k > 0 {
				for i := len(h) - 1; i > 0 && w.before(h[(i-1)/2], h[i]); i = (i - 1) / 2 {
					h[i], h[(i-1)/2] = h[(i-1)/2], h[i]
				}
			}
		case w.before(s, h[0]):
			h[0] = s
			for i := 0; ; {
				j := 2*i + 1
				if j >= len(h) {
					break
				}
				if j+1 < len(h) && w.before(h[j], h[j+1]) {
					j++
				}
				if !w.before(h[i], h[j]) {
					break
				}
				h[i], h[j] = h[j], h[i]
				i = j
			}
		}
		return true
	})
	slices.SortFunc(h, func(a, b *rosterSlot) int {
		if w.desc {
			return cmpSlots(w.o, b, a)
		}
		return cmpSlots(w.o, a, b)
	})
	return h
}

// match sets m to the ordinals matching q's indexed filters (all but the text), with
// their count, and reports whether every filter has a bit set to match.
func (ix *rosterIndex) match(q RosterQuery, m *matchSet) bool {
	m.sets, m.next, m.dense, m.count = m.sets[:0], ix.next, false, 0
	add := func(b *bitset) bool {
		m.sets = append(m.sets, b)
		return b != nil
	}
	k := countKey{ix: ix, program: q.Program, level: q.Level, status: q.Status, category: q.Category}
	if q.Program != "" && !add(ix.program[q.Program]) {
		return false
	}
	if q.Level != "" && !add(ix.level[string(q.Level)]) {
		return false
	}
	if q.Status != "" && !add(ix.status[string(q.Status)]) {
		return false
	}
	if q.Category != "" {
		i := slices.Index(nationalOrder[:], q.Category)
		if i < 0 || !add(ix.category[i]) {
			return false
		}
	}
	if q.Standing != "" {
		c, ok := standingCode(q.Standing)
		if !ok {
			return false
		}
		k.standing, k.day = c+1, dayNum(q.AsOf.First())
		if !add(ix.standingOn(k.day).sets[c]) {
			return false
		}
	}
	if len(m.sets) == 0 {
		add(ix.roster)
	}
	// The smallest set first: a walk's test of an ordinal mostly ends there.
	slices.SortFunc(m.sets, func(a, b *bitset) int { return a.n - b.n })
	m.count = ix.shared.counts.count(k, m.countAll)
	return true
}

// RosterSorts are the orders GET /v1/roster can answer in (sort=NAME, or -NAME for the
// reverse); ties are broken by id, so paging is stable.
var RosterSorts = []string{"id", "program", "participant", "signed_on", "expires_on"}

// sortKey is the text an order compares items by, and whether it is reversed.
func sortKey(sort string) (func(wire.RosterItem) string, bool) {
	desc := strings.HasPrefix(sort, "-")
	switch strings.TrimPrefix(sort, "-") {
	case "program":
		return func(it wire.RosterItem) string { return it.Program }, desc
	case "participant":
		return func(it wire.RosterItem) string {
			if len(it.Participants) == 0 {
				return ""
			}
			return strings.ToLower(it.Participants[0].Name)
		}, desc
	case "signed_on":
		return func(it wire.RosterItem) string { return it.SignedOn.String() }, desc
	case "expires_on":
		return func(it wire.RosterItem) string { return it.ExpiresOn.String() }, desc
	}
	return func(wire.RosterItem) string { return "" }, desc
}

func decodeToken(token string) (string, error) {
	if token == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", errBadPageToken
	}
	return string(b), nil
}

// eachRosterItem calls fn for every roster entry matching q, in id order, from txn's
// snapshot, reading every entry: the way without the index.
func (h *rosterView) eachRosterItem(txn *memdb.Txn, q RosterQuery, fn func(wire.RosterItem)) error {
	var (
		it  interface{ Next() any }
		err error
	)
	if q.Program != "" {
		it, err = ofProgram(txn, tableRecords, q.Program)
	} else {
		it, err = txn.Get(tableRecords, indexID)
	}
	if err != nil {
		return err
	}
	text := strings.ToLower(q.Q)
	for raw := it.Next(); raw != nil; raw = it.Next() {
		e := raw.(*entry)
		if !e.onRoster() {
			continue
		}
		a := e.Winner.Alliance
		if (q.Level != "" && a.Level != q.Level) || (q.Status != "" && a.Status != q.Status) {
			continue
		}
		if text != "" && !slices.ContainsFunc(a.Participants, func(p schema.Participant) bool {
			return strings.Contains(strings.ToLower(p.Name), text)
		}) {
			continue
		}
		item, err := h.rosterItem(txn, e, q.AsOf)
		if err != nil {
			return err
		}
		if q.Standing != "" && item.Standing != q.Standing {
			continue
		}
		if q.Category != "" && !slices.Contains(item.NationalCategories, q.Category) {
			continue
		}
		fn(item)
	}
	return nil
}

func (h *rosterView) rosterItem(txn *memdb.Txn, e *entry, asOf schema.Date) (wire.RosterItem, error) {
	a := e.Winner.Alliance
	cats := []string{}
	var comp *itemCompliance
	if def, ok := h.catalog.Get(e.Program); ok {
		cats = def.NationalCategories(a.Goals)
		var err error
		if comp, err = complianceOf(txn, a, def, asOf); err != nil {
			return wire.RosterItem{}, err
		}
	}
	links, err := linksOf(txn, a.ID) // related records in other programs (links.go)
	if err != nil {
		return wire.RosterItem{}, err
	}
	return rosterItemOf(e, cats, a.Standing(asOf), comp, links, keyRevokedAt(txn, e.Winner.Kid)), nil
}

// slotItem is rosterItem for an entry the index holds, from what the index knows of
// it: its categories, its standing timeline, and its compliance as computed for an
// earlier query on the same day while neither it nor its reports changed. keep says to
// keep the compliance and links read for later queries (pages, not exports).
func (h *rosterView) slotItem(ctx *itemCtx, s *rosterSlot, asOf schema.Date, keep bool) (wire.RosterItem, error) {
	e := s.e
	var comp *itemCompliance
	if def, ok := h.catalog.Get(e.Program); ok {
		var err error
		if comp, err = ctx.ix.shared.compliance(s, asOf, keep, func() (*itemCompliance, error) {
			return complianceOf(ctx.txn, e.Winner.Alliance, def, asOf)
		}); err != nil {
			return wire.RosterItem{}, err
		}
	}
	var links []wire.Link
	if !ctx.noLinks {
		var err error
		if links, err = ctx.ix.shared.links.of(ctx.txn, ctx.linksVer, e.ID, keep); err != nil {
			return wire.RosterItem{}, err
		}
	}
	return rosterItemOf(e, categoryLists[s.cats], standingCodes[s.tl.at(dayNum(asOf.First()))], comp, links, ctx.revokedAt(e.Winner.Kid)), nil
}

// itemCtx is what the items of one page or export share: the snapshot, the version of
// its links table, and the keys' revocations looked up so far (the items were signed
// with a few keys).
type itemCtx struct {
	txn      *memdb.Txn
	ix       *rosterIndex
	linksVer <-chan struct{}
	noLinks  bool // the items' links are not asked for (the CSV export has no column for them)
	kids     []string
	at       []*time.Time
}

func newItemCtx(txn *memdb.Txn, ix *rosterIndex) *itemCtx {
	return &itemCtx{txn: txn, ix: ix, linksVer: linksVersion(txn)}
}

func (c *itemCtx) revokedAt(kid string) *time.Time {
	if i := slices.Index(c.kids, kid); i >= 0 {
		return c.at[i]
	}
	at := keyRevokedAt(c.txn, kid)
	if len(c.kids) < 16 {
		c.kids, c.at = append(c.kids, kid), append(c.at, at)
	}
	return at
}

// itemCompliance is what a roster item says of an Alliance's reports and meetings.
type itemCompliance struct {
	wire.Compliance
	eligible bool // for Ambassador status
}

func complianceOf(txn *memdb.Txn, a *schema.Alliance, def *schema.Program, asOf schema.Date) (*itemCompliance, error) {
	reports, err := reportsOf(txn, a.ID)
	if err != nil {
		return nil, err
	}
	c := schema.ComplianceThrough(a, def, reports, asOf, asOf)
	return &itemCompliance{
		Compliance: wire.Compliance{NextReportDue: c.NextReportDue, OverdueReports: c.OverdueReports, MeetingsLast12Months: c.MeetingsLast12Months},
		eligible:   c.AmbassadorEligible,
	}, nil
}

// rosterItemOf makes a roster item of an entry on the roster (comp nil: its program has
// no definition here).
func rosterItemOf(e *entry, cats []string, standing schema.Standing, comp *itemCompliance, links []wire.Link, keyRevokedAt *time.Time) wire.RosterItem {
	if comp == nil {
		comp = &itemCompliance{}
	}
	return wire.RosterItem{
		Alliance:           e.Winner.Alliance,
		NationalCategories: cats,
		Standing:           standing,
		AmbassadorEligible: comp.eligible,
		Compliance:         comp.Compliance,
		Conflict:           e.Conflict,
		Links:              links,
		Provenance: wire.Provenance{
			Kid:        e.Winner.Kid,
			SignedAt:   e.Winner.SignedAt,
			ReceivedAt: e.Winner.ReceivedAt,
			// set when the signing key has since been revoked (hub/keys.go)
			KeyRevokedAt: keyRevokedAt,
		},
	}
}

// reportsOf lists the winning revisions of an Alliance's reports.
func reportsOf(txn *memdb.Txn, allianceID string) ([]*schema.Report, error) {
	it, err := txn.Get(tableRecords, indexAlliance, allianceID)
	if err != nil {
		return nil, err
	}
	var out []*schema.Report
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if r := raw.(*entry).Winner.Report; r != nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// rosterColumns are the CSV export's columns; lists are joined with "; ".
var rosterColumns = []string{
	"id", "rev", "program", "level", "office", "participants", "participant_types",
	"signed_on", "term_months", "expires_on", "status", "standing", "goal_categories",
	"national_categories", "emphasis_areas", "renewals", "conflict", "kid", "signed_at", "received_at",
	"ambassador_eligible", "next_report_due", "overdue_reports", "meetings_last_12_months",
}

// WriteRosterCSV streams every entry matching q as CSV, one row at a time, in q.Sort's
// order (the page token and limit play no part).
func (h *rosterView) WriteRosterCSV(w io.Writer, q RosterQuery) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(rosterColumns); err != nil {
		return err
	}
	txn := h.db.Txn(false)
	var err error
	if ix := h.index(txn, q); ix != nil {
		err = h.exportIndexed(cw, txn, ix, q)
	} else {
		var werr error
		write := func(it wire.RosterItem) {
			if werr == nil {
				werr = cw.Write(rosterRow(it))
			}
		}
		if q.Sort == "" || q.Sort == "id" {
			err = h.eachRosterItem(txn, q, write) // streamed, row by row
		} else {
			var all []wire.RosterItem
			all, err = h.sorted(txn, q)
			for _, it := range all {
				write(it)
			}
		}
		if err == nil {
			err = werr
		}
	}
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// exportBatch is a run of consecutive export rows, computed by one worker.
type exportBatch struct {
	slots []*rosterSlot
	rows  [][]string
	err   error
	done  chan struct{}
}

// exportBatchSize is the rows one export worker computes at a time; an export holds a
// few batches per core, never the whole roster.
const exportBatchSize = 256

// exportIndexed writes the rows of every entry matching q in q.Sort's order, computing
// them on every core while it writes them in order: most of a row's cost is its
// compliance (schema.ComplianceThrough), and the rows are independent.
func (h *rosterView) exportIndexed(cw *csv.Writer, txn *memdb.Txn, ix *rosterIndex, q RosterQuery) error {
	q.Limit = 0
	workers := runtime.GOMAXPROCS(0)
	queue := make(chan *exportBatch, 2*workers) // to the writer, in order
	work := make(chan *exportBatch)             // to the workers
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		ctx := newItemCtx(txn.Snapshot(), ix) // a transaction is not for sharing
		ctx.noLinks = true                    // rosterRow has no links column
		wg.Go(func() {
			for b := range work {
				for _, s := range b.slots {
					it, err := h.slotItem(ctx, s, q.AsOf, false)
					if err != nil {
						b.err = err
						break
					}
					b.rows = append(b.rows, rosterRow(it))
				}
				close(b.done)
			}
		})
	}
	var walkErr error
	go func() {
		defer close(queue)
		defer close(work)
		cur := &exportBatch{done: make(chan struct{})}
		send := func() bool {
			for _, ch := range []chan *exportBatch{queue, work} {
				select {
				case ch <- cur:
				case <-stop:
					return false
				}
			}
			cur = &exportBatch{done: make(chan struct{})}
			return true
		}
		walkErr = h.indexed(ix, q, "", func(int) {}, func(s *rosterSlot) (bool, error) {
			cur.slots = append(cur.slots, s)
			return len(cur.slots) < exportBatchSize || send(), nil
		})
		if len(cur.slots) > 0 {
			send()
		}
	}()
	var err error
	for b := range queue {
		if err != nil {
			continue // draining after a failure
		}
		<-b.done
		err = b.err
		for _, row := range b.rows {
			if err == nil {
				err = cw.Write(row)
			}
		}
		if err != nil {
			close(stop)
		}
	}
	wg.Wait()
	if err != nil {
		return err
	}
	return walkErr
}

func rosterRow(it wire.RosterItem) []string {
	row := rosterFields(it)
	for i := range row {
		row[i] = schema.DefuseCell(row[i])
	}
	return row
}

func rosterFields(it wire.RosterItem) []string {
	a := it.Alliance
	nextDue := ""
	if d := it.Compliance.NextReportDue; d != nil {
		nextDue = dateText(*d)
	}
	return []string{
		a.ID, a.Rev, a.Program, string(a.Level), a.Office,
		joinEach(a.Participants, func(p schema.Participant) string { return p.Name }),
		joinEach(a.Participants, func(p schema.Participant) string { return p.Type }),
		dateText(a.SignedOn), strconv.Itoa(a.TermMonths), dateText(a.ExpiresOn), string(a.Status), string(it.Standing),
		joinEach(a.Goals, func(g schema.Goal) string { return g.Category }),
		strings.Join(it.NationalCategories, "; "), strings.Join(a.EmphasisAreas, "; "),
		joinEach(a.Renewals, func(r schema.Renewal) string { return dateText(r.SignedOn) }),
		strconv.FormatBool(it.Conflict), it.Provenance.Kid,
		it.Provenance.SignedAt.UTC().Format("2006-01-02T15:04:05Z"), it.Provenance.ReceivedAt.UTC().Format("2006-01-02T15:04:05Z"),
		strconv.FormatBool(it.AmbassadorEligible), nextDue, strings.Join(it.Compliance.OverdueReports, "; "),
		strconv.Itoa(it.Compliance.MeetingsLast12Months),
	}
}

// joinEach joins what text says of each of xs with "; ".
func joinEach[T any](xs []T, text func(T) string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return text(xs[0])
	}
	var b strings.Builder
	for i, x := range xs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(text(x))
	}
	return b.String()
}

// dateText is d.String(), without fmt for a well-formed date: an export writes
// several per row.
func dateText(d schema.Date) string {
	if r, ok := dateRank(d); ok {
		var buf [10]byte
		return string(appendRank(buf[:0], r))
	}
	return d.String()
}
