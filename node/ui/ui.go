// Package ui is a program node's web UI for State Plan and federal Alliance staff: the
// program's Alliances, forms to create, edit, renew, terminate, conclude and amend them,
// make them Ambassadors, delete drafts and enter reports, CSV import, the resolution of
// conflicts, the compliance calendar, the program's copy of the national roster, and
// sync status with a "sync now" button.
package ui

import (
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/internal/webui"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/labstack/echo/v4"
)

//go:embed templates/*.html
var templates embed.FS

// Config is what the node's UI needs of the node.
type Config struct {
	// API is the node's HTTP API; every page goes through it with the user's token.
	API http.Handler
	// Verify checks a token as the API does.
	Verify edge.TokenVerifier
	// Program is the node's program: its categories, levels and terms shape the forms.
	Program *schema.Program
	// Catalog is the program definitions the node's replica reads (nil: built-in).
	Catalog *schema.Catalog
	Log     *slog.Logger
	Now     func() time.Time
}

type ui struct {
	site *webui.Site
	cfg  Config
}

// Mount serves the node's UI under /ui/ of e (and leads / to it). It panics if the
// embedded templates do not parse, which the package's tests would have caught.
func Mount(e *echo.Echo, cfg Config) {
	s, err := New(cfg)
	if err != nil {
		panic(err)
	}
	s.Mount(e)
}

// New prepares the node's UI.
func New(cfg Config) (*webui.Site, error) {
	if cfg.Program == nil {
		return nil, errors.New("node ui: program is required")
	}
	u := &ui{cfg: cfg}
	pages, err := fs.Sub(templates, "templates")
	if err != nil {
		return nil, err
	}
	site, err := webui.New(webui.Config{
		Name: cfg.Program.Name, Realm: cfg.Program.Code, API: cfg.API, Verify: cfg.Verify, Catalog: cfg.Catalog, Location: cfg.Program.Location(),
		Pages: pages, Home: webui.Prefix + "/alliances", Log: cfg.Log, Now: cfg.Now,
		Nav: []webui.NavItem{
			{Label: "Alliances", Href: webui.Prefix + "/alliances"},
			{Label: "Compliance calendar", Href: webui.Prefix + "/calendar"},
			{Label: "Conflicts", Href: webui.Prefix + "/conflicts"},
			{Label: "National roster", Href: webui.Prefix + "/roster"},
			{Label: "Sync", Href: webui.Prefix + "/sync"},
		},
		Notices: map[string]string{
			"created":    "The Alliance is saved and signed. It goes to the hub with the next sync.",
			"saved":      "Your changes are saved as a new signed revision. They go to the hub with the next sync.",
			"unchanged":  "Nothing had changed, so no new revision was written.",
			"renewed":    "The renewal is recorded.",
			"terminated": "The termination is recorded; it takes effect 30 days after the notice.",
			"reported":   "The report is saved. It goes to the hub with the next sync.",
			"synced":     "The sync ran. Its outcome is below.",
			"sync-busy":  "A sync was already running; its outcome will show here when it ends.",
			"concluded":  "The conclusion is recorded.",
			"ambassador": "The Alliance is recorded as an Ambassador. Ambassadors have no reporting requirements.",
			"amended":    "The addendum is recorded; the participants below are the current signatories.",
			"deleted":    "The draft is deleted. Its signed tombstone goes to the hub with the next sync.",
			"resolved":   "The conflict is resolved with a new signed revision. It ends on the hub, and in this node's copy of the national roster, after the next sync.",
		},
	})
	if err != nil {
		return nil, err
	}
	u.site = site
	site.AddRoster()
	site.GET("/alliances", u.list)
	site.GET("/alliances/new", u.newAlliance)
	site.POST("/alliances", u.create)
	site.GET("/alliances/:id", u.detail)
	site.GET("/alliances/:id/edit", u.editAlliance)
	site.POST("/alliances/:id", u.save)
	site.GET("/alliances/:id/renew", u.renewPage)
	site.POST("/alliances/:id/renew", u.renew)
	site.GET("/alliances/:id/terminate", u.terminatePage)
	site.POST("/alliances/:id/terminate", u.terminate)
	site.GET("/alliances/:id/conclude", u.concludePage)
	site.POST("/alliances/:id/conclude", u.conclude)
	site.GET("/alliances/:id/ambassador", u.ambassadorPage)
	site.POST("/alliances/:id/ambassador", u.ambassador)
	site.GET("/alliances/:id/addenda", u.addendaPage)
	site.POST("/alliances/:id/addenda", u.amend)
	site.GET("/alliances/:id/delete", u.deletePage)
	site.POST("/alliances/:id/delete", u.deleteDraft)
	site.GET("/alliances/:id/resolve", u.resolvePage)
	site.POST("/alliances/:id/resolve", u.resolve)
	site.GET("/conflicts", u.conflictList)
	site.GET("/import", u.importPage)
	site.Upload("/import", u.importCSV, uploadLimit)
	site.GET("/alliances/:id/reports/new", u.newReport)
	site.GET("/alliances/:id/reports/:period/edit", u.editReport)
	site.GET("/alliances/:id/reports/:period/resolve", u.resolvePage)
	site.POST("/alliances/:id/reports/:period/resolve", u.resolve)
	site.POST("/alliances/:id/reports", u.saveReport)
	site.GET("/calendar", u.calendar)
	site.GET("/sync", u.syncPage)
	site.POST("/sync", u.syncNow)
	return site, nil
}

// canWrite mirrors the API's rule for writes (program staff and admins), so forms are
// offered only to those the API would take them from; the API still decides.
func canWrite(c echo.Context) bool {
	cl := webui.Claims(c)
	return cl != nil && (cl.Role == auth.RoleProgram || cl.Role == auth.RoleAdmin)
}

// pager keeps the page tokens of the pages before this one (trail) so a list can go
// back as well as on.
type pager struct {
	From, To          int
	First, Prev, Next string
}

func paging(base string, keep url.Values, in url.Values, limit, shown int, next string) pager {
	trail := in["trail"]
	if len(trail) > 100 {
		trail = trail[len(trail)-100:]
	}
	link := func(change func(url.Values)) string {
		v := url.Values{}
		for k, vs := range keep {
			v[k] = vs
		}
		change(v)
		if len(v) == 0 {
			return base
		}
		return base + "?" + v.Encode()
	}
	p := pager{From: len(trail)*limit + 1}
	p.To = p.From + shown - 1
	if next != "" {
		p.Next = link(func(v url.Values) {
			v.Set("page_token", next)
			v["trail"] = append(slices.Clone(trail), in.Get("page_token"))
		})
	}
	if len(trail) > 0 {
		p.First = link(func(url.Values) {})
		p.Prev = link(func(v url.Values) {
			if t := trail[len(trail)-1]; t != "" {
				v.Set("page_token", t)
			}
			if len(trail) > 1 {
				v["trail"] = slices.Clone(trail[:len(trail)-1])
			}
		})
	}
	return p
}

// listLimit is the page size of the Alliances list.
const listLimit = 50

func (u *ui) list(c echo.Context) error {
	in := c.QueryParams()
	keep := url.Values{}
	for _, k := range []string{"q", "status", "standing", "category", "level"} {
		if v := in.Get(k); v != "" {
			keep.Set(k, v)
		}
	}
	api := url.Values{"limit": {strconv.Itoa(listLimit)}}
	for k, vs := range keep {
		api[k] = vs
	}
	if t := in.Get("page_token"); t != "" {
		api.Set("page_token", t)
	}
	var page struct {
		Items         []schema.Alliance `json:"items"`
		Total         int               `json:"total"`
		NextPageToken string            `json:"next_page_token"`
	}
	d := struct {
		Q        string
		Statuses []webui.Option
		Standing []webui.Option
		Category []webui.Option
		Items    []schema.Alliance
		Total    int
		Pager    pager
		Filtered bool
		CanWrite bool
		Error    *edge.Problem
	}{Q: in.Get("q"), CanWrite: canWrite(c), Filtered: len(keep) > 0}
	d.Statuses = webui.Options([]string{"draft", "active", "renewed", "concluded", "terminated", "ambassador"}, in.Get("status"))
	d.Standing = webui.Options([]string{"draft", "active", "expiring", "expired", "concluded", "terminated", "ambassador"}, in.Get("standing"))
	for _, cat := range u.cfg.Program.Categories {
		d.Category = append(d.Category, webui.Option{Value: cat.Code, Label: cat.Label, Selected: cat.Code == in.Get("category")})
	}
	_, err := u.site.Call(c, http.MethodGet, "/v1/alliances", api, nil, nil, &page)
	var p *edge.Problem
	if errors.As(err, &p) && p.Status == http.StatusBadRequest {
		d.Error = p
		return u.site.Render(c, http.StatusBadRequest, "alliances", "Alliances", d)
	}
	if err != nil {
		return err
	}
	d.Items, d.Total = page.Items, page.Total
	d.Pager = paging(webui.Prefix+"/alliances", keep, in, listLimit, len(page.Items), page.NextPageToken)
	return u.site.Render(c, http.StatusOK, "alliances", "Alliances", d)
}

// allianceOf reads one of the program's Alliances and its revision.
func (u *ui) allianceOf(c echo.Context, id string) (*schema.Alliance, error) {
	var a schema.Alliance
	if _, err := u.site.Call(c, http.MethodGet, "/v1/alliances/"+url.PathEscape(id), nil, nil, nil, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

func (u *ui) detail(c echo.Context) error {
	id := c.Param("id")
	a, err := u.allianceOf(c, id)
	if err != nil {
		return err
	}
	var comp schema.Compliance
	if _, err := u.site.Call(c, http.MethodGet, "/v1/alliances/"+url.PathEscape(id)+"/compliance", nil, nil, nil, &comp); err != nil {
		return err
	}
	var reports struct {
		Items []schema.Report `json:"items"`
	}
	if _, err := u.site.Call(c, http.MethodGet, "/v1/alliances/"+url.PathEscape(id)+"/reports", nil, nil, nil, &reports); err != nil {
		return err
	}
	// Where the national roster (this node's copy of it) stands on this Alliance: a
	// revision the hub has not sent back yet is not there, or is there at an older rev.
	var national struct {
		Rev      string `json:"rev"`
		Conflict bool   `json:"conflict"`
	}
	roster := "absent"
	_, err = u.site.Call(c, http.MethodGet, "/v1/roster/"+url.PathEscape(id), nil, nil, nil, &national)
	var p *edge.Problem
	switch {
	case err == nil && national.Rev == a.Rev:
		roster = "current"
	case err == nil:
		roster = "older"
	case errors.As(err, &p) && (p.Status == http.StatusNotFound || p.Status == http.StatusServiceUnavailable):
	default:
		return err
	}
	// In conflict: does this node hold a revision the hub has not seen yet (a resolution
	// written here, say)? Then the page says to sync rather than to resolve.
	pending := false
	if national.Conflict {
		if cf, err := u.findConflict(c, id); err == nil {
			pending = cf.Pending()
		}
	}
	cats := map[string]string{}
	for _, cat := range u.cfg.Program.Categories {
		cats[cat.Code] = cat.Label
	}
	title := id
	if len(a.Participants) > 0 {
		title = a.Participants[0].Name
	}
	inForce := a.Status == schema.StatusActive || a.Status == schema.StatusRenewed
	// Which operations to offer mirrors the API's rules (schema's lifecycle), so a clerk
	// is not led to a form the API would refuse whole; the API still decides.
	return u.site.Render(c, http.StatusOK, "alliance", title, struct {
		A           *schema.Alliance
		Compliance  schema.Compliance
		Reports     []schema.Report
		Roster      string
		Conflict    bool
		Pending     bool
		Categories  map[string]string
		CanWrite    bool
		Renewable   bool
		Terminable  bool
		Concludable bool
		// Ambassador: the API says the Alliance is eligible today (which needs the
		// program, and its office, to offer the status); AmbassadorFrom: it will be.
		Ambassador     bool
		AmbassadorFrom *schema.Date
		Amendable      bool
		Deletable      bool
	}{a, comp, reports.Items, roster, national.Conflict, pending, cats, canWrite(c),
		inForce,
		a.Status != schema.StatusDraft && a.Status != schema.StatusTerminated && a.Status != schema.StatusConcluded && a.Status != schema.StatusAmbassador,
		inForce || a.Status == schema.StatusAmbassador,
		comp.AmbassadorEligible && inForce,
		ambassadorLater(comp, inForce),
		a.Status != schema.StatusTerminated && a.Status != schema.StatusConcluded,
		a.Status == schema.StatusDraft})
}

// ambassadorLater is the day an Alliance in force becomes eligible for Ambassador
// status, when the API names one in the future.
func ambassadorLater(comp schema.Compliance, inForce bool) *schema.Date {
	if !inForce || comp.AmbassadorEligible || comp.AmbassadorEligibleOn == nil {
		return nil
	}
	return comp.AmbassadorEligibleOn
}
