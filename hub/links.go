package hub

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/hashicorp/go-memdb"
	"github.com/labstack/echo/v4"
)

// Cross-program links (issue 5, item 3): the same Alliance recorded by two programs, a
// federal Alliance co-signed by a State Plan, is linked when some participant names
// match (schema.NamesMatch) and the two terms overlap. Links are derived state: they are
// recomputed in the write transaction that applies an Alliance's revision, and rebuilt
// at start. DCSP's decisions on them (confirm, reject) are durable facts about a pair of
// records, kept in the journal.

// memdb tables of links (schema in dbSchema).
const (
	tableLinks         = "links"          // linkRow by link id
	tableLinkDecisions = "link_decisions" // linkDecision by link id

	indexState = "state"
)

// ErrUnknownLink is a link id the hub does not show.
var ErrUnknownLink = errors.New("no such link")

// maxLinkNote bounds a decision's note.
const maxLinkNote = 2000

// linkRow is one link in memdb. Objects read from memdb are shared: copy before changing.
// It holds the pair and DCSP's decision only: what the link shows (the names matched,
// the discrepancies) follows from the two records' winners and is made when it is shown
// (linkOf). Held, it was a few kilobytes of maps and messages a link, and at 1,000,000
// records there are hundreds of thousands of links (issue 7). Any new winner of either
// record rewrites the row (relinkTxn), so a snapshot's rows and entries agree.
type linkRow struct {
	ID        string
	RecordIDs []string // the two record ids, sorted
	State     string
	Decision  *wire.LinkDecision // nil while proposed
	Pairs     []uint16           // the participants that match (matchNames)
}

// linkOf is the link a row stands for, as the API shows it.
func linkOf(txn *memdb.Txn, row *linkRow) (wire.Link, error) {
	var es [2]*entry
	for i, id := range row.RecordIDs {
		e, err := entryOf(txn, id)
		if err != nil {
			return wire.Link{}, err
		}
		if e == nil || !e.onRoster() {
			return wire.Link{}, fmt.Errorf("link %s: record %s is not on the roster", row.ID, id)
		}
		es[i] = e
	}
	l := linkFrom(es[0].Winner.Alliance, es[1].Winner.Alliance, row.Pairs)
	l.State, l.Decision = wire.LinkState(row.State), row.Decision
	return *l, nil
}

// decidedIndex indexes the decided links (confirmed, rejected) by state, and not the
// proposed ones, most of them: GET /v1/links?state=proposed walks the id index instead,
// and each link costs one radix leaf fewer.
type decidedIndex struct{ *memdb.StringFieldIndex }

func (d decidedIndex) FromObject(obj any) (bool, []byte, error) {
	if obj.(*linkRow).State == string(wire.LinkProposed) {
		return false, nil, nil
	}
	return d.StringFieldIndex.FromObject(obj)
}

// linkDecision is DCSP's decision on a link, as the journal keeps it.
type linkDecision struct {
	ID        string   `json:"id"`
	RecordIDs []string `json:"records"`
	wire.LinkDecision
}

// LinkID is the stable id of the link between two records, whichever order they come
// in: a hash of the two ids, sorted.
func LinkID(a, b string) string {
	if b < a {
		a, b = b, a
	}
	sum := sha256.Sum256([]byte(a + "\n" + b))
	return "L-" + hex.EncodeToString(sum[:10])
}

// linkable reports whether an Alliance can be linked: it is on the roster and signed, so
// it has a term.
func linkable(e *entry) bool {
	return e != nil && e.onRoster() && !e.Winner.Alliance.SignedOn.IsZero()
}

// term is the span an Alliance is in force: from the first day its signing date may
// mean to the last day its expiry may mean (a partial date counts as its whole month or
// year); open-ended when it has no expiry.
func term(a *schema.Alliance) (from, to time.Time) {
	from = a.SignedOn.First()
	to = time.Date(9999, time.December, 31, 0, 0, 0, 0, time.UTC)
	if !a.ExpiresOn.IsZero() {
		to = a.ExpiresOn.Last()
	}
	return from, to
}

func overlap(a, b *schema.Alliance) bool {
	af, at := term(a)
	bf, bt := term(b)
	return !af.After(bt) && !bf.After(at)
}

// daysApart is how many days lie between two dates' spans: 0 when one may mean the same
// day as the other.
func daysApart(a, b schema.Date) int {
	switch {
	case a.Last().Before(b.First()):
		return int(b.First().Sub(a.Last()).Hours() / 24)
	case b.Last().Before(a.First()):
		return int(a.First().Sub(b.Last()).Hours() / 24)
	}
	return 0
}

// compareAlliances links a to b: the participant names that match, and the fields the
// two records disagree on. ok is the matcher's rule: a name matches and the terms
// overlap.
func compareAlliances(a, b *schema.Alliance) (l *wire.Link, ok bool) {
	if b.ID < a.ID {
		a, b = b, a
	}
	pairs, ok := linkRule(a, b, nil, nil)
	return linkFrom(a, b, pairs), ok
}

// linkRule is the matcher's rule for a and b: ok when a participant name matches (pairs,
// by matchNames) and both are signed with overlapping terms. na and nb are their
// participants' names already read (nil: read them now).
func linkRule(a, b *schema.Alliance, na, nb []schema.Name) (pairs []uint16, ok bool) {
	pairs = matchNames(a, b, na, nb)
	return pairs, len(pairs) > 0 && !a.SignedOn.IsZero() && !b.SignedOn.IsZero() && overlap(a, b)
}

// readNames reads the participants' names of a for matching (schema.ParseName).
func readNames(a *schema.Alliance) []schema.Name {
	names := make([]schema.Name, len(a.Participants))
	for i, p := range a.Participants {
		names[i] = schema.ParseName(p.Name)
	}
	return names
}

// matchNames is which participants of a match which of b (schema.Name.Matches), as
// pairs of indexes: a's, then b's. Parsing and comparing names is most of what a
// comparison costs, so a link row keeps these pairs and shows the link from them
// (linkOf) without comparing names again.
// na and nb are the names already read (readNames), or nil.
func matchNames(a, b *schema.Alliance, na, nb []schema.Name) []uint16 {
	if len(na) != len(a.Participants) {
		na = readNames(a)
	}
	if len(nb) != len(b.Participants) {
		nb = readNames(b)
	}
	var pairs []uint16
	for i := range na {
		for j := range nb {
			if na[i].Matches(nb[j]) {
				pairs = append(pairs, uint16(i), uint16(j)) // at most 200 participants (schema)
			}
		}
	}
	return pairs
}

// linkFrom is the link of a and b (a.ID < b.ID) whose matching participants are pairs
// (matchNames): the names matched, and the fields the two records disagree on.
func linkFrom(a, b *schema.Alliance, pairs []uint16) *wire.Link {
	l := &wire.Link{
		ID:            LinkID(a.ID, b.ID),
		State:         wire.LinkProposed,
		Records:       []wire.LinkRecord{{ID: a.ID, Program: a.Program, Rev: a.Rev}, {ID: b.ID, Program: b.Program, Rev: b.Rev}},
		Matched:       []map[string]string{},
		Discrepancies: []wire.Discrepancy{},
	}
	inA, inB := make([]bool, len(a.Participants)), make([]bool, len(b.Participants))
	for k := 0; k+1 < len(pairs); k += 2 {
		i, j := int(pairs[k]), int(pairs[k+1])
		if i >= len(a.Participants) || j >= len(b.Participants) {
			continue // never: pairs are of these two Alliances
		}
		l.Matched = append(l.Matched, map[string]string{a.ID: a.Participants[i].Name, b.ID: b.Participants[j].Name})
		inA[i], inB[j] = true, true
	}

	add := func(field, va, vb string, days int, msg string) {
		l.Discrepancies = append(l.Discrepancies, wire.Discrepancy{
			Field: field, Values: map[string]string{a.ID: va, b.ID: vb}, Days: days, Message: msg,
		})
	}
	date := func(field string, da, db schema.Date) {
		if da == db {
			return
		}
		if da.IsZero() || db.IsZero() {
			add(field, da.String(), db.String(), 0, field+" is known to one record only")
			return
		}
		if n := daysApart(da, db); n > 0 {
			add(field, da.String(), db.String(), n, fmt.Sprintf("%s differs by %d day%s", field, n, plural(n)))
			return
		}
		add(field, da.String(), db.String(), 0, field+" is known to different precision")
	}
	// Signing dates a few days apart are common in real documents (DOMAIN.md, "Real data
	// is messy"): shown, never a reason not to link.
	date("signed_on", a.SignedOn, b.SignedOn)
	if a.TermMonths != b.TermMonths {
		add("term_months", strconv.Itoa(a.TermMonths), strconv.Itoa(b.TermMonths), 0,
			fmt.Sprintf("terms of %d and %d months", a.TermMonths, b.TermMonths))
	}
	date("expires_on", a.ExpiresOn, b.ExpiresOn)
	if a.Status != b.Status {
		add("status", string(a.Status), string(b.Status), 0, fmt.Sprintf("recorded as %s and %s", a.Status, b.Status))
	}
	onlyA, onlyB := unmatched(a.Participants, inA), unmatched(b.Participants, inB)
	if onlyA != "" || onlyB != "" {
		add("participants", onlyA, onlyB, 0, "participants named in one record only")
	}
	return l
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// unmatched joins the names of the participants no name of the other record matched.
func unmatched(ps []schema.Participant, matched []bool) string {
	var names []string
	for i, p := range ps {
		if !matched[i] {
			names = append(names, p.Name)
		}
	}
	return strings.Join(names, "; ")
}

// allianceKeys are the name keys of an Alliance's participants.
func allianceKeys(a *schema.Alliance) []string {
	var keys []string
	for _, p := range a.Participants {
		for _, k := range schema.NameKeys(p.Name) {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// relinkTxn recomputes the links of one record inside a write transaction, after a
// revision of it was applied: the matcher's links to records of other programs, and the
// links DCSP decided on, which stay (with their decision) while both records are on the
// roster, whatever the matcher says of them now.
func relinkTxn(txn *memdb.Txn, id string) error {
	return relinkKeysTxn(txn, id, nil, nil)
}

// nameKeys are a revision's name keys and names as relinkTxn uses them, made before the
// write transaction (checkBatch, or start-up's decoding on every core) from the revision
// alone: the commit, which every writer waits for, only reads them. Reading names is
// most of what comparing two records costs (BenchmarkCompareAlliances).
type nameKeys struct {
	rv    *revision     // the revision they are of
	keys  []uint64      // the hashes of allianceKeys of its Alliance (keyHash)
	names []schema.Name // its participants' names, read for matching (readNames)
}

// newNameKeys makes rv's name keys, or nil if relinkTxn would never read them: rv is not
// a signed Alliance.
func newNameKeys(rv *revision) *nameKeys {
	if rv.Alliance == nil || rv.Alliance.SignedOn.IsZero() {
		return nil
	}
	return &nameKeys{rv: rv, keys: keyHashes(allianceKeys(rv.Alliance)), names: readNames(rv.Alliance)}
}

// relinkKeysTxn is relinkTxn with the name keys of a revision made beforehand (nil:
// none), used if that revision is the record's winner, and those of other records'
// revisions (known, by record id; nil: none), used for the partners they are the winners
// of.
func relinkKeysTxn(txn *memdb.Txn, id string, pre *nameKeys, known map[string]*nameKeys) error {
	names, err := nameIndexOf(txn)
	if err != nil {
		return err
	}
	if _, err := txn.DeleteAll(tableLinks, indexRecord, id); err != nil {
		return err
	}
	e, err := entryOf(txn, id)
	if err != nil || e == nil || !e.onRoster() {
		if err == nil {
			names.set(id, "", nil)
		}
		return err
	}
	partners := map[string]*entry{}
	// A name with nothing to compare ("A", "Inc.") has no keys, and matches nothing.
	var keys []uint64
	var own []schema.Name
	switch {
	case !linkable(e):
	case pre != nil && pre.rv == e.Winner && pre.rv.Program == e.Program:
		keys, own = pre.keys, pre.names
	default:
		keys = keyHashes(allianceKeys(e.Winner.Alliance))
	}
	names.set(id, e.Program, keys)
	if len(keys) > 0 {
		var ids []string
		for _, k := range keys {
			ids = names.others(k, e.Program, ids)
		}
		for _, other := range ids {
			if _, seen := partners[other]; seen {
				continue
			}
			pe, err := entryOf(txn, other)
			if err != nil {
				return err
			}
			if linkable(pe) {
				partners[other] = pe
			}
		}
	}
	it, err := txn.Get(tableLinkDecisions, indexRecord, id)
	if err != nil {
		return err
	}
	var decided []string
	for raw := it.Next(); raw != nil; raw = it.Next() {
		for _, other := range raw.(*linkDecision).RecordIDs {
			if other != id {
				decided = append(decided, other)
			}
		}
	}
	for _, other := range decided {
		if _, seen := partners[other]; seen {
			continue
		}
		pe, err := entryOf(txn, other)
		if err != nil {
			return err
		}
		if pe != nil && pe.onRoster() {
			partners[other] = pe
		}
	}
	if own == nil && len(partners) > 0 && linkable(e) {
		own = readNames(e.Winner.Alliance) // once, not once a partner
	}
	for _, pe := range partners {
		a, b := e.Winner.Alliance, pe.Winner.Alliance
		na, nb := own, []schema.Name(nil)
		if k := known[pe.ID]; k != nil && k.rv == pe.Winner {
			nb = k.names
		}
		if b.ID < a.ID {
			a, b, na, nb = b, a, nb, na
		}
		pairs, ok := linkRule(a, b, na, nb)
		row := &linkRow{ID: LinkID(a.ID, b.ID), RecordIDs: []string{a.ID, b.ID}, State: string(wire.LinkProposed), Pairs: pairs}
		raw, err := txn.First(tableLinkDecisions, indexID, row.ID)
		if err != nil {
			return err
		}
		if raw != nil {
			d := raw.(*linkDecision).LinkDecision
			row.State, row.Decision = string(d.State), &d
		} else if !ok {
			continue
		}
		if err := txn.Insert(tableLinks, row); err != nil {
			return err
		}
	}
	return nil
}

// relinkAllTxn computes every record's links (at start, after the journal is replayed).
// Each record finds the ones indexed before it, so each link is made once. pre holds
// name keys already made of revisions (nil: none); those of a record's winner are used.
func relinkAllTxn(txn *memdb.Txn, pre map[string]*nameKeys) error {
	it, err := txn.Get(tableRecords, indexID)
	if err != nil {
		return err
	}
	var ids []string
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if e := raw.(*entry); e.onRoster() {
			ids = append(ids, e.ID)
		}
	}
	for _, id := range ids {
		if err := relinkKeysTxn(txn, id, pre[id], pre); err != nil {
			return fmt.Errorf("links of %s: %w", id, err)
		}
	}
	return nil
}

func entryOf(txn *memdb.Txn, id string) (*entry, error) {
	raw, err := txn.First(tableRecords, indexID, id)
	if err != nil || raw == nil {
		return nil, err
	}
	return raw.(*entry), nil
}

// linksOf lists a record's links in id order; an empty list, never nil.
func linksOf(txn *memdb.Txn, id string) ([]wire.Link, error) {
	it, err := txn.Get(tableLinks, indexRecord, id)
	if err != nil {
		return nil, err
	}
	out := []wire.Link{}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		l, err := linkOf(txn, raw.(*linkRow))
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b wire.Link) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// LinkQuery filters the links.
type LinkQuery struct {
	State   wire.LinkState // "": every state
	Program string         // links with a record of this program
	Limit   int            // 0: no limit
	Token   string         // from the previous page
}

// LinkPage is one page of links (CONTRACT.md list shape).
type LinkPage struct {
	Items         []wire.Link `json:"items"`
	Total         int         `json:"total"`
	NextPageToken string      `json:"next_page_token"`
}

// Links lists links in id order, from one consistent snapshot.
func (h *rosterView) Links(q LinkQuery) (*LinkPage, error) {
	after := ""
	if q.Token != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.Token)
		if err != nil {
			return nil, errBadPageToken
		}
		after = string(b)
	}
	txn := h.db.Txn(false)
	var (
		it  memdb.ResultIterator
		err error
	)
	if q.State != "" && q.State != wire.LinkProposed {
		it, err = txn.Get(tableLinks, indexState, string(q.State)) // in id order within a state
	} else {
		it, err = txn.Get(tableLinks, indexID)
	}
	if err != nil {
		return nil, err
	}
	page := &LinkPage{Items: []wire.Link{}}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		row := raw.(*linkRow)
		if q.State != "" && row.State != string(q.State) {
			continue
		}
		if q.Program != "" && !strings.HasPrefix(row.RecordIDs[0], q.Program+"-") && !strings.HasPrefix(row.RecordIDs[1], q.Program+"-") {
			continue
		}
		page.Total++
		switch {
		case row.ID <= after:
		case q.Limit == 0 || len(page.Items) < q.Limit:
			l, err := linkOf(txn, row)
			if err != nil {
				return nil, err
			}
			page.Items = append(page.Items, l)
		case page.NextPageToken == "":
			page.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(page.Items[len(page.Items)-1].ID))
		}
	}
	return page, nil
}

// Link is one link by id.
func (h *rosterView) Link(id string) (*wire.Link, error) {
	txn := h.db.Txn(false)
	raw, err := txn.First(tableLinks, indexID, id)
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownLink, id)
	}
	l, err := linkOf(txn, raw.(*linkRow))
	if err != nil {
		return nil, err
	}
	return &l, nil
}

// DecideLink records DCSP's decision on a link, durably: confirmed (the two records are
// one Alliance, counted once) or rejected (they are not; the link stays visible as
// rejected and both records count). A later decision replaces an earlier one. It never
// changes a program's record.
func (h *Hub) DecideLink(id string, state wire.LinkState, by, note string) (*wire.Link, error) {
	if state != wire.LinkConfirmed && state != wire.LinkRejected {
		return nil, fmt.Errorf("decide link %s: state %q is not a decision", id, state)
	}
	if n := len([]rune(note)); n > maxLinkNote {
		return nil, &schema.ValidationError{Fields: []schema.FieldError{{Field: "note", Message: fmt.Sprintf("is %d characters; at most %d", n, maxLinkNote)}}}
	}
	// Links change only under writeMu (in apply, and here), so the link read now is the
	// one the decision is written on.
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	read := h.db.Txn(false)
	raw, err := read.First(tableLinks, indexID, id)
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownLink, id)
	}
	row := *raw.(*linkRow)
	l, err := linkOf(read, &row)
	if err != nil {
		return nil, err
	}
	d := &linkDecision{ID: id, RecordIDs: row.RecordIDs, LinkDecision: wire.LinkDecision{
		State: state, By: by, At: h.now().UTC(), Note: note,
		Revs: map[string]string{l.Records[0].ID: l.Records[0].Rev, l.Records[1].ID: l.Records[1].Rev},
	}}
	// The journal first, with the note that carries the decision to the nodes: a
	// decision the hub answered for survives a crash.
	txn := h.db.Txn(true)
	defer txn.Abort()
	err = h.journal.Update(func(tx *journal.Tx) error {
		return h.appendNote(tx, txn, &hubNote{Kind: noteLinkDecision, LinkDecision: d})
	})
	if err != nil {
		return nil, fmt.Errorf("decide link %s: %w", id, err)
	}
	dec := d.LinkDecision
	l.State, l.Decision = state, &dec
	row.State, row.Decision = string(state), &dec
	if err := txn.Insert(tableLinks, &row); err != nil {
		return nil, err
	}
	txn.Commit()
	return &l, nil
}

// Link list page sizes.
const (
	defaultLinkLimit = 50
	maxLinkLimit     = 500
)

// handleLinks serves GET /v1/links?state=&program=&limit=&page_token= (any token: links
// are part of the national roster).
func (h *Hub) handleLinks(c echo.Context) error {
	var errs schema.ValidationError
	q := LinkQuery{State: wire.LinkState(c.QueryParam("state")), Program: c.QueryParam("program"),
		Token: c.QueryParam("page_token"), Limit: defaultLinkLimit}
	switch q.State {
	case "", wire.LinkProposed, wire.LinkConfirmed, wire.LinkRejected:
	default:
		errs.Add("state", "must be proposed, confirmed or rejected")
	}
	if q.Program != "" && !schema.ValidProgramCode(q.Program) {
		errs.Add("program", "is not a program code")
	}
	q.Limit = edge.PageLimit(c, &errs, q.Limit, maxLinkLimit)
	if err := edge.QueryProblem(&errs); err != nil {
		return err
	}
	page, err := h.Links(q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}

func (h *Hub) handleLink(c echo.Context) error {
	l, err := h.Link(c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, l)
}

func (h *Hub) handleConfirmLink(c echo.Context) error { return h.decideLink(c, wire.LinkConfirmed) }

func (h *Hub) handleRejectLink(c echo.Context) error { return h.decideLink(c, wire.LinkRejected) }

// decideLink serves POST /v1/links/{id}/confirm and /reject: DCSP (analyst or admin)
// decides, with an optional note. A program may not: a link is DCSP's reading of two
// programs' records, and neither program owns it.
func (h *Hub) decideLink(c echo.Context, state wire.LinkState) error {
	if err := edge.Require(c, auth.RoleAnalyst, auth.RoleAdmin); err != nil {
		return err
	}
	var req struct {
		Note string `json:"note"`
	}
	if c.Request().ContentLength != 0 {
		if err := edge.DecodeJSON(c, &req); err != nil {
			return err
		}
	}
	by := edge.Claims(c).Subject
	l, err := h.DecideLink(c.Param("id"), state, by, strings.TrimSpace(req.Note))
	if err != nil {
		return err
	}
	h.log.Info("link decided", "link", l.ID, "state", state, "by", by)
	return c.JSON(http.StatusOK, l)
}
