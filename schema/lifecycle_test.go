package schema_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alliancehub/alliancehub/schema"
)

// ncdolRules is a definition with NCDOL's rules: two-year terms, renewable once (DOMAIN.md).
const ncdolRules = `{"code":"NC","name":"NCDOL","levels":["state"],"time_zone":"America/New_York",
 "default_term_months":24,"renewal_term_months":{"default":24,"min":24,"max":24},"max_renewals":1,
 "categories":[{"code":"training-education","label":"Training and Education","national":"training"}]}`

func lifecyclePrograms(t *testing.T) *schema.Catalog {
	t.Helper()
	f := filepath.Join(t.TempDir(), "nc.json")
	if err := os.WriteFile(f, []byte(ncdolRules), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := schema.LoadCatalog(f)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func signedAlliance(p *schema.Program, signed string) *schema.Alliance {
	a := &schema.Alliance{Participants: []schema.Participant{{Name: "A"}}, SignedOn: schema.MustDate(signed)}
	a.Goals = []schema.Goal{{Category: p.Categories[0].Code}}
	if p.Code == "FED" {
		a.Level = schema.LevelNational
	}
	a.Normalize(p)
	return a
}

func TestRenew(t *testing.T) {
	c := lifecyclePrograms(t)
	fed, _ := c.Get("FED")
	nc, _ := c.Get("NC")
	cases := []struct {
		name        string
		program     *schema.Program
		prior       []string // renewal dates already recorded
		status      schema.Status
		signed      string
		term        int
		wantExpires string
		wantFields  []string
	}{
		// Renewals typically run five years (seed 001): FED's default.
		{"default renewal term", fed, nil, "", "2026-01-10", 0, "2031-01-10", nil},
		// Two to five years at the office's discretion (seed 001).
		{"two years is allowed", fed, nil, "", "2026-01-10", 24, "2028-01-10", nil},
		{"one year is too short", fed, nil, "", "2026-01-10", 12, "", []string{"term_months"}},
		{"six years is too long", fed, nil, "", "2026-01-10", 72, "", []string{"term_months"}},
		{"before the agreement it renews", fed, []string{"2026-01-10"}, "", "2025-12-01", 0, "", []string{"signed_on"}},
		{"signing date required", fed, nil, "", "", 0, "", []string{"signed_on"}},
		{"a draft is not renewed", fed, nil, schema.StatusDraft, "2026-01-10", 0, "", []string{"status"}},
		{"a terminated Alliance is not renewed", fed, nil, schema.StatusTerminated, "2026-01-10", 0, "", []string{"status"}},
		// NCDOL: renewable once (DOMAIN.md, Lifecycle).
		{"NCDOL first renewal", nc, nil, "", "2026-01-10", 0, "2028-01-10", nil},
		{"NCDOL second renewal", nc, []string{"2026-01-10"}, "", "2028-01-05", 0, "", []string{"renewals"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := signedAlliance(tc.program, "2024-01-15")
			for _, d := range tc.prior {
				if err := a.Renew(tc.program, schema.MustDate(d), 0); err != nil {
					t.Fatal(err)
				}
			}
			if tc.status != "" {
				a.Status = tc.status
			}
			var signed schema.Date
			if tc.signed != "" {
				signed = schema.MustDate(tc.signed)
			}
			err := a.Renew(tc.program, signed, tc.term)
			if got := fieldsOf(t, err); strings.Join(got, ",") != strings.Join(tc.wantFields, ",") {
				t.Fatalf("Renew: fields %v (%v), want %v", got, err, tc.wantFields)
			}
			if err != nil {
				return
			}
			if a.Status != schema.StatusRenewed || a.ExpiresOn.String() != tc.wantExpires {
				t.Errorf("after Renew: status %s, expires %s; want renewed, %s", a.Status, a.ExpiresOn, tc.wantExpires)
			}
			if err := a.Validate(tc.program); err != nil {
				t.Errorf("a renewed Alliance does not validate: %v", err)
			}
		})
	}
}

func TestTerminate(t *testing.T) {
	c := lifecyclePrograms(t)
	nv, _ := c.Get("NV")
	cases := []struct {
		name          string
		status        schema.Status
		notice        string
		wantEffective string
		wantFields    []string
	}{
		// 30 days' written notice (seed 001; CSP 04-01-001 XIV).
		{"takes effect 30 days after notice", "", "2025-03-01", "2025-03-31", nil},
		{"notice required", "", "", "", []string{"notice_on"}},
		{"notice before signing", "", "2023-01-01", "", []string{"notice_on"}},
		{"a draft is withdrawn, not terminated", schema.StatusDraft, "2025-03-01", "", []string{"status"}},
		{"terminated only once", schema.StatusTerminated, "2025-03-01", "", []string{"status"}},
		{"an Ambassador is not terminated", schema.StatusAmbassador, "2025-03-01", "", []string{"status"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := signedAlliance(nv, "2024-01-15")
			if tc.status != "" {
				a.Status = tc.status
			}
			var notice schema.Date
			if tc.notice != "" {
				notice = schema.MustDate(tc.notice)
			}
			err := a.Terminate(notice, schema.TerminationReasons[0])
			if got := fieldsOf(t, err); strings.Join(got, ",") != strings.Join(tc.wantFields, ",") {
				t.Fatalf("Terminate: fields %v (%v), want %v", got, err, tc.wantFields)
			}
			if err != nil {
				return
			}
			if a.Status != schema.StatusTerminated || a.Termination.EffectiveOn.String() != tc.wantEffective {
				t.Errorf("after Terminate: %s, effective %s; want terminated, %s", a.Status, a.Termination.EffectiveOn, tc.wantEffective)
			}
			if err := a.Validate(nv); err != nil {
				t.Errorf("a terminated Alliance does not validate: %v", err)
			}
		})
	}
}

func TestCheckTransition(t *testing.T) {
	cases := []struct {
		from, to schema.Status
		ok       bool
	}{
		{schema.StatusDraft, schema.StatusActive, true},
		{schema.StatusActive, schema.StatusConcluded, false},   // POST .../conclude
		{schema.StatusRenewed, schema.StatusAmbassador, false}, // POST .../ambassador
		{schema.StatusAmbassador, schema.StatusActive, false},
		{schema.StatusActive, schema.StatusAmbassador, false},
		{schema.StatusActive, schema.StatusActive, true},
		{schema.StatusActive, schema.StatusDraft, false},
		{schema.StatusTerminated, schema.StatusActive, false},
		{schema.StatusConcluded, schema.StatusActive, false},
		{schema.StatusActive, schema.StatusRenewed, false},
		{schema.StatusActive, schema.StatusTerminated, false},
		// An Ambassador relationship ends by POST .../conclude (seed 001), not by an edit.
		{schema.StatusAmbassador, schema.StatusConcluded, false},
		{schema.StatusAmbassador, schema.StatusTerminated, false},
	}
	for _, tc := range cases {
		if err := schema.CheckTransition(tc.from, tc.to); (err == nil) != tc.ok {
			t.Errorf("%s -> %s: %v, want ok %v", tc.from, tc.to, err, tc.ok)
		}
	}
}

// fieldsOf is fieldNames that also takes nil (no failing field).
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	return fieldNames(t, err)
}
