package schema_test

import (
	"strings"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

// optOutFED is the federal program with two offices that opted out of the Ambassador
// option: Regional and Area Offices have discretion on whether to adopt it (seed 001).
// The definition comes from a config file, like any program (DOMAIN.md, Programs).
func optOutFED(t *testing.T) *schema.Program {
	t.Helper()
	def := fedDefinition(t)
	edited := strings.Replace(def, `"ambassador": true,`,
		`"ambassador": true, "ambassador_opt_out_offices": ["Chicago Regional Office", " Denver Area Office "],`, 1)
	if edited == def {
		t.Fatal("test bug: FED.json has no \"ambassador\": true,")
	}
	p, ok := loadCatalog(t, writeFile(t, "fed.json", edited)).Get("FED")
	if !ok {
		t.Fatal("FED not loaded")
	}
	return p
}

// inOffice is renewedFED signed by office.
func inOffice(t *testing.T, p *schema.Program, office string) *schema.Alliance {
	t.Helper()
	a := signedOn(t, p, "2018-03-01")
	a.Office = office
	mustOK(t, a.Renew(p, schema.MustDate("2020-03-01"), 60))
	return a
}

func TestAmbassadorEligibleOn(t *testing.T) {
	fed := program(t, "FED")
	tests := []struct {
		name     string
		signed   string
		term     int
		renewals []schema.Renewal
		want     string // "" for none
	}{
		// "Alliances that have successfully completed at least one two-year initial
		// Alliance and one renewal term may be eligible for Ambassador status" (seed 001).
		{"no renewal: never", "2018-03-01", 24, nil, ""},
		// A term's end date is its last day in force, so the term is completed, and the
		// Alliance eligible, the day after the renewal term's last day.
		{"renewal term completed", "2018-03-01", 24, []schema.Renewal{{SignedOn: schema.MustDate("2020-03-01"), TermMonths: 60}}, "2025-03-02"},
		{"renewal signed before the initial term ended", "2018-03-01", 24, []schema.Renewal{{SignedOn: schema.MustDate("2019-12-01"), TermMonths: 60}}, "2024-12-02"},
		{"two-year renewal", "2018-03-01", 24, []schema.Renewal{{SignedOn: schema.MustDate("2020-03-01"), TermMonths: 24}}, "2022-03-02"},
		{"the initial term must be completed too", "2018-03-01", 24, []schema.Renewal{{SignedOn: schema.MustDate("2018-06-01"), TermMonths: 12}}, "2020-03-02"},
		{"only the first renewal counts", "2018-03-01", 24, []schema.Renewal{
			{SignedOn: schema.MustDate("2020-03-01"), TermMonths: 24},
			{SignedOn: schema.MustDate("2022-03-01"), TermMonths: 60},
		}, "2022-03-02"},
		{"a term ending on the last day of a year", "2018-12-31", 24, []schema.Renewal{{SignedOn: schema.MustDate("2020-12-31"), TermMonths: 24}}, "2023-01-01"},
		// Partial dates count to the last day they may mean (DOMAIN.md, Real data is
		// messy): never eligible earlier than a full date would make it.
		{"month-only dates", "2018-03", 24, []schema.Renewal{{SignedOn: schema.MustDate("2020-03"), TermMonths: 60}}, "2025-04-01"},
		{"year-only renewal", "2018-03-01", 24, []schema.Renewal{{SignedOn: schema.MustDate("2020"), TermMonths: 60}}, "2026-01-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &schema.Alliance{Level: schema.LevelNational, SignedOn: schema.MustDate(tt.signed), TermMonths: tt.term, Renewals: tt.renewals}
			a.Normalize(fed)
			got := ""
			if on := a.AmbassadorEligibleOn(); !on.IsZero() {
				got = on.Format(time.DateOnly)
			}
			if got != tt.want {
				t.Errorf("AmbassadorEligibleOn = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAmbassadorEligible(t *testing.T) {
	c := loadCatalog(t)
	fed, _ := c.Get("FED")
	mi, _ := c.Get("MI")
	nv, _ := c.Get("NV")
	opt := optOutFED(t)
	tests := []struct {
		name     string
		program  *schema.Program
		alliance func() *schema.Alliance
		asOf     string
		want     bool
	}{
		// After the initial term and one renewal are completed (seed 001): renewedFED's
		// renewal term ends 2025-03-01, its last day, so it is eligible from 2025-03-02.
		{"FED: the day before the renewal term's last day", fed, func() *schema.Alliance { return renewedFED(t, fed) }, "2025-02-28", false},
		{"FED: the renewal term's last day: not yet completed", fed, func() *schema.Alliance { return renewedFED(t, fed) }, "2025-03-01", false},
		{"FED: the renewal term is completed", fed, func() *schema.Alliance { return renewedFED(t, fed) }, "2025-03-02", true},
		// The status is offered at the end of the renewal term, instead of renewing
		// again: a lapsed term does not take eligibility away.
		{"FED: after the renewal term ran out", fed, func() *schema.Alliance { return renewedFED(t, fed) }, "2026-01-01", true},
		{"FED: initial term only", fed, func() *schema.Alliance { return signedOn(t, fed, "2018-03-01") }, "2030-01-01", false},
		// Only where the program offers it: the MIOSHA (seed 004) and SCATS (seed 002)
		// pages offer no Ambassador option.
		{"MI: not offered", mi, func() *schema.Alliance {
			a := signedOn(t, mi, "2015-03-01")
			mustOK(t, a.Renew(mi, schema.MustDate("2018-03-01"), 60))
			return a
		}, "2030-01-01", false},
		{"NV: not offered", nv, func() *schema.Alliance {
			a := signedOn(t, nv, "2015-03-01")
			mustOK(t, a.Renew(nv, schema.MustDate("2017-03-01"), 60))
			return a
		}, "2030-01-01", false},
		// Regional and Area Offices have discretion (seed 001).
		{"office that opted out", opt, func() *schema.Alliance { return inOffice(t, opt, "Chicago Regional Office") }, "2030-01-01", false},
		{"office that opted out, other spelling", opt, func() *schema.Alliance { return inOffice(t, opt, "DENVER AREA OFFICE") }, "2030-01-01", false},
		{"office that did not opt out", opt, func() *schema.Alliance { return inOffice(t, opt, "Atlanta Regional Office") }, "2030-01-01", true},
		{"national office", opt, func() *schema.Alliance { return inOffice(t, opt, "") }, "2030-01-01", true},
		// Only an Alliance in its active or renewed life (seed 001 lifecycle).
		{"terminated", fed, func() *schema.Alliance {
			a := renewedFED(t, fed)
			mustOK(t, a.Terminate(schema.MustDate("2024-01-01"), ""))
			return a
		}, "2030-01-01", false},
		{"concluded", fed, func() *schema.Alliance {
			a := renewedFED(t, fed)
			mustOK(t, a.Conclude(schema.Date{}))
			return a
		}, "2030-01-01", false},
		{"already an Ambassador", fed, func() *schema.Alliance { return ambassador(t, fed, "2025-03-02") }, "2030-01-01", false},
		{"draft", fed, func() *schema.Alliance {
			a := fedAlliance()
			a.SignedOn = schema.Date{}
			return normalized(t, fed, a)
		}, "2030-01-01", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.alliance().AmbassadorEligible(tt.program, schema.MustDate(tt.asOf)); got != tt.want {
				t.Errorf("AmbassadorEligible(%s) = %v, want %v", tt.asOf, got, tt.want)
			}
		})
	}
}

func TestMakeAmbassador(t *testing.T) {
	c := loadCatalog(t)
	fed, _ := c.Get("FED")
	mi, _ := c.Get("MI")
	nv, _ := c.Get("NV")
	opt := optOutFED(t)
	renewed := func() *schema.Alliance { return renewedFED(t, fed) }
	tests := []struct {
		name       string
		program    *schema.Program
		alliance   func() *schema.Alliance
		on         func(t *testing.T) schema.Date
		wantFields []string
		wantText   string // in the error
	}{
		// Eligible after the initial term and one renewal term (seed 001).
		{"on the day it becomes eligible", fed, renewed, date("2025-03-02"), nil, ""},
		{"later", fed, renewed, date("2026-01-15"), nil, ""},
		{"on the renewal term's last day: not yet completed", fed, renewed, date("2025-03-01"), []string{"on"}, "2025-03-02"},
		{"before it is eligible", fed, renewed, date("2025-02-28"), []string{"on"}, "2025-03-02"},
		{"not renewed", fed, func() *schema.Alliance { return signedOn(t, fed, "2018-03-01") }, date("2025-03-01"), []string{"renewals"}, "one renewal"},
		{"date missing", fed, renewed, date(""), []string{"on"}, "required"},
		{"date known only to the month", fed, renewed, date("2025-03"), []string{"on"}, "full date"},
		{"not a date", fed, renewed, func(t *testing.T) schema.Date { return badDate(t, "2025-02-29") }, []string{"on"}, "no such day"},
		{"date missing and not renewed: both named", fed, func() *schema.Alliance { return signedOn(t, fed, "2018-03-01") }, date(""), []string{"on", "renewals"}, ""},
		// Only where the program offers it (MIOSHA seed 004, SCATS seed 002: no option).
		{"MIOSHA", mi, func() *schema.Alliance {
			a := signedOn(t, mi, "2015-03-01")
			mustOK(t, a.Renew(mi, schema.MustDate("2018-03-01"), 60))
			return a
		}, date("2024-01-01"), []string{"status"}, "program MI does not offer"},
		{"Nevada SCATS", nv, func() *schema.Alliance {
			a := signedOn(t, nv, "2015-03-01")
			mustOK(t, a.Renew(nv, schema.MustDate("2017-03-01"), 60))
			return a
		}, date("2024-01-01"), []string{"status"}, "program NV does not offer"},
		// Regional and Area Offices have discretion (seed 001).
		{"office that opted out", opt, func() *schema.Alliance { return inOffice(t, opt, "Chicago Regional Office") }, date("2025-03-02"), []string{"status"}, "Chicago Regional Office"},
		{"office that did not opt out", opt, func() *schema.Alliance { return inOffice(t, opt, "Atlanta Regional Office") }, date("2025-03-02"), nil, ""},
		// Lifecycle: draft -> signed -> renewed -> concluded or terminated; Ambassador
		// later (seed 001).
		{"terminated", fed, func() *schema.Alliance {
			a := renewed()
			mustOK(t, a.Terminate(schema.MustDate("2024-01-01"), ""))
			return a
		}, date("2025-03-01"), []string{"status"}, "terminated"},
		{"concluded", fed, func() *schema.Alliance {
			a := renewed()
			mustOK(t, a.Conclude(schema.Date{}))
			return a
		}, date("2025-03-01"), []string{"status"}, "concluded"},
		{"already an Ambassador", fed, func() *schema.Alliance { return ambassador(t, fed, "2025-03-02") }, date("2025-06-01"), []string{"status"}, "ambassador"},
		{"draft", fed, func() *schema.Alliance {
			a := fedAlliance()
			a.SignedOn = schema.Date{}
			return normalized(t, fed, a)
		}, date("2025-03-01"), []string{"status"}, "draft"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.alliance()
			before := *a
			on := tt.on(t)
			err := a.MakeAmbassador(tt.program, on)
			if diff := cmp.Diff(tt.wantFields, fieldsOf(t, err)); diff != "" {
				t.Fatalf("failing fields (-want +got):\n%s\n%v", diff, err)
			}
			if err != nil {
				if !strings.Contains(err.Error(), tt.wantText) {
					t.Errorf("error %q does not say %q", err, tt.wantText)
				}
				if a.Status != before.Status || a.AmbassadorOn != before.AmbassadorOn {
					t.Errorf("a refused MakeAmbassador changed the record: %s %s", a.Status, a.AmbassadorOn)
				}
				return
			}
			if a.Status != schema.StatusAmbassador || a.AmbassadorOn != on {
				t.Errorf("after MakeAmbassador: %s on %s", a.Status, a.AmbassadorOn)
			}
			if err := a.Validate(tt.program); err != nil {
				t.Errorf("an Ambassador does not validate: %v", err)
			}
			// Ambassador relationships remain in effect (seed 001): no term to expire.
			if s := a.Standing(schema.MustDate("2040-01-01")); s != schema.StandingAmbassador {
				t.Errorf("standing in 2040 = %s", s)
			}
			// Ambassadors have no reporting requirements (seed 001): nothing ends after
			// the day it became one.
			for _, o := range schema.Obligations(a, tt.program, nil, schema.MustDate("2040-01-01")) {
				if o.To.First().After(on.First()) {
					t.Errorf("owes %s (%s to %s) after becoming an Ambassador on %s", o.Period, o.From, o.To, on)
				}
			}
		})
	}
}

// date returns a constructor of the Date s ("" for none), for table entries.
func date(s string) func(t *testing.T) schema.Date {
	return func(t *testing.T) schema.Date {
		if s == "" {
			return schema.Date{}
		}
		return schema.MustDate(s)
	}
}

func TestConclude(t *testing.T) {
	c := loadCatalog(t)
	fed, _ := c.Get("FED")
	mi, _ := c.Get("MI")
	active := func() *schema.Alliance { return normalized(t, fed, fedAlliance()) } // expires 2026-06-12
	tests := []struct {
		name       string
		program    *schema.Program
		alliance   func() *schema.Alliance
		on         func(t *testing.T) schema.Date
		wantOn     string
		wantFields []string
	}{
		// Concluded: ended at the end of its term without renewal (seed 001).
		{"defaults to the end of the term", fed, active, date(""), "2026-06-12", nil},
		{"on the end of the term", fed, active, date("2026-06-12"), "2026-06-12", nil},
		{"recorded after the term ran out", fed, active, date("2026-07-01"), "2026-07-01", nil},
		{"renewed: the end of the renewal term", fed, func() *schema.Alliance { return renewedFED(t, fed) }, date(""), "2025-03-01", nil},
		{"MIOSHA three-year term", mi, func() *schema.Alliance { return normalized(t, mi, miAlliance()) }, date(""), "2026-05-01", nil},
		// "OSHA may also conclude an Alliance at any time based on its evaluation" (seed
		// 001): before the end of its term too, from its signing on. Ending with 30 days'
		// written notice is a termination (CSP 04-01-001 XIV).
		{"a day before the end of the term (seed 001: at any time)", fed, active, date("2026-06-11"), "2026-06-11", nil},
		{"a month before the end of the term", fed, active, date("2026-05"), "2026-05", nil},
		{"in its first year", fed, active, date("2024-12-01"), "2024-12-01", nil},
		{"on the signing day", fed, active, date("2024-06-12"), "2024-06-12", nil},
		{"before the signing", fed, active, date("2024-06-11"), "", []string{"concluded_on"}},
		{"renewed, early in the renewal term", fed, func() *schema.Alliance { return renewedFED(t, fed) }, date("2021-01-01"), "2021-01-01", nil},
		{"not a date", fed, active, func(t *testing.T) schema.Date { return badDate(t, "2026-06-31") }, "", []string{"concluded_on"}},
		{"draft", fed, func() *schema.Alliance {
			a := fedAlliance()
			a.SignedOn = schema.Date{}
			return normalized(t, fed, a)
		}, date(""), "", []string{"status"}},
		{"terminated", fed, func() *schema.Alliance {
			a := active()
			mustOK(t, a.Terminate(schema.MustDate("2025-03-01"), ""))
			return a
		}, date(""), "", []string{"status"}},
		{"concluded twice", fed, func() *schema.Alliance {
			a := active()
			mustOK(t, a.Conclude(schema.Date{}))
			return a
		}, date(""), "", []string{"status"}},
		// "Ambassador relationships remain in effect for the duration of an ongoing
		// cooperative relationship" (seed 001): when it ends, the relationship concludes
		// on the day given, on or after ambassador_on; it has no term to default to.
		{"an Ambassador relationship ends (seed 001)", fed, func() *schema.Alliance { return ambassador(t, fed, "2025-03-02") }, date("2027-01-15"), "2027-01-15", nil},
		{"an Ambassador relationship ends the day it began", fed, func() *schema.Alliance { return ambassador(t, fed, "2025-03-02") }, date("2025-03-02"), "2025-03-02", nil},
		{"an Ambassador without a date", fed, func() *schema.Alliance { return ambassador(t, fed, "2025-03-02") }, date(""), "", []string{"concluded_on"}},
		{"an Ambassador, before it became one", fed, func() *schema.Alliance { return ambassador(t, fed, "2025-03-02") }, date("2025-03-01"), "", []string{"concluded_on"}},
		{"terminated and before signing: both named", fed, func() *schema.Alliance {
			a := active()
			mustOK(t, a.Terminate(schema.MustDate("2025-03-01"), ""))
			return a
		}, date("2024-01-01"), "", []string{"status", "concluded_on"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.alliance()
			before := *a
			err := a.Conclude(tt.on(t))
			if diff := cmp.Diff(tt.wantFields, fieldsOf(t, err)); diff != "" {
				t.Fatalf("failing fields (-want +got):\n%s\n%v", diff, err)
			}
			if err != nil {
				if a.Status != before.Status || a.ConcludedOn != before.ConcludedOn {
					t.Errorf("a refused Conclude changed the record: %s %s", a.Status, a.ConcludedOn)
				}
				return
			}
			if a.Status != schema.StatusConcluded || a.ConcludedOn.String() != tt.wantOn {
				t.Errorf("after Conclude: %s on %s, want concluded on %s", a.Status, a.ConcludedOn, tt.wantOn)
			}
			if a.AmbassadorOn != before.AmbassadorOn {
				t.Errorf("ambassador_on %s after Conclude, want %s kept", a.AmbassadorOn, before.AmbassadorOn)
			}
			if err := a.Validate(tt.program); err != nil {
				t.Errorf("a concluded Alliance does not validate: %v", err)
			}
			end := a.ConcludedOn.Last()
			if s := a.Standing(schema.DateOf(end)); s != schema.StandingConcluded {
				t.Errorf("standing on %s = %s, want concluded", end.Format(time.DateOnly), s)
			}
			// In force until it concluded: nothing is owed for a period it did not live
			// to the end of (compliance.go, Obligations).
			for _, o := range schema.Obligations(a, tt.program, nil, schema.MustDate("2040-01-01")) {
				if o.To.First().After(end) {
					t.Errorf("owes %s (%s to %s) after concluding on %s", o.Period, o.From, o.To, a.ConcludedOn)
				}
			}
		})
	}
}

// TestConcludedAmbassador: an Ambassador relationship that ended (seed 001) is an
// Ambassador until its concluded_on and concluded after; it owes no report for its
// Ambassador years; and a record saying so validates, while one concluding before it
// became an Ambassador does not.
func TestConcludedAmbassador(t *testing.T) {
	fed := program(t, "FED")
	a := ambassador(t, fed, "2025-03-02")
	mustOK(t, a.Conclude(schema.MustDate("2027-01-15")))
	for asOf, want := range map[string]schema.Standing{
		"2025-03-02": schema.StandingAmbassador,
		"2027-01-14": schema.StandingAmbassador,
		"2027-01-15": schema.StandingConcluded,
		"2040-01-01": schema.StandingConcluded,
	} {
		if got := a.Standing(schema.MustDate(asOf)); got != want {
			t.Errorf("standing on %s = %s, want %s", asOf, got, want)
		}
	}
	c := schema.ComplianceOf(a, fed, nil, schema.MustDate("2030-01-01"))
	if diff := cmp.Diff([]string{"2019-annual", "2020-annual", "2021-annual", "2022-annual", "2023-annual", "2024-annual", "2025-annual"}, c.OverdueReports); diff != "" {
		t.Errorf("overdue (-want +got):\n%s", diff)
	}
	if c.AmbassadorEligible || c.MeetingsShort {
		t.Errorf("eligible %v, meetings short %v; want neither", c.AmbassadorEligible, c.MeetingsShort)
	}
	if err := a.Validate(fed); err != nil {
		t.Errorf("Validate: %v", err)
	}
	// As the hub and an import receive it: normalized from JSON-like fields.
	b := ambassador(t, fed, "2025-03-02")
	b.Status = schema.StatusConcluded
	b.Normalize(fed)
	if !b.ConcludedOn.IsZero() {
		t.Errorf("a concluded Ambassador's concluded_on defaulted to %s; it had no term to end with", b.ConcludedOn)
	}
	if err := b.Validate(fed); err != nil {
		t.Errorf("concluded Ambassador without concluded_on: %v", err)
	}
	b.ConcludedOn = schema.MustDate("2025-03-01")
	if diff := cmp.Diff([]string{"concluded_on"}, fieldsOf(t, b.Validate(fed))); diff != "" {
		t.Errorf("concluded before it became an Ambassador (-want +got):\n%s", diff)
	}
}

func TestAmend(t *testing.T) {
	fed := program(t, "FED")
	const assp = "American Society of Safety Professionals" // fedAlliance's participant
	calOSHA := schema.Participant{Name: "  Cal/OSHA ", Type: " Government "}
	chapter := schema.Participant{Name: "ASSP Region 1", Type: "association"}
	type amendment struct {
		on      string
		added   []schema.Participant
		removed []string
		note    string
	}
	tests := []struct {
		name       string
		status     schema.Status // "" keeps active
		prior      []amendment
		amend      amendment
		wantFields []string
		wantNames  []string // participants after
	}{
		// A State Plan or a chapter joins by addendum; keep signatory history
		// (DOMAIN.md, Lifecycle; State Plans co-sign federal Alliances).
		{"a State Plan joins", "", nil, amendment{"2025-01-10", []schema.Participant{calOSHA}, nil, " Cal/OSHA co-signs. "}, nil, []string{assp, "Cal/OSHA"}},
		{"a participant leaves", "", []amendment{{"2025-01-10", []schema.Participant{chapter}, nil, ""}},
			amendment{"2025-06-01", nil, []string{assp}, ""}, nil, []string{"ASSP Region 1"}},
		{"removal matches the name case- and space-insensitively", "", []amendment{{"2025-01-10", []schema.Participant{chapter}, nil, ""}},
			amendment{"2025-06-01", nil, []string{"  american   society of safety professionals "}, ""}, nil, []string{"ASSP Region 1"}},
		{"leave and join in one addendum", "", nil, amendment{"2025-01-10", []schema.Participant{chapter}, []string{assp}, ""}, nil, []string{"ASSP Region 1"}},
		{"removed and added again, with a new type", "", nil, amendment{"2025-01-10", []schema.Participant{{Name: assp, Type: "other"}}, []string{assp}, ""}, nil, []string{assp}},
		{"addendum on the signing day", "", nil, amendment{"2024-06-12", []schema.Participant{chapter}, nil, ""}, nil, []string{assp, "ASSP Region 1"}},
		{"an Ambassador's relationship continues and takes addenda", schema.StatusAmbassador, nil, amendment{"2025-01-10", []schema.Participant{chapter}, nil, ""}, nil, []string{assp, "ASSP Region 1"}},

		{"removing a non-participant", "", nil, amendment{"2025-01-10", []schema.Participant{chapter}, []string{"OSHA Training Institute"}, ""}, []string{"removed[0]"}, nil},
		{"adding an existing participant", "", nil, amendment{"2025-01-10", []schema.Participant{{Name: "AMERICAN SOCIETY OF SAFETY PROFESSIONALS"}}, nil, ""}, []string{"added[0].name"}, nil},
		{"adding one already added by an earlier addendum", "", []amendment{{"2025-01-10", []schema.Participant{chapter}, nil, ""}},
			amendment{"2025-06-01", []schema.Participant{chapter}, nil, ""}, []string{"added[0].name"}, nil},
		{"the same organization added twice in one addendum", "", nil, amendment{"2025-01-10", []schema.Participant{chapter, {Name: "assp  region 1"}}, nil, ""}, []string{"added[1].name"}, nil},
		{"removing everyone", "", nil, amendment{"2025-01-10", nil, []string{assp}, ""}, []string{"removed"}, nil},
		{"an addendum before signing", "", nil, amendment{"2024-06-11", []schema.Participant{chapter}, nil, ""}, []string{"signed_on"}, nil},
		{"an addendum before the previous one", "", []amendment{{"2025-01-10", []schema.Participant{calOSHA}, nil, ""}},
			amendment{"2025-01-09", []schema.Participant{chapter}, nil, ""}, []string{"signed_on"}, nil},
		{"no date", "", nil, amendment{"", []schema.Participant{chapter}, nil, ""}, []string{"signed_on"}, nil},
		{"a participant type that is not one", "", nil, amendment{"2025-01-10", []schema.Participant{{Name: "Mars Mining", Type: "martian"}}, nil, ""}, []string{"added[0].type"}, nil},
		{"an added participant without a name", "", nil, amendment{"2025-01-10", []schema.Participant{{Type: "union"}}, nil, ""}, []string{"added[0].name"}, nil},
		// Fields are named as the request names them, not "addenda[0]" (lifecycle.go,
		// Amend).
		{"nothing added or removed", "", nil, amendment{"2025-01-10", nil, nil, "no change"}, []string{"added"}, nil},
		// An ended Alliance takes no addenda (seed 001: concluded or terminated).
		{"concluded", schema.StatusConcluded, nil, amendment{"2025-01-10", []schema.Participant{chapter}, nil, ""}, []string{"status"}, nil},
		{"terminated", schema.StatusTerminated, nil, amendment{"2025-01-10", []schema.Participant{chapter}, nil, ""}, []string{"status"}, nil},
		{"everything wrong at once", schema.StatusTerminated, nil, amendment{"2024-01-01", []schema.Participant{{Name: assp}}, []string{"Nobody"}, ""},
			[]string{"status", "removed[0]", "added[0].name", "signed_on"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := normalized(t, fed, fedAlliance())
			for _, p := range tt.prior {
				mustOK(t, a.Amend(schema.MustDate(p.on), p.added, p.removed, p.note))
			}
			switch tt.status {
			case schema.StatusConcluded:
				mustOK(t, a.Conclude(schema.Date{}))
			case schema.StatusTerminated:
				mustOK(t, a.Terminate(schema.MustDate("2024-12-01"), ""))
			case schema.StatusAmbassador:
				// Renewed for five years (seed 001), an Ambassador once that term is
				// completed.
				mustOK(t, a.Renew(fed, schema.MustDate("2026-06-01"), 60))
				mustOK(t, a.MakeAmbassador(fed, schema.MustDate("2031-06-02")))
			}
			beforeParticipants := append([]schema.Participant(nil), a.Participants...)
			beforeAddenda := len(a.Addenda)
			var on schema.Date
			if tt.amend.on != "" {
				on = schema.MustDate(tt.amend.on)
			}
			added := append([]schema.Participant(nil), tt.amend.added...)
			removed := append([]string(nil), tt.amend.removed...)
			err := a.Amend(on, added, removed, tt.amend.note)
			if diff := cmp.Diff(tt.wantFields, fieldsOf(t, err)); diff != "" {
				t.Fatalf("failing fields (-want +got):\n%s\n%v", diff, err)
			}
			if err != nil {
				if diff := cmp.Diff(beforeParticipants, a.Participants); diff != "" || len(a.Addenda) != beforeAddenda {
					t.Errorf("a refused addendum changed the record: addenda %d -> %d, participants (-before +after):\n%s", beforeAddenda, len(a.Addenda), diff)
				}
				return
			}
			var names []string
			for _, p := range a.Participants {
				names = append(names, p.Name)
			}
			if diff := cmp.Diff(tt.wantNames, names); diff != "" {
				t.Errorf("participants (-want +got):\n%s", diff)
			}
			// The history is kept: one more addendum, as signed.
			if len(a.Addenda) != beforeAddenda+1 {
				t.Fatalf("addenda %d, want %d", len(a.Addenda), beforeAddenda+1)
			}
			last := a.Addenda[len(a.Addenda)-1]
			if last.SignedOn != on || last.Note != strings.TrimSpace(tt.amend.note) || len(last.Added) != len(tt.amend.added) || len(last.Removed) != len(tt.amend.removed) {
				t.Errorf("addendum recorded %+v", last)
			}
			if err := a.Validate(fed); err != nil {
				t.Errorf("the amended Alliance does not validate: %v", err)
			}
		})
	}
}

// TestAmendHistory: the participant list is the current signatories; the addenda keep who
// joined and left, and when (DOMAIN.md, Lifecycle: keep signatory history, not one fixed
// list).
func TestAmendHistory(t *testing.T) {
	fed := program(t, "FED")
	a := normalized(t, fed, fedAlliance())
	mustOK(t, a.Amend(schema.MustDate("2025-01-10"), []schema.Participant{{Name: " Cal/OSHA ", Type: "Government"}}, nil, "State Plan co-signs"))
	mustOK(t, a.Amend(schema.MustDate("2025-06-01"), []schema.Participant{{Name: "ASSP Region 1"}}, []string{"american society of safety professionals"}, ""))
	want := []schema.Addendum{
		{SignedOn: schema.MustDate("2025-01-10"), Added: []schema.Participant{{Name: "Cal/OSHA", Type: "government"}}, Note: "State Plan co-signs"},
		{SignedOn: schema.MustDate("2025-06-01"), Added: []schema.Participant{{Name: "ASSP Region 1"}}, Removed: []string{"american society of safety professionals"}},
	}
	if diff := cmp.Diff(want, a.Addenda); diff != "" {
		t.Errorf("addenda (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]schema.Participant{{Name: "Cal/OSHA", Type: "government"}, {Name: "ASSP Region 1"}}, a.Participants); diff != "" {
		t.Errorf("participants (-want +got):\n%s", diff)
	}
	if err := a.Validate(fed); err != nil {
		t.Errorf("Validate: %v", err)
	}
	// The history survives an ending: a concluded Alliance keeps its addenda, and takes
	// no more.
	mustOK(t, a.Conclude(schema.Date{}))
	if err := a.Amend(schema.MustDate("2026-07-01"), []schema.Participant{{Name: "Late joiner"}}, nil, ""); err == nil {
		t.Error("a concluded Alliance took an addendum")
	}
	if len(a.Addenda) != 2 {
		t.Errorf("addenda %d after conclusion, want 2", len(a.Addenda))
	}
}

func TestInForce(t *testing.T) {
	c := loadCatalog(t)
	fed, _ := c.Get("FED")
	nv, _ := c.Get("NV")
	tests := []struct {
		name       string
		alliance   func() *schema.Alliance
		from, last string // "" for no span
	}{
		{"draft: never in force", func() *schema.Alliance {
			a := fedAlliance()
			a.SignedOn = schema.Date{}
			return normalized(t, fed, a)
		}, "", ""},
		// Two-year initial term (CSP 04-01-001 X.G, seed 003).
		{"signing to the end of the term", func() *schema.Alliance { return normalized(t, fed, fedAlliance()) }, "2024-06-12", "2026-06-12"},
		// Renewals typically five years (seed 001).
		{"renewed: to the end of the renewal term", func() *schema.Alliance { return renewedFED(t, fed) }, "2018-03-01", "2025-03-01"},
		// A partial date counts to the last day it may mean (lifecycle.go, InForce).
		{"month-only signing", func() *schema.Alliance { return normalized(t, nv, nvAlliance()) }, "2022-09-30", "2024-09-30"},
		// Termination takes effect 30 days after notice (seed 001; CSP 04-01-001 XIV).
		{"terminated: until the day the termination takes effect", func() *schema.Alliance {
			a := normalized(t, fed, fedAlliance())
			mustOK(t, a.Terminate(schema.MustDate("2025-03-01"), "")) // effective 2025-03-31
			return a
		}, "2024-06-12", "2025-03-30"},
		{"terminated with notice after the term: the term ends first", func() *schema.Alliance {
			a := normalized(t, fed, fedAlliance())
			mustOK(t, a.Terminate(schema.MustDate("2026-06-01"), "")) // effective 2026-07-01
			return a
		}, "2024-06-12", "2026-06-12"},
		// Concluded at the end of its term (seed 001).
		{"concluded at the end of the term", func() *schema.Alliance {
			a := normalized(t, fed, fedAlliance())
			mustOK(t, a.Conclude(schema.Date{}))
			return a
		}, "2024-06-12", "2026-06-12"},
		{"concluded after the term ran out: the term ends first", func() *schema.Alliance {
			a := normalized(t, fed, fedAlliance())
			mustOK(t, a.Conclude(schema.MustDate("2026-07-01")))
			return a
		}, "2024-06-12", "2026-06-12"},
		{"a concluded record with an earlier concluded_on", func() *schema.Alliance {
			a := normalized(t, fed, fedAlliance())
			a.Status, a.ConcludedOn = schema.StatusConcluded, schema.MustDate("2025-12-31")
			return a
		}, "2024-06-12", "2025-12-31"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.alliance().InForce()
			if tt.from == "" {
				if s.From.Before(s.Until) {
					t.Errorf("InForce = %s to %s, want no span", s.From.Format(time.DateOnly), s.Last().Format(time.DateOnly))
				}
				return
			}
			if got := s.From.Format(time.DateOnly) + " to " + s.Last().Format(time.DateOnly); got != tt.from+" to "+tt.last {
				t.Errorf("InForce = %s, want %s to %s", got, tt.from, tt.last)
			}
		})
	}
}

// TestStandingConcludedAndAmbassador: a concluded Alliance is concluded from its
// concluded_on, an Ambassador from its ambassador_on; until then the term runs on
// (standing.go; seed 001).
func TestStandingConcludedAndAmbassador(t *testing.T) {
	alliance := func(status schema.Status, expires, concluded, ambassadorOn string) *schema.Alliance {
		a := &schema.Alliance{Status: status, ExpiresOn: schema.MustDate(expires)}
		if concluded != "" {
			a.ConcludedOn = schema.MustDate(concluded)
		}
		if ambassadorOn != "" {
			a.AmbassadorOn = schema.MustDate(ambassadorOn)
		}
		return a
	}
	tests := []struct {
		name string
		in   *schema.Alliance
		asOf string
		want schema.Standing
	}{
		{"concluded, well before concluded_on", alliance(schema.StatusConcluded, "2026-06-12", "2026-06-12", ""), "2026-03-13", schema.StandingActive},
		{"concluded, within 90 days of it", alliance(schema.StatusConcluded, "2026-06-12", "2026-06-12", ""), "2026-03-14", schema.StandingExpiring},
		{"concluded, the day before concluded_on", alliance(schema.StatusConcluded, "2026-06-12", "2026-06-12", ""), "2026-06-11", schema.StandingExpiring},
		{"concluded, on concluded_on", alliance(schema.StatusConcluded, "2026-06-12", "2026-06-12", ""), "2026-06-12", schema.StandingConcluded},
		{"concluded, after concluded_on", alliance(schema.StatusConcluded, "2026-06-12", "2026-06-12", ""), "2030-01-01", schema.StandingConcluded},
		{"concluded without concluded_on", alliance(schema.StatusConcluded, "2026-06-12", "", ""), "2024-01-01", schema.StandingConcluded},
		{"concluded later than the term: expired in between", alliance(schema.StatusConcluded, "2026-06-12", "2026-07-01", ""), "2026-06-20", schema.StandingExpired},
		{"concluded_on known to the month: concluded after it", alliance(schema.StatusConcluded, "2026-06-12", "2026-06", ""), "2026-06-30", schema.StandingConcluded},

		// Ambassador later (seed 001); the status is taken once the renewal term is
		// completed, often after it ran out.
		{"Ambassador, before ambassador_on, in the term", alliance(schema.StatusAmbassador, "2025-03-01", "", "2025-03-05"), "2025-02-01", schema.StandingExpiring},
		{"Ambassador, before ambassador_on, term over", alliance(schema.StatusAmbassador, "2025-03-01", "", "2025-03-05"), "2025-03-04", schema.StandingExpired},
		{"Ambassador, on ambassador_on", alliance(schema.StatusAmbassador, "2025-03-01", "", "2025-03-05"), "2025-03-05", schema.StandingAmbassador},
		{"Ambassador, years later: no term to expire", alliance(schema.StatusAmbassador, "2025-03-01", "", "2025-03-05"), "2040-01-01", schema.StandingAmbassador},
		{"Ambassador without ambassador_on", alliance(schema.StatusAmbassador, "2025-03-01", "", ""), "2020-01-01", schema.StandingAmbassador},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.Standing(schema.MustDate(tt.asOf)); got != tt.want {
				t.Errorf("Standing(%s) = %s, want %s", tt.asOf, got, tt.want)
			}
		})
	}
}
