package schema

import (
	"fmt"
	"strings"
	"time"
)

// Report is an Alliance's report for one period, following the directive's annual
// report template (CSP 04-01-001 Appendix A, seed 003): background, implementation team
// meetings, events and products per goal category, results with the number of people
// reached or trained, and upcoming milestones. It is a record of its own, signed and
// synced like an Alliance. Its id is derived from the Alliance and the period, so a
// second report for the same period is a new revision of the first, never a second
// report.
type Report struct {
	ID         string `json:"id"`
	Rev        string `json:"rev,omitempty"`
	Program    string `json:"program"`
	AllianceID string `json:"alliance_id"`
	Period     string `json:"period"`
	// ReportedOn is the report's date (Appendix A: "[DATE]").
	ReportedOn Date `json:"reported_on"`
	// I. Alliance Background.
	Overview     string   `json:"overview,omitempty"`
	TeamMembers  []string `json:"team_members"`
	Contributors []string `json:"contributors,omitempty"`
	// II. Implementation Team Meetings: dates, locations and types.
	Meetings []Meeting `json:"meetings"`
	// III. Events and Products, per goal category.
	Events   []Item `json:"events"`
	Products []Item `json:"products"`
	// IV. Results: the impact, each activity with the number of individuals reached or
	// trained, and other issues that had a bearing on implementation.
	Results    string     `json:"results,omitempty"`
	Activities []Activity `json:"activities"`
	Issues     string     `json:"issues,omitempty"`
	// V. Upcoming Milestones, including plans for renewal or conclusion.
	Milestones []string `json:"milestones"`
}

// Meeting is one implementation team meeting.
type Meeting struct {
	HeldOn   Date   `json:"held_on"`
	Type     string `json:"type,omitempty"` // in-person, conference-call, virtual
	Location string `json:"location,omitempty"`
}

// Item is an event held or a product developed toward a goal, in one of the program's
// goal categories.
type Item struct {
	Category    string `json:"category"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	On          Date   `json:"on,omitzero"`
}

// Activity is one row of the results table: a type of activity (conference, training,
// print and electronic distribution, ...) and the number of individuals reached or
// trained.
type Activity struct {
	Type     string `json:"type"`
	Category string `json:"category,omitempty"`
	Reached  int    `json:"reached"`
	Trained  int    `json:"trained,omitempty"`
}

// Meeting types (Appendix A: conference calls or in-person meetings).
var meetingTypes = map[string]bool{"in-person": true, "conference-call": true, "virtual": true}

// Bounds on what one report may hold.
const (
	maxReportItems = 200
	maxReached     = 100_000_000
)

// ReportID is the id of Alliance allianceID's report for period: one id per period, so
// re-reporting a period revises it.
func ReportID(allianceID, period string) string { return allianceID + "." + period }

// TotalReached is the results table's total.
func (r *Report) TotalReached() int {
	t := 0
	for _, a := range r.Activities {
		t += a.Reached
	}
	return t
}

// Normalize trims text, turns category labels into codes and fills the lists a client
// may leave out.
func (r *Report) Normalize(p *Program) {
	if r.Program == "" {
		r.Program = p.Code
	}
	r.Period = strings.TrimSpace(r.Period)
	r.Overview = strings.TrimSpace(r.Overview)
	r.Results = strings.TrimSpace(r.Results)
	r.Issues = strings.TrimSpace(r.Issues)
	for _, l := range []*[]string{&r.TeamMembers, &r.Contributors, &r.Milestones} {
		for i := range *l {
			(*l)[i] = strings.TrimSpace((*l)[i])
		}
	}
	if r.TeamMembers == nil {
		r.TeamMembers = []string{}
	}
	if r.Milestones == nil {
		r.Milestones = []string{}
	}
	if r.Meetings == nil {
		r.Meetings = []Meeting{}
	}
	if r.Events == nil {
		r.Events = []Item{}
	}
	if r.Products == nil {
		r.Products = []Item{}
	}
	if r.Activities == nil {
		r.Activities = []Activity{}
	}
	for i := range r.Meetings {
		m := &r.Meetings[i]
		m.Type = strings.ToLower(strings.TrimSpace(m.Type))
		m.Location = strings.TrimSpace(m.Location)
	}
	code := func(s string) string {
		if c, ok := p.Category(s); ok {
			return c.Code
		}
		return strings.TrimSpace(s)
	}
	for _, items := range [][]Item{r.Events, r.Products} {
		for i := range items {
			items[i].Category = code(items[i].Category)
			items[i].Title = strings.TrimSpace(items[i].Title)
			items[i].Description = strings.TrimSpace(items[i].Description)
		}
	}
	for i := range r.Activities {
		a := &r.Activities[i]
		a.Type = strings.TrimSpace(a.Type)
		if a.Category != "" {
			a.Category = code(a.Category)
		}
	}
}

// Validate checks what a report says about itself against its program: the period's
// shape and cadence, categories, dates and bounds. The checks that need the Alliance
// (its term) are in ValidateFor. It returns a *ValidationError listing every failing
// field, or nil.
func (r *Report) Validate(p *Program) error {
	var errs ValidationError
	if r.Program != p.Code {
		errs.Add("program", fmt.Sprintf("is %q; this report belongs to program %s", r.Program, p.Code))
	}
	if prog, err := ProgramOfID(r.AllianceID); err != nil {
		errs.Add("alliance_id", err.Error())
	} else if prog != p.Code {
		errs.Add("alliance_id", fmt.Sprintf("belongs to program %s, not %s", prog, p.Code))
	}
	per, err := ParsePeriod(r.Period)
	switch {
	case r.Period == "":
		errs.Add("period", "is required: YYYY-Qn, YYYY-Hn or YYYY-annual")
	case err != nil:
		errs.Add("period", err.Error())
	default:
		if _, ok := p.ReportRule(per.Cadence); !ok {
			errs.Add("period", fmt.Sprintf("%s is a %s period; program %s takes %s reports", r.Period, per.Cadence, p.Code, cadenceList(p)))
		}
	}
	if r.ID != "" && r.ID != ReportID(r.AllianceID, r.Period) {
		errs.Add("id", fmt.Sprintf("is %q; a report's id is its Alliance's id, a dot and its period (%s)", r.ID, ReportID(r.AllianceID, r.Period)))
	}
	errs.checkDate("reported_on", r.ReportedOn)
	if r.ReportedOn.IsZero() {
		errs.Add("reported_on", "is required: the date of the report")
	} else if r.ReportedOn.Invalid() == nil && r.ReportedOn.Precision() != PrecisionDay {
		errs.Add("reported_on", "must be a full date YYYY-MM-DD")
	}
	errs.checkText("overview", r.Overview, maxTextLen)
	errs.checkText("results", r.Results, maxTextLen)
	errs.checkText("issues", r.Issues, maxTextLen)
	for _, l := range []struct {
		name string
		list []string
	}{{"team_members", r.TeamMembers}, {"contributors", r.Contributors}, {"milestones", r.Milestones}} {
		name, list := l.name, l.list
		if len(list) > maxReportItems {
			errs.Add(name, fmt.Sprintf("has %d entries; at most %d", len(list), maxReportItems))
		}
		for i, s := range list {
			f := fmt.Sprintf("%s[%d]", name, i)
			if s == "" {
				errs.Add(f, "is empty")
			}
			errs.checkText(f, s, maxTextLen)
		}
	}
	if len(r.Meetings) > maxReportItems {
		errs.Add("meetings", fmt.Sprintf("has %d entries; at most %d", len(r.Meetings), maxReportItems))
	}
	for i, m := range r.Meetings {
		f := fmt.Sprintf("meetings[%d]", i)
		errs.checkDate(f+".held_on", m.HeldOn)
		if m.HeldOn.IsZero() {
			errs.Add(f+".held_on", "is required")
		} else if m.HeldOn.Invalid() == nil && m.HeldOn.Precision() != PrecisionDay {
			errs.Add(f+".held_on", "must be a full date YYYY-MM-DD")
		}
		if m.Type != "" && !meetingTypes[m.Type] {
			errs.Add(f+".type", fmt.Sprintf("%q is not one of in-person, conference-call, virtual", m.Type))
		}
		errs.checkText(f+".location", m.Location, maxShortLen)
	}
	checkCategory := func(f, c string, required bool) {
		switch cat, ok := p.Category(c); {
		case c == "" && !required:
		case c == "":
			errs.Add(f, fmt.Sprintf("is required: one of %s", strings.Join(p.CategoryCodes(), ", ")))
		case !ok || cat.Code != c:
			errs.Add(f, fmt.Sprintf("%q is not a goal category of program %s: one of %s", c, p.Code, strings.Join(p.CategoryCodes(), ", ")))
		}
	}
	for _, l := range []struct {
		name  string
		items []Item
	}{{"events", r.Events}, {"products", r.Products}} {
		name, items := l.name, l.items
		if len(items) > maxReportItems {
			errs.Add(name, fmt.Sprintf("has %d entries; at most %d", len(items), maxReportItems))
		}
		for i, it := range items {
			f := fmt.Sprintf("%s[%d]", name, i)
			checkCategory(f+".category", it.Category, true)
			if it.Title == "" {
				errs.Add(f+".title", "is required")
			}
			errs.checkText(f+".title", it.Title, maxShortLen)
			errs.checkText(f+".description", it.Description, maxTextLen)
			errs.checkDate(f+".on", it.On)
		}
	}
	if len(r.Activities) > maxReportItems {
		errs.Add("activities", fmt.Sprintf("has %d entries; at most %d", len(r.Activities), maxReportItems))
	}
	for i, a := range r.Activities {
		f := fmt.Sprintf("activities[%d]", i)
		if a.Type == "" {
			errs.Add(f+".type", "is required: conference, training, print and electronic distribution, ...")
		}
		errs.checkText(f+".type", a.Type, maxShortLen)
		checkCategory(f+".category", a.Category, false)
		if a.Reached < 0 || a.Reached > maxReached {
			errs.Add(f+".reached", fmt.Sprintf("is %d; must be 0 to %d", a.Reached, maxReached))
		}
		if a.Trained < 0 || a.Trained > maxReached {
			errs.Add(f+".trained", fmt.Sprintf("is %d; must be 0 to %d", a.Trained, maxReached))
		}
	}
	return errs.Err()
}

// ValidateFor checks the report against its Alliance as well: a report covers a period
// of the Alliance's signed term, one that has begun by the report's date. It lists every
// failing field, those of Validate included.
func (r *Report) ValidateFor(p *Program, a *Alliance) error {
	var errs ValidationError
	if err := r.Validate(p); err != nil {
		errs.Fields = append(errs.Fields, err.(*ValidationError).Fields...)
	}
	if r.AllianceID != a.ID {
		errs.Add("alliance_id", fmt.Sprintf("is %q; the report is filed under %s", r.AllianceID, a.ID))
	}
	if a.Status == StatusDraft {
		errs.Add("alliance_id", "the Alliance is a draft: reports start once it is signed")
	}
	per, perr := ParsePeriod(r.Period)
	rule, ok := p.ReportRule(per.Cadence)
	if perr == nil && ok && a.Status != StatusDraft && !a.SignedOn.IsZero() {
		span := per.Span(rule.Anchor, anchorDay(a))
		term := a.InForce()
		switch {
		case !span.Overlaps(term):
			errs.Add("period", fmt.Sprintf("%s (%s to %s) is outside the Alliance's term (%s to %s)",
				r.Period, day(span.From), day(span.Last()), day(term.From), day(term.Last())))
		case r.ReportedOn.Precision() == PrecisionDay && r.ReportedOn.First().Before(span.From):
			errs.Add("period", fmt.Sprintf("%s begins %s, after the report's date %s", r.Period, day(span.From), r.ReportedOn))
		}
	}
	for i, m := range r.Meetings {
		if m.HeldOn.Precision() == PrecisionDay && r.ReportedOn.Precision() == PrecisionDay && m.HeldOn.First().After(r.ReportedOn.First()) {
			errs.Add(fmt.Sprintf("meetings[%d].held_on", i), fmt.Sprintf("%s is after the report's date %s", m.HeldOn, r.ReportedOn))
		}
	}
	return errs.Err()
}

func cadenceList(p *Program) string {
	if len(p.Reports) == 0 {
		return "no"
	}
	s := make([]string, len(p.Reports))
	for i, r := range p.Reports {
		s[i] = string(r.Cadence)
	}
	return strings.Join(s, " and ")
}

func day(t time.Time) string { return t.Format(time.DateOnly) }
