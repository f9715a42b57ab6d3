package ui

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/internal/webui"
	"github.com/labstack/echo/v4"
)

// Cross-program links: the hub proposes a link when two programs record what looks like
// the same Alliance (a federal Alliance a State Plan co-signed); DCSP confirms it (the
// two records are one Alliance, counted once) or rejects it (docs/PROTOCOL.md section
// 10, Links between programs). The pages read GET /v1/links and post to POST
// /v1/links/{id}/confirm and /reject.

// linkView is a link with its discrepancies laid out by record, for a table.
type linkView struct {
	wire.Link
	Rows []discrepancyRow
	// Error is what the API said about this link's note, shown next to it.
	Error string
	Note  string
}

type discrepancyRow struct {
	Field, Message string
	Values         []string // in the records' order
}

func viewLink(l wire.Link) linkView {
	v := linkView{Link: l}
	for _, d := range l.Discrepancies {
		row := discrepancyRow{Field: d.Field, Message: d.Message}
		for _, r := range l.Records {
			val := d.Values[r.ID]
			if val == "" {
				val = "(none)"
			}
			row.Values = append(row.Values, val)
		}
		v.Rows = append(v.Rows, row)
	}
	return v
}

// mayDecide mirrors the API's rule for link decisions (analyst or admin: DCSP), so the
// forms are offered only to those it would take them from; the API still decides.
func mayDecide(c echo.Context) bool {
	cl := webui.Claims(c)
	return cl != nil && (cl.Role == auth.RoleAnalyst || cl.Role == auth.RoleAdmin)
}

type linksData struct {
	Items     []linkView
	Total     int
	State     string
	States    []webui.Option
	Programs  []webui.Option
	Next      string
	CanDecide bool
	One       bool // the page of one link
}

func (u *ui) links(c echo.Context) error {
	in := c.QueryParams()
	q := url.Values{}
	state := in.Get("state")
	switch state {
	case "all":
	case "confirmed", "rejected":
		q.Set("state", state)
	default:
		state = "proposed"
		q.Set("state", state)
	}
	if p := in.Get("program"); p != "" {
		q.Set("program", p)
	}
	if t := in.Get("page_token"); t != "" {
		q.Set("page_token", t)
	}
	var page struct {
		Items         []wire.Link `json:"items"`
		Total         int         `json:"total"`
		NextPageToken string      `json:"next_page_token"`
	}
	if _, err := u.site.Call(c, http.MethodGet, "/v1/links", q, nil, nil, &page); err != nil {
		return err
	}
	d := linksData{Total: page.Total, State: state, CanDecide: mayDecide(c)}
	for _, l := range page.Items {
		d.Items = append(d.Items, viewLink(l))
	}
	d.States = []webui.Option{
		{Value: "proposed", Label: "Proposed, to review", Selected: state == "proposed"},
		{Value: "confirmed", Label: "Confirmed", Selected: state == "confirmed"},
		{Value: "rejected", Label: "Rejected", Selected: state == "rejected"},
		{Value: "all", Label: "All", Selected: state == "all"},
	}
	for _, code := range u.site.Catalog().Codes() {
		d.Programs = append(d.Programs, webui.Option{Value: code, Label: code, Selected: code == in.Get("program")})
	}
	if page.NextPageToken != "" {
		v := url.Values{"state": {state}, "page_token": {page.NextPageToken}}
		if p := in.Get("program"); p != "" {
			v.Set("program", p)
		}
		d.Next = webui.Prefix + "/links?" + v.Encode()
	}
	return u.site.Render(c, http.StatusOK, "links", "Links between programs", d)
}

// linkPage is one link, with its decision forms.
func (u *ui) linkPage(c echo.Context) error {
	return u.renderLink(c, http.StatusOK, c.Param("id"), "", "")
}

func (u *ui) renderLink(c echo.Context, status int, id, note, noteErr string) error {
	var l wire.Link
	if _, err := u.site.Call(c, http.MethodGet, "/v1/links/"+url.PathEscape(id), nil, nil, nil, &l); err != nil {
		return err
	}
	v := viewLink(l)
	v.Note, v.Error = note, noteErr
	return u.site.Render(c, status, "links", "Link "+l.ID, linksData{Items: []linkView{v}, Total: 1, CanDecide: mayDecide(c), One: true})
}

func (u *ui) confirmLink(c echo.Context) error { return u.decideLink(c, "confirm") }

func (u *ui) rejectLink(c echo.Context) error { return u.decideLink(c, "reject") }

// decideLink posts DCSP's decision, with its note, to the API; a note the API refuses is
// shown next to it, on the link's own page.
func (u *ui) decideLink(c echo.Context, decision string) error {
	id := c.Param("id")
	note := strings.TrimSpace(c.Request().PostForm.Get("note"))
	_, err := u.site.Call(c, http.MethodPost, "/v1/links/"+url.PathEscape(id)+"/"+decision, nil, map[string]string{"note": note}, nil, nil)
	var p *edge.Problem
	if errors.As(err, &p) && p.Status == http.StatusUnprocessableEntity {
		msg := p.Detail
		for _, fe := range p.Errors {
			if fe.Field == "note" {
				msg = fe.Message
			}
		}
		return u.renderLink(c, p.Status, id, note, msg)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, webui.Prefix+"/links?done=link-"+decision+"ed")
}
