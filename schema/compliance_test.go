package schema_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

// owed is the part of an Obligation a table states.
type owed struct {
	Period, State, Due string
	Late               bool
}

func owedOf(os []schema.Obligation) []owed {
	var out []owed
	for _, o := range os {
		out = append(out, owed{o.Period, o.State, o.DueOn.String(), o.Late})
	}
	return out
}

// filed is a report for period dated on, with implementation team meetings held on the
// given days.
func filed(period, on string, meetings ...string) *schema.Report {
	r := &schema.Report{Period: period, ReportedOn: schema.MustDate(on)}
	for _, m := range meetings {
		r.Meetings = append(r.Meetings, schema.Meeting{HeldOn: schema.MustDate(m)})
	}
	return r
}

func byPeriod(rs ...*schema.Report) map[string]*schema.Report {
	m := map[string]*schema.Report{}
	for _, r := range rs {
		m[r.Period] = r
	}
	return m
}

const (
	upcoming  = schema.ObligationUpcoming
	due       = schema.ObligationDue
	overdue   = schema.ObligationOverdue
	submitted = schema.ObligationSubmitted
)

// TestObligationsFED: federal Alliances report once a year, the report due within 60 days
// of the signing anniversary (CSP 04-01-001 XII.D.2.a, Appendix A; seed 003). FED.json:
// annual, anniversary, due_days 60. fedAlliance: signed 2024-06-12, two years (X.G),
// expires 2026-06-12.
func TestObligationsFED(t *testing.T) {
	fed := program(t, "FED")
	tests := []struct {
		name    string
		asOf    string
		reports map[string]*schema.Report
		want    []owed
	}{
		{"first year under way: both upcoming", "2024-07-01", nil, []owed{
			{"2025-annual", upcoming, "2025-08-11", false},
			{"2026-annual", upcoming, "2026-08-11", false},
		}},
		{"the day before the anniversary: still upcoming", "2025-06-11", nil, []owed{
			{"2025-annual", upcoming, "2025-08-11", false},
			{"2026-annual", upcoming, "2026-08-11", false},
		}},
		{"the anniversary: the year has ended, the report is due", "2025-06-12", nil, []owed{
			{"2025-annual", due, "2025-08-11", false},
			{"2026-annual", upcoming, "2026-08-11", false},
		}},
		{"the 60th day after the anniversary: due, not late (XII.D.2.a)", "2025-08-11", nil, []owed{
			{"2025-annual", due, "2025-08-11", false},
			{"2026-annual", upcoming, "2026-08-11", false},
		}},
		{"the 61st day: overdue", "2025-08-12", nil, []owed{
			{"2025-annual", overdue, "2025-08-11", false},
			{"2026-annual", upcoming, "2026-08-11", false},
		}},
		{"submitted on the last day: not late", "2025-09-01", byPeriod(filed("2025-annual", "2025-08-11")), []owed{
			{"2025-annual", submitted, "2025-08-11", false},
			{"2026-annual", upcoming, "2026-08-11", false},
		}},
		{"submitted a day after the 60 days: late", "2025-09-01", byPeriod(filed("2025-annual", "2025-08-12")), []owed{
			{"2025-annual", submitted, "2025-08-11", true},
			{"2026-annual", upcoming, "2026-08-11", false},
		}},
		{"submitted before the year ended", "2026-05-02", byPeriod(filed("2026-annual", "2026-05-01")), []owed{
			{"2025-annual", overdue, "2025-08-11", false},
			{"2026-annual", submitted, "2026-08-11", false},
		}},
		{"a report for a period not owed changes nothing", "2025-09-01", byPeriod(filed("2025-Q3", "2025-08-01")), []owed{
			{"2025-annual", overdue, "2025-08-11", false},
			{"2026-annual", upcoming, "2026-08-11", false},
		}},
		// A two-year term (CSP 04-01-001 X.G) is two Alliance years, so two annual
		// reports: the term's end, its second anniversary, begins no third year.
		{"after the term: two reports owed, no third", "2027-12-31", nil, []owed{
			{"2025-annual", overdue, "2025-08-11", false},
			{"2026-annual", overdue, "2026-08-11", false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := normalized(t, fed, fedAlliance())
			got := schema.Obligations(a, fed, tt.reports, schema.MustDate(tt.asOf))
			if diff := cmp.Diff(tt.want, owedOf(got)); diff != "" {
				t.Errorf("obligations as of %s (-want +got):\n%s", tt.asOf, diff)
			}
			for _, o := range got {
				if o.AllianceID != a.ID || o.Cadence != schema.CadenceAnnual {
					t.Errorf("%s: alliance %q cadence %q", o.Period, o.AllianceID, o.Cadence)
				}
			}
		})
	}

	// The days each report covers: the Alliance year ending on the anniversary.
	got := schema.Obligations(normalized(t, fed, fedAlliance()), fed, nil, schema.MustDate("2024-07-01"))
	if len(got) == 0 || got[0].From.String() != "2024-06-12" || got[0].To.String() != "2025-06-11" {
		t.Errorf("first obligation %+v, want 2024-06-12 to 2025-06-11", got)
	}
	// A submitted obligation carries its report's date.
	got = schema.Obligations(normalized(t, fed, fedAlliance()), fed, byPeriod(filed("2025-annual", "2025-08-12")), schema.MustDate("2025-09-01"))
	if got[0].ReportedOn.String() != "2025-08-12" {
		t.Errorf("submitted obligation reported_on %s, want 2025-08-12", got[0].ReportedOn)
	}
}

// miObligations is every report miAlliance owes, in due order: MIOSHA's quarterly and
// annual reports (seed 004); MI.json: quarterly on calendar quarters due 30 days after,
// annual on the anniversary due 60 days after (CSP 04-01-001 XII.D.2.a). Signed
// 2023-05-01, three years (DOMAIN.md, Lifecycle): twelve quarters and three years.
var miObligations = []struct{ period, due string }{
	{"2023-Q2", "2023-07-31"},
	{"2023-Q3", "2023-10-31"},
	{"2023-Q4", "2024-01-31"},
	{"2024-Q1", "2024-05-01"},
	{"2024-annual", "2024-06-30"},
	{"2024-Q2", "2024-07-31"},
	{"2024-Q3", "2024-10-31"},
	{"2024-Q4", "2025-01-31"},
	{"2025-Q1", "2025-05-01"},
	{"2025-annual", "2025-06-30"},
	{"2025-Q2", "2025-07-31"},
	{"2025-Q3", "2025-10-31"},
	{"2025-Q4", "2026-01-31"},
	{"2026-Q1", "2026-05-01"},
	{"2026-annual", "2026-06-30"},
	// The term ends 2026-05-01, before 2026-Q2 does: a period the Alliance does not
	// live to the end of is not owed (compliance.go, Obligations).
}

func TestObligationsMI(t *testing.T) {
	mi := program(t, "MI")
	a := normalized(t, mi, miAlliance())
	got := schema.Obligations(a, mi, nil, schema.MustDate("2030-01-01"))
	var want []owed
	for _, o := range miObligations {
		want = append(want, owed{o.period, overdue, o.due, false})
	}
	if diff := cmp.Diff(want, owedOf(got)); diff != "" {
		t.Errorf("every obligation, long after the term (-want +got):\n%s", diff)
	}
	for _, o := range got {
		p, err := schema.ParsePeriod(o.Period)
		if err != nil || p.Cadence != o.Cadence {
			t.Errorf("%s: cadence %s (%v)", o.Period, o.Cadence, err)
		}
	}
	// The first quarter is the calendar quarter of signing, April to June 2023.
	if got[0].From.String() != "2023-04-01" || got[0].To.String() != "2023-06-30" {
		t.Errorf("2023-Q2 covers %s to %s", got[0].From, got[0].To)
	}
}

func TestComplianceOf(t *testing.T) {
	c := loadCatalog(t)
	fed, _ := c.Get("FED")
	mi, _ := c.Get("MI")
	fedSigned := func() *schema.Alliance { return normalized(t, fed, fedAlliance()) }
	miSigned := func() *schema.Alliance { return normalized(t, mi, miAlliance()) }
	tests := []struct {
		name        string
		program     *schema.Program
		alliance    func() *schema.Alliance
		reports     []*schema.Report
		asOf        string
		wantNext    string // "" when nothing more is owed
		wantPeriod  string
		wantOverdue []string
	}{
		// Federal: annual, due within 60 days of the anniversary (XII.D.2.a, seed 003).
		{"FED: first report next", fed, fedSigned, nil, "2024-07-01", "2025-08-11", "2025-annual", []string{}},
		{"FED: due, not yet late", fed, fedSigned, nil, "2025-08-11", "2025-08-11", "2025-annual", []string{}},
		{"FED: overdue moves next to the second year", fed, fedSigned, nil, "2025-08-12", "2026-08-11", "2026-annual", []string{"2025-annual"}},
		{"FED: submitted moves next to the second year", fed, fedSigned, []*schema.Report{filed("2025-annual", "2025-07-01")}, "2025-08-12", "2026-08-11", "2026-annual", []string{}},
		{"FED: late submission is not overdue", fed, fedSigned, []*schema.Report{filed("2025-annual", "2025-10-01")}, "2025-12-01", "2026-08-11", "2026-annual", []string{}},
		{"FED: everything submitted", fed, fedSigned, []*schema.Report{filed("2025-annual", "2025-07-01"), filed("2026-annual", "2026-07-01")}, "2026-07-02", "", "", []string{}},
		{"FED: after the term, both overdue and nothing next", fed, fedSigned, nil, "2027-01-01", "", "", []string{"2025-annual", "2026-annual"}},

		// MIOSHA: quarterly and annual (seed 004).
		{"MI: signing day", mi, miSigned, nil, "2023-05-01", "2023-07-31", "2023-Q2", []string{}},
		{"MI: quarter ended, due", mi, miSigned, nil, "2023-07-01", "2023-07-31", "2023-Q2", []string{}},
		{"MI: first quarter overdue", mi, miSigned, nil, "2023-08-01", "2023-10-31", "2023-Q3", []string{"2023-Q2"}},
		{"MI: annual due before the next quarter", mi, miSigned, []*schema.Report{
			filed("2023-Q2", "2023-07-20"), filed("2023-Q3", "2023-10-31"), filed("2023-Q4", "2024-02-15"),
		}, "2024-05-15", "2024-06-30", "2024-annual", []string{"2024-Q1"}},
		{"MI: overdue quarters and year, oldest first", mi, miSigned, []*schema.Report{
			filed("2023-Q2", "2023-07-20"), filed("2023-Q4", "2024-01-20"),
		}, "2024-08-01", "2024-10-31", "2024-Q3", []string{"2023-Q3", "2024-Q1", "2024-annual", "2024-Q2"}},
		{"MI: everything overdue long after the term", mi, miSigned, nil, "2030-01-01", "", "", func() []string {
			var all []string
			for _, o := range miObligations {
				all = append(all, o.period)
			}
			return all
		}()},

		// Termination takes effect 30 days after notice (seed 001; CSP 04-01-001 XIV):
		// the Alliance owes the periods that ended while it was in force, and no more
		// (compliance.go, Obligations).
		{"FED terminated in its first year owes nothing", fed, func() *schema.Alliance {
			a := fedSigned()
			mustOK(t, a.Terminate(schema.MustDate("2025-03-01"), "")) // effective 2025-03-31
			return a
		}, nil, "2027-01-01", "", "", []string{}},
		{"FED terminated effective on the anniversary owes one report", fed, func() *schema.Alliance {
			a := fedSigned()
			mustOK(t, a.Terminate(schema.MustDate("2025-05-13"), "")) // effective 2025-06-12
			return a
		}, nil, "2027-01-01", "", "", []string{"2025-annual"}},
		{"FED terminated effective the day after the anniversary does not owe the year it began", fed, func() *schema.Alliance {
			a := fedSigned()
			mustOK(t, a.Terminate(schema.MustDate("2025-05-14"), "")) // effective 2025-06-13: in force on 2025-06-12
			return a
		}, nil, "2027-01-01", "", "", []string{"2025-annual"}},
		{"MI terminated owes no quarter after it took effect", mi, func() *schema.Alliance {
			a := miSigned()
			mustOK(t, a.Terminate(schema.MustDate("2024-02-15"), "")) // effective 2024-03-16
			return a
		}, nil, "2025-01-01", "", "", []string{"2023-Q2", "2023-Q3", "2023-Q4"}},
		{"MI terminated: the quarter it ends in is not owed, even during the notice period", mi, func() *schema.Alliance {
			a := miSigned()
			mustOK(t, a.Terminate(schema.MustDate("2024-02-15"), ""))
			return a
		}, []*schema.Report{filed("2023-Q2", "2023-07-01"), filed("2023-Q3", "2023-10-01"), filed("2023-Q4", "2024-01-01")}, "2024-03-01", "", "", []string{}},
		{"MI terminated, notice given before its quarters ended", mi, func() *schema.Alliance {
			a := miSigned()
			mustOK(t, a.Terminate(schema.MustDate("2023-12-01"), "")) // effective 2023-12-31
			return a
		}, nil, "2023-10-15", "2023-10-31", "2023-Q3", []string{"2023-Q2"}},

		// Ambassadors have no reporting requirements (seed 001).
		{"FED Ambassador owes nothing after ambassador_on", fed, func() *schema.Alliance { return ambassador(t, fed, "2025-03-02") },
			nil, "2027-01-01", "", "", []string{"2019-annual", "2020-annual", "2021-annual", "2022-annual", "2023-annual", "2024-annual", "2025-annual"}},
		{"FED Ambassador with its reports filed owes nothing", fed, func() *schema.Alliance { return ambassador(t, fed, "2025-03-02") },
			[]*schema.Report{
				filed("2019-annual", "2019-04-01"), filed("2020-annual", "2020-04-01"), filed("2021-annual", "2021-04-01"),
				filed("2022-annual", "2022-04-01"), filed("2023-annual", "2023-04-01"), filed("2024-annual", "2024-04-01"),
				filed("2025-annual", "2025-04-01"),
			}, "2027-01-01", "", "", []string{}},
		{"FED Ambassador after its term lapsed owes nothing past the term", fed, func() *schema.Alliance { return ambassador(t, fed, "2025-09-01") },
			nil, "2027-01-01", "", "", []string{"2019-annual", "2020-annual", "2021-annual", "2022-annual", "2023-annual", "2024-annual", "2025-annual"}},

		// A draft was never signed: reports start once it is (seed 001).
		{"FED draft owes nothing", fed, func() *schema.Alliance {
			a := fedAlliance()
			a.SignedOn = schema.Date{}
			return normalized(t, fed, a)
		}, nil, "2027-01-01", "", "", []string{}},
		{"MI draft owes nothing", mi, func() *schema.Alliance {
			a := miAlliance()
			a.SignedOn = schema.Date{}
			return normalized(t, mi, a)
		}, nil, "2027-01-01", "", "", []string{}},

		// A signing date known only to the month or the year counts from its last day,
		// so nothing is overdue earlier than a full date would make it (DOMAIN.md, Real
		// data is messy; lifecycle.go, anchorDay).
		{"FED signed 2019-05-01: overdue by mid-July 2020", fed, func() *schema.Alliance { return signedOn(t, fed, "2019-05-01") },
			nil, "2020-07-15", "2021-06-30", "2021-annual", []string{"2020-annual"}},
		{"FED signed in May 2019: not yet overdue in mid-July 2020", fed, func() *schema.Alliance { return signedOn(t, fed, "2019-05") },
			nil, "2020-07-15", "2020-07-30", "2020-annual", []string{}},
		{"FED signed in 2019: first report due in 2021", fed, func() *schema.Alliance { return signedOn(t, fed, "2019") },
			nil, "2020-07-15", "2021-03-01", "2020-annual", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.alliance()
			got := schema.ComplianceOf(a, tt.program, tt.reports, schema.MustDate(tt.asOf))
			if got.AsOf != schema.MustDate(tt.asOf) {
				t.Errorf("as_of %s", got.AsOf)
			}
			gotNext := ""
			if got.NextReportDue != nil {
				gotNext = got.NextReportDue.String()
			}
			if gotNext != tt.wantNext || got.NextReportPeriod != tt.wantPeriod {
				t.Errorf("next report due %q (%s), want %q (%s)", gotNext, got.NextReportPeriod, tt.wantNext, tt.wantPeriod)
			}
			if got.OverdueReports == nil {
				t.Error("overdue_reports is nil; scripts read [], never null")
			}
			if diff := cmp.Diff(tt.wantOverdue, overduePeriods(got)); diff != "" {
				t.Errorf("overdue reports (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCompliancePartialSigning: a signing date known only to the month or year owes
// exactly what a signing on its last day owes, and its k-th report falls due no earlier
// than the k-th report of any full date it may mean (lifecycle.go, anchorDay; DOMAIN.md,
// Real data is messy).
func TestCompliancePartialSigning(t *testing.T) {
	c := loadCatalog(t)
	tests := []struct {
		program string
		partial string
		last    string
		fulls   []string
	}{
		{"FED", "2019-05", "2019-05-31", []string{"2019-05-01", "2019-05-15", "2019-05-30"}},
		{"FED", "2019", "2019-12-31", []string{"2019-01-01", "2019-02-28", "2019-06-15", "2019-12-01"}},
		{"MI", "2019-05", "2019-05-31", []string{"2019-05-01", "2019-05-15", "2019-05-30"}},
		{"MI", "2019", "2019-12-31", []string{"2019-01-01", "2019-02-28", "2019-06-15", "2019-12-01"}},
	}
	asOf := schema.MustDate("2035-01-01")
	for _, tt := range tests {
		t.Run(tt.program+" "+tt.partial, func(t *testing.T) {
			p, _ := c.Get(tt.program)
			partial := schema.Obligations(signedOn(t, p, tt.partial), p, nil, asOf)
			if len(partial) == 0 {
				t.Fatal("a signed Alliance with a partial date owes nothing")
			}
			atLast := schema.Obligations(signedOn(t, p, tt.last), p, nil, asOf)
			if diff := cmp.Diff(owedOf(atLast), owedOf(partial)); diff != "" {
				t.Errorf("signed %s owes other than signed %s (-last +partial):\n%s", tt.partial, tt.last, diff)
			}
			for _, f := range tt.fulls {
				full := schema.Obligations(signedOn(t, p, f), p, nil, asOf)
				for k := 0; k < min(len(full), len(partial)); k++ {
					if partial[k].DueOn.First().Before(full[k].DueOn.First()) {
						t.Errorf("signed %s: report %d (%s) due %s, before signed %s's (%s, due %s)",
							tt.partial, k, partial[k].Period, partial[k].DueOn, f, full[k].Period, full[k].DueOn)
					}
				}
			}
		})
	}
}

func TestComplianceMeetings(t *testing.T) {
	fed := program(t, "FED")
	// fedAlliance: signed 2024-06-12, expires 2026-06-12. Its annual reports cover the
	// Alliance years 2024-06-12 to 2025-06-11 (2025-annual) and 2025-06-12 to 2026-06-11
	// (2026-annual). As of 2026-03-01, the last twelve months are 2025-03-02 to
	// 2026-03-01.
	tests := []struct {
		name      string
		reports   []*schema.Report
		asOf      string
		wantCount int    // meetings in the twelve months ending on as_of
		wantShort bool   // fewer than three in the year judged
		wantYear  string // the year judged ends on: "" when none is
		wantHeld  int    // meetings in the year judged
	}{
		// The implementation team meets at least three times a year (CSP 04-01-001
		// VII.F, XII.C; seed 003). With both years reported (the second early), the
		// reports reach as_of: the twelve months ending on as_of are judged.
		{"three meetings: not short", []*schema.Report{
			filed("2025-annual", "2025-07-01", "2025-03-02", "2025-06-01"),
			filed("2026-annual", "2026-03-01", "2026-03-01"),
		}, "2026-03-01", 3, false, "2026-03-01", 3},
		{"two meetings: short", []*schema.Report{
			filed("2025-annual", "2025-07-01", "2025-06-01"),
			filed("2026-annual", "2026-03-01", "2026-02-01"),
		}, "2026-03-01", 2, true, "2026-03-01", 2},
		{"exactly twelve months ago is excluded", []*schema.Report{
			filed("2025-annual", "2025-07-01", "2025-03-01", "2025-06-01"),
			filed("2026-annual", "2026-03-01", "2026-02-01"),
		}, "2026-03-01", 2, true, "2026-03-01", 2},
		{"a meeting after as_of is not counted", []*schema.Report{
			filed("2025-annual", "2025-07-01", "2025-06-01"),
			filed("2026-annual", "2026-03-01", "2026-02-01", "2026-03-02"),
		}, "2026-03-01", 2, true, "2026-03-01", 2},
		{"a day reported twice counts once", []*schema.Report{
			filed("2025-annual", "2025-07-01", "2025-06-01", "2025-06-01"),
			filed("2026-annual", "2026-03-01", "2025-06-01", "2026-02-01"),
		}, "2026-03-01", 2, true, "2026-03-01", 2},
		{"a meeting known only to the month is not counted", []*schema.Report{
			filed("2025-annual", "2025-07-01"),
			{Period: "2026-annual", ReportedOn: schema.MustDate("2026-03-01"), Meetings: []schema.Meeting{
				{HeldOn: schema.MustDate("2025-09")}, {HeldOn: schema.MustDate("2025-10-01")},
				{HeldOn: schema.MustDate("2025-11-01")}, {HeldOn: schema.MustDate("2025-12-01")},
			}},
		}, "2026-03-01", 3, false, "2026-03-01", 3},

		// Only what has been reported is judged: months nobody has reported on are not
		// held against the Alliance.
		{"nothing reported yet: not judged", nil, "2025-06-12", 0, false, "", 0},
		{"a year in force, none of it reported: not judged", nil, "2026-03-01", 0, false, "", 0},
		{"the months since the last report are not judged", []*schema.Report{
			filed("2025-annual", "2025-07-01", "2024-08-01", "2024-12-01", "2025-04-01"),
		}, "2026-03-01", 1, false, "2025-06-11", 3},
		{"the latest year reported is judged", []*schema.Report{
			filed("2025-annual", "2025-07-01", "2024-08-01", "2025-01-15"),
		}, "2026-03-01", 0, true, "2025-06-11", 2},
		{"the first year, reported, on its last day", []*schema.Report{
			filed("2025-annual", "2025-06-11", "2025-01-15"),
		}, "2025-06-11", 1, true, "2025-06-11", 1},
		{"the first year, reported early, a day before its end: less than a year", []*schema.Report{
			filed("2025-annual", "2025-06-10", "2025-01-15"),
		}, "2025-06-10", 1, false, "", 0},
		{"a report filed early for the current year reaches as_of", []*schema.Report{
			filed("2025-annual", "2025-07-01", "2024-08-01", "2024-12-01", "2025-04-01"),
			filed("2026-annual", "2026-03-01"),
		}, "2026-03-01", 1, true, "2026-03-01", 1},
		{"a report for a period the program does not take covers nothing", []*schema.Report{
			filed("2025-Q3", "2025-10-01"),
		}, "2026-03-01", 0, false, "", 0},
		{"after the term: not judged", []*schema.Report{
			filed("2025-annual", "2025-07-01"), filed("2026-annual", "2026-06-11"),
		}, "2026-07-01", 0, false, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := normalized(t, fed, fedAlliance())
			got := schema.ComplianceOf(a, fed, tt.reports, schema.MustDate(tt.asOf))
			year := ""
			if got.MeetingsJudgedThrough != nil {
				year = got.MeetingsJudgedThrough.String()
			}
			if got.MeetingsLast12Months != tt.wantCount || got.MeetingsShort != tt.wantShort || year != tt.wantYear || got.MeetingsInJudgedYear != tt.wantHeld {
				t.Errorf("meetings %d, short %v, judged through %q with %d; want %d, %v, %q with %d",
					got.MeetingsLast12Months, got.MeetingsShort, year, got.MeetingsInJudgedYear, tt.wantCount, tt.wantShort, tt.wantYear, tt.wantHeld)
			}
			if got.MeetingsRequired != 3 {
				t.Errorf("meetings required %d, want 3 (VII.F)", got.MeetingsRequired)
			}
		})
	}

	// MIOSHA reports quarterly and annually (seed 004): any of its reports covers the days
	// of its period, and a gap leaves the year around it unjudged. miAlliance: signed
	// 2023-05-01.
	t.Run("MI quarters and years", func(t *testing.T) {
		mi := program(t, "MI")
		a := normalized(t, mi, miAlliance())
		quarters := []*schema.Report{
			filed("2023-Q2", "2023-07-10", "2023-06-01"), filed("2023-Q3", "2023-10-10"),
			filed("2023-Q4", "2024-01-10", "2023-12-01"), filed("2024-Q1", "2024-04-10"),
			filed("2024-Q2", "2024-07-10"),
		}
		judged := func(rs []*schema.Report) string {
			c := schema.ComplianceOf(a, mi, rs, schema.MustDate("2024-08-01"))
			if c.MeetingsJudgedThrough == nil {
				return ""
			}
			return fmt.Sprintf("%s %d %v", c.MeetingsJudgedThrough, c.MeetingsInJudgedYear, c.MeetingsShort)
		}
		// Quarters from signing to 2024-06-30: the twelve months to 2024-06-30.
		if got := judged(quarters); got != "2024-06-30 1 true" {
			t.Errorf("every quarter: %q, want the year to 2024-06-30 with 1 meeting, short", got)
		}
		// Without 2023-Q4 no twelve months are reported in a row...
		gap := []*schema.Report{quarters[0], quarters[1], quarters[3], quarters[4]}
		if got := judged(gap); got != "" {
			t.Errorf("a quarter missing: judged %q, want nothing", got)
		}
		// ...until the annual report, 2023-05-01 to 2024-04-30, fills the gap.
		if got := judged(append(gap, filed("2024-annual", "2024-06-01", "2023-09-01", "2024-02-01"))); got != "2024-06-30 2 true" {
			t.Errorf("gap filled by the annual report: %q, want the year to 2024-06-30 with 2 meetings, short", got)
		}
	})

	// Not short once the Alliance is no longer in force: terminated (seed 001; XIV),
	// an Ambassador (no requirements, seed 001), or a draft.
	t.Run("terminated: not short", func(t *testing.T) {
		a := normalized(t, fed, fedAlliance())
		mustOK(t, a.Terminate(schema.MustDate("2025-08-01"), "")) // effective 2025-08-31
		reports := []*schema.Report{filed("2025-annual", "2025-07-01")}
		if got := schema.ComplianceOf(a, fed, reports, schema.MustDate("2025-09-01")); got.MeetingsShort {
			t.Error("a terminated Alliance is flagged meetings_short")
		}
		if got := schema.ComplianceOf(a, fed, reports, schema.MustDate("2025-08-30")); !got.MeetingsShort {
			t.Error("during the notice period, with a year reported and no meetings, meetings_short is false")
		}
	})
	t.Run("Ambassador: not short", func(t *testing.T) {
		a := ambassador(t, fed, "2025-03-02")
		reports := []*schema.Report{filed("2024-annual", "2024-04-01"), filed("2025-annual", "2025-04-01")}
		if got := schema.ComplianceOf(a, fed, reports, schema.MustDate("2025-06-01")); got.MeetingsShort {
			t.Error("an Ambassador is flagged meetings_short")
		}
	})
	t.Run("draft: not short", func(t *testing.T) {
		a := fedAlliance()
		a.SignedOn = schema.Date{}
		if got := schema.ComplianceOf(normalized(t, fed, a), fed, nil, schema.MustDate("2025-06-01")); got.MeetingsShort {
			t.Error("a draft is flagged meetings_short")
		}
	})
	t.Run("program requirement", func(t *testing.T) {
		def := writeFile(t, "fed.json", strings.Replace(fedDefinition(t), `"meetings_per_year": 3`, `"meetings_per_year": 4`, 1))
		p, _ := loadCatalog(t, def).Get("FED")
		a := normalized(t, p, fedAlliance())
		got := schema.ComplianceOf(a, p, []*schema.Report{
			filed("2025-annual", "2025-07-01"),
			filed("2026-annual", "2026-03-01", "2025-06-01", "2025-09-01", "2026-01-01"),
		}, schema.MustDate("2026-03-01"))
		if got.MeetingsRequired != 4 || !got.MeetingsShort || got.MeetingsInJudgedYear != 3 {
			t.Errorf("required %d, short %v with %d; want 4, true with 3", got.MeetingsRequired, got.MeetingsShort, got.MeetingsInJudgedYear)
		}
	})
}

func TestComplianceExpiringAndAmbassador(t *testing.T) {
	c := loadCatalog(t)
	fed, _ := c.Get("FED")
	mi, _ := c.Get("MI")
	tests := []struct {
		name         string
		program      *schema.Program
		alliance     func() *schema.Alliance
		asOf         string
		wantExpiring bool
		wantEligible bool
		wantOn       string // "" for none
	}{
		// Expiring: the term ends within 90 days (CONTRACT.md); fedAlliance expires
		// 2026-06-12.
		{"91 days before the end", fed, func() *schema.Alliance { return normalized(t, fed, fedAlliance()) }, "2026-03-13", false, false, ""},
		{"90 days before the end", fed, func() *schema.Alliance { return normalized(t, fed, fedAlliance()) }, "2026-03-14", true, false, ""},
		{"on the last day", fed, func() *schema.Alliance { return normalized(t, fed, fedAlliance()) }, "2026-06-12", true, false, ""},
		{"after the end", fed, func() *schema.Alliance { return normalized(t, fed, fedAlliance()) }, "2026-06-13", false, false, ""},
		{"renewed: no longer expiring", fed, func() *schema.Alliance {
			a := normalized(t, fed, fedAlliance())
			mustOK(t, a.Renew(fed, schema.MustDate("2026-05-01"), 0))
			return a
		}, "2026-06-01", false, false, "2031-05-02"},
		// Ambassador after the initial term and one renewal term (seed 001).
		{"renewed, before the renewal term is completed", fed, func() *schema.Alliance { return renewedFED(t, fed) }, "2025-02-28", true, false, "2025-03-02"},
		{"renewed, on the renewal term's last day", fed, func() *schema.Alliance { return renewedFED(t, fed) }, "2025-03-01", true, false, "2025-03-02"},
		{"renewal term completed: eligible", fed, func() *schema.Alliance { return renewedFED(t, fed) }, "2025-03-02", false, true, "2025-03-02"},
		{"MIOSHA offers no Ambassador status (seed 004)", mi, func() *schema.Alliance {
			a := signedOn(t, mi, "2015-03-01")
			mustOK(t, a.Renew(mi, schema.MustDate("2018-03-01"), 60))
			return a
		}, "2024-01-01", false, false, ""},
		{"an Ambassador is not eligible again", fed, func() *schema.Alliance { return ambassador(t, fed, "2025-03-02") }, "2025-06-01", false, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := schema.ComplianceOf(tt.alliance(), tt.program, nil, schema.MustDate(tt.asOf))
			gotOn := ""
			if got.AmbassadorEligibleOn != nil {
				gotOn = got.AmbassadorEligibleOn.String()
			}
			if got.Expiring != tt.wantExpiring || got.AmbassadorEligible != tt.wantEligible || gotOn != tt.wantOn {
				t.Errorf("expiring %v, eligible %v on %q; want %v, %v on %q",
					got.Expiring, got.AmbassadorEligible, gotOn, tt.wantExpiring, tt.wantEligible, tt.wantOn)
			}
		})
	}
}

// overduePeriods lists the periods of the overdue reports.
func overduePeriods(c schema.Compliance) []string {
	out := []string{}
	out = append(out, c.OverdueReports...)
	return out
}

// signedOn is a normalized Alliance of program p signed on signed ("YYYY-MM-DD",
// "YYYY-MM" or "YYYY").
func signedOn(t *testing.T, p *schema.Program, signed string) *schema.Alliance {
	t.Helper()
	a := signedAlliance(p, signed)
	a.ID = p.Code + "-0123456789abcdef"
	return a
}

// renewedFED is a federal Alliance signed 2018-03-01 for two years (CSP 04-01-001 X.G)
// and renewed on 2020-03-01 for five (seed 001): its renewal term's last day is
// 2025-03-01, so it is eligible for Ambassador status from 2025-03-02, when its initial
// term and one renewal term are completed (seed 001).
func renewedFED(t *testing.T, fed *schema.Program) *schema.Alliance {
	t.Helper()
	a := signedOn(t, fed, "2018-03-01")
	mustOK(t, a.Renew(fed, schema.MustDate("2020-03-01"), 60))
	return a
}

// ambassador is renewedFED made an Ambassador on on.
func ambassador(t *testing.T, fed *schema.Program, on string) *schema.Alliance {
	t.Helper()
	a := renewedFED(t, fed)
	mustOK(t, a.MakeAmbassador(fed, schema.MustDate(on)))
	return a
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// fedDefinition is the built-in FED definition's text, to edit.
func fedDefinition(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("programs", "FED.json"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// longMI is a MIOSHA Alliance (quarterly and annual reports, seed 004) as long as
// validation allows: signed in 2020 and renewed in 2195 for five years, to 2200-01-01.
func longMI(t *testing.T, mi *schema.Program) *schema.Alliance {
	t.Helper()
	a := signedOn(t, mi, "2020-01-15")
	a.Goals = []schema.Goal{{Category: "outreach-communication"}} // required (seed 004)
	mustOK(t, a.Renew(mi, schema.MustDate("2195-01-01"), 60))
	mustOK(t, a.Validate(mi))
	return a
}

// TestComplianceThrough: cut at a date, compliance holds the obligations due up to it and
// every overdue one, exactly as the whole term's list has them, and says everything else
// as ComplianceOf does (next_report_due included, found past the cut); a term running to
// 2200 costs only the periods up to the cut.
func TestComplianceThrough(t *testing.T) {
	c := loadCatalog(t)
	fed, _ := c.Get("FED")
	mi, _ := c.Get("MI")
	tests := []struct {
		name          string
		program       *schema.Program
		alliance      func() *schema.Alliance
		reports       []*schema.Report
		asOf, through string
		wantNext      string // next report due, "period due"
	}{
		{"FED, cut at as_of, nothing due yet", fed, func() *schema.Alliance { return normalized(t, fed, fedAlliance()) }, nil, "2024-07-01", "2024-07-01", "2025-annual 2025-08-11"},
		{"FED, reported early: next is past the cut", fed, func() *schema.Alliance { return normalized(t, fed, fedAlliance()) },
			[]*schema.Report{filed("2025-annual", "2025-06-01")}, "2025-06-01", "2025-09-01", "2026-annual 2026-08-11"},
		{"FED, overdue before the window", fed, func() *schema.Alliance { return normalized(t, fed, fedAlliance()) }, nil, "2026-09-01", "2026-01-01", ""},
		{"MI, a quarter's window", mi, func() *schema.Alliance { return normalized(t, mi, miAlliance()) },
			[]*schema.Report{filed("2023-Q2", "2023-07-01")}, "2024-02-10", "2024-05-10", "2024-Q1 2024-05-01"},
		{"MI, quarters reported ahead", mi, func() *schema.Alliance { return normalized(t, mi, miAlliance()) },
			[]*schema.Report{filed("2024-Q1", "2024-03-01"), filed("2024-annual", "2024-03-01"), filed("2024-Q2", "2024-04-01")}, "2024-02-10", "2024-02-10", "2024-Q3 2024-10-31"},
		{"MI terminated", mi, func() *schema.Alliance {
			a := normalized(t, mi, miAlliance())
			mustOK(t, a.Terminate(schema.MustDate("2024-02-15"), ""))
			return a
		}, nil, "2024-03-01", "2024-06-01", ""},
		{"FED Ambassador", fed, func() *schema.Alliance { return ambassador(t, fed, "2025-03-02") }, nil, "2025-01-01", "2025-02-01", "2025-annual 2025-04-30"},
		{"MI to 2200", mi, func() *schema.Alliance { return longMI(t, mi) },
			[]*schema.Report{filed("2025-Q4", "2026-01-10")}, "2026-01-15", "2026-04-15", "2026-annual 2026-03-16"},
		{"MI to 2200, every quarter of 2026 reported ahead", mi, func() *schema.Alliance { return longMI(t, mi) },
			[]*schema.Report{filed("2025-Q4", "2026-01-10"), filed("2026-Q1", "2026-01-10"), filed("2026-annual", "2026-01-10"),
				filed("2026-Q2", "2026-04-10"), filed("2026-Q3", "2026-07-10"), filed("2026-Q4", "2026-10-10")},
			"2026-01-15", "2026-01-15", "2027-annual 2027-03-16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.alliance()
			asOf, through := schema.MustDate(tt.asOf), schema.MustDate(tt.through)
			full := schema.ComplianceOf(a, tt.program, tt.reports, asOf)
			cut := schema.ComplianceThrough(a, tt.program, tt.reports, asOf, through)
			until := through.First()
			if asOf.First().After(until) {
				until = asOf.First()
			}
			want := []schema.Obligation{}
			for _, o := range full.Obligations {
				if !o.DueOn.First().After(until) {
					want = append(want, o)
				}
			}
			if diff := cmp.Diff(want, cut.Obligations); diff != "" {
				t.Errorf("obligations through %s (-whole term, cut +through):\n%s", tt.through, diff)
			}
			full.Obligations, cut.Obligations = nil, nil
			if diff := cmp.Diff(full, cut); diff != "" {
				t.Errorf("compliance (-ComplianceOf +ComplianceThrough):\n%s", diff)
			}
			next := ""
			if cut.NextReportDue != nil {
				next = cut.NextReportPeriod + " " + cut.NextReportDue.String()
			}
			if next != tt.wantNext {
				t.Errorf("next report %q, want %q", next, tt.wantNext)
			}
		})
	}

	// The long term: its whole list runs to 2200; cut at a quarter it holds what is due
	// up to then (six years of quarters and years since 2020), not 180 years of periods.
	a := longMI(t, mi)
	if n := len(schema.ComplianceOf(a, mi, nil, schema.MustDate("2026-01-15")).Obligations); n < 850 {
		t.Errorf("the whole term holds %d obligations; want the 180 years of quarters and years to 2200", n)
	}
	if n := len(schema.ComplianceThrough(a, mi, nil, schema.MustDate("2026-01-15"), schema.MustDate("2026-04-15")).Obligations); n > 6*5+2 {
		t.Errorf("cut at 2026-04-15 it holds %d obligations; want those due by then", n)
	}
	if n := len(schema.ObligationsThrough(a, mi, nil, schema.MustDate("2026-01-15"), schema.MustDate("2026-04-15"))); n > 6*5+2 {
		t.Errorf("ObligationsThrough holds %d obligations; want those due by 2026-04-15", n)
	}
}
