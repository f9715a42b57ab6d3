package schema

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// TerminationReasons are the reasons the directive lists for OSHA to terminate an
// Alliance (CSP 04-01-001 XIV, seed 003); they "may include, but are not limited to"
// these, so a reason is free text and these are offered.
var TerminationReasons = []string{
	"Failure of the participant to fulfill responsibilities outlined in the workplan developed by the implementation team",
	"A change in the participant's strategic direction such that it appears to undermine the goals of the Alliance",
	"Evidence that the participant does not have the resources it purported to have when developing the Alliance",
}

// CheckTransition says whether a recorded status may change from one value to another by
// an edit. Renewal and termination have their own operations; a signed agreement never
// goes back to draft, and an ended one is not revived by an edit.
func CheckTransition(from, to Status) error {
	if from == to {
		return nil
	}
	switch {
	case to == StatusDraft:
		return fmt.Errorf("a signed Alliance cannot go back to draft")
	case from == StatusTerminated || from == StatusConcluded:
		return fmt.Errorf("a %s Alliance stays %s", from, from)
	case to == StatusRenewed:
		return fmt.Errorf("renew through POST /v1/alliances/{id}/renew")
	case to == StatusTerminated:
		return fmt.Errorf("terminate through POST /v1/alliances/{id}/terminate")
	case to == StatusConcluded:
		return fmt.Errorf("conclude through POST /v1/alliances/{id}/conclude")
	case to == StatusAmbassador:
		return fmt.Errorf("make it an Ambassador through POST /v1/alliances/{id}/ambassador")
	case from == StatusAmbassador:
		return fmt.Errorf("an Ambassador stays an Ambassador")
	}
	return nil
}

// Renew records a renewal agreement signed on signedOn for termMonths (0: the program's
// default). Renewals typically run five years, two to five at the office's discretion
// (seed 001); the bounds and any limit on the number of renewals (NCDOL: once) come from
// the program definition.
func (a *Alliance) Renew(p *Program, signedOn Date, termMonths int) error {
	var errs ValidationError
	if a.Status != StatusActive && a.Status != StatusRenewed {
		errs.Add("status", fmt.Sprintf("only an active or renewed Alliance can be renewed; this one is %s", a.Status))
	}
	if termMonths == 0 {
		termMonths = p.RenewalTermMonths.Default
	}
	if b := p.RenewalTermMonths; termMonths < b.Min || termMonths > b.Max {
		errs.Add("term_months", fmt.Sprintf("is %d; program %s renews for %d to %d months", termMonths, p.Code, b.Min, b.Max))
	}
	if p.MaxRenewals > 0 && len(a.Renewals) >= p.MaxRenewals {
		errs.Add("renewals", fmt.Sprintf("program %s allows %d renewal(s); this Alliance has %d", p.Code, p.MaxRenewals, len(a.Renewals)))
	}
	current := a.SignedOn
	if n := len(a.Renewals); n > 0 {
		current = a.Renewals[n-1].SignedOn
	}
	errs.checkDate("signed_on", signedOn)
	switch {
	case signedOn.IsZero():
		errs.Add("signed_on", "is required: the date the renewal agreement was signed")
	case signedOn.Invalid() == nil && !current.IsZero() && signedOn.Last().Before(current.First()):
		errs.Add("signed_on", fmt.Sprintf("%s is before the agreement it renews (%s)", signedOn, current))
	case termMonths >= 1 && termMonths <= maxTermMonths:
		// The renewal term's end becomes expires_on: a date a record may carry.
		errs.checkDerived("signed_on", signedOn, termMonths)
	}
	if err := errs.Err(); err != nil {
		return err
	}
	a.Renewals = append(slices.Clone(a.Renewals), Renewal{SignedOn: signedOn, TermMonths: termMonths})
	a.Status = StatusRenewed
	a.ExpiresOn = a.DerivedExpiry()
	return nil
}

// Terminate records written notice given on noticeOn; it takes effect 30 days later
// (seed 001; CSP 04-01-001 XIV). A draft was never signed: it is withdrawn, not
// terminated.
func (a *Alliance) Terminate(noticeOn Date, reason string) error {
	var errs ValidationError
	switch a.Status {
	case StatusDraft:
		errs.Add("status", "a draft was never signed; it cannot be terminated")
	case StatusTerminated, StatusConcluded:
		errs.Add("status", fmt.Sprintf("a %s Alliance cannot be terminated", a.Status))
	case StatusAmbassador:
		// The 30 days' notice ends an Alliance agreement (CSP 04-01-001 XIV); an
		// Ambassador relationship has none in effect, and ends by concluding (seed 001).
		errs.Add("status", "an Ambassador has no agreement in effect to terminate; end the relationship through POST /v1/alliances/{id}/conclude")
	}
	errs.checkDate("notice_on", noticeOn)
	if noticeOn.IsZero() {
		errs.Add("notice_on", "is required: the date written notice was given")
	} else if noticeOn.Invalid() == nil && !a.SignedOn.IsZero() && noticeOn.Last().Before(a.SignedOn.First()) {
		errs.Add("notice_on", fmt.Sprintf("%s is before the Alliance was signed (%s)", noticeOn, a.SignedOn))
	} else {
		// effective_on, 30 days on, is stored: a date a record may carry.
		errs.checkNotice("notice_on", noticeOn)
	}
	errs.checkText("reason", reason, maxTextLen)
	if err := errs.Err(); err != nil {
		return err
	}
	a.Termination = &Termination{NoticeOn: noticeOn, EffectiveOn: noticeOn.AddDays(TerminationNoticeDays), Reason: reason}
	a.Status = StatusTerminated
	return nil
}

// InForce is the span the agreement is in force: from signing to the end of its current
// term, or to the day a termination takes effect or the Alliance concluded, whichever
// comes first. A partial date counts to the last day it may mean. A draft has no span.
func (a *Alliance) InForce() Span {
	if a.Status == StatusDraft || a.SignedOn.IsZero() || a.SignedOn.Invalid() != nil {
		return Span{}
	}
	s := Span{From: anchorDay(a), Until: a.ExpiresOn.Last().AddDate(0, 0, 1)}
	if a.ExpiresOn.IsZero() {
		s.Until = s.From.AddDate(maxYear, 0, 0)
	}
	if t := a.Termination; t != nil && !t.EffectiveOn.IsZero() && t.EffectiveOn.Last().Before(s.Until) {
		s.Until = t.EffectiveOn.Last()
	}
	if c := a.ConcludedOn; a.Status == StatusConcluded && !c.IsZero() && c.Last().AddDate(0, 0, 1).Before(s.Until) {
		s.Until = c.Last().AddDate(0, 0, 1)
	}
	if s.Until.Before(s.From) {
		s.Until = s.From
	}
	return s
}

// anchorDay is the day an Alliance's anniversaries count from. A signing date known only
// to the month or year counts from its last day, so nothing falls due or overdue before
// it could.
func anchorDay(a *Alliance) time.Time { return a.SignedOn.Last() }

// AmbassadorEligibleOn is the first day the Alliance has completed its initial term and
// one renewal term (seed 001: "successfully completed at least one two-year initial
// Alliance and one renewal term"), or the zero time if it has no renewal. A term's end
// date (expires_on) is its last day in force (InForce runs through it), so the term is
// completed, and the Alliance eligible, from the day after the later of the two ends.
func (a *Alliance) AmbassadorEligibleOn() time.Time {
	if len(a.Renewals) == 0 || a.SignedOn.IsZero() {
		return time.Time{}
	}
	initial := a.SignedOn.AddMonths(a.TermMonths).Last()
	r := a.Renewals[0]
	renewal := r.SignedOn.AddMonths(r.TermMonths).Last()
	last := renewal
	if renewal.Before(initial) {
		last = initial
	}
	return last.AddDate(0, 0, 1)
}

// AmbassadorEligible says whether the Alliance may become an Ambassador on asOf: the
// program (and the signing office) offer the status, the Alliance is in force (active or
// renewed, not ending) and it has completed its initial term and one renewal (seed 001).
func (a *Alliance) AmbassadorEligible(p *Program, asOf Date) bool {
	if !p.OffersAmbassador(a.Office) || (a.Status != StatusActive && a.Status != StatusRenewed) {
		return false
	}
	on := a.AmbassadorEligibleOn()
	return !on.IsZero() && !asOf.First().Before(on)
}

// MakeAmbassador records that the Alliance became an Ambassador on on. Ambassadors have
// no reporting requirements (seed 001).
func (a *Alliance) MakeAmbassador(p *Program, on Date) error {
	var errs ValidationError
	errs.checkDate("on", on)
	switch {
	case on.IsZero():
		errs.Add("on", "is required: the date the Alliance became an Ambassador")
	case on.Invalid() == nil && on.Precision() != PrecisionDay:
		errs.Add("on", "must be a full date YYYY-MM-DD")
	}
	switch {
	case !p.OffersAmbassador(a.Office):
		errs.Add("status", fmt.Sprintf("program %s does not offer Ambassador status%s", p.Code, officeNote(p, a.Office)))
	case a.Status != StatusActive && a.Status != StatusRenewed:
		errs.Add("status", fmt.Sprintf("only an active or renewed Alliance can become an Ambassador; this one is %s", a.Status))
	case len(a.Renewals) == 0:
		errs.Add("renewals", "an Alliance becomes eligible after its initial term and one renewal (seed 001); it has not been renewed")
	case on.Invalid() == nil && on.Precision() == PrecisionDay && !a.AmbassadorEligible(p, on):
		errs.Add("on", fmt.Sprintf("the Alliance is eligible from %s, once its initial term and first renewal are completed (seed 001)", day(a.AmbassadorEligibleOn())))
	}
	if err := errs.Err(); err != nil {
		return err
	}
	a.Status = StatusAmbassador
	a.AmbassadorOn = on
	return nil
}

// Conclude records that the Alliance concluded on on (seed 001: concluded). Alliances
// "may be renewed or concluded at the end of each agreement cycle", and "OSHA may also
// conclude an Alliance at any time based on its evaluation" of them (seed 001): on
// defaults to the end of the term and may be earlier, from the signing on; ending with
// 30 days' written notice is Terminate (CSP 04-01-001 XIV). An Ambassador relationship
// remains in effect "for the duration of an ongoing cooperative relationship" (seed
// 001), so it can end too: it concludes on a date given (it has no term to default to),
// on or after ambassador_on, which the record keeps.
func (a *Alliance) Conclude(on Date) error {
	var errs ValidationError
	if on.IsZero() && a.Status != StatusAmbassador {
		on = a.ExpiresOn
	}
	errs.checkDate("concluded_on", on)
	switch a.Status {
	case StatusActive, StatusRenewed:
	case StatusAmbassador:
		if on.IsZero() {
			errs.Add("concluded_on", "is required: the day the Ambassador relationship ended")
		}
	case StatusDraft:
		errs.Add("status", "a draft was never signed; delete it instead")
	default:
		errs.Add("status", fmt.Sprintf("a %s Alliance cannot conclude", a.Status))
	}
	switch {
	case on.IsZero() || on.Invalid() != nil:
	case !on.inRange():
		// Only the derived default can be: the end of a term past the last date.
		errs.Add("concluded_on", fmt.Sprintf("%s is after %s, the last date a record may carry", on, latestDate))
	case !a.SignedOn.IsZero() && a.SignedOn.Invalid() == nil && on.Last().Before(a.SignedOn.First()):
		errs.Add("concluded_on", fmt.Sprintf("%s is before the Alliance was signed (%s)", on, a.SignedOn))
	case a.Status == StatusAmbassador && !a.AmbassadorOn.IsZero() && a.AmbassadorOn.Invalid() == nil && on.Last().Before(a.AmbassadorOn.First()):
		errs.Add("concluded_on", fmt.Sprintf("%s is before the Alliance became an Ambassador (%s)", on, a.AmbassadorOn))
	}
	if err := errs.Err(); err != nil {
		return err
	}
	a.Status = StatusConcluded
	a.ConcludedOn = on
	return nil
}

// Amend records an addendum signed on signedOn that adds and removes participants; the
// participant list becomes the current signatories and the addendum keeps the history
// (DOMAIN.md, Lifecycle: a State Plan or a chapter joins by addendum).
func (a *Alliance) Amend(signedOn Date, added []Participant, removed []string, note string) error {
	// The addendum keeps its own copies: the caller's slices are never changed or shared.
	added, removed = slices.Clone(added), slices.Clone(removed)
	var errs ValidationError
	switch a.Status {
	case StatusTerminated, StatusConcluded:
		errs.Add("status", fmt.Sprintf("a %s Alliance takes no addenda", a.Status))
	}
	have := map[string]int{}
	for i, pt := range a.Participants {
		have[strings.ToLower(pt.Name)] = i
	}
	drop := map[int]bool{}
	for i, name := range removed {
		name = strings.Join(strings.Fields(name), " ")
		removed[i] = name
		j, ok := have[strings.ToLower(name)]
		if !ok {
			errs.Add(fmt.Sprintf("removed[%d]", i), fmt.Sprintf("%q is not a participant", name))
			continue
		}
		drop[j] = true
	}
	next := []Participant{}
	for i, pt := range a.Participants {
		if !drop[i] {
			next = append(next, pt)
		}
	}
	adding := map[string]bool{}
	for i, pt := range added {
		pt.Name = strings.Join(strings.Fields(pt.Name), " ")
		pt.Type = strings.ToLower(strings.TrimSpace(pt.Type))
		added[i] = pt
		key := strings.ToLower(pt.Name)
		if j, ok := have[key]; ok && !drop[j] {
			errs.Add(fmt.Sprintf("added[%d].name", i), fmt.Sprintf("%q is already a participant", pt.Name))
		} else if adding[key] && key != "" {
			errs.Add(fmt.Sprintf("added[%d].name", i), fmt.Sprintf("%q is added twice", pt.Name))
		}
		adding[key] = true
		next = append(next, pt)
	}
	if len(next) == 0 {
		errs.Add("removed", "would leave the Alliance with no participant")
	}
	ad := Addendum{SignedOn: signedOn, Added: added, Removed: removed, Note: strings.TrimSpace(note)}
	var check ValidationError
	check.checkAddenda(&Alliance{SignedOn: a.SignedOn, Addenda: append(slices.Clone(a.Addenda), ad)})
	for _, f := range check.Fields {
		// Name fields as the request does: "signed_on", not "addenda[3].signed_on"; an
		// error about the addendum as a whole (it adds or removes no one) is "added".
		own := fmt.Sprintf("addenda[%d]", len(a.Addenda))
		if rest, ok := strings.CutPrefix(f.Field, own+"."); ok {
			f.Field = rest
		} else if f.Field == own {
			f.Field = "added"
		}
		errs.Fields = append(errs.Fields, f)
	}
	if err := errs.Err(); err != nil {
		return err
	}
	a.Participants = next
	a.Addenda = append(slices.Clone(a.Addenda), ad)
	return nil
}
