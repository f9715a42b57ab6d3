package webui

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// Prefix is where every page of the UI lives. The sign-in page and the style sheet are
// the only ones served without a token (CONTRACT.md).
const Prefix = "/ui"

//go:embed templates/*.html
var sharedTemplates embed.FS

//go:embed static
var static embed.FS

// Config configures the UI of one server.
type Config struct {
	// Name is the server's name in the header: "National roster" on the hub, the
	// program's name on a node.
	Name string
	// Realm tells this server's cookies from another's on the same host name (the demo
	// runs the hub and three nodes on one address): "hub", or the node's program code.
	Realm string
	// API is the server's own HTTP API. Every page reads and writes through it, with the
	// signed-in user's token, so a page may do exactly what the API lets the token do.
	API http.Handler
	// Verify checks a token as the API does (the same function edge.Authenticate uses).
	Verify edge.TokenVerifier
	// Catalog names programs and their goal categories; nil: the built-in ones.
	Catalog *schema.Catalog
	// Location is where times are shown: federal OSHA's time zone on the hub, the
	// program's on a node. Nil: UTC.
	Location *time.Location
	// Nav lists the server's pages in the header, in order.
	Nav []NavItem
	// Pages holds the server's own page templates (*.html at its root), each defining
	// "content"; a page is named by its file name without ".html".
	Pages fs.FS
	// Home is the page /ui/ leads to.
	Home string
	// Signatures, when set, checks every stored revision of an Alliance again (the
	// hub), for its page's provenance; it answers a result per rev.
	Signatures func(c echo.Context, id string) (map[string]Signature, error)
	// Notices are the messages a page shows after an action redirected to it with
	// ?done=KEY, by key (only these texts can appear: the query picks, never writes).
	Notices map[string]string
	// LinkPage, when set, is where a cross-program link is reviewed, its id appended
	// (the hub's /ui/links/); an Alliance's page then links each of its links there.
	LinkPage string
	Log      *slog.Logger
	Now      func() time.Time
}

// NavItem is one link of the header.
type NavItem struct {
	Label string
	Href  string
}

// Signature is the result of checking one stored revision's signature again.
type Signature struct {
	OK     bool
	Detail string // why it does not verify, in words
}

// Site is the UI of one server: its own router, mounted on the server's under Prefix.
type Site struct {
	cfg         Config
	router      *echo.Echo
	signed      *echo.Group // pages that need a signed-in user
	pages       map[string]*template.Template
	csrfKey     []byte
	css         string // the style sheet's URL, with its content hash for caching
	sessionName string // the session cookie's name
	signinName  string // the sign-in form's cookie's name
	catalog     *schema.Catalog
	uploads     map[string]int64 // routes that take a multipart form (a file), by route path: its size bound
}

// New prepares a UI: parses the shared and the server's templates and sets up the
// routes every UI has (sign-in, sign-out, the style sheet).
func New(cfg Config) (*Site, error) {
	if cfg.API == nil || cfg.Verify == nil {
		return nil, errors.New("webui: API and Verify are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Home == "" {
		cfg.Home = Prefix + "/"
	}
	s := &Site{cfg: cfg, catalog: cfg.Catalog, sessionName: sessionCookie, signinName: signinCookie, uploads: map[string]int64{}}
	if cfg.Realm != "" {
		s.sessionName += "_" + cfg.Realm
		s.signinName += "_" + cfg.Realm
	}
	if s.catalog == nil {
		var err error
		if s.catalog, err = schema.LoadCatalog(); err != nil {
			return nil, err
		}
	}
	// The key CSRF tokens are derived with lives as long as the process: a form opened
	// before a restart is refused once, with a page that says to send it again.
	s.csrfKey = make([]byte, 32)
	if _, err := rand.Read(s.csrfKey); err != nil {
		return nil, err
	}
	css, err := static.ReadFile("static/ui.css")
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(css)
	s.css = Prefix + "/static/ui.css?v=" + hex.EncodeToString(sum[:6])
	if err := s.parse(); err != nil {
		return nil, err
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorPage
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisableStackAll: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.cfg.Log.Error("panic", "path", c.Request().URL.Path, "err", err, "stack", string(stack))
			return err
		},
	}))
	e.Use(securityHeaders)
	e.GET(Prefix, toSlash)
	e.GET(Prefix+"/static/:name", s.serveStatic)
	e.GET(Prefix+"/signin", s.signInPage)
	e.POST(Prefix+"/signin", s.signIn, s.readForm)
	s.signed = e.Group(Prefix, s.session, s.readForm, s.checkCSRF)
	s.signed.POST("/signout", s.signOut)
	s.signed.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, s.cfg.Home) })
	s.router = e
	return s, nil
}

// GET adds a page for signed-in users at Prefix+path.
func (s *Site) GET(path string, h echo.HandlerFunc) { s.signed.GET(path, h) }

// POST adds a form action for signed-in users at Prefix+path; its CSRF token is checked
// before h runs.
func (s *Site) POST(path string, h echo.HandlerFunc) { s.signed.POST(path, h) }

// Upload adds a form action for signed-in users at Prefix+path that takes a file: a
// multipart/form-data body of at most limit bytes (every other action takes urlencoded
// forms only). Its CSRF token is checked, from the multipart fields, before h runs.
func (s *Site) Upload(path string, h echo.HandlerFunc, limit int64) {
	s.uploads[Prefix+path] = limit
	s.signed.POST(path, h)
}

// UploadedFile reads the file a form sent in field name: its bytes and name; ok is false
// when none was chosen.
func UploadedFile(c echo.Context, name string) (data []byte, filename string, ok bool, err error) {
	mf := c.Request().MultipartForm
	if mf == nil || len(mf.File[name]) == 0 {
		return nil, "", false, nil
	}
	fh := mf.File[name][0]
	if fh.Filename == "" && fh.Size == 0 {
		return nil, "", false, nil // a browser sends an empty part when no file was chosen
	}
	f, err := fh.Open()
	if err != nil {
		return nil, "", false, err
	}
	defer f.Close()
	data, err = io.ReadAll(f)
	if err != nil {
		return nil, "", false, err
	}
	return data, fh.Filename, true, nil
}

// toSlash leads /ui to /ui/: the UI's pages live under Prefix+"/".
func toSlash(c echo.Context) error {
	u := Prefix + "/"
	if q := c.Request().URL.RawQuery; q != "" {
		u += "?" + q
	}
	return c.Redirect(http.StatusMovedPermanently, u)
}

// Handler is the UI's own router (paths begin with Prefix).
func (s *Site) Handler() http.Handler { return s.router }

// Mount serves the UI from the server's router: "/" leads to it, and everything under
// Prefix is the UI's. The server's middleware (request ids, logs, metrics) runs first.
// Prefix itself, without its slash, is led to Prefix+"/" by the UI's router; it reaches
// it as the server's not-found route, so the server's list of routes (its OpenAPI
// document) stays what it serves under /ui/.
func (s *Site) Mount(e *echo.Echo) {
	e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, Prefix+"/") })
	h := echo.WrapHandler(s.router)
	e.RouteNotFound(Prefix, h)
	e.GET(Prefix+"/*", h)
	e.POST(Prefix+"/*", h)
}

// securityHeaders: pages load nothing but the UI's own style sheet (no script, no other
// origin), are never framed, and are not kept in caches: they hold what a token may read.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		return next(c)
	}
}

func (s *Site) serveStatic(c echo.Context) error {
	name := c.Param("name")
	if strings.ContainsAny(name, "/\\") || strings.HasPrefix(name, ".") {
		return echo.ErrNotFound
	}
	b, err := static.ReadFile(path.Join("static", name))
	if err != nil {
		return echo.ErrNotFound
	}
	ct := "application/octet-stream"
	switch path.Ext(name) {
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".png":
		ct = "image/png"
	case ".svg":
		ct = "image/svg+xml"
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=86400")
	return c.Blob(http.StatusOK, ct, b)
}

// Page is what every template receives.
type Page struct {
	Site   SiteView
	Title  string
	Claims *auth.Claims
	CSRF   string // the token every form carries
	Path   string // the request's path, to mark the current page in the header
	Notice string // what the last action did
	Data   any
}

// SiteView is what templates see of the site.
type SiteView struct {
	Name string
	CSS  string
	Nav  []NavItem
}

// Current reports whether n is the page being shown (or one under it).
func (p *Page) Current(n NavItem) bool {
	return p.Path == n.Href || strings.HasPrefix(p.Path, strings.TrimSuffix(n.Href, "/")+"/")
}

// Role is the signed-in user's role, in words.
func (p *Page) Role() string {
	if p.Claims == nil {
		return ""
	}
	if p.Claims.Role == auth.RoleProgram {
		return "program " + p.Claims.Program
	}
	return string(p.Claims.Role)
}

// Render writes a page: the layout around the named page template, with data.
func (s *Site) Render(c echo.Context, status int, page, title string, data any) error {
	t, ok := s.pages[page]
	if !ok {
		return fmt.Errorf("webui: no page template %q", page)
	}
	p := &Page{
		Site:   SiteView{Name: s.cfg.Name, CSS: s.css, Nav: s.cfg.Nav},
		Title:  title,
		Claims: edge.Claims(c),
		Path:   c.Request().URL.Path,
		Notice: s.cfg.Notices[c.QueryParam("done")],
		Data:   data,
	}
	if tok := Token(c); tok != "" {
		p.CSRF = s.csrfFor(tok)
	} else if v, ok := c.Get(signinNonceKey).(string); ok {
		p.CSRF = s.csrfFor(signinPrefix + v)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		return fmt.Errorf("webui: render %s: %w", page, err)
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// errorPage renders every error a page returns as a page: a token the API no longer
// takes leads back to sign-in; the API's refusals are shown in its own words; anything
// else is a generic page whose cause is logged, never shown.
func (s *Site) errorPage(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var p *edge.Problem
	var he *echo.HTTPError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &p):
	case errors.As(err, &mbe):
		p = edge.Errorf(http.StatusRequestEntityTooLarge, "too-large", "The form is larger than %d bytes.", mbe.Limit)
	case errors.As(err, &he):
		p = edge.Errorf(he.Code, "http-error", "%v", he.Message)
		if he.Code == http.StatusNotFound {
			p.Detail = "There is no page at this address."
		}
	default:
		s.cfg.Log.Error("page failed", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
		p = edge.Errorf(http.StatusInternalServerError, "internal", "The page could not be shown; the cause is in the server's log.")
	}
	if p.Status == http.StatusUnauthorized {
		s.clearSession(c)
		why := "invalid"
		if strings.HasSuffix(p.Type, ":token-expired") {
			why = "expired"
		}
		c.Redirect(http.StatusSeeOther, Prefix+"/signin?why="+why)
		return
	}
	data := struct {
		Problem   *edge.Problem
		RequestID string
	}{p, c.Response().Header().Get(echo.HeaderXRequestID)}
	if rerr := s.Render(c, p.Status, "error", http.StatusText(p.Status), data); rerr != nil {
		s.cfg.Log.Error("error page failed", "err", rerr)
		c.String(p.Status, http.StatusText(p.Status))
	}
}
