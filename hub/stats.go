package hub

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/labstack/echo/v4"
)

// Stats are the national totals (GET /v1/stats): Alliances on the roster, with each
// linked group counted once, by program, level, standing on AsOf, national category and
// year signed.
type Stats struct {
	AsOf schema.Date `json:"as_of"`
	// Total counts Alliances: every roster record, less those another record of their
	// linked group represents. Each of the By maps but ByCategory sums to it.
	Total int `json:"total"`
	// Records counts roster records; Duplicates is Records - Total.
	Records    int `json:"records"`
	Duplicates int `json:"duplicates"`
	// LinkedGroups counts the groups of records joined by links that are not rejected.
	LinkedGroups int `json:"linked_groups"`
	// ByProgram counts each Alliance under the program of the record that represents it;
	// RecordsByProgram counts every record under its own program.
	ByProgram        map[string]int `json:"by_program"`
	RecordsByProgram map[string]int `json:"records_by_program"`
	ByLevel          map[string]int `json:"by_level"`
	ByStanding       map[string]int `json:"by_standing"`
	// ByCategory counts an Alliance once in each national category its goals map to.
	ByCategory   map[string]int `json:"by_category"`
	ByYearSigned map[string]int `json:"by_year_signed"` // "unknown" for drafts
}

// fedProgram is federal OSHA's program code: its record represents a linked group.
const fedProgram = "FED"

// Stats computes the national totals as of asOf from one consistent snapshot.
//
// Records joined by links that are confirmed or proposed (not rejected), directly or
// through each other, form a group. A program records an Alliance once, so a group
// counts as many Alliances as the program with the most records in it holds (usually
// one), and those records represent it: the federal ones when FED holds the most, else
// the program with the lowest code among those holding the most (for a pair of State
// Plan records, the lower id). The representatives give the group's program, level,
// standing, categories and year.
func (h *rosterView) Stats(asOf schema.Date) (*Stats, error) {
	txn := h.db.Txn(false)
	s := &Stats{
		AsOf: asOf, ByProgram: map[string]int{}, RecordsByProgram: map[string]int{},
		ByLevel: map[string]int{}, ByStanding: map[string]int{}, ByCategory: map[string]int{}, ByYearSigned: map[string]int{},
	}
	// Every known key is listed, so a reader sees a zero rather than a missing key.
	for _, l := range []schema.Level{schema.LevelNational, schema.LevelRegional, schema.LevelArea, schema.LevelState} {
		s.ByLevel[string(l)] = 0
	}
	for _, st := range []schema.Standing{schema.StandingDraft, schema.StandingActive, schema.StandingExpiring, schema.StandingExpired,
		schema.StandingConcluded, schema.StandingTerminated, schema.StandingAmbassador} {
		s.ByStanding[string(st)] = 0
	}
	for c := range schema.NationalLabels {
		s.ByCategory[c] = 0
	}
	it, err := txn.Get(tablePrograms, indexID)
	if err != nil {
		return nil, err
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		code := raw.(*programState).Code
		s.ByProgram[code], s.RecordsByProgram[code] = 0, 0
	}

	records := map[string]*entry{}
	var ids []string
	if it, err = txn.Get(tableRecords, indexID); err != nil {
		return nil, err
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if e := raw.(*entry); e.onRoster() {
			records[e.ID] = e
			ids = append(ids, e.ID)
		}
	}
	groups := newUnion()
	if it, err = txn.Get(tableLinks, indexID); err != nil {
		return nil, err
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		l := raw.(*linkRow)
		if l.State == string(wire.LinkRejected) || records[l.RecordIDs[0]] == nil || records[l.RecordIDs[1]] == nil {
			continue
		}
		groups.join(l.RecordIDs[0], l.RecordIDs[1])
	}
	members := map[string][]string{} // by group root, in id order
	for _, id := range ids {
		r := groups.find(id)
		members[r] = append(members[r], id)
	}
	for _, id := range ids {
		e := records[id]
		s.Records++
		s.RecordsByProgram[e.Program]++
		group := members[groups.find(id)]
		if len(group) > 1 && group[0] == id {
			s.LinkedGroups++
		}
		if !represents(e, group, records) {
			s.Duplicates++
			continue
		}
		a := e.Winner.Alliance
		s.Total++
		s.ByProgram[e.Program]++
		s.ByLevel[string(a.Level)]++
		s.ByStanding[string(a.Standing(asOf))]++
		if def, ok := h.catalog.Get(e.Program); ok {
			for _, c := range def.NationalCategories(a.Goals) {
				s.ByCategory[c]++
			}
		}
		year := "unknown"
		if !a.SignedOn.IsZero() {
			year = strconv.Itoa(a.SignedOn.Year)
		}
		s.ByYearSigned[year]++
	}
	return s, nil
}

// represents reports whether e is counted for its linked group (Stats).
func represents(e *entry, group []string, records map[string]*entry) bool {
	if len(group) < 2 {
		return true
	}
	per := map[string]int{}
	for _, id := range group {
		per[records[id].Program]++
	}
	most := 0
	for _, n := range per {
		most = max(most, n)
	}
	if per[fedProgram] == most {
		return e.Program == fedProgram
	}
	var tied []string
	for p, n := range per {
		if n == most {
			tied = append(tied, p)
		}
	}
	return e.Program == slices.Min(tied)
}

// union is a union-find over record ids: the linked groups.
type union map[string]string

func newUnion() union { return union{} }

func (u union) find(id string) string {
	for {
		p, ok := u[id]
		if !ok || p == id {
			return id
		}
		if gp, ok := u[p]; ok {
			u[id] = gp // halve the path
		}
		id = p
	}
}

// join puts a and b in one group; the lower id is the root, so groups are stable.
func (u union) join(a, b string) {
	ra, rb := u.find(a), u.find(b)
	switch {
	case ra == rb:
	case ra < rb:
		u[rb] = ra
	default:
		u[ra] = rb
	}
}

// handleStats serves GET /v1/stats?as_of= (any token: the totals of the national
// roster, which every token may read).
func (h *Hub) handleStats(c echo.Context) error {
	asOf := schema.DateOf(h.now().In(h.loc))
	if s := c.QueryParam("as_of"); s != "" {
		d, err := schema.ParseDate(s)
		if err != nil || d.Precision() != schema.PrecisionDay {
			return edge.FieldProblem("as_of", "must be a date YYYY-MM-DD")
		}
		asOf = d
	}
	s, err := h.Stats(asOf)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s)
}
