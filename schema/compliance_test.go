package schema_test

import (
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
		{"FED Ambassador owes nothing after ambassador_on", fed, func() *schema.Alliance { return ambassador(t, fed, "2025-03-01") },
			nil, "2027-01-01", "", "", []string{"2019-annual", "2020-annual", "2021-annual", "2022-annual", "2023-annual", "2024-annual", "2025-annual"}},
		{"FED Ambassador with its reports filed owes nothing", fed, func() *schema.Alliance { return ambassador(t, fed, "2025-03-01") },
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
	// fedAlliance: signed 2024-06-12, expires 2026-06-12. As of 2026-03-01, the twelve
	// months are 2025-03-02 to 2026-03-01.
	tests := []struct {
		name      string
		reports   []*schema.Report
		asOf      string
		wantCount int
		wantShort bool
	}{
		// The implementation team meets at least three times a year (CSP 04-01-001
		// VII.F, XII.C; seed 003).
		{"three meetings: not short", []*schema.Report{
			filed("2025-annual", "2025-07-01", "2025-03-02", "2025-06-01"),
			filed("2026-annual", "2026-03-01", "2026-03-01"),
		}, "2026-03-01", 3, false},
		{"two meetings: short", []*schema.Report{
			filed("2025-annual", "2025-07-01", "2025-06-01"),
			filed("2026-annual", "2026-03-01", "2026-02-01"),
		}, "2026-03-01", 2, true},
		{"exactly twelve months ago is excluded", []*schema.Report{
			filed("2025-annual", "2025-07-01", "2025-03-01", "2025-06-01"),
			filed("2026-annual", "2026-03-01", "2026-02-01"),
		}, "2026-03-01", 2, true},
		{"a meeting after as_of is not counted", []*schema.Report{
			filed("2025-annual", "2025-07-01", "2025-06-01"),
			filed("2026-annual", "2026-03-01", "2026-02-01", "2026-03-02"),
		}, "2026-03-01", 2, true},
		{"a day reported twice counts once", []*schema.Report{
			filed("2025-annual", "2025-07-01", "2025-06-01", "2025-06-01"),
			filed("2026-annual", "2026-03-01", "2025-06-01", "2026-02-01"),
		}, "2026-03-01", 2, true},
		{"a meeting known only to the month is not counted", []*schema.Report{
			{Period: "2026-annual", ReportedOn: schema.MustDate("2026-03-01"), Meetings: []schema.Meeting{
				{HeldOn: schema.MustDate("2025-09")}, {HeldOn: schema.MustDate("2025-10-01")},
				{HeldOn: schema.MustDate("2025-11-01")}, {HeldOn: schema.MustDate("2025-12-01")},
			}},
		}, "2026-03-01", 3, false},
		// Flagged only once in force for the whole twelve months.
		{"in force less than twelve months: not short", nil, "2025-06-11", 0, false},
		{"in force exactly twelve months: short", nil, "2025-06-12", 0, true},
		{"after the term: not short", nil, "2026-07-01", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := normalized(t, fed, fedAlliance())
			got := schema.ComplianceOf(a, fed, tt.reports, schema.MustDate(tt.asOf))
			if got.MeetingsLast12Months != tt.wantCount || got.MeetingsShort != tt.wantShort {
				t.Errorf("meetings %d, short %v; want %d, %v", got.MeetingsLast12Months, got.MeetingsShort, tt.wantCount, tt.wantShort)
			}
			if got.MeetingsRequired != 3 {
				t.Errorf("meetings required %d, want 3 (VII.F)", got.MeetingsRequired)
			}
		})
	}

	// Not short once the Alliance is no longer in force: terminated (seed 001; XIV),
	// an Ambassador (no requirements, seed 001), or a draft.
	t.Run("terminated: not short", func(t *testing.T) {
		a := normalized(t, fed, fedAlliance())
		mustOK(t, a.Terminate(schema.MustDate("2025-08-01"), "")) // effective 2025-08-31
		if got := schema.ComplianceOf(a, fed, nil, schema.MustDate("2025-09-01")); got.MeetingsShort {
			t.Error("a terminated Alliance is flagged meetings_short")
		}
		if got := schema.ComplianceOf(a, fed, nil, schema.MustDate("2025-08-30")); !got.MeetingsShort {
			t.Error("during the notice period, with no meetings, meetings_short is false")
		}
	})
	t.Run("Ambassador: not short", func(t *testing.T) {
		a := ambassador(t, fed, "2025-03-01")
		if got := schema.ComplianceOf(a, fed, nil, schema.MustDate("2025-06-01")); got.MeetingsShort {
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
		got := schema.ComplianceOf(a, p, []*schema.Report{filed("2026-annual", "2026-03-01", "2025-06-01", "2025-09-01", "2026-01-01")}, schema.MustDate("2026-03-01"))
		if got.MeetingsRequired != 4 || !got.MeetingsShort {
			t.Errorf("required %d, short %v; want 4, true", got.MeetingsRequired, got.MeetingsShort)
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
		}, "2026-06-01", false, false, "2031-05-01"},
		// Ambassador after the initial term and one renewal term (seed 001).
		{"renewed, before the renewal term is completed", fed, func() *schema.Alliance { return renewedFED(t, fed) }, "2025-02-28", true, false, "2025-03-01"},
		{"renewal term completed: eligible", fed, func() *schema.Alliance { return renewedFED(t, fed) }, "2025-03-01", true, true, "2025-03-01"},
		{"MIOSHA offers no Ambassador status (seed 004)", mi, func() *schema.Alliance {
			a := signedOn(t, mi, "2015-03-01")
			mustOK(t, a.Renew(mi, schema.MustDate("2018-03-01"), 60))
			return a
		}, "2024-01-01", false, false, ""},
		{"an Ambassador is not eligible again", fed, func() *schema.Alliance { return ambassador(t, fed, "2025-03-01") }, "2025-06-01", false, false, ""},
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
// and renewed on 2020-03-01 for five (seed 001): eligible for Ambassador status from
// 2025-03-01, when its initial term and one renewal term are completed (seed 001).
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
