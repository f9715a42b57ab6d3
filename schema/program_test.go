package schema_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

// loadCatalog loads the built-in program definitions plus any extra files.
func loadCatalog(t *testing.T, files ...string) *schema.Catalog {
	t.Helper()
	c, err := schema.LoadCatalog(files...)
	if err != nil {
		t.Fatalf("LoadCatalog(%q): %v", files, err)
	}
	return c
}

// program returns a built-in program definition.
func program(t *testing.T, code string) *schema.Program {
	t.Helper()
	p, ok := loadCatalog(t).Get(code)
	if !ok {
		t.Fatalf("program %s is not built in", code)
	}
	return p
}

// writeFile writes content to name in a fresh temporary directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// fieldNames lists the failing fields of a *schema.ValidationError, failing the test if
// err is not one.
func fieldNames(t *testing.T, err error) []string {
	t.Helper()
	var ve *schema.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a *schema.ValidationError", err, err)
	}
	names := make([]string, len(ve.Fields))
	for i, f := range ve.Fields {
		names[i] = f.Field
	}
	return names
}

func TestBuiltinPrograms(t *testing.T) {
	type category struct{ Code, National string }
	tests := []struct {
		name           string
		code           string
		wantLevels     []schema.Level
		wantTerm       int
		wantTimeZone   string
		wantCategories []category
		wantRequired   []string
	}{
		{
			// FED codes are the national ones (CONTRACT.md, Goal category codes); initial
			// term two years: CSP 04-01-001 X.G (seed 003); national, regional or area
			// office level (seed 001; CSP 04-01-001 VIII, seed 003).
			name:         "federal OSHA",
			code:         "FED",
			wantLevels:   []schema.Level{schema.LevelNational, schema.LevelRegional, schema.LevelArea},
			wantTerm:     24,
			wantTimeZone: "America/New_York",
			wantCategories: []category{
				{"awareness", schema.NationalAwareness},
				{"training", schema.NationalTraining},
				{"outreach", schema.NationalOutreach},
				{"dialogue", schema.NationalDialogue},
			},
		},
		{
			// MIOSHA categories and the required outreach goal (seed 004); three-year
			// term (DOMAIN.md, Lifecycle).
			name:         "MIOSHA",
			code:         "MI",
			wantLevels:   []schema.Level{schema.LevelState},
			wantTerm:     36,
			wantTimeZone: "America/Detroit",
			wantCategories: []category{
				{"rulemaking-awareness", schema.NationalAwareness},
				{"training-education", schema.NationalTraining},
				{"outreach-communication", schema.NationalOutreach},
			},
			wantRequired: []string{"outreach-communication"},
		},
		{
			// Nevada SCATS categories and two-year term (seed 002).
			name:         "Nevada SCATS",
			code:         "NV",
			wantLevels:   []schema.Level{schema.LevelState},
			wantTerm:     24,
			wantTimeZone: "America/Los_Angeles",
			wantCategories: []category{
				{"training-education", schema.NationalTraining},
				{"outreach-communication", schema.NationalOutreach},
				{"safety-dialogue", schema.NationalDialogue},
			},
		},
	}
	c := loadCatalog(t)
	if diff := cmp.Diff([]string{"FED", "MI", "NV"}, c.Codes()); diff != "" {
		t.Errorf("Codes() (-want +got):\n%s", diff)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := c.Get(tt.code)
			if !ok {
				t.Fatalf("Get(%q) found nothing", tt.code)
			}
			if p.Code != tt.code || p.Name == "" {
				t.Errorf("code %q name %q", p.Code, p.Name)
			}
			if diff := cmp.Diff(tt.wantLevels, p.Levels); diff != "" {
				t.Errorf("levels (-want +got):\n%s", diff)
			}
			if p.DefaultTermMonths != tt.wantTerm {
				t.Errorf("default term %d months, want %d", p.DefaultTermMonths, tt.wantTerm)
			}
			if got := p.Location().String(); got != tt.wantTimeZone {
				t.Errorf("Location() = %s, want %s", got, tt.wantTimeZone)
			}
			var got []category
			for _, c := range p.Categories {
				got = append(got, category{c.Code, c.National})
			}
			if diff := cmp.Diff(tt.wantCategories, got); diff != "" {
				t.Errorf("categories (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRequired, p.RequiredCategories); diff != "" {
				t.Errorf("required categories (-want +got):\n%s", diff)
			}
			var codes []string
			for _, c := range tt.wantCategories {
				codes = append(codes, c.Code)
			}
			if diff := cmp.Diff(codes, p.CategoryCodes()); diff != "" {
				t.Errorf("CategoryCodes() (-want +got):\n%s", diff)
			}
		})
	}
	if _, ok := c.Get("NC"); ok {
		t.Error("Get(NC) found a program that is not built in")
	}
}

// ncdol is a program definition that is not built in: a new State Plan comes from a
// config file with no code change (DOMAIN.md, Programs). NCDOL: 2 years, renewable once.
const ncdol = `{
  "code": "NC",
  "name": "North Carolina Department of Labor (NCDOL)",
  "levels": ["state"],
  "time_zone": "America/New_York",
  "default_term_months": 24,
  "categories": [
    {"code": "training-education", "label": "Training and Education", "national": "training"},
    {"code": "outreach-communication", "label": "Outreach and Communication", "national": "outreach"}
  ]
}`

const adosh = `{
  "code": "AZ",
  "name": "Arizona Division of Occupational Safety and Health (ADOSH)",
  "levels": ["state"],
  "time_zone": "America/Phoenix",
  "default_term_months": 24,
  "categories": [
    {"code": "training", "label": "Training and Education", "national": "training"}
  ]
}`

func TestLoadCatalogExtraFiles(t *testing.T) {
	tests := []struct {
		name      string
		files     map[string]string // file name -> content, loaded in name order
		wantCodes []string
		check     func(t *testing.T, c *schema.Catalog)
	}{
		{
			name:      "one object adds a program",
			files:     map[string]string{"a-nc.json": ncdol},
			wantCodes: []string{"FED", "MI", "NC", "NV"},
			check: func(t *testing.T, c *schema.Catalog) {
				p, _ := c.Get("NC")
				if p.DefaultTermMonths != 24 || p.Location().String() != "America/New_York" {
					t.Errorf("NC: term %d, zone %s", p.DefaultTermMonths, p.Location())
				}
				if cat, ok := p.Category("Outreach and Communication"); !ok || cat.National != schema.NationalOutreach {
					t.Errorf("NC category by label = %+v, %v", cat, ok)
				}
			},
		},
		{
			name:      "an array adds several programs",
			files:     map[string]string{"a-states.json": "[" + ncdol + ",\n" + adosh + "]"},
			wantCodes: []string{"AZ", "FED", "MI", "NC", "NV"},
			check: func(t *testing.T, c *schema.Catalog) {
				if p, _ := c.Get("AZ"); p.Location().String() != "America/Phoenix" {
					t.Errorf("AZ zone %s", p.Location())
				}
			},
		},
		{
			name:      "several files",
			files:     map[string]string{"a-nc.json": ncdol, "b-az.json": "\n\n  " + adosh + "\n"},
			wantCodes: []string{"AZ", "FED", "MI", "NC", "NV"},
		},
		{
			// A later definition of a code replaces an earlier one.
			name:      "a file replaces a built-in program",
			files:     map[string]string{"a-mi.json": strings.Replace(strings.Replace(ncdol, `"NC"`, `"MI"`, 1), "America/New_York", "America/Detroit", 1)},
			wantCodes: []string{"FED", "MI", "NV"},
			check: func(t *testing.T, c *schema.Catalog) {
				p, _ := c.Get("MI")
				if p.DefaultTermMonths != 24 || len(p.RequiredCategories) != 0 {
					t.Errorf("MI after replacement: term %d, required %v", p.DefaultTermMonths, p.RequiredCategories)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var files []string
			for name, content := range tt.files {
				path := filepath.Join(dir, name)
				if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
				files = append(files, path)
			}
			// Map order is random; load in name order so the test is deterministic.
			slices.Sort(files)
			c := loadCatalog(t, files...)
			if diff := cmp.Diff(tt.wantCodes, c.Codes()); diff != "" {
				t.Errorf("Codes() (-want +got):\n%s", diff)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestLoadCatalogMalformed(t *testing.T) {
	// edit returns the NCDOL definition with one substitution.
	edit := func(old, new string) string {
		if !strings.Contains(ncdol, old) {
			panic("test bug: " + old + " not in ncdol")
		}
		return strings.Replace(ncdol, old, new, 1)
	}
	tests := []struct {
		name string
		def  string
		// wantFields are the failing fields, when the error is a *ValidationError;
		// wantText is what the message must contain otherwise.
		wantFields []string
		wantText   string
	}{
		{name: "lower-case code", def: edit(`"code": "NC"`, `"code": "nc"`), wantFields: []string{"code"}},
		{name: "one-letter code", def: edit(`"code": "NC"`, `"code": "N"`), wantFields: []string{"code"}},
		{name: "no name", def: edit(`"name": "North Carolina Department of Labor (NCDOL)"`, `"name": "  "`), wantFields: []string{"name"}},
		{name: "no levels", def: edit(`"levels": ["state"]`, `"levels": []`), wantFields: []string{"levels"}},
		{name: "unknown level", def: edit(`"levels": ["state"]`, `"levels": ["state", "county"]`), wantFields: []string{"levels[1]"}},
		{name: "bad time zone", def: edit("America/New_York", "Mars/Olympus_Mons"), wantFields: []string{"time_zone"}},
		{name: "no time zone", def: edit(`"time_zone": "America/New_York"`, `"time_zone": ""`), wantFields: []string{"time_zone"}},
		{name: "term zero", def: edit(`"default_term_months": 24`, `"default_term_months": 0`), wantFields: []string{"default_term_months"}},
		{name: "term over ten years", def: edit(`"default_term_months": 24`, `"default_term_months": 121`), wantFields: []string{"default_term_months"}},
		{name: "bad category code", def: edit(`"code": "training-education"`, `"code": "Training Education"`), wantFields: []string{"categories[0].code"}},
		{name: "category without label", def: edit(`"label": "Training and Education"`, `"label": ""`), wantFields: []string{"categories[0].label"}},
		{name: "unknown national category", def: edit(`"national": "outreach"`, `"national": "promotion"`), wantFields: []string{"categories[1].national"}},
		{name: "duplicate label", def: edit(`"label": "Outreach and Communication"`, `"label": "training and education"`), wantFields: []string{"categories[1]"}},
		{name: "duplicate code", def: edit(`"code": "outreach-communication"`, `"code": "training-education"`), wantFields: []string{"categories[1]"}},
		{name: "no categories", def: `{"code":"NC","name":"NCDOL","levels":["state"],"time_zone":"America/New_York","default_term_months":24,"categories":[]}`, wantFields: []string{"categories"}},
		{
			name:       "required category not among categories",
			def:        edit(`"default_term_months": 24,`, `"default_term_months": 24, "required_categories": ["safety-dialogue"],`),
			wantFields: []string{"required_categories[0]"},
		},
		{
			name:       "every failing field at once",
			def:        `{"code":"nc","name":"","levels":["county"],"time_zone":"Nowhere/Else","default_term_months":0,"categories":[{"code":"x","label":"Xylophone","national":"y"}]}`,
			wantFields: []string{"code", "name", "levels[0]", "default_term_months", "time_zone", "categories[0].national"},
		},
		{
			name:       "second of several programs is bad",
			def:        "[" + adosh + "," + edit(`"national": "outreach"`, `"national": "promotion"`) + "]",
			wantFields: []string{"[1].categories[1].national"},
		},
		{name: "unknown field", def: edit(`"name":`, `"colour": "blue", "name":`), wantText: `"colour"`},
		{name: "unknown category field", def: edit(`"national": "training"`, `"national": "training", "weight": 2`), wantText: `"weight"`},
		{name: "wrong type", def: edit(`"default_term_months": 24`, `"default_term_months": "24"`), wantText: "default_term_months"},
		{name: "not JSON", def: `code: NC`, wantText: "invalid character"},
		{name: "empty file", def: ``, wantText: "EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantDefinitionError(t, tt.def, tt.wantFields, tt.wantText)
		})
	}
	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nonexistent.json")
		if _, err := schema.LoadCatalog(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("LoadCatalog(missing) error %v, want os.ErrNotExist", err)
		}
	})
}

// TestLoadCatalogArrayWithNull shows that a JSON array holding null decodes to a nil
// *Program, on which LoadCatalog calls check and panics instead of returning an error
// naming the file.
func TestLoadCatalogArrayWithNull(t *testing.T) {
	path := writeFile(t, "programs.json", "["+ncdol+", null]")
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("LoadCatalog panicked: %v", r)
		}
	}()
	if _, err := schema.LoadCatalog(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("LoadCatalog([... null]) error %v, want an error naming %s", err, path)
	}
}

// TestLoadCatalogTrailingData shows that only the first JSON value of a file is read:
// two concatenated objects, or an object followed by garbage, load without an error and
// the rest is silently ignored.
func TestLoadCatalogTrailingData(t *testing.T) {
	tests := []struct {
		name string
		def  string
	}{
		{name: "two objects", def: ncdol + "\n" + adosh},
		{name: "garbage after the object", def: ncdol + " trailing garbage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "programs.json", tt.def)
			if c, err := schema.LoadCatalog(path); err == nil {
				t.Errorf("LoadCatalog loaded %v without an error; the rest of the file was ignored", c.Codes())
			}
		})
	}
}

// TestLoadCatalogLabelEqualsCode shows that a category whose label is the same word as
// its own code (case aside) is reported as repeating itself.
func TestLoadCatalogLabelEqualsCode(t *testing.T) {
	def := strings.Replace(adosh, `"label": "Training and Education"`, `"label": "Training"`, 1)
	path := writeFile(t, "az.json", def)
	if _, err := schema.LoadCatalog(path); err != nil {
		t.Errorf("LoadCatalog: %v; a label equal to its own code is not a duplicate", err)
	}
}

func TestProgramCategory(t *testing.T) {
	// Wherever a category is accepted, the program's label (case-insensitive) is
	// accepted too (CONTRACT.md, Goal category codes).
	tests := []struct {
		name     string
		program  string
		in       string
		wantCode string
		wantNat  string
		wantOK   bool
	}{
		{name: "FED by code", program: "FED", in: "awareness", wantCode: "awareness", wantNat: schema.NationalAwareness, wantOK: true},
		{name: "FED by label", program: "FED", in: "Raising Awareness of OSHA's Rulemaking and Enforcement Initiatives", wantCode: "awareness", wantNat: schema.NationalAwareness, wantOK: true},
		{name: "FED older dialogue label", program: "FED", in: "promoting the national dialogue on workplace safety and health", wantCode: "dialogue", wantNat: schema.NationalDialogue, wantOK: true},
		{name: "MI by code", program: "MI", in: "rulemaking-awareness", wantCode: "rulemaking-awareness", wantNat: schema.NationalAwareness, wantOK: true},
		{name: "MI by code, upper case", program: "MI", in: "OUTREACH-COMMUNICATION", wantCode: "outreach-communication", wantNat: schema.NationalOutreach, wantOK: true},
		{name: "MI by label, lower case", program: "MI", in: "training and education", wantCode: "training-education", wantNat: schema.NationalTraining, wantOK: true},
		{name: "MI by label with spaces around", program: "MI", in: "  Raising Awareness of MIOSHA's Rulemaking and Enforcement Initiative\t", wantCode: "rulemaking-awareness", wantNat: schema.NationalAwareness, wantOK: true},
		{name: "NV dialogue by label", program: "NV", in: "Promoting the Dialogue on Workplace Safety and Health", wantCode: "safety-dialogue", wantNat: schema.NationalDialogue, wantOK: true},
		{name: "FED code is not MI's", program: "MI", in: "outreach", wantOK: false},
		{name: "MI code is not FED's", program: "FED", in: "outreach-communication", wantOK: false},
		{name: "NV has no awareness category", program: "NV", in: "Raising Awareness of OSHA's Rulemaking and Enforcement Initiatives", wantOK: false},
		{name: "MIOSHA wording is not federal", program: "FED", in: "Raising Awareness of MIOSHA's Rulemaking and Enforcement Initiative", wantOK: false},
		{name: "empty", program: "FED", in: "", wantOK: false},
	}
	c := loadCatalog(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := c.Get(tt.program)
			got, ok := p.Category(tt.in)
			if ok != tt.wantOK {
				t.Fatalf("Category(%q) ok = %v, want %v", tt.in, ok, tt.wantOK)
			}
			if got.Code != tt.wantCode || got.National != tt.wantNat {
				t.Errorf("Category(%q) = %+v, want code %q national %q", tt.in, got, tt.wantCode, tt.wantNat)
			}
		})
	}
}

func TestProgramNationalCategories(t *testing.T) {
	// Each program category maps to a national category, many-to-one (DOMAIN.md, Goal
	// categories); the answer is in the national order, each once.
	goals := func(cats ...string) []schema.Goal {
		g := make([]schema.Goal, len(cats))
		for i, c := range cats {
			g[i] = schema.Goal{Category: c}
		}
		return g
	}
	tests := []struct {
		name    string
		program string
		goals   []schema.Goal
		want    []string
	}{
		{name: "MI all three, out of order and repeated", program: "MI", goals: goals("outreach-communication", "rulemaking-awareness", "training-education", "outreach-communication"), want: []string{"awareness", "training", "outreach"}},
		{name: "NV by code and label", program: "NV", goals: goals("safety-dialogue", "Training and Education"), want: []string{"training", "dialogue"}},
		{name: "FED identity", program: "FED", goals: goals("dialogue", "awareness"), want: []string{"awareness", "dialogue"}},
		{name: "unknown categories ignored", program: "MI", goals: goals("dialogue", "outreach-communication"), want: []string{"outreach"}},
		{name: "no goals", program: "FED", goals: nil, want: []string{}},
	}
	c := loadCatalog(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := c.Get(tt.program)
			if diff := cmp.Diff(tt.want, p.NationalCategories(tt.goals)); diff != "" {
				t.Errorf("NationalCategories (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidProgramCode(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{name: "FED", in: "FED", want: true},
		{name: "two letters", in: "MI", want: true},
		{name: "with digit", in: "R9", want: true},
		{name: "ten characters", in: "ABCDEFGHIJ", want: true},
		{name: "eleven characters", in: "ABCDEFGHIJK", want: false},
		{name: "one letter", in: "M", want: false},
		{name: "lower case", in: "mi", want: false},
		{name: "leading digit", in: "9R", want: false},
		{name: "dash", in: "M-I", want: false},
		{name: "empty", in: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := schema.ValidProgramCode(tt.in); got != tt.want {
				t.Errorf("ValidProgramCode(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// wantDefinitionError loads def and checks the refusal names the file and each of
// wantFields (or, for decoding errors, holds wantText).
func wantDefinitionError(t *testing.T, def string, wantFields []string, wantText string) {
	t.Helper()
	path := writeFile(t, "programs.json", def)
	c, err := schema.LoadCatalog(path)
	if err == nil {
		t.Fatalf("LoadCatalog loaded %v, want an error", c.Codes())
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file %s", err, path)
	}
	if wantFields != nil {
		if diff := cmp.Diff(wantFields, fieldNames(t, err)); diff != "" {
			t.Errorf("failing fields (-want +got):\n%s\n%v", diff, err)
		}
		for _, f := range wantFields {
			if !strings.Contains(err.Error(), f+": ") {
				t.Errorf("error %q does not name field %s", err, f)
			}
		}
	}
	if wantText != "" && !strings.Contains(err.Error(), wantText) {
		t.Errorf("error %q does not contain %s", err, wantText)
	}
}
