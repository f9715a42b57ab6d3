package schema

import (
	"fmt"
	"net/mail"
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
}

// Bounds on what one Alliance may hold; every input is bounded (DESIGN.md, Security).
const (
	maxTermMonths    = 120
	maxParticipants  = 200
	maxGoals         = 50
	maxEmphasisAreas = 50
	maxRenewals      = 50
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
		f := fmt.Sprintf("participants[%d]", i)
		if pt.Name == "" {
			errs.Add(f+".name", "is required")
		}
		errs.checkText(f+".name", pt.Name, maxNameLen)
		if pt.Type != "" && !participantTypes[pt.Type] {
			errs.Add(f+".type", fmt.Sprintf("%q is not a participant type: one of association, union, education, community, government, business, tribe, whistleblower, consulate, other", pt.Type))
		}
		errs.checkText(f+".address", pt.Address, maxShortLen*2)
		errs.checkText(f+".contact.name", pt.Contact.Name, maxShortLen)
		errs.checkText(f+".contact.phone", pt.Contact.Phone, 40)
		if pt.Contact.Email != "" {
			if addr, err := mail.ParseAddress(pt.Contact.Email); err != nil || addr.Address != pt.Contact.Email {
				errs.Add(f+".contact.email", fmt.Sprintf("%q is not an e-mail address", pt.Contact.Email))
			}
		}
	}

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
		}
		if want := t.NoticeOn.AddDays(TerminationNoticeDays); t.NoticeOn.Precision() == PrecisionDay && t.EffectiveOn != want {
			errs.Add("termination.effective_on", fmt.Sprintf("must be %s, 30 days after notice (CSP 04-01-001 XIV)", want))
		}
		errs.checkText("termination.reason", t.Reason, maxTextLen)
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
