package schema

import (
	"fmt"
	"slices"
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
	case StatusTerminated, StatusConcluded, StatusAmbassador:
		errs.Add("status", fmt.Sprintf("a %s Alliance cannot be terminated", a.Status))
	}
	errs.checkDate("notice_on", noticeOn)
	if noticeOn.IsZero() {
		errs.Add("notice_on", "is required: the date written notice was given")
	} else if noticeOn.Invalid() == nil && !a.SignedOn.IsZero() && noticeOn.Last().Before(a.SignedOn.First()) {
		errs.Add("notice_on", fmt.Sprintf("%s is before the Alliance was signed (%s)", noticeOn, a.SignedOn))
	}
	errs.checkText("reason", reason, maxTextLen)
	if err := errs.Err(); err != nil {
		return err
	}
	a.Termination = &Termination{NoticeOn: noticeOn, EffectiveOn: noticeOn.AddDays(TerminationNoticeDays), Reason: reason}
	a.Status = StatusTerminated
	return nil
}
