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
	// Obligations is every report owed over the Alliance's term, in due order
	// (ComplianceThrough: those due up to a date, and every overdue one).
	Obligations []Obligation `json:"obligations"`
	// Implementation team meetings held in the twelve months up to AsOf, counted from
	// the reports.
	MeetingsLast12Months int `json:"meetings_last_12_months"`
	MeetingsRequired     int `json:"meetings_required"`
	// MeetingsShort flags fewer meetings than the program's MeetingsPerYear (three: CSP
	// 04-01-001 VII.F) in the latest twelve months the submitted reports cover, up to
	// AsOf, ending on MeetingsJudgedThrough; months nobody has reported on yet are not
	// judged, and with no whole year reported nothing is (Compliance.meetings).
	MeetingsShort         bool  `json:"meetings_short"`
	MeetingsJudgedThrough *Date `json:"meetings_judged_through"`
	MeetingsInJudgedYear  int   `json:"meetings_in_judged_year"`
	// Expiring: the current term ends within 90 days.
	Expiring             bool  `json:"expiring"`
	AmbassadorEligible   bool  `json:"ambassador_eligible"`
	AmbassadorEligibleOn *Date `json:"ambassador_eligible_on,omitempty"`
}

// reportingSpan is the span in which an Alliance owes reports: while in force, and not
// once it is an Ambassador (Ambassadors have no reporting requirements, seed 001), nor
// after its Ambassador relationship concluded.
func (a *Alliance) reportingSpan() Span {
	s := a.InForce()
	if a.Status == StatusAmbassador || !a.AmbassadorOn.IsZero() {
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
	return obligations(a, p, reports, asOf, time.Time{})
}

// ObligationsThrough is Obligations cut at through: only the reports due on or before
// it. A term may run for decades (renewals up to the last year a date may carry), so a
// caller that needs a window, like the calendar, enumerates only the periods up to it.
func ObligationsThrough(a *Alliance, p *Program, reports map[string]*Report, asOf, through Date) []Obligation {
	return obligations(a, p, reports, asOf, through.Last())
}

// obligations lists the obligations due on or before through (the zero time: all of
// them), each period enumerated once, in due order.
func obligations(a *Alliance, p *Program, reports map[string]*Report, asOf Date, through time.Time) []Obligation {
	span := a.reportingSpan()
	if !span.From.Before(span.Until) {
		return nil
	}
	signed := anchorDay(a)
	day := asOf.First()
	// Each rule's periods come in due order: walk them side by side, taking the earliest
	// due next (the earlier rule's on a tie), so the list needs no sorting.
	type cursor struct {
		rule ReportRule
		per  Period
		ps   Span
		due  time.Time
		done bool
	}
	settle := func(c *cursor) {
		c.ps = c.per.Span(c.rule.Anchor, signed)
		c.due = c.ps.Until.AddDate(0, 0, c.rule.DueDays)
		// Deliberate: a period the Alliance did not live to the end of (it expired,
		// concluded, was terminated or became an Ambassador first) is not owed, so an
		// ended Alliance never shows overdue for ever. Periods only end later after it.
		c.done = c.ps.Until.After(span.Until) || (!through.IsZero() && c.due.After(through))
	}
	cursors := make([]cursor, len(p.Reports))
	size := 0
	for i, rule := range p.Reports {
		c := &cursors[i]
		c.rule, c.per = rule, periodAt(rule, signed, span.From)
		settle(c)
		size += periodsBetween(rule, span.From, span.Until, through)
	}
	out := make([]Obligation, 0, size)
	for {
		var best *cursor
		for i := range cursors {
			if c := &cursors[i]; !c.done && (best == nil || c.due.Before(best.due)) {
				best = c
			}
		}
		if best == nil {
			return out
		}
		out = append(out, obligation(a, best.rule, best.per, best.ps, best.due, reports, day))
		best.per = best.per.next()
		settle(best)
	}
}

// periodsBetween estimates how many periods of rule r end in [from, until), and by
// through when it is set: room for the list, not a bound on it.
func periodsBetween(r ReportRule, from, until, through time.Time) int {
	if !through.IsZero() && through.Before(until) {
		until = through
	}
	if !from.Before(until) {
		return 0
	}
	months := (until.Year()-from.Year())*12 + int(until.Month()) - int(from.Month())
	return months/r.Cadence.months() + 2
}

// obligation is the report owed for period per (covering ps, due on due) as of day.
func obligation(a *Alliance, rule ReportRule, per Period, ps Span, due time.Time, reports map[string]*Report, day time.Time) Obligation {
	o := Obligation{
		AllianceID: a.ID, Period: per.String(), Cadence: rule.Cadence,
		From: DateOf(ps.From), To: DateOf(ps.Last()), DueOn: DateOf(due),
	}
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
	return o
}

// nextUnsubmitted is the first report owed, due after after, that has no report yet, in
// due order (the first rule's on a tie, as Obligations orders them); ok is false when
// none is owed. It steps only over periods already reported, however long the term.
func nextUnsubmitted(a *Alliance, p *Program, reports map[string]*Report, asOf Date, after time.Time) (next Obligation, ok bool) {
	span := a.reportingSpan()
	if !span.From.Before(span.Until) {
		return Obligation{}, false
	}
	signed := anchorDay(a)
	for _, rule := range p.Reports {
		// Due after after: the period ends after after - DueDays.
		from := after.AddDate(0, 0, -rule.DueDays)
		if from.Before(span.From) {
			from = span.From
		}
		for per := periodAt(rule, signed, from); ; per = per.next() {
			ps := per.Span(rule.Anchor, signed)
			if ps.Until.After(span.Until) {
				break
			}
			due := ps.Until.AddDate(0, 0, rule.DueDays)
			if !due.After(after) {
				continue
			}
			if reports[per.String()] != nil {
				continue
			}
			if !ok || due.Before(next.DueOn.First()) {
				next, ok = obligation(a, rule, per, ps, due, reports, asOf.First()), true
			}
			break
		}
	}
	return next, ok
}

// ComplianceOf computes the Alliance's compliance as of asOf from its reports, with
// every obligation of its term.
func ComplianceOf(a *Alliance, p *Program, reports []*Report, asOf Date) Compliance {
	return compliance(a, p, reports, asOf, time.Time{})
}

// ComplianceThrough is ComplianceOf with Obligations cut at the later of through and
// asOf: it holds every report overdue on asOf and those due up to through, not the
// decades a long term may run to. Everything else (next_report_due included) is what
// ComplianceOf says.
func ComplianceThrough(a *Alliance, p *Program, reports []*Report, asOf, through Date) Compliance {
	cut := asOf.First()
	if t := through.Last(); !through.IsZero() && t.After(cut) {
		cut = t
	}
	return compliance(a, p, reports, asOf, cut)
}

func compliance(a *Alliance, p *Program, reports []*Report, asOf Date, through time.Time) Compliance {
	byPeriod := make(map[string]*Report, len(reports))
	for _, r := range reports {
		byPeriod[r.Period] = r
	}
	c := Compliance{AsOf: asOf, OverdueReports: []string{}, MeetingsRequired: p.MeetingsPerYear}
	c.Obligations = obligations(a, p, byPeriod, asOf, through)
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
	if c.NextReportDue == nil && !through.IsZero() {
		// Beyond the cut: the first report not yet submitted.
		if o, ok := nextUnsubmitted(a, p, byPeriod, asOf, through); ok {
			due := o.DueOn
			c.NextReportDue, c.NextReportPeriod = &due, o.Period
		}
	}
	c.meetings(a, p, reports, asOf)
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

// meetings counts implementation team meetings and judges whether the team met as often
// as the program requires: at least three times a year (CSP 04-01-001 VII.F, XII.C;
// seed 003).
//
// Meetings are known only from the reports that list them, so only months the reports
// cover are judged: an Alliance is not flagged for months nobody has reported on yet.
// The year judged is the latest twelve months, up to as_of, that the submitted reports'
// periods cover day for day while the Alliance owed reports: the twelve months ending
// on as_of when the reports reach it, otherwise those ending on the last day of the
// latest run of reported periods at least a year long. No such year (an Alliance in its
// first year, or whose reports do not yet cover a whole year) is not judged, nor is an
// Alliance no longer owing reports on as_of (ended, or an Ambassador: seed 001).
// MeetingsLast12Months still counts the twelve months ending on as_of, whatever was
// reported.
func (c *Compliance) meetings(a *Alliance, p *Program, reports []*Report, asOf Date) {
	day := asOf.First()
	held := map[time.Time]bool{}
	for _, r := range reports {
		for _, m := range r.Meetings {
			if m.HeldOn.Precision() == PrecisionDay {
				held[m.HeldOn.First()] = true
			}
		}
	}
	count := func(last time.Time) int {
		since := last.AddDate(-1, 0, 0) // the twelve months are (since, last]
		n := 0
		for d := range held {
			if d.After(since) && !d.After(last) {
				n++
			}
		}
		return n
	}
	c.MeetingsLast12Months = count(day)

	span := a.reportingSpan()
	if day.Before(span.From) || !day.Before(span.Until) {
		return
	}
	// The days the reports cover, within the reporting life and up to as_of.
	var covered []Span
	for _, r := range reports {
		per, err := ParsePeriod(r.Period)
		if err != nil {
			continue
		}
		rule, ok := p.ReportRule(per.Cadence)
		if !ok {
			continue
		}
		s := per.Span(rule.Anchor, anchorDay(a))
		if s.From.Before(span.From) {
			s.From = span.From
		}
		if limit := day.AddDate(0, 0, 1); s.Until.After(limit) {
			s.Until = limit
		}
		if s.From.Before(s.Until) {
			covered = append(covered, s)
		}
	}
	sort.Slice(covered, func(i, j int) bool { return covered[i].From.Before(covered[j].From) })
	// Merge into runs of consecutive days; the latest run a year long ends the year
	// judged.
	var runs []Span
	for _, s := range covered {
		if n := len(runs); n > 0 && !s.From.After(runs[n-1].Until) {
			if s.Until.After(runs[n-1].Until) {
				runs[n-1].Until = s.Until
			}
			continue
		}
		runs = append(runs, s)
	}
	for i := len(runs) - 1; i >= 0; i-- {
		last := runs[i].Last()
		if first := last.AddDate(-1, 0, 0).AddDate(0, 0, 1); !runs[i].From.After(first) {
			judged := DateOf(last)
			c.MeetingsJudgedThrough = &judged
			c.MeetingsInJudgedYear = count(last)
			c.MeetingsShort = c.MeetingsInJudgedYear < c.MeetingsRequired
			return
		}
	}
}
