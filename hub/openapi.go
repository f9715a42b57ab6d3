package hub

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/labstack/echo/v4"
)

// GET /openapi.json (CONTRACT.md): an OpenAPI 3.0 document of every route the server
// registers, served without a token. The document is built here, in Go, from the same
// constants the handlers check (page sizes, enums, sort keys), rather than kept by hand,
// so a bound changed in one place changes in both. openapi_test.go fails when a route is
// registered that the document lacks, or documented that the server does not have, and
// checks real answers against the document's schemas.
//
// A node's document (node/openapi.go) is built with the same OpenAPI builder and shares
// the component schemas of what both servers answer: the node serves the hub's roster
// code over its replica, so an Alliance, a roster item or a problem are the same there.

// OpenAPIVersion is the OpenAPI version the documents follow.
const OpenAPIVersion = "3.0.3"

// Schema is a JSON Schema object in the OpenAPI 3.0 dialect.
type Schema = map[string]any

// Props are an object schema's properties.
type Props = map[string]Schema

// OpenAPI is an OpenAPI 3.0 document under construction: the hub's (hubOpenAPI) or a
// node's (node/openapi.go). Its schema helpers (Str, Obj, Ref, ...) need no state; they
// are methods so that both documents read alike.
type OpenAPI struct {
	title, description string
	// ProgramBound: every operation that needs a token may also answer 403 forbidden
	// for a valid token of another program (a node serves one program).
	ProgramBound bool
	// sessionCookie names the web UI's session cookie (WebUI).
	sessionCookie string
	paths         map[string]map[string]any
	schemas       map[string]Schema
}

// Operation describes one route.
type Operation struct {
	Tag         string
	Summary     string
	Description string
	// Public: served without a token. Otherwise Roles are the roles whose token may call
	// it (nil: any valid token), and RolesNote says more (a program token for its own
	// program only, say).
	Public    bool
	Roles     []auth.Role
	RolesNote string
	// Page: a web UI page (HTML for people), signed in with the UI's session cookie
	// rather than a bearer header; its errors are HTML pages, not problems.
	Page      bool
	Params    []Param
	Body      *Body
	Responses []Response
}

// Param is a path, query or header parameter.
type Param struct {
	In          string // path, query or header
	Name        string
	Description string
	Required    bool
	Schema      Schema
}

// Body is a request body: one schema per media type.
type Body struct {
	Required    bool
	Description string
	Content     map[string]Schema
	// AnyMediaType: the handler does not check the Content-Type (no 415).
	AnyMediaType bool
}

// Response is one answer of an operation: a success with its content, or, with
// Problems, an application/problem+json answer whose type is one of those slugs.
type Response struct {
	Status      int
	Description string
	Content     map[string]Schema
	Headers     []Header
	Problems    []string
}

// Header is a response header.
type Header struct {
	Name        string
	Description string
	Required    bool
	Schema      Schema
}

// NewOpenAPI starts a document with the components both servers share.
func NewOpenAPI(title, description string) *OpenAPI {
	d := &OpenAPI{title: title, description: description, paths: map[string]map[string]any{}, schemas: map[string]Schema{}}
	d.defineShared()
	return d
}

// Define adds a component schema, referred to as Ref(name).
func (d *OpenAPI) Define(name string, s Schema) {
	if _, dup := d.schemas[name]; dup {
		panic("openapi: schema " + name + " defined twice")
	}
	d.schemas[name] = s
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// Add documents method on path ("/v1/roster/{id}"). Every operation gets the answers
// the edge gives on its own: 401 without a valid token, 403 for a role that may not
// call it, the body errors of a JSON body, 500, and a default problem.
func (d *OpenAPI) Add(method, path string, op Operation) {
	method = strings.ToLower(method)
	if d.paths[path] == nil {
		d.paths[path] = map[string]any{}
	}
	if _, dup := d.paths[path][method]; dup {
		panic("openapi: " + method + " " + path + " documented twice")
	}
	for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
		if !slices.ContainsFunc(op.Params, func(p Param) bool { return p.In == "path" && p.Name == m[1] }) {
			panic("openapi: " + method + " " + path + " does not describe its path parameter " + m[1])
		}
	}

	resps := slices.Clone(op.Responses)
	if !op.Public && !op.Page {
		resps = append(resps, Response{Status: http.StatusUnauthorized, Problems: []string{"unauthenticated", "token-expired"},
			Description: "No token, or a token that is malformed, expired, not yet valid, signed by a key the server does not accept, or for another audience.",
			Headers:     []Header{{Name: "WWW-Authenticate", Description: `Bearer realm="alliancehub"`, Required: true, Schema: d.Str("")}}})
		if op.Roles != nil || d.ProgramBound {
			resps = append(resps, Response{Status: http.StatusForbidden, Problems: []string{"forbidden"},
				Description: "The token's role may not call this (or, at a node, it is a program token for another program)."})
		}
		resps = append(resps, Response{Status: http.StatusInternalServerError, Problems: []string{"internal"},
			Description: "Anything unexpected; the cause is in the server's log, never in the answer."})
	}
	if op.Body != nil {
		if _, ok := op.Body.Content[echo.MIMEApplicationJSON]; ok {
			resps = append(resps,
				Response{Status: http.StatusBadRequest, Problems: []string{"invalid-request", "malformed-json"},
					Description: "The body is not JSON, is cut short, has data after the value, an unknown field or a wrong type (`errors` names the field)."},
				Response{Status: http.StatusRequestEntityTooLarge, Problems: []string{"too-large"}, Description: "The body is larger than allowed."})
			if !op.Body.AnyMediaType {
				resps = append(resps, Response{Status: http.StatusUnsupportedMediaType, Problems: []string{"unsupported-media-type"}, Description: "The Content-Type is not one this operation takes."})
			}
		}
	}

	// Answers with the same status are one: their problem slugs and descriptions joined.
	byStatus := map[int]*Response{}
	var order []int
	for _, r := range resps {
		if have := byStatus[r.Status]; have != nil {
			for _, s := range r.Problems {
				if !slices.Contains(have.Problems, s) {
					have.Problems = append(have.Problems, s)
				}
			}
			if have.Content == nil && r.Content != nil {
				have.Content = r.Content
			}
			have.Headers = append(have.Headers, r.Headers...)
			if r.Description != "" && !strings.Contains(have.Description, r.Description) {
				have.Description = strings.TrimSpace(have.Description + " " + r.Description)
			}
			continue
		}
		r := r
		r.Problems = slices.Clone(r.Problems)
		byStatus[r.Status] = &r
		order = append(order, r.Status)
	}
	responses := map[string]any{}
	for _, status := range order {
		responses[strconv.Itoa(status)] = d.response(byStatus[status])
	}
	responses["default"] = map[string]any{
		"description": "Any other problem (docs/PROTOCOL.md section 12): e.g. 404 `not-found` for a path the server does not have.",
		"headers":     map[string]any{"X-Request-Id": map[string]any{"$ref": "#/components/headers/X-Request-Id"}},
		"content":     map[string]any{edge.ContentType: map[string]any{"schema": d.Ref("Problem")}},
	}
	if op.Page {
		responses["default"] = map[string]any{
			"description": "An error page (HTML) saying what went wrong.",
			"content":     map[string]any{"text/html": map[string]any{"schema": d.Str("")}},
		}
	}

	o := map[string]any{
		"operationId": operationID(method, path),
		"summary":     op.Summary,
		"responses":   responses,
	}
	if op.Tag != "" {
		o["tags"] = []string{op.Tag}
	}
	desc := op.Description
	var roles []string
	switch {
	case op.Page:
		o["security"] = []any{map[string]any{"session": []string{}}, map[string]any{}}
		roles = []string{string(auth.RoleAdmin), string(auth.RoleAnalyst), string(auth.RoleProgram)}
		desc = strings.TrimSpace(desc + "\n\nRoles: any valid token, signed in on the sign-in page (" + uiPrefix + "/signin, no token needed) and kept in the session cookie; each role may do there what it may do through the API. Without a session a page leads to sign-in (303).")
	case op.Public:
		o["security"] = []any{}
		desc = strings.TrimSpace(desc + "\n\nNo token needed.")
		roles = []string{}
	case op.Roles == nil:
		roles = []string{string(auth.RoleAdmin), string(auth.RoleAnalyst), string(auth.RoleProgram)}
		desc = strings.TrimSpace(desc + "\n\nRoles: any valid token (admin, analyst, program).")
	default:
		for _, r := range op.Roles {
			roles = append(roles, string(r))
		}
		desc = strings.TrimSpace(desc + "\n\nRoles: " + strings.Join(roles, ", ") + ".")
	}
	if op.RolesNote != "" {
		desc += " " + op.RolesNote
	}
	o["description"] = desc
	o["x-alliancehub-roles"] = roles
	if len(op.Params) > 0 {
		var ps []any
		for _, p := range op.Params {
			pm := map[string]any{"name": p.Name, "in": p.In, "schema": p.Schema}
			if p.Description != "" {
				pm["description"] = p.Description
			}
			if p.Required || p.In == "path" {
				pm["required"] = true
			}
			ps = append(ps, pm)
		}
		o["parameters"] = ps
	}
	if b := op.Body; b != nil {
		content := map[string]any{}
		for mt, s := range b.Content {
			content[mt] = map[string]any{"schema": s}
		}
		rb := map[string]any{"required": b.Required, "content": content}
		if b.Description != "" {
			rb["description"] = b.Description
		}
		o["requestBody"] = rb
	}
	d.paths[path][method] = o
}

func (d *OpenAPI) response(r *Response) map[string]any {
	desc := r.Description
	headers := map[string]any{"X-Request-Id": map[string]any{"$ref": "#/components/headers/X-Request-Id"}}
	for _, h := range r.Headers {
		hm := map[string]any{"schema": h.Schema, "required": h.Required}
		if h.Description != "" {
			hm["description"] = h.Description
		}
		headers[h.Name] = hm
	}
	out := map[string]any{"headers": headers}
	switch {
	case len(r.Problems) > 0:
		var types []string
		for _, s := range r.Problems {
			types = append(types, edge.TypePrefix+s)
		}
		slug := "Problem `" + strings.Join(r.Problems, "`, `") + "`."
		desc = strings.TrimSpace(slug + " " + desc)
		out["content"] = map[string]any{edge.ContentType: map[string]any{"schema": Schema{"allOf": []any{
			d.Ref("Problem"),
			Schema{"properties": Props{"type": {"type": "string", "enum": types}, "status": {"type": "integer", "enum": []int{r.Status}}}},
		}}}}
	case r.Content != nil:
		content := map[string]any{}
		for mt, s := range r.Content {
			content[mt] = map[string]any{"schema": s}
		}
		out["content"] = content
	}
	if desc == "" {
		desc = http.StatusText(r.Status)
	}
	out["description"] = desc
	return out
}

// operationID names an operation after its method and path: getV1RosterId.
func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(method)
	for _, w := range strings.FieldsFunc(path, func(r rune) bool { return !('a' <= r && r <= 'z' || '0' <= r && r <= '9') }) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

// MarshalJSON writes the document.
func (d *OpenAPI) MarshalJSON() ([]byte, error) {
	schemes := map[string]any{"bearer": map[string]any{
		"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
		"description": "A JWS (EdDSA) with claims sub, aud \"alliancehub\", iat, exp (at most 90 days after iat), role (admin, analyst, program) and, for role program, program (docs/PROTOCOL.md section 4). `alliancehub token` mints one.",
	}}
	if d.sessionCookie != "" {
		schemes["session"] = map[string]any{
			"type": "apiKey", "in": "cookie", "name": d.sessionCookie,
			"description": "The web UI's session: the token itself, set by its sign-in page (HttpOnly, SameSite=Strict, Path=/ui/).",
		}
	}
	return json.Marshal(map[string]any{
		"openapi": OpenAPIVersion,
		"info": map[string]any{
			"title":       d.title,
			"version":     "1",
			"description": d.description,
		},
		"security": []any{map[string]any{"bearer": []string{}}},
		"paths":    d.paths,
		"components": map[string]any{
			"schemas":         d.schemas,
			"securitySchemes": schemes,
			"headers": map[string]any{"X-Request-Id": map[string]any{
				"description": "Every answer carries one; quote it when reporting a problem.",
				"required":    true,
				"schema":      map[string]any{"type": "string"},
			}},
		},
	})
}

// Handler serves the document (GET /openapi.json), encoded once.
func (d *OpenAPI) Handler() echo.HandlerFunc {
	body := sync.OnceValues(func() ([]byte, error) { return json.Marshal(d) })
	return func(c echo.Context) error {
		b, err := body()
		if err != nil {
			return err
		}
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b)
	}
}

// Schema helpers. A description may be empty.

func described(s Schema, desc string) Schema {
	if desc != "" {
		s["description"] = desc
	}
	return s
}

// Str is a string.
func (d *OpenAPI) Str(desc string) Schema { return described(Schema{"type": "string"}, desc) }

// StrMax is a string of at most max characters.
func (d *OpenAPI) StrMax(desc string, max int) Schema {
	return described(Schema{"type": "string", "maxLength": max}, desc)
}

// Pattern is a string matching pattern.
func (d *OpenAPI) Pattern(desc, pattern string) Schema {
	return described(Schema{"type": "string", "pattern": pattern}, desc)
}

// Enum is a string, one of values.
func (d *OpenAPI) Enum(desc string, values ...string) Schema {
	return described(Schema{"type": "string", "enum": values}, desc)
}

// Int is an integer.
func (d *OpenAPI) Int(desc string) Schema { return described(Schema{"type": "integer"}, desc) }

// Count is a whole number, 0 or more.
func (d *OpenAPI) Count(desc string) Schema {
	return described(Schema{"type": "integer", "minimum": 0}, desc)
}

// Seq is a sequence number (uint64).
func (d *OpenAPI) Seq(desc string) Schema {
	return described(Schema{"type": "integer", "format": "int64", "minimum": 0}, desc)
}

// Range is an integer from min to max.
func (d *OpenAPI) Range(desc string, min, max int) Schema {
	return described(Schema{"type": "integer", "minimum": min, "maximum": max}, desc)
}

// Bool is a boolean.
func (d *OpenAPI) Bool(desc string) Schema { return described(Schema{"type": "boolean"}, desc) }

// Date is a date string: YYYY-MM-DD, or YYYY-MM / YYYY when only that is known, or ""
// when unknown (docs/PROTOCOL.md section 1).
func (d *OpenAPI) Date(desc string) Schema {
	return described(Schema{"type": "string", "pattern": `^([0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?)?$`,
		"example": "2026-05-14"}, desc)
}

// Day is a full date, YYYY-MM-DD.
func (d *OpenAPI) Day(desc string) Schema {
	return described(Schema{"type": "string", "format": "date", "pattern": `^[0-9]{4}-[0-9]{2}-[0-9]{2}$`}, desc)
}

// Time is an RFC 3339 time.
func (d *OpenAPI) Time(desc string) Schema {
	return described(Schema{"type": "string", "format": "date-time"}, desc)
}

// Arr is an array of items.
func (d *OpenAPI) Arr(desc string, items Schema) Schema {
	return described(Schema{"type": "array", "items": items}, desc)
}

// ArrMax is an array of at most max items.
func (d *OpenAPI) ArrMax(desc string, items Schema, max int) Schema {
	return described(Schema{"type": "array", "items": items, "maxItems": max}, desc)
}

// Map is an object whose values are all of one schema (a Go map).
func (d *OpenAPI) Map(desc string, values Schema) Schema {
	return described(Schema{"type": "object", "additionalProperties": values}, desc)
}

// Obj is an object with these properties and no others (a Go struct, decoded strictly).
func (d *OpenAPI) Obj(desc string, props Props, required ...string) Schema {
	for _, r := range required {
		if _, ok := props[r]; !ok {
			panic("openapi: required property " + r + " is not a property")
		}
	}
	s := Schema{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return described(s, desc)
}

// Any is any JSON value, null included.
func (d *OpenAPI) Any(desc string) Schema { return described(Schema{"nullable": true}, desc) }

// Ref refers to a component schema.
func (d *OpenAPI) Ref(name string) Schema { return Schema{"$ref": "#/components/schemas/" + name} }

// RefD refers to a component schema, with a description of its own.
func (d *OpenAPI) RefD(name, desc string) Schema {
	return described(Schema{"allOf": []any{d.Ref(name)}}, desc)
}

// Nullable is s, or null.
func (d *OpenAPI) Nullable(s Schema) Schema {
	if _, ref := s["$ref"]; ref {
		return Schema{"allOf": []any{s}, "nullable": true}
	}
	out := Schema{}
	for k, v := range s {
		out[k] = v
	}
	out["nullable"] = true
	return out
}

// Merge joins the properties of object schemas into a new one (Go's embedded structs).
func (d *OpenAPI) Merge(desc string, objs ...Schema) Schema {
	props := Props{}
	var req []string
	for _, o := range objs {
		for k, v := range o["properties"].(Props) {
			props[k] = v
		}
		if r, ok := o["required"].([]string); ok {
			req = append(req, r...)
		}
	}
	return d.Obj(desc, props, req...)
}

// Schema returns a defined component (to merge it).
func (d *OpenAPI) Schema(name string) Schema {
	s, ok := d.schemas[name]
	if !ok {
		panic("openapi: no schema " + name)
	}
	return s
}

// Parameter helpers.

// PathParam is a path parameter.
func (d *OpenAPI) PathParam(name, desc string, s Schema) Param {
	return Param{In: "path", Name: name, Description: desc, Required: true, Schema: s}
}

// Query is a query parameter.
func (d *OpenAPI) Query(name, desc string, s Schema) Param {
	return Param{In: "query", Name: name, Description: desc, Schema: s}
}

// Limit is the limit query parameter of a list: 1 to max, def when absent.
func (d *OpenAPI) Limit(def, max int) Param {
	return d.Query("limit", fmt.Sprintf("Page size, 1 to %d (default %d).", max, def),
		Schema{"type": "integer", "minimum": 1, "maximum": max, "default": def})
}

// PageToken is the page_token query parameter of a list.
func (d *OpenAPI) PageToken() Param {
	return d.Query("page_token", "The previous page's `next_page_token`; absent for the first page. A token the server did not issue is 400 `invalid-request`.", d.Str(""))
}

// JSON is the content of a JSON body or answer.
func (d *OpenAPI) JSON(s Schema) map[string]Schema {
	return map[string]Schema{echo.MIMEApplicationJSON: s}
}

// ListOf is the list shape (CONTRACT.md): items, total, next_page_token.
func (d *OpenAPI) ListOf(desc string, item Schema) Schema {
	return d.Obj(desc, Props{
		"items":           d.Arr("", item),
		"total":           d.Count("Every match, not just this page."),
		"next_page_token": d.Str("Pass it back as `page_token` for the next page; empty on the last page."),
	}, "items", "total", "next_page_token")
}

// Shared patterns.
const (
	programPattern = `^[A-Z][A-Z0-9]{1,9}$`
	recordPattern  = `^[A-Z][A-Z0-9]{1,9}-[0-9a-zA-Z][0-9a-zA-Z._-]{0,63}$`
	revPattern     = `^[1-9][0-9]{0,9}-[0-9a-f]{64}$`
)

var (
	levels        = []string{string(schema.LevelNational), string(schema.LevelRegional), string(schema.LevelArea), string(schema.LevelState)}
	statuses      = []string{string(schema.StatusDraft), string(schema.StatusActive), string(schema.StatusRenewed), string(schema.StatusConcluded), string(schema.StatusTerminated), string(schema.StatusAmbassador)}
	standings     = []string{string(schema.StandingDraft), string(schema.StandingActive), string(schema.StandingExpiring), string(schema.StandingExpired), string(schema.StandingConcluded), string(schema.StandingTerminated), string(schema.StandingAmbassador)}
	nationalCodes = []string{"awareness", "training", "outreach", "dialogue"}
	outcomes      = []string{string(wire.Accepted), string(wire.Duplicate), string(wire.Stale), string(wire.Conflict), string(wire.Rejected)}
	linkStates    = []string{string(wire.LinkProposed), string(wire.LinkConfirmed), string(wire.LinkRejected)}
)

// allianceProps are the properties of an Alliance (docs/PROTOCOL.md section 6).
func (d *OpenAPI) allianceProps() Props {
	return Props{
		"id":             d.Pattern("The record id, `PROGRAM-SUFFIX`; assigned by the node.", recordPattern),
		"rev":            d.Pattern("The revision, `N-<sha256 hex>`; in answers only (a PUT may send back the current one).", revPattern),
		"program":        d.Pattern("The owner program's code.", programPattern),
		"level":          d.Enum("One of the program's levels.", levels...),
		"office":         d.StrMax("The lead office or division.", 200),
		"participants":   d.ArrMax("The current signatories; `[]` when empty, never null.", d.Ref("Participant"), 200),
		"goals":          d.ArrMax("`[]` when empty, never null.", d.Ref("Goal"), 50),
		"emphasis_areas": d.ArrMax("", d.StrMax("", 200), 50),
		"signed_on":      d.Date("Required unless status is draft."),
		"term_months":    d.Range("Initial term in months.", 1, 120),
		"expires_on":     d.Date("Derived: the last renewal's signed_on plus its term, or signed_on plus term_months."),
		"status":         d.Enum("The recorded lifecycle status.", statuses...),
		"renewals":       d.ArrMax("Oldest first.", d.Ref("Renewal"), 50),
		"termination":    d.Ref("Termination"),
		"concluded_on":   d.Date("Status concluded only."),
		"ambassador_on":  d.Date("The day it became an Ambassador (status ambassador, or concluded after it)."),
		"addenda":        d.ArrMax("Signatory history, oldest first.", d.Ref("Addendum"), 100),
	}
}

// defineShared defines the components both servers answer with.
func (d *OpenAPI) defineShared() {
	d.Define("FieldError", d.Obj("One failing field, named by its JSON path (`participants[0].type`).", Props{
		"field": d.Str(""), "message": d.Str(""),
	}, "field", "message"))
	d.Define("Problem", d.Obj("An RFC 9457 problem (docs/PROTOCOL.md section 12).", Props{
		"type":   d.Pattern("`urn:alliancehub:problem:` and a slug.", "^"+regexp.QuoteMeta(edge.TypePrefix)+"[a-z-]+$"),
		"title":  d.Str("The HTTP status text (`Validation failed` for 422)."),
		"status": d.Range("The HTTP status.", 100, 599),
		"detail": d.Str("One line for a person."),
		"errors": d.Arr("Every failing field, where fields are known.", d.Ref("FieldError")),
	}, "type", "title", "status"))
	d.Define("Health", d.Obj("", Props{"status": d.Enum("", "ok", "ready")}, "status"))
	d.Define("NotReady", d.Obj("", Props{"status": d.Str(""), "error": d.Str("")}, "status", "error"))
	d.Define("JWK", described(Schema{"type": "object", "required": []string{"kty", "crv", "x"}, "properties": Props{
		"kty": d.Enum("", "OKP"), "crv": d.Enum("", "Ed25519"), "x": d.Str("The base64url public key."),
		"kid": d.Str("The RFC 7638 thumbprint of the key."), "alg": d.Enum("", "EdDSA"), "use": d.Enum("", "sig"),
	}}, "A public Ed25519 JWK (RFC 8037). One carrying private material (`d`) is refused where a public key is asked for."))
	d.Define("JWKSet", d.Obj("A JWK Set.", Props{"keys": d.Arr("", d.Ref("JWK"))}, "keys"))

	d.Define("Contact", d.Obj("The person to reach at a participant.", Props{
		"name": d.StrMax("", 200), "phone": d.StrMax("", 40), "email": d.Str("A plain address (`name@example.gov`)."),
	}))
	d.Define("Participant", d.Obj("An organization that signed the Alliance.", Props{
		"name":    d.StrMax("Required.", 300),
		"type":    d.Str("association, union, education, community, government, business, tribe, whistleblower, consulate or other (the node lower-cases it)."),
		"address": d.StrMax("", 400),
		"contact": d.Ref("Contact"),
	}, "name"))
	d.Define("Goal", d.Obj("One goal, in one of the program's own categories.", Props{
		"category":    d.Str("The program's category code; on input the category's label is accepted too (any case)."),
		"description": d.StrMax("", 4000),
	}, "category"))
	d.Define("Renewal", d.Obj("A renewal agreement.", Props{
		"signed_on": d.Date(""), "term_months": d.Range("", 1, 120),
	}, "signed_on", "term_months"))
	d.Define("Termination", d.Obj("Written notice to end the Alliance; effective 30 days after notice (CSP 04-01-001 XIV).", Props{
		"notice_on": d.Date(""), "effective_on": d.Date("notice_on plus 30 days."), "reason": d.StrMax("", 4000),
	}, "notice_on", "effective_on"))
	d.Define("Addendum", d.Obj("Participants joining or leaving by addendum.", Props{
		"signed_on": d.Date(""),
		"added":     d.Arr("", d.Ref("Participant")),
		"removed":   d.Arr("Participant names.", d.Str("")),
		"note":      d.Str(""),
	}, "signed_on"))
	d.Define("Alliance", d.Obj("An Alliance as its program records it (docs/PROTOCOL.md section 6). Empty optional fields are left out.",
		d.allianceProps(), "id", "program", "level", "participants", "goals", "term_months", "status"))
	in := d.allianceProps()
	in["term_months"] = d.Range("Initial term in months; 0 or absent: the program's default.", 0, 120)
	in["level"] = d.Str("One of the program's levels; may be left out when the program has only one.")
	in["status"] = d.Str("draft, active, renewed, concluded, terminated or ambassador; absent: terminated with a termination, active with signed_on, else draft.")
	for _, f := range []string{"signed_on", "expires_on", "concluded_on", "ambassador_on"} {
		in[f] = d.Nullable(in[f])
	}
	d.Define("AllianceInput", d.Obj("An Alliance as a client sends it: the node fills in program, level (when the program has one), status, term_months, goal codes for labels and expires_on (docs/PROTOCOL.md section 6, What the node fills in). A date may be null or \"\" when unknown. Every failing field is answered at once (422).", in))

	d.Define("RosterCompliance", d.Obj("Reporting state on as_of.", Props{
		"next_report_due":         d.Nullable(d.Date("The due date of the next report owed; null when none.")),
		"overdue_reports":         d.Nullable(d.Arr("The periods whose report is overdue.", d.Str(""))),
		"meetings_last_12_months": d.Count("Distinct implementation team meeting days the reports list in the 12 months up to as_of."),
	}, "next_report_due", "overdue_reports", "meetings_last_12_months"))
	d.Define("Provenance", d.Obj("Who signed the roster's revision and when it arrived.", Props{
		"kid":            d.Str("The key that signed the winning revision."),
		"signed_at":      d.Time("The record's issued_at."),
		"received_at":    d.Time("When the hub received it."),
		"key_revoked_at": d.Time("Only when that key has since been revoked: the revocation's effective time."),
	}, "kid", "signed_at", "received_at"))
	d.Define("LinkRecord", d.Obj("", Props{"id": d.Str(""), "program": d.Str(""), "rev": d.Str("The revision compared.")}, "id", "program", "rev"))
	d.Define("Discrepancy", d.Obj("A field two linked records disagree on.", Props{
		"field":   d.Enum("", "signed_on", "term_months", "expires_on", "status", "participants"),
		"values":  d.Map("The value in each record, by record id.", d.Str("")),
		"days":    d.Int("Dates only: how many days lie between the two dates' spans."),
		"message": d.Str(""),
	}, "field", "values", "message"))
	d.Define("LinkDecision", d.Obj("DCSP's decision on a link.", Props{
		"state": d.Enum("", string(wire.LinkConfirmed), string(wire.LinkRejected)),
		"by":    d.Str("The deciding token's subject."),
		"at":    d.Time(""),
		"note":  d.Str(""),
		"revs":  d.Map("The revisions it was made on, by record id.", d.Str("")),
	}, "state", "by", "at", "revs"))
	d.Define("Link", d.Obj("Two records of different programs that record the same Alliance (docs/PROTOCOL.md section 10, Links).", Props{
		"id":            d.Pattern("`L-` and 20 hex digits.", `^L-[0-9a-f]{20}$`),
		"state":         d.Enum("", linkStates...),
		"records":       d.Arr("The two records, in id order.", d.Ref("LinkRecord")),
		"matched":       d.Nullable(d.Arr("Pairs of participant names that matched, each by record id.", d.Map("", d.Str("")))),
		"discrepancies": d.Nullable(d.Arr("", d.Ref("Discrepancy"))),
		"decision":      d.Ref("LinkDecision"),
	}, "id", "state", "records", "matched", "discrepancies"))
	roster := d.Obj("", Props{
		"national_categories": d.Arr("The national categories the goals map to, in the order awareness, training, outreach, dialogue.", d.Enum("", nationalCodes...)),
		"standing":            d.Enum("Where the Alliance stands on as_of.", standings...),
		"ambassador_eligible": d.Bool("On as_of."),
		"compliance":          d.Ref("RosterCompliance"),
		"conflict":            d.Bool("True while the record has competing revisions."),
		"links":               d.Arr("Links to records of other programs; `[]` when none (a node's replica shows `[]`).", d.Ref("Link")),
		"provenance":          d.Ref("Provenance"),
	}, "national_categories", "standing", "ambassador_eligible", "compliance", "conflict", "links", "provenance")
	d.Define("RosterItem", d.Merge("One Alliance on the national roster: the winning revision plus what the hub derives (docs/PROTOCOL.md section 10, Roster item).",
		d.Schema("Alliance"), roster))
	d.Define("ReplicaInfo", d.Obj("How fresh a node's replica is.", Props{
		"applied_seq":  d.Seq("The last hub sequence number applied."),
		"hub_head_seq": d.Seq("The hub's head when last pulled."),
		"pulled_at":    d.Time("When the last pull finished."),
	}, "applied_seq", "hub_head_seq"))
	page := d.ListOf("", d.Ref("RosterItem"))
	page["properties"].(Props)["replica"] = d.RefD("ReplicaInfo", "On a node's replica only.")
	d.Define("RosterPage", described(page, "One page of the roster."))

	d.Define("PushError", d.Obj("A push the hub refused, as it answered it.", Props{
		"at": d.Time(""), "status": d.Int(""), "type": d.Str("The problem type."), "detail": d.Str(""), "batch_id": d.Str("When the batch could be read."),
	}, "at", "status", "type", "detail"))
	outcomeCounts := Props{}
	for _, o := range outcomes {
		outcomeCounts[o] = d.Count("")
	}
	d.Define("ProgramSync", d.Obj("A program's sync status as the hub sees it (docs/PROTOCOL.md section 11).", Props{
		"checkpoint":    d.Seq("The highest node sequence number processed."),
		"last_push_at":  d.Time("When the last accepted push arrived."),
		"last_batch_id": d.Str("Its batch_id."),
		"records":       d.Count("Records of the program the hub holds."),
		"head":          d.Seq("The node's last sequence number when it signed that push."),
		"lag":           d.Seq("head - checkpoint, never below 0; absent until a push carries head."),
		"last_error":    d.Ref("PushError"),
		"last_pull_at":  d.Time("The program's last read of the change feed."),
		"stale_since":   d.Time("Present when neither an accepted push nor a pull was seen for 36 hours."),
		"outcomes":      d.Obj("Every record pushed since enrollment, by outcome.", outcomeCounts, outcomes...),
	}, "checkpoint", "records", "outcomes"))
	d.Define("RevisionView", d.Obj("One stored revision of a record.", Props{
		"rev":            d.Pattern("", revPattern),
		"prev_rev":       d.Pattern("", revPattern),
		"kind":           d.Enum("", string(schema.KindAlliance), string(schema.KindReport), string(schema.KindTombstone)),
		"kid":            d.Str("The key that signed it."),
		"signed_at":      d.Time(""),
		"received_at":    d.Time(""),
		"hub_seq":        d.Seq("The hub sequence number it is stored under."),
		"resolves":       d.Arr("The competing revisions it ends.", d.Pattern("", revPattern)),
		"key_revoked_at": d.Time("When the signing key was revoked, if it was."),
		"leaf":           d.Bool("The latest of its branch."),
		"winner":         d.Bool("The revision the roster shows."),
	}, "rev", "kind", "kid", "signed_at", "received_at", "hub_seq", "leaf", "winner"))
	d.Define("ReportRef", d.Obj("One of the Alliance's reports.", Props{
		"id": d.Str(""), "period": d.Str(""), "rev": d.Str(""), "conflict": d.Bool(""),
	}, "id", "period", "rev", "conflict"))
	entry := d.Obj("", Props{
		"revisions": d.Arr("Every stored revision, newest first.", d.Ref("RevisionView")),
		"reports":   d.Arr("", d.Ref("ReportRef")),
		"node":      d.RefD("ProgramSync", "On the hub only: the owning program's sync state."),
	}, "revisions", "reports")
	d.Define("RosterEntry", d.Merge("One Alliance with its history (GET /v1/roster/{id}).", d.Schema("RosterItem"), entry))

	conflictProps := Props{
		"id":           d.Str(""),
		"program":      d.Str(""),
		"kind":         d.Enum("", string(schema.KindAlliance), string(schema.KindReport), string(schema.KindTombstone)),
		"winning_rev":  d.Str("The revision the roster shows."),
		"leaves":       d.Arr("Each branch's latest revision, newest rev first.", d.Ref("ConflictLeaf")),
		"differences":  d.Arr("Each top-level body field whose value differs between leaves.", d.Ref("FieldDiff")),
		"acknowledged": d.Ref("Ack"),
	}
	d.Define("ConflictLeaf", d.Obj("", Props{
		"rev": d.Str(""), "prev_rev": d.Str(""), "deleted": d.Bool("A tombstone."), "kid": d.Str(""),
		"signed_at": d.Time(""), "received_at": d.Time(""), "hub_seq": d.Seq(""),
	}, "rev", "kid", "signed_at", "received_at", "hub_seq"))
	d.Define("FieldDiff", d.Obj("", Props{
		"field":  d.Str(""),
		"values": d.Map("The value in each leaf, by rev; null where a leaf lacks the field.", d.Any("")),
	}, "field", "values"))
	d.Define("Ack", d.Obj("DCSP's acknowledgement, shown while the record's leaves are the ones acknowledged.", Props{
		"id": d.Str(""), "leaves": d.Arr("", d.Str("")), "by": d.Str(""), "at": d.Time(""), "note": d.Str(""),
	}, "id", "leaves", "by", "at"))
	d.Define("Conflict", d.Obj("A record with competing branches (docs/PROTOCOL.md section 8).", conflictProps,
		"id", "program", "kind", "winning_rev", "leaves", "differences"))

	d.Define("PushResult", d.Obj("The hub's answer for one pushed record.", Props{
		"seq":     d.Seq("The record's own; 0 when it could not be read."),
		"id":      d.Str(""),
		"rev":     d.Str(""),
		"outcome": d.Enum("", outcomes...),
		"reason":  d.Str("Why it was rejected."),
	}, "seq", "outcome"))
	d.Define("SyncResult", d.Obj("What one sync run did (a node's POST /v1/sync).", Props{
		"pushed": d.Count(""), "accepted": d.Count(""), "duplicate": d.Count(""), "stale": d.Count(""),
		"conflict": d.Count(""), "rejected": d.Count(""), "pulled": d.Count("Changes pulled into the replica."),
		"error": d.Str("Present when the run failed."),
	}, "pushed", "accepted", "duplicate", "stale", "conflict", "rejected", "pulled"))
	d.Define("RevisionRef", d.Obj("One stored revision.", Props{
		"id": d.Str(""), "rev": d.Str(""), "seq": d.Seq("The hub sequence number it is stored under."),
	}, "id", "rev"))
}

// RosterParams are the roster's query parameters (ParseRosterQuery), shared with a
// node's replica; scope says where as_of's default day is.
func (d *OpenAPI) RosterParams(scope string) []Param {
	return []Param{
		d.Query("program", "A program code.", d.Pattern("", programPattern)),
		d.Query("level", "", d.Enum("", levels...)),
		d.Query("status", "The recorded status.", d.Enum("", statuses...)),
		d.Query("standing", "The standing on as_of.", d.Enum("", standings...)),
		d.Query("category", "A national category.", d.Enum("", nationalCodes...)),
		d.Query("q", "Text found in any participant's name, ignoring case.", d.Str("")),
		d.Query("as_of", "Standing as of this day; default: today in "+scope+".", d.Day("")),
		d.Query("format", "json (default) or csv (the whole filtered roster, no paging).", d.Enum("", "json", "csv")),
		d.Query("sort", "One of "+strings.Join(RosterSorts, ", ")+"; `-` before one reverses it. Ties go by id. Applies to CSV too.",
			d.Enum("", append(slices.Clone(RosterSorts), prefixed("-", RosterSorts)...)...)),
		d.Limit(defaultRosterLimit, maxRosterLimit),
		d.PageToken(),
	}
}

// RosterAnswers are GET /v1/roster's answers: a JSON page, or CSV.
func (d *OpenAPI) RosterAnswers() Response {
	return Response{Status: http.StatusOK, Description: "A page of the roster (JSON), or the whole filtered roster as CSV (`format=csv`, with `Content-Disposition: attachment; filename=\"roster.csv\"`; columns in docs/PROTOCOL.md section 10).",
		Content: map[string]Schema{echo.MIMEApplicationJSON: d.Ref("RosterPage"), "text/csv": d.Str("")}}
}

func prefixed(p string, ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = p + s
	}
	return out
}

// PublicRoutes documents what both servers serve without a token.
func (d *OpenAPI) PublicRoutes(server string) {
	d.Add("GET", "/healthz", Operation{Tag: "health", Summary: "Liveness", Public: true,
		Responses: []Response{{Status: 200, Description: `{"status":"ok"}`, Content: d.JSON(d.Ref("Health"))}}})
	d.Add("GET", "/readyz", Operation{Tag: "health", Summary: "Readiness", Public: true,
		Description: "The server only listens once its store is loaded. 503 when its last commit could not be made durable (a failed fsync): it refuses every write until restarted.",
		Responses: []Response{{Status: 200, Description: `{"status":"ready"}`, Content: d.JSON(d.Ref("Health"))},
			{Status: 503, Description: "The store is not durable; restart the server.", Content: d.JSON(d.Ref("NotReady"))}}})
	d.Add("GET", "/.well-known/jwks.json", Operation{Tag: "keys", Summary: "The " + server + "'s own public key", Public: true,
		Responses: []Response{{Status: 200, Description: "A JWK Set holding the " + server + "'s public key.", Content: d.JSON(d.Ref("JWKSet"))}}})
	d.Add("GET", "/metrics", Operation{Tag: "health", Summary: "Prometheus metrics", Public: true,
		Description: "Counts and times, never a record or a key; metric names are prefixed `alliancehub_`.",
		Responses:   []Response{{Status: 200, Description: "The Prometheus text format.", Content: map[string]Schema{"text/plain": d.Str("")}}}})
	d.Add("GET", "/openapi.json", Operation{Tag: "health", Summary: "This document", Public: true,
		Description: "An OpenAPI " + OpenAPIVersion + " document of every route the " + server + " serves.",
		Responses:   []Response{{Status: 200, Description: "The OpenAPI document.", Content: d.JSON(Schema{"type": "object"})}}})
}

// uiPrefix is where the web UI's pages are (internal/webui).
const uiPrefix = "/ui"

// WebUI documents the web UI's routes (internal/webui): HTML pages for people, with
// forms, behind a sign-in page, whose session is the cookie named cookie. They call the
// API in-process with the signed-in user's token; the document names them, not each
// page.
func (d *OpenAPI) WebUI(cookie string) {
	d.sessionCookie = cookie
	html := map[string]Schema{"text/html": d.Str("")}
	toSignIn := Response{Status: http.StatusSeeOther, Description: "Without a valid session: to the sign-in page; after a form: to the page that shows the result.",
		Headers: []Header{{Name: "Location", Required: true, Schema: d.Str("")}}}
	page := d.PathParam("path", "Any path under "+uiPrefix+"/ (it may hold slashes): signin, signout, and the pages the navigation lists.", d.Str(""))
	d.Add("GET", "/", Operation{Tag: "ui", Summary: "To the web UI", Public: true,
		Responses: []Response{{Status: http.StatusSeeOther, Description: "To " + uiPrefix + "/.", Headers: []Header{{Name: "Location", Required: true, Schema: d.Enum("", uiPrefix+"/")}}}}})
	d.Add("GET", uiPrefix+"/{path}", Operation{Tag: "ui", Summary: "A web UI page", Page: true, Params: []Param{page},
		Responses: []Response{{Status: 200, Description: "The page.", Content: html}, toSignIn}})
	d.Add("POST", uiPrefix+"/{path}", Operation{Tag: "ui", Summary: "A web UI form", Page: true, Params: []Param{page},
		Description: "Every form carries a CSRF token; a form's body is bounded as a JSON body is.",
		Body:        &Body{Required: true, Content: map[string]Schema{"application/x-www-form-urlencoded": Schema{"type": "object"}}},
		Responses:   []Response{toSignIn, {Status: 200, Description: "The page again, with what the form got wrong.", Content: html}}})
}

// hubOpenAPI is the hub's document.
var hubOpenAPI = sync.OnceValue(func() *OpenAPI {
	d := NewOpenAPI("alliancehub hub", "The federal hub: the national roster of Alliances, the sync protocol nodes push to and pull from, enrollment and the key lifecycle, the conflict queue and cross-program links. docs/PROTOCOL.md is the full reference. Every answer carries `X-Request-Id`; every error is `application/problem+json`. Lists answer `{items, total, next_page_token}`.")
	d.PublicRoutes("hub")
	d.WebUI("alliancehub_session_hub")
	hubPrograms(d)
	hubSync(d)
	hubRoster(d)
	hubConflictsAndLinks(d)
	return d
})

func hubPrograms(d *OpenAPI) {
	d.Define("Enrollment", d.Obj("A program's public key to enroll.", Props{
		"code":       d.Pattern("A program code with a definition (built in: FED, MI, NV; more with --programs).", programPattern),
		"name":       d.StrMax("Default: the program definition's name.", 200),
		"jwk":        d.RefD("JWK", "The program's public key (no `d`; not the hub's own)."),
		"not_before": d.Time("Default: now."),
		"not_after":  d.Time("Default: no end. Not before not_before, not in the past."),
	}, "code", "jwk"))
	d.Define("KeyRequest", d.Obj("An admin's key for an enrolled program.", Props{
		"jwk":        d.RefD("JWK", "The new public key."),
		"not_before": d.Time("Default: now."),
		"not_after":  d.Time("Default: no end. Not in the past."),
	}, "jwk"))
	d.Define("Revocation", d.Obj("", Props{
		"effective_at": d.Time("Default: now; never in the past."),
		"reason":       d.StrMax("Kept and shown.", maxRevokeReason),
	}))
	d.Define("KeyView", d.Obj("An enrolled public key and its lifecycle (docs/PROTOCOL.md section 2).", Props{
		"kid":           d.Str(""),
		"jwk":           d.Ref("JWK"),
		"added_at":      d.Time(""),
		"not_before":    d.Time("Inclusive."),
		"not_after":     d.Time("Inclusive; absent: no end."),
		"revoked_at":    d.Time("Absent: not revoked."),
		"state":         d.Enum("At the hub's clock.", "pending", "valid", "expired", "revoked"),
		"revoke_reason": d.Str(""),
		"revoked_by":    d.Str(""),
		"source":        d.Enum("", sourceEnrollment, sourceAdmin, sourceRotation),
		"rotated_from":  d.Str("The key that signed its rotation."),
	}, "kid", "jwk", "added_at", "state"))
	d.Define("Program", d.Obj("An enrolled program as GET /v1/programs shows it.", Props{
		"code":        d.Str(""),
		"name":        d.Str(""),
		"enrolled_at": d.Time(""),
		"keys":        d.Arr("", d.Ref("KeyView")),
		"sync":        d.Ref("ProgramSync"),
	}, "code", "name", "enrolled_at", "keys", "sync"))
	d.Define("ProgramList", described(d.ListOf("", d.Ref("Program")), "Every enrolled program, in code order (one page)."))

	code := d.PathParam("code", "A program code.", d.Pattern("", programPattern))
	programAnswers := func(what string) []Response {
		return []Response{
			{Status: 201, Description: what + " is new: the program as GET /v1/programs shows it.", Content: d.JSON(d.Ref("Program"))},
			{Status: 200, Description: "The program already held it: nothing changed.", Content: d.JSON(d.Ref("Program"))},
		}
	}
	d.Add("POST", "/v1/programs", Operation{Tag: "programs", Summary: "Enroll a program's public key",
		Description: "Registers a program (which must have a definition) and a public key for it, valid from not_before to not_after. The same key sent again changes nothing.",
		Roles:       []auth.Role{auth.RoleAdmin},
		Body:        &Body{Required: true, Content: d.JSON(d.Ref("Enrollment"))},
		Responses: append(programAnswers("The program"),
			Response{Status: 409, Problems: []string{"key-in-use", "key-conflict"}, Description: "The key is enrolled for another program, or this program holds it revoked or with another window."},
			Response{Status: 422, Problems: []string{"validation"}, Description: "A bad code (or one without a definition), jwk (private material, the hub's own key) or name, or a window that ends before it begins or in the past."}),
	})
	d.Add("GET", "/v1/programs", Operation{Tag: "programs", Summary: "Enrolled programs with their keys and sync status",
		Responses: []Response{{Status: 200, Description: "Every enrolled program.", Content: d.JSON(d.Ref("ProgramList"))}}})
	d.Add("POST", "/v1/programs/{code}/keys", Operation{Tag: "programs", Summary: "Add a key: a signed rotation, or an admin's key",
		Description: "`application/jose`: a rotation announcement (a JWS, typ `alliancehub-rotation+jws`, payload `{program, jwk, issued_at, retire_old_at}`, at most " + strconv.Itoa(wire.MaxRotationBody) + " bytes) signed by a key the hub accepts for the program now: the new key is valid from now; the signing key's not_after becomes retire_old_at, or 7 days from now. `application/json`: an admin adds a key (KeyRequest). docs/PROTOCOL.md section 2.",
		Roles:       []auth.Role{auth.RoleProgram, auth.RoleAdmin},
		RolesNote:   "A rotation (application/jose): a program token for {code}, or admin. A key as JSON: admin only.",
		Params:      []Param{code},
		Body: &Body{Required: true, Content: map[string]Schema{
			wire.MediaTypeJOSE:       d.Str("A compact JWS of a rotation announcement."),
			echo.MIMEApplicationJSON: d.Ref("KeyRequest"),
		}},
		Responses: append(programAnswers("The key"),
			Response{Status: 400, Problems: []string{"malformed-jws", "bad-rotation", "clock-skew"}, Description: "Not a well-formed rotation JWS; a payload that is not a rotation or names another program; issued_at more than 5 minutes from the hub's clock."},
			Response{Status: 401, Problems: []string{"unknown-key", "key-revoked", "key-not-valid", "bad-signature"}, Description: "The rotation's signing key is not enrolled, revoked, outside its window, or the signature does not verify."},
			Response{Status: 403, Problems: []string{"not-owner"}, Description: "A rotation signed by another program's key, or a program token for another program."},
			Response{Status: 404, Problems: []string{"not-found"}, Description: "The program is not enrolled."},
			Response{Status: 409, Problems: []string{"key-conflict", "key-in-use"}, Description: "A key asked for again with another window, a revoked key, or another program's key."},
			Response{Status: 413, Problems: []string{"too-large"}},
			Response{Status: 415, Problems: []string{"unsupported-media-type"}, Description: "Neither application/jose nor application/json."},
			Response{Status: 422, Problems: []string{"validation"}, Description: "A bad jwk (the signing key itself, the hub's, private material), not_after or retire_old_at in the past."}),
	})
	d.Add("POST", "/v1/programs/{code}/keys/{kid}/revoke", Operation{Tag: "programs", Summary: "Revoke a program's key",
		Description: "revoked_at = effective_at (default now): the hub refuses the key's signatures received after it; what it signed before stays. The body may be empty.",
		Roles:       []auth.Role{auth.RoleAdmin},
		Params:      []Param{code, d.PathParam("kid", "The key id.", d.Str(""))},
		Body:        &Body{Content: d.JSON(d.Ref("Revocation"))},
		Responses: []Response{
			{Status: 200, Description: "The program as GET /v1/programs shows it.", Content: d.JSON(d.Ref("Program"))},
			{Status: 404, Problems: []string{"not-found"}, Description: "The program is not enrolled or holds no such key."},
			{Status: 409, Problems: []string{"already-revoked"}, Description: "Revoked already; nothing changes."},
			{Status: 422, Problems: []string{"validation"}, Description: "effective_at in the past, or a reason over " + strconv.Itoa(maxRevokeReason) + " characters."},
		},
	})
}

func hubSync(d *OpenAPI) {
	d.Define("PushResponse", d.Obj("The answer to a push: one result per record, in the batch's order.", Props{
		"batch_id":   d.Str(""),
		"checkpoint": d.Seq("The highest node sequence number the hub has processed for the program."),
		"results":    d.Arr("", d.Ref("PushResult")),
	}, "batch_id", "checkpoint", "results"))
	d.Define("Annotation", d.Obj("The hub's view of a change's record when the page was read (advisory).", Props{
		"conflict":    d.Bool(""),
		"winning_rev": d.Str(""),
		"links":       d.Arr("", d.Ref("Link")),
	}, "conflict", "winning_rev"))
	d.Define("Change", d.Obj("One revision the hub stored, or a note it made, in hub sequence order.", Props{
		"seq":         d.Seq("The hub's sequence number."),
		"received_at": d.Time(""),
		"record":      d.Str("The compact JWS of the record, exactly as its program signed it."),
		"note":        d.Str("Instead of record: an annotation the hub signed (typ alliancehub-note+jws)."),
		"hub":         d.Ref("Annotation"),
	}, "seq", "received_at", "hub"))
	d.Define("ChangesPage", d.Obj("One page of the change feed (docs/PROTOCOL.md section 8a).", Props{
		"changes":  d.Arr("After since, in seq order.", d.Ref("Change")),
		"last_seq": d.Seq("The since of the next request."),
		"head_seq": d.Seq("The hub's latest sequence number when the page was read."),
	}, "changes", "last_seq", "head_seq"))
	d.Define("PublishedKey", d.Obj("", Props{
		"kid": d.Str(""), "jwk": d.Ref("JWK"), "added_at": d.Time(""),
		"not_before": d.Time(""), "not_after": d.Time(""), "revoked_at": d.Time(""),
	}, "kid", "jwk", "added_at"))
	d.Define("ProgramKeys", d.Obj("", Props{"code": d.Str(""), "keys": d.Arr("", d.Ref("PublishedKey"))}, "code", "keys"))
	d.Define("KeysDocument", d.Obj("The payload of GET /v1/sync/keys (typ alliancehub-keys+jws): every enrolled key with its window.", Props{
		"issued_at": d.Time(""), "programs": d.Arr("", d.Ref("ProgramKeys")),
	}, "issued_at", "programs"))
	d.Define("RangeDigest", d.Obj("", Props{"range": d.Str(""), "count": d.Count(""), "hash": d.Str("")}, "range", "count", "hash"))
	d.Define("ProgramDigest", d.Obj("", Props{
		"code": d.Str(""), "count": d.Count(""), "hash": d.Str("SHA-256 (hex) of the lines `<id> <rev>\\n`, sorted."),
		"ranges": d.Arr("With program: the non-empty ranges.", d.Ref("RangeDigest")),
	}, "code", "count", "hash"))
	d.Define("DigestPage", d.Obj("Program digests, or one range's revisions (docs/PROTOCOL.md section 8a).", Props{
		"programs":  d.Arr("", d.Ref("ProgramDigest")),
		"revisions": d.Arr("With program and range.", d.Ref("RevisionRef")),
	}))

	d.Add("POST", "/v1/sync/push", Operation{Tag: "sync", Summary: "Push a signed batch of records",
		Description: "The body is a compact JWS, typ `alliancehub-batch+jws`, signed by an enrolled key of the token's program, whose payload is a batch `{program, batch_id, seq_from, seq_to, issued_at, records, head}` of 1 to " + strconv.Itoa(wire.MaxBatchRecords) + " signed records (docs/PROTOCOL.md section 7). Each record is answered on its own; a whole-batch refusal stores nothing.",
		Roles:       []auth.Role{auth.RoleProgram},
		Body:        &Body{Required: true, Description: "At most " + strconv.Itoa(wire.MaxPushBody) + " bytes.", Content: map[string]Schema{wire.MediaTypeJOSE: d.Str("A compact JWS of the batch.")}},
		Responses: []Response{
			{Status: 200, Description: "One result per record; the program's checkpoint.", Content: d.JSON(d.Ref("PushResponse"))},
			{Status: 400, Problems: []string{"malformed-jws", "bad-batch", "clock-skew", "unknown-program", "invalid-request"}, Description: "Not a well-formed batch JWS; a payload that breaks the batch rules; issued_at more than 5 minutes off; no definition for the program; a body that cannot be read."},
			{Status: 401, Problems: []string{"unknown-key", "key-revoked", "key-not-valid", "bad-signature"}, Description: "The batch's key is not enrolled, revoked, outside its window, or the signature does not verify."},
			{Status: 403, Problems: []string{"not-owner", "not-enrolled"}, Description: "The batch is for another program than its key's or the token's; the program is not enrolled."},
			{Status: 409, Problems: []string{"rules-differ"}, Description: "A correctly signed record the hub's rules for the program refuse: nothing in the batch is stored."},
			{Status: 413, Problems: []string{"too-large"}, Description: "Over " + strconv.Itoa(wire.MaxPushBody) + " bytes."},
			{Status: 415, Problems: []string{"unsupported-media-type"}, Description: "Not application/jose."},
			{Status: 429, Problems: []string{"too-many-pushes"}, Description: "The program, or the hub, already has as many pushes in flight as its limits allow; nothing was read.",
				Headers: []Header{{Name: "Retry-After", Description: "Whole seconds, 1 to 5.", Required: true, Schema: d.Range("", 1, 5)}}},
		},
	})
	d.Add("GET", "/v1/sync/changes", Operation{Tag: "sync", Summary: "The change feed",
		Description: "Every revision the hub stored (and every note it signed), in hub sequence order, exactly as signed. With wait, the hub sends the status line at once and a newline every 10 seconds while it waits; the JSON page follows (allow leading whitespace). A program token's read counts as the program's last pull.",
		Params: []Param{
			d.Query("since", "The last hub sequence number the reader has; 0 (default) from the start.", Schema{"type": "integer", "format": "int64", "minimum": 0, "maximum": uint64(1) << 63, "default": 0}),
			d.Query("limit", fmt.Sprintf("At most this many changes, 1 to %d (default %d); a page also stops before its records pass %d bytes, but holds at least one change when there is one.", wire.MaxChangesLimit, wire.DefaultChangesLimit, wire.MaxChangesBytes),
				Schema{"type": "integer", "minimum": 1, "maximum": wire.MaxChangesLimit, "default": wire.DefaultChangesLimit}),
			d.Query("wait", "Long poll when nothing follows since: seconds (`30`) or a Go duration (`30s`), 0 to "+wire.MaxChangesWait.String()+" (default 0).", d.Str("")),
		},
		Responses: []Response{
			{Status: 200, Description: "One page.", Content: d.JSON(d.Ref("ChangesPage"))},
			{Status: 400, Problems: []string{"invalid-request"}, Description: "Invalid parameters, each named in `errors`."},
		},
	})
	d.Add("GET", "/v1/sync/keys", Operation{Tag: "sync", Summary: "The signed keys document",
		Description: "A compact JWS signed by the hub's own key (typ `alliancehub-keys+jws`) whose payload is a KeysDocument: every enrolled program key, revoked and expired ones too, with its window.",
		Responses:   []Response{{Status: 200, Description: "The keys document.", Content: map[string]Schema{wire.MediaTypeJOSE: d.Str("A compact JWS of a KeysDocument.")}}},
	})
	d.Add("GET", "/v1/sync/digest", Operation{Tag: "sync", Summary: "Digests of the stored revisions (the backstop)",
		Description: "No parameters: every program's digest. program: that program's digest with its ranges. program and range: that range's revisions with their hub sequence numbers.",
		Params: []Param{
			d.Query("program", "A program code.", d.Pattern("", programPattern)),
			d.Query("range", "One character: the first of an id after its program prefix; needs program.", Schema{"type": "string", "minLength": 1, "maxLength": 1}),
		},
		Responses: []Response{
			{Status: 200, Description: "Digests, or revisions.", Content: d.JSON(d.Ref("DigestPage"))},
			{Status: 400, Problems: []string{"invalid-request"}, Description: "A bad program, or a range that is not one character or comes without program."},
		},
	})
}

func hubRoster(d *OpenAPI) {
	d.Define("Bundle", d.Obj("Every stored revision of an Alliance and its reports, as signed, with what verifies them offline (`alliancehub verify`).", Props{
		"kind":        d.Enum("", BundleKind),
		"exported_at": d.Time(""),
		"hub_jwk":     d.RefD("JWK", "The hub's public key."),
		"keys":        d.Str("The hub-signed keys document (compact JWS)."),
		"changes":     d.Arr("In hub sequence order.", d.Ref("Change")),
	}, "kind", "exported_at", "hub_jwk", "keys", "changes"))
	byMap := func(desc string) Schema { return d.Map(desc, d.Count("")) }
	d.Define("Stats", d.Obj("National totals, each linked group counted once (docs/PROTOCOL.md section 10, National totals).", Props{
		"as_of":              d.Date(""),
		"total":              d.Count("Alliances."),
		"records":            d.Count("Roster records."),
		"duplicates":         d.Count("records - total."),
		"linked_groups":      d.Count(""),
		"by_program":         byMap("By the program of the record that represents each Alliance; every enrolled program is listed."),
		"records_by_program": byMap("Roster records by their own program."),
		"by_level":           byMap(""),
		"by_standing":        byMap(""),
		"by_category":        byMap("By national category; does not sum to total."),
		"by_year_signed":     byMap("`unknown` for drafts."),
	}, "as_of", "total", "records", "duplicates", "linked_groups", "by_program", "records_by_program", "by_level", "by_standing", "by_category", "by_year_signed"))

	id := d.PathParam("id", "An Alliance's record id.", d.Str(""))
	asOf := d.Query("as_of", "Default: today in federal OSHA's time zone.", d.Day(""))
	d.Add("GET", "/v1/roster", Operation{Tag: "roster", Summary: "The national roster",
		Description: "Every Alliance on the roster, in id order (or `sort`), filtered. Every invalid parameter is named in one 400 answer.",
		Params:      d.RosterParams("federal OSHA's time zone (America/New_York)"),
		Responses: []Response{d.RosterAnswers(),
			{Status: 400, Problems: []string{"invalid-request"}, Description: "Invalid parameters (all named in `errors`), or a page_token the hub did not issue."}},
	})
	d.Add("GET", "/v1/roster/{id}", Operation{Tag: "roster", Summary: "One Alliance with its history",
		Description: "The roster item plus every stored revision, its reports and the owning program's sync state.",
		Params:      []Param{id, asOf},
		Responses: []Response{
			{Status: 200, Description: "The Alliance.", Content: d.JSON(d.Ref("RosterEntry"))},
			{Status: 400, Problems: []string{"invalid-request"}, Description: "as_of is not a date YYYY-MM-DD."},
			{Status: 404, Problems: []string{"not-found"}, Description: "The roster does not hold this id."},
		},
	})
	d.Add("GET", "/v1/roster/{id}/bundle", Operation{Tag: "roster", Summary: "An offline-verifiable bundle of one Alliance",
		Params: []Param{id},
		Responses: []Response{
			{Status: 200, Description: "The bundle, as an attachment `<id>.bundle.json`.", Content: d.JSON(d.Ref("Bundle")),
				Headers: []Header{{Name: "Content-Disposition", Required: true, Schema: d.Str("")}}},
			{Status: 404, Problems: []string{"not-found"}, Description: "No Alliance with this id."},
		},
	})
	d.Add("GET", "/v1/stats", Operation{Tag: "roster", Summary: "National totals",
		Params: []Param{asOf},
		Responses: []Response{
			{Status: 200, Description: "The totals.", Content: d.JSON(d.Ref("Stats"))},
			{Status: 400, Problems: []string{"invalid-request"}, Description: "as_of is not a date YYYY-MM-DD."},
		},
	})
}

func hubConflictsAndLinks(d *OpenAPI) {
	d.Define("ConflictPage", described(d.ListOf("", d.Ref("Conflict")), "Conflicted records in id order."))
	d.Define("LinkPage", described(d.ListOf("", d.Ref("Link")), "Links in link id order."))
	d.Define("Note", d.Obj("", Props{"note": d.StrMax("", maxAckNote)}))

	id := d.PathParam("id", "A record id.", d.Str(""))
	program := d.Query("program", "A program code.", d.Pattern("", programPattern))
	dcsp := []auth.Role{auth.RoleAnalyst, auth.RoleAdmin}
	d.Add("GET", "/v1/conflicts", Operation{Tag: "conflicts", Summary: "The conflict queue",
		Params: []Param{program,
			d.Query("acknowledged", "true: only those DCSP acknowledged; false: only the others.", d.Enum("", "true", "false")),
			d.Limit(defaultConflictLimit, maxConflictLimit), d.PageToken()},
		Responses: []Response{
			{Status: 200, Description: "A page of conflicts.", Content: d.JSON(d.Ref("ConflictPage"))},
			{Status: 400, Problems: []string{"invalid-request"}, Description: "Invalid parameters, each named in `errors`, or a page_token the hub did not issue."},
		},
	})
	d.Add("GET", "/v1/conflicts/{id}", Operation{Tag: "conflicts", Summary: "One conflict",
		Params: []Param{id},
		Responses: []Response{
			{Status: 200, Description: "The conflict.", Content: d.JSON(d.Ref("Conflict"))},
			{Status: 404, Problems: []string{"not-conflicted"}, Description: "The record has no open conflict."},
		},
	})
	d.Add("POST", "/v1/conflicts/{id}/resolve", Operation{Tag: "conflicts", Summary: "Acknowledge a conflict (DCSP)",
		Description: "Kept durably as `acknowledged` while the record's leaves are the ones acknowledged; a new branch reopens it. It never changes the program's record: only the owner program resolves a conflict. The body may be empty.",
		Roles:       dcsp,
		Params:      []Param{id},
		Body:        &Body{Content: d.JSON(d.Ref("Note"))},
		Responses: []Response{
			{Status: 200, Description: "The conflict, acknowledged.", Content: d.JSON(d.Ref("Conflict"))},
			{Status: 404, Problems: []string{"not-conflicted"}, Description: "The record has no open conflict."},
			{Status: 422, Problems: []string{"validation"}, Description: "A note over " + strconv.Itoa(maxAckNote) + " characters."},
		},
	})
	d.Add("GET", "/v1/links", Operation{Tag: "links", Summary: "Links between records of different programs",
		Params: []Param{
			d.Query("state", "", d.Enum("", linkStates...)),
			d.Query("program", "Links with a record of this program.", d.Pattern("", programPattern)),
			d.Limit(defaultLinkLimit, maxLinkLimit), d.PageToken(),
		},
		Responses: []Response{
			{Status: 200, Description: "A page of links.", Content: d.JSON(d.Ref("LinkPage"))},
			{Status: 400, Problems: []string{"invalid-request"}, Description: "Invalid parameters, each named in `errors`, or a page_token the hub did not issue."},
		},
	})
	lid := d.PathParam("id", "A link id.", d.Str(""))
	d.Add("GET", "/v1/links/{id}", Operation{Tag: "links", Summary: "One link",
		Params: []Param{lid},
		Responses: []Response{
			{Status: 200, Description: "The link.", Content: d.JSON(d.Ref("Link"))},
			{Status: 404, Problems: []string{"unknown-link"}, Description: "The hub shows no such link."},
		},
	})
	for _, what := range []string{"confirm", "reject"} {
		d.Add("POST", "/v1/links/{id}/"+what, Operation{Tag: "links", Summary: strings.ToUpper(what[:1]) + what[1:] + " a link (DCSP)",
			Description: "Written to the hub's journal before it is shown; a later decision replaces an earlier one. It never changes a program's record. The body may be empty.",
			Roles:       dcsp,
			Params:      []Param{lid},
			Body:        &Body{Content: d.JSON(d.Ref("Note"))},
			Responses: []Response{
				{Status: 200, Description: "The link with its decision.", Content: d.JSON(d.Ref("Link"))},
				{Status: 404, Problems: []string{"unknown-link"}, Description: "The hub shows no such link."},
				{Status: 422, Problems: []string{"validation"}, Description: "A note over " + strconv.Itoa(maxLinkNote) + " characters."},
			},
		})
	}
}
