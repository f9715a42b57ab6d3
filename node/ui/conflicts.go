package ui

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/internal/webui"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/labstack/echo/v4"
)

// A conflict is one of the program's records (an Alliance or a report) with two
// branches at the hub (a node restored from an old backup and edited again, say). Only
// the program resolves it: the clerk picks the revision whose content stays, and the
// node writes a revision that follows its own and names the others as resolved (POST
// /v1/alliances/{id}/resolve or /v1/alliances/{id}/reports/{period}/resolve,
// docs/PROTOCOL.md section 8, Resolving a conflict).

// conflicts reads the program's conflicts as the node's copy of the roster shows them,
// each with its differences laid out by leaf.
func (u *ui) conflicts(c echo.Context) ([]webui.Conflict, error) {
	var page struct {
		Items []webui.Conflict `json:"items"`
	}
	if _, err := u.site.Call(c, http.MethodGet, "/v1/conflicts", nil, nil, nil, &page); err != nil {
		return nil, err
	}
	for i := range page.Items {
		page.Items[i].LayOut()
	}
	return page.Items, nil
}

func (u *ui) conflictList(c echo.Context) error {
	items, err := u.conflicts(c)
	var p *edge.Problem
	noReplica := errors.As(err, &p) && p.Status == http.StatusServiceUnavailable
	if err != nil && !noReplica {
		return err
	}
	return u.site.Render(c, http.StatusOK, "conflicts", "Conflicts", struct {
		Items     []webui.Conflict
		NoReplica bool
		CanWrite  bool
	}{items, noReplica, canWrite(c)})
}

// resolveData is the resolve page: the conflict, the choice and what went wrong.
type resolveData struct {
	C        *webui.Conflict
	Record   string // what is in conflict, in words: "this Alliance", "this report"
	Take     string // the revision chosen
	Error    string // about the choice (the API's error on "take")
	Problem  string // a refusal that names no field
	CanWrite bool
}

// findConflict is the conflict on id, or a 404 page saying there is none (any more).
func (u *ui) findConflict(c echo.Context, id string) (*webui.Conflict, error) {
	items, err := u.conflicts(c)
	if err != nil {
		return nil, err
	}
	for i := range items {
		if items[i].ID == id {
			return &items[i], nil
		}
	}
	return nil, edge.Errorf(http.StatusNotFound, "not-conflicted",
		"The national roster this node holds shows no conflict on %s. If the hub just reported one, sync first; if it was just resolved, the conflict ends everywhere once the resolution is synced.", id)
}

// inConflict is what a resolve page's path names: an Alliance (/alliances/:id/resolve)
// or one of its reports (/alliances/:id/reports/:period/resolve). It answers the record
// id, how the page speaks of it, and the resolution's path under /v1 (and the UI).
func inConflict(c echo.Context) (id, record, path string) {
	id = c.Param("id")
	if period := c.Param("period"); period != "" {
		cf := webui.Conflict{ID: schema.ReportID(id, period), Kind: string(schema.KindReport), AllianceID: id, Period: period}
		return cf.ID, "this report", cf.ResolvePath()
	}
	cf := webui.Conflict{ID: id, Kind: string(schema.KindAlliance)}
	return id, "this Alliance", cf.ResolvePath()
}

func (u *ui) resolvePage(c echo.Context) error {
	id, record, _ := inConflict(c)
	cf, err := u.findConflict(c, id)
	if err != nil {
		return err
	}
	return u.site.Render(c, http.StatusOK, "resolve", "Resolve a conflict: "+cf.ID, resolveData{C: cf, Record: record, Take: cf.LocalRev, CanWrite: canWrite(c)})
}

// resolve writes the resolving revision with the content of the revision chosen.
func (u *ui) resolve(c echo.Context) error {
	id, record, path := inConflict(c)
	v := c.Request().PostForm
	d := resolveData{Record: record, Take: v.Get("take"), CanWrite: canWrite(c)}
	render := func(status int) error {
		cf, err := u.findConflict(c, id)
		if err != nil {
			return err
		}
		d.C = cf
		return u.site.Render(c, status, "resolve", "Resolve a conflict: "+id, d)
	}
	if d.Take == "" {
		d.Error = "Choose the revision whose content stays."
		return render(http.StatusUnprocessableEntity)
	}
	h := http.Header{"If-Match": {`"` + v.Get("rev") + `"`}}
	_, err := u.site.Call(c, http.MethodPost, "/v1"+path, nil, map[string]string{"take": d.Take}, h, nil)
	var p *edge.Problem
	if errors.As(err, &p) {
		switch p.Status {
		case http.StatusUnprocessableEntity:
			for _, fe := range p.Errors {
				if fe.Field == "take" {
					d.Error = join(d.Error, fe.Message)
				} else {
					d.Problem = join(d.Problem, fe.Field+": "+fe.Message)
				}
			}
			if d.Error == "" && d.Problem == "" {
				d.Problem = p.Detail
			}
			return render(p.Status)
		case http.StatusPreconditionFailed:
			d.Problem = "The " + strings.TrimPrefix(record, "this ") + " changed on this node since this page was shown: " + p.Detail + ". Nothing was written. The page now shows it as it is; choose again."
			return render(p.Status)
		case http.StatusConflict: // not-conflicted: the API's words say to sync first
			return p
		}
	}
	if err != nil {
		return err
	}
	// A report is shown on its Alliance's page, with what the Alliance owes.
	return c.Redirect(http.StatusSeeOther, webui.Prefix+"/alliances/"+url.PathEscape(c.Param("id"))+"?done=resolved")
}
