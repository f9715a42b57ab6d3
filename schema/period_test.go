package schema_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

// day is midnight UTC on a "YYYY-MM-DD" date, the form spans and due dates take.
func day(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatalf("test bug: %v", err)
	}
	return d
}

func TestParsePeriod(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want schema.Period
	}{
		// MIOSHA partners submit a quarterly and an annual report (seed 004).
		{"first quarter", "2026-Q1", schema.Period{Year: 2026, Cadence: schema.CadenceQuarterly, N: 1}},
		{"fourth quarter", "2026-Q4", schema.Period{Year: 2026, Cadence: schema.CadenceQuarterly, N: 4}},
		// Semiannual status reports (CSP 04-01-001 XI, seed 003).
		{"first half", "2026-H1", schema.Period{Year: 2026, Cadence: schema.CadenceSemiannual, N: 1}},
		{"second half", "2026-H2", schema.Period{Year: 2026, Cadence: schema.CadenceSemiannual, N: 2}},
		// Federal annual report (CSP 04-01-001 XII.D.2.a, Appendix A; seed 003).
		{"annual", "2026-annual", schema.Period{Year: 2026, Cadence: schema.CadenceAnnual, N: 1}},
		// Years share the Date bounds: 1970 to 2200.
		{"earliest year", "1970-Q1", schema.Period{Year: 1970, Cadence: schema.CadenceQuarterly, N: 1}},
		{"latest year", "2200-H2", schema.Period{Year: 2200, Cadence: schema.CadenceSemiannual, N: 2}},
		{"first year of the program", "2002-annual", schema.Period{Year: 2002, Cadence: schema.CadenceAnnual, N: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := schema.ParsePeriod(tt.in)
			if err != nil {
				t.Fatalf("ParsePeriod(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParsePeriod(%q) (-want +got):\n%s", tt.in, diff)
			}
			// String round trip: the parsed period prints as it was written.
			if s := got.String(); s != tt.in {
				t.Errorf("ParsePeriod(%q).String() = %q", tt.in, s)
			}
		})
	}
}

func TestParsePeriodBad(t *testing.T) {
	// Period names are "YYYY-Qn", "YYYY-Hn" or "YYYY-annual" (CONTRACT.md, POST
	// /v1/alliances/{id}/reports); anything else is refused, naming the input.
	bad := []string{
		"",
		"2026",
		"2026-",
		"2026-Q0",
		"2026-Q5",
		"2026-H0",
		"2026-H3",
		"2026-Annual",
		"2026-ANNUAL",
		"2026-q1",
		"2026-h1",
		"2026Q1",
		"2026-Q1-Q2",
		"2026-annual-2",
		"26-Q1",
		"02026-Q1",
		" 2026-Q1",
		"2026-Q1 ",
		"2026-Q1\n",
		"2026-S1",
		"2026-M01",
		"２０２６-Q1", // full-width digits
		"2026-Ｑ1",
		"1969-annual", // before the Date bounds
		"2201-Q1",     // after the Date bounds
		"0000-Q1",
		"9999-H1",
	}
	for _, in := range bad {
		t.Run(fmt.Sprintf("%q", in), func(t *testing.T) {
			got, err := schema.ParsePeriod(in)
			if err == nil {
				t.Fatalf("ParsePeriod(%q) = %+v, want an error", in, got)
			}
			if got != (schema.Period{}) {
				t.Errorf("ParsePeriod(%q) returned %+v with its error, want the zero Period", in, got)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", in)) {
				t.Errorf("error %q does not quote the input", err)
			}
		})
	}
}

func TestPeriodSpan(t *testing.T) {
	tests := []struct {
		name     string
		period   string
		anchor   schema.Anchor
		signed   string // for the anniversary anchor
		from     string
		last     string
		wantDays int // 0: not checked
	}{
		// Calendar year: "2026-Q1" is January to March 2026 (period.go, AnchorCalendar);
		// MIOSHA's quarterly report (seed 004).
		{"calendar Q1", "2026-Q1", schema.AnchorCalendar, "2024-06-12", "2026-01-01", "2026-03-31", 90},
		{"calendar Q2", "2026-Q2", schema.AnchorCalendar, "2024-06-12", "2026-04-01", "2026-06-30", 91},
		{"calendar Q3", "2026-Q3", schema.AnchorCalendar, "2024-06-12", "2026-07-01", "2026-09-30", 92},
		{"calendar Q4", "2026-Q4", schema.AnchorCalendar, "2024-06-12", "2026-10-01", "2026-12-31", 92},
		{"calendar Q1 of a leap year", "2024-Q1", schema.AnchorCalendar, "2024-06-12", "2024-01-01", "2024-03-31", 91},
		// Semiannual status reports (CSP 04-01-001 XI, seed 003).
		{"calendar H1", "2026-H1", schema.AnchorCalendar, "2024-06-12", "2026-01-01", "2026-06-30", 181},
		{"calendar H2", "2026-H2", schema.AnchorCalendar, "2024-06-12", "2026-07-01", "2026-12-31", 184},
		{"calendar year", "2026-annual", schema.AnchorCalendar, "2024-06-12", "2026-01-01", "2026-12-31", 365},
		{"calendar ignores the signing day", "2026-Q1", schema.AnchorCalendar, "2019-02-28", "2026-01-01", "2026-03-31", 0},

		// Federal fiscal year, October to September, named by the year it ends in:
		// newer federal evaluations are by fiscal year (DOMAIN.md, Obligations).
		{"fiscal Q1 is the previous October to December", "2026-Q1", schema.AnchorFiscal, "2024-06-12", "2025-10-01", "2025-12-31", 92},
		{"fiscal Q2", "2026-Q2", schema.AnchorFiscal, "2024-06-12", "2026-01-01", "2026-03-31", 90},
		{"fiscal Q3", "2026-Q3", schema.AnchorFiscal, "2024-06-12", "2026-04-01", "2026-06-30", 91},
		{"fiscal Q4", "2026-Q4", schema.AnchorFiscal, "2024-06-12", "2026-07-01", "2026-09-30", 92},
		{"fiscal H1", "2026-H1", schema.AnchorFiscal, "2024-06-12", "2025-10-01", "2026-03-31", 182},
		{"fiscal H2", "2026-H2", schema.AnchorFiscal, "2024-06-12", "2026-04-01", "2026-09-30", 183},
		{"fiscal year", "2026-annual", schema.AnchorFiscal, "2024-06-12", "2025-10-01", "2026-09-30", 365},
		{"fiscal year with a leap day", "2024-annual", schema.AnchorFiscal, "2024-06-12", "2023-10-01", "2024-09-30", 366},

		// Anniversary: the Alliance year that ends on the signing anniversary; the
		// annual report covers it (CSP 04-01-001 XII.D.2.a, Appendix A; seed 003).
		{"anniversary year ending on the 2026 anniversary", "2026-annual", schema.AnchorAnniversary, "2024-06-12", "2025-06-12", "2026-06-11", 365},
		{"anniversary first Alliance year", "2025-annual", schema.AnchorAnniversary, "2024-06-12", "2024-06-12", "2025-06-11", 365},
		{"anniversary Q1", "2026-Q1", schema.AnchorAnniversary, "2024-06-12", "2025-06-12", "2025-09-11", 92},
		{"anniversary Q2", "2026-Q2", schema.AnchorAnniversary, "2024-06-12", "2025-09-12", "2025-12-11", 91},
		{"anniversary Q3", "2026-Q3", schema.AnchorAnniversary, "2024-06-12", "2025-12-12", "2026-03-11", 90},
		{"anniversary Q4", "2026-Q4", schema.AnchorAnniversary, "2024-06-12", "2026-03-12", "2026-06-11", 92},
		{"anniversary H1", "2026-H1", schema.AnchorAnniversary, "2024-06-12", "2025-06-12", "2025-12-11", 183},
		{"anniversary H2", "2026-H2", schema.AnchorAnniversary, "2024-06-12", "2025-12-12", "2026-06-11", 182},
		{"anniversary year signed 1 January", "2026-annual", schema.AnchorAnniversary, "2020-01-01", "2025-01-01", "2025-12-31", 365},

		// A 29 February signing has its anniversary on 28 February in common years
		// (period.go, anniversary) and on 29 February in leap years: the Alliance years
		// follow one another with no day left out.
		{"29 February: first year", "2025-annual", schema.AnchorAnniversary, "2024-02-29", "2024-02-29", "2025-02-27", 365},
		{"29 February: a common year", "2026-annual", schema.AnchorAnniversary, "2024-02-29", "2025-02-28", "2026-02-27", 365},
		{"29 February: year ending on a leap-year anniversary", "2028-annual", schema.AnchorAnniversary, "2024-02-29", "2027-02-28", "2028-02-28", 366},
		{"29 February: year starting on a leap-year anniversary", "2029-annual", schema.AnchorAnniversary, "2024-02-29", "2028-02-29", "2029-02-27", 365},
		{"29 February: first quarter", "2025-Q1", schema.AnchorAnniversary, "2024-02-29", "2024-02-29", "2024-05-28", 90},
		{"29 February: quarters keep the 29th", "2026-Q2", schema.AnchorAnniversary, "2024-02-29", "2025-05-29", "2025-08-28", 92},
		{"29 February: last quarter ends on the 28th", "2026-Q4", schema.AnchorAnniversary, "2024-02-29", "2025-11-29", "2026-02-27", 91},

		// Month-end clamping, as Date.AddMonths clamps terms: a 31 August signing has
		// quarters starting on the last day of November and February.
		{"month end: Q1", "2024-Q1", schema.AnchorAnniversary, "2023-08-31", "2023-08-31", "2023-11-29", 91},
		{"month end: Q2 ends before leap day", "2024-Q2", schema.AnchorAnniversary, "2023-08-31", "2023-11-30", "2024-02-28", 91},
		{"month end: Q3 starts on leap day", "2024-Q3", schema.AnchorAnniversary, "2023-08-31", "2024-02-29", "2024-05-30", 92},
		{"month end: Q4", "2024-Q4", schema.AnchorAnniversary, "2023-08-31", "2024-05-31", "2024-08-30", 92},
		{"month end: Q2 in a common year", "2025-Q2", schema.AnchorAnniversary, "2023-08-31", "2024-11-30", "2025-02-27", 90},
		{"month end: H2 starts on leap day", "2024-H2", schema.AnchorAnniversary, "2023-08-31", "2024-02-29", "2024-08-30", 184},
		{"month end: 31 January signing, Q1", "2025-Q1", schema.AnchorAnniversary, "2024-01-31", "2024-01-31", "2024-04-29", 90},
		{"month end: 31 January signing, Q2", "2025-Q2", schema.AnchorAnniversary, "2024-01-31", "2024-04-30", "2024-07-30", 92},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := schema.ParsePeriod(tt.period)
			if err != nil {
				t.Fatal(err)
			}
			s := p.Span(tt.anchor, day(t, tt.signed))
			if got := s.From.Format(time.DateOnly); got != tt.from {
				t.Errorf("%s (%s, signed %s) starts %s, want %s", tt.period, tt.anchor, tt.signed, got, tt.from)
			}
			if got := s.Last().Format(time.DateOnly); got != tt.last {
				t.Errorf("%s (%s, signed %s) ends %s, want %s", tt.period, tt.anchor, tt.signed, got, tt.last)
			}
			if !s.Until.Equal(s.Last().AddDate(0, 0, 1)) {
				t.Errorf("Until %s is not the day after Last %s", s.Until, s.Last())
			}
			if tt.wantDays != 0 {
				if n := int(s.Until.Sub(s.From).Hours() / 24); n != tt.wantDays {
					t.Errorf("%s covers %d days, want %d", tt.period, n, tt.wantDays)
				}
			}
		})
	}
}

// TestPeriodsTile: under every anchor and cadence, one period ends the day before the
// next begins, and a year's quarters and halves cover exactly its annual period. A day
// in no period would be a day no report covers; a day in two, one reported twice.
func TestPeriodsTile(t *testing.T) {
	signings := []string{
		"2024-06-12", // fedAlliance
		"2023-05-01", // miAlliance
		"2024-02-29", // leap day: 28 February anniversaries in common years
		"2023-08-31", // month end
		"2024-01-31",
		"2023-12-31",
		"2024-01-01",
	}
	cadences := []schema.Cadence{schema.CadenceQuarterly, schema.CadenceSemiannual, schema.CadenceAnnual}
	for _, signed := range signings {
		for _, anchor := range []schema.Anchor{schema.AnchorAnniversary, schema.AnchorCalendar, schema.AnchorFiscal} {
			t.Run(signed+"/"+string(anchor), func(t *testing.T) {
				sd := day(t, signed)
				for _, c := range cadences {
					per := map[schema.Cadence]int{schema.CadenceQuarterly: 4, schema.CadenceSemiannual: 2, schema.CadenceAnnual: 1}[c]
					var prev schema.Span
					for y := 2024; y <= 2034; y++ {
						year := schema.Period{Year: y, Cadence: schema.CadenceAnnual, N: 1}.Span(anchor, sd)
						for n := 1; n <= per; n++ {
							p := schema.Period{Year: y, Cadence: c, N: n}
							s := p.Span(anchor, sd)
							if !s.From.Before(s.Until) {
								t.Fatalf("%s is empty: %v", p, s)
							}
							if !prev.Until.IsZero() && !prev.Until.Equal(s.From) {
								t.Errorf("%s %s: previous period ends %s, %s starts %s",
									c, anchor, prev.Last().Format(time.DateOnly), p, s.From.Format(time.DateOnly))
							}
							if n == 1 && !s.From.Equal(year.From) {
								t.Errorf("%s starts %s, its year %s", p, s.From.Format(time.DateOnly), year.From.Format(time.DateOnly))
							}
							if n == per && !s.Until.Equal(year.Until) {
								t.Errorf("%s ends %s, its year %s", p, s.Last().Format(time.DateOnly), year.Last().Format(time.DateOnly))
							}
							prev = s
						}
					}
				}
			})
		}
	}
}

func TestPeriodDue(t *testing.T) {
	fed := schema.ReportRule{Cadence: schema.CadenceAnnual, Anchor: schema.AnchorAnniversary, DueDays: 60}
	miQuarter := schema.ReportRule{Cadence: schema.CadenceQuarterly, Anchor: schema.AnchorCalendar, DueDays: 30}
	tests := []struct {
		name   string
		period string
		rule   schema.ReportRule
		signed string
		want   string
	}{
		// Due within 60 days of the signing anniversary; CSP 04-01-001 XII.D.2.a, seed 003.
		{"federal annual, 60 days after the 2026 anniversary", "2026-annual", fed, "2024-06-12", "2026-08-11"},
		{"federal annual, first anniversary", "2025-annual", fed, "2024-06-12", "2025-08-11"},
		{"federal annual, 29 February signing in a common year", "2025-annual", fed, "2024-02-29", "2025-04-29"},
		{"federal annual, 29 February signing, leap-year anniversary", "2028-annual", fed, "2024-02-29", "2028-04-29"},
		// MI.json: 30 days after each calendar quarter (assumption recorded in its sources;
		// quarterly report, seed 004).
		{"MIOSHA Q1", "2026-Q1", miQuarter, "2023-05-01", "2026-05-01"},
		{"MIOSHA Q2", "2026-Q2", miQuarter, "2023-05-01", "2026-07-31"},
		{"MIOSHA Q4 falls in the next year", "2026-Q4", miQuarter, "2023-05-01", "2027-01-31"},
		// Fiscal year, October to September (DOMAIN.md, Obligations).
		{"fiscal annual, 90 days", "2026-annual", schema.ReportRule{Cadence: schema.CadenceAnnual, Anchor: schema.AnchorFiscal, DueDays: 90}, "2024-06-12", "2026-12-30"},
		{"due days zero: the day after the period", "2026-H1", schema.ReportRule{Cadence: schema.CadenceSemiannual, Anchor: schema.AnchorCalendar}, "2024-06-12", "2026-07-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := schema.ParsePeriod(tt.period)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Due(tt.rule, day(t, tt.signed)).Format(time.DateOnly); got != tt.want {
				t.Errorf("%s due %s, want %s", tt.period, got, tt.want)
			}
		})
	}
}

func TestSpanOverlaps(t *testing.T) {
	span := func(from, last string) schema.Span {
		return schema.Span{From: day(t, from), Until: day(t, last).AddDate(0, 0, 1)}
	}
	tests := []struct {
		name string
		a, b schema.Span
		want bool
	}{
		{"same span", span("2026-01-01", "2026-03-31"), span("2026-01-01", "2026-03-31"), true},
		{"share one last day", span("2026-01-01", "2026-03-31"), span("2026-03-31", "2026-06-30"), true},
		{"adjacent, no shared day", span("2026-01-01", "2026-03-31"), span("2026-04-01", "2026-06-30"), false},
		{"one inside the other", span("2026-01-01", "2026-12-31"), span("2026-05-05", "2026-05-05"), true},
		{"apart", span("2024-01-01", "2024-03-31"), span("2026-01-01", "2026-03-31"), false},
		{"empty span overlaps nothing", schema.Span{From: day(t, "2026-02-01"), Until: day(t, "2026-02-01")}, span("2026-01-01", "2026-03-31"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Overlaps(tt.b); got != tt.want {
				t.Errorf("a.Overlaps(b) = %v, want %v", got, tt.want)
			}
			if got := tt.b.Overlaps(tt.a); got != tt.want {
				t.Errorf("b.Overlaps(a) = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPeriodsOverlapping(t *testing.T) {
	fed := schema.ReportRule{Cadence: schema.CadenceAnnual, Anchor: schema.AnchorAnniversary, DueDays: 60}
	miQuarter := schema.ReportRule{Cadence: schema.CadenceQuarterly, Anchor: schema.AnchorCalendar, DueDays: 30}
	fiscal := schema.ReportRule{Cadence: schema.CadenceAnnual, Anchor: schema.AnchorFiscal, DueDays: 90}
	half := schema.ReportRule{Cadence: schema.CadenceSemiannual, Anchor: schema.AnchorAnniversary, DueDays: 30}
	window := func(from, until string) schema.Span {
		return schema.Span{From: day(t, from), Until: day(t, until)}
	}
	tests := []struct {
		name   string
		rule   schema.ReportRule
		signed string
		w      schema.Span
		want   []string
	}{
		// Two-year federal term (CSP 04-01-001 X.G, seed 003): two annual reports, due
		// 60 days after each anniversary (XII.D.2.a).
		{"federal two-year term", fed, "2024-06-12", window("2024-06-12", "2026-06-12"), []string{"2025-annual", "2026-annual"}},
		{"one day into the third year", fed, "2024-06-12", window("2024-06-12", "2026-06-13"), []string{"2025-annual", "2026-annual", "2027-annual"}},
		// MIOSHA quarterly report (seed 004): a three-year term from 1 May 2023
		// touches thirteen calendar quarters.
		{"MIOSHA quarters of a three-year term", miQuarter, "2023-05-01", window("2023-05-01", "2026-05-01"), []string{
			"2023-Q2", "2023-Q3", "2023-Q4", "2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4",
			"2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2",
		}},
		{"fiscal years across 1 October", fiscal, "2024-06-12", window("2025-09-30", "2025-10-02"), []string{"2025-annual", "2026-annual"}},
		{"anniversary year from the previous calendar year", fed, "2024-12-31", window("2025-01-01", "2025-01-02"), []string{"2025-annual"}},
		{"halves", half, "2024-06-12", window("2024-06-12", "2025-06-12"), []string{"2025-H1", "2025-H2"}},
		{"empty window", fed, "2024-06-12", window("2025-01-01", "2025-01-01"), nil},
		{"reversed window", fed, "2024-06-12", window("2026-01-01", "2025-01-01"), nil},
		{"zero window (a draft)", fed, "2024-06-12", schema.Span{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range schema.PeriodsOverlapping(tt.rule, day(t, tt.signed), tt.w) {
				got = append(got, p.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("periods (-want +got):\n%s", diff)
			}
		})
	}
}
