package node

import (
	"container/heap"
	"encoding/base64"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/alliancehub/alliancehub/schema"
)

// Calendar item kinds.
const (
	ItemReportDue            = "report_due"            // a report's due date (state: upcoming, due, overdue, submitted)
	ItemTermEnds             = "term_ends"             // the current term ends (renew or conclude)
	ItemTerminationEffective = "termination_effective" // a termination takes effect
	ItemAmbassadorEligible   = "ambassador_eligible"   // the Alliance becomes, or is, eligible (seed 001)
	ItemMeetingsShort        = "meetings_short"        // fewer team meetings than required in the last 12 months
)

// CalendarItem is one dated obligation or event of one Alliance.
type CalendarItem struct {
	Date        schema.Date `json:"date"`
	Kind        string      `json:"kind"`
	State       string      `json:"state,omitempty"`
	AllianceID  string      `json:"alliance_id"`
	Participant string      `json:"participant"`
	Period      string      `json:"period,omitempty"`
	Detail      string      `json:"detail"`
}

// CalendarSummary counts, for the program as of the calendar's date, what needs doing.
type CalendarSummary struct {
	Alliances          int `json:"alliances"` // in force or owing something
	ReportsOverdue     int `json:"reports_overdue"`
	ReportsDue         int `json:"reports_due"` // due within the window, not yet submitted
	Expiring           int `json:"expiring"`
	MeetingsShort      int `json:"meetings_short"`
	AmbassadorEligible int `json:"ambassador_eligible"`
}

// Calendar is the compliance calendar: items dated in [From, To] plus everything
// outstanding as of AsOf (overdue reports, meetings short, Ambassador eligibility),
// whatever its date.
type Calendar struct {
	AsOf          schema.Date     `json:"as_of"`
	From          schema.Date     `json:"from"`
	To            schema.Date     `json:"to"`
	Summary       CalendarSummary `json:"summary"`
	Items         []CalendarItem  `json:"items"`
	Total         int             `json:"total"`
	NextPageToken string          `json:"next_page_token"`
}

// CalendarQuery selects calendar items.
type CalendarQuery struct {
	AsOf, From, To schema.Date // full dates
	AllianceID     string      // one Alliance, or all
	Kind           string      // one item kind, or all
	State          string      // one state, or all
	Limit          int
	Token          string
}

// Calendar computes the program's compliance calendar.
//
// Its cost follows the window and the history, not the length of the terms: each
// Alliance's obligations are enumerated only up to the later of to and as_of (every
// overdue report is listed, whatever its date; a term renewed to 2200 adds nothing
// beyond the window), items are kept only as far as the page asked for (the rest are
// counted), and their text is written only for the items on the page.
func (n *Node) Calendar(q CalendarQuery) (*Calendar, error) {
	offset, ok := calendarOffset(q.Token)
	if !ok {
		return nil, errBadPageToken
	}
	if q.Limit <= 0 {
		q.Limit = DefaultPageSize
	}
	from, to, asOf := q.From.First(), q.To.First(), q.AsOf.First()
	inWindow := func(d schema.Date) bool {
		return !d.IsZero() && !d.Last().Before(from) && !d.First().After(to)
	}
	through := q.To
	if asOf.After(to) {
		through = q.AsOf
	}
	cal := &Calendar{AsOf: q.AsOf, From: q.From, To: q.To, Items: []CalendarItem{}}
	page := calendarPage{keep: offset + q.Limit}
	if page.keep < offset { // overflow: keep everything
		page.keep = math.MaxInt
	}
	txn := n.db.Txn(false) // one snapshot for the whole calendar
	it, err := txn.Get(tableAlliances, indexID)
	if err != nil {
		return nil, err
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		s := raw.(*stored)
		a := s.Alliance
		if s.Deleted || a.Status == schema.StatusDraft || (q.AllianceID != "" && a.ID != q.AllianceID) {
			continue
		}
		reports, err := reportsIn(txn, a.ID)
		if err != nil {
			return nil, err
		}
		// One computation per Alliance, cut at the window: the calendar's items are its
		// obligations.
		c := schema.ComplianceThrough(a, n.program, reports, q.AsOf, through)
		name := ""
		if len(a.Participants) > 0 {
			name = a.Participants[0].Name
		}
		item := func(d schema.Date, kind, state, period string, ob int) {
			if (q.Kind != "" && kind != q.Kind) || (q.State != "" && state != q.State) {
				return
			}
			cal.Total++
			page.offer(calendarEntry{
				at: d.First().Unix(), seq: cal.Total,
				item:       CalendarItem{Date: d, Kind: kind, State: state, AllianceID: a.ID, Participant: name, Period: period},
				alliance:   a,
				compliance: &c,
				obligation: ob,
			})
		}
		owes := false
		for i, o := range c.Obligations {
			if o.State == schema.ObligationOverdue {
				cal.Summary.ReportsOverdue++
				owes = true
			}
			if !inWindow(o.DueOn) && o.State != schema.ObligationOverdue {
				continue
			}
			if o.State == schema.ObligationDue || o.State == schema.ObligationUpcoming {
				cal.Summary.ReportsDue++
				owes = true
			}
			item(o.DueOn, ItemReportDue, o.State, o.Period, i)
		}
		inForce := a.InForce()
		if a.Status == schema.StatusActive || a.Status == schema.StatusRenewed {
			if inWindow(a.ExpiresOn) {
				item(a.ExpiresOn, ItemTermEnds, "", "", -1)
			}
		}
		if c.Expiring {
			cal.Summary.Expiring++
		}
		if t := a.Termination; t != nil && inWindow(t.EffectiveOn) {
			item(t.EffectiveOn, ItemTerminationEffective, "", "", -1)
		}
		// Ambassador eligibility is the same day compliance reports
		// (Alliance.AmbassadorEligibleOn: the day after the renewal term's last day).
		if e := c.AmbassadorEligibleOn; e != nil && (inWindow(*e) || c.AmbassadorEligible) {
			state := "upcoming"
			if c.AmbassadorEligible {
				state = "eligible"
				cal.Summary.AmbassadorEligible++
			}
			item(*e, ItemAmbassadorEligible, state, "", -1)
		}
		if c.MeetingsShort {
			cal.Summary.MeetingsShort++
			item(q.AsOf, ItemMeetingsShort, "", "", -1)
		}
		if owes || (!asOf.Before(inForce.From) && asOf.Before(inForce.Until)) {
			cal.Summary.Alliances++
		}
	}
	for _, e := range page.sorted()[min(offset, len(page.entries)):] {
		e.item.Detail = e.detail()
		cal.Items = append(cal.Items, e.item)
	}
	if next := offset + len(cal.Items); next < cal.Total {
		cal.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(next)))
	}
	return cal, nil
}

// calendarOffset reads a calendar page token: how many items earlier pages held (0 for
// the first page); ok is false for a token this server did not issue.
func calendarOffset(token string) (offset int, ok bool) {
	if token == "" {
		return 0, true
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return 0, false
	}
	offset, err = strconv.Atoi(string(b))
	return offset, err == nil && offset >= 0
}

// calendarEntry is an item before its text is written: what orders it, and what its
// detail is written from once it is on the page.
type calendarEntry struct {
	at         int64 // the item's date, in Unix seconds
	seq        int   // the order it was found in: Alliances in id order, then as listed
	item       CalendarItem
	alliance   *schema.Alliance
	compliance *schema.Compliance
	obligation int // report_due: the index in compliance.Obligations
}

// before orders items by date, then Alliance, then kind, then as found (the order a
// stable sort on the first three gives).
func (e *calendarEntry) before(o *calendarEntry) bool {
	switch {
	case e.at != o.at:
		return e.at < o.at
	case e.item.AllianceID != o.item.AllianceID:
		return e.item.AllianceID < o.item.AllianceID
	case e.item.Kind != o.item.Kind:
		return e.item.Kind < o.item.Kind
	}
	return e.seq < o.seq
}

// detail is the item's text.
func (e *calendarEntry) detail() string {
	a, c := e.alliance, e.compliance
	switch e.item.Kind {
	case ItemReportDue:
		o := c.Obligations[e.obligation]
		if o.State == schema.ObligationSubmitted {
			d := fmt.Sprintf("%s report for %s submitted %s", o.Cadence, o.Period, o.ReportedOn)
			if o.Late {
				d += fmt.Sprintf(", after its due date %s", o.DueOn)
			}
			return d
		}
		return fmt.Sprintf("%s report for %s (%s to %s) due %s", o.Cadence, o.Period, o.From, o.To, o.DueOn)
	case ItemTermEnds:
		return fmt.Sprintf("term ends %s: renew or conclude", a.ExpiresOn)
	case ItemTerminationEffective:
		return fmt.Sprintf("termination takes effect %s (notice %s)", a.Termination.EffectiveOn, a.Termination.NoticeOn)
	case ItemAmbassadorEligible:
		return fmt.Sprintf("eligible for Ambassador status from %s: initial term and one renewal completed (seed 001)", *c.AmbassadorEligibleOn)
	case ItemMeetingsShort:
		return fmt.Sprintf("%d implementation team meetings in the 12 months to %s, the latest the reports cover; at least %d a year (CSP 04-01-001 VII.F)",
			c.MeetingsInJudgedYear, c.MeetingsJudgedThrough, c.MeetingsRequired)
	}
	return ""
}

// calendarPage keeps the first keep items in calendar order (a max-heap on that order,
// its last item on top) out of however many are offered.
type calendarPage struct {
	keep    int
	entries []calendarEntry
}

func (p *calendarPage) Len() int           { return len(p.entries) }
func (p *calendarPage) Less(i, j int) bool { return p.entries[j].before(&p.entries[i]) }
func (p *calendarPage) Swap(i, j int)      { p.entries[i], p.entries[j] = p.entries[j], p.entries[i] }
func (p *calendarPage) Push(x any)         { p.entries = append(p.entries, x.(calendarEntry)) }
func (p *calendarPage) Pop() any {
	last := p.entries[len(p.entries)-1]
	p.entries = p.entries[:len(p.entries)-1]
	return last
}

// offer keeps e if it is among the first keep items so far.
func (p *calendarPage) offer(e calendarEntry) {
	switch {
	case len(p.entries) < p.keep:
		heap.Push(p, e)
	case e.before(&p.entries[0]):
		p.entries[0] = e
		heap.Fix(p, 0)
	}
}

// sorted is the items kept, in calendar order.
func (p *calendarPage) sorted() []calendarEntry {
	sort.Slice(p.entries, func(i, j int) bool { return p.entries[i].before(&p.entries[j]) })
	return p.entries
}
