package edge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/labstack/echo/v4"
)

// MaxJSONBody bounds an ordinary JSON request body (one Alliance, one enrollment).
const MaxJSONBody = 1 << 20

// ReadBody reads the whole request body, refusing more than limit bytes with a 413 and a
// media type other than want with a 415.
func ReadBody(c echo.Context, want string, limit int64) ([]byte, error) {
	if ct := c.Request().Header.Get(echo.HeaderContentType); want != "" {
		mt, _, _ := mime.ParseMediaType(ct)
		if mt != want {
			return nil, Errorf(http.StatusUnsupportedMediaType, "unsupported-media-type", "Content-Type is %q; want %s", ct, want)
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, Errorf(http.StatusRequestEntityTooLarge, "too-large", "request body is larger than %d bytes", limit)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The client sent its body too slowly; trying again may help (a 400 would not).
		return nil, Errorf(http.StatusRequestTimeout, "request-timeout", "the request body did not arrive in time")
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		// The body ended before its Content-Length: the client's side of the connection
		// was closed (or cut by something between) mid-request. Nothing was read into
		// the store; 408 tells the client the request was incomplete and may be sent
		// again (RFC 9110 15.5.9), where a 400 would tell it not to.
		return nil, Errorf(http.StatusRequestTimeout, "incomplete-request", "the request body ended after %d of %d bytes: the connection was closed mid-request; send it again", len(body), c.Request().ContentLength)
	}
	if err != nil {
		return nil, Errorf(http.StatusBadRequest, "invalid-request", "reading the request body: the connection failed")
	}
	return body, nil
}

// DecodeJSON reads a JSON request body of at most MaxJSONBody bytes into v. Unknown
// fields, wrong types, trailing data and malformed JSON are 400 problems naming the
// field where there is one.
func DecodeJSON(c echo.Context, v any) error {
	body, err := ReadBody(c, echo.MIMEApplicationJSON, MaxJSONBody)
	if err != nil {
		return err
	}
	return Unmarshal(body, v)
}

// Unmarshal decodes JSON strictly, with the same errors as DecodeJSON.
func Unmarshal(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err)
	}
	if dec.More() {
		return Errorf(http.StatusBadRequest, "malformed-json", "unexpected data after the JSON value")
	}
	return nil
}

func jsonProblem(err error) *Problem {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(body)"
		}
		return FieldProblem(field, fmt.Sprintf("want %s, got JSON %s", te.Type, te.Value))
	case errors.As(err, &se):
		return Errorf(http.StatusBadRequest, "malformed-json", "malformed JSON at byte %d: %v", se.Offset, err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return Errorf(http.StatusBadRequest, "malformed-json", "the body is empty or cut short")
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		field := strings.Trim(f, `"`)
		return FieldProblem(field, "is not a known field")
	}
	// Errors from a field's own UnmarshalJSON (a bad date) name no field; say what failed.
	return Errorf(http.StatusBadRequest, "invalid-request", "%v", err)
}

// TokenVerifier checks a raw bearer token.
type TokenVerifier func(raw string) (*auth.Claims, error)

const claimsKey = "alliancehub.claims"

// Authenticate requires a valid bearer token on every request it wraps and keeps its
// claims for Claims and Require.
func Authenticate(verify TokenVerifier) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Request().Header.Get(echo.HeaderAuthorization)
			raw, ok := strings.CutPrefix(h, "Bearer ")
			if !ok || strings.TrimSpace(raw) == "" {
				return auth.ErrTokenMissing
			}
			claims, err := verify(strings.TrimSpace(raw))
			if err != nil {
				return err
			}
			c.Set(claimsKey, claims)
			return next(c)
		}
	}
}

// Claims are the authenticated caller's claims (nil outside Authenticate).
func Claims(c echo.Context) *auth.Claims {
	cl, _ := c.Get(claimsKey).(*auth.Claims)
	return cl
}

// Require answers 403 unless the caller has one of the roles.
func Require(c echo.Context, roles ...auth.Role) error {
	cl := Claims(c)
	if cl == nil {
		return auth.ErrTokenMissing
	}
	for _, r := range roles {
		if cl.Role == r {
			return nil
		}
	}
	return Errorf(http.StatusForbidden, "forbidden", "role %q may not do this", cl.Role)
}

// PageLimit reads the optional query parameter limit, a whole number from 1 to max, or
// def when it is absent; a bad one is added to errs.
func PageLimit(c echo.Context, errs *schema.ValidationError, def, max int) int {
	s := c.QueryParam("limit")
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		errs.Add("limit", "must be a whole number from 1 to "+strconv.Itoa(max))
	}
	return n
}
