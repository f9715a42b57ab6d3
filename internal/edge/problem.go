package edge

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/labstack/echo/v4"
)

// ContentType is the media type of every error answer (RFC 9457).
const ContentType = "application/problem+json"

// TypePrefix begins every problem type URI; the slug after it names the problem
// (docs/PROTOCOL.md lists them).
const TypePrefix = "urn:alliancehub:problem:"

// Problem is an RFC 9457 problem detail. It is also an error, so handlers return it.
type Problem struct {
	Type   string              `json:"type"`
	Title  string              `json:"title"`
	Status int                 `json:"status"`
	Detail string              `json:"detail,omitempty"`
	Errors []schema.FieldError `json:"errors,omitempty"`
}

func (p *Problem) Error() string { return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail) }

// Errorf makes a problem with the given status, slug and detail; the title is the
// status text.
func Errorf(status int, slug, format string, args ...any) *Problem {
	return &Problem{Type: TypePrefix + slug, Title: http.StatusText(status), Status: status, Detail: fmt.Sprintf(format, args...)}
}

// FieldProblem is a 400 naming one field.
func FieldProblem(field, message string) *Problem {
	p := Errorf(http.StatusBadRequest, "invalid-request", "%s: %s", field, message)
	p.Errors = []schema.FieldError{{Field: field, Message: message}}
	return p
}

// QueryProblem is a 400 naming every failing query parameter, in errors and in the
// detail (what a person reading only the detail sees), or nil when errs holds none.
func QueryProblem(errs *schema.ValidationError) error {
	if len(errs.Fields) == 0 {
		return nil
	}
	parts := make([]string, len(errs.Fields))
	for i, f := range errs.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	p := Errorf(http.StatusBadRequest, "invalid-request", "invalid query parameter(s): %s", strings.Join(parts, "; "))
	p.Errors = errs.Fields
	return p
}

// Rule maps a domain error (matched with errors.Is) to an answer. The table sits at the
// edge so the domain packages know nothing of HTTP.
type Rule struct {
	Err    error
	Status int
	Slug   string
}

// common are the rules every server shares.
var common = []Rule{
	{Err: auth.ErrTokenMissing, Status: http.StatusUnauthorized, Slug: "unauthenticated"},
	{Err: auth.ErrTokenExpired, Status: http.StatusUnauthorized, Slug: "token-expired"},
	{Err: auth.ErrTokenInvalid, Status: http.StatusUnauthorized, Slug: "unauthenticated"},
}

// ErrorHandler renders every error as problem+json: problems as they are, validation
// errors as 422 with every failing field, errors in rules with their status and the
// error's text, echo's own errors (404, 405, 413) with theirs, and anything else as a
// generic 500 whose cause is logged, never sent.
func ErrorHandler(log *slog.Logger, rules []Rule) echo.HTTPErrorHandler {
	rules = append(append([]Rule(nil), rules...), common...)
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		p := toProblem(err, rules)
		if p.Status >= 500 {
			log.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
		}
		if p.Status == http.StatusUnauthorized {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="alliancehub"`)
		}
		Write(c, p)
	}
}

// Write sends a problem.
func Write(c echo.Context, p *Problem) {
	body, _ := json.Marshal(p)
	c.Response().Header().Set(echo.HeaderContentType, ContentType)
	if c.Request().Method == http.MethodHead {
		c.Response().WriteHeader(p.Status)
		return
	}
	c.Response().WriteHeader(p.Status)
	c.Response().Write(body)
}

func toProblem(err error, rules []Rule) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var ve *schema.ValidationError
	if errors.As(err, &ve) {
		return &Problem{
			Type:   TypePrefix + "validation",
			Title:  "Validation failed",
			Status: http.StatusUnprocessableEntity,
			Detail: fmt.Sprintf("%d field(s) failed validation; nothing was stored", len(ve.Fields)),
			Errors: ve.Fields,
		}
	}
	for _, r := range rules {
		if errors.Is(err, r.Err) {
			return Errorf(r.Status, r.Slug, "%s", err.Error())
		}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return Errorf(http.StatusRequestEntityTooLarge, "too-large", "request body is larger than %d bytes", mbe.Limit)
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		slug := map[int]string{404: "not-found", 405: "method-not-allowed", 413: "too-large"}[he.Code]
		if slug == "" {
			slug = "http-error"
		}
		return Errorf(he.Code, slug, "%v", he.Message)
	}
	return Errorf(http.StatusInternalServerError, "internal", "the server could not complete the request; the cause is in its log")
}
