package webui

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/alliancehub/alliancehub/schema"
)

// parse builds one template set per page: the layout and the shared partials, and the
// page's own file, so every page defines "content" without clashing with another's.
func (s *Site) parse() error {
	base := template.New("").Funcs(s.funcs())
	shared, err := fs.Glob(sharedTemplates, "templates/*.html")
	if err != nil {
		return err
	}
	var pageFiles []struct {
		fsys fs.FS
		name string
	}
	for _, f := range shared {
		if strings.HasPrefix(path.Base(f), "_") {
			if _, err := base.ParseFS(sharedTemplates, f); err != nil {
				return fmt.Errorf("webui: %s: %w", f, err)
			}
			continue
		}
		pageFiles = append(pageFiles, struct {
			fsys fs.FS
			name string
		}{sharedTemplates, f})
	}
	if s.cfg.Pages != nil {
		own, err := fs.Glob(s.cfg.Pages, "*.html")
		if err != nil {
			return err
		}
		for _, f := range own {
			if strings.HasPrefix(path.Base(f), "_") {
				if _, err := base.ParseFS(s.cfg.Pages, f); err != nil {
					return fmt.Errorf("webui: %s: %w", f, err)
				}
				continue
			}
			pageFiles = append(pageFiles, struct {
				fsys fs.FS
				name string
			}{s.cfg.Pages, f})
		}
	}
	s.pages = map[string]*template.Template{}
	for _, pf := range pageFiles {
		name := strings.TrimSuffix(path.Base(pf.name), ".html")
		if _, dup := s.pages[name]; dup {
			return fmt.Errorf("webui: two page templates named %q", name)
		}
		t, err := base.Clone()
		if err != nil {
			return err
		}
		if _, err := t.ParseFS(pf.fsys, pf.name); err != nil {
			return fmt.Errorf("webui: %s: %w", pf.name, err)
		}
		s.pages[name] = t
	}
	return nil
}

// funcs are the helpers templates format with.
func (s *Site) funcs() template.FuncMap {
	return template.FuncMap{
		"date": func(d schema.Date) string {
			if d.IsZero() {
				return "—"
			}
			return d.String()
		},
		"datep": func(d *schema.Date) string {
			if d == nil || d.IsZero() {
				return "—"
			}
			return d.String()
		},
		"when":  s.when,
		"whenp": func(t *time.Time) string { return s.whenp(t) },
		"ago":   s.ago,
		"agop": func(t *time.Time) string {
			if t == nil {
				return "never"
			}
			return s.ago(*t)
		},
		"rev":     ShortRev,
		"kid":     ShortKid,
		"program": s.ProgramName,
		"category": func(program, code string) string {
			if p, ok := s.catalog.Get(program); ok {
				if c, ok := p.Category(code); ok {
					return c.Label
				}
			}
			return code
		},
		"national": func(code string) string {
			if l, ok := schema.NationalLabels[code]; ok {
				return l
			}
			return code
		},
		"nationalOf": func(program, code string) string {
			if p, ok := s.catalog.Get(program); ok {
				if c, ok := p.Category(code); ok {
					return c.National
				}
			}
			return ""
		},
		"join": func(sep string, xs []string) string { return strings.Join(xs, sep) },
		"plural": func(n int, one, many string) string {
			if n == 1 {
				return strconv.Itoa(n) + " " + one
			}
			return strconv.Itoa(n) + " " + many
		},
		"add":   func(a, b int) int { return a + b },
		"label": Label,
	}
}

// ProgramName is a program's name from the catalog, or its code.
func (s *Site) ProgramName(code string) string {
	if p, ok := s.catalog.Get(code); ok && p.Name != "" {
		return p.Name
	}
	return code
}

// Catalog is the program definitions the site names programs and categories from.
func (s *Site) Catalog() *schema.Catalog { return s.catalog }

// Now is the site's clock.
func (s *Site) Now() time.Time { return s.cfg.Now() }

func (s *Site) when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(s.cfg.Location).Format("2006-01-02 15:04 MST")
}

func (s *Site) whenp(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return s.when(*t)
}

// ago says how long before now t was, roughly ("3 hours ago", "in 2 days").
func (s *Site) ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := s.cfg.Now().Sub(t)
	suffix := " ago"
	if d < 0 {
		d, suffix = -d, ""
	}
	var out string
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		out = plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		out = plural(int(d/time.Hour), "hour")
	default:
		out = plural(int(d/(24*time.Hour)), "day")
	}
	if suffix == "" {
		return "in " + out
	}
	return out + suffix
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// ShowJSON writes a field's value for reading (a conflict's differences): text as it
// is, anything else as compact JSON, a missing field as "(none)".
func ShowJSON(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return "(none)"
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// ShortRev shortens a revision for display: its generation and 8 hex digits.
func ShortRev(rev string) string {
	gen, hash, ok := strings.Cut(rev, "-")
	if !ok || len(hash) <= 8 {
		return rev
	}
	return gen + "-" + hash[:8]
}

// ShortKid shortens a key id for display.
func ShortKid(kid string) string {
	if len(kid) <= 12 {
		return kid
	}
	return kid[:12] + "…"
}

// labels are the words the UI shows for the protocol's codes.
var labels = map[string]string{
	// standings and statuses
	"draft": "Draft", "active": "Active", "expiring": "Expiring", "expired": "Expired", "concluded": "Concluded",
	"terminated": "Terminated", "ambassador": "Ambassador", "renewed": "Renewed",
	// levels
	"national": "National", "regional": "Regional", "area": "Area", "state": "State",
	// calendar
	"report_due": "Report due", "term_ends": "Term ends", "termination_effective": "Termination takes effect",
	"ambassador_eligible": "Ambassador-eligible", "meetings_short": "Too few team meetings",
	"upcoming": "Upcoming", "due": "Due", "overdue": "Overdue", "submitted": "Submitted", "eligible": "Eligible",
	// links
	"proposed": "Proposed", "confirmed": "Confirmed", "rejected": "Rejected",
	// import outcomes
	"imported": "Imported", "would_import": "Would import", "duplicate": "Duplicate", "failed": "Failed", "not_imported": "Not imported",
	// key states
	"pending": "Pending", "valid": "Valid", "revoked": "Revoked",
	// participant types
	"association": "Trade or professional association", "union": "Labor union", "education": "Educational institution",
	"community": "Community or faith-based group", "government": "Government agency", "business": "Business",
	"tribe": "Native American Tribe", "whistleblower": "Whistleblower protection entity", "consulate": "Consulate",
	"other": "Other",
	// meeting types
	"in-person": "In person", "conference-call": "Conference call", "virtual": "Virtual",
}

// Label is the UI's word for a code, or the code itself.
func Label(code string) string {
	if l, ok := labels[code]; ok {
		return l
	}
	return code
}
