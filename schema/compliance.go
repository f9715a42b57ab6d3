package schema

import (
	"sort"
	"time"
)

// Obligation states, as of a date.
const (
	ObligationUpcoming  = "upcoming"  // the period has not ended
	ObligationDue       = "due"       // the period has ended; the report is not yet late
	ObligationOverdue   = "overdue"   // past its due date with no report
	ObligationSubmitted = "submitted" // a report for the period exists
)

// Obligation is one report an Alliance owes: the period, the days it covers, when it is
// due and where it stands.
type Obligation struct {
	AllianceID string  `json:"alliance_id"`
	Period     string  `json:"period"`
	Cadence    Cadence `json:"cadence"`
	From       Date    `json:"from"`
	To         Date    `json:"to"`
	DueOn      Date    `json:"due_on"`
	State      string  `json:"state"`
	ReportedOn Date    `json:"reported_on,omitzero"`
	Late       bool    `json:"late,omitempty"` // submitted after its due date
}

// Compliance is what an Alliance owes and has done, as of a date (CONTRACT.md roster
// "compliance", plus the detail behind it).
type Compliance struct {
	AsOf Date `json:"as_of"`
	// NextReportDue is the due date of the earliest report not yet submitted and not yet
	// late; null when nothing more is owed.
	NextReportDue    *Date  `json:"next_report_due"`
	NextReportPeriod string `json:"next_report_period,omitempty"`
	// OverdueReports lists the periods whose report is past due, oldest first.
	OverdueReports []string `json:"overdue_reports"`
	// Obligations is every report owed over the Alliance's term, in due order.
	Obligations []Obligation `json:"obligations"`
	// Implementation team meetings held in the twelve months up to AsOf, counted from
	// the reports; fewer than the program's MeetingsPerYear (three: CSP 04-01-001 VII.F)
	// is flagged once the Alliance has been in force for those whole twelve months.
	MeetingsLast12Months int  `json:"meetings_last_12_months"`
	MeetingsRequired     int  `json:"meetings_required"`
	MeetingsShort        bool `json:"meetings_short"`
	// Expiring: the current term ends within 90 days.
	Expiring             bool  `json:"expiring"`
	AmbassadorEligible   bool  `json:"ambassador_eligible"`
	AmbassadorEligibleOn *Date `json:"ambassador_eligible_on,omitempty"`
}

// reportingSpan is the span in which an Alliance owes reports: while in force, and not
// once it is an Ambassador (Ambassadors have no reporting requirements, seed 001).
func (a *Alliance) reportingSpan() Span {
	s := a.InForce()
	if a.Status == StatusAmbassador {
		if a.AmbassadorOn.IsZero() {
			return Span{}
		}
		if on := a.AmbassadorOn.First(); on.Before(s.Until) {
			s.Until = on
		}
		if s.Until.Before(s.From) {
			s.Until = s.From
		}
	}
	return s
}

// Obligations lists every report the Alliance owes under its program's rules, in due
// order, with its state as of asOf: one for each period that ends while the Alliance is
// in force (and, for an Ambassador, before it became one). reports holds the
// Alliance's reports by period.
func Obligations(a *Alliance, p *Program, reports map[string]*Report, asOf Date) []Obligation {
	span := a.reportingSpan()
	day := asOf.First()
	var out []Obligation
	for _, rule := range p.Reports {
		for _, per := range periodsOverlapping(rule, anchorDay(a), span) {
			ps := per.Span(rule.Anchor, anchorDay(a))
			if ps.Until.After(span.Until) {
				// Deliberate: a period the Alliance did not live to the end of (it
				// expired, concluded, was terminated or became an Ambassador first) is
				// not owed, so an ended Alliance never shows overdue for ever.
				continue
			}
			o := Obligation{
				AllianceID: a.ID, Period: per.String(), Cadence: rule.Cadence,
				From: DateOf(ps.From), To: DateOf(ps.Last()), DueOn: DateOf(per.Due(rule, anchorDay(a))),
			}
			due := o.DueOn.First()
			switch r := reports[o.Period]; {
			case r != nil:
				o.State, o.ReportedOn = ObligationSubmitted, r.ReportedOn
				o.Late = r.ReportedOn.First().After(due)
			case day.After(due):
				o.State = ObligationOverdue
			case !day.Before(ps.Until):
				o.State = ObligationDue
			default:
				o.State = ObligationUpcoming
			}
			out = append(out, o)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].DueOn.First().Before(out[j].DueOn.First()) })
	return out
}

// ComplianceOf computes the Alliance's compliance as of asOf from its reports.
func ComplianceOf(a *Alliance, p *Program, reports []*Report, asOf Date) Compliance {
	byPeriod := make(map[string]*Report, len(reports))
	for _, r := range reports {
		byPeriod[r.Period] = r
	}
	c := Compliance{AsOf: asOf, OverdueReports: []string{}, MeetingsRequired: p.MeetingsPerYear}
	c.Obligations = Obligations(a, p, byPeriod, asOf)
	if c.Obligations == nil {
		c.Obligations = []Obligation{}
	}
	for _, o := range c.Obligations {
		switch o.State {
		case ObligationOverdue:
			c.OverdueReports = append(c.OverdueReports, o.Period)
		case ObligationDue, ObligationUpcoming:
			if c.NextReportDue == nil {
				due := o.DueOn
				c.NextReportDue, c.NextReportPeriod = &due, o.Period
			}
		}
	}
	day := asOf.First()
	since := day.AddDate(-1, 0, 0)
	held := map[time.Time]bool{}
	for _, r := range reports {
		for _, m := range r.Meetings {
			if m.HeldOn.Precision() != PrecisionDay {
				continue
			}
			if d := m.HeldOn.First(); d.After(since) && !d.After(day) {
				held[d] = true
			}
		}
	}
	c.MeetingsLast12Months = len(held)
	span := a.reportingSpan()
	inForceAllYear := !span.From.After(since) && span.Until.After(day)
	c.MeetingsShort = inForceAllYear && c.MeetingsLast12Months < c.MeetingsRequired
	c.Expiring = a.Standing(asOf) == StandingExpiring
	c.AmbassadorEligible = a.AmbassadorEligible(p, asOf)
	if p.OffersAmbassador(a.Office) && (a.Status == StatusActive || a.Status == StatusRenewed) {
		if on := a.AmbassadorEligibleOn(); !on.IsZero() {
			d := DateOf(on)
			c.AmbassadorEligibleOn = &d
		}
	}
	return c
}
