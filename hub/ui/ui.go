// Package ui is the hub's web UI for DCSP analysts: the national roster, each Alliance's
// provenance, the programs' sync status, the conflict queue, the review of links between
// programs' records, the programs' keys with their enrollment and revocation, and the
// national totals.
package ui

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/internal/webui"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/labstack/echo/v4"
)

//go:embed templates/*.html
var templates embed.FS

// Config is what the hub's UI needs of the hub.
type Config struct {
	// API is the hub's HTTP API; every page goes through it with the user's token.
	API http.Handler
	// Verify checks a token as the API does.
	Verify edge.TokenVerifier
	// Catalog is the hub's program definitions.
	Catalog *schema.Catalog
	// VerifyBundle checks an exported bundle of signed revisions against the hub's own
	// key, as alliancehub verify does (hub.VerifyBundle).
	VerifyBundle func(*wire.Bundle) error
	Log          *slog.Logger
	Now          func() time.Time
}

type ui struct {
	site *webui.Site
	cfg  Config
}

// Mount serves the hub's UI under /ui/ of e (and leads / to it). It panics if the
// embedded templates do not parse, which the package's tests would have caught.
func Mount(e *echo.Echo, cfg Config) {
	h, err := New(cfg)
	if err != nil {
		panic(err)
	}
	h.Mount(e)
}

// New prepares the hub's UI.
func New(cfg Config) (*webui.Site, error) {
	u := &ui{cfg: cfg}
	loc := time.UTC
	if cfg.Catalog != nil {
		if fed, ok := cfg.Catalog.Get("FED"); ok {
			loc = fed.Location()
		}
	}
	pages, err := fs.Sub(templates, "templates")
	if err != nil {
		return nil, err
	}
	wcfg := webui.Config{
		Name: "National roster", Realm: "hub", API: cfg.API, Verify: cfg.Verify, Catalog: cfg.Catalog, Location: loc,
		Pages: pages, Home: webui.Prefix + "/roster", Log: cfg.Log, Now: cfg.Now,
		Nav: []webui.NavItem{
			{Label: "Roster", Href: webui.Prefix + "/roster"},
			{Label: "Programs", Href: webui.Prefix + "/programs"},
			{Label: "Conflicts", Href: webui.Prefix + "/conflicts"},
			{Label: "Links", Href: webui.Prefix + "/links"},
			{Label: "Keys", Href: webui.Prefix + "/keys"},
			{Label: "National totals", Href: webui.Prefix + "/totals"},
		},
		Notices: map[string]string{
			"acknowledged":   "The conflict is acknowledged. The owning program still resolves it; a new competing revision reopens it.",
			"link-confirmed": "The link is confirmed: the two records are one Alliance, counted once in the national totals.",
			"link-rejected":  "The link is rejected: the two records are different Alliances, and both count.",
			"enrolled":       "The program is enrolled with its key. Its node can push once it signs with that key.",
			"key-added":      "The key is enrolled for the program (or was already). Its other keys are unchanged.",
			"revoked":        "The key is revoked. What it signed before stays on the roster, flagged; what it signs from then on is refused.",
		},
		LinkPage: webui.Prefix + "/links/",
	}
	if cfg.VerifyBundle != nil {
		wcfg.Signatures = u.signatures
	}
	site, err := webui.New(wcfg)
	if err != nil {
		return nil, err
	}
	u.site = site
	site.AddRoster()
	site.GET("/roster/:id/bundle", u.bundle)
	site.GET("/programs", u.programs)
	site.GET("/conflicts", u.conflicts)
	site.POST("/conflicts/:id/acknowledge", u.acknowledge)
	site.GET("/links", u.links)
	site.GET("/links/:id", u.linkPage)
	site.POST("/links/:id/confirm", u.confirmLink)
	site.POST("/links/:id/reject", u.rejectLink)
	site.GET("/keys", u.keys)
	site.GET("/keys/enroll", u.enrollPage)
	site.POST("/keys/enroll", u.enroll)
	site.GET("/keys/:code/:kid/revoke", u.revokePage)
	site.POST("/keys/:code/:kid/revoke", u.revoke)
	site.GET("/totals", u.totals)
	return site, nil
}

// signatures checks every stored revision of an Alliance again: the hub exports them
// as their programs signed them (GET /v1/roster/{id}/bundle) and each is verified as
// alliancehub verify would, against the program keys the hub publishes, signed by the
// hub's own key.
func (u *ui) signatures(c echo.Context, id string) (map[string]webui.Signature, error) {
	var b wire.Bundle
	if _, err := u.site.Call(c, http.MethodGet, "/v1/roster/"+url.PathEscape(id)+"/bundle", nil, nil, nil, &b); err != nil {
		var p *edge.Problem
		if errors.As(err, &p) {
			return nil, errors.New(p.Detail)
		}
		return nil, err
	}
	out := map[string]webui.Signature{}
	mine := func(ch wire.Change) (string, bool) {
		payload, _, err := auth.UnverifiedPayload(ch.Record)
		if err != nil {
			return "", false
		}
		var rec schema.Record
		if json.Unmarshal(payload, &rec) != nil || rec.ID != id {
			return "", false
		}
		return rec.Rev, true
	}
	// All at once first; only when that fails, one by one, to say which.
	if err := u.cfg.VerifyBundle(&b); err == nil {
		for _, ch := range b.Changes {
			if rev, ok := mine(ch); ok {
				out[rev] = webui.Signature{OK: true}
			}
		}
		return out, nil
	}
	for _, ch := range b.Changes {
		rev, ok := mine(ch)
		if !ok {
			continue
		}
		one := b
		one.Changes = []wire.Change{ch}
		if err := u.cfg.VerifyBundle(&one); err != nil {
			out[rev] = webui.Signature{Detail: err.Error()}
		} else {
			out[rev] = webui.Signature{OK: true}
		}
	}
	return out, nil
}

// bundle downloads an Alliance's signed bundle, for alliancehub verify.
func (u *ui) bundle(c echo.Context) error {
	return u.site.Stream(c, "/v1/roster/"+url.PathEscape(c.Param("id"))+"/bundle", nil)
}

// programView is an enrolled program as GET /v1/programs shows it.
type programView struct {
	Code       string            `json:"code"`
	Name       string            `json:"name"`
	EnrolledAt time.Time         `json:"enrolled_at"`
	Keys       []keyView         `json:"keys"`
	Sync       webui.ProgramSync `json:"sync"`
	Health     webui.Health      `json:"-"`
}

type keyView struct {
	Kid          string     `json:"kid"`
	State        string     `json:"state"`
	AddedAt      time.Time  `json:"added_at"`
	NotBefore    *time.Time `json:"not_before"`
	NotAfter     *time.Time `json:"not_after"`
	RevokedAt    *time.Time `json:"revoked_at"`
	RevokeReason string     `json:"revoke_reason"`
	RevokedBy    string     `json:"revoked_by"`
	Source       string     `json:"source"`
	RotatedFrom  string     `json:"rotated_from"`
}

func (u *ui) programs(c echo.Context) error {
	var page struct {
		Items []programView `json:"items"`
	}
	if _, err := u.site.Call(c, http.MethodGet, "/v1/programs", nil, nil, nil, &page); err != nil {
		return err
	}
	now := u.site.Now()
	counts := map[string]int{}
	for i := range page.Items {
		page.Items[i].Health = page.Items[i].Sync.Health(now)
		counts[page.Items[i].Health.Level]++
	}
	return u.site.Render(c, http.StatusOK, "programs", "Programs and sync", struct {
		Items  []programView
		Counts map[string]int
	}{page.Items, counts})
}

func (u *ui) conflicts(c echo.Context) error {
	in := c.QueryParams()
	q := url.Values{}
	state := in.Get("state")
	switch state {
	case "all":
	case "acknowledged":
		q.Set("acknowledged", "true")
	default:
		state = "open"
		q.Set("acknowledged", "false")
	}
	if p := in.Get("program"); p != "" {
		q.Set("program", p)
	}
	if t := in.Get("page_token"); t != "" {
		q.Set("page_token", t)
	}
	var page struct {
		Items         []webui.Conflict `json:"items"`
		Total         int              `json:"total"`
		NextPageToken string           `json:"next_page_token"`
	}
	if _, err := u.site.Call(c, http.MethodGet, "/v1/conflicts", q, nil, nil, &page); err != nil {
		return err
	}
	for i := range page.Items {
		page.Items[i].LayOut()
	}
	var programs []webui.Option
	for _, code := range u.site.Catalog().Codes() {
		programs = append(programs, webui.Option{Value: code, Label: code, Selected: code == in.Get("program")})
	}
	next := ""
	if page.NextPageToken != "" {
		v := url.Values{"state": {state}, "page_token": {page.NextPageToken}}
		if p := in.Get("program"); p != "" {
			v.Set("program", p)
		}
		next = webui.Prefix + "/conflicts?" + v.Encode()
	}
	cl := webui.Claims(c)
	return u.site.Render(c, http.StatusOK, "conflicts", "Conflict queue", struct {
		Items    []webui.Conflict
		Total    int
		State    string
		States   []webui.Option
		Programs []webui.Option
		Next     string
		// CanAcknowledge mirrors the API's rule (analyst or admin) to offer the form only
		// to those it would accept from; the API still decides.
		CanAcknowledge bool
	}{page.Items, page.Total, state,
		[]webui.Option{{Value: "open", Label: "Open", Selected: state == "open"}, {Value: "acknowledged", Label: "Acknowledged", Selected: state == "acknowledged"}, {Value: "all", Label: "All", Selected: state == "all"}},
		programs, next, cl != nil && (cl.Role == auth.RoleAnalyst || cl.Role == auth.RoleAdmin)})
}

// maxNote is the API's bound on an acknowledgement's note.
const maxNote = 2000

func (u *ui) acknowledge(c echo.Context) error {
	id := c.Param("id")
	note := strings.TrimSpace(c.Request().PostForm.Get("note"))
	if len([]rune(note)) > maxNote {
		return edge.FieldProblem("note", fmt.Sprintf("is %d characters; at most %d", len([]rune(note)), maxNote))
	}
	if _, err := u.site.Call(c, http.MethodPost, "/v1/conflicts/"+url.PathEscape(id)+"/resolve", nil, map[string]string{"note": note}, nil, nil); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, webui.Prefix+"/conflicts?done=acknowledged")
}

// stats are the national totals (GET /v1/stats).
type stats struct {
	AsOf             string         `json:"as_of"`
	Total            int            `json:"total"`
	Records          int            `json:"records"`
	Duplicates       int            `json:"duplicates"`
	LinkedGroups     int            `json:"linked_groups"`
	ByProgram        map[string]int `json:"by_program"`
	RecordsByProgram map[string]int `json:"records_by_program"`
	ByLevel          map[string]int `json:"by_level"`
	ByStanding       map[string]int `json:"by_standing"`
	ByCategory       map[string]int `json:"by_category"`
	ByYearSigned     map[string]int `json:"by_year_signed"`
}

// Chart is a bar chart: one row per key, bars scaled to the largest.
type Chart struct {
	ID, Title, Note string
	Rows            []Bar
}

// Bar is one row of a chart; Width is the bar's share of the largest, as an SVG length.
type Bar struct {
	Label, Title, Href string
	N                  int
	Width              string
}

func chart(id, heading, note string, m map[string]int, order []string, label func(string) string, href func(string) string) Chart {
	return chartTitled(id, heading, note, m, order, label, func(string) string { return "" }, href)
}

func chartTitled(id, heading, note string, m map[string]int, order []string, label, title, href func(string) string) Chart {
	ch := Chart{ID: id, Title: heading, Note: note}
	most := 0
	for _, n := range m {
		most = max(most, n)
	}
	for _, k := range order {
		n := m[k]
		w := "0"
		if most > 0 {
			w = strconv.FormatFloat(float64(n)*100/float64(most), 'f', 1, 64) + "%"
		}
		b := Bar{Label: label(k), Title: title(k), N: n, Width: w}
		if href != nil {
			b.Href = href(k)
		}
		ch.Rows = append(ch.Rows, b)
	}
	return ch
}

func keys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (u *ui) totals(c echo.Context) error {
	q := url.Values{}
	asOf := c.QueryParam("as_of")
	if asOf != "" {
		q.Set("as_of", asOf)
	}
	var st stats
	_, err := u.site.Call(c, http.MethodGet, "/v1/stats", q, nil, nil, &st)
	var p *edge.Problem
	if errors.As(err, &p) && p.Status == http.StatusBadRequest {
		return u.site.Render(c, http.StatusBadRequest, "totals", "National totals", struct {
			AsOf    string
			Problem *edge.Problem
			Stats   *stats
			Charts  []Chart
		}{asOf, p, nil, nil})
	}
	if err != nil {
		return err
	}
	roster := func(param string) func(string) string {
		return func(k string) string {
			v := url.Values{param: {k}}
			if asOf != "" {
				v.Set("as_of", asOf)
			}
			return webui.Prefix + "/roster?" + v.Encode()
		}
	}
	same := func(k string) string { return k }
	years := keys(st.ByYearSigned)
	if i := slices.Index(years, "unknown"); i >= 0 { // drafts last
		years = append(slices.Delete(years, i, i+1), "unknown")
	}
	charts := []Chart{
		chartTitled("by-program", "By program", "Each Alliance counted once, under the program whose record represents it.",
			st.ByProgram, keys(st.ByProgram), same, u.site.ProgramName, roster("program")),
		chart("by-standing", "By standing", "Where each Alliance stands on "+st.AsOf+".",
			st.ByStanding, []string{"active", "expiring", "expired", "draft", "concluded", "terminated", "ambassador"}, webui.Label, roster("standing")),
		chart("by-category", "By national category", "An Alliance counts once in each national category its goals map to.",
			st.ByCategory, []string{schema.NationalAwareness, schema.NationalTraining, schema.NationalOutreach, schema.NationalDialogue},
			func(k string) string { return schema.NationalLabels[k] }, roster("category")),
		chart("by-year", "By year signed", "Drafts have no signing year (unknown).", st.ByYearSigned, years, same, nil),
		chart("by-level", "By level", "", st.ByLevel, []string{"national", "regional", "area", "state"}, webui.Label, roster("level")),
	}
	return u.site.Render(c, http.StatusOK, "totals", "National totals", struct {
		AsOf    string
		Problem *edge.Problem
		Stats   *stats
		Charts  []Chart
	}{asOf, nil, &st, charts})
}
