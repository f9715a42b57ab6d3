package schema

import (
	"fmt"
	"net/mail"
	"slices"
	"strings"
)

// Level is the office level that signed an Alliance.
type Level string

// Levels: federal OSHA signs at the national, regional or area office level (seed 001;
// CSP 04-01-001 VIII, seed 003); a State Plan signs at the state level.
const (
	LevelNational Level = "national"
	LevelRegional Level = "regional"
	LevelArea     Level = "area"
	LevelState    Level = "state"
)

func (l Level) valid() bool {
	switch l {
	case LevelNational, LevelRegional, LevelArea, LevelState:
		return true
	}
	return false
}

// Status is the recorded lifecycle state of an Alliance (seed 001: draft, signed,
// renewed, concluded or terminated; Ambassador later).
type Status string

// Recorded statuses (CONTRACT.md).
const (
	StatusDraft      Status = "draft"
	StatusActive     Status = "active"
	StatusRenewed    Status = "renewed"
	StatusConcluded  Status = "concluded"
	StatusTerminated Status = "terminated"
	StatusAmbassador Status = "ambassador"
)

// Valid reports whether s is a recorded status.
func (s Status) Valid() bool {
	switch s {
	case StatusDraft, StatusActive, StatusRenewed, StatusConcluded, StatusTerminated, StatusAmbassador:
		return true
	}
	return false
}

// Participant types: who may sign an Alliance (seed 001; CSP 04-01-001 X, seed 003).
var participantTypes = map[string]bool{
	"association":   true, // trade or professional association
	"union":         true, // labor union
	"education":     true, // educational institution
	"community":     true, // community or faith-based group
	"government":    true, // government agency, State Plan, Consultation project
	"business":      true, // for-profit company
	"tribe":         true, // Native American Tribe
	"whistleblower": true, // whistleblower protection entity
	"consulate":     true,
	"other":         true,
}

// Contact is the person to reach at a participant.
type Contact struct {
	Name  string `json:"name,omitempty"`
	Phone string `json:"phone,omitempty"`
	Email string `json:"email,omitempty"`
}

// Participant is an organization that signed the Alliance.
type Participant struct {
	Name    string  `json:"name"`
	Type    string  `json:"type,omitempty"`
	Address string  `json:"address,omitempty"`
	Contact Contact `json:"contact,omitzero"`
}

// Goal is one of the Alliance's goals, in one of its program's categories.
type Goal struct {
	Category    string `json:"category"`
	Description string `json:"description,omitempty"`
}

// Renewal is one renewal agreement: when it was signed and for how long.
type Renewal struct {
	SignedOn   Date `json:"signed_on"`
	TermMonths int  `json:"term_months"`
}

// Termination is a signatory's written notice to end the Alliance.
type Termination struct {
	NoticeOn    Date   `json:"notice_on"`
	EffectiveOn Date   `json:"effective_on"`
	Reason      string `json:"reason,omitempty"`
}

// Addendum changes who signed the Alliance mid-life: a State Plan or a chapter joins, a
// participant leaves (DOMAIN.md, Lifecycle). The Alliance keeps every addendum, so its
// signatory history is never lost when the participant list changes.
type Addendum struct {
	SignedOn Date          `json:"signed_on"`
	Added    []Participant `json:"added,omitempty"`
	Removed  []string      `json:"removed,omitempty"` // participant names
	Note     string        `json:"note,omitempty"`
}

// Alliance is one Alliance agreement as its program records it. ID and Rev are set by
// the node; ExpiresOn is derived from the signing date, term and renewals.
type Alliance struct {
	ID            string        `json:"id"`
	Rev           string        `json:"rev,omitempty"`
	Program       string        `json:"program"`
	Level         Level         `json:"level"`
	Office        string        `json:"office,omitempty"`
	Participants  []Participant `json:"participants"`
	Goals         []Goal        `json:"goals"`
	EmphasisAreas []string      `json:"emphasis_areas,omitempty"`
	SignedOn      Date          `json:"signed_on,omitzero"`
	TermMonths    int           `json:"term_months"`
	ExpiresOn     Date          `json:"expires_on,omitzero"`
	Status        Status        `json:"status"`
	Renewals      []Renewal     `json:"renewals,omitempty"`
	Termination   *Termination  `json:"termination,omitempty"`
	// ConcludedOn is the day a concluded Alliance ended: the end of its term unless the
	// record says otherwise.
	ConcludedOn Date `json:"concluded_on,omitzero"`
	// AmbassadorOn is the day the Alliance became an Ambassador, when known.
	AmbassadorOn Date       `json:"ambassador_on,omitzero"`
	Addenda      []Addendum `json:"addenda,omitempty"`
}

// Bounds on what one Alliance may hold; every input is bounded (DESIGN.md, Security).
const (
	maxTermMonths    = 120
	maxParticipants  = 200
	maxGoals         = 50
	maxEmphasisAreas = 50
	maxRenewals      = 50
	maxAddenda       = 100
	maxNameLen       = 300
	maxTextLen       = 4000
	maxShortLen      = 200
)

// TerminationNoticeDays is how long after written notice a termination takes effect: any
// signatory may terminate at any time with 30 days' written notice (seed 001; CSP
// 04-01-001 XIV, seed 003).
const TerminationNoticeDays = 30

// Normalize fills in what the program decides and the client may leave out: the program
// code, the level when the program has only one, the term (initial term is a program
// setting: two years federally, CSP 04-01-001 X.G; three years for MIOSHA), category codes
// for labels, trimmed text, and the derived expiry date. It never hides an error: what it
// cannot fix, Validate reports.
func (a *Alliance) Normalize(p *Program) {
	if a.Program == "" {
		a.Program = p.Code
	}
	if a.Level == "" && len(p.Levels) == 1 {
		a.Level = p.Levels[0]
	}
	// Lists are lists, even empty ones: scripts read "goals": [], never null.
	if a.Participants == nil {
		a.Participants = []Participant{}
	}
	if a.Goals == nil {
		a.Goals = []Goal{}
	}
	if a.Status == "" {
		switch {
		case a.Termination != nil:
			a.Status = StatusTerminated
		case a.SignedOn.IsZero():
			a.Status = StatusDraft
		default:
			a.Status = StatusActive
		}
	}
	if a.TermMonths == 0 {
		a.TermMonths = p.DefaultTermMonths
	}
	a.Office = strings.TrimSpace(a.Office)
	for i := range a.Participants {
		pt := &a.Participants[i]
		pt.Name = strings.Join(strings.Fields(pt.Name), " ")
		pt.Type = strings.ToLower(strings.TrimSpace(pt.Type))
		pt.Address = strings.TrimSpace(pt.Address)
		pt.Contact.Name = strings.TrimSpace(pt.Contact.Name)
		pt.Contact.Phone = strings.TrimSpace(pt.Contact.Phone)
		pt.Contact.Email = strings.TrimSpace(pt.Contact.Email)
	}
	for i := range a.Goals {
		if c, ok := p.Category(a.Goals[i].Category); ok {
			a.Goals[i].Category = c.Code
		}
		a.Goals[i].Description = strings.TrimSpace(a.Goals[i].Description)
	}
	for i := range a.EmphasisAreas {
		a.EmphasisAreas[i] = strings.TrimSpace(a.EmphasisAreas[i])
	}
	if t := a.Termination; t != nil && t.EffectiveOn.IsZero() {
		t.EffectiveOn = t.NoticeOn.AddDays(TerminationNoticeDays)
	}
	a.ExpiresOn = a.DerivedExpiry()
	if a.Status == StatusConcluded && a.ConcludedOn.IsZero() && a.AmbassadorOn.IsZero() {
		// Conclusion is at the end of the term unless the record says otherwise. A former
		// Ambassador had no term to end with: its date stays unknown unless given.
		a.ConcludedOn = a.ExpiresOn
	}
	for i := range a.Addenda {
		ad := &a.Addenda[i]
		ad.Note = strings.TrimSpace(ad.Note)
		for j := range ad.Added {
			ad.Added[j].Name = strings.Join(strings.Fields(ad.Added[j].Name), " ")
			ad.Added[j].Type = strings.ToLower(strings.TrimSpace(ad.Added[j].Type))
		}
		for j := range ad.Removed {
			ad.Removed[j] = strings.Join(strings.Fields(ad.Removed[j]), " ")
		}
	}
}

// DerivedExpiry is the end of the current term: the last renewal's signing date plus its
// term, or the signing date plus the initial term.
func (a *Alliance) DerivedExpiry() Date {
	if n := len(a.Renewals); n > 0 {
		r := a.Renewals[n-1]
		return r.SignedOn.AddMonths(r.TermMonths)
	}
	return a.SignedOn.AddMonths(a.TermMonths)
}

// Validate checks the Alliance against its program's rules and returns a
// *ValidationError listing every failing field, or nil. It does not change the record:
// category labels must already be codes (Normalize does that).
func (a *Alliance) Validate(p *Program) error {
	var errs ValidationError
	if a.Program != p.Code {
		errs.Add("program", fmt.Sprintf("is %q; this record belongs to program %s", a.Program, p.Code))
	}
	if a.ID != "" {
		if prog, err := ProgramOfID(a.ID); err != nil {
			errs.Add("id", err.Error())
		} else if prog != p.Code {
			errs.Add("id", fmt.Sprintf("belongs to program %s, not %s", prog, p.Code))
		}
	}
	switch {
	case a.Level == "":
		errs.Add("level", fmt.Sprintf("is required: one of %s", joinLevels(p.Levels)))
	case !a.Level.valid() || !p.validLevel(a.Level):
		errs.Add("level", fmt.Sprintf("%q is not a level of program %s: one of %s", a.Level, p.Code, joinLevels(p.Levels)))
	}
	errs.checkText("office", a.Office, maxShortLen)

	if len(a.Participants) == 0 {
		errs.Add("participants", "at least one participant is required")
	}
	if len(a.Participants) > maxParticipants {
		errs.Add("participants", fmt.Sprintf("has %d entries; at most %d", len(a.Participants), maxParticipants))
	}
	for i, pt := range a.Participants {
		errs.checkParticipant(fmt.Sprintf("participants[%d]", i), pt)
	}
	errs.checkAddenda(a)
	if len(a.Goals) > maxGoals {
		errs.Add("goals", fmt.Sprintf("has %d entries; at most %d", len(a.Goals), maxGoals))
	}
	have := map[string]bool{}
	for i, g := range a.Goals {
		f := fmt.Sprintf("goals[%d]", i)
		c, ok := p.Category(g.Category)
		switch {
		case g.Category == "":
			errs.Add(f+".category", fmt.Sprintf("is required: one of %s", strings.Join(p.CategoryCodes(), ", ")))
		case !ok || c.Code != g.Category:
			errs.Add(f+".category", fmt.Sprintf("%q is not a goal category of program %s: one of %s", g.Category, p.Code, strings.Join(p.CategoryCodes(), ", ")))
		}
		have[c.Code] = true
		errs.checkText(f+".description", g.Description, maxTextLen)
	}
	// A program may require a category of every Alliance: each MIOSHA Alliance must
	// include an outreach and promotion goal (seed 004). Drafts may still lack it.
	if a.Status != StatusDraft {
		for _, r := range p.RequiredCategories {
			if c, _ := p.Category(r); !have[c.Code] {
				errs.Add("goals", fmt.Sprintf("program %s requires a goal in category %q (%s)", p.Code, c.Code, c.Label))
			}
		}
	}

	if len(a.EmphasisAreas) > maxEmphasisAreas {
		errs.Add("emphasis_areas", fmt.Sprintf("has %d entries; at most %d", len(a.EmphasisAreas), maxEmphasisAreas))
	}
	for i, e := range a.EmphasisAreas {
		f := fmt.Sprintf("emphasis_areas[%d]", i)
		if e == "" {
			errs.Add(f, "is empty")
		}
		errs.checkText(f, e, maxShortLen)
	}

	if !a.Status.Valid() {
		errs.Add("status", fmt.Sprintf("%q is not one of draft, active, renewed, concluded, terminated, ambassador", a.Status))
	}
	errs.checkDate("signed_on", a.SignedOn)
	if a.SignedOn.IsZero() && a.Status != StatusDraft {
		errs.Add("signed_on", "is required unless status is draft")
	}
	if a.TermMonths < 1 || a.TermMonths > maxTermMonths {
		errs.Add("term_months", fmt.Sprintf("is %d; must be 1 to %d", a.TermMonths, maxTermMonths))
	} else {
		errs.checkDerived("signed_on", a.SignedOn, a.TermMonths)
	}
	if len(a.Renewals) > maxRenewals {
		errs.Add("renewals", fmt.Sprintf("has %d entries; at most %d", len(a.Renewals), maxRenewals))
	}
	prev := a.SignedOn
	for i, r := range a.Renewals {
		f := fmt.Sprintf("renewals[%d]", i)
		errs.checkDate(f+".signed_on", r.SignedOn)
		if r.SignedOn.IsZero() {
			errs.Add(f+".signed_on", "is required")
		} else if !prev.IsZero() && prev.Invalid() == nil && r.SignedOn.Invalid() == nil && r.SignedOn.Last().Before(prev.First()) {
			errs.Add(f+".signed_on", fmt.Sprintf("%s is before the agreement it renews (%s)", r.SignedOn, prev))
		}
		if r.TermMonths < 1 || r.TermMonths > maxTermMonths {
			errs.Add(f+".term_months", fmt.Sprintf("is %d; must be 1 to %d", r.TermMonths, maxTermMonths))
		} else {
			errs.checkDerived(f+".signed_on", r.SignedOn, r.TermMonths)
		}
		prev = r.SignedOn
	}
	if a.Status == StatusRenewed && len(a.Renewals) == 0 {
		errs.Add("renewals", "status renewed needs at least one renewal")
	}
	if a.Status == StatusTerminated && a.Termination == nil {
		errs.Add("termination", "status terminated needs a termination notice")
	}
	if a.Status != StatusTerminated && a.Termination != nil {
		errs.Add("status", fmt.Sprintf("is %q, but the Alliance has a termination notice: status terminated", a.Status))
	}
	if t := a.Termination; t != nil {
		errs.checkDate("termination.notice_on", t.NoticeOn)
		errs.checkDate("termination.effective_on", t.EffectiveOn)
		if t.NoticeOn.IsZero() {
			errs.Add("termination.notice_on", "is required")
		} else {
			errs.checkNotice("termination.notice_on", t.NoticeOn)
		}
		if want := t.NoticeOn.AddDays(TerminationNoticeDays); t.NoticeOn.Precision() == PrecisionDay && t.EffectiveOn != want {
			errs.Add("termination.effective_on", fmt.Sprintf("must be %s, 30 days after notice (CSP 04-01-001 XIV)", want))
		}
		errs.checkText("termination.reason", t.Reason, maxTextLen)
	}
	errs.checkEnd("concluded_on", a.ConcludedOn, a, StatusConcluded)
	// A concluded record keeps its ambassador_on: an Ambassador relationship that ended
	// (seed 001; lifecycle.go, Conclude).
	errs.checkEnd("ambassador_on", a.AmbassadorOn, a, StatusAmbassador, StatusConcluded)
	if c, on := a.ConcludedOn, a.AmbassadorOn; a.Status == StatusConcluded && !c.IsZero() && !on.IsZero() &&
		c.Invalid() == nil && on.Invalid() == nil && c.Last().Before(on.First()) {
		errs.Add("concluded_on", fmt.Sprintf("%s is before the Alliance became an Ambassador (%s)", c, on))
	}
	if a.Status == StatusAmbassador || (a.Status == StatusConcluded && !a.AmbassadorOn.IsZero()) {
		// Ambassador: after the initial term and one renewal (seed 001), where the
		// program, and the office, offer it.
		switch {
		case !p.OffersAmbassador(a.Office):
			errs.Add("status", fmt.Sprintf("program %s does not offer Ambassador status%s", p.Code, officeNote(p, a.Office)))
		case len(a.Renewals) == 0:
			errs.Add("status", "an Ambassador has completed its initial term and one renewal; this Alliance has no renewal")
		case a.AmbassadorOn.Invalid() == nil && !a.AmbassadorOn.IsZero() && a.AmbassadorOn.Last().Before(a.AmbassadorEligibleOn()):
			errs.Add("ambassador_on", fmt.Sprintf("%s is before the Alliance was eligible (%s: initial term and one renewal completed, seed 001)", a.AmbassadorOn, day(a.AmbassadorEligibleOn())))
		}
	}
	if want := a.DerivedExpiry(); a.ExpiresOn != want {
		errs.Add("expires_on", fmt.Sprintf("is %q; derived from signed_on, term_months and renewals it is %q", a.ExpiresOn, want))
	}
	return errs.Err()
}

func joinLevels(ls []Level) string {
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = string(l)
	}
	return strings.Join(s, ", ")
}

// checkParticipant checks one participant, named f.
func (e *ValidationError) checkParticipant(f string, pt Participant) {
	if pt.Name == "" {
		e.Add(f+".name", "is required")
	}
	e.checkText(f+".name", pt.Name, maxNameLen)
	if pt.Type != "" && !participantTypes[pt.Type] {
		e.Add(f+".type", fmt.Sprintf("%q is not a participant type: one of association, union, education, community, government, business, tribe, whistleblower, consulate, other", pt.Type))
	}
	e.checkText(f+".address", pt.Address, maxShortLen*2)
	e.checkText(f+".contact.name", pt.Contact.Name, maxShortLen)
	e.checkText(f+".contact.phone", pt.Contact.Phone, 40)
	if pt.Contact.Email != "" {
		if addr, err := mail.ParseAddress(pt.Contact.Email); err != nil || addr.Address != pt.Contact.Email {
			e.Add(f+".contact.email", fmt.Sprintf("%q is not an e-mail address", pt.Contact.Email))
		}
	}
}

// checkAddenda checks the signatory history: each addendum dated on or after signing,
// in order, and adding or removing someone.
func (e *ValidationError) checkAddenda(a *Alliance) {
	if len(a.Addenda) > maxAddenda {
		e.Add("addenda", fmt.Sprintf("has %d entries; at most %d", len(a.Addenda), maxAddenda))
	}
	prev := a.SignedOn
	for i, ad := range a.Addenda {
		f := fmt.Sprintf("addenda[%d]", i)
		e.checkDate(f+".signed_on", ad.SignedOn)
		switch {
		case ad.SignedOn.IsZero():
			e.Add(f+".signed_on", "is required: the date the addendum was signed")
		case ad.SignedOn.Invalid() == nil && prev.Invalid() == nil && !prev.IsZero() && ad.SignedOn.Last().Before(prev.First()):
			e.Add(f+".signed_on", fmt.Sprintf("%s is before %s; addenda follow the signing and one another", ad.SignedOn, prev))
		}
		if ad.SignedOn.Invalid() == nil && !ad.SignedOn.IsZero() {
			prev = ad.SignedOn
		}
		if len(ad.Added) == 0 && len(ad.Removed) == 0 {
			e.Add(f, "adds or removes no participant")
		}
		if len(ad.Added) > maxParticipants || len(ad.Removed) > maxParticipants {
			e.Add(f, fmt.Sprintf("changes more than %d participants", maxParticipants))
		}
		for j, pt := range ad.Added {
			e.checkParticipant(fmt.Sprintf("%s.added[%d]", f, j), pt)
		}
		for j, name := range ad.Removed {
			if name == "" {
				e.Add(fmt.Sprintf("%s.removed[%d]", f, j), "is empty")
			}
			e.checkText(fmt.Sprintf("%s.removed[%d]", f, j), name, maxNameLen)
		}
		e.checkText(f+".note", ad.Note, maxTextLen)
	}
}

// checkDerived checks that a term signed on signed and running months ends on a date a
// record may carry. Dates are bounded (date.go: 1970 to 2200), and a term's end is
// derived and stored (expires_on, and concluded_on by default): a signing in the last
// years of the range with a long term would end past latestDate, and a record holding
// such a date could not be parsed back by the hub, so the node's sync would stall on it.
// The signing date is the field named: a date that late is almost always a mistyped
// year.
func (e *ValidationError) checkDerived(field string, signed Date, months int) {
	if signed.IsZero() || signed.Invalid() != nil {
		return
	}
	if end := signed.AddMonths(months); !end.inRange() {
		e.Add(field, fmt.Sprintf("%s plus a %d-month term ends %s, after %s, the last date a record may carry: check the year", signed, months, end, latestDate))
	}
}

// checkNotice checks that written notice given on notice takes effect, 30 days later
// (seed 001; CSP 04-01-001 XIV), on a date a record may carry (checkDerived).
func (e *ValidationError) checkNotice(field string, notice Date) {
	if notice.IsZero() || notice.Invalid() != nil {
		return
	}
	if eff := notice.AddDays(TerminationNoticeDays); !eff.inRange() {
		e.Add(field, fmt.Sprintf("%s plus %d days' notice takes effect %s, after %s, the last date a record may carry: check the year", notice, TerminationNoticeDays, eff, latestDate))
	}
}

// checkEnd checks a date that only a record in one of the statuses want carries
// (concluded_on, ambassador_on): a date, on or after signing.
func (e *ValidationError) checkEnd(field string, d Date, a *Alliance, want ...Status) {
	e.checkDate(field, d)
	switch {
	case d.IsZero():
	case d.Invalid() == nil && !d.inRange():
		// Derived (concluded_on defaults to the end of the term), never parsed.
		e.Add(field, fmt.Sprintf("%s is after %s, the last date a record may carry", d, latestDate))
	case !slices.Contains(want, a.Status):
		e.Add(field, fmt.Sprintf("is set, but status is %s, not %s", a.Status, want[0]))
	case d.Invalid() == nil && a.SignedOn.Invalid() == nil && !a.SignedOn.IsZero() && d.Last().Before(a.SignedOn.First()):
		e.Add(field, fmt.Sprintf("%s is before the Alliance was signed (%s)", d, a.SignedOn))
	}
}

func officeNote(p *Program, office string) string {
	if p.Ambassador {
		return fmt.Sprintf(" for office %q, which opted out (seed 001: Regional and Area Offices have discretion)", office)
	}
	return ""
}
