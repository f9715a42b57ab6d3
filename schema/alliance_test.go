package schema_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

// fedAlliance is a valid national federal Alliance, before Normalize.
func fedAlliance() *schema.Alliance {
	return &schema.Alliance{
		ID:     "FED-0123456789abcdef",
		Level:  schema.LevelNational,
		Office: "Directorate of Cooperative and State Programs",
		Participants: []schema.Participant{{
			Name:    "American Society of Safety Professionals",
			Type:    "association",
			Address: "520 N. Northwest Highway, Park Ridge, IL 60068",
			Contact: schema.Contact{Name: "Pat Jones", Phone: "+1 847 699 2929", Email: "alliances@assp.org"},
		}},
		Goals: []schema.Goal{
			{Category: "training", Description: "Develop fall protection training."},
			{Category: "outreach", Description: "Share information on heat illness."},
		},
		EmphasisAreas: []string{"falls", "heat"},
		SignedOn:      schema.MustDate("2024-06-12"),
	}
}

// miAlliance is a valid MIOSHA Alliance, before Normalize.
func miAlliance() *schema.Alliance {
	return &schema.Alliance{
		Office:       "Construction Safety and Health Division",
		Participants: []schema.Participant{{Name: "Associated General Contractors of Michigan", Type: "association"}},
		Goals:        []schema.Goal{{Category: "outreach-communication"}, {Category: "training-education"}},
		SignedOn:     schema.MustDate("2023-05-01"),
	}
}

// nvAlliance is a valid Nevada SCATS Alliance, before Normalize.
func nvAlliance() *schema.Alliance {
	return &schema.Alliance{
		Participants: []schema.Participant{{Name: "Nevada Contractors Association", Type: "association"}},
		Goals:        []schema.Goal{{Category: "safety-dialogue"}},
		SignedOn:     schema.MustDate("2022-09"),
	}
}

// normalized runs Normalize and returns the record, for table entries.
func normalized(t *testing.T, p *schema.Program, a *schema.Alliance) *schema.Alliance {
	t.Helper()
	a.Normalize(p)
	return a
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name    string
		program string
		in      *schema.Alliance
		want    *schema.Alliance
	}{
		{
			// Initial term two years: CSP 04-01-001 X.G (seed 003).
			name:    "FED gets program, status, two-year term and expiry",
			program: "FED",
			in:      fedAlliance(),
			want: func() *schema.Alliance {
				a := fedAlliance()
				a.Program = "FED"
				a.Status = schema.StatusActive
				a.TermMonths = 24
				a.ExpiresOn = schema.MustDate("2026-06-12")
				return a
			}(),
		},
		{
			// MIOSHA agreements run three years (DOMAIN.md, Lifecycle); MI signs only at
			// the state level.
			name:    "MI gets level state and a three-year term",
			program: "MI",
			in:      miAlliance(),
			want: func() *schema.Alliance {
				a := miAlliance()
				a.Program = "MI"
				a.Level = schema.LevelState
				a.Status = schema.StatusActive
				a.TermMonths = 36
				a.ExpiresOn = schema.MustDate("2026-05-01")
				return a
			}(),
		},
		{
			// Nevada SCATS two-year term (seed 002); a month-only signing date gives a
			// month-only expiry.
			name:    "NV partial date keeps its precision",
			program: "NV",
			in:      nvAlliance(),
			want: func() *schema.Alliance {
				a := nvAlliance()
				a.Program = "NV"
				a.Level = schema.LevelState
				a.Status = schema.StatusActive
				a.TermMonths = 24
				a.ExpiresOn = schema.MustDate("2024-09")
				return a
			}(),
		},
		{
			name:    "FED level is not guessed among three",
			program: "FED",
			in:      &schema.Alliance{SignedOn: schema.MustDate("2024-06-12")},
			want: &schema.Alliance{
				Program: "FED", Status: schema.StatusActive, TermMonths: 24,
				SignedOn: schema.MustDate("2024-06-12"), ExpiresOn: schema.MustDate("2026-06-12"),
			},
		},
		{
			name:    "no signing date makes a draft",
			program: "MI",
			in:      &schema.Alliance{Goals: []schema.Goal{{Category: "training-education"}}},
			want: &schema.Alliance{
				Program: "MI", Level: schema.LevelState, Status: schema.StatusDraft, TermMonths: 36,
				Goals: []schema.Goal{{Category: "training-education"}},
			},
		},
		{
			// A concluded Alliance concluded at the end of its term unless it says
			// otherwise (seed 001).
			name:    "given status, program and term are kept",
			program: "MI",
			in:      &schema.Alliance{Program: "NV", Status: schema.StatusConcluded, TermMonths: 12, SignedOn: schema.MustDate("2020-01-15")},
			want: &schema.Alliance{
				Program: "NV", Level: schema.LevelState, Status: schema.StatusConcluded, TermMonths: 12,
				SignedOn: schema.MustDate("2020-01-15"), ExpiresOn: schema.MustDate("2021-01-15"),
				ConcludedOn: schema.MustDate("2021-01-15"),
			},
		},
		{
			// Wherever a category is accepted, the label (case-insensitive) is accepted
			// too (CONTRACT.md, Goal category codes).
			name:    "labels become codes, unknown categories are left for Validate",
			program: "MI",
			in: &schema.Alliance{Status: schema.StatusDraft, Goals: []schema.Goal{
				{Category: "OUTREACH AND COMMUNICATION", Description: "  Newsletter.  "},
				{Category: "Raising Awareness of MIOSHA's Rulemaking and Enforcement Initiative"},
				{Category: " training and education "},
				{Category: "Promoting the Dialogue on Workplace Safety and Health"},
			}},
			want: &schema.Alliance{
				Program: "MI", Level: schema.LevelState, Status: schema.StatusDraft, TermMonths: 36,
				Goals: []schema.Goal{
					{Category: "outreach-communication", Description: "Newsletter."},
					{Category: "rulemaking-awareness"},
					{Category: "training-education"},
					{Category: "Promoting the Dialogue on Workplace Safety and Health"},
				},
			},
		},
		{
			name:    "text is trimmed and names collapse their spaces",
			program: "NV",
			in: &schema.Alliance{
				Status: schema.StatusDraft,
				Office: "  Las Vegas  ",
				Participants: []schema.Participant{{
					Name:    "  American   Society\tof Safety\nProfessionals ",
					Type:    " Association ",
					Address: " Reno ",
					Contact: schema.Contact{Name: " Pat ", Phone: " 775 ", Email: " pat@example.org "},
				}},
				EmphasisAreas: []string{"  falls "},
			},
			want: &schema.Alliance{
				Program: "NV", Level: schema.LevelState, Status: schema.StatusDraft, TermMonths: 24,
				Office: "Las Vegas",
				Participants: []schema.Participant{{
					Name:    "American Society of Safety Professionals",
					Type:    "association",
					Address: "Reno",
					Contact: schema.Contact{Name: "Pat", Phone: "775", Email: "pat@example.org"},
				}},
				EmphasisAreas: []string{"falls"},
			},
		},
		{
			// Five-year renewal (seed 001): the expiry runs from the last renewal.
			name:    "expiry from the last renewal",
			program: "FED",
			in: &schema.Alliance{
				Level: schema.LevelArea, Status: schema.StatusRenewed, SignedOn: schema.MustDate("2015-03-10"),
				Renewals: []schema.Renewal{
					{SignedOn: schema.MustDate("2017-03-01"), TermMonths: 60},
					{SignedOn: schema.MustDate("2022-02-28"), TermMonths: 36},
				},
			},
			want: &schema.Alliance{
				Program: "FED", Level: schema.LevelArea, Status: schema.StatusRenewed, TermMonths: 24,
				SignedOn: schema.MustDate("2015-03-10"), ExpiresOn: schema.MustDate("2025-02-28"),
				Renewals: []schema.Renewal{
					{SignedOn: schema.MustDate("2017-03-01"), TermMonths: 60},
					{SignedOn: schema.MustDate("2022-02-28"), TermMonths: 36},
				},
			},
		},
		{
			name:    "a stale expiry is replaced by the derived one",
			program: "FED",
			in:      &schema.Alliance{Level: schema.LevelNational, SignedOn: schema.MustDate("2024-01-31"), TermMonths: 1, ExpiresOn: schema.MustDate("2030-01-01")},
			want: &schema.Alliance{
				Program: "FED", Level: schema.LevelNational, Status: schema.StatusActive, TermMonths: 1,
				SignedOn: schema.MustDate("2024-01-31"), ExpiresOn: schema.MustDate("2024-02-29"),
			},
		},
		{
			// 30 days' written notice (seed 001; CSP 04-01-001 XIV).
			name:    "termination takes effect 30 days after notice",
			program: "NV",
			in: &schema.Alliance{
				Status: schema.StatusTerminated, SignedOn: schema.MustDate("2023-06-01"),
				Termination: &schema.Termination{NoticeOn: schema.MustDate("2024-02-15"), Reason: " Lack of activity "},
			},
			want: &schema.Alliance{
				Program: "NV", Level: schema.LevelState, Status: schema.StatusTerminated, TermMonths: 24,
				SignedOn: schema.MustDate("2023-06-01"), ExpiresOn: schema.MustDate("2025-06-01"),
				Termination: &schema.Termination{NoticeOn: schema.MustDate("2024-02-15"), EffectiveOn: schema.MustDate("2024-03-16"), Reason: " Lack of activity "},
			},
		},
		{
			name:    "a given effective date is not overwritten",
			program: "NV",
			in: &schema.Alliance{
				Status: schema.StatusTerminated, SignedOn: schema.MustDate("2023-06-01"),
				Termination: &schema.Termination{NoticeOn: schema.MustDate("2024-02-15"), EffectiveOn: schema.MustDate("2024-02-20")},
			},
			want: &schema.Alliance{
				Program: "NV", Level: schema.LevelState, Status: schema.StatusTerminated, TermMonths: 24,
				SignedOn: schema.MustDate("2023-06-01"), ExpiresOn: schema.MustDate("2025-06-01"),
				Termination: &schema.Termination{NoticeOn: schema.MustDate("2024-02-15"), EffectiveOn: schema.MustDate("2024-02-20")},
			},
		},
	}
	c := loadCatalog(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := c.Get(tt.program)
			tt.in.Normalize(p)
			// Participants and goals are always lists after Normalize, so the JSON
			// says [] and never null; the cases leave them out where they are empty.
			if tt.in.Participants == nil || tt.in.Goals == nil {
				t.Fatalf("Normalize left nil lists: participants %v, goals %v", tt.in.Participants, tt.in.Goals)
			}
			if tt.want.Participants == nil {
				tt.want.Participants = []schema.Participant{}
			}
			if tt.want.Goals == nil {
				tt.want.Goals = []schema.Goal{}
			}
			if diff := cmp.Diff(tt.want, tt.in); diff != "" {
				t.Errorf("Normalize (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateValid(t *testing.T) {
	tests := []struct {
		name    string
		program string
		in      func() *schema.Alliance
	}{
		{name: "FED national", program: "FED", in: fedAlliance},
		{name: "FED regional", program: "FED", in: func() *schema.Alliance { a := fedAlliance(); a.Level = schema.LevelRegional; return a }},
		{name: "FED area", program: "FED", in: func() *schema.Alliance { a := fedAlliance(); a.Level = schema.LevelArea; return a }},
		{name: "MI", program: "MI", in: miAlliance},
		{name: "NV partial date", program: "NV", in: nvAlliance},
		{name: "NV year-only date", program: "NV", in: func() *schema.Alliance { a := nvAlliance(); a.SignedOn = schema.MustDate("2009"); return a }},
		{name: "FED with labels", program: "FED", in: func() *schema.Alliance {
			a := fedAlliance()
			a.Goals = []schema.Goal{{Category: "Training and Education"}, {Category: "raising awareness of osha's rulemaking and enforcement initiatives"}}
			return a
		}},
		{name: "no id yet", program: "FED", in: func() *schema.Alliance { a := fedAlliance(); a.ID = ""; return a }},
		{name: "no goals", program: "NV", in: func() *schema.Alliance { a := nvAlliance(); a.Goals = nil; return a }},
		{name: "participant without type or contact", program: "FED", in: func() *schema.Alliance {
			a := fedAlliance()
			a.Participants = []schema.Participant{{Name: "Hispanic Contractors of America"}}
			return a
		}},
		{name: "every participant type", program: "FED", in: func() *schema.Alliance {
			// Who may sign: seed 001; CSP 04-01-001 X (seed 003).
			a := fedAlliance()
			a.Participants = nil
			for _, typ := range []string{"association", "union", "education", "community", "government", "business", "tribe", "whistleblower", "consulate", "other"} {
				a.Participants = append(a.Participants, schema.Participant{Name: "Partner " + typ, Type: typ})
			}
			return a
		}},
		{name: "text with tabs and newlines", program: "FED", in: func() *schema.Alliance {
			a := fedAlliance()
			a.Goals[0].Description = "Line one.\n\tLine two.\r\n"
			return a
		}},
		{name: "names at the length limit", program: "FED", in: func() *schema.Alliance {
			a := fedAlliance()
			a.Participants[0].Name = strings.Repeat("é", 300)
			a.Office = strings.Repeat("o", 200)
			return a
		}},
		{name: "renewed", program: "FED", in: func() *schema.Alliance {
			a := fedAlliance()
			a.Status = schema.StatusRenewed
			a.Renewals = []schema.Renewal{{SignedOn: schema.MustDate("2026-06-01"), TermMonths: 60}}
			return a
		}},
		{
			// Official documents disagree by days on the same signing (DOMAIN.md, Real
			// data is messy): a month-only renewal in the month of a day-precise
			// signing is not "before" it.
			name: "renewal date known only to the month of signing", program: "FED", in: func() *schema.Alliance {
				a := fedAlliance()
				a.Status = schema.StatusRenewed
				a.Renewals = []schema.Renewal{{SignedOn: schema.MustDate("2024-06"), TermMonths: 24}}
				return a
			},
		},
		{name: "terminated with notice", program: "NV", in: func() *schema.Alliance {
			a := nvAlliance()
			a.Status = schema.StatusTerminated
			a.Termination = &schema.Termination{NoticeOn: schema.MustDate("2023-01-10"), Reason: "No longer able to meet its commitments."}
			return a
		}},
		{name: "terminated with a month-only notice", program: "NV", in: func() *schema.Alliance {
			a := nvAlliance()
			a.Status = schema.StatusTerminated
			a.Termination = &schema.Termination{NoticeOn: schema.MustDate("2023-01")}
			return a
		}},
		// Ambassador: after the initial term and one renewal, where offered (seed 001).
		{name: "ambassador", program: "FED", in: func() *schema.Alliance {
			a := fedAlliance()
			a.SignedOn = schema.MustDate("2018-06-12")
			a.Renewals = []schema.Renewal{{SignedOn: schema.MustDate("2020-06-12"), TermMonths: 24}}
			// The renewal term's last day is 2022-06-12: completed, and eligible, the
			// day after.
			a.Status, a.AmbassadorOn = schema.StatusAmbassador, schema.MustDate("2022-06-13")
			return a
		}},
		{name: "concluded", program: "MI", in: func() *schema.Alliance { a := miAlliance(); a.Status = schema.StatusConcluded; return a }},
		{name: "longest term", program: "FED", in: func() *schema.Alliance { a := fedAlliance(); a.TermMonths = 120; return a }},
		{name: "shortest term", program: "FED", in: func() *schema.Alliance { a := fedAlliance(); a.TermMonths = 1; return a }},
	}
	c := loadCatalog(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := c.Get(tt.program)
			a := normalized(t, p, tt.in())
			if err := a.Validate(p); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestValidateEveryFailingField(t *testing.T) {
	// Validate reports every failing field at once, not just the first (STYLE.md;
	// schema.ValidationError).
	fed := program(t, "FED")
	a := &schema.Alliance{
		ID:      "MI-0123456789abcdef",
		Program: "MI",
		Level:   schema.LevelState,
		Office:  "Region\x1b[31m",
		Participants: []schema.Participant{
			{Name: "", Type: "robot", Contact: schema.Contact{Email: "not an address"}},
		},
		Goals:      []schema.Goal{{Category: "outreach-communication"}},
		Status:     schema.StatusActive,
		TermMonths: 200,
		ExpiresOn:  schema.MustDate("2030-01-01"),
	}
	want := []string{
		"program",
		"id",
		"level",
		"office",
		"participants[0].name",
		"participants[0].type",
		"participants[0].contact.email",
		"goals[0].category",
		"signed_on",
		"term_months",
		"expires_on",
	}
	if diff := cmp.Diff(want, fieldNames(t, a.Validate(fed))); diff != "" {
		t.Errorf("failing fields (-want +got):\n%s", diff)
	}
}

func TestValidateInvalid(t *testing.T) {
	tests := []struct {
		name    string
		program string
		// in builds the record; it is normalized unless raw is set.
		in         func() *schema.Alliance
		raw        bool
		wantFields []string
	}{
		// Levels: federal OSHA signs at the national, regional or area office level;
		// a State Plan at the state level (seed 001; CSP 04-01-001 VIII, seed 003).
		{name: "MI accepts only state", program: "MI", in: func() *schema.Alliance { a := miAlliance(); a.Level = schema.LevelNational; return a }, wantFields: []string{"level"}},
		{name: "FED refuses state", program: "FED", in: func() *schema.Alliance { a := fedAlliance(); a.Level = schema.LevelState; return a }, wantFields: []string{"level"}},
		{name: "FED needs a level", program: "FED", in: func() *schema.Alliance { a := fedAlliance(); a.Level = ""; return a }, wantFields: []string{"level"}},
		{name: "unknown level", program: "FED", in: func() *schema.Alliance { a := fedAlliance(); a.Level = "county"; return a }, wantFields: []string{"level"}},
		{name: "record of another program", program: "NV", in: func() *schema.Alliance { a := nvAlliance(); a.Program = "MI"; return a }, wantFields: []string{"program"}},
		{name: "id of another program", program: "NV", in: func() *schema.Alliance { a := nvAlliance(); a.ID = "MI-abc"; return a }, wantFields: []string{"id"}},
		{name: "malformed id", program: "NV", in: func() *schema.Alliance { a := nvAlliance(); a.ID = "nv abc"; return a }, wantFields: []string{"id"}},

		// Goal categories are per program (DOMAIN.md, Goal categories).
		{name: "FED code in an MI record", program: "MI", in: func() *schema.Alliance {
			a := miAlliance()
			a.Goals = append(a.Goals, schema.Goal{Category: "awareness"})
			return a
		}, wantFields: []string{"goals[2].category"}},
		{name: "MI code in a FED record", program: "FED", in: func() *schema.Alliance {
			a := fedAlliance()
			a.Goals[1].Category = "outreach-communication"
			return a
		}, wantFields: []string{"goals[1].category"}},
		{name: "NV dialogue is not an MI category", program: "MI", in: func() *schema.Alliance {
			a := miAlliance()
			a.Goals = append(a.Goals, schema.Goal{Category: "safety-dialogue"})
			return a
		}, wantFields: []string{"goals[2].category"}},
		{name: "empty category", program: "FED", in: func() *schema.Alliance { a := fedAlliance(); a.Goals[0].Category = ""; return a }, wantFields: []string{"goals[0].category"}},
		{name: "label not normalized", program: "FED", raw: true, in: func() *schema.Alliance {
			a := normalized(t, program(t, "FED"), fedAlliance())
			a.Goals[0].Category = "Training and Education"
			return a
		}, wantFields: []string{"goals[0].category"}},

		// MIOSHA requires an outreach goal (seed 004).
		{name: "MI active without outreach goal", program: "MI", in: func() *schema.Alliance {
			a := miAlliance()
			a.Goals = []schema.Goal{{Category: "training-education"}, {Category: "rulemaking-awareness"}}
			return a
		}, wantFields: []string{"goals"}},
		{name: "MI concluded without outreach goal", program: "MI", in: func() *schema.Alliance {
			a := miAlliance()
			a.Status = schema.StatusConcluded
			a.Goals = nil
			return a
		}, wantFields: []string{"goals"}},

		// Signing date and term.
		{name: "active without signing date", program: "FED", in: func() *schema.Alliance {
			a := fedAlliance()
			a.SignedOn = schema.Date{}
			a.Status = schema.StatusActive
			return a
		}, wantFields: []string{"signed_on"}},
		{name: "term over ten years", program: "FED", in: func() *schema.Alliance { a := fedAlliance(); a.TermMonths = 121; return a }, wantFields: []string{"term_months"}},
		{name: "negative term", program: "FED", in: func() *schema.Alliance { a := fedAlliance(); a.TermMonths = -1; return a }, wantFields: []string{"term_months"}},
		{name: "term zero when not normalized", program: "FED", raw: true, in: func() *schema.Alliance {
			a := normalized(t, program(t, "FED"), fedAlliance())
			a.TermMonths = 0
			a.ExpiresOn = a.DerivedExpiry()
			return a
		}, wantFields: []string{"term_months"}},
		{name: "expiry not derived", program: "FED", raw: true, in: func() *schema.Alliance {
			a := normalized(t, program(t, "FED"), fedAlliance())
			a.ExpiresOn = schema.MustDate("2027-06-12")
			return a
		}, wantFields: []string{"expires_on"}},
		{name: "expiry ignores the renewal", program: "FED", raw: true, in: func() *schema.Alliance {
			a := normalized(t, program(t, "FED"), fedAlliance())
			a.Status = schema.StatusRenewed
			a.Renewals = []schema.Renewal{{SignedOn: schema.MustDate("2026-06-01"), TermMonths: 60}}
			return a // expires_on still 2026-06-12, derived is 2031-06-01
		}, wantFields: []string{"expires_on"}},
		{name: "unknown status", program: "FED", in: func() *schema.Alliance { a := fedAlliance(); a.Status = "suspended"; return a }, wantFields: []string{"status"}},

		// Renewals and termination.
		{name: "renewal before the agreement it renews", program: "FED", in: func() *schema.Alliance {
			a := fedAlliance()
			a.Status = schema.StatusRenewed
			a.Renewals = []schema.Renewal{{SignedOn: schema.MustDate("2024-06-11"), TermMonths: 60}}
			return a
		}, wantFields: []string{"renewals[0].signed_on"}},
		{name: "second renewal before the first", program: "FED", in: func() *schema.Alliance {
			a := fedAlliance()
			a.Status = schema.StatusRenewed
			a.Renewals = []schema.Renewal{
				{SignedOn: schema.MustDate("2026-06-01"), TermMonths: 60},
				{SignedOn: schema.MustDate("2025"), TermMonths: 60},
			}
			return a
		}, wantFields: []string{"renewals[1].signed_on"}},
		{name: "renewal without date or term", program: "FED", in: func() *schema.Alliance {
			a := fedAlliance()
			a.Status = schema.StatusRenewed
			a.Renewals = []schema.Renewal{{}}
			return a
		}, wantFields: []string{"renewals[0].signed_on", "renewals[0].term_months"}},
		{name: "renewed without renewals", program: "FED", in: func() *schema.Alliance { a := fedAlliance(); a.Status = schema.StatusRenewed; return a }, wantFields: []string{"renewals"}},
		{name: "terminated without termination", program: "FED", in: func() *schema.Alliance { a := fedAlliance(); a.Status = schema.StatusTerminated; return a }, wantFields: []string{"termination"}},
		// 30 days' written notice (seed 001; CSP 04-01-001 XIV).
		{name: "termination effective before 30 days", program: "NV", in: func() *schema.Alliance {
			a := nvAlliance()
			a.Status = schema.StatusTerminated
			a.Termination = &schema.Termination{NoticeOn: schema.MustDate("2023-01-10"), EffectiveOn: schema.MustDate("2023-01-20")}
			return a
		}, wantFields: []string{"termination.effective_on"}},
		{name: "termination effective after 30 days", program: "NV", in: func() *schema.Alliance {
			a := nvAlliance()
			a.Status = schema.StatusTerminated
			a.Termination = &schema.Termination{NoticeOn: schema.MustDate("2023-01-10"), EffectiveOn: schema.MustDate("2023-03-01")}
			return a
		}, wantFields: []string{"termination.effective_on"}},
		{name: "termination effective date missing when not normalized", program: "NV", raw: true, in: func() *schema.Alliance {
			a := normalized(t, program(t, "NV"), nvAlliance())
			a.Status = schema.StatusTerminated
			a.Termination = &schema.Termination{NoticeOn: schema.MustDate("2023-01-10")}
			return a
		}, wantFields: []string{"termination.effective_on"}},
		{name: "termination without notice date", program: "NV", in: func() *schema.Alliance {
			a := nvAlliance()
			a.Status = schema.StatusTerminated
			a.Termination = &schema.Termination{Reason: "Goals met."}
			return a
		}, wantFields: []string{"termination.notice_on"}},

		// Participants.
		{name: "no participants", program: "FED", in: func() *schema.Alliance { a := fedAlliance(); a.Participants = nil; return a }, wantFields: []string{"participants"}},
		{name: "too many participants", program: "FED", in: func() *schema.Alliance {
			a := fedAlliance()
			a.Participants = make([]schema.Participant, 201)
			for i := range a.Participants {
				a.Participants[i].Name = "Partner"
			}
			return a
		}, wantFields: []string{"participants"}},
		{name: "blank name", program: "FED", in: func() *schema.Alliance { a := fedAlliance(); a.Participants[0].Name = " \t "; return a }, wantFields: []string{"participants[0].name"}},
		{name: "bad participant type", program: "FED", in: func() *schema.Alliance { a := fedAlliance(); a.Participants[0].Type = "individual"; return a }, wantFields: []string{"participants[0].type"}},
		{name: "bad e-mail", program: "FED", in: func() *schema.Alliance {
			a := fedAlliance()
			a.Participants[0].Contact.Email = "alliances at assp.org"
			return a
		}, wantFields: []string{"participants[0].contact.email"}},
		{name: "e-mail with a display name", program: "FED", in: func() *schema.Alliance {
			a := fedAlliance()
			a.Participants[0].Contact.Email = "Pat Jones <pat@assp.org>"
			return a
		}, wantFields: []string{"participants[0].contact.email"}},
		{name: "over-long participant name", program: "FED", in: func() *schema.Alliance {
			a := fedAlliance()
			a.Participants[0].Name = strings.Repeat("é", 301)
			return a
		}, wantFields: []string{"participants[0].name"}},
		{name: "over-long office", program: "FED", in: func() *schema.Alliance { a := fedAlliance(); a.Office = strings.Repeat("o", 201); return a }, wantFields: []string{"office"}},
		{name: "over-long address", program: "FED", in: func() *schema.Alliance {
			a := fedAlliance()
			a.Participants[0].Address = strings.Repeat("a", 401)
			return a
		}, wantFields: []string{"participants[0].address"}},
		{name: "over-long phone", program: "FED", in: func() *schema.Alliance {
			a := fedAlliance()
			a.Participants[0].Contact.Phone = strings.Repeat("5", 41)
			return a
		}, wantFields: []string{"participants[0].contact.phone"}},
		{name: "over-long goal description", program: "FED", in: func() *schema.Alliance {
			a := fedAlliance()
			a.Goals[0].Description = strings.Repeat("d", 4001)
			return a
		}, wantFields: []string{"goals[0].description"}},
		{name: "over-long termination reason", program: "NV", in: func() *schema.Alliance {
			a := nvAlliance()
			a.Status = schema.StatusTerminated
			a.Termination = &schema.Termination{NoticeOn: schema.MustDate("2023-01-10"), Reason: strings.Repeat("r", 4001)}
			return a
		}, wantFields: []string{"termination.reason"}},

		// Control characters.
		{name: "NUL in a name", program: "FED", in: func() *schema.Alliance { a := fedAlliance(); a.Participants[0].Name = "ASSP\x00"; return a }, wantFields: []string{"participants[0].name"}},
		{name: "escape in the office", program: "FED", in: func() *schema.Alliance { a := fedAlliance(); a.Office = "Region \x1b[2J"; return a }, wantFields: []string{"office"}},
		{name: "DEL in a contact name", program: "FED", in: func() *schema.Alliance { a := fedAlliance(); a.Participants[0].Contact.Name = "Pat\x7f"; return a }, wantFields: []string{"participants[0].contact.name"}},
		{name: "bell in a goal description", program: "FED", in: func() *schema.Alliance { a := fedAlliance(); a.Goals[1].Description = "ding\a"; return a }, wantFields: []string{"goals[1].description"}},

		// Emphasis areas and list bounds.
		{name: "empty emphasis area", program: "FED", in: func() *schema.Alliance { a := fedAlliance(); a.EmphasisAreas = []string{"falls", "  "}; return a }, wantFields: []string{"emphasis_areas[1]"}},
		{name: "too many emphasis areas", program: "FED", in: func() *schema.Alliance {
			a := fedAlliance()
			a.EmphasisAreas = make([]string, 51)
			for i := range a.EmphasisAreas {
				a.EmphasisAreas[i] = "area"
			}
			return a
		}, wantFields: []string{"emphasis_areas"}},
		{name: "too many goals", program: "FED", in: func() *schema.Alliance {
			a := fedAlliance()
			a.Goals = make([]schema.Goal, 51)
			for i := range a.Goals {
				a.Goals[i].Category = "training"
			}
			return a
		}, wantFields: []string{"goals"}},
		{name: "too many renewals", program: "FED", in: func() *schema.Alliance {
			a := fedAlliance()
			a.Status = schema.StatusRenewed
			for range 51 {
				a.Renewals = append(a.Renewals, schema.Renewal{SignedOn: schema.MustDate("2026-06-12"), TermMonths: 24})
			}
			return a
		}, wantFields: []string{"renewals"}},
	}
	c := loadCatalog(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := c.Get(tt.program)
			a := tt.in()
			if !tt.raw {
				a.Normalize(p)
			}
			err := a.Validate(p)
			if err == nil {
				t.Fatalf("Validate passed, want failing fields %v", tt.wantFields)
			}
			if diff := cmp.Diff(tt.wantFields, fieldNames(t, err)); diff != "" {
				t.Errorf("failing fields (-want +got):\n%s\nerror: %v", diff, err)
			}
		})
	}
}

func TestValidateDraft(t *testing.T) {
	// Drafts may lack what a signed Alliance needs: a signing date, and the goal a
	// program requires (MIOSHA requires an outreach goal, seed 004, of signed Alliances).
	mi := program(t, "MI")
	a := &schema.Alliance{
		Participants: []schema.Participant{{Name: "Michigan Farm Bureau", Type: "association"}},
		Goals:        []schema.Goal{{Category: "training-education"}},
	}
	a.Normalize(mi)
	if a.Status != schema.StatusDraft {
		t.Fatalf("status %q, want draft", a.Status)
	}
	if err := a.Validate(mi); err != nil {
		t.Errorf("Validate(draft): %v", err)
	}
	// The same record, once signed, must carry the outreach goal.
	a.SignedOn = schema.MustDate("2024-05-14")
	a.Status = ""
	a.Normalize(mi)
	if diff := cmp.Diff([]string{"goals"}, fieldNames(t, a.Validate(mi))); diff != "" {
		t.Errorf("signed without the outreach goal: failing fields (-want +got):\n%s", diff)
	}
}

func TestValidateDoesNotChangeRecord(t *testing.T) {
	fed := program(t, "FED")
	a := normalized(t, fed, fedAlliance())
	a.Goals[0].Category = "Training and Education"
	before := *a
	before.Goals = append([]schema.Goal(nil), a.Goals...)
	_ = a.Validate(fed)
	if diff := cmp.Diff(&before, a); diff != "" {
		t.Errorf("Validate changed the record (-want +got):\n%s", diff)
	}
}

func TestValidationErrorMessage(t *testing.T) {
	// The message names every field, so a 4xx answer can name the field (STYLE.md 8).
	a := fedAlliance()
	a.Level = schema.LevelState
	a.Participants[0].Type = "robot"
	a.Normalize(program(t, "FED"))
	err := a.Validate(program(t, "FED"))
	for _, field := range []string{"level: ", "participants[0].type: "} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("error %v does not name %s", err, field)
		}
	}
}

func TestAllianceJSON(t *testing.T) {
	tests := []struct {
		name        string
		in          *schema.Alliance
		wantKeys    []string
		wantAbsent  []string
		wantSigned  string
		wantExpires string
	}{
		{
			// A draft has no signing date yet: the key is absent, not "".
			name:       "draft omits zero dates",
			in:         &schema.Alliance{ID: "MI-x", Program: "MI", Level: schema.LevelState, Status: schema.StatusDraft, TermMonths: 36},
			wantKeys:   []string{"id", "program", "level", "participants", "goals", "term_months", "status"},
			wantAbsent: []string{"rev", "signed_on", "expires_on", "renewals", "termination", "office", "emphasis_areas"},
		},
		{
			name: "partial dates keep their precision",
			in: &schema.Alliance{ID: "NV-x", Program: "NV", Level: schema.LevelState, Status: schema.StatusActive, TermMonths: 24,
				SignedOn: schema.MustDate("2022-09"), ExpiresOn: schema.MustDate("2024-09")},
			wantKeys:    []string{"signed_on", "expires_on"},
			wantSigned:  "2022-09",
			wantExpires: "2024-09",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			for _, k := range tt.wantKeys {
				if _, ok := m[k]; !ok {
					t.Errorf("key %q missing from %s", k, b)
				}
			}
			for _, k := range tt.wantAbsent {
				if _, ok := m[k]; ok {
					t.Errorf("key %q present in %s", k, b)
				}
			}
			if tt.wantSigned != "" && m["signed_on"] != tt.wantSigned {
				t.Errorf("signed_on %v, want %s", m["signed_on"], tt.wantSigned)
			}
			if tt.wantExpires != "" && m["expires_on"] != tt.wantExpires {
				t.Errorf("expires_on %v, want %s", m["expires_on"], tt.wantExpires)
			}
			var back schema.Alliance
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.in, &back); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParticipantContactOmitzero(t *testing.T) {
	b, err := json.Marshal(schema.Participant{Name: "ASSP"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"name":"ASSP"}`; got != want {
		t.Errorf("Marshal = %s, want %s", got, want)
	}
}
