package hub

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	hubui "github.com/alliancehub/alliancehub/hub/ui"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/labstack/echo/v4"
)

// errorRules maps the hub's domain errors to HTTP answers (the one table at the edge).
var errorRules = []edge.Rule{
	{Err: ErrNotOwner, Status: http.StatusForbidden, Slug: "not-owner"},
	{Err: ErrBadBatch, Status: http.StatusBadRequest, Slug: "bad-batch"},
	{Err: ErrClockSkew, Status: http.StatusBadRequest, Slug: "clock-skew"},
	{Err: ErrRulesDiffer, Status: http.StatusConflict, Slug: "rules-differ"},
	{Err: ErrTooManyPushes, Status: http.StatusTooManyRequests, Slug: "too-many-pushes"},
	{Err: ErrNotEnrolled, Status: http.StatusForbidden, Slug: "not-enrolled"},
	{Err: ErrUnknownProgram, Status: http.StatusBadRequest, Slug: "unknown-program"},
	{Err: ErrKeyInUse, Status: http.StatusConflict, Slug: "key-in-use"},
	{Err: ErrNoSuchKey, Status: http.StatusNotFound, Slug: "not-found"},
	{Err: ErrAlreadyRevoked, Status: http.StatusConflict, Slug: "already-revoked"},
	{Err: ErrKeyConflict, Status: http.StatusConflict, Slug: "key-conflict"},
	{Err: ErrBadRotation, Status: http.StatusBadRequest, Slug: "bad-rotation"},
	{Err: auth.ErrKeyRevoked, Status: http.StatusUnauthorized, Slug: "key-revoked"},
	{Err: auth.ErrKeyNotValid, Status: http.StatusUnauthorized, Slug: "key-not-valid"},
	{Err: ErrNotConflicted, Status: http.StatusNotFound, Slug: "not-conflicted"},
	{Err: ErrNotOnRoster, Status: http.StatusNotFound, Slug: "not-found"},
	{Err: errBadPageToken, Status: http.StatusBadRequest, Slug: "invalid-request"},
	{Err: ErrUnknownLink, Status: http.StatusNotFound, Slug: "unknown-link"},
	{Err: auth.ErrUnknownKey, Status: http.StatusUnauthorized, Slug: "unknown-key"},
	{Err: auth.ErrBadSignature, Status: http.StatusUnauthorized, Slug: "bad-signature"},
	{Err: auth.ErrMalformed, Status: http.StatusBadRequest, Slug: "malformed-jws"},
	{Err: auth.ErrWrongType, Status: http.StatusBadRequest, Slug: "malformed-jws"},
}

func (h *Hub) routes() http.Handler {
	e := edge.New(h.log, errorRules)
	e.Use(h.metrics.Middleware())
	e.GET("/metrics", h.metrics.Handler())         // no token (CONTRACT.md)
	e.GET("/openapi.json", hubOpenAPI().Handler()) // no token (CONTRACT.md); openapi.go
	e.GET("/healthz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })
	e.GET("/readyz", func(c echo.Context) error {
		// A store whose last commit could not be made durable refuses everything until
		// the server restarts: not ready.
		if err := h.journal.Broken(); err != nil {
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "store not durable; restart the server", "error": err.Error()})
		}
		return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
	})
	e.GET("/.well-known/jwks.json", func(c echo.Context) error {
		return c.JSON(http.StatusOK, auth.JWKS(h.key.PublicJWK()))
	})

	v1 := e.Group("/v1", edge.Authenticate(h.verifyToken))
	v1.POST("/programs", h.handleEnroll)
	v1.GET("/programs", h.handlePrograms)
	v1.POST("/programs/:code/keys", h.handleAddKey)
	v1.POST("/programs/:code/keys/:kid/revoke", h.handleRevoke)
	v1.POST("/sync/push", h.handlePush)
	v1.GET("/sync/changes", h.handleChanges)
	v1.GET("/sync/keys", h.handleKeys)
	v1.GET("/sync/digest", h.handleDigest)
	v1.GET("/roster", h.handleRoster)
	v1.GET("/roster/:id", h.handleEntry)
	v1.GET("/roster/:id/bundle", h.handleBundle)
	v1.GET("/conflicts", h.handleConflicts)
	v1.GET("/conflicts/:id", h.handleConflict)
	v1.POST("/conflicts/:id/resolve", h.handleResolve)
	v1.GET("/links", h.handleLinks)
	v1.GET("/links/:id", h.handleLink)
	v1.POST("/links/:id/confirm", h.handleConfirmLink)
	v1.POST("/links/:id/reject", h.handleRejectLink)
	v1.GET("/stats", h.handleStats)

	// The web UI (issue 8): pages under /ui/ that call this API in-process with the
	// signed-in user's token, so each role may do there what it may do here.
	hubJWK := h.key.PublicJWK()
	hubui.Mount(e, hubui.Config{API: e, Verify: h.verifyToken, Catalog: h.catalog, Log: h.log, Now: h.now,
		VerifyBundle: func(b *wire.Bundle) error { _, _, err := VerifyBundle(b, &hubJWK); return err }})
	return e
}

func (h *Hub) handleEnroll(c echo.Context) error {
	if err := edge.Require(c, auth.RoleAdmin); err != nil {
		return err
	}
	var req Enrollment
	if err := edge.DecodeJSON(c, &req); err != nil {
		return err
	}
	view, created, err := h.Enroll(req)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	h.log.Info("program enrolled", "program", view.Code, "keys", len(view.Keys), "by", edge.Claims(c).Subject)
	return c.JSON(status, view)
}

func (h *Hub) handlePrograms(c echo.Context) error {
	items := h.Programs()
	return c.JSON(http.StatusOK, map[string]any{"items": items, "total": len(items), "next_page_token": ""})
}

func (h *Hub) handlePush(c echo.Context) error {
	if err := edge.Require(c, auth.RoleProgram); err != nil {
		return err
	}
	caller := edge.Claims(c)
	// The slot is taken before the body is read, keyed on the token's program: a push
	// beyond a limit costs the hub its headers only, and nothing of it is applied.
	release, err := h.pushes.acquire(caller.Program)
	if err != nil {
		var le *PushLimitError
		if errors.As(err, &le) {
			c.Response().Header().Set("Retry-After", strconv.Itoa(int(le.RetryAfter/time.Second)))
			h.log.Info("push refused: too many in flight", "program", caller.Program, "limit", le.Limit, "max", le.Max)
		}
		h.metrics.push(err)
		return err
	}
	defer release()
	body, err := edge.ReadBody(c, wire.MediaTypeJOSE, wire.MaxPushBody)
	if err != nil {
		h.noteRefusal(caller.Program, "", err)
		h.metrics.push(err)
		return err
	}
	resp, err := h.Push(caller, body)
	h.metrics.push(err)
	release() // before the answer: a node that has it may push its next batch at once
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, resp)
}

// pushProblem is the answer a refused push gets, as the error handler renders it, or nil
// for an error no rule names (a 500).
func pushProblem(err error) *edge.Problem {
	var p *edge.Problem
	if errors.As(err, &p) {
		return p
	}
	for _, r := range errorRules {
		if errors.Is(err, r.Err) {
			return edge.Errorf(r.Status, r.Slug, "%s", err.Error())
		}
	}
	return nil
}

func (h *Hub) handleRoster(c echo.Context) error {
	return h.serveRoster(c, schema.DateOf(h.now().In(h.loc)))
}

// serveRoster answers GET /v1/roster from a roster view: a JSON page, or the whole
// filtered view as CSV, streamed.
func (h *rosterView) serveRoster(c echo.Context, today schema.Date) error {
	q, format, err := ParseRosterQuery(c, today)
	if err != nil {
		return err
	}
	if format == "csv" {
		c.Response().Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
		c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="roster.csv"`)
		c.Response().WriteHeader(http.StatusOK)
		// A million rows take longer than the server's write timeout: the export is
		// bounded by a reader that stops reading instead.
		return h.WriteRosterCSV(edge.Streaming(c.Response(), c.Response().Writer), q)
	}
	if _, pretty := c.QueryParams()["pretty"]; pretty || c.Echo().Debug {
		page, err := h.Roster(q)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, page)
	}
	// What c.JSON would write, from the items' JSON kept (roster.go).
	return h.WriteRosterJSON(jsonBlob{c}, q)
}

// jsonBlob answers 200 with what is written to it, in one write, as JSON.
type jsonBlob struct{ c echo.Context }

func (w jsonBlob) Write(b []byte) (int, error) { return len(b), w.c.JSONBlob(http.StatusOK, b) }

// Roster page sizes.
const (
	defaultRosterLimit = 50
	maxRosterLimit     = 1000
)

// ParseRosterQuery reads and checks the roster's query parameters (CONTRACT.md, GET
// /v1/roster), with today as the default as_of, and the format (json or csv); every bad
// one is named in one answer. Nodes serve their replica with the same parameters.
func ParseRosterQuery(c echo.Context, today schema.Date) (RosterQuery, string, error) {
	var errs schema.ValidationError
	q := RosterQuery{
		Program:  c.QueryParam("program"),
		Level:    schema.Level(c.QueryParam("level")),
		Status:   schema.Status(c.QueryParam("status")),
		Standing: schema.Standing(c.QueryParam("standing")),
		Category: c.QueryParam("category"),
		Q:        c.QueryParam("q"),
		Token:    c.QueryParam("page_token"),
		AsOf:     today,
	}
	if q.Program != "" && !schema.ValidProgramCode(q.Program) {
		errs.Add("program", "is not a program code")
	}
	if !slices.Contains([]string{"", "national", "regional", "area", "state"}, string(q.Level)) {
		errs.Add("level", "must be national, regional, area or state")
	}
	if q.Status != "" && !q.Status.Valid() {
		errs.Add("status", "must be draft, active, renewed, concluded, terminated or ambassador")
	}
	if q.Standing != "" && !q.Standing.Valid() {
		errs.Add("standing", "must be draft, active, expiring, expired, concluded, terminated or ambassador")
	}
	if _, ok := schema.NationalLabels[q.Category]; q.Category != "" && !ok {
		errs.Add("category", "must be a national category: awareness, training, outreach or dialogue")
	}
	if s := c.QueryParam("as_of"); s != "" {
		d, err := schema.ParseDate(s)
		if err != nil || d.Precision() != schema.PrecisionDay {
			errs.Add("as_of", "must be a date YYYY-MM-DD")
		}
		q.AsOf = d
	}
	q.Sort = c.QueryParam("sort")
	if q.Sort != "" && !slices.Contains(RosterSorts, strings.TrimPrefix(q.Sort, "-")) {
		errs.Add("sort", "must be one of "+strings.Join(RosterSorts, ", ")+", or one of them after - for the reverse order")
	}
	format := c.QueryParam("format")
	if !slices.Contains([]string{"", "json", "csv"}, format) {
		errs.Add("format", "must be json or csv")
	}
	q.Limit = defaultRosterLimit
	if format == "csv" {
		q.Limit = 0 // an export is the whole filtered view
	}
	q.Limit = edge.PageLimit(c, &errs, q.Limit, maxRosterLimit)
	if err := edge.QueryProblem(&errs); err != nil {
		return q, "", err
	}
	return q, format, nil
}

// Routes lists the method and path of every route the hub serves ("GET /v1/roster",
// echo's path syntax), sorted, for tests that must cover each one. The catch-all routes
// echo adds so a group's middleware runs on unknown paths are left out.
func (h *Hub) Routes() []string {
	e, ok := h.handler.(*echo.Echo)
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
