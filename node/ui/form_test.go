package ui

import (
	"net/url"
	"strings"
	"testing"

	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

func testUI(t *testing.T, code string) *ui {
	t.Helper()
	cat, err := schema.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	p, ok := cat.Get(code)
	if !ok {
		t.Fatalf("no program %s", code)
	}
	return &ui{cfg: Config{Program: p}}
}

// TestFormBody: blank rows are left out, numbers are numbers, lines are lists, nested
// keys nest; errors come back to the row they were typed in.
func TestFormBody(t *testing.T) {
	u := testUI(t, "FED")
	f := u.allianceForm(false)
	f.Read(url.Values{
		"level":            {"national"},
		"signed_on":        {"2026-13-02"},
		"term_months":      {"24"},
		"p0.name":          {""},
		"p0.type":          {""},
		"p1.name":          {"National Utility Contractors Association"},
		"p1.type":          {"chamber"},
		"p1.contact.name":  {"Pat Doe"},
		"p1.contact.email": {"pat@"},
		"p2.name":          {"NUCA Region 1"},
		"g0.category":      {"outreach"},
		"g0.description":   {""},
		"emphasis_areas":   {"Trenching\n\n  Excavation  \n"},
	})
	body, ok := f.Body()
	if !ok {
		t.Fatalf("body refused: %+v", f.Errors)
	}
	want := map[string]any{
		"level": "national", "signed_on": "2026-13-02", "term_months": 24,
		"participants": []any{
			map[string]any{"name": "National Utility Contractors Association", "type": "chamber", "contact": map[string]any{"name": "Pat Doe", "email": "pat@"}},
			map[string]any{"name": "NUCA Region 1"},
		},
		"goals":          []any{map[string]any{"category": "outreach"}},
		"emphasis_areas": []string{"Trenching", "Excavation"},
	}
	if d := cmp.Diff(want, body); d != "" {
		t.Errorf("body (-want +got):\n%s", d)
	}

	// The API names the body's participants[0]: the form's second row.
	f.Apply([]schema.FieldError{
		{Field: "signed_on", Message: `"2026-13-02": month must be 01 to 12`},
		{Field: "participants[0].type", Message: `"chamber" is not a participant type`},
		{Field: "participants[0].contact.email", Message: "is not an e-mail address"},
		{Field: "participants[5].name", Message: "out of range"},
		{Field: "goals", Message: "needs an outreach goal"},
		{Field: "emphasis_areas[1]", Message: "too long"},
		{Field: "renewals[0].signed_on", Message: "not shown on this form"},
	})
	got := map[string]string{}
	f.fields(func(fl *Field) {
		if fl.Error != "" {
			got[fl.Name] = fl.Error
		}
	})
	wantErrs := map[string]string{
		"signed_on":        `"2026-13-02": month must be 01 to 12`,
		"p1.type":          `"chamber" is not a participant type`,
		"p1.contact.email": "is not an e-mail address",
		"emphasis_areas":   "line 2: too long",
	}
	if d := cmp.Diff(wantErrs, got); d != "" {
		t.Errorf("errors on inputs (-want +got):\n%s", d)
	}
	if s := f.Sections[2]; s.Error != "needs an outreach goal" {
		t.Errorf("goals section error = %q", s.Error)
	}
	if s := f.Sections[1]; !strings.Contains(s.Error, "participant 6: out of range") {
		t.Errorf("participants section error = %q", s.Error)
	}
	var summary []string
	for _, e := range f.Errors {
		summary = append(summary, e.Label+"|"+e.Anchor)
	}
	wantSummary := []string{
		"renewals[0].signed_on|",
		"Signed on|f-signed-on",
		"Participants|",
		"Participant 2, type|f-p1-type",
		"Participant 2, contact e-mail|f-p1-contact-email",
		"Goals|",
		"Emphasis areas|f-emphasis-areas",
	}
	if d := cmp.Diff(wantSummary, summary); d != "" {
		t.Errorf("summary (-want +got):\n%s", d)
	}
}

// TestFormNumbers: a number the form cannot read is named before anything is sent.
func TestFormNumbers(t *testing.T) {
	f := testUI(t, "MI").reportForm("")
	f.Read(url.Values{"period": {"2026-Q3"}, "a0.type": {"Training"}, "a0.reached": {"many"}})
	if _, ok := f.Body(); ok {
		t.Fatal("a reached count of \"many\" was sent")
	}
	if len(f.Errors) != 1 || f.Errors[0].Anchor != "f-a0-reached" || f.Errors[0].Message != "must be a whole number" {
		t.Errorf("errors = %+v", f.Errors)
	}
}

// TestFormFill: a record read back fills the form, lists as rows and lines.
func TestFormFill(t *testing.T) {
	f := testUI(t, "MI").allianceForm(true)
	f.Fill(map[string]any{
		"status": "active", "signed_on": "2024-05", "term_months": float64(36), "office": "CSHD",
		"participants":   []any{map[string]any{"name": "AGC of Michigan", "contact": map[string]any{"phone": "517-555-0100"}}},
		"goals":          []any{map[string]any{"category": "outreach-communication", "description": "Falls"}},
		"emphasis_areas": []any{"Falls", "Silica"},
	})
	got := map[string]string{}
	f.fields(func(fl *Field) {
		if fl.Value != "" {
			got[fl.Name] = fl.Value
		}
	})
	want := map[string]string{
		"status": "active", "signed_on": "2024-05", "term_months": "36", "office": "CSHD",
		"p0.name": "AGC of Michigan", "p0.contact.phone": "517-555-0100",
		"g0.category": "outreach-communication", "g0.description": "Falls",
		"emphasis_areas": "Falls\nSilica",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("filled values (-want +got):\n%s", d)
	}
	for _, o := range f.Sections[0].Fields[1].Options {
		if o.Selected != (o.Value == "active") {
			t.Errorf("status option %q selected=%v", o.Value, o.Selected)
		}
	}
}

// TestParticipantTypes: every type the form offers is one schema accepts.
func TestParticipantTypes(t *testing.T) {
	u := testUI(t, "MI")
	for _, typ := range participantTypes {
		a := schema.Alliance{
			Participants: []schema.Participant{{Name: "X", Type: typ}},
			Goals:        []schema.Goal{{Category: "outreach-communication"}},
			SignedOn:     schema.MustDate("2025-01-01"),
		}
		a.Normalize(u.cfg.Program)
		if err := a.Validate(u.cfg.Program); err != nil {
			t.Errorf("type %q: %v", typ, err)
		}
	}
}
