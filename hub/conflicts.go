package hub

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/hashicorp/go-memdb"
	"github.com/labstack/echo/v4"
)

// ErrNotConflicted is a conflict asked for by the id of a record that has none.
var ErrNotConflicted = errors.New("no open conflict for this record")

// Conflict is one record with competing branches: each branch's latest revision (a
// leaf), which one the roster shows, and how they differ.
type Conflict struct {
	ID          string         `json:"id"`
	Program     string         `json:"program"`
	Kind        schema.Kind    `json:"kind"`
	WinningRev  string         `json:"winning_rev"`
	Leaves      []ConflictLeaf `json:"leaves"`
	Differences []FieldDiff    `json:"differences"`
	// Acknowledged is DCSP's note on this conflict, while its leaves are the ones the
	// note was made on; a new branch reopens it.
	Acknowledged *Ack `json:"acknowledged,omitempty"`
}

// ConflictLeaf is the latest revision of one branch.
type ConflictLeaf struct {
	Rev        string    `json:"rev"`
	PrevRev    string    `json:"prev_rev,omitempty"`
	Deleted    bool      `json:"deleted,omitempty"` // a tombstone
	Kid        string    `json:"kid"`
	SignedAt   time.Time `json:"signed_at"`
	ReceivedAt time.Time `json:"received_at"`
	HubSeq     uint64    `json:"hub_seq"`
}

// FieldDiff is one top-level field whose value is not the same in every leaf: the value
// in each, by rev (null where a leaf has no such field).
type FieldDiff struct {
	Field  string                     `json:"field"`
	Values map[string]json.RawMessage `json:"values"`
}

// Ack is DCSP's acknowledgement of a conflict. It never changes a program's record: only
// the owner program resolves a conflict, with a revision that names the losers.
type Ack struct {
	ID     string    `json:"id"`
	Leaves []string  `json:"leaves"` // the leaves acknowledged, sorted
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Note   string    `json:"note,omitempty"`
}

// maxAckNote bounds an acknowledgement's note.
const maxAckNote = 2000

// conflictOf describes an entry's conflict from the stored revisions of its record.
func conflictOf(txn *memdb.Txn, e *entry) (*Conflict, error) {
	var nodes []revNode
	byRev := map[string]*revision{}
	for _, r := range e.Revs {
		nodes = append(nodes, r.node())
		byRev[r.Rev] = r
	}
	c := &Conflict{ID: e.ID, Program: e.Program, Kind: e.Kind, WinningRev: e.Winner.Rev, Leaves: []ConflictLeaf{}, Differences: []FieldDiff{}}
	bodies := map[string]map[string]json.RawMessage{}
	var revs []string
	for _, l := range leavesOf(nodes) {
		r := byRev[l.Rev]
		c.Leaves = append(c.Leaves, ConflictLeaf{Rev: r.Rev, PrevRev: r.Prev, Deleted: l.Deleted, Kid: r.Kid,
			SignedAt: r.SignedAt, ReceivedAt: r.ReceivedAt, HubSeq: r.HubSeq})
		bodies[r.Rev] = fieldsOf(r)
		revs = append(revs, r.Rev)
	}
	slices.SortFunc(c.Leaves, func(a, b ConflictLeaf) int { return strings.Compare(b.Rev, a.Rev) })
	slices.Sort(revs)
	fields := map[string]bool{}
	for _, b := range bodies {
		for f := range b {
			fields[f] = true
		}
	}
	for _, f := range slices.Sorted(maps.Keys(fields)) {
		d := FieldDiff{Field: f, Values: map[string]json.RawMessage{}}
		same := true
		for _, rev := range revs {
			v := bodies[rev][f]
			if v == nil {
				v = json.RawMessage("null")
			}
			d.Values[rev] = v
			same = same && bytes.Equal(v, d.Values[revs[0]])
		}
		if !same {
			c.Differences = append(c.Differences, d)
		}
	}
	raw, err := txn.First(tableAcks, indexID, e.ID)
	if err != nil {
		return nil, err
	}
	if raw != nil && slices.Equal(raw.(*Ack).Leaves, revs) {
		c.Acknowledged = raw.(*Ack)
	}
	return c, nil
}

// fieldsOf is a revision's body as top-level fields in compact JSON, without its rev.
func fieldsOf(r *revision) map[string]json.RawMessage {
	var v any = map[string]bool{"deleted": true}
	switch {
	case r.Alliance != nil:
		v = r.Alliance
	case r.Report != nil:
		v = r.Report
	}
	raw, _ := json.Marshal(v)
	var m map[string]json.RawMessage
	json.Unmarshal(raw, &m)
	delete(m, "rev")
	for k, val := range m {
		var buf bytes.Buffer
		if json.Compact(&buf, val) == nil {
			m[k] = buf.Bytes()
		}
	}
	return m
}

// ConflictQuery filters the conflict queue.
type ConflictQuery struct {
	Program      string
	Acknowledged *bool
	Limit        int
	Token        string // the last id of the previous page
}

// ConflictPage is one page of the conflict queue (CONTRACT.md list shape).
type ConflictPage struct {
	Items         []*Conflict `json:"items"`
	Total         int         `json:"total"`
	NextPageToken string      `json:"next_page_token"`
}

// Conflicts lists the records with competing branches, in id order.
func (h *rosterView) Conflicts(q ConflictQuery) (*ConflictPage, error) {
	after := ""
	if q.Token != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.Token)
		if err != nil {
			return nil, errBadPageToken
		}
		after = string(b)
	}
	txn := h.db.Txn(false)
	it, err := txn.Get(tableRecords, indexConflict, true)
	if err != nil {
		return nil, err
	}
	var all []*entry
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if e := raw.(*entry); q.Program == "" || e.Program == q.Program {
			all = append(all, e)
		}
	}
	slices.SortFunc(all, func(a, b *entry) int { return strings.Compare(a.ID, b.ID) })
	page := &ConflictPage{Items: []*Conflict{}}
	for _, e := range all {
		c, err := conflictOf(txn, e)
		if err != nil {
			return nil, err
		}
		if q.Acknowledged != nil && (c.Acknowledged != nil) != *q.Acknowledged {
			continue
		}
		page.Total++
		switch {
		case e.ID <= after:
		case q.Limit == 0 || len(page.Items) < q.Limit:
			page.Items = append(page.Items, c)
		case page.NextPageToken == "":
			page.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(page.Items[len(page.Items)-1].ID))
		}
	}
	return page, nil
}

// Conflict describes one record's open conflict.
func (h *rosterView) Conflict(id string) (*Conflict, error) {
	txn := h.db.Txn(false)
	raw, err := txn.First(tableRecords, indexID, id)
	if err != nil {
		return nil, err
	}
	if raw == nil || !raw.(*entry).Conflict {
		return nil, fmt.Errorf("%w: %s", ErrNotConflicted, id)
	}
	return conflictOf(txn, raw.(*entry))
}

// Acknowledge records DCSP's acknowledgement of a record's current conflict, durably. It
// annotates; it never writes a program's record.
func (h *Hub) Acknowledge(id, by, note string) (*Conflict, error) {
	if len(note) > maxAckNote {
		return nil, &schema.ValidationError{Fields: []schema.FieldError{{Field: "note", Message: "at most " + strconv.Itoa(maxAckNote) + " characters"}}}
	}
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	c, err := h.Conflict(id)
	if err != nil {
		return nil, err
	}
	ack := &Ack{ID: id, By: by, At: h.now().UTC(), Note: note}
	for _, l := range c.Leaves {
		ack.Leaves = append(ack.Leaves, l.Rev)
	}
	slices.Sort(ack.Leaves)
	txn := h.db.Txn(true)
	defer txn.Abort()
	err = h.journal.Update(func(tx *journal.Tx) error {
		return h.appendNote(tx, txn, &hubNote{Kind: noteConflictAck, Ack: ack})
	})
	if err != nil {
		return nil, fmt.Errorf("acknowledge %s: %w", id, err)
	}
	txn.Commit()
	c.Acknowledged = ack
	return c, nil
}

// AllianceAt is one stored revision of an Alliance, as its program signed it (a node
// resolving a conflict reads a competing leaf's content here).
func (h *rosterView) AllianceAt(id, rev string) (*schema.Alliance, error) {
	r, err := h.revisionAt(id, rev)
	if err != nil {
		return nil, err
	}
	if r == nil || r.Alliance == nil {
		return nil, fmt.Errorf("%w: no Alliance revision %s of %s", ErrNotConflicted, rev, id)
	}
	return r.Alliance, nil
}

// ReportAt is one stored revision of a report, as its program signed it: AllianceAt's
// counterpart for a conflict on a report.
func (h *rosterView) ReportAt(id, rev string) (*schema.Report, error) {
	r, err := h.revisionAt(id, rev)
	if err != nil {
		return nil, err
	}
	if r == nil || r.Report == nil {
		return nil, fmt.Errorf("%w: no report revision %s of %s", ErrNotConflicted, rev, id)
	}
	return r.Report, nil
}

// revisionAt is revision rev of record id, nil if not stored.
func (h *rosterView) revisionAt(id, rev string) (*revision, error) {
	return revisionOf(h.db.Txn(false), id, rev)
}

// Conflict queue page sizes.
const (
	defaultConflictLimit = 50
	maxConflictLimit     = 500
)

func (h *Hub) handleConflicts(c echo.Context) error {
	var errs schema.ValidationError
	q := ConflictQuery{Program: c.QueryParam("program"), Token: c.QueryParam("page_token"), Limit: defaultConflictLimit}
	if q.Program != "" && !schema.ValidProgramCode(q.Program) {
		errs.Add("program", "is not a program code")
	}
	switch s := c.QueryParam("acknowledged"); s {
	case "":
	case "true", "false":
		b := s == "true"
		q.Acknowledged = &b
	default:
		errs.Add("acknowledged", "must be true or false")
	}
	q.Limit = edge.PageLimit(c, &errs, q.Limit, maxConflictLimit)
	if err := edge.QueryProblem(&errs); err != nil {
		return err
	}
	page, err := h.Conflicts(q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}

func (h *Hub) handleConflict(c echo.Context) error {
	out, err := h.Conflict(c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// handleResolve serves POST /v1/conflicts/{id}/resolve: DCSP (analyst or admin)
// acknowledges a conflict with an optional note.
func (h *Hub) handleResolve(c echo.Context) error {
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
	out, err := h.Acknowledge(c.Param("id"), edge.Claims(c).Subject, req.Note)
	if err != nil {
		return err
	}
	h.log.Info("conflict acknowledged", "id", out.ID, "by", edge.Claims(c).Subject)
	return c.JSON(http.StatusOK, out)
}
