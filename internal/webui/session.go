package webui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/labstack/echo/v4"
)

// The session is the token itself, kept where page scripts cannot read it (HttpOnly;
// the UI has no scripts anyway), sent only to this site's own pages (SameSite=Strict,
// Path=/ui/), over TLS only when the page came over TLS (Secure), and dropped when the
// token expires. The server keeps no session state: signing out forgets the token in
// this browser, and the token stays valid until its exp, like any bearer token.
const (
	sessionCookie = "alliancehub_session"
	signinCookie  = "alliancehub_signin" // the sign-in form's CSRF secret, before a session
	cookiePath    = Prefix + "/"

	tokenKey       = "webui.token"
	signinNonceKey = "webui.signin"
	signinPrefix   = "signin:"

	// maxForm bounds a form's body, as the API bounds a JSON body.
	maxForm = edge.MaxJSONBody
)

// Token is the signed-in user's token ("" on the sign-in page).
func Token(c echo.Context) string {
	s, _ := c.Get(tokenKey).(string)
	return s
}

// Claims are the signed-in user's claims, checked as the API checks them.
func Claims(c echo.Context) *auth.Claims { return edge.Claims(c) }

// session turns the session cookie into the same claims the API's edge.Authenticate
// makes of a bearer header, by running edge.Authenticate itself over it. Without a
// valid token the page leads to sign-in, and back to this page afterwards.
func (s *Site) session(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ck, err := c.Cookie(s.sessionName)
		if err != nil || ck.Value == "" {
			return s.toSignIn(c, "")
		}
		c.Request().Header.Set(echo.HeaderAuthorization, "Bearer "+ck.Value)
		c.Set(tokenKey, ck.Value)
		reached := false
		err = edge.Authenticate(s.cfg.Verify)(func(c echo.Context) error {
			reached = true
			return next(c)
		})(c)
		if !reached && err != nil {
			s.clearSession(c)
			c.Set(tokenKey, "")
			why := "invalid"
			if errors.Is(err, auth.ErrTokenExpired) {
				why = "expired"
			}
			return s.toSignIn(c, why)
		}
		return err
	}
}

// toSignIn leads to the sign-in page; after signing in, a page asked for by GET is shown.
func (s *Site) toSignIn(c echo.Context, why string) error {
	q := url.Values{}
	if why != "" {
		q.Set("why", why)
	}
	if c.Request().Method == http.MethodGet {
		q.Set("next", c.Request().URL.RequestURI())
	}
	u := Prefix + "/signin"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return c.Redirect(http.StatusSeeOther, u)
}

// readForm reads a POSTed form: url-encoded, at most maxForm bytes; or, on a route added
// with Upload, multipart (a file), at most that route's bound, held in memory.
func (s *Site) readForm(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Method != http.MethodPost {
			return next(c)
		}
		mt, _, _ := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
		if limit, ok := s.uploads[c.Path()]; ok && mt == echo.MIMEMultipartForm {
			r.Body = http.MaxBytesReader(c.Response(), r.Body, limit)
			if err := r.ParseMultipartForm(limit); err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					return mbe
				}
				return edge.Errorf(http.StatusBadRequest, "invalid-request", "The form could not be read.")
			}
			return next(c)
		}
		if mt != echo.MIMEApplicationForm {
			return edge.Errorf(http.StatusUnsupportedMediaType, "unsupported-media-type", "A form must be sent as %s.", echo.MIMEApplicationForm)
		}
		r.Body = http.MaxBytesReader(c.Response(), r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return mbe
			}
			return edge.Errorf(http.StatusBadRequest, "invalid-request", "The form could not be read.")
		}
		return next(c)
	}
}

// csrfFor derives the CSRF token of a session (or of a sign-in form) from its secret
// with HMAC-SHA256 under a key only this process holds. A page from another site can
// neither read it nor compute it, and it changes with the token.
func (s *Site) csrfFor(secret string) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte("alliancehub-ui-csrf\x00"))
	m.Write([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// crossSite reports a request the browser says another site started (Sec-Fetch-Site);
// browsers that do not send the header are left to the CSRF token and SameSite.
func crossSite(r *http.Request) bool {
	v := r.Header.Get("Sec-Fetch-Site")
	return v != "" && v != "same-origin" && v != "none"
}

// errCSRF answers a form whose CSRF token is missing or wrong.
var errCSRF = edge.Errorf(http.StatusForbidden, "csrf",
	"This form could not be accepted: it was not sent from this site's own page, or it was opened before you signed in again or the server restarted. Go back, reload the page and send it again.")

// checkCSRF requires every POST of a signed-in user to carry the session's CSRF token.
func (s *Site) checkCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method != http.MethodPost {
			return next(c)
		}
		if crossSite(c.Request()) || !hmac.Equal([]byte(c.Request().PostForm.Get("csrf")), []byte(s.csrfFor(Token(c)))) {
			return errCSRF
		}
		return next(c)
	}
}

// secure reports whether cookies should be Secure: the page came over TLS (directly, or
// through a proxy that says so).
func secure(c echo.Context) bool { return c.Scheme() == "https" }

func (s *Site) setCookie(c echo.Context, name, value string, expires time.Time) {
	ck := &http.Cookie{Name: name, Value: value, Path: cookiePath, HttpOnly: true, Secure: secure(c), SameSite: http.SameSiteStrictMode}
	if expires.IsZero() {
		ck.MaxAge = -1
		ck.Expires = time.Unix(0, 0)
	} else {
		ck.Expires = expires.UTC()
		ck.MaxAge = max(1, int(time.Until(expires).Seconds()))
	}
	c.SetCookie(ck)
}

func (s *Site) clearSession(c echo.Context) { s.setCookie(c, s.sessionName, "", time.Time{}) }

// signInReasons explain why the sign-in page is shown.
var signInReasons = map[string]string{
	"expired":    "Your token has expired. Paste a new one to go on.",
	"invalid":    "This server no longer accepts your token. Paste a new one to go on.",
	"signed-out": "You are signed out. The token is forgotten in this browser; it stays valid until it expires.",
}

type signInData struct {
	Next    string
	Message string // why the page is shown
	Error   string // what was wrong with the token sent
}

// signInNonce is the sign-in form's CSRF secret: a random value in its own cookie
// (there is no session yet), so a page of another site cannot sign a user in with a
// token of its choosing.
func (s *Site) signInNonce(c echo.Context, fresh bool) (string, error) {
	if ck, err := c.Cookie(s.signinName); err == nil && ck.Value != "" && !fresh {
		return ck.Value, nil
	}
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	v := base64.RawURLEncoding.EncodeToString(b)
	s.setCookie(c, s.signinName, v, s.cfg.Now().Add(2*time.Hour))
	return v, nil
}

func (s *Site) signInPage(c echo.Context) error {
	next := safeNext(c.QueryParam("next"))
	if ck, err := c.Cookie(s.sessionName); err == nil && ck.Value != "" {
		if _, err := s.cfg.Verify(ck.Value); err == nil {
			return c.Redirect(http.StatusSeeOther, next)
		}
	}
	return s.renderSignIn(c, http.StatusOK, false, signInData{Next: next, Message: signInReasons[c.QueryParam("why")]})
}

func (s *Site) renderSignIn(c echo.Context, status int, fresh bool, d signInData) error {
	nonce, err := s.signInNonce(c, fresh)
	if err != nil {
		return err
	}
	c.Set(signinNonceKey, nonce)
	return s.Render(c, status, "signin", "Sign in", d)
}

func (s *Site) signIn(c echo.Context) error {
	form := c.Request().PostForm
	d := signInData{Next: safeNext(form.Get("next"))}
	ck, err := c.Cookie(s.signinName)
	if err != nil || ck.Value == "" || crossSite(c.Request()) ||
		!hmac.Equal([]byte(form.Get("csrf")), []byte(s.csrfFor(signinPrefix+ck.Value))) {
		d.Error = "The sign-in form had expired. Paste the token again."
		return s.renderSignIn(c, http.StatusForbidden, true, d)
	}
	raw := strings.TrimSpace(form.Get("token"))
	raw = strings.TrimSpace(strings.TrimPrefix(raw, "Bearer "))
	// A token pasted from a terminal or an e-mail may come wrapped over lines; a JWT
	// holds no whitespace, and servers refuse one that does.
	raw = strings.Join(strings.Fields(raw), "")
	if raw == "" {
		d.Error = "Paste a token minted with alliancehub token."
		return s.renderSignIn(c, http.StatusUnprocessableEntity, false, d)
	}
	claims, err := s.cfg.Verify(raw)
	if err != nil {
		d.Error = tokenProblem(err)
		return s.renderSignIn(c, http.StatusUnauthorized, false, d)
	}
	exp := s.cfg.Now().Add(time.Hour)
	if claims.Expiry != nil {
		exp = claims.Expiry.Time()
	}
	s.setCookie(c, s.sessionName, raw, exp)
	s.setCookie(c, s.signinName, "", time.Time{})
	s.cfg.Log.Info("signed in to the web UI", "subject", claims.Subject, "role", string(claims.Role), "program", claims.Program)
	return c.Redirect(http.StatusSeeOther, d.Next)
}

// tokenProblem says in words why a pasted token is refused.
func tokenProblem(err error) string {
	var p *edge.Problem
	switch {
	case errors.Is(err, auth.ErrTokenExpired):
		return "This token has expired. Mint a new one with alliancehub token."
	case errors.As(err, &p):
		return "This server does not take this token: " + p.Detail
	}
	return "This server does not take this token: " + err.Error() + ". Check that it was minted with this server's key (or, on the hub, an enrolled program's)."
}

func (s *Site) signOut(c echo.Context) error {
	s.clearSession(c)
	return c.Redirect(http.StatusSeeOther, Prefix+"/signin?why=signed-out")
}

// safeNext keeps a page to return to after sign-in only if it is one of this UI's own.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(u.Path, Prefix+"/") ||
		strings.Contains(next, "//") || strings.Contains(next, "\\") || u.Path == Prefix+"/signin" {
		return Prefix + "/"
	}
	return u.RequestURI()
}
