package schema_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

// fedReport is a valid federal annual report (CSP 04-01-001 Appendix A, seed 003) for
// fedAlliance, signed 2024-06-12: the first Alliance year, 2024-06-12 to 2025-06-11,
// reported within 60 days of the anniversary (XII.D.2.a).
func fedReport() *schema.Report {
	return &schema.Report{
		Program:     "FED",
		AllianceID:  "FED-0123456789abcdef",
		Period:      "2025-annual",
		ReportedOn:  schema.MustDate("2025-07-20"),
		Overview:    "Fall protection and heat illness.\n\tSecond paragraph.",
		TeamMembers: []string{"Pat Jones (ASSP)", "Lee Smith (OSHA DCSP)"},
		// Implementation team meets at least three times a year (VII.F).
		Meetings: []schema.Meeting{
			{HeldOn: schema.MustDate("2024-09-10"), Type: "conference-call"},
			{HeldOn: schema.MustDate("2025-01-15"), Type: "in-person", Location: "Park Ridge, IL"},
			{HeldOn: schema.MustDate("2025-05-20"), Type: "virtual"},
		},
		Events:   []schema.Item{{Category: "training", Title: "Fall protection stand-down webinar", On: schema.MustDate("2025-05-06")}},
		Products: []schema.Item{{Category: "outreach", Title: "Heat illness fact sheet"}},
		Activities: []schema.Activity{
			{Type: "training", Category: "training", Reached: 1200, Trained: 300},
			{Type: "print and electronic distribution", Reached: 50000},
		},
		Milestones: []string{"Renewal discussion by April 2026"},
	}
}

// miReport is a valid MIOSHA quarterly report (seed 004: a quarterly and an annual
// report) for miAlliance, signed 2023-05-01.
func miReport() *schema.Report {
	return &schema.Report{
		Program:     "MI",
		AllianceID:  "MI-0123456789abcdef",
		Period:      "2023-Q3",
		ReportedOn:  schema.MustDate("2023-10-20"),
		TeamMembers: []string{"CET Alliance Coordinator"},
		Meetings:    []schema.Meeting{{HeldOn: schema.MustDate("2023-08-01")}},
		Events:      []schema.Item{{Category: "outreach-communication", Title: "Trench safety breakfast"}},
		Products:    []schema.Item{},
		Activities:  []schema.Activity{{Type: "conference", Category: "outreach-communication", Reached: 80}},
		Milestones:  []string{},
	}
}

// manyStrings is n non-empty entries.
func manyStrings(n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = "entry"
	}
	return s
}

// badDate is a Date decoded from a string that is not a date: kept so validation names
// the field (date.go, UnmarshalJSON).
func badDate(t *testing.T, s string) schema.Date {
	t.Helper()
	var d schema.Date
	if err := json.Unmarshal([]byte(`"`+s+`"`), &d); err != nil {
		t.Fatal(err)
	}
	if d.Invalid() == nil {
		t.Fatalf("test bug: %q is a date", s)
	}
	return d
}

func TestReportValidateValid(t *testing.T) {
	tests := []struct {
		name    string
		program string
		report  func() *schema.Report
	}{
		// Appendix A annual report (CSP 04-01-001, seed 003).
		{"federal annual report", "FED", fedReport},
		// MIOSHA takes a quarterly and an annual report (seed 004).
		{"MIOSHA quarterly report accepted", "MI", miReport},
		{"MIOSHA annual report accepted", "MI", func() *schema.Report {
			r := miReport()
			r.Period = "2024-annual"
			return r
		}},
		{"id derived from the Alliance and the period", "FED", func() *schema.Report {
			r := fedReport()
			r.ID = schema.ReportID(r.AllianceID, r.Period)
			return r
		}},
		{"only the required parts", "FED", func() *schema.Report {
			return &schema.Report{Program: "FED", AllianceID: "FED-1", Period: "2026-annual", ReportedOn: schema.MustDate("2026-07-01")}
		}},
		{"an activity without a category", "FED", func() *schema.Report {
			r := fedReport()
			r.Activities = []schema.Activity{{Type: "conference", Reached: 0}}
			return r
		}},
		{"a meeting without a type", "FED", func() *schema.Report {
			r := fedReport()
			r.Meetings[0].Type = ""
			return r
		}},
		{"exactly the most entries", "FED", func() *schema.Report {
			r := fedReport()
			r.TeamMembers = manyStrings(200)
			return r
		}},
		{"reached at its bound", "FED", func() *schema.Report {
			r := fedReport()
			r.Activities[0].Reached = 100_000_000
			return r
		}},
	}
	c := loadCatalog(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := c.Get(tt.program)
			if err := tt.report().Validate(p); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestReportValidateInvalid(t *testing.T) {
	tests := []struct {
		name       string
		program    string
		edit       func(t *testing.T, r *schema.Report)
		wantFields []string
	}{
		{"program differs", "FED", func(t *testing.T, r *schema.Report) { r.Program = "MI" }, []string{"program"}},
		{"malformed alliance id", "FED", func(t *testing.T, r *schema.Report) { r.AllianceID = "nonsense" }, []string{"alliance_id"}},
		{"another program's Alliance", "FED", func(t *testing.T, r *schema.Report) { r.AllianceID = "MI-0123456789abcdef" }, []string{"alliance_id"}},

		// Period names: YYYY-Qn, YYYY-Hn or YYYY-annual (CONTRACT.md).
		{"period missing", "FED", func(t *testing.T, r *schema.Report) { r.Period = "" }, []string{"period"}},
		{"period shape", "FED", func(t *testing.T, r *schema.Report) { r.Period = "2025-Q5" }, []string{"period"}},
		{"period year out of bounds", "FED", func(t *testing.T, r *schema.Report) { r.Period = "1969-annual" }, []string{"period"}},
		{"period not trimmed before Normalize", "FED", func(t *testing.T, r *schema.Report) { r.Period = " 2025-annual" }, []string{"period"}},
		// Federal Alliances report annually (CSP 04-01-001 XII.D.2.a, seed 003): a
		// quarterly or semiannual period is not one FED takes.
		{"FED quarterly not offered", "FED", func(t *testing.T, r *schema.Report) { r.Period = "2025-Q3" }, []string{"period"}},
		{"FED semiannual not offered", "FED", func(t *testing.T, r *schema.Report) { r.Period = "2025-H1" }, []string{"period"}},
		// MIOSHA: quarterly and annual (seed 004), not semiannual.
		{"MI semiannual not offered", "MI", func(t *testing.T, r *schema.Report) {
			*r = *miReport()
			r.Period = "2024-H2"
		}, []string{"period"}},
		// One id per period, so re-reporting a period revises it.
		{"id not derived from the period", "FED", func(t *testing.T, r *schema.Report) { r.ID = "FED-0123456789abcdef.2024-annual" }, []string{"id"}},

		// Appendix A: "[DATE]" (seed 003).
		{"reported_on missing", "FED", func(t *testing.T, r *schema.Report) { r.ReportedOn = schema.Date{} }, []string{"reported_on"}},
		{"reported_on partial month", "FED", func(t *testing.T, r *schema.Report) { r.ReportedOn = schema.MustDate("2025-07") }, []string{"reported_on"}},
		{"reported_on partial year", "FED", func(t *testing.T, r *schema.Report) { r.ReportedOn = schema.MustDate("2025") }, []string{"reported_on"}},
		{"reported_on not a date", "FED", func(t *testing.T, r *schema.Report) { r.ReportedOn = badDate(t, "2025-02-30") }, []string{"reported_on"}},

		// Text: bounded, no control characters.
		{"control character in the overview", "FED", func(t *testing.T, r *schema.Report) { r.Overview = "bell\x07" }, []string{"overview"}},
		{"control character in the results", "FED", func(t *testing.T, r *schema.Report) { r.Results = "nul\x00" }, []string{"results"}},
		{"overview too long", "FED", func(t *testing.T, r *schema.Report) { r.Overview = strings.Repeat("é", 4001) }, []string{"overview"}},
		{"issues too long", "FED", func(t *testing.T, r *schema.Report) { r.Issues = strings.Repeat("x", 4001) }, []string{"issues"}},
		{"empty team member", "FED", func(t *testing.T, r *schema.Report) { r.TeamMembers[1] = "" }, []string{"team_members[1]"}},
		{"control character in a team member", "FED", func(t *testing.T, r *schema.Report) { r.TeamMembers[0] = "Pat\x1bJones" }, []string{"team_members[0]"}},
		{"empty contributor", "FED", func(t *testing.T, r *schema.Report) { r.Contributors = []string{"ASSP chapter", ""} }, []string{"contributors[1]"}},
		{"empty milestone", "FED", func(t *testing.T, r *schema.Report) { r.Milestones = []string{""} }, []string{"milestones[0]"}},

		// Over-long lists: every input is bounded (DESIGN.md, Security).
		{"too many team members", "FED", func(t *testing.T, r *schema.Report) { r.TeamMembers = manyStrings(201) }, []string{"team_members"}},
		{"too many contributors", "FED", func(t *testing.T, r *schema.Report) { r.Contributors = manyStrings(201) }, []string{"contributors"}},
		{"too many milestones", "FED", func(t *testing.T, r *schema.Report) { r.Milestones = manyStrings(201) }, []string{"milestones"}},
		{"too many meetings", "FED", func(t *testing.T, r *schema.Report) {
			r.Meetings = make([]schema.Meeting, 201)
			for i := range r.Meetings {
				r.Meetings[i] = schema.Meeting{HeldOn: schema.MustDate("2025-01-15")}
			}
		}, []string{"meetings"}},
		{"too many events", "FED", func(t *testing.T, r *schema.Report) {
			r.Events = make([]schema.Item, 201)
			for i := range r.Events {
				r.Events[i] = schema.Item{Category: "training", Title: "Webinar"}
			}
		}, []string{"events"}},
		{"too many products", "FED", func(t *testing.T, r *schema.Report) {
			r.Products = make([]schema.Item, 201)
			for i := range r.Products {
				r.Products[i] = schema.Item{Category: "outreach", Title: "Fact sheet"}
			}
		}, []string{"products"}},
		{"too many activities", "FED", func(t *testing.T, r *schema.Report) {
			r.Activities = make([]schema.Activity, 201)
			for i := range r.Activities {
				r.Activities[i] = schema.Activity{Type: "conference", Reached: 1}
			}
		}, []string{"activities"}},

		// Appendix A II: implementation team meetings, by conference call or in person.
		{"meeting type not known", "FED", func(t *testing.T, r *schema.Report) { r.Meetings[0].Type = "webinar" }, []string{"meetings[0].type"}},
		{"meeting type not lower case before Normalize", "FED", func(t *testing.T, r *schema.Report) { r.Meetings[0].Type = "In-Person" }, []string{"meetings[0].type"}},
		{"meeting date missing", "FED", func(t *testing.T, r *schema.Report) { r.Meetings[1].HeldOn = schema.Date{} }, []string{"meetings[1].held_on"}},
		{"meeting date partial", "FED", func(t *testing.T, r *schema.Report) { r.Meetings[1].HeldOn = schema.MustDate("2025-01") }, []string{"meetings[1].held_on"}},
		{"meeting date not a date", "FED", func(t *testing.T, r *schema.Report) { r.Meetings[2].HeldOn = badDate(t, "2025-13-01") }, []string{"meetings[2].held_on"}},
		{"control character in a meeting location", "FED", func(t *testing.T, r *schema.Report) { r.Meetings[1].Location = "Park\x7fRidge" }, []string{"meetings[1].location"}},

		// Appendix A III: events and products per goal category, the program's own.
		{"event category not the program's", "FED", func(t *testing.T, r *schema.Report) { r.Events[0].Category = "safety" }, []string{"events[0].category"}},
		{"event category missing", "FED", func(t *testing.T, r *schema.Report) { r.Events[0].Category = "" }, []string{"events[0].category"}},
		{"product category is MIOSHA's", "FED", func(t *testing.T, r *schema.Report) { r.Products[0].Category = "outreach-communication" }, []string{"products[0].category"}},
		{"product category a label before Normalize", "FED", func(t *testing.T, r *schema.Report) { r.Products[0].Category = "Outreach and Communication" }, []string{"products[0].category"}},
		{"event title missing", "FED", func(t *testing.T, r *schema.Report) { r.Events[0].Title = "" }, []string{"events[0].title"}},
		{"event title too long", "FED", func(t *testing.T, r *schema.Report) { r.Events[0].Title = strings.Repeat("t", 201) }, []string{"events[0].title"}},
		{"control character in a product description", "FED", func(t *testing.T, r *schema.Report) { r.Products[0].Description = "a\x02b" }, []string{"products[0].description"}},
		{"event date not a date", "FED", func(t *testing.T, r *schema.Report) { r.Events[0].On = badDate(t, "May 6") }, []string{"events[0].on"}},

		// Appendix A IV: activity type and number of individuals reached or trained.
		{"activity type missing", "FED", func(t *testing.T, r *schema.Report) { r.Activities[1].Type = "" }, []string{"activities[1].type"}},
		{"activity category not the program's", "FED", func(t *testing.T, r *schema.Report) { r.Activities[1].Category = "awareness-raising" }, []string{"activities[1].category"}},
		{"negative reached", "FED", func(t *testing.T, r *schema.Report) { r.Activities[0].Reached = -1 }, []string{"activities[0].reached"}},
		{"reached beyond its bound", "FED", func(t *testing.T, r *schema.Report) { r.Activities[0].Reached = 100_000_001 }, []string{"activities[0].reached"}},
		{"negative trained", "FED", func(t *testing.T, r *schema.Report) { r.Activities[0].Trained = -5 }, []string{"activities[0].trained"}},
	}
	c := loadCatalog(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := c.Get(tt.program)
			r := fedReport()
			tt.edit(t, r)
			err := r.Validate(p)
			if err == nil {
				t.Fatalf("Validate passed, want failing fields %v", tt.wantFields)
			}
			if diff := cmp.Diff(tt.wantFields, fieldNames(t, err)); diff != "" {
				t.Errorf("failing fields (-want +got):\n%s\n%v", diff, err)
			}
		})
	}
}

// TestReportValidateEveryFailingField: every failing field is listed at once, not just
// the first (PROTOCOL.md: every failing field is reported at once).
func TestReportValidateEveryFailingField(t *testing.T) {
	fed := program(t, "FED")
	r := fedReport()
	r.Period = "2025-Q3"             // FED reports annually (CSP 04-01-001 XII.D.2.a)
	r.ReportedOn = schema.Date{}     // Appendix A "[DATE]"
	r.Overview = "\x00"              // control character
	r.TeamMembers = manyStrings(201) // over-long list
	r.Meetings[0].Type = "webinar"   // conference call or in person (Appendix A II)
	r.Events[0].Category = "bogus"   // the program's goal categories (Appendix A III)
	r.Products[0].Category = ""      //
	r.Activities[0].Reached = -1     // number reached (Appendix A IV)
	want := []string{
		"period", "reported_on", "overview", "team_members", "meetings[0].type",
		"events[0].category", "products[0].category", "activities[0].reached",
	}
	if diff := cmp.Diff(want, fieldNames(t, r.Validate(fed))); diff != "" {
		t.Errorf("failing fields (-want +got):\n%s", diff)
	}
}

func TestReportNormalize(t *testing.T) {
	tests := []struct {
		name    string
		program string
		in      *schema.Report
		want    *schema.Report
	}{
		{
			// Wherever a category is accepted, its label is too, case-insensitively
			// (CONTRACT.md, Goal category codes); Appendix A III lists events and
			// products per goal category (seed 003).
			name:    "labels become codes, text is trimmed, lists are lists",
			program: "FED",
			in: &schema.Report{
				AllianceID: "FED-0123456789abcdef",
				Period:     " 2025-annual\n",
				ReportedOn: schema.MustDate("2025-07-20"),
				Overview:   "  Overview.  ",
				Meetings:   []schema.Meeting{{HeldOn: schema.MustDate("2025-01-15"), Type: " In-Person ", Location: " Park Ridge "}},
				Events: []schema.Item{
					{Category: "training and education", Title: " Webinar "},
					{Category: "RAISING AWARENESS OF OSHA'S RULEMAKING AND ENFORCEMENT INITIATIVES", Title: "Briefing"},
				},
				Products:   []schema.Item{{Category: " Outreach ", Title: "Fact sheet", Description: " text "}},
				Activities: []schema.Activity{{Type: " training ", Category: "Promoting the National Dialogue on Workplace Safety and Health", Reached: 10}},
				TeamMembers: []string{
					" Pat Jones ",
				},
			},
			want: &schema.Report{
				Program:    "FED",
				AllianceID: "FED-0123456789abcdef",
				Period:     "2025-annual",
				ReportedOn: schema.MustDate("2025-07-20"),
				Overview:   "Overview.",
				Meetings:   []schema.Meeting{{HeldOn: schema.MustDate("2025-01-15"), Type: "in-person", Location: "Park Ridge"}},
				Events: []schema.Item{
					{Category: "training", Title: "Webinar"},
					{Category: "awareness", Title: "Briefing"},
				},
				Products:    []schema.Item{{Category: "outreach", Title: "Fact sheet", Description: "text"}},
				Activities:  []schema.Activity{{Type: "training", Category: "dialogue", Reached: 10}},
				TeamMembers: []string{"Pat Jones"},
				Milestones:  []string{},
			},
		},
		{
			// MIOSHA's own labels (seed 004).
			name:    "MIOSHA label for its awareness category",
			program: "MI",
			in: &schema.Report{
				AllianceID: "MI-0123456789abcdef", Period: "2024-Q1", ReportedOn: schema.MustDate("2024-04-15"),
				Events: []schema.Item{{Category: "raising awareness of miosha's rulemaking and enforcement initiative", Title: "Silica rule briefing"}},
			},
			want: &schema.Report{
				Program: "MI", AllianceID: "MI-0123456789abcdef", Period: "2024-Q1", ReportedOn: schema.MustDate("2024-04-15"),
				TeamMembers: []string{}, Milestones: []string{}, Meetings: []schema.Meeting{}, Products: []schema.Item{}, Activities: []schema.Activity{},
				Events: []schema.Item{{Category: "rulemaking-awareness", Title: "Silica rule briefing"}},
			},
		},
		{
			// An unknown category is kept (trimmed) for Validate to name.
			name:    "an unknown category stays for Validate",
			program: "FED",
			in:      &schema.Report{Program: "FED", Products: []schema.Item{{Category: " Safety ", Title: "x"}}},
			want: &schema.Report{
				Program: "FED", TeamMembers: []string{}, Milestones: []string{}, Meetings: []schema.Meeting{},
				Events: []schema.Item{}, Activities: []schema.Activity{},
				Products: []schema.Item{{Category: "Safety", Title: "x"}},
			},
		},
	}
	c := loadCatalog(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := c.Get(tt.program)
			tt.in.Normalize(p)
			if diff := cmp.Diff(tt.want, tt.in); diff != "" {
				t.Errorf("Normalize (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReportNormalizeThenValidate: labels in any case, a mixed-case meeting type and a
// padded period all validate once normalized (CONTRACT.md, Goal category codes).
func TestReportNormalizeThenValidate(t *testing.T) {
	fed := program(t, "FED")
	r := fedReport()
	r.Program = ""
	r.Period = " 2025-annual "
	r.Events[0].Category = "TRAINING AND EDUCATION"
	r.Products[0].Category = "outreach and communication"
	r.Activities[0].Category = "Training"
	r.Meetings[0].Type = "Conference-Call"
	r.Normalize(fed)
	if err := r.Validate(fed); err != nil {
		t.Fatalf("Validate after Normalize: %v", err)
	}
	if r.Events[0].Category != "training" || r.Products[0].Category != "outreach" || r.Activities[0].Category != "training" {
		t.Errorf("categories %q %q %q, want codes", r.Events[0].Category, r.Products[0].Category, r.Activities[0].Category)
	}
}

func TestReportJSON(t *testing.T) {
	// A report arrives as JSON; a date that is not one decodes, and Validate names it
	// with every other failing field.
	body := `{"alliance_id":"FED-0123456789abcdef","period":"2025-annual","reported_on":"2025-06-31",
	 "meetings":[{"held_on":"2025-01","type":"telegram"}],
	 "events":[{"category":"Training and Education","title":"Webinar","on":"yesterday"}],
	 "activities":[{"type":"conference","reached":-3}]}`
	var r schema.Report
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	fed := program(t, "FED")
	r.Normalize(fed)
	want := []string{"reported_on", "meetings[0].held_on", "meetings[0].type", "events[0].on", "activities[0].reached"}
	if diff := cmp.Diff(want, fieldNames(t, r.Validate(fed))); diff != "" {
		t.Errorf("failing fields (-want +got):\n%s", diff)
	}

	// Lists are lists, even empty ones, once normalized.
	var empty schema.Report
	if err := json.Unmarshal([]byte(`{"alliance_id":"FED-1","period":"2026-annual","reported_on":"2026-07-01"}`), &empty); err != nil {
		t.Fatal(err)
	}
	empty.Normalize(fed)
	out, err := json.Marshal(&empty)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{`"team_members":[]`, `"meetings":[]`, `"events":[]`, `"products":[]`, `"activities":[]`, `"milestones":[]`, `"reported_on":"2026-07-01"`} {
		if !strings.Contains(string(out), f) {
			t.Errorf("%s lacks %s", out, f)
		}
	}
}

func TestReportIDAndTotal(t *testing.T) {
	// One id per period, so re-reporting a period revises it (report.go).
	if got := schema.ReportID("FED-0123456789abcdef", "2026-annual"); got != "FED-0123456789abcdef.2026-annual" {
		t.Errorf("ReportID = %q", got)
	}
	if got := schema.ReportID("MI-x", "2026-Q3"); got != "MI-x.2026-Q3" {
		t.Errorf("ReportID = %q", got)
	}
	// The id is a record id of the Alliance's program.
	if prog, err := schema.ProgramOfID(schema.ReportID("MI-0123456789abcdef", "2026-Q3")); err != nil || prog != "MI" {
		t.Errorf("ProgramOfID(report id) = %q, %v", prog, err)
	}
	// Appendix A IV: the number of individuals reached, totalled.
	if got := fedReport().TotalReached(); got != 51200 {
		t.Errorf("TotalReached = %d, want 51200", got)
	}
	if got := (&schema.Report{}).TotalReached(); got != 0 {
		t.Errorf("TotalReached of an empty report = %d", got)
	}
}

func TestReportValidateFor(t *testing.T) {
	c := loadCatalog(t)
	fed, _ := c.Get("FED")
	mi, _ := c.Get("MI")
	nv, _ := c.Get("NV")
	// fedSigned is fedAlliance normalized: signed 2024-06-12, two years (CSP 04-01-001
	// X.G), expires 2026-06-12.
	fedSigned := func() *schema.Alliance { return normalized(t, fed, fedAlliance()) }
	miSigned := func() *schema.Alliance {
		a := normalized(t, mi, miAlliance()) // signed 2023-05-01, three years
		a.ID = "MI-0123456789abcdef"
		return a
	}
	tests := []struct {
		name       string
		program    *schema.Program
		alliance   func() *schema.Alliance
		report     func() *schema.Report
		wantFields []string
	}{
		{"first Alliance year, reported within 60 days (XII.D.2.a, seed 003)", fed, fedSigned, fedReport, nil},
		{"second Alliance year", fed, fedSigned, func() *schema.Report {
			r := fedReport()
			r.Period, r.ReportedOn = "2026-annual", schema.MustDate("2026-08-01")
			return r
		}, nil},
		{"a period that has begun may be reported before it ends", fed, fedSigned, func() *schema.Report {
			r := fedReport()
			r.Period, r.ReportedOn, r.Meetings = "2026-annual", schema.MustDate("2026-01-10"), nil
			return r
		}, nil},
		{"late report is still a report", fed, fedSigned, func() *schema.Report {
			r := fedReport()
			r.ReportedOn = schema.MustDate("2026-01-10")
			return r
		}, nil},
		// A report covers a period of the signed term (report.go, ValidateFor).
		{"period before signing is outside the term", fed, fedSigned, func() *schema.Report {
			r := fedReport()
			r.Period = "2024-annual" // 2023-06-12 to 2024-06-11
			return r
		}, []string{"period"}},
		{"period after the two-year term is outside it", fed, fedSigned, func() *schema.Report {
			r := fedReport()
			r.Period, r.ReportedOn, r.Meetings = "2028-annual", schema.MustDate("2028-07-01"), nil
			return r
		}, []string{"period"}},
		{"period beginning after the report's date", fed, fedSigned, func() *schema.Report {
			r := fedReport()
			r.Period, r.ReportedOn, r.Meetings = "2026-annual", schema.MustDate("2025-06-11"), nil // 2026-annual begins 2025-06-12
			return r
		}, []string{"period"}},
		{"period beginning on the report's date", fed, fedSigned, func() *schema.Report {
			r := fedReport()
			r.Period, r.ReportedOn, r.Meetings = "2026-annual", schema.MustDate("2025-06-12"), nil
			return r
		}, nil},
		// Reports start once the Alliance is signed (draft -> signed, seed 001).
		{"draft Alliance", fed, func() *schema.Alliance {
			a := fedSigned()
			a.SignedOn, a.ExpiresOn, a.Status = schema.Date{}, schema.Date{}, schema.StatusDraft
			return a
		}, fedReport, []string{"alliance_id"}},
		{"report filed under another Alliance", fed, func() *schema.Alliance {
			a := fedSigned()
			a.ID = "FED-fedcba9876543210"
			return a
		}, fedReport, []string{"alliance_id"}},
		// Appendix A II lists meetings held in the period being reported.
		{"meeting after the report date", fed, fedSigned, func() *schema.Report {
			r := fedReport()
			r.Meetings[2].HeldOn = schema.MustDate("2025-07-21") // reported 2025-07-20
			return r
		}, []string{"meetings[2].held_on"}},
		{"meeting on the report date", fed, fedSigned, func() *schema.Report {
			r := fedReport()
			r.Meetings[2].HeldOn = schema.MustDate("2025-07-20")
			return r
		}, nil},
		{"Validate's fields come first", fed, fedSigned, func() *schema.Report {
			r := fedReport()
			r.Program = "NV"
			r.Meetings[0].HeldOn = schema.MustDate("2025-12-01")
			return r
		}, []string{"program", "meetings[0].held_on"}},
		// A cadence the program does not take is named once, by Validate.
		{"FED quarterly named once", fed, fedSigned, func() *schema.Report {
			r := fedReport()
			r.Period = "2025-Q1"
			return r
		}, []string{"period"}},
		// Termination takes effect 30 days after notice (seed 001; CSP 04-01-001 XIV):
		// a year that begins after that is outside the term.
		{"terminated: the year it ended in is reported", fed, func() *schema.Alliance {
			a := fedSigned()
			if err := a.Terminate(schema.MustDate("2025-03-01"), ""); err != nil {
				t.Fatal(err)
			}
			return a
		}, fedReport, nil},
		{"terminated: no later year", fed, func() *schema.Alliance {
			a := fedSigned()
			if err := a.Terminate(schema.MustDate("2025-03-01"), ""); err != nil {
				t.Fatal(err)
			}
			return a
		}, func() *schema.Report {
			r := fedReport()
			r.Period, r.ReportedOn, r.Meetings = "2026-annual", schema.MustDate("2026-08-01"), nil
			return r
		}, []string{"period"}},
		// MIOSHA quarterly and annual reports (seed 004), calendar quarters.
		{"MIOSHA quarter of signing", mi, miSigned, func() *schema.Report {
			r := miReport()
			r.Period, r.ReportedOn, r.Meetings = "2023-Q2", schema.MustDate("2023-07-15"), nil
			return r
		}, nil},
		{"MIOSHA quarter before signing", mi, miSigned, func() *schema.Report {
			r := miReport()
			r.Period, r.ReportedOn, r.Meetings = "2023-Q1", schema.MustDate("2023-07-15"), nil
			return r
		}, []string{"period"}},
		{"MIOSHA annual report", mi, miSigned, func() *schema.Report {
			r := miReport()
			r.Period, r.ReportedOn = "2024-annual", schema.MustDate("2024-06-01")
			return r
		}, nil},
		// A signing date known only to the month counts from its last day (lifecycle.go,
		// anchorDay): NV Alliance signed "2022-09".
		{"month-only signing: first year begins on the month's last day", nv, func() *schema.Alliance {
			a := normalized(t, nv, nvAlliance())
			a.ID = "NV-0123456789abcdef"
			return a
		}, func() *schema.Report {
			return &schema.Report{Program: "NV", AllianceID: "NV-0123456789abcdef", Period: "2023-annual", ReportedOn: schema.MustDate("2022-09-29")}
		}, []string{"period"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.alliance()
			err := tt.report().ValidateFor(tt.program, a)
			if diff := cmp.Diff(tt.wantFields, fieldsOf(t, err)); diff != "" {
				t.Errorf("failing fields (-want +got):\n%s\n%v", diff, err)
			}
		})
	}
}
