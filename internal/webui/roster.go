package webui

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/labstack/echo/v4"
)

// AddRoster adds the national roster's pages: the table (with the contract's filters,
// sorting, paging and search), its CSV download, and one Alliance's page. The hub serves
// them from its roster, a node from its replica; both answer GET /v1/roster alike.
func (s *Site) AddRoster() {
	s.GET("/roster", s.rosterPage)
	s.GET("/roster.csv", s.rosterCSV)
	s.GET("/roster/:id", s.entryPage)
}

// rosterParams are the roster API's query parameters the page passes on (CONTRACT.md,
// GET /v1/roster); page_token and limit page, the rest filter and sort.
var rosterParams = []string{"program", "level", "status", "standing", "category", "q", "as_of", "sort"}

// pageSizes are the page sizes offered.
var pageSizes = []int{25, 50, 100, 250}

// Option is one choice of a select.
type Option struct {
	Value, Label string
	Selected     bool
}

// Options makes a select's options from values, labelled with Label, with cur selected.
func Options(values []string, cur string) []Option {
	out := make([]Option, len(values))
	for i, v := range values {
		out[i] = Option{Value: v, Label: Label(v), Selected: v == cur}
	}
	return out
}

// Column is a roster table's column header: sortable ones link to the order they give.
type Column struct {
	Label string
	Href  string // "" when it does not sort
	Sort  string // aria-sort: ascending, descending or ""
}

// ReplicaInfo says how fresh a node's replica of the roster is.
type ReplicaInfo struct {
	AppliedSeq uint64     `json:"applied_seq"`
	HubHeadSeq uint64     `json:"hub_head_seq"`
	PulledAt   *time.Time `json:"pulled_at"`
}

type rosterAnswer struct {
	Items         []wire.RosterItem `json:"items"`
	Total         int               `json:"total"`
	NextPageToken string            `json:"next_page_token"`
	Replica       *ReplicaInfo      `json:"replica"`
}

type rosterData struct {
	Q, AsOf                                           string
	Programs, Levels, Statuses, Standings, Categories []Option
	Limits                                            []Option
	Errors                                            map[string]string
	Columns                                           []Column
	Items                                             []wire.RosterItem
	Total, From, To                                   int
	First, Prev, Next, CSV                            string
	Filtered                                          bool
	Replica                                           *ReplicaInfo
	NoReplica                                         bool // a node that has not pulled yet
}

func (s *Site) rosterPage(c echo.Context) error {
	in := c.QueryParams()
	q := url.Values{}
	for _, k := range rosterParams {
		if v := in.Get(k); v != "" {
			q.Set(k, v)
		}
	}
	limit := 50
	if n, err := strconv.Atoi(in.Get("limit")); err == nil && slices.Contains(pageSizes, n) {
		limit = n
	}
	trail := in["trail"] // the page tokens of the pages before this one, first page first
	if len(trail) > 100 {
		trail = trail[len(trail)-100:]
	}
	d := rosterData{Q: in.Get("q"), AsOf: in.Get("as_of"), Errors: map[string]string{}}
	for _, k := range rosterParams {
		if k != "sort" && in.Get(k) != "" {
			d.Filtered = true
		}
	}
	d.Programs = []Option{}
	for _, code := range s.catalog.Codes() {
		d.Programs = append(d.Programs, Option{Value: code, Label: code + " · " + s.ProgramName(code), Selected: code == in.Get("program")})
	}
	d.Levels = Options([]string{"national", "regional", "area", "state"}, in.Get("level"))
	d.Statuses = Options([]string{"draft", "active", "renewed", "concluded", "terminated", "ambassador"}, in.Get("status"))
	d.Standings = Options([]string{"draft", "active", "expiring", "expired", "concluded", "terminated", "ambassador"}, in.Get("standing"))
	d.Categories = nil
	for _, n := range []string{schema.NationalAwareness, schema.NationalTraining, schema.NationalOutreach, schema.NationalDialogue} {
		d.Categories = append(d.Categories, Option{Value: n, Label: schema.NationalLabels[n], Selected: n == in.Get("category")})
	}
	for _, n := range pageSizes {
		d.Limits = append(d.Limits, Option{Value: strconv.Itoa(n), Label: strconv.Itoa(n), Selected: n == limit})
	}

	// Links keep the filters and the page size; each names what it changes.
	link := func(change func(url.Values)) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		if limit != 50 {
			v.Set("limit", strconv.Itoa(limit))
		}
		change(v)
		if len(v) == 0 {
			return Prefix + "/roster"
		}
		return Prefix + "/roster?" + v.Encode()
	}
	cur := in.Get("sort")
	for _, col := range []struct{ label, sort string }{
		{"Alliance", "id"}, {"Program", "program"}, {"Participant", "participant"}, {"Level", ""},
		{"Signed", "signed_on"}, {"Expires", "expires_on"}, {"Standing", ""}, {"National categories", ""}, {"Reports", ""},
	} {
		cl := Column{Label: col.label}
		if col.sort != "" {
			next := col.sort
			switch cur {
			case col.sort:
				cl.Sort, next = "ascending", "-"+col.sort
			case "-" + col.sort:
				cl.Sort = "descending"
			case "":
				if col.sort == "id" {
					cl.Sort, next = "ascending", "-id"
				}
			}
			cl.Href = link(func(v url.Values) { v.Set("sort", next) })
		}
		d.Columns = append(d.Columns, cl)
	}
	d.CSV = Prefix + "/roster.csv"
	if len(q) > 0 {
		d.CSV += "?" + q.Encode()
	}

	api := url.Values{}
	for k, vs := range q {
		api[k] = vs
	}
	api.Set("limit", strconv.Itoa(limit))
	if tok := in.Get("page_token"); tok != "" {
		api.Set("page_token", tok)
	}
	var page rosterAnswer
	_, err := s.Call(c, http.MethodGet, "/v1/roster", api, nil, nil, &page)
	var p *edge.Problem
	switch {
	case errors.As(err, &p) && p.Status == http.StatusBadRequest && len(p.Errors) > 0:
		for _, fe := range p.Errors {
			d.Errors[fe.Field] = fe.Message
		}
		return s.Render(c, http.StatusBadRequest, "roster", "National roster", d)
	case errors.As(err, &p) && p.Status == http.StatusServiceUnavailable:
		d.NoReplica = true
		return s.Render(c, http.StatusOK, "roster", "National roster", d)
	case err != nil:
		return err
	}
	d.Items, d.Total, d.Replica = page.Items, page.Total, page.Replica
	d.From = len(trail)*limit + 1
	d.To = d.From + len(page.Items) - 1
	if page.NextPageToken != "" {
		d.Next = link(func(v url.Values) {
			v.Set("page_token", page.NextPageToken)
			v["trail"] = append(slices.Clone(trail), in.Get("page_token"))
		})
	}
	if len(trail) > 0 {
		d.First = link(func(url.Values) {})
		d.Prev = link(func(v url.Values) {
			if t := trail[len(trail)-1]; t != "" {
				v.Set("page_token", t)
			}
			if len(trail) > 1 {
				v["trail"] = slices.Clone(trail[:len(trail)-1])
			}
		})
	}
	return s.Render(c, http.StatusOK, "roster", "National roster", d)
}

// rosterCSV downloads the table's current view (its filters and order, every page) as
// the API's CSV. A browser cannot send a bearer header with a link, so the page links
// here and the session's token goes with the API call.
func (s *Site) rosterCSV(c echo.Context) error {
	q := url.Values{}
	for _, k := range rosterParams {
		if v := c.QueryParam(k); v != "" {
			q.Set(k, v)
		}
	}
	q.Set("format", "csv")
	return s.Stream(c, "/v1/roster", q)
}

// Entry is one Alliance as GET /v1/roster/{id} shows it.
type Entry struct {
	wire.RosterItem
	Revisions []Revision   `json:"revisions"`
	Reports   []ReportRef  `json:"reports"`
	Node      *ProgramSync `json:"node"`
}

// Revision is one stored revision of an Alliance, with who signed it when, and (on the
// hub) whether its signature verifies again now.
type Revision struct {
	Rev          string     `json:"rev"`
	PrevRev      string     `json:"prev_rev"`
	Kind         string     `json:"kind"`
	Kid          string     `json:"kid"`
	SignedAt     time.Time  `json:"signed_at"`
	ReceivedAt   time.Time  `json:"received_at"`
	HubSeq       uint64     `json:"hub_seq"`
	Resolves     []string   `json:"resolves"`
	KeyRevokedAt *time.Time `json:"key_revoked_at"`
	Leaf         bool       `json:"leaf"`
	Winner       bool       `json:"winner"`
	Signature    *Signature `json:"-"`
}

// ReportRef names one of an Alliance's reports.
type ReportRef struct {
	ID       string `json:"id"`
	Period   string `json:"period"`
	Rev      string `json:"rev"`
	Conflict bool   `json:"conflict"`
}

type entryData struct {
	Entry
	Health      *Health
	Verified    bool   // signatures were checked again (the hub)
	VerifyError string // why they could not be
	LinkOthers  map[string]string
	Bundle      string
	LinkPage    string // where a link is reviewed, its id appended ("" on a node)
}

func (s *Site) entryPage(c echo.Context) error {
	id := c.Param("id")
	q := url.Values{}
	if v := c.QueryParam("as_of"); v != "" {
		q.Set("as_of", v)
	}
	var d entryData
	if _, err := s.Call(c, http.MethodGet, "/v1/roster/"+url.PathEscape(id), q, nil, nil, &d.Entry); err != nil {
		return err
	}
	if d.Node != nil {
		h := d.Node.Health(s.cfg.Now())
		d.Health = &h
	}
	if s.cfg.Signatures != nil {
		sigs, err := s.cfg.Signatures(c, id)
		if err != nil {
			d.VerifyError = err.Error()
		} else {
			d.Verified = true
			for i := range d.Revisions {
				if sig, ok := sigs[d.Revisions[i].Rev]; ok {
					d.Revisions[i].Signature = &sig
				} else {
					d.Revisions[i].Signature = &Signature{Detail: "not in the hub's export of this Alliance"}
				}
			}
		}
		d.Bundle = Prefix + "/roster/" + url.PathEscape(id) + "/bundle"
	}
	d.LinkPage = s.cfg.LinkPage
	d.LinkOthers = map[string]string{}
	for _, l := range d.Links {
		for _, r := range l.Records {
			if r.ID != d.ID {
				d.LinkOthers[l.ID] = r.ID
			}
		}
	}
	title := d.ID
	if len(d.Participants) > 0 {
		title = d.Participants[0].Name
	}
	return s.Render(c, http.StatusOK, "entry", title, d)
}
