package hub

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/labstack/echo/v4"
)

// ErrNotOnRoster is GET /v1/roster/{id} for an id the roster does not hold.
var ErrNotOnRoster = errors.New("no Alliance with this id on the roster")

// RosterEntry is one Alliance as GET /v1/roster/{id} shows it: the roster item, every
// stored revision with its signature and arrival, its reports, and how fresh the owning
// program's node is.
type RosterEntry struct {
	wire.RosterItem
	Revisions []RevisionView `json:"revisions"`
	Reports   []ReportRef    `json:"reports"`
	// Node is the owning program's sync state (on the hub; absent on a node's replica).
	Node *ProgramSync `json:"node,omitempty"`
}

// RevisionView is one stored revision of a record: who signed it with which key, when,
// when the hub received it, and where it stands in the record's history.
type RevisionView struct {
	Rev        string      `json:"rev"`
	PrevRev    string      `json:"prev_rev,omitempty"`
	Kind       schema.Kind `json:"kind"`
	Kid        string      `json:"kid"`
	SignedAt   time.Time   `json:"signed_at"`
	ReceivedAt time.Time   `json:"received_at"`
	HubSeq     uint64      `json:"hub_seq"`
	Resolves   []string    `json:"resolves,omitempty"`
	// KeyRevokedAt is set when the signing key was revoked (after the hub accepted this
	// revision): the revision stays, flagged.
	KeyRevokedAt *time.Time `json:"key_revoked_at,omitempty"`
	Leaf         bool       `json:"leaf"`   // the latest of its branch
	Winner       bool       `json:"winner"` // the revision the roster shows
}

// ReportRef names one of the Alliance's reports and the revision the roster counts.
type ReportRef struct {
	ID       string `json:"id"`
	Period   string `json:"period"`
	Rev      string `json:"rev"`
	Conflict bool   `json:"conflict"`
}

// Entry answers GET /v1/roster/{id} as of asOf.
func (h *rosterView) Entry(id string, asOf schema.Date) (*RosterEntry, error) {
	txn := h.db.Txn(false)
	raw, err := txn.First(tableRecords, indexID, id)
	if err != nil {
		return nil, err
	}
	if raw == nil || !raw.(*entry).onRoster() {
		return nil, fmt.Errorf("%w: %s", ErrNotOnRoster, id)
	}
	e := raw.(*entry)
	item, err := h.rosterItem(txn, e, asOf)
	if err != nil {
		return nil, err
	}
	out := &RosterEntry{RosterItem: item, Revisions: []RevisionView{}, Reports: []ReportRef{}}
	revs := e.Revs
	var nodes []revNode
	for _, r := range revs {
		nodes = append(nodes, r.node())
	}
	leaf := map[string]bool{}
	for _, l := range leavesOf(nodes) {
		leaf[l.Rev] = true
	}
	for _, r := range revs {
		out.Revisions = append(out.Revisions, RevisionView{Rev: r.Rev, PrevRev: r.Prev, Kind: r.Kind, Kid: r.Kid,
			SignedAt: r.SignedAt, ReceivedAt: r.ReceivedAt, HubSeq: r.HubSeq, Resolves: r.Resolves,
			KeyRevokedAt: keyRevokedAt(txn, r.Kid), Leaf: leaf[r.Rev], Winner: r.Rev == e.Winner.Rev})
	}
	// Newest first: by generation, then arrival.
	slices.SortFunc(out.Revisions, func(a, b RevisionView) int {
		ga, _, _ := schema.ParseRev(a.Rev)
		gb, _, _ := schema.ParseRev(b.Rev)
		if ga != gb {
			return gb - ga
		}
		return int(b.HubSeq) - int(a.HubSeq)
	})
	rit, err := txn.Get(tableRecords, indexAlliance, id)
	if err != nil {
		return nil, err
	}
	for raw := rit.Next(); raw != nil; raw = rit.Next() {
		if r := raw.(*entry); r.Winner.Report != nil {
			out.Reports = append(out.Reports, ReportRef{ID: r.ID, Period: r.Winner.Report.Period, Rev: r.Winner.Rev, Conflict: r.Conflict})
		}
	}
	slices.SortFunc(out.Reports, func(a, b ReportRef) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// handleEntry serves GET /v1/roster/{id}[?as_of=DATE].
func (h *Hub) handleEntry(c echo.Context) error {
	asOf, err := parseAsOf(c, schema.DateOf(h.now().In(h.loc)))
	if err != nil {
		return err
	}
	out, err := h.Entry(c.Param("id"), asOf)
	if err != nil {
		return err
	}
	if raw, _ := h.db.Txn(false).First(tablePrograms, indexID, out.Program); raw != nil {
		v := h.view(raw.(*programState))
		out.Node = &v.Sync
	}
	return c.JSON(http.StatusOK, out)
}

// ServeEntry answers GET /v1/roster/{id} from a node's replica.
func (r *Replica) ServeEntry(c echo.Context, today schema.Date) error {
	asOf, err := parseAsOf(c, today)
	if err != nil {
		return err
	}
	out, err := r.Entry(c.Param("id"), asOf)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// parseAsOf reads an optional as_of day.
func parseAsOf(c echo.Context, today schema.Date) (schema.Date, error) {
	s := c.QueryParam("as_of")
	if s == "" {
		return today, nil
	}
	d, err := schema.ParseDate(s)
	if err != nil || d.Precision() != schema.PrecisionDay {
		return d, edge.FieldProblem("as_of", "must be a date YYYY-MM-DD")
	}
	return d, nil
}
