package schema_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

func csvProgram(t *testing.T, code string) *schema.Program {
	t.Helper()
	cat, err := schema.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	p, ok := cat.Get(code)
	if !ok {
		t.Fatalf("no program %s", code)
	}
	return p
}

func TestParseCSVHeader(t *testing.T) {
	tests := []struct {
		name       string
		cells      []string
		allowExtra bool
		wantErr    error
		wantText   []string // in the error
	}{
		{name: "required only", cells: []string{"participant", "signed_on"}},
		{name: "any order, case and spaces", cells: []string{" Signed_On ", "GOAL_CATEGORIES", "Participant"}},
		{name: "every column", cells: schema.CSVColumns},
		{name: "no known column", cells: []string{"Acme Corp", "2024-05-01"}, wantErr: schema.ErrCSVNoHeader, wantText: []string{"participant and signed_on"}},
		{name: "cells separated by semicolons", cells: []string{"participant;signed_on"}, wantErr: schema.ErrCSVNoHeader, wantText: []string{`separated by ";"`}},
		{name: "no known column, even with allow-extra", cells: []string{"a", "b"}, allowExtra: true, wantErr: schema.ErrCSVNoHeader},
		{name: "unknown column", cells: []string{"participant", "signed_on", "colour", ""}, wantErr: schema.ErrCSVUnknownColumn,
			wantText: []string{`"colour" (column 3)`, `"" (column 4)`, "--allow-extra"}},
		{name: "unknown column allowed", cells: []string{"participant", "colour", "signed_on"}, allowExtra: true},
		{name: "missing signed_on", cells: []string{"participant", "office"}, wantErr: schema.ErrCSVMissingColumn, wantText: []string{`"signed_on"`}},
		{name: "missing participant", cells: []string{"signed_on"}, wantErr: schema.ErrCSVMissingColumn, wantText: []string{`"participant"`}},
		{name: "repeated column", cells: []string{"participant", "signed_on", "PARTICIPANT"}, allowExtra: true, wantErr: schema.ErrCSVDuplicateColumn,
			wantText: []string{`"participant"`, "columns 1 and 3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := schema.ParseCSVHeader(tt.cells, tt.allowExtra)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			for _, s := range tt.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
}

// csvAlliance reads one row under a header and normalizes it, as an import does.
func csvAlliance(t *testing.T, p *schema.Program, header string, row ...string) (*schema.Alliance, []schema.FieldError) {
	t.Helper()
	h, err := schema.ParseCSVHeader(strings.Split(header, ","), false)
	if err != nil {
		t.Fatal(err)
	}
	a, errs := h.Alliance(row, p)
	a.Normalize(p)
	return a, errs
}

func TestCSVAlliance(t *testing.T) {
	mi := csvProgram(t, "MI")
	const header = "participant,participant_type,signed_on,status,renewals,goal_categories,emphasis_areas,notice_on,termination_reason,term_months"
	tests := []struct {
		name     string
		row      []string
		want     func(a *schema.Alliance) bool
		wantErrs []string // fields
	}{
		{name: "several participants, one type for all",
			row: []string{"A; B ;", "Association", "2024-05-01", "", "", "outreach-communication", "", "", "", ""},
			want: func(a *schema.Alliance) bool {
				return cmp.Equal(a.Participants, []schema.Participant{{Name: "A", Type: "association"}, {Name: "B", Type: "association"}})
			}},
		{name: "one type per participant",
			row: []string{"A;B", "union; ", "2024-05-01", "", "", "outreach-communication", "", "", "", ""},
			want: func(a *schema.Alliance) bool {
				return cmp.Equal(a.Participants, []schema.Participant{{Name: "A", Type: "union"}, {Name: "B"}})
			}},
		{name: "types do not match participants",
			row:      []string{"A;B;C", "union;union", "2024-05-01", "", "", "outreach-communication", "", "", "", ""},
			wantErrs: []string{"participant_type"}},
		// Dates keep the precision the source knew (DOMAIN.md, "Real data is messy").
		{name: "partial dates and renewals with and without a term",
			row: []string{"A", "", "2019", "", "2021-06:36; 2024-06-12", "outreach-communication", "", "", "", ""},
			want: func(a *schema.Alliance) bool {
				return a.SignedOn.String() == "2019" && a.Status == schema.StatusRenewed && cmp.Equal(a.Renewals, []schema.Renewal{
					{SignedOn: schema.MustDate("2021-06"), TermMonths: 36}, {SignedOn: schema.MustDate("2024-06-12"), TermMonths: 60}}) &&
					a.ExpiresOn.String() == "2029-06-12"
			}},
		{name: "labels become codes",
			row: []string{"A", "", "2024-05-01", "", "", "outreach and communication;TRAINING AND EDUCATION", "Falls; Silica", "", "", ""},
			want: func(a *schema.Alliance) bool {
				return cmp.Equal(a.Goals, []schema.Goal{{Category: "outreach-communication"}, {Category: "training-education"}}) &&
					slices.Equal(a.EmphasisAreas, []string{"Falls", "Silica"})
			}},
		// Termination takes effect 30 days after notice (seed 001; CSP 04-01-001 XIV).
		{name: "notice_on builds a termination",
			row: []string{"A", "", "2022-01-10", "", "", "outreach-communication", "", "2024-03-01", "Strategic direction", ""},
			want: func(a *schema.Alliance) bool {
				return a.Status == schema.StatusTerminated && a.Termination != nil &&
					a.Termination.EffectiveOn.String() == "2024-03-31" && a.Termination.Reason == "Strategic direction"
			}},
		{name: "a reason without notice", row: []string{"A", "", "2022-01-10", "", "", "", "", "", "Strategic direction", ""}, wantErrs: []string{"termination_reason"}},
		{name: "empty status and date: not a silent draft", row: []string{"A", "", "", "", "", "", "", "", "", ""}, wantErrs: []string{"signed_on"}},
		{name: "an explicit draft", row: []string{"A", "", "", "Draft", "", "", "", "", "", ""},
			want: func(a *schema.Alliance) bool { return a.Status == schema.StatusDraft }},
		{name: "term and renewal months not numbers", row: []string{"A", "", "2024-05-01", "", "2025-01:five", "", "", "", "", "two"},
			wantErrs: []string{"renewals", "term_months"}},
		// A bad date is left for Validate, which names it with the other fields.
		{name: "a bad date is kept", row: []string{"A", "", "05/01/2024", "", "", "", "", "", "", ""},
			want: func(a *schema.Alliance) bool {
				return a.SignedOn.Invalid() != nil && a.SignedOn.String() == "05/01/2024"
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, errs := csvAlliance(t, mi, header, tt.row...)
			var fields []string
			for _, e := range errs {
				fields = append(fields, e.Field)
			}
			if diff := cmp.Diff(tt.wantErrs, fields); diff != "" {
				t.Errorf("failing fields (-want +got):\n%s\n%v", diff, errs)
			}
			if tt.want != nil && !tt.want(a) {
				t.Errorf("read as %+v", a)
			}
		})
	}
}

// TestCSVRowRoundTrip: a row written by CSVRow reads back as the same row, including
// cells a spreadsheet would run as formulas, which are defused with an apostrophe.
func TestCSVRowRoundTrip(t *testing.T) {
	fed := csvProgram(t, "FED")
	a := &schema.Alliance{
		ID:            "FED-0123456789abcdef",
		Level:         schema.LevelRegional,
		Office:        "-Region 5",
		Participants:  []schema.Participant{{Name: "=SUM(A1)", Type: "association"}, {Name: "'=already quoted"}, {Name: "'plain apostrophe", Type: "union"}},
		Goals:         []schema.Goal{{Category: "outreach"}, {Category: "training"}},
		EmphasisAreas: []string{"@risk", "+plus"},
		SignedOn:      schema.MustDate("2019-05"),
		Status:        schema.StatusRenewed,
		Renewals:      []schema.Renewal{{SignedOn: schema.MustDate("2021-05-02"), TermMonths: 60}, {SignedOn: schema.MustDate("2026"), TermMonths: 36}},
	}
	a.Normalize(fed)
	row := schema.CSVRow(a, fed)
	want := []string{"FED-0123456789abcdef", "=SUM(A1); '=already quoted; 'plain apostrophe", "association; ; union", "regional", "-Region 5",
		"2019-05", "24", "renewed", "2021-05-02; 2026:36", "outreach; training", "@risk; +plus", "", "", "", ""}
	for i, c := range []int{1, 4, 10} {
		want[c] = []string{"'", "'", "'"}[i] + want[c]
	}
	if diff := cmp.Diff(want, row); diff != "" {
		t.Fatalf("row (-want +got):\n%s", diff)
	}
	h, err := schema.ParseCSVHeader(schema.CSVColumns, false)
	if err != nil {
		t.Fatal(err)
	}
	back, errs := h.Alliance(row, fed)
	back.Normalize(fed)
	if errs != nil {
		t.Fatalf("errors %v", errs)
	}
	if diff := cmp.Diff(a, back); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
	// A cell only the apostrophe sets apart keeps it: "'=x" is written "''=x".
	if got := schema.CSVRow(&schema.Alliance{Participants: []schema.Participant{{Name: "'=x"}}}, fed)[1]; got != "''=x" {
		t.Errorf("'=x written as %q", got)
	}
}

// TestCSVFieldErrors: Validate's fields are named by the columns they come from.
func TestCSVFieldErrors(t *testing.T) {
	mi := csvProgram(t, "MI")
	a, _ := csvAlliance(t, mi, "participant,participant_type,signed_on,goal_categories,renewals,emphasis_areas,notice_on,level",
		"A;", "nonsense", "2024-05-01", "x; training-education", "2023-01", "", "2024-13", "national")
	var ve *schema.ValidationError
	if !errors.As(a.Validate(mi), &ve) {
		t.Fatal("valid")
	}
	got := schema.CSVFieldErrors(a, ve.Fields)
	var fields []string
	for _, f := range got {
		fields = append(fields, f.Field)
	}
	want := []string{"level", "participant_type", "goal_categories", "goal_categories", "renewals", "notice_on"}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s\n%v", diff, got)
	}
	if m := got[2].Message; !strings.HasPrefix(m, `item 1: "x" is not a goal category of program MI`) {
		t.Errorf("category message %q; want the item named", m)
	}
	if m := got[1].Message; strings.HasPrefix(m, "item") {
		t.Errorf("a one-item cell needs no item number: %q", m)
	}
	// Fields no column holds keep the Alliance's names.
	other := []schema.FieldError{{Field: "expires_on", Message: "m"}, {Field: "participants[0].contact.email", Message: "m"}, {Field: "record", Message: "m"}}
	if diff := cmp.Diff(other, schema.CSVFieldErrors(a, other)); diff != "" {
		t.Errorf("fields without a column (-want +got):\n%s", diff)
	}
}

func TestDuplicateKey(t *testing.T) {
	key := func(name, signed string) string {
		a := &schema.Alliance{Participants: []schema.Participant{{Name: name}, {Name: "Someone Else"}}}
		if signed != "" {
			a.SignedOn = schema.MustDate(signed)
		}
		return schema.DuplicateKey(a)
	}
	same := [][2]string{
		{"Associated General Contractors, Inc.", "associated  general contractors inc"},
		{"A.S.S.E.", "ASSE"},
		{"MIOSHA’s Partner", "MIOSHA's partner"},
	}
	for _, p := range same {
		if key(p[0], "2024-05-01") != key(p[1], "2024-05-01") {
			t.Errorf("%q and %q differ", p[0], p[1])
		}
	}
	if key("ASSE", "2024-05") == key("ASSE", "2024-05-01") {
		t.Error("dates of different precision are the same key")
	}
	if key("ASSE", "2024-05-01") == key("ASSP", "2024-05-01") {
		t.Error("different names are the same key")
	}
}

// TestCSVDerivedStatusConcludedAmbassador: a row with ambassador_on and concluded_on and
// no status is an Ambassador relationship that ended (seed 001: it lasts as long as the
// cooperation does), concluded; with ambassador_on alone it is an Ambassador.
func TestCSVDerivedStatusConcludedAmbassador(t *testing.T) {
	fed := csvProgram(t, "FED")
	const header = "participant,level,signed_on,renewals,ambassador_on,concluded_on,goal_categories"
	tests := []struct {
		name       string
		concluded  string
		wantStatus schema.Status
	}{
		{"ambassador_on only", "", schema.StatusAmbassador},
		{"ambassador_on and concluded_on", "2027-01-15", schema.StatusConcluded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, errs := csvAlliance(t, fed, header, "A", "national", "2018-03-01", "2020-03-01", "2025-03-02", tt.concluded, "outreach")
			if errs != nil {
				t.Fatalf("errors %v", errs)
			}
			if a.Status != tt.wantStatus || a.AmbassadorOn.String() != "2025-03-02" || a.ConcludedOn.String() != tt.concluded {
				t.Errorf("read as status %s, ambassador_on %s, concluded_on %s", a.Status, a.AmbassadorOn, a.ConcludedOn)
			}
			if err := a.Validate(fed); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}
