package ui

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/alliancehub/alliancehub/internal/webui"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/labstack/echo/v4"
)

// The later steps of an Alliance's life (docs/PROTOCOL.md section 11, Node): conclude,
// become an Ambassador, change its participants by addendum, and delete a draft. Each is
// a page with a form that posts to one API operation, with the revision the clerk saw in
// If-Match, so a change made meanwhile is never overwritten.

// lifecyclePage fills in the heading and the words of the conclude, ambassador, addenda
// and delete pages.
func lifecyclePage(p *formPage, a *schema.Alliance, op, name string) {
	switch op {
	case "conclude":
		p.Heading, p.Submit = "Conclude: "+name, "Record the conclusion"
		if a.Status == schema.StatusAmbassador {
			p.Intro = fmt.Sprintf("%s (%s) has been an Ambassador since %s. The relationship lasts as long as the cooperation does; give the day it ended.", name, a.ID, a.AmbassadorOn)
		} else {
			// seed 001, as schema.Alliance.Conclude cites it: "renewed or concluded at the
			// end of each agreement cycle"; OSHA "may also conclude an Alliance at any time".
			p.Intro = fmt.Sprintf("An Alliance is renewed or concluded at the end of each agreement cycle, and may be concluded earlier after an evaluation. %s (%s) ends its term on %s. To end it with 30 days' written notice, terminate it instead.", name, a.ID, a.ExpiresOn)
		}
	case "ambassador":
		p.Heading, p.Submit = "Ambassador: "+name, "Record the Ambassador status"
		p.Intro = fmt.Sprintf("%s (%s) has completed its initial term and a renewal, so it may go on as an Ambassador. Ambassadors have no reporting requirements.", name, a.ID)
	case "addenda":
		p.Heading, p.Submit = "Addendum: "+name, "Record the addendum"
		p.Intro = "Participants join or leave an Alliance by addendum. The participant list becomes the current signatories, and the Alliance keeps every addendum, so who signed when is never lost."
	case "delete":
		p.Heading, p.Submit, p.Danger = "Delete the draft: "+name, "Delete the draft", true
		p.Intro = fmt.Sprintf("%s (%s) was never signed. Deleting it writes a signed tombstone, which goes to the hub with the next sync so the draft leaves the national roster too. It cannot be undone. A signed Alliance is never deleted: it concludes or is terminated.", name, a.ID)
	}
}

// concludeForm is POST /v1/alliances/{id}/conclude's body.
func (u *ui) concludeForm(a *schema.Alliance) *Form {
	hint := fmt.Sprintf("YYYY-MM-DD. Leave it empty for the end of the term (%s).", a.ExpiresOn)
	if a.Status == schema.StatusAmbassador {
		hint = fmt.Sprintf("YYYY-MM-DD, not before it became an Ambassador (%s).", a.AmbassadorOn)
	}
	return &Form{Sections: []*Section{{Fields: []*Field{
		{Name: "concluded_on", JSON: "concluded_on", Label: "Concluded on", Kind: "date", Hint: hint},
	}}}}
}

func (u *ui) concludePage(c echo.Context) error {
	p, a, err := u.operationPage(c, c.Param("id"), "conclude")
	if err != nil {
		return err
	}
	return u.renderForm(c, http.StatusOK, p.Heading, p, u.concludeForm(a))
}

func (u *ui) conclude(c echo.Context) error { return u.operation(c, "conclude", u.concludeForm) }

// ambassadorForm is POST /v1/alliances/{id}/ambassador's body.
func (u *ui) ambassadorForm(*schema.Alliance) *Form {
	return &Form{Sections: []*Section{{Fields: []*Field{
		{Name: "on", JSON: "on", Label: "Ambassador from", Kind: "date", Hint: "YYYY-MM-DD: the day it became an Ambassador."},
	}}}}
}

func (u *ui) ambassadorPage(c echo.Context) error {
	p, a, err := u.operationPage(c, c.Param("id"), "ambassador")
	if err != nil {
		return err
	}
	f := u.ambassadorForm(a)
	f.Sections[0].Fields[0].Value = u.today().String()
	return u.renderForm(c, http.StatusOK, p.Heading, p, f)
}

func (u *ui) ambassador(c echo.Context) error { return u.operation(c, "ambassador", u.ambassadorForm) }

// addendaForm is POST /v1/alliances/{id}/addenda's body: the date, who joins (rows of
// participants), who leaves (a box per current participant) and a note.
func (u *ui) addendaForm(a *schema.Alliance) *Form {
	var current []webui.Option
	for _, pt := range a.Participants {
		current = append(current, webui.Option{Value: pt.Name, Label: pt.Name})
	}
	return &Form{Sections: []*Section{
		{Legend: "The addendum", Fields: []*Field{
			{Name: "signed_on", JSON: "signed_on", Label: "Addendum signed on", Kind: "date",
				Hint: "YYYY-MM-DD (or YYYY-MM, YYYY): not before the Alliance was signed, nor before its last addendum."},
			{Name: "note", JSON: "note", Label: "Note", Kind: "textarea", Hint: "Optional: what the addendum says, or why."},
			{Name: "removed", JSON: "removed", Label: "Participants leaving", Kind: "checks",
				Hint: "Tick each participant the addendum removes.", Options: current},
		}},
		{Legend: "Who joins", Hint: "Each organization the addendum adds. Leave a row empty to skip it.", List: &List{
			Key: "added", Prefix: "p", Noun: "new participant", Max: 200, Spec: participantSpec()}},
	}}
}

func (u *ui) addendaPage(c echo.Context) error {
	p, a, err := u.operationPage(c, c.Param("id"), "addenda")
	if err != nil {
		return err
	}
	f := u.addendaForm(a)
	spare(f, 1)
	return u.renderForm(c, http.StatusOK, p.Heading, p, f)
}

func (u *ui) amend(c echo.Context) error { return u.operation(c, "addenda", u.addendaForm) }

// deleteForm asks for the tombstone's reason (DELETE /v1/alliances/{id}?reason=).
func (u *ui) deleteForm() *Form {
	return &Form{Sections: []*Section{{Fields: []*Field{
		{Name: "reason", JSON: "reason", Label: "Reason", Kind: "textarea", Hint: "Optional: why the draft is deleted. It travels with the tombstone."},
	}}}}
}

// deletePage is the confirmation a draft's deletion needs.
func (u *ui) deletePage(c echo.Context) error {
	p, _, err := u.operationPage(c, c.Param("id"), "delete")
	if err != nil {
		return err
	}
	return u.renderForm(c, http.StatusOK, p.Heading, p, u.deleteForm())
}

// deleteDraft deletes a draft with a signed tombstone and goes back to the list.
func (u *ui) deleteDraft(c echo.Context) error {
	id := c.Param("id")
	v := c.Request().PostForm
	p, _, err := u.operationPage(c, id, "delete")
	if err != nil {
		return err
	}
	f := u.deleteForm()
	f.Read(v)
	p.Hidden["rev"] = v.Get("rev")
	q := url.Values{}
	if r := f.Sections[0].Fields[0].Value; r != "" {
		q.Set("reason", r)
	}
	h := http.Header{"If-Match": {`"` + v.Get("rev") + `"`}}
	_, err = u.site.Call(c, http.MethodDelete, "/v1/alliances/"+url.PathEscape(id), q, nil, h, nil)
	if errs, prob, ok := fieldErrors(err); ok {
		refused(f, errs, prob)
		return u.renderForm(c, prob.Status, p.Heading, p, f)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, webui.Prefix+"/alliances?done=deleted")
}

// today is the date in the program's time zone.
func (u *ui) today() schema.Date {
	return schema.DateOf(u.site.Now().In(u.cfg.Program.Location()))
}
