package ui

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/internal/webui"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/labstack/echo/v4"
)

// participantTypes are the kinds of participant schema accepts (seed 001; CSP 04-01-001
// X), in the order offered; a test checks each against schema's validation.
var participantTypes = []string{"association", "union", "education", "community", "government", "business", "tribe", "whistleblower", "consulate", "other"}

// meetingTypes are the implementation team meeting types schema accepts.
var meetingTypes = []string{"in-person", "conference-call", "virtual"}

func (u *ui) categoryOptions() []webui.Option {
	out := []webui.Option{{Value: "", Label: "Choose a category"}}
	for _, cat := range u.cfg.Program.Categories {
		out = append(out, webui.Option{Value: cat.Code, Label: cat.Label})
	}
	return out
}

func withNone(none string, opts []webui.Option) []webui.Option {
	return append([]webui.Option{{Value: "", Label: none}}, opts...)
}

// allianceForm is the form of an Alliance's body (docs/PROTOCOL.md section 6): what a
// clerk types; the node fills in the rest (program, derived dates).
func (u *ui) allianceForm(edit bool) *Form {
	p := u.cfg.Program
	about := &Section{Legend: "The agreement"}
	if len(p.Levels) > 1 {
		var levels []string
		for _, l := range p.Levels {
			levels = append(levels, string(l))
		}
		about.Fields = append(about.Fields, &Field{Name: "level", JSON: "level", Label: "Level", Kind: "select",
			Options: withNone("Choose a level", webui.Options(levels, "")), Hint: "The office level that signed it."})
	}
	status := &Field{Name: "status", JSON: "status", Label: "Status", Kind: "select"}
	if edit {
		status.Options = webui.Options([]string{"draft", "active", "renewed", "concluded", "terminated", "ambassador"}, "")
		status.Hint = "Renewal and termination have their own pages."
	} else {
		status.Options = withNone("From the signing date", webui.Options([]string{"draft", "active"}, ""))
		status.Hint = "Active once signed; a draft without a signing date."
	}
	about.Fields = append(about.Fields,
		&Field{Name: "office", JSON: "office", Label: "Lead office or division", Kind: "text"},
		status,
		&Field{Name: "signed_on", JSON: "signed_on", Label: "Signed on", Kind: "date",
			Hint: "YYYY-MM-DD; YYYY-MM or YYYY when only that is known. Leave it empty for a draft."},
		&Field{Name: "term_months", JSON: "term_months", Label: "Initial term, in months", Kind: "number",
			Hint: fmt.Sprintf("Leave it empty for the program's %d months.", p.DefaultTermMonths)},
	)
	goalHint := "One row per goal. Leave a row empty to skip it."
	if len(p.RequiredCategories) > 0 {
		var labels []string
		for _, code := range p.RequiredCategories {
			if cat, ok := p.Category(code); ok {
				labels = append(labels, cat.Label)
			}
		}
		goalHint = "Every Alliance of this program needs a goal in " + strings.Join(labels, " and ") + ". " + goalHint
	}
	f := &Form{Sections: []*Section{
		about,
		{Legend: "Participants", Hint: "The organizations that signed. Leave a row empty to skip it.", List: &List{
			Key: "participants", Prefix: "p", Noun: "participant", Max: 200, Spec: participantSpec()}},
		{Legend: "Goals", Hint: goalHint, List: &List{
			Key: "goals", Prefix: "g", Noun: "goal", Max: 50, Spec: []Field{
				{JSON: "category", Label: "Category", Kind: "select", Options: u.categoryOptions()},
				{JSON: "description", Label: "Description", Kind: "textarea"},
			}}},
		{Legend: "Emphasis areas", Fields: []*Field{{Name: "emphasis_areas", JSON: "emphasis_areas", Label: "Emphasis areas", Kind: "lines",
			Hint: "One per line, e.g. Falls, Silica, Heat."}}},
	}}
	return f
}

// participantSpec is the inputs of one participant (docs/PROTOCOL.md section 6).
func participantSpec() []Field {
	return []Field{
		{JSON: "name", Label: "Name", Kind: "text"},
		{JSON: "type", Label: "Type", Kind: "select", Options: withNone("Not given", webui.Options(participantTypes, ""))},
		{JSON: "address", Label: "Address", Kind: "text"},
		{JSON: "contact.name", Label: "Contact name", Kind: "text"},
		{JSON: "contact.phone", Label: "Contact phone", Kind: "text"},
		{JSON: "contact.email", Label: "Contact e-mail", Kind: "text"},
	}
}

// formPage is a page holding one form.
type formPage struct {
	Heading, Intro string
	Action, Submit string
	Cancel         string
	Hidden         map[string]string
	Form           *Form
	Danger         bool
}

// addRow handles the "add another" buttons: a row more, nothing sent.
func addRow(f *Form, v url.Values) bool {
	which := v.Get("add")
	if which == "" {
		return false
	}
	for _, s := range f.Sections {
		if s.List != nil && s.List.Prefix == which {
			s.List.AddRows(len(s.List.Rows) + 1)
		}
	}
	return true
}

// spare gives every list a blank row or two to type into.
func spare(f *Form, n int) {
	for _, s := range f.Sections {
		if s.List != nil {
			s.List.AddRows(max(n, len(s.List.Rows)+1))
		}
	}
}

func (u *ui) newAlliance(c echo.Context) error {
	f := u.allianceForm(false)
	spare(f, 2)
	return u.renderForm(c, http.StatusOK, "New Alliance", formPage{
		Heading: "New Alliance", Action: webui.Prefix + "/alliances", Submit: "Save and sign", Cancel: webui.Prefix + "/alliances",
		Intro: "The node checks the Alliance against " + u.cfg.Program.Name + "'s rules and signs it. Every problem is listed at once and nothing is saved until all are fixed.",
	}, f)
}

func (u *ui) renderForm(c echo.Context, status int, title string, p formPage, f *Form) error {
	p.Form = f
	return u.site.Render(c, status, "form", title, p)
}

// fieldErrors answers the API's field errors when err is a refusal that names fields.
func fieldErrors(err error) ([]schema.FieldError, *edge.Problem, bool) {
	var p *edge.Problem
	if !errors.As(err, &p) {
		return nil, nil, false
	}
	switch p.Status {
	case http.StatusUnprocessableEntity, http.StatusBadRequest:
		return p.Errors, p, true
	case http.StatusPreconditionFailed, http.StatusPreconditionRequired, http.StatusConflict:
		return nil, p, true
	}
	return nil, p, false
}

// refused puts an API refusal on a form: field errors on their inputs, the rest above.
func refused(f *Form, errs []schema.FieldError, p *edge.Problem) {
	switch {
	case len(errs) > 0:
		f.Apply(errs)
	case p.Status == http.StatusPreconditionFailed:
		f.Problem = "Someone saved a newer version while you were editing: " + p.Detail + ". Your changes are below and were not saved. Open the Alliance again to see the current version, then make your changes there."
	default:
		f.Problem = p.Detail
	}
}

func (u *ui) create(c echo.Context) error {
	v := c.Request().PostForm
	f := u.allianceForm(false)
	f.Read(v)
	page := formPage{Heading: "New Alliance", Action: webui.Prefix + "/alliances", Submit: "Save and sign", Cancel: webui.Prefix + "/alliances"}
	if addRow(f, v) {
		return u.renderForm(c, http.StatusOK, "New Alliance", page, f)
	}
	body, ok := f.Body()
	if !ok {
		return u.renderForm(c, http.StatusUnprocessableEntity, "New Alliance", page, f)
	}
	var out schema.Alliance
	_, err := u.site.Call(c, http.MethodPost, "/v1/alliances", nil, body, nil, &out)
	if errs, p, ok := fieldErrors(err); ok {
		refused(f, errs, p)
		return u.renderForm(c, p.Status, "New Alliance", page, f)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, webui.Prefix+"/alliances/"+url.PathEscape(out.ID)+"?done=created")
}

// current reads an Alliance as the API answers it, whole (so fields the form does not
// show are sent back as they are), with its rev.
func (u *ui) current(c echo.Context, id string) (map[string]any, string, error) {
	var doc map[string]any
	h, err := u.site.Call(c, http.MethodGet, "/v1/alliances/"+url.PathEscape(id), nil, nil, nil, &doc)
	if err != nil {
		return nil, "", err
	}
	return doc, strings.Trim(h.Get("ETag"), `"`), nil
}

func (u *ui) editPage(id string) formPage {
	return formPage{Heading: "Edit " + id, Action: webui.Prefix + "/alliances/" + url.PathEscape(id), Submit: "Save and sign",
		Cancel: webui.Prefix + "/alliances/" + url.PathEscape(id),
		Intro:  "Saving writes a new signed revision. If someone else saves first, nothing is lost: you are told, and your changes stay on the page."}
}

func (u *ui) editAlliance(c echo.Context) error {
	id := c.Param("id")
	doc, rev, err := u.current(c, id)
	if err != nil {
		return err
	}
	f := u.allianceForm(true)
	f.Fill(doc)
	spare(f, 0)
	p := u.editPage(id)
	p.Hidden = map[string]string{"rev": rev}
	return u.renderForm(c, http.StatusOK, "Edit "+id, p, f)
}

func (u *ui) save(c echo.Context) error {
	id := c.Param("id")
	v := c.Request().PostForm
	f := u.allianceForm(true)
	f.Read(v)
	p := u.editPage(id)
	p.Hidden = map[string]string{"rev": v.Get("rev")}
	if addRow(f, v) {
		return u.renderForm(c, http.StatusOK, "Edit "+id, p, f)
	}
	body, ok := f.Body()
	if !ok {
		return u.renderForm(c, http.StatusUnprocessableEntity, "Edit "+id, p, f)
	}
	// What the form does not show (renewals, termination, addenda, ...) goes back as the
	// node holds it; the revision the clerk saw goes in If-Match, so an edit made
	// meanwhile is never overwritten.
	doc, _, err := u.current(c, id)
	if err != nil {
		return err
	}
	for _, k := range []string{"level", "office", "status", "signed_on", "term_months", "emphasis_areas"} {
		delete(doc, k)
	}
	delete(doc, "rev")
	delete(doc, "expires_on") // derived again from the new dates
	for k, val := range body {
		doc[k] = val
	}
	h := http.Header{"If-Match": {`"` + v.Get("rev") + `"`}}
	var out schema.Alliance
	_, err = u.site.Call(c, http.MethodPut, "/v1/alliances/"+url.PathEscape(id), nil, doc, h, &out)
	if errs, prob, ok := fieldErrors(err); ok {
		refused(f, errs, prob)
		return u.renderForm(c, prob.Status, "Edit "+id, p, f)
	}
	if err != nil {
		return err
	}
	done := "saved"
	if out.Rev == v.Get("rev") {
		done = "unchanged"
	}
	return c.Redirect(http.StatusSeeOther, webui.Prefix+"/alliances/"+url.PathEscape(id)+"?done="+done)
}

// renewForm is POST /v1/alliances/{id}/renew's body.
func (u *ui) renewForm() *Form {
	b := u.cfg.Program.RenewalTermMonths
	hint := "Leave it empty for the program's default."
	if b.Default > 0 {
		hint = fmt.Sprintf("%d to %d months; leave it empty for %d.", b.Min, b.Max, b.Default)
	}
	return &Form{Sections: []*Section{{Fields: []*Field{
		{Name: "signed_on", JSON: "signed_on", Label: "Renewal signed on", Kind: "date", Hint: "YYYY-MM-DD. Not before the agreement it renews."},
		{Name: "term_months", JSON: "term_months", Label: "Renewal term, in months", Kind: "number", Hint: hint},
	}}}}
}

func (u *ui) operationPage(c echo.Context, id, op string) (formPage, *schema.Alliance, error) {
	a, err := u.allianceOf(c, id)
	if err != nil {
		return formPage{}, nil, err
	}
	name := id
	if len(a.Participants) > 0 {
		name = a.Participants[0].Name
	}
	p := formPage{Action: webui.Prefix + "/alliances/" + url.PathEscape(id) + "/" + op, Cancel: webui.Prefix + "/alliances/" + url.PathEscape(id),
		Hidden: map[string]string{"rev": a.Rev}}
	switch op {
	case "renew":
		p.Heading, p.Submit = "Renew: "+name, "Record the renewal"
		p.Intro = fmt.Sprintf("%s (%s) expires on %s. A renewal runs from its signing date.", name, id, a.ExpiresOn)
	case "terminate":
		p.Heading, p.Submit, p.Danger = "Terminate: "+name, "Record the termination", true
		p.Intro = fmt.Sprintf("Any signatory may end %s (%s) with 30 days' written notice (CSP 04-01-001 XIV): the termination takes effect 30 days after the notice. It cannot be undone here.", name, id)
	default:
		lifecyclePage(&p, a, op, name)
	}
	return p, a, nil
}

func (u *ui) renewPage(c echo.Context) error {
	p, a, err := u.operationPage(c, c.Param("id"), "renew")
	if err != nil {
		return err
	}
	f := u.renewForm()
	f.Sections[0].Fields[0].Value = a.ExpiresOn.String()
	return u.renderForm(c, http.StatusOK, p.Heading, p, f)
}

// operation posts a lifecycle operation's form to the API and shows the Alliance, or the
// form again with what was wrong. build makes the form, for the Alliance as it is now.
func (u *ui) operation(c echo.Context, op string, build func(*schema.Alliance) *Form) error {
	id := c.Param("id")
	v := c.Request().PostForm
	p, a, err := u.operationPage(c, id, op)
	if err != nil {
		return err
	}
	f := build(a)
	f.Read(v)
	p.Hidden["rev"] = v.Get("rev")
	if addRow(f, v) {
		return u.renderForm(c, http.StatusOK, p.Heading, p, f)
	}
	body, ok := f.Body()
	if !ok {
		return u.renderForm(c, http.StatusUnprocessableEntity, p.Heading, p, f)
	}
	h := http.Header{"If-Match": {`"` + v.Get("rev") + `"`}}
	_, err = u.site.Call(c, http.MethodPost, "/v1/alliances/"+url.PathEscape(id)+"/"+op, nil, body, h, nil)
	if errs, prob, ok := fieldErrors(err); ok {
		refused(f, errs, prob)
		return u.renderForm(c, prob.Status, p.Heading, p, f)
	}
	if err != nil {
		return err
	}
	done := map[string]string{"renew": "renewed", "terminate": "terminated", "conclude": "concluded", "ambassador": "ambassador", "addenda": "amended"}[op]
	return c.Redirect(http.StatusSeeOther, webui.Prefix+"/alliances/"+url.PathEscape(id)+"?done="+done)
}

func (u *ui) renew(c echo.Context) error {
	return u.operation(c, "renew", func(*schema.Alliance) *Form { return u.renewForm() })
}

func (u *ui) terminateForm() *Form {
	var reasons []webui.Option
	for _, r := range schema.TerminationReasons {
		reasons = append(reasons, webui.Option{Value: r, Label: r})
	}
	return &Form{Sections: []*Section{{Fields: []*Field{
		{Name: "notice_on", JSON: "notice_on", Label: "Written notice given on", Kind: "date", Hint: "YYYY-MM-DD."},
		{Name: "reason", JSON: "reason", Label: "Reason", Kind: "textarea",
			Hint: "In your words. The directive's reasons include: " + strings.Join(schema.TerminationReasons, "; ") + "."},
	}}}}
}

func (u *ui) terminatePage(c echo.Context) error {
	p, _, err := u.operationPage(c, c.Param("id"), "terminate")
	if err != nil {
		return err
	}
	f := u.terminateForm()
	f.Sections[0].Fields[0].Value = u.today().String()
	return u.renderForm(c, http.StatusOK, p.Heading, p, f)
}

func (u *ui) terminate(c echo.Context) error {
	return u.operation(c, "terminate", func(*schema.Alliance) *Form { return u.terminateForm() })
}

// reportForm is a report's body (CSP 04-01-001 Appendix A; docs/PROTOCOL.md 6a).
func (u *ui) reportForm(period string) *Form {
	var cadences []string
	for _, r := range u.cfg.Program.Reports {
		cadences = append(cadences, string(r.Cadence))
	}
	periodHint := "2026-Q3 (a quarter), 2026-H1 (a half year) or 2026-annual."
	if len(cadences) > 0 {
		periodHint += " This program takes " + strings.Join(cadences, " and ") + " reports."
	}
	cat := u.categoryOptions()
	item := func(noun, prefix, key string) *List {
		return &List{Key: key, Prefix: prefix, Noun: noun, Max: 200, Spec: []Field{
			{JSON: "category", Label: "Goal category", Kind: "select", Options: cat},
			{JSON: "title", Label: "Title", Kind: "text"},
			{JSON: "on", Label: "Date", Kind: "date"},
			{JSON: "description", Label: "Description", Kind: "textarea"},
		}}
	}
	per := &Field{Name: "period", JSON: "period", Label: "Period", Kind: "text", Hint: periodHint, Value: period}
	if period != "" {
		per.ReadOnly = true
	}
	return &Form{Sections: []*Section{
		{Legend: "I. The report", Fields: []*Field{
			per,
			{Name: "reported_on", JSON: "reported_on", Label: "Report date", Kind: "date", Hint: "YYYY-MM-DD."},
			{Name: "overview", JSON: "overview", Label: "Alliance background", Kind: "textarea"},
			{Name: "team_members", JSON: "team_members", Label: "Implementation team members", Kind: "lines", Hint: "One per line."},
			{Name: "contributors", JSON: "contributors", Label: "Contributors", Kind: "lines", Hint: "One per line."},
		}},
		{Legend: "II. Implementation team meetings", List: &List{Key: "meetings", Prefix: "m", Noun: "meeting", Max: 200, Spec: []Field{
			{JSON: "held_on", Label: "Held on", Kind: "date"},
			{JSON: "type", Label: "Type", Kind: "select", Options: withNone("Not given", webui.Options(meetingTypes, ""))},
			{JSON: "location", Label: "Location", Kind: "text"},
		}}},
		{Legend: "III. Events", List: item("event", "ev", "events")},
		{Legend: "III. Products", List: item("product", "pr", "products")},
		{Legend: "IV. Results: activities", Hint: "Each activity with the number of people reached or trained.", List: &List{Key: "activities", Prefix: "a", Noun: "activity", Max: 200, Spec: []Field{
			{JSON: "type", Label: "Activity", Kind: "text"},
			{JSON: "category", Label: "Goal category", Kind: "select", Options: cat},
			{JSON: "reached", Label: "People reached", Kind: "number"},
			{JSON: "trained", Label: "People trained", Kind: "number"},
		}}},
		{Legend: "IV. Results", Fields: []*Field{
			{Name: "results", JSON: "results", Label: "Impact", Kind: "textarea"},
			{Name: "issues", JSON: "issues", Label: "Other issues", Kind: "textarea"},
		}},
		{Legend: "V. Upcoming milestones", Fields: []*Field{
			{Name: "milestones", JSON: "milestones", Label: "Milestones", Kind: "lines", Hint: "One per line, including plans for renewal or conclusion."},
		}},
	}}
}

func (u *ui) reportPage(c echo.Context, id string) (formPage, error) {
	a, err := u.allianceOf(c, id)
	if err != nil {
		return formPage{}, err
	}
	name := id
	if len(a.Participants) > 0 {
		name = a.Participants[0].Name
	}
	return formPage{Heading: "Report: " + name, Action: webui.Prefix + "/alliances/" + url.PathEscape(id) + "/reports",
		Submit: "Save and sign the report", Cancel: webui.Prefix + "/alliances/" + url.PathEscape(id), Hidden: map[string]string{},
		Intro: "The directive's report template (CSP 04-01-001 Appendix A). Leave a row empty to skip it."}, nil
}

func (u *ui) newReport(c echo.Context) error {
	p, err := u.reportPage(c, c.Param("id"))
	if err != nil {
		return err
	}
	f := u.reportForm("")
	f.Sections[0].Fields[0].Value = c.QueryParam("period")
	f.Sections[0].Fields[1].Value = u.today().String()
	spare(f, 2)
	return u.renderForm(c, http.StatusOK, p.Heading, p, f)
}

func (u *ui) editReport(c echo.Context) error {
	id, period := c.Param("id"), c.Param("period")
	p, err := u.reportPage(c, id)
	if err != nil {
		return err
	}
	var doc map[string]any
	h, err := u.site.Call(c, http.MethodGet, "/v1/alliances/"+url.PathEscape(id)+"/reports/"+url.PathEscape(period), nil, nil, nil, &doc)
	if err != nil {
		return err
	}
	f := u.reportForm(period)
	f.Fill(doc)
	spare(f, 0)
	p.Hidden["rev"] = strings.Trim(h.Get("ETag"), `"`)
	return u.renderForm(c, http.StatusOK, p.Heading, p, f)
}

func (u *ui) saveReport(c echo.Context) error {
	id := c.Param("id")
	v := c.Request().PostForm
	p, err := u.reportPage(c, id)
	if err != nil {
		return err
	}
	rev := v.Get("rev")
	period := ""
	if rev != "" {
		period = v.Get("period")
		p.Hidden["rev"] = rev
	}
	f := u.reportForm(period)
	f.Read(v)
	if addRow(f, v) {
		return u.renderForm(c, http.StatusOK, p.Heading, p, f)
	}
	body, ok := f.Body()
	if !ok {
		return u.renderForm(c, http.StatusUnprocessableEntity, p.Heading, p, f)
	}
	var h http.Header
	if rev != "" {
		h = http.Header{"If-Match": {`"` + rev + `"`}}
	}
	_, err = u.site.Call(c, http.MethodPost, "/v1/alliances/"+url.PathEscape(id)+"/reports", nil, body, h, nil)
	var prob *edge.Problem
	if errors.As(err, &prob) && prob.Status == http.StatusPreconditionRequired {
		per, _ := body["period"].(string)
		f.Problem = fmt.Sprintf("There is already a report for %s: open it to revise it.", per)
		f.ProblemHref = webui.Prefix + "/alliances/" + url.PathEscape(id) + "/reports/" + url.PathEscape(per) + "/edit"
		return u.renderForm(c, prob.Status, p.Heading, p, f)
	}
	if errs, prob, ok := fieldErrors(err); ok {
		refused(f, errs, prob)
		return u.renderForm(c, prob.Status, p.Heading, p, f)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, webui.Prefix+"/alliances/"+url.PathEscape(id)+"?done=reported")
}
