package schema

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// National goal categories: the codes the national roster uses in
// national_categories, and federal OSHA's own codes (CONTRACT.md, "Goal category codes").
const (
	NationalAwareness = "awareness"
	NationalTraining  = "training"
	NationalOutreach  = "outreach"
	NationalDialogue  = "dialogue"
)

// NationalLabels names each national category. Federal categories: fact sheet (seed
// 000), CSP 04-01-001 IX (seed 003), and Raising Awareness since about 2010
// (osha.gov/alliances/whatis).
var NationalLabels = map[string]string{
	NationalAwareness: "Raising Awareness of OSHA's Rulemaking and Enforcement Initiatives",
	NationalTraining:  "Training and Education",
	NationalOutreach:  "Outreach and Communication",
	NationalDialogue:  "Promoting the National Dialogue on Workplace Safety and Health",
}

// Category is one of a program's own goal categories and the national category it maps
// to (many-to-one).
type Category struct {
	Code     string `json:"code"`
	Label    string `json:"label"`
	National string `json:"national"`
}

// TermBounds is the default and the allowed range of a term, in months.
type TermBounds struct {
	Default int `json:"default"`
	Min     int `json:"min"`
	Max     int `json:"max"`
}

func (b TermBounds) valid() bool {
	return b.Min >= 1 && b.Max <= maxTermMonths && b.Min <= b.Default && b.Default <= b.Max
}

// Program is a program's definition: who it is and the rules its Alliances follow. It is
// data, read from a JSON file, so a new State Plan needs no code change (DOMAIN.md,
// Programs).
type Program struct {
	Code               string     `json:"code"`
	Name               string     `json:"name"`
	Levels             []Level    `json:"levels"`
	TimeZone           string     `json:"time_zone"`
	DefaultTermMonths  int        `json:"default_term_months"`
	RenewalTermMonths  TermBounds `json:"renewal_term_months,omitzero"`
	MaxRenewals        int        `json:"max_renewals,omitempty"` // 0: no limit
	Categories         []Category `json:"categories"`
	RequiredCategories []string   `json:"required_categories,omitempty"`
	// Reports the program requires of each Alliance, with their cadence and due dates.
	Reports []ReportRule `json:"reports,omitempty"`
	// MeetingsPerYear is how often the implementation team must meet; zero means three
	// (CSP 04-01-001 VII.F and XII.C, seed 003).
	MeetingsPerYear int `json:"meetings_per_year,omitempty"`
	// Ambassador says whether the program offers Ambassador status (seed 001); Regional
	// and Area Offices have discretion to opt out, named in AmbassadorOptOutOffices.
	Ambassador              bool     `json:"ambassador,omitempty"`
	AmbassadorOptOutOffices []string `json:"ambassador_opt_out_offices,omitempty"`
	Sources                 []string `json:"sources,omitempty"`

	loc *time.Location
}

// programCode is the shape of a program code, which prefixes every record id it owns.
var programCode = regexp.MustCompile(`^[A-Z][A-Z0-9]{1,9}$`)

// ValidProgramCode reports whether s can be a program code ("FED", "MI", "NV").
func ValidProgramCode(s string) bool { return programCode.MatchString(s) }

// Category finds the program's category by code or by label, case-insensitively
// (CONTRACT.md: wherever a category is accepted, the label is accepted too).
func (p *Program) Category(codeOrLabel string) (Category, bool) {
	s := strings.TrimSpace(codeOrLabel)
	for _, c := range p.Categories {
		if strings.EqualFold(c.Code, s) || strings.EqualFold(c.Label, s) {
			return c, true
		}
	}
	return Category{}, false
}

// CategoryCodes lists the program's category codes, for error messages.
func (p *Program) CategoryCodes() []string {
	codes := make([]string, len(p.Categories))
	for i, c := range p.Categories {
		codes[i] = c.Code
	}
	return codes
}

// Location is the program's time zone, in which its nightly sync and due dates fall.
func (p *Program) Location() *time.Location {
	if p.loc == nil {
		return time.UTC
	}
	return p.loc
}

// NationalCategories maps goal category codes to their distinct national categories, in
// the national order.
func (p *Program) NationalCategories(goals []Goal) []string {
	seen := map[string]bool{}
	for _, g := range goals {
		if c, ok := p.Category(g.Category); ok {
			seen[c.National] = true
		}
	}
	out := []string{}
	for _, n := range []string{NationalAwareness, NationalTraining, NationalOutreach, NationalDialogue} {
		if seen[n] {
			out = append(out, n)
		}
	}
	return out
}

func (p *Program) check() error {
	var errs ValidationError
	if !ValidProgramCode(p.Code) {
		errs.Add("code", "must be 2 to 10 capital letters or digits, starting with a letter")
	}
	if strings.TrimSpace(p.Name) == "" {
		errs.Add("name", "is required")
	}
	if len(p.Levels) == 0 {
		errs.Add("levels", "must list at least one of national, regional, area, state")
	}
	for i, l := range p.Levels {
		if !l.valid() {
			errs.Add(fmt.Sprintf("levels[%d]", i), fmt.Sprintf("%q is not one of national, regional, area, state", l))
		}
	}
	if p.DefaultTermMonths < 1 || p.DefaultTermMonths > maxTermMonths {
		errs.Add("default_term_months", fmt.Sprintf("must be 1 to %d", maxTermMonths))
	}
	termOK := p.DefaultTermMonths >= 1 && p.DefaultTermMonths <= maxTermMonths
	if p.RenewalTermMonths == (TermBounds{}) && termOK {
		// Not stated: any term a record may hold, defaulting to the initial term.
		p.RenewalTermMonths = TermBounds{Default: p.DefaultTermMonths, Min: 1, Max: maxTermMonths}
	}
	if r := p.RenewalTermMonths; (termOK || r != TermBounds{}) && !r.valid() {
		errs.Add("renewal_term_months", fmt.Sprintf("want 1 <= min <= default <= max <= %d", maxTermMonths))
	}
	if p.MaxRenewals < 0 {
		errs.Add("max_renewals", "must be 0 (no limit) or more")
	}
	if p.TimeZone == "" {
		errs.Add("time_zone", "is required (an IANA name such as America/Detroit)")
	} else if loc, err := time.LoadLocation(p.TimeZone); err != nil {
		errs.Add("time_zone", fmt.Sprintf("%q is not a known IANA time zone", p.TimeZone))
	} else {
		p.loc = loc
	}
	if len(p.Categories) == 0 {
		errs.Add("categories", "must list at least one goal category")
	}
	seen := map[string]string{}
	for i, c := range p.Categories {
		f := fmt.Sprintf("categories[%d]", i)
		if !categoryCode.MatchString(c.Code) {
			errs.Add(f+".code", "must be lower-case letters, digits and dashes")
		}
		if strings.TrimSpace(c.Label) == "" {
			errs.Add(f+".label", "is required")
		}
		if _, ok := NationalLabels[c.National]; !ok {
			errs.Add(f+".national", fmt.Sprintf("%q is not a national category (awareness, training, outreach, dialogue)", c.National))
		}
		for _, key := range []string{strings.ToLower(c.Code), strings.ToLower(c.Label)} {
			if prev, dup := seen[key]; dup && key != "" && prev != f {
				errs.Add(f, fmt.Sprintf("code or label %q repeats %s", key, prev))
			}
			seen[key] = f
		}
	}
	if p.MeetingsPerYear < 0 || p.MeetingsPerYear > 52 {
		errs.Add("meetings_per_year", "must be 0 (the directive's three) to 52")
	}
	if p.MeetingsPerYear == 0 {
		p.MeetingsPerYear = DefaultMeetingsPerYear
	}
	cadences := map[Cadence]bool{}
	for i, r := range p.Reports {
		f := fmt.Sprintf("reports[%d]", i)
		if !r.Cadence.valid() {
			errs.Add(f+".cadence", fmt.Sprintf("%q is not one of quarterly, semiannual, annual", r.Cadence))
		} else if cadences[r.Cadence] {
			errs.Add(f+".cadence", fmt.Sprintf("%s is listed twice", r.Cadence))
		}
		cadences[r.Cadence] = true
		if !r.Anchor.valid() {
			errs.Add(f+".anchor", fmt.Sprintf("%q is not one of anniversary, calendar, fiscal", r.Anchor))
		}
		if r.DueDays < 0 || r.DueDays > 366 {
			errs.Add(f+".due_days", "must be 0 to 366 days after the period ends")
		}
	}
	for i, o := range p.AmbassadorOptOutOffices {
		if strings.TrimSpace(o) == "" {
			errs.Add(fmt.Sprintf("ambassador_opt_out_offices[%d]", i), "is empty")
		}
	}
	if !p.Ambassador && len(p.AmbassadorOptOutOffices) > 0 {
		errs.Add("ambassador_opt_out_offices", "the program does not offer Ambassador status (ambassador is false)")
	}
	for i, r := range p.RequiredCategories {
		if _, ok := p.Category(r); !ok {
			errs.Add(fmt.Sprintf("required_categories[%d]", i), fmt.Sprintf("%q is not one of the program's categories", r))
		}
	}
	return errs.Err()
}

var categoryCode = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)

//go:embed programs/*.json
var builtin embed.FS

// Catalog holds the program definitions a server knows.
type Catalog struct {
	programs map[string]*Program
}

// LoadCatalog reads the built-in definitions (FED, MI, NV) and then each extra file, which
// holds one program object or a JSON array of them. A later definition of a code replaces
// an earlier one. A malformed definition is an error naming the file and the field.
func LoadCatalog(files ...string) (*Catalog, error) {
	c := &Catalog{programs: map[string]*Program{}}
	entries, err := fs.Glob(builtin, "programs/*.json")
	if err != nil {
		return nil, err
	}
	for _, name := range entries {
		data, err := builtin.ReadFile(name)
		if err != nil {
			return nil, err
		}
		if err := c.add(path.Base(name), data); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("program definitions: %w", err)
		}
		if err := c.add(f, data); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *Catalog) add(file string, data []byte) error {
	var defs []*Program
	trimmed := bytes.TrimSpace(data)
	dec := func(v any) error {
		d := json.NewDecoder(bytes.NewReader(trimmed))
		d.DisallowUnknownFields()
		if err := d.Decode(v); err != nil {
			return err
		}
		if d.More() {
			return errors.New("unexpected data after the definition; put several programs in one JSON array")
		}
		return nil
	}
	var err error
	if len(trimmed) > 0 && trimmed[0] == '[' {
		err = dec(&defs)
		for i, p := range defs {
			if p == nil && err == nil {
				err = fmt.Errorf("[%d] is null, not a program definition", i)
			}
		}
	} else {
		var p Program
		err = dec(&p)
		defs = []*Program{&p}
	}
	if err != nil {
		return fmt.Errorf("program definition %s: %w", file, err)
	}
	for i, p := range defs {
		if err := p.check(); err != nil {
			var ve *ValidationError
			if errors.As(err, &ve) && len(defs) > 1 {
				ve.Prefix(fmt.Sprintf("[%d].", i))
			}
			return fmt.Errorf("program definition %s: %w", file, err)
		}
		c.programs[p.Code] = p
	}
	return nil
}

// Get finds a program by code.
func (c *Catalog) Get(code string) (*Program, bool) {
	p, ok := c.programs[code]
	return p, ok
}

// Codes lists the known program codes in order.
func (c *Catalog) Codes() []string {
	codes := make([]string, 0, len(c.programs))
	for code := range c.programs {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	return codes
}

// ReportRule returns the program's rule for a cadence.
func (p *Program) ReportRule(c Cadence) (ReportRule, bool) {
	for _, r := range p.Reports {
		if r.Cadence == c {
			return r, true
		}
	}
	return ReportRule{}, false
}

// OffersAmbassador reports whether an Alliance signed by office may become an
// Ambassador: the program offers the status and the office has not opted out (seed 001).
func (p *Program) OffersAmbassador(office string) bool {
	if !p.Ambassador {
		return false
	}
	return !slices.ContainsFunc(p.AmbassadorOptOutOffices, func(o string) bool {
		return strings.EqualFold(strings.TrimSpace(o), strings.TrimSpace(office))
	})
}

// validLevel reports whether the program records Alliances at level l.
func (p *Program) validLevel(l Level) bool { return slices.Contains(p.Levels, l) }
