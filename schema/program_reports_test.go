package schema_test

import (
	"strings"
	"testing"

	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

// reporting is a State Plan definition with MIOSHA-like reporting rules: a quarterly and
// an annual report (seed 004), the annual one due within 60 days of the anniversary as
// federally (CSP 04-01-001 XII.D.2.a, seed 003), and the team meeting three times a year
// (VII.F).
const reporting = `{
  "code": "NC",
  "name": "North Carolina Department of Labor (NCDOL)",
  "levels": ["state"],
  "time_zone": "America/New_York",
  "default_term_months": 24,
  "categories": [
    {"code": "training-education", "label": "Training and Education", "national": "training"}
  ],
  "reports": [
    {"cadence": "quarterly", "anchor": "calendar", "due_days": 30},
    {"cadence": "annual", "anchor": "anniversary", "due_days": 60}
  ],
  "meetings_per_year": 3,
  "ambassador": false
}`

// editReporting returns the reporting definition with each old, new pair of
// substitutions made in turn.
func editReporting(pairs ...string) string {
	def := reporting
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(def, pairs[i]) {
			panic("test bug: " + pairs[i] + " not in the reporting definition")
		}
		def = strings.Replace(def, pairs[i], pairs[i+1], 1)
	}
	return def
}

func TestBuiltinReportRules(t *testing.T) {
	tests := []struct {
		code           string
		wantReports    []schema.ReportRule
		wantMeetings   int
		wantAmbassador bool
	}{
		// Annual, due within 60 days of the signing anniversary (CSP 04-01-001
		// XII.D.2.a, seed 003); Ambassador after one renewal (seed 001).
		{"FED", []schema.ReportRule{{Cadence: schema.CadenceAnnual, Anchor: schema.AnchorAnniversary, DueDays: 60}}, 3, true},
		// A quarterly and an annual report (seed 004); no Ambassador option there.
		{"MI", []schema.ReportRule{
			{Cadence: schema.CadenceQuarterly, Anchor: schema.AnchorCalendar, DueDays: 30},
			{Cadence: schema.CadenceAnnual, Anchor: schema.AnchorAnniversary, DueDays: 60},
		}, 3, false},
		// The SCATS page (seed 002) is silent: the federal annual report applies.
		{"NV", []schema.ReportRule{{Cadence: schema.CadenceAnnual, Anchor: schema.AnchorAnniversary, DueDays: 60}}, 3, false},
	}
	c := loadCatalog(t)
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			p, _ := c.Get(tt.code)
			if diff := cmp.Diff(tt.wantReports, p.Reports); diff != "" {
				t.Errorf("reports (-want +got):\n%s", diff)
			}
			if p.MeetingsPerYear != tt.wantMeetings {
				t.Errorf("meetings_per_year %d, want %d (VII.F)", p.MeetingsPerYear, tt.wantMeetings)
			}
			if p.Ambassador != tt.wantAmbassador || p.OffersAmbassador("") != tt.wantAmbassador {
				t.Errorf("ambassador %v, offers %v; want %v", p.Ambassador, p.OffersAmbassador(""), tt.wantAmbassador)
			}
			for _, r := range tt.wantReports {
				if got, ok := p.ReportRule(r.Cadence); !ok || got != r {
					t.Errorf("ReportRule(%s) = %+v, %v", r.Cadence, got, ok)
				}
			}
			if _, ok := p.ReportRule(schema.CadenceSemiannual); ok {
				t.Error("ReportRule(semiannual) found a rule no built-in program has")
			}
		})
	}
}

func TestLoadCatalogReportRules(t *testing.T) {
	tests := []struct {
		name           string
		def            string
		wantReports    []schema.ReportRule
		wantMeetings   int
		wantAmbassador bool
		wantOptOut     []string
	}{
		{"quarterly and annual", reporting, []schema.ReportRule{
			{Cadence: schema.CadenceQuarterly, Anchor: schema.AnchorCalendar, DueDays: 30},
			{Cadence: schema.CadenceAnnual, Anchor: schema.AnchorAnniversary, DueDays: 60},
		}, 3, false, nil},
		// No reports listed: the program requires none; meetings default to the
		// directive's three a year (CSP 04-01-001 VII.F, seed 003).
		{"no reports, default meetings", ncdol, nil, 3, false, nil},
		{"meetings_per_year zero means three", editReporting(`"meetings_per_year": 3`, `"meetings_per_year": 0`), []schema.ReportRule{
			{Cadence: schema.CadenceQuarterly, Anchor: schema.AnchorCalendar, DueDays: 30},
			{Cadence: schema.CadenceAnnual, Anchor: schema.AnchorAnniversary, DueDays: 60},
		}, 3, false, nil},
		{"weekly meetings at the bound", editReporting(`"meetings_per_year": 3`, `"meetings_per_year": 52`), []schema.ReportRule{
			{Cadence: schema.CadenceQuarterly, Anchor: schema.AnchorCalendar, DueDays: 30},
			{Cadence: schema.CadenceAnnual, Anchor: schema.AnchorAnniversary, DueDays: 60},
		}, 52, false, nil},
		// Semiannual status reports (CSP 04-01-001 XI, seed 003) and fiscal years
		// (DOMAIN.md, Obligations); due_days at both bounds.
		{"every cadence, fiscal anchor, due_days bounds", editReporting(`{"cadence": "annual", "anchor": "anniversary", "due_days": 60}`,
			`{"cadence": "annual", "anchor": "fiscal", "due_days": 366}, {"cadence": "semiannual", "anchor": "anniversary", "due_days": 0}`),
			[]schema.ReportRule{
				{Cadence: schema.CadenceQuarterly, Anchor: schema.AnchorCalendar, DueDays: 30},
				{Cadence: schema.CadenceAnnual, Anchor: schema.AnchorFiscal, DueDays: 366},
				{Cadence: schema.CadenceSemiannual, Anchor: schema.AnchorAnniversary},
			}, 3, false, nil},
		// Regional and Area Offices have discretion on the Ambassador option (seed 001).
		{"Ambassador with offices opting out", editReporting(`"ambassador": false`, `"ambassador": true, "ambassador_opt_out_offices": ["Raleigh District Office"]`), []schema.ReportRule{
			{Cadence: schema.CadenceQuarterly, Anchor: schema.AnchorCalendar, DueDays: 30},
			{Cadence: schema.CadenceAnnual, Anchor: schema.AnchorAnniversary, DueDays: 60},
		}, 3, true, []string{"Raleigh District Office"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := loadCatalog(t, writeFile(t, "nc.json", tt.def)).Get("NC")
			if !ok {
				t.Fatal("NC not loaded")
			}
			if diff := cmp.Diff(tt.wantReports, p.Reports); diff != "" {
				t.Errorf("reports (-want +got):\n%s", diff)
			}
			if p.MeetingsPerYear != tt.wantMeetings || p.Ambassador != tt.wantAmbassador {
				t.Errorf("meetings %d, ambassador %v; want %d, %v", p.MeetingsPerYear, p.Ambassador, tt.wantMeetings, tt.wantAmbassador)
			}
			if diff := cmp.Diff(tt.wantOptOut, p.AmbassadorOptOutOffices); diff != "" {
				t.Errorf("opt-out offices (-want +got):\n%s", diff)
			}
			for _, o := range tt.wantOptOut {
				if p.OffersAmbassador(strings.ToUpper(o)) {
					t.Errorf("OffersAmbassador(%q) for an office that opted out", o)
				}
			}
		})
	}
}

// TestLoadCatalogMalformedReportRules: a malformed definition of the new fields is an
// error naming the file and the field (program.go, LoadCatalog), like every other field.
func TestLoadCatalogMalformedReportRules(t *testing.T) {
	tests := []struct {
		name       string
		def        string
		wantFields []string
		wantText   string // when the error is not a *ValidationError
	}{
		// Cadences: quarterly and annual (seed 004), semiannual (CSP 04-01-001 XI).
		{"bad cadence", editReporting(`"cadence": "quarterly"`, `"cadence": "monthly"`), []string{"reports[0].cadence"}, ""},
		{"cadence missing", editReporting(`"cadence": "quarterly", `, ``), []string{"reports[0].cadence"}, ""},
		{"cadence in capitals", editReporting(`"cadence": "annual"`, `"cadence": "Annual"`), []string{"reports[1].cadence"}, ""},
		// One rule per cadence: a report's period names its cadence, so two rules for
		// one cadence would give one period two due dates.
		{"duplicate cadence", editReporting(`"cadence": "quarterly", "anchor": "calendar"`, `"cadence": "annual", "anchor": "calendar"`), []string{"reports[1].cadence"}, ""},
		// Anchors: anniversary (XII.D.2.a), calendar, fiscal (DOMAIN.md, Obligations).
		{"bad anchor", editReporting(`"anchor": "calendar"`, `"anchor": "lunar"`), []string{"reports[0].anchor"}, ""},
		{"anchor missing", editReporting(`"anchor": "anniversary", `, ``), []string{"reports[1].anchor"}, ""},
		// Due within 60 days (XII.D.2.a): due_days is 0 to 366.
		{"due_days negative", editReporting(`"due_days": 30`, `"due_days": -1`), []string{"reports[0].due_days"}, ""},
		{"due_days over a year", editReporting(`"due_days": 60`, `"due_days": 367`), []string{"reports[1].due_days"}, ""},
		// At least three meetings a year (VII.F): 0 (three) to 52.
		{"meetings_per_year negative", editReporting(`"meetings_per_year": 3`, `"meetings_per_year": -1`), []string{"meetings_per_year"}, ""},
		{"meetings_per_year over weekly", editReporting(`"meetings_per_year": 3`, `"meetings_per_year": 53`), []string{"meetings_per_year"}, ""},
		// Regional and Area Offices opt out of an Ambassador option the program offers
		// (seed 001); a program without one has nothing to opt out of.
		{"opt-out offices without ambassador", editReporting(`"ambassador": false`, `"ambassador": false, "ambassador_opt_out_offices": ["Raleigh District Office"]`),
			[]string{"ambassador_opt_out_offices"}, ""},
		{"opt-out offices, ambassador left out", editReporting(`"ambassador": false`, `"ambassador_opt_out_offices": ["Raleigh District Office"]`),
			[]string{"ambassador_opt_out_offices"}, ""},
		{"empty opt-out office", editReporting(`"ambassador": false`, `"ambassador": true, "ambassador_opt_out_offices": ["Raleigh District Office", "  "]`),
			[]string{"ambassador_opt_out_offices[1]"}, ""},
		{"every failing field at once", editReporting(
			`"meetings_per_year": 3`, `"meetings_per_year": 99`,
			`"reports": [`, `"ambassador_opt_out_offices": [""], "reports": [{"cadence": "daily", "anchor": "solstice", "due_days": 999}, {"cadence": "annual", "anchor": "fiscal", "due_days": 1}, `),
			[]string{"meetings_per_year", "reports[0].cadence", "reports[0].anchor", "reports[0].due_days", "reports[3].cadence", "ambassador_opt_out_offices[0]", "ambassador_opt_out_offices"}, ""},
		{"second of several programs is bad", "[" + adosh + "," + editReporting(`"anchor": "anniversary"`, `"anchor": "signing"`) + "]",
			[]string{"[1].reports[1].anchor"}, ""},
		// Decoding errors name the field too.
		{"unknown field in a report rule", editReporting(`"due_days": 30`, `"due_days": 30, "due": 30`), nil, `"due"`},
		{"due_days as a string", editReporting(`"due_days": 60`, `"due_days": "60"`), nil, "due_days"},
		{"ambassador as a string", editReporting(`"ambassador": false`, `"ambassador": "yes"`), nil, "ambassador"},
		{"reports not a list", editReporting(`"meetings_per_year": 3`, `"meetings_per_year": 3, "reports": "annual"`), nil, "reports"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantDefinitionError(t, tt.def, tt.wantFields, tt.wantText)
		})
	}
}
