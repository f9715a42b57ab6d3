package ui

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/internal/webui"
	"github.com/labstack/echo/v4"
)

// Program keys: every enrolled program's public keys with their windows and state (GET
// /v1/programs), and the admin's actions on them: enroll a program or another key for
// it (POST /v1/programs) and revoke a key (POST /v1/programs/{code}/keys/{kid}/revoke);
// docs/PROTOCOL.md section 2, Key lifecycle, and section 11, Hub.

// isAdmin mirrors the API's rule for enrollment and revocation (admin only), so the forms
// are offered only to those it would take them from; the API still decides, and its
// refusal is shown if one is sent anyway.
func isAdmin(c echo.Context) bool {
	cl := webui.Claims(c)
	return cl != nil && cl.Role == auth.RoleAdmin
}

// enrolled reads GET /v1/programs.
func (u *ui) enrolled(c echo.Context) ([]programView, error) {
	var page struct {
		Items []programView `json:"items"`
	}
	if _, err := u.site.Call(c, http.MethodGet, "/v1/programs", nil, nil, nil, &page); err != nil {
		return nil, err
	}
	return page.Items, nil
}

func (u *ui) keys(c echo.Context) error {
	items, err := u.enrolled(c)
	if err != nil {
		return err
	}
	var missing []string // programs with a definition and no enrollment
	for _, code := range u.site.Catalog().Codes() {
		if !slices.ContainsFunc(items, func(p programView) bool { return p.Code == code }) {
			missing = append(missing, code)
		}
	}
	return u.site.Render(c, http.StatusOK, "keys", "Program keys", struct {
		Items   []programView
		Missing []string
		IsAdmin bool
	}{items, missing, isAdmin(c)})
}

// parseWhen reads a time typed in a form: RFC 3339, or a date and time (or a date, from
// its midnight) in UTC. "" is no time.
func parseWhen(s string) (*time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, true
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			return &t, true
		}
	}
	return nil, false
}

const badWhen = "is not a time: write YYYY-MM-DD, YYYY-MM-DD HH:MM (UTC) or an RFC 3339 time such as 2026-07-01T00:00:00Z"

// keyForm is the enrollment or revocation form: what was typed, and what is wrong with
// it by field (the API's field errors, or the form's own where it cannot send a value).
type keyForm struct {
	Values  map[string]string
	Errors  map[string]string
	Order   []string // fields in the form's order, for the error summary
	Labels  map[string]string
	Problem string // a refusal that names no field
}

func newKeyForm(v url.Values, fields []string, labels map[string]string) *keyForm {
	f := &keyForm{Values: map[string]string{}, Errors: map[string]string{}, Order: fields, Labels: labels}
	for _, k := range fields {
		f.Values[k] = strings.TrimSpace(v.Get(k))
	}
	return f
}

// Summary lists the errors in the form's order, each with its field's label.
func (f *keyForm) Summary() []struct{ Field, Label, Message string } {
	var out []struct{ Field, Label, Message string }
	for _, k := range f.Order {
		if m, ok := f.Errors[k]; ok {
			out = append(out, struct{ Field, Label, Message string }{k, f.Labels[k], m})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(f.Errors)) { // fields the form has no input for
		if !slices.Contains(f.Order, k) {
			out = append(out, struct{ Field, Label, Message string }{"", k, f.Errors[k]})
		}
	}
	return out
}

// refused puts an API refusal on the form: field errors by field, the rest above.
func (f *keyForm) refused(p *edge.Problem) {
	for _, fe := range p.Errors {
		if f.Errors[fe.Field] != "" {
			f.Errors[fe.Field] += "; " + fe.Message
		} else {
			f.Errors[fe.Field] = fe.Message
		}
	}
	if len(p.Errors) == 0 {
		f.Problem = p.Detail
	}
}

var enrollFields = []string{"code", "name", "jwk", "not_before", "not_after"}

var enrollLabels = map[string]string{"code": "Program", "name": "Name", "jwk": "Public key (JWK)", "not_before": "Valid from", "not_after": "Valid until"}

type enrollData struct {
	Form     *keyForm
	Programs []webui.Option
	Enrolled map[string]bool
}

func (u *ui) enrollData(c echo.Context, f *keyForm) (enrollData, error) {
	items, err := u.enrolled(c)
	if err != nil {
		return enrollData{}, err
	}
	d := enrollData{Form: f, Enrolled: map[string]bool{}}
	for _, p := range items {
		d.Enrolled[p.Code] = true
	}
	for _, code := range u.site.Catalog().Codes() {
		label := code + " · " + u.site.ProgramName(code)
		if d.Enrolled[code] {
			label += " (enrolled: adds a key)"
		}
		d.Programs = append(d.Programs, webui.Option{Value: code, Label: label, Selected: code == f.Values["code"]})
	}
	return d, nil
}

func (u *ui) enrollPage(c echo.Context) error {
	f := newKeyForm(c.QueryParams(), enrollFields, enrollLabels)
	d, err := u.enrollData(c, f)
	if err != nil {
		return err
	}
	return u.site.Render(c, http.StatusOK, "enroll", "Enroll a program", d)
}

// enroll sends POST /v1/programs: a new program, or another key for an enrolled one.
func (u *ui) enroll(c echo.Context) error {
	f := newKeyForm(c.Request().PostForm, enrollFields, enrollLabels)
	d, err := u.enrollData(c, f)
	if err != nil {
		return err
	}
	body := map[string]any{"code": f.Values["code"]}
	if n := f.Values["name"]; n != "" {
		body["name"] = n
	}
	switch jwk := f.Values["jwk"]; {
	case jwk == "":
		// The API names a missing key itself.
	case !json.Valid([]byte(jwk)):
		f.Errors["jwk"] = "is not JSON: paste the public JWK that alliancehub keygen printed, braces and all"
	default:
		body["jwk"] = json.RawMessage(jwk)
	}
	for _, k := range []string{"not_before", "not_after"} {
		t, ok := parseWhen(f.Values[k])
		if !ok {
			f.Errors[k] = badWhen
		} else if t != nil {
			body[k] = t
		}
	}
	if len(f.Errors) > 0 {
		return u.site.Render(c, http.StatusUnprocessableEntity, "enroll", "Enroll a program", d)
	}
	_, err = u.site.Call(c, http.MethodPost, "/v1/programs", nil, body, nil, nil)
	var p *edge.Problem
	if errors.As(err, &p) && p.Status != http.StatusUnauthorized && p.Status != http.StatusForbidden {
		f.refused(p)
		return u.site.Render(c, p.Status, "enroll", "Enroll a program", d)
	}
	if err != nil {
		return err
	}
	done := "enrolled"
	if d.Enrolled[f.Values["code"]] {
		done = "key-added"
	}
	return c.Redirect(http.StatusSeeOther, webui.Prefix+"/keys?done="+done+"#program-"+url.QueryEscape(f.Values["code"]))
}

var revokeFields = []string{"reason", "effective_at"}

var revokeLabels = map[string]string{"reason": "Reason", "effective_at": "Revoked from"}

type revokeData struct {
	Program programView
	Key     keyView
	// LastValid: no other key of the program would be valid once this one is revoked.
	LastValid bool
	Form      *keyForm
}

// revokeData finds the program and key the page is about.
func (u *ui) revokeData(c echo.Context, f *keyForm) (revokeData, error) {
	items, err := u.enrolled(c)
	if err != nil {
		return revokeData{}, err
	}
	code, kid := c.Param("code"), c.Param("kid")
	for _, p := range items {
		if p.Code != code {
			continue
		}
		for _, k := range p.Keys {
			if k.Kid != kid {
				continue
			}
			d := revokeData{Program: p, Key: k, Form: f, LastValid: true}
			for _, o := range p.Keys {
				if o.Kid != kid && (o.State == "valid" || o.State == "pending") {
					d.LastValid = false
				}
			}
			return d, nil
		}
	}
	return revokeData{}, edge.Errorf(http.StatusNotFound, "not-found", "Program %s has no key %s.", code, kid)
}

func (u *ui) revokePage(c echo.Context) error {
	d, err := u.revokeData(c, newKeyForm(url.Values{}, revokeFields, revokeLabels))
	if err != nil {
		return err
	}
	return u.site.Render(c, http.StatusOK, "revoke", "Revoke a key", d)
}

// revoke sends POST /v1/programs/{code}/keys/{kid}/revoke.
func (u *ui) revoke(c echo.Context) error {
	f := newKeyForm(c.Request().PostForm, revokeFields, revokeLabels)
	d, err := u.revokeData(c, f)
	if err != nil {
		return err
	}
	body := map[string]any{}
	if r := f.Values["reason"]; r != "" {
		body["reason"] = r
	}
	if t, ok := parseWhen(f.Values["effective_at"]); !ok {
		f.Errors["effective_at"] = badWhen
		return u.site.Render(c, http.StatusUnprocessableEntity, "revoke", "Revoke a key", d)
	} else if t != nil {
		body["effective_at"] = t
	}
	path := "/v1/programs/" + url.PathEscape(d.Program.Code) + "/keys/" + url.PathEscape(d.Key.Kid) + "/revoke"
	_, err = u.site.Call(c, http.MethodPost, path, nil, body, nil, nil)
	var p *edge.Problem
	if errors.As(err, &p) && p.Status != http.StatusUnauthorized && p.Status != http.StatusForbidden {
		f.refused(p)
		return u.site.Render(c, p.Status, "revoke", "Revoke a key", d)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, webui.Prefix+"/keys?done=revoked#program-"+url.QueryEscape(d.Program.Code))
}
