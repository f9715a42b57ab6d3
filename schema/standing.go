package schema

// Standing is where an Alliance stands on a given date, derived from its recorded status
// and dates (CONTRACT.md, roster).
type Standing string

// Standings.
const (
	StandingDraft      Standing = "draft"
	StandingActive     Standing = "active"
	StandingExpiring   Standing = "expiring"
	StandingExpired    Standing = "expired"
	StandingConcluded  Standing = "concluded"
	StandingTerminated Standing = "terminated"
	StandingAmbassador Standing = "ambassador"
)

// Valid reports whether s is a standing.
func (s Standing) Valid() bool {
	switch s {
	case StandingDraft, StandingActive, StandingExpiring, StandingExpired, StandingConcluded, StandingTerminated, StandingAmbassador:
		return true
	}
	return false
}

// ExpiringWindowDays: an Alliance whose term ends within this many days is "expiring"
// (CONTRACT.md).
const ExpiringWindowDays = 90

// Standing computes where the Alliance stands on asOf. A partial expiry date counts to
// the end of the month or year it names, so an Alliance is never shown expired early.
func (a *Alliance) Standing(asOf Date) Standing {
	day := asOf.First()
	if a.Status == StatusDraft {
		return StandingDraft
	}
	// Before its signing an Alliance is not yet in force ("in effect for two years from
	// the date of signing": the agreement template, seed 003 Appendix): as of such a day
	// it was at most being drafted. A signing date known to the month or year counts
	// from its first day.
	if s := a.SignedOn; !s.IsZero() && s.First().After(day) {
		return StandingDraft
	}
	switch a.Status {
	case StatusConcluded:
		// Concluded from its recorded day; until then the term runs on, or, for an
		// Ambassador relationship that ended (seed 001), the relationship did.
		if c := a.ConcludedOn; c.IsZero() || !c.Last().After(day) {
			return StandingConcluded
		}
		if d := a.AmbassadorOn; !d.IsZero() && !d.First().After(day) {
			return StandingAmbassador
		}
	case StatusAmbassador:
		// An Ambassador has no term to expire (seed 001).
		if d := a.AmbassadorOn; d.IsZero() || !d.First().After(day) {
			return StandingAmbassador
		}
	case StatusTerminated:
		// Termination takes effect 30 days after notice (seed 001); until then the
		// Alliance is still in force. A partial effective date counts to its last day.
		if t := a.Termination; t == nil || !t.EffectiveOn.Last().After(day) {
			return StandingTerminated
		}
	}
	if a.ExpiresOn.IsZero() {
		return StandingActive
	}
	end := a.ExpiresOn.Last()
	switch {
	case end.Before(day):
		return StandingExpired
	case !end.After(day.AddDate(0, 0, ExpiringWindowDays)):
		return StandingExpiring
	}
	return StandingActive
}
