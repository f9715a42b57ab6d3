package hub

import (
	"encoding/base64"
	"encoding/csv"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"

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
}

var errBadPageToken = errors.New("page_token is not one this server issued")

// Roster answers a roster query in id order. Each item carries its national categories,
// its standing as of the query's date, its conflict state and its provenance.
func (h *rosterView) Roster(q RosterQuery) (*RosterPage, error) {
	after, err := decodeToken(q.Token)
	if err != nil {
		return nil, err
	}
	page := &RosterPage{Items: []wire.RosterItem{}}
	if h.info != nil {
		page.Replica = h.info()
	}
	key, desc := sortKey(q.Sort)
	cursor := func(it wire.RosterItem) string { return key(it) + "\x00" + it.ID }
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
		return page, h.eachRosterItem(q, add) // already in id order
	}
	all, err := h.sorted(q)
	for _, it := range all {
		add(it)
	}
	return page, err
}

// sorted collects every item matching q in q.Sort's order.
func (h *rosterView) sorted(q RosterQuery) ([]wire.RosterItem, error) {
	var all []wire.RosterItem
	err := h.eachRosterItem(q, func(it wire.RosterItem) { all = append(all, it) })
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

// eachRosterItem calls fn for every roster entry matching q, in id order, from one
// consistent snapshot; it never blocks writers.
func (h *rosterView) eachRosterItem(q RosterQuery, fn func(wire.RosterItem)) error {
	txn := h.db.Txn(false)
	var (
		it  interface{ Next() any }
		err error
	)
	if q.Program != "" {
		it, err = txn.Get(tableRecords, indexProgram, q.Program)
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
	var comp wire.Compliance
	eligible := false
	if def, ok := h.catalog.Get(e.Program); ok {
		cats = def.NationalCategories(a.Goals)
		reports, err := reportsOf(txn, a.ID)
		if err != nil {
			return wire.RosterItem{}, err
		}
		c := schema.ComplianceThrough(a, def, reports, asOf, asOf)
		comp = wire.Compliance{NextReportDue: c.NextReportDue, OverdueReports: c.OverdueReports, MeetingsLast12Months: c.MeetingsLast12Months}
		eligible = c.AmbassadorEligible
	}
	links, err := linksOf(txn, a.ID) // related records in other programs (links.go)
	if err != nil {
		return wire.RosterItem{}, err
	}
	return wire.RosterItem{
		Alliance:           a,
		NationalCategories: cats,
		Standing:           a.Standing(asOf),
		AmbassadorEligible: eligible,
		Compliance:         comp,
		Conflict:           e.Conflict,
		Links:              links,
		Provenance: wire.Provenance{
			Kid:        e.Winner.Kid,
			SignedAt:   e.Winner.SignedAt,
			ReceivedAt: e.Winner.ReceivedAt,
			// set when the signing key has since been revoked (hub/keys.go)
			KeyRevokedAt: keyRevokedAt(txn, e.Winner.Kid),
		},
	}, nil
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

// WriteRosterCSV streams every entry matching q as CSV, one row at a time.
func (h *rosterView) WriteRosterCSV(w io.Writer, q RosterQuery) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(rosterColumns); err != nil {
		return err
	}
	var werr error
	write := func(it wire.RosterItem) {
		if werr != nil {
			return
		}
		werr = cw.Write(rosterRow(it))
	}
	var err error
	if q.Sort == "" || q.Sort == "id" {
		err = h.eachRosterItem(q, write) // streamed, row by row
	} else {
		var all []wire.RosterItem
		all, err = h.sorted(q)
		for _, it := range all {
			write(it)
		}
	}
	if err != nil {
		return err
	}
	if werr != nil {
		return werr
	}
	cw.Flush()
	return cw.Error()
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
	var names, types, goals, renewals []string
	for _, p := range a.Participants {
		names = append(names, p.Name)
		types = append(types, p.Type)
	}
	for _, g := range a.Goals {
		goals = append(goals, g.Category)
	}
	for _, r := range a.Renewals {
		renewals = append(renewals, r.SignedOn.String())
	}
	nextDue := ""
	if d := it.Compliance.NextReportDue; d != nil {
		nextDue = d.String()
	}
	return []string{
		a.ID, a.Rev, a.Program, string(a.Level), a.Office, strings.Join(names, "; "), strings.Join(types, "; "),
		a.SignedOn.String(), strconv.Itoa(a.TermMonths), a.ExpiresOn.String(), string(a.Status), string(it.Standing),
		strings.Join(goals, "; "), strings.Join(it.NationalCategories, "; "), strings.Join(a.EmphasisAreas, "; "),
		strings.Join(renewals, "; "), strconv.FormatBool(it.Conflict), it.Provenance.Kid,
		it.Provenance.SignedAt.UTC().Format("2006-01-02T15:04:05Z"), it.Provenance.ReceivedAt.UTC().Format("2006-01-02T15:04:05Z"),
		strconv.FormatBool(it.AmbassadorEligible), nextDue, strings.Join(it.Compliance.OverdueReports, "; "),
		strconv.Itoa(it.Compliance.MeetingsLast12Months),
	}
}
