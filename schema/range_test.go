package schema_test

import (
	"encoding/json"
	"testing"

	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

// TestDerivedDatesInRange: a record's derived dates (expires_on from signed_on and
// term_months or the last renewal, a termination's effective_on 30 days after notice,
// concluded_on defaulting to the end of the term) must be dates a record may carry
// (1970 to 2200), or the hub could not parse the record back and the node's sync would
// stall on it. Validation refuses such a record and names the field to fix; at the
// boundary, a term ending on 2200-12-31 is accepted and one a day later refused.
func TestDerivedDatesInRange(t *testing.T) {
	fed := program(t, "FED")
	signed := func(on string, months int) func() *schema.Alliance {
		return func() *schema.Alliance {
			a := fedAlliance()
			a.SignedOn, a.TermMonths = schema.MustDate(on), months
			return a
		}
	}
	renewed := func(on string, months int) func() *schema.Alliance {
		return func() *schema.Alliance {
			a := fedAlliance()
			a.Status = schema.StatusRenewed
			a.Renewals = []schema.Renewal{{SignedOn: schema.MustDate(on), TermMonths: months}}
			return a
		}
	}
	terminated := func(notice string) func() *schema.Alliance {
		return func() *schema.Alliance {
			a := fedAlliance()
			a.SignedOn = schema.MustDate("2199-01-01")
			a.TermMonths = 12
			a.Status = schema.StatusTerminated
			a.Termination = &schema.Termination{NoticeOn: schema.MustDate(notice)}
			return a
		}
	}
	tests := []struct {
		name       string
		in         func() *schema.Alliance
		wantFields []string
		wantEnd    string // expires_on when accepted
	}{
		{"initial term ends on the last date", signed("2198-12-31", 24), nil, "2200-12-31"},
		{"initial term ends a day later", signed("2199-01-01", 24), []string{"signed_on"}, ""},
		{"longest term ends on the last date", signed("2190-12-31", 120), nil, "2200-12-31"},
		{"longest term from the last year", signed("2200-01-01", 120), []string{"signed_on"}, ""},
		{"year-only signing ends in the last year", signed("2198", 24), nil, "2200"},
		{"year-only signing ends after it", signed("2199", 24), []string{"signed_on"}, ""},
		{"month-only signing ends in the last month", signed("2198-12", 24), nil, "2200-12"},
		{"month-only signing ends after it", signed("2199-01", 24), []string{"signed_on"}, ""},
		{"renewal ends on the last date", renewed("2195-12-31", 60), nil, "2200-12-31"},
		{"renewal ends a day later", renewed("2196-01-01", 60), []string{"renewals[0].signed_on"}, ""},
		{"notice within the term", terminated("2199-12-01"), nil, "2200-01-01"},
		{"notice 30 days before the last date", terminated("2200-12-01"), nil, "2200-01-01"},
		{"notice 29 days before the last date", terminated("2200-12-02"), []string{"termination.notice_on"}, ""},
		{"month-only notice in the last month", terminated("2200-12"), []string{"termination.notice_on"}, ""},
		// concluded_on defaults to the end of the term: both are named.
		{"concluded at the end of a term past the last date", func() *schema.Alliance {
			a := signed("2199-06-01", 24)()
			a.Status = schema.StatusConcluded
			return a
		}, []string{"signed_on", "concluded_on"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := normalized(t, fed, tt.in())
			err := a.Validate(fed)
			if diff := cmp.Diff(tt.wantFields, fieldsOf(t, err)); diff != "" {
				t.Fatalf("failing fields (-want +got):\n%s\n%v", diff, err)
			}
			if err != nil {
				return
			}
			if a.ExpiresOn.String() != tt.wantEnd {
				t.Errorf("expires_on %s, want %s", a.ExpiresOn, tt.wantEnd)
			}
			// What validation accepts, the hub can read back: the record as synced
			// decodes to valid dates and validates again.
			body, err := json.Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			var back schema.Alliance
			if err := json.Unmarshal(body, &back); err != nil {
				t.Fatal(err)
			}
			if err := back.Validate(fed); err != nil {
				t.Errorf("the record read back does not validate: %v\n%s", err, body)
			}
		})
	}
}

// TestLifecycleDatesInRange: the lifecycle operations refuse what would derive a date
// past the last one a record may carry, naming the request's field.
func TestLifecycleDatesInRange(t *testing.T) {
	fed := program(t, "FED")
	t.Run("renewal", func(t *testing.T) {
		a := normalized(t, fed, fedAlliance())
		if diff := cmp.Diff([]string{"signed_on"}, fieldsOf(t, a.Renew(fed, schema.MustDate("2196-01-01"), 60))); diff != "" {
			t.Errorf("renewal ending 2201-01-01 (-want +got):\n%s", diff)
		}
		if a.Status != schema.StatusActive || len(a.Renewals) != 0 {
			t.Errorf("a refused renewal changed the record: %s, %d renewals", a.Status, len(a.Renewals))
		}
		mustOK(t, a.Renew(fed, schema.MustDate("2195-12-31"), 60))
		if a.ExpiresOn.String() != "2200-12-31" {
			t.Errorf("expires_on %s, want 2200-12-31", a.ExpiresOn)
		}
	})
	t.Run("termination", func(t *testing.T) {
		a := normalized(t, fed, fedAlliance())
		if diff := cmp.Diff([]string{"notice_on"}, fieldsOf(t, a.Terminate(schema.MustDate("2200-12-02"), ""))); diff != "" {
			t.Errorf("notice taking effect 2201-01-01 (-want +got):\n%s", diff)
		}
		mustOK(t, a.Terminate(schema.MustDate("2200-12-01"), ""))
		if a.Termination.EffectiveOn.String() != "2200-12-31" {
			t.Errorf("effective_on %s, want 2200-12-31", a.Termination.EffectiveOn)
		}
	})
	t.Run("conclusion at the end of a term past the last date", func(t *testing.T) {
		a := fedAlliance()
		a.SignedOn = schema.MustDate("2199-06-01")
		a = normalized(t, fed, a) // refused by Validate; as a record made before the rule
		if diff := cmp.Diff([]string{"concluded_on"}, fieldsOf(t, a.Conclude(schema.Date{}))); diff != "" {
			t.Errorf("conclusion on 2201-06-01 (-want +got):\n%s", diff)
		}
	})
}
