package node

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/internal/edge"
	nodeui "github.com/alliancehub/alliancehub/node/ui"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/labstack/echo/v4"
)

// errorRules maps the node's domain errors to HTTP answers.
var errorRules = []edge.Rule{
	{Err: ErrNotFound, Status: http.StatusNotFound, Slug: "not-found"},
	{Err: errBadPageToken, Status: http.StatusBadRequest, Slug: "invalid-request"},
	{Err: ErrSyncRunning, Status: http.StatusConflict, Slug: "sync-running"},
	{Err: ErrNotConflicted, Status: http.StatusConflict, Slug: "not-conflicted"},
	{Err: ErrPreconditionRequired, Status: http.StatusPreconditionRequired, Slug: "precondition-required"},
	{Err: ErrStaleRev, Status: http.StatusPreconditionFailed, Slug: "precondition-failed"},
	{Err: ErrDeleted, Status: http.StatusGone, Slug: "deleted"},
	{Err: ErrNotDraft, Status: http.StatusConflict, Slug: "not-a-draft"},
	{Err: ErrNoReport, Status: http.StatusNotFound, Slug: "not-found"},
	// GET /v1/roster/{id} for an id the replica does not hold (it answered 500).
	{Err: hub.ErrNotOnRoster, Status: http.StatusNotFound, Slug: "not-found"},
	// CSV import refusals (docs/CSV.md): the file is refused whole, nothing written.
	{Err: ErrImportTooLarge, Status: http.StatusRequestEntityTooLarge, Slug: "too-large"},
	{Err: ErrCSVEmpty, Status: http.StatusUnprocessableEntity, Slug: "csv-empty"},
	{Err: ErrCSVEncoding, Status: http.StatusUnprocessableEntity, Slug: "csv-encoding"},
	{Err: ErrCSVSyntax, Status: http.StatusUnprocessableEntity, Slug: "csv-syntax"},
	{Err: ErrCSVTooManyRows, Status: http.StatusUnprocessableEntity, Slug: "csv-too-many-rows"},
	{Err: schema.ErrCSVNoHeader, Status: http.StatusUnprocessableEntity, Slug: "csv-no-header"},
	{Err: schema.ErrCSVMissingColumn, Status: http.StatusUnprocessableEntity, Slug: "csv-missing-column"},
	{Err: schema.ErrCSVUnknownColumn, Status: http.StatusUnprocessableEntity, Slug: "csv-unknown-column"},
	{Err: schema.ErrCSVDuplicateColumn, Status: http.StatusUnprocessableEntity, Slug: "csv-duplicate-column"},
}

func (n *Node) routes() http.Handler {
	e := edge.New(n.log, errorRules)
	e.Use(n.metrics.Middleware())
	e.GET("/metrics", n.metrics.Handler())          // no token (CONTRACT.md)
	e.GET("/openapi.json", nodeOpenAPI().Handler()) // no token (CONTRACT.md); openapi.go
	e.GET("/healthz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })
	e.GET("/readyz", func(c echo.Context) error {
		// A store whose last commit could not be made durable refuses everything until
		// the server restarts: not ready.
		if err := n.journal.Broken(); err != nil {
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "store not durable; restart the server", "error": err.Error()})
		}
		return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
	})
	e.GET("/.well-known/jwks.json", func(c echo.Context) error {
		return c.JSON(http.StatusOK, auth.JWKS(n.key.PublicJWK()))
	})

	v1 := e.Group("/v1", edge.Authenticate(n.verifyToken))
	v1.POST("/alliances", n.handleCreate)
	v1.GET("/alliances", n.handleList)
	v1.GET("/alliances/:id", n.handleGet)
	v1.PUT("/alliances/:id", n.handleReplace)
	v1.POST("/alliances/:id/renew", n.handleRenew)
	v1.POST("/alliances/:id/terminate", n.handleTerminate)
	v1.POST("/alliances/:id/conclude", n.handleConclude)
	v1.POST("/alliances/:id/ambassador", n.handleAmbassador)
	v1.POST("/alliances/:id/addenda", n.handleAmend)
	v1.DELETE("/alliances/:id", n.handleDelete)
	v1.POST("/alliances/:id/reports", n.handlePutReport)
	v1.GET("/alliances/:id/reports", n.handleReports)
	v1.GET("/alliances/:id/reports/:period", n.handleReport)
	v1.GET("/alliances/:id/compliance", n.handleCompliance)
	v1.GET("/calendar", n.handleCalendar)
	v1.POST("/import", n.handleImport)
	v1.POST("/sync", n.handleSync)
	v1.POST("/keys/rotate", n.handleRotateKey)
	v1.GET("/sync/status", n.handleSyncStatus)
	v1.GET("/roster", n.handleRoster)
	v1.GET("/roster/:id", n.handleEntry)
	v1.GET("/conflicts", n.handleConflicts)
	v1.POST("/alliances/:id/resolve", n.handleResolve)
	v1.POST("/alliances/:id/reports/:period/resolve", n.handleResolveReport)

	// The web UI (issue 8): pages under /ui/ that call this API in-process with the
	// signed-in user's token, so each role may do there what it may do here.
	nodeui.Mount(e, nodeui.Config{API: e, Verify: n.verifyToken, Program: n.program, Catalog: n.catalog, Log: n.log, Now: n.now})
	return e
}

// verifyToken accepts tokens signed by the node's own key. A program token must be for
// this node's program.
func (n *Node) verifyToken(raw string) (*auth.Claims, error) {
	now := n.now()
	c, _, err := n.tokens.Verify(raw, n.key.tokenKeys(now), now) // its key, and earlier ones until their end (keys.go)
	if err != nil {
		return nil, err
	}
	if c.Role == auth.RoleProgram && c.Program != n.program.Code {
		return nil, edge.Errorf(http.StatusForbidden, "forbidden", "token is for program %s; this node serves %s", c.Program, n.program.Code)
	}
	return c, nil
}

// canWrite: the program's own staff and admins change records; analysts read.
func canWrite(c echo.Context) error { return edge.Require(c, auth.RoleProgram, auth.RoleAdmin) }

func (n *Node) handleCreate(c echo.Context) error {
	if err := canWrite(c); err != nil {
		return err
	}
	var a schema.Alliance
	if err := edge.DecodeJSON(c, &a); err != nil {
		return err
	}
	out, err := n.Create(&a)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/alliances/"+out.ID)
	c.Response().Header().Set("ETag", `"`+out.Rev+`"`)
	return c.JSON(http.StatusCreated, out)
}

func (n *Node) handleGet(c echo.Context) error {
	a, err := n.Get(c.Param("id"))
	if err != nil {
		return err
	}
	return answer(c, a, nil)
}

// ifMatch reads the If-Match header: an entity tag, quoted or not.
func ifMatch(c echo.Context) string {
	v := strings.TrimSpace(c.Request().Header.Get("If-Match"))
	v = strings.TrimPrefix(v, "W/")
	return strings.Trim(v, `"`)
}

// answer sends a record with its revision as the ETag.
func answer(c echo.Context, a *schema.Alliance, err error) error {
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", `"`+a.Rev+`"`)
	return c.JSON(http.StatusOK, a)
}

func (n *Node) handleReplace(c echo.Context) error {
	if err := canWrite(c); err != nil {
		return err
	}
	var a schema.Alliance
	if err := edge.DecodeJSON(c, &a); err != nil {
		return err
	}
	out, err := n.Replace(c.Param("id"), ifMatch(c), &a)
	return answer(c, out, err)
}

func (n *Node) handleRenew(c echo.Context) error {
	if err := canWrite(c); err != nil {
		return err
	}
	var req struct {
		SignedOn   schema.Date `json:"signed_on"`
		TermMonths int         `json:"term_months"`
	}
	if err := edge.DecodeJSON(c, &req); err != nil {
		return err
	}
	out, err := n.Renew(c.Param("id"), ifMatch(c), req.SignedOn, req.TermMonths)
	return answer(c, out, err)
}

func (n *Node) handleTerminate(c echo.Context) error {
	if err := canWrite(c); err != nil {
		return err
	}
	var req struct {
		NoticeOn schema.Date `json:"notice_on"`
		Reason   string      `json:"reason"`
	}
	if err := edge.DecodeJSON(c, &req); err != nil {
		return err
	}
	out, err := n.Terminate(c.Param("id"), ifMatch(c), req.NoticeOn, strings.TrimSpace(req.Reason))
	return answer(c, out, err)
}

// today is the date in the program's time zone.
func (n *Node) today() schema.Date { return schema.DateOf(n.now().In(n.program.Location())) }

// dayParam reads a full date query parameter, def when absent; a bad one is added to
// errs.
func dayParam(c echo.Context, errs *schema.ValidationError, name string, def schema.Date) schema.Date {
	s := c.QueryParam(name)
	if s == "" {
		return def
	}
	d, err := schema.ParseDate(s)
	if err != nil || d.Precision() != schema.PrecisionDay {
		errs.Add(name, "must be a date YYYY-MM-DD")
		return def
	}
	return d
}

// listFilter reads the list's query parameters (CONTRACT.md: "filters as the roster"),
// naming every bad one in one answer, and the format (json or csv).
func (n *Node) listFilter(c echo.Context) (Filter, string, error) {
	var errs schema.ValidationError
	f := Filter{
		Program:  c.QueryParam("program"),
		Level:    schema.Level(c.QueryParam("level")),
		Status:   schema.Status(c.QueryParam("status")),
		Standing: schema.Standing(c.QueryParam("standing")),
		Query:    c.QueryParam("q"),
		Token:    c.QueryParam("page_token"),
	}
	f.AsOf = dayParam(c, &errs, "as_of", n.today())
	// A node holds one program's records: another program's code matches none of them,
	// as it would on the roster; a string that is no program code is a mistake.
	if f.Program != "" && !schema.ValidProgramCode(f.Program) {
		errs.Add("program", "is not a program code")
	}
	if f.Level != "" && !slices.Contains(n.program.Levels, f.Level) {
		errs.Add("level", fmt.Sprintf("%q is not a level of program %s", f.Level, n.program.Code))
	}
	if f.Status != "" && !f.Status.Valid() {
		errs.Add("status", "must be draft, active, renewed, concluded, terminated or ambassador")
	}
	if f.Standing != "" && !f.Standing.Valid() {
		errs.Add("standing", "must be draft, active, expiring, expired, concluded, terminated or ambassador")
	}
	// category is the program's own (code or label) or, as on the roster, national.
	if cat := c.QueryParam("category"); cat != "" {
		if pc, ok := n.program.Category(cat); ok {
			f.Category = pc.Code
		} else if _, ok := schema.NationalLabels[cat]; ok {
			f.National = cat
		} else {
			errs.Add("category", "is neither one of the program's goal categories nor a national category")
		}
	}
	format := c.QueryParam("format")
	if !slices.Contains([]string{"", "json", "csv"}, format) {
		errs.Add("format", "must be json or csv")
	}
	if _, ok := afterToken(f.Token); !ok {
		errs.Add("page_token", "is not one this server issued")
	}
	// An export is every match, not paged; a bad limit is still named.
	f.Limit = edge.PageLimit(c, &errs, DefaultPageSize, MaxPageSize)
	return f, format, edge.QueryProblem(&errs)
}

func (n *Node) handleList(c echo.Context) error {
	f, format, err := n.listFilter(c)
	if err != nil {
		return err
	}
	if format == "csv" {
		return n.handleListCSV(c, f) // every match, not paged
	}
	page, err := n.List(f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}

func (n *Node) handleConclude(c echo.Context) error {
	if err := canWrite(c); err != nil {
		return err
	}
	var req struct {
		ConcludedOn schema.Date `json:"concluded_on"`
	}
	if err := edge.DecodeJSON(c, &req); err != nil {
		return err
	}
	out, err := n.Conclude(c.Param("id"), ifMatch(c), req.ConcludedOn)
	return answer(c, out, err)
}

func (n *Node) handleAmbassador(c echo.Context) error {
	if err := canWrite(c); err != nil {
		return err
	}
	var req struct {
		On schema.Date `json:"on"`
	}
	if err := edge.DecodeJSON(c, &req); err != nil {
		return err
	}
	out, err := n.MakeAmbassador(c.Param("id"), ifMatch(c), req.On)
	return answer(c, out, err)
}

func (n *Node) handleAmend(c echo.Context) error {
	if err := canWrite(c); err != nil {
		return err
	}
	var req struct {
		SignedOn schema.Date          `json:"signed_on"`
		Added    []schema.Participant `json:"added"`
		Removed  []string             `json:"removed"`
		Note     string               `json:"note"`
	}
	if err := edge.DecodeJSON(c, &req); err != nil {
		return err
	}
	out, err := n.Amend(c.Param("id"), ifMatch(c), req.SignedOn, req.Added, req.Removed, req.Note)
	return answer(c, out, err)
}

func (n *Node) handleDelete(c echo.Context) error {
	if err := canWrite(c); err != nil {
		return err
	}
	out, err := n.Delete(c.Param("id"), ifMatch(c), c.QueryParam("reason"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (n *Node) handlePutReport(c echo.Context) error {
	if err := canWrite(c); err != nil {
		return err
	}
	var r schema.Report
	if err := edge.DecodeJSON(c, &r); err != nil {
		return err
	}
	// A new period's report needs no If-Match; revising one does (reports.go, PutReport).
	out, created, err := n.PutReport(c.Param("id"), ifMatch(c), &r)
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", `"`+out.Rev+`"`)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		c.Response().Header().Set(echo.HeaderLocation, "/v1/alliances/"+out.AllianceID+"/reports/"+out.Period)
	}
	return c.JSON(status, out)
}

func (n *Node) handleReports(c echo.Context) error {
	if _, err := n.Get(c.Param("id")); err != nil {
		return err
	}
	rs, err := n.Reports(c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": rs, "total": len(rs), "next_page_token": ""})
}

func (n *Node) handleReport(c echo.Context) error {
	if _, err := n.Get(c.Param("id")); err != nil {
		return err
	}
	r, err := n.Report(c.Param("id"), c.Param("period"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", `"`+r.Rev+`"`)
	return c.JSON(http.StatusOK, r)
}

func (n *Node) handleCompliance(c echo.Context) error {
	var errs schema.ValidationError
	asOf := dayParam(c, &errs, "as_of", n.today())
	if err := edge.QueryProblem(&errs); err != nil {
		return err
	}
	out, err := n.Compliance(c.Param("id"), asOf)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// calendarKinds and calendarStates are the calendar's filter values.
var (
	calendarKinds  = []string{ItemReportDue, ItemTermEnds, ItemTerminationEffective, ItemAmbassadorEligible, ItemMeetingsShort}
	calendarStates = []string{schema.ObligationUpcoming, schema.ObligationDue, schema.ObligationOverdue, schema.ObligationSubmitted, "eligible"}
)

// maxCalendarDays bounds a calendar window.
const maxCalendarDays = 3660

func (n *Node) handleCalendar(c echo.Context) error {
	var errs schema.ValidationError
	q := CalendarQuery{AllianceID: c.QueryParam("alliance_id"), Kind: c.QueryParam("kind"), State: c.QueryParam("state"), Token: c.QueryParam("page_token")}
	q.AsOf = dayParam(c, &errs, "as_of", n.today())
	q.From = dayParam(c, &errs, "from", q.AsOf)
	q.To = dayParam(c, &errs, "to", schema.DateOf(q.From.First().AddDate(0, 0, 90)))
	if !slices.ContainsFunc(errs.Fields, func(f schema.FieldError) bool { return f.Field == "from" || f.Field == "to" }) {
		switch days := q.To.First().Sub(q.From.First()).Hours() / 24; {
		case days < 0:
			errs.Add("to", fmt.Sprintf("%s is before from (%s)", q.To, q.From))
		case days > maxCalendarDays:
			errs.Add("to", fmt.Sprintf("the window is %.0f days; at most %d", days, maxCalendarDays))
		}
	}
	if q.Kind != "" && !slices.Contains(calendarKinds, q.Kind) {
		errs.Add("kind", "must be one of "+strings.Join(calendarKinds, ", "))
	}
	if q.State != "" && !slices.Contains(calendarStates, q.State) {
		errs.Add("state", "must be one of "+strings.Join(calendarStates, ", "))
	}
	if _, ok := calendarOffset(q.Token); !ok {
		errs.Add("page_token", "is not one this server issued")
	}
	q.Limit = edge.PageLimit(c, &errs, DefaultPageSize, MaxPageSize)
	if err := edge.QueryProblem(&errs); err != nil {
		return err
	}
	if q.AllianceID != "" {
		if _, err := n.Get(q.AllianceID); err != nil {
			return err
		}
	}
	cal, err := n.Calendar(q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cal)
}

func (n *Node) handleSync(c echo.Context) error {
	if err := canWrite(c); err != nil {
		return err
	}
	// A run may outlast the server's write timeout (its retry budget is minutes); it is
	// bounded by that budget, so lift the deadline for this answer.
	http.NewResponseController(c.Response().Writer).SetWriteDeadline(time.Time{})
	// A failed run still answers 200 with its counts and "error" (CONTRACT.md): the
	// request succeeded in running the sync; what the sync met is in the body.
	var backstop bool
	switch c.QueryParam("backstop") {
	case "", "false":
	case "true":
		backstop = true
	default:
		return edge.FieldProblem("backstop", "must be true or false")
	}
	res, err := n.trySync(c.Request().Context(), backstop)
	if errors.Is(err, ErrSyncRunning) {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func (n *Node) handleSyncStatus(c echo.Context) error {
	st, err := n.Status()
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}

// Routes lists the method and path of every route the node serves ("GET /v1/roster",
// echo's path syntax), sorted, for tests that must cover each one. The catch-all routes
// echo adds so a group's middleware runs on unknown paths are left out.
func (n *Node) Routes() []string {
	e, ok := n.handler.(*echo.Echo)
	if !ok {
		return nil
	}
	var out []string
	for _, r := range e.Routes() {
		if r.Method != echo.RouteNotFound {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	slices.Sort(out)
	return out
}
