package schema_test

import (
	"strings"
	"testing"

	"github.com/alliancehub/alliancehub/schema"
)

func TestStanding(t *testing.T) {
	// alliance builds an Alliance with the given status and expiry date.
	alliance := func(status schema.Status, expires string) *schema.Alliance {
		a := &schema.Alliance{Status: status}
		if expires != "" {
			a.ExpiresOn = schema.MustDate(expires)
		}
		return a
	}
	terminated := func(effective, expires string) *schema.Alliance {
		a := alliance(schema.StatusTerminated, expires)
		a.Termination = &schema.Termination{EffectiveOn: schema.MustDate(effective)}
		return a
	}
	signed := func(on string, a *schema.Alliance) *schema.Alliance {
		a.SignedOn = schema.MustDate(on)
		return a
	}
	tests := []struct {
		name string
		in   *schema.Alliance
		asOf string
		want schema.Standing
	}{
		{name: "draft", in: alliance(schema.StatusDraft, ""), asOf: "2026-03-01", want: schema.StandingDraft},
		{name: "draft ignores an old expiry", in: alliance(schema.StatusDraft, "2020-01-01"), asOf: "2026-03-01", want: schema.StandingDraft},
		{name: "active well before expiry", in: alliance(schema.StatusActive, "2027-06-30"), asOf: "2026-03-01", want: schema.StandingActive},
		{name: "renewed counts as active", in: alliance(schema.StatusRenewed, "2030-01-01"), asOf: "2026-03-01", want: schema.StandingActive},
		{name: "active without expiry", in: alliance(schema.StatusActive, ""), asOf: "2026-03-01", want: schema.StandingActive},

		// Before the signing, not yet in force (seed 003: "from the date of signing"),
		// whatever the status says now; a partial signing date counts from its first day.
		{name: "the day before signing", in: signed("2026-03-02", alliance(schema.StatusActive, "2028-03-02")), asOf: "2026-03-01", want: schema.StandingDraft},
		{name: "on the day of signing", in: signed("2026-03-01", alliance(schema.StatusActive, "2028-03-01")), asOf: "2026-03-01", want: schema.StandingActive},
		{name: "terminated, before signing", in: signed("2026-03-02", terminated("2026-05-01", "2028-03-02")), asOf: "2026-01-15", want: schema.StandingDraft},
		{name: "signed in a month, its first day", in: signed("2026-03", alliance(schema.StatusActive, "2028-03")), asOf: "2026-03-01", want: schema.StandingActive},
		{name: "signed in a month, the day before it", in: signed("2026-03", alliance(schema.StatusActive, "2028-03")), asOf: "2026-02-28", want: schema.StandingDraft},
		{name: "signed in a year, the year before", in: signed("2026", alliance(schema.StatusActive, "2028")), asOf: "2025-12-31", want: schema.StandingDraft},

		// Expiring within 90 days (CONTRACT.md, roster).
		{name: "91 days before expiry", in: alliance(schema.StatusActive, "2026-06-30"), asOf: "2026-03-31", want: schema.StandingActive},
		{name: "90 days before expiry", in: alliance(schema.StatusActive, "2026-06-30"), asOf: "2026-04-01", want: schema.StandingExpiring},
		{name: "on the expiry date", in: alliance(schema.StatusActive, "2026-06-30"), asOf: "2026-06-30", want: schema.StandingExpiring},
		{name: "the day after expiry", in: alliance(schema.StatusActive, "2026-06-30"), asOf: "2026-07-01", want: schema.StandingExpired},
		{name: "renewed but lapsed", in: alliance(schema.StatusRenewed, "2020-01-01"), asOf: "2026-03-01", want: schema.StandingExpired},

		// A partial expiry date counts to the end of the month or year it names.
		{name: "month expiry, last day of the month", in: alliance(schema.StatusActive, "2026-06"), asOf: "2026-06-30", want: schema.StandingExpiring},
		{name: "month expiry, first day after", in: alliance(schema.StatusActive, "2026-06"), asOf: "2026-07-01", want: schema.StandingExpired},
		{name: "month expiry, 90 days before its end", in: alliance(schema.StatusActive, "2026-06"), asOf: "2026-04-01", want: schema.StandingExpiring},
		{name: "month expiry, 91 days before its end", in: alliance(schema.StatusActive, "2026-06"), asOf: "2026-03-31", want: schema.StandingActive},
		{name: "year expiry, 31 December", in: alliance(schema.StatusActive, "2026"), asOf: "2026-12-31", want: schema.StandingExpiring},
		{name: "year expiry, mid-year", in: alliance(schema.StatusActive, "2026"), asOf: "2026-06-30", want: schema.StandingActive},
		{name: "year expiry, next year", in: alliance(schema.StatusActive, "2026"), asOf: "2027-01-01", want: schema.StandingExpired},
		{name: "partial as-of date counts from its start", in: alliance(schema.StatusActive, "2026-06-30"), asOf: "2026-06", want: schema.StandingExpiring},

		// Recorded end states win over dates (seed 001: concluded, terminated,
		// Ambassador).
		{name: "concluded", in: alliance(schema.StatusConcluded, "2030-01-01"), asOf: "2026-03-01", want: schema.StandingConcluded},
		{name: "ambassador after its term", in: alliance(schema.StatusAmbassador, "2020-01-01"), asOf: "2026-03-01", want: schema.StandingAmbassador},
		{name: "terminated without a notice record", in: alliance(schema.StatusTerminated, "2030-01-01"), asOf: "2026-03-01", want: schema.StandingTerminated},

		// Termination takes effect 30 days after notice (seed 001; CSP 04-01-001
		// XIV): until then the Alliance is still in force.
		{name: "terminated, effective in the past", in: terminated("2026-02-01", "2030-01-01"), asOf: "2026-03-01", want: schema.StandingTerminated},
		{name: "terminated, effective today", in: terminated("2026-03-01", "2030-01-01"), asOf: "2026-03-01", want: schema.StandingTerminated},
		{name: "terminated, effective tomorrow", in: terminated("2026-03-02", "2030-01-01"), asOf: "2026-03-01", want: schema.StandingActive},
		{name: "terminated, effective later, term ends soon", in: terminated("2026-03-20", "2026-04-15"), asOf: "2026-03-01", want: schema.StandingExpiring},
		{name: "terminated, effective later, term already over", in: terminated("2026-03-20", "2026-02-15"), asOf: "2026-03-01", want: schema.StandingExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.Standing(schema.MustDate(tt.asOf)); got != tt.want {
				t.Errorf("Standing(%s) = %s, want %s", tt.asOf, got, tt.want)
			}
		})
	}
}

func TestStandingAfterNormalize(t *testing.T) {
	// End to end through Normalize: a MIOSHA three-year term (DOMAIN.md, Lifecycle) and
	// a termination 30 days after notice (seed 001; CSP 04-01-001 XIV).
	mi := program(t, "MI")
	a := miAlliance() // signed 2023-05-01, three years: expires 2026-05-01
	a.Normalize(mi)
	tests := []struct {
		name string
		asOf string
		want schema.Standing
	}{
		{name: "first year", asOf: "2024-01-01", want: schema.StandingActive},
		{name: "last quarter", asOf: "2026-03-01", want: schema.StandingExpiring},
		{name: "after the term", asOf: "2026-05-02", want: schema.StandingExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := a.Standing(schema.MustDate(tt.asOf)); got != tt.want {
				t.Errorf("Standing(%s) = %s, want %s", tt.asOf, got, tt.want)
			}
		})
	}

	b := miAlliance()
	b.Status = schema.StatusTerminated
	b.Termination = &schema.Termination{NoticeOn: schema.MustDate("2024-02-15")}
	b.Normalize(mi) // effective 2024-03-16
	for _, tt := range []struct {
		name string
		asOf string
		want schema.Standing
	}{
		{name: "during the notice period", asOf: "2024-03-15", want: schema.StandingActive},
		{name: "on the effective date", asOf: "2024-03-16", want: schema.StandingTerminated},
	} {
		t.Run("terminated "+tt.name, func(t *testing.T) {
			if got := b.Standing(schema.MustDate(tt.asOf)); got != tt.want {
				t.Errorf("Standing(%s) = %s, want %s", tt.asOf, got, tt.want)
			}
		})
	}
}

// TestTerminationFromNotice: a termination notice makes the Alliance terminated, in force
// until 30 days after notice (seed 001; CSP 04-01-001 XIV); with a notice known only to
// the month, it is never shown terminated before the last day it may take effect.
func TestTerminationFromNotice(t *testing.T) {
	c, err := schema.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	nv, _ := c.Get("NV")
	cases := []struct {
		name   string
		notice string
		asOf   string
		want   schema.Standing
	}{
		{"before the effective date", "2024-06-01", "2024-06-30", schema.StandingActive},
		{"on the effective date", "2024-06-01", "2024-07-01", schema.StandingTerminated},
		{"month notice, early in the next month", "2024-06", "2024-07-05", schema.StandingActive},
		{"month notice, after the month it takes effect in", "2024-06", "2024-08-01", schema.StandingTerminated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := &schema.Alliance{Participants: []schema.Participant{{Name: "A"}}, Goals: []schema.Goal{{Category: "safety-dialogue"}},
				SignedOn: schema.MustDate("2024-01-15"), Termination: &schema.Termination{NoticeOn: schema.MustDate(tc.notice)}}
			a.Normalize(nv)
			if a.Status != schema.StatusTerminated {
				t.Fatalf("status = %s, want terminated from the notice", a.Status)
			}
			if err := a.Validate(nv); err != nil {
				t.Fatal(err)
			}
			if got := a.Standing(schema.MustDate(tc.asOf)); got != tc.want {
				t.Errorf("Standing(%s) = %s, want %s", tc.asOf, got, tc.want)
			}
		})
	}
	a := &schema.Alliance{Program: "NV", Level: schema.LevelState, Status: schema.StatusActive, Participants: []schema.Participant{{Name: "A"}},
		Goals: []schema.Goal{{Category: "safety-dialogue"}}, SignedOn: schema.MustDate("2024-01-15"), TermMonths: 24,
		Termination: &schema.Termination{NoticeOn: schema.MustDate("2024-06-01"), EffectiveOn: schema.MustDate("2024-07-01")}}
	a.ExpiresOn = a.DerivedExpiry()
	if err := a.Validate(nv); err == nil || !strings.Contains(err.Error(), "status") {
		t.Errorf("active with a termination notice: %v, want a status error", err)
	}
}
