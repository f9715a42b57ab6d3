package schema

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// Cadence is how often a program requires a report.
type Cadence string

// Cadences. Federal Alliances report annually (CSP 04-01-001 XII.D.2, seed 003); MIOSHA
// partners submit a quarterly and an annual report (seed 004); the directive also speaks
// of semiannual status reports (CSP 04-01-001 XI, seed 003).
const (
	CadenceQuarterly  Cadence = "quarterly"
	CadenceSemiannual Cadence = "semiannual"
	CadenceAnnual     Cadence = "annual"
)

func (c Cadence) valid() bool {
	return c == CadenceQuarterly || c == CadenceSemiannual || c == CadenceAnnual
}

// months is the length of one period of the cadence.
func (c Cadence) months() int {
	switch c {
	case CadenceQuarterly:
		return 3
	case CadenceSemiannual:
		return 6
	}
	return 12
}

// Anchor says where a program's reporting year starts.
type Anchor string

// Anchors.
const (
	// AnchorAnniversary: the Alliance's own year, from its signing anniversary. The
	// federal annual report covers the year ending on the anniversary and is due within
	// 60 days of it (CSP 04-01-001 XII.D.2.a, seed 003). "2026-annual" is the Alliance
	// year that ends on the 2026 anniversary.
	AnchorAnniversary Anchor = "anniversary"
	// AnchorCalendar: January to December; "2026-Q1" is January to March 2026.
	AnchorCalendar Anchor = "calendar"
	// AnchorFiscal: the federal fiscal year, October to September, named by the year it
	// ends in ("2026-Q1" is October to December 2025). Newer federal evaluations are by
	// fiscal year (DOMAIN.md, Obligations).
	AnchorFiscal Anchor = "fiscal"
)

func (a Anchor) valid() bool {
	return a == AnchorAnniversary || a == AnchorCalendar || a == AnchorFiscal
}

// ReportRule is one report a program requires of each Alliance: its cadence, where its
// year starts and how many days after the period ends it is due.
type ReportRule struct {
	Cadence Cadence `json:"cadence"`
	Anchor  Anchor  `json:"anchor"`
	DueDays int     `json:"due_days"`
}

// DefaultMeetingsPerYear: the implementation team meets at least three times a year
// (CSP 04-01-001 VII.F, XII.C; seed 003).
const DefaultMeetingsPerYear = 3

// Period names a reporting period: "2026-Q3", "2026-H1" or "2026-annual" (CONTRACT.md).
type Period struct {
	Year    int
	Cadence Cadence
	N       int // quarter 1-4 or half 1-2; 1 for annual
}

var periodShape = regexp.MustCompile(`^([0-9]{4})-(Q[1-4]|H[12]|annual)$`)

// ParsePeriod reads "YYYY-Qn", "YYYY-Hn" or "YYYY-annual".
func ParsePeriod(s string) (Period, error) {
	m := periodShape.FindStringSubmatch(s)
	if m == nil {
		return Period{}, fmt.Errorf("%q is not a period: YYYY-Qn (quarter 1-4), YYYY-Hn (half 1-2) or YYYY-annual", s)
	}
	year, _ := strconv.Atoi(m[1])
	if year < minYear || year > maxYear {
		return Period{}, fmt.Errorf("%q: year must be %d to %d", s, minYear, maxYear)
	}
	switch m[2][0] {
	case 'Q':
		return Period{Year: year, Cadence: CadenceQuarterly, N: int(m[2][1] - '0')}, nil
	case 'H':
		return Period{Year: year, Cadence: CadenceSemiannual, N: int(m[2][1] - '0')}, nil
	}
	return Period{Year: year, Cadence: CadenceAnnual, N: 1}, nil
}

func (p Period) String() string {
	if p.Year < 1000 || p.Year > 9999 {
		return fmt.Sprintf("%04d-%s", p.Year, Period{Year: 1000, Cadence: p.Cadence, N: p.N}.String()[5:])
	}
	// Built by hand, not with fmt: the calendar names every period it lists.
	b := make([]byte, 0, 11)
	b = strconv.AppendInt(b, int64(p.Year), 10)
	switch p.Cadence {
	case CadenceQuarterly:
		b = append(b, "-Q"...)
		b = strconv.AppendInt(b, int64(p.N), 10)
	case CadenceSemiannual:
		b = append(b, "-H"...)
		b = strconv.AppendInt(b, int64(p.N), 10)
	default:
		b = append(b, "-annual"...)
	}
	return string(b)
}

// Span is a range of days: From is the first day, Until the day after the last (both at
// midnight UTC).
type Span struct {
	From, Until time.Time
}

// Last is the last day of the span.
func (s Span) Last() time.Time { return s.Until.AddDate(0, 0, -1) }

// Overlaps reports whether two spans share a day; an empty span shares none.
func (s Span) Overlaps(o Span) bool {
	return s.From.Before(s.Until) && o.From.Before(o.Until) && s.From.Before(o.Until) && o.From.Before(s.Until)
}

// calendarStart is the first day of reporting year y under a calendar or fiscal anchor
// (the anniversary anchor counts from the signing day: see Span).
func calendarStart(a Anchor, y int) time.Time {
	if a == AnchorFiscal {
		return time.Date(y-1, time.October, 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Date(y, time.January, 1, 0, 0, 0, 0, time.UTC)
}

// Span is the days period p covers under the anchor. For the anniversary anchor, signed
// is the day the Alliance was signed and year y ends on its anniversary in y.
func (p Period) Span(a Anchor, signed time.Time) Span {
	n := p.Cadence.months()
	if a == AnchorAnniversary {
		// Month arithmetic clamps like AddMonths does, counted from the signing day
		// itself: counting from a clamped anniversary (28 February for a 29 February
		// signing) would lose the 29th in later quarters and leave the leap-year
		// anniversary's eve in no period.
		months := 12*(p.Year-1-signed.Year()) + n*(p.N-1)
		return Span{From: addMonthsClamped(signed, months), Until: addMonthsClamped(signed, months+n)}
	}
	from := calendarStart(a, p.Year).AddDate(0, n*(p.N-1), 0)
	return Span{From: from, Until: from.AddDate(0, n, 0)}
}

func addMonthsClamped(t time.Time, n int) time.Time {
	months := t.Year()*12 + int(t.Month()) - 1 + n
	y, m := months/12, months%12+1
	return time.Date(y, time.Month(m), min(t.Day(), daysIn(y, m)), 0, 0, 0, 0, time.UTC)
}

// Due is the day a report for p is due under rule r: DueDays after the period ends.
func (p Period) Due(r ReportRule, signed time.Time) time.Time {
	return p.Span(r.Anchor, signed).Until.AddDate(0, 0, r.DueDays)
}

// periodsOverlapping lists the periods of rule r that share a day with span w, in order.
func periodsOverlapping(r ReportRule, signed time.Time, w Span) []Period {
	if !w.From.Before(w.Until) {
		return nil
	}
	var out []Period
	for p := periodAt(r, signed, w.From); p.Span(r.Anchor, signed).From.Before(w.Until); p = p.next() {
		out = append(out, p)
	}
	return out
}

// periodAt is the period of rule r that holds day t. It starts from the first period of
// the year before t's, which begins before t under every anchor, and steps forward: a
// few steps, whatever the term, so callers enumerate only the periods they need from t
// on rather than every year of a term.
func periodAt(r ReportRule, signed, t time.Time) Period {
	p := Period{Year: t.Year() - 1, Cadence: r.Cadence, N: 1}
	for !p.Span(r.Anchor, signed).Until.After(t) {
		p = p.next()
	}
	return p
}

// next is the period after p; periods of one cadence and anchor follow one another
// without gap or overlap.
func (p Period) next() Period {
	if p.N < 12/p.Cadence.months() {
		p.N++
		return p
	}
	return Period{Year: p.Year + 1, Cadence: p.Cadence, N: 1}
}
