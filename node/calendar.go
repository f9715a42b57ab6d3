package node

import (
	"encoding/base64"
	"fmt"
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
func (n *Node) Calendar(q CalendarQuery) (*Calendar, error) {
	offset := 0
	if q.Token != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.Token)
		if err != nil {
			return nil, errBadPageToken
		}
		if offset, err = strconv.Atoi(string(b)); err != nil || offset < 0 {
			return nil, errBadPageToken
		}
	}
	if q.Limit <= 0 {
		q.Limit = DefaultPageSize
	}
	from, to, asOf := q.From.First(), q.To.First(), q.AsOf.First()
	inWindow := func(d schema.Date) bool {
		return !d.IsZero() && !d.Last().Before(from) && !d.First().After(to)
	}
	cal := &Calendar{AsOf: q.AsOf, From: q.From, To: q.To, Items: []CalendarItem{}}
	var all []CalendarItem
	it, err := n.db.Txn(false).Get(tableAlliances, indexID)
	if err != nil {
		return nil, err
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		s := raw.(*stored)
		a := s.Alliance
		if s.Deleted || a.Status == schema.StatusDraft || (q.AllianceID != "" && a.ID != q.AllianceID) {
			continue
		}
		reports, err := n.Reports(a.ID)
		if err != nil {
			return nil, err
		}
		// One computation per Alliance: the calendar's items are its obligations.
		c := schema.ComplianceOf(a, n.program, reports, q.AsOf)
		name := ""
		if len(a.Participants) > 0 {
			name = a.Participants[0].Name
		}
		item := func(d schema.Date, kind, state, period, detail string) {
			all = append(all, CalendarItem{Date: d, Kind: kind, State: state, AllianceID: a.ID, Participant: name, Period: period, Detail: detail})
		}
		owes := false
		for _, o := range c.Obligations {
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
			detail := fmt.Sprintf("%s report for %s (%s to %s) due %s", o.Cadence, o.Period, o.From, o.To, o.DueOn)
			if o.State == schema.ObligationSubmitted {
				detail = fmt.Sprintf("%s report for %s submitted %s", o.Cadence, o.Period, o.ReportedOn)
				if o.Late {
					detail += fmt.Sprintf(", after its due date %s", o.DueOn)
				}
			}
			item(o.DueOn, ItemReportDue, o.State, o.Period, detail)
		}
		inForce := a.InForce()
		if a.Status == schema.StatusActive || a.Status == schema.StatusRenewed {
			if inWindow(a.ExpiresOn) {
				item(a.ExpiresOn, ItemTermEnds, "", "", fmt.Sprintf("term ends %s: renew or conclude", a.ExpiresOn))
			}
		}
		if c.Expiring {
			cal.Summary.Expiring++
		}
		if t := a.Termination; t != nil && inWindow(t.EffectiveOn) {
			item(t.EffectiveOn, ItemTerminationEffective, "", "", fmt.Sprintf("termination takes effect %s (notice %s)", t.EffectiveOn, t.NoticeOn))
		}
		if e := c.AmbassadorEligibleOn; e != nil && (inWindow(*e) || c.AmbassadorEligible) {
			state := "upcoming"
			if c.AmbassadorEligible {
				state = "eligible"
				cal.Summary.AmbassadorEligible++
			}
			item(*e, ItemAmbassadorEligible, state, "", fmt.Sprintf("eligible for Ambassador status from %s: initial term and one renewal completed (seed 001)", *e))
		}
		if c.MeetingsShort {
			cal.Summary.MeetingsShort++
			item(q.AsOf, ItemMeetingsShort, "", "", fmt.Sprintf("%d implementation team meetings in the last 12 months; at least %d a year (CSP 04-01-001 VII.F)", c.MeetingsLast12Months, c.MeetingsRequired))
		}
		if owes || (!asOf.Before(inForce.From) && asOf.Before(inForce.Until)) {
			cal.Summary.Alliances++
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if !a.Date.First().Equal(b.Date.First()) {
			return a.Date.First().Before(b.Date.First())
		}
		if a.AllianceID != b.AllianceID {
			return a.AllianceID < b.AllianceID
		}
		return a.Kind < b.Kind
	})
	for _, it := range all {
		if (q.Kind != "" && it.Kind != q.Kind) || (q.State != "" && it.State != q.State) {
			continue
		}
		cal.Total++
		if cal.Total > offset && len(cal.Items) < q.Limit {
			cal.Items = append(cal.Items, it)
		}
	}
	if next := offset + len(cal.Items); next < cal.Total {
		cal.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(next)))
	}
	return cal, nil
}
