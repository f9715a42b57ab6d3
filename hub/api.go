package hub

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/alliancehub/alliancehub/auth"
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
	{Err: ErrNotEnrolled, Status: http.StatusForbidden, Slug: "not-enrolled"},
	{Err: ErrUnknownProgram, Status: http.StatusBadRequest, Slug: "unknown-program"},
	{Err: ErrKeyInUse, Status: http.StatusConflict, Slug: "key-in-use"},
	{Err: errBadPageToken, Status: http.StatusBadRequest, Slug: "invalid-request"},
	{Err: auth.ErrUnknownKey, Status: http.StatusUnauthorized, Slug: "unknown-key"},
	{Err: auth.ErrBadSignature, Status: http.StatusUnauthorized, Slug: "bad-signature"},
	{Err: auth.ErrMalformed, Status: http.StatusBadRequest, Slug: "malformed-jws"},
	{Err: auth.ErrWrongType, Status: http.StatusBadRequest, Slug: "malformed-jws"},
}

func (h *Hub) routes() http.Handler {
	e := edge.New(h.log, errorRules)
	e.GET("/healthz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })
	e.GET("/readyz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ready"}) })
	e.GET("/.well-known/jwks.json", func(c echo.Context) error {
		return c.JSON(http.StatusOK, auth.JWKS(h.key.PublicJWK()))
	})

	v1 := e.Group("/v1", edge.Authenticate(h.verifyToken))
	v1.POST("/programs", h.handleEnroll)
	v1.GET("/programs", h.handlePrograms)
	v1.POST("/sync/push", h.handlePush)
	v1.GET("/roster", h.handleRoster)
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
	body, err := edge.ReadBody(c, wire.MediaTypeJOSE, wire.MaxPushBody)
	if err != nil {
		return err
	}
	resp, err := h.Push(edge.Claims(c), body)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, resp)
}

func (h *Hub) handleRoster(c echo.Context) error {
	q, format, err := h.parseRosterQuery(c)
	if err != nil {
		return err
	}
	if format == "csv" {
		c.Response().Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
		c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="roster.csv"`)
		c.Response().WriteHeader(http.StatusOK)
		return h.WriteRosterCSV(c.Response(), q)
	}
	page, err := h.Roster(q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}

// Roster page sizes.
const (
	defaultRosterLimit = 50
	maxRosterLimit     = 1000
)

// parseRosterQuery reads and checks the roster's query parameters; every bad one is
// named in one answer.
func (h *Hub) parseRosterQuery(c echo.Context) (RosterQuery, string, error) {
	var errs schema.ValidationError
	q := RosterQuery{
		Program:  c.QueryParam("program"),
		Level:    schema.Level(c.QueryParam("level")),
		Status:   schema.Status(c.QueryParam("status")),
		Standing: schema.Standing(c.QueryParam("standing")),
		Category: c.QueryParam("category"),
		Q:        c.QueryParam("q"),
		Token:    c.QueryParam("page_token"),
		AsOf:     schema.DateOf(h.now().In(h.loc)),
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
	format := c.QueryParam("format")
	if !slices.Contains([]string{"", "json", "csv"}, format) {
		errs.Add("format", "must be json or csv")
	}
	q.Limit = defaultRosterLimit
	if format == "csv" {
		q.Limit = 0 // an export is the whole filtered view
	}
	if s := c.QueryParam("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxRosterLimit {
			errs.Add("limit", "must be a whole number from 1 to "+strconv.Itoa(maxRosterLimit))
		}
		q.Limit = n
	}
	if err := errs.Err(); err != nil {
		p := edge.Errorf(http.StatusBadRequest, "invalid-request", "%d query parameter(s) are invalid", len(errs.Fields))
		p.Errors = errs.Fields
		return q, "", p
	}
	return q, format, nil
}
