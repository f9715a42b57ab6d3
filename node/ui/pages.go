package ui

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/internal/webui"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/labstack/echo/v4"
)

// calendarLimit is the calendar's page size.
const calendarLimit = 100

// calendarItem is one entry of GET /v1/calendar.
type calendarItem struct {
	Date        schema.Date `json:"date"`
	Kind        string      `json:"kind"`
	State       string      `json:"state"`
	AllianceID  string      `json:"alliance_id"`
	Participant string      `json:"participant"`
	Period      string      `json:"period"`
	Detail      string      `json:"detail"`
}

func (u *ui) calendar(c echo.Context) error {
	in := c.QueryParams()
	keep := url.Values{}
	for _, k := range []string{"from", "to", "kind", "state"} {
		if v := in.Get(k); v != "" {
			keep.Set(k, v)
		}
	}
	api := url.Values{"limit": {strconv.Itoa(calendarLimit)}}
	for k, vs := range keep {
		api[k] = vs
	}
	if t := in.Get("page_token"); t != "" {
		api.Set("page_token", t)
	}
	var cal struct {
		AsOf    schema.Date `json:"as_of"`
		From    schema.Date `json:"from"`
		To      schema.Date `json:"to"`
		Summary struct {
			Alliances          int `json:"alliances"`
			ReportsOverdue     int `json:"reports_overdue"`
			ReportsDue         int `json:"reports_due"`
			Expiring           int `json:"expiring"`
			MeetingsShort      int `json:"meetings_short"`
			AmbassadorEligible int `json:"ambassador_eligible"`
		} `json:"summary"`
		Items         []calendarItem `json:"items"`
		Total         int            `json:"total"`
		NextPageToken string         `json:"next_page_token"`
	}
	d := struct {
		From, To      string
		Kinds, States []webui.Option
		Errors        map[string]string
		Cal           any
		Items         []calendarItem
		Total         int
		Pager         pager
		CanWrite      bool
	}{From: in.Get("from"), To: in.Get("to"), Errors: map[string]string{}, CanWrite: canWrite(c)}
	d.Kinds = webui.Options([]string{"report_due", "term_ends", "termination_effective", "ambassador_eligible", "meetings_short"}, in.Get("kind"))
	d.States = webui.Options([]string{"overdue", "due", "upcoming", "submitted", "eligible"}, in.Get("state"))
	_, err := u.site.Call(c, http.MethodGet, "/v1/calendar", api, nil, nil, &cal)
	var p *edge.Problem
	if errors.As(err, &p) && p.Status == http.StatusBadRequest {
		for _, fe := range p.Errors {
			d.Errors[fe.Field] = fe.Message
		}
		if len(p.Errors) == 0 {
			d.Errors["from"] = p.Detail
		}
		return u.site.Render(c, http.StatusBadRequest, "calendar", "Compliance calendar", d)
	}
	if err != nil {
		return err
	}
	if d.From == "" {
		d.From = cal.From.String()
	}
	if d.To == "" {
		d.To = cal.To.String()
	}
	d.Cal, d.Items, d.Total = &cal, cal.Items, cal.Total
	d.Pager = paging(webui.Prefix+"/calendar", keep, in, calendarLimit, len(cal.Items), cal.NextPageToken)
	return u.site.Render(c, http.StatusOK, "calendar", "Compliance calendar", d)
}

// syncStatus is GET /v1/sync/status (docs/PROTOCOL.md section 9).
type syncStatus struct {
	LastRun *struct {
		StartedAt  time.Time       `json:"started_at"`
		FinishedAt time.Time       `json:"finished_at"`
		Result     wire.SyncResult `json:"result"`
	} `json:"last_run"`
	LastSuccessAt  *time.Time    `json:"last_success_at"`
	LastError      string        `json:"last_error"`
	Checkpoint     uint64        `json:"checkpoint"`
	LastSeq        uint64        `json:"last_seq"`
	Outbox         uint64        `json:"outbox"`
	NextRun        *time.Time    `json:"next_run"`
	Rejected       []wire.Result `json:"rejected"`
	PullCheckpoint uint64        `json:"pull_checkpoint"`
	HubHeadSeq     uint64        `json:"hub_head_seq"`
	LastPullAt     *time.Time    `json:"last_pull_at"`
	LastBackstop   *struct {
		CheckedAt time.Time `json:"checked_at"`
	} `json:"last_backstop"`
}

// staleAfter is the hub's rule for a program it has not heard from (hub.StaleAfter).
const staleAfter = 36 * time.Hour

// health judges the node's sync as its staff should see it: red when the last run
// failed and nothing has succeeded for 36 hours (the hub calls the program stale then),
// amber when the last run failed, revisions wait to be sent or the hub refused some,
// green otherwise.
func (st *syncStatus) health(now time.Time) webui.Health {
	h := webui.Health{Level: "ok", Label: "In sync"}
	failed := st.LastError != ""
	old := st.LastSuccessAt == nil || now.Sub(*st.LastSuccessAt) > staleAfter
	switch {
	case failed && old:
		h.Level, h.Label = "bad", "Not reaching the hub"
	case failed:
		h.Level, h.Label = "warn", "Last run failed"
	case st.LastSuccessAt == nil:
		h.Level, h.Label = "warn", "Never synced"
	case st.Outbox > 0:
		h.Level, h.Label = "warn", "Changes waiting"
	}
	if failed {
		h.Reasons = append(h.Reasons, "The last run failed: "+st.LastError)
	}
	if st.LastSuccessAt == nil {
		h.Reasons = append(h.Reasons, "This node has never completed a sync with the hub.")
	} else if old {
		h.Reasons = append(h.Reasons, fmt.Sprintf("The last successful sync was %s.", st.LastSuccessAt.Format(time.RFC3339)))
	}
	if st.Outbox > 0 {
		h.Reasons = append(h.Reasons, fmt.Sprintf("%d revision(s) are waiting to be sent to the hub.", st.Outbox))
	}
	if len(st.Rejected) > 0 {
		if h.Level == "ok" {
			h.Level, h.Label = "warn", "Records refused"
		}
		h.Reasons = append(h.Reasons, fmt.Sprintf("The hub refused %d record(s); they are listed below and are not sent again.", len(st.Rejected)))
	}
	return h
}

func (u *ui) syncPage(c echo.Context) error {
	var st syncStatus
	if _, err := u.site.Call(c, http.MethodGet, "/v1/sync/status", nil, nil, nil, &st); err != nil {
		return err
	}
	return u.site.Render(c, http.StatusOK, "sync", "Sync", struct {
		S        *syncStatus
		Health   webui.Health
		CanWrite bool
	}{&st, st.health(u.site.Now()), canWrite(c)})
}

// syncNow runs a sync (POST /v1/sync) and shows the outcome. A run takes as long as it
// takes (its retry budget is minutes): the page waits for it.
func (u *ui) syncNow(c echo.Context) error {
	// The run may outlast the server's write timeout, as the API's own handler allows.
	http.NewResponseController(c.Response().Writer).SetWriteDeadline(time.Time{})
	var res wire.SyncResult
	_, err := u.site.Call(c, http.MethodPost, "/v1/sync", nil, nil, nil, &res)
	var p *edge.Problem
	if errors.As(err, &p) && p.Status == http.StatusConflict {
		return c.Redirect(http.StatusSeeOther, webui.Prefix+"/sync?done=sync-busy")
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, webui.Prefix+"/sync?done=synced")
}
