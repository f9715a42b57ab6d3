package ui

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/alliancehub/alliancehub/internal/webui"
	"github.com/alliancehub/alliancehub/schema"
)

// A form is the HTML face of one JSON request body: its inputs are named after the
// body's fields, so the API's validation errors ({field, message}, named by JSON path:
// "participants[1].type") can be shown next to the input they are about. Lists of
// objects (participants, goals, meetings, ...) are repeated rows; a blank row is left
// out of the body, and the rows that are sent are remembered so an error about the
// body's third participant lands on the form's row it came from.

// Form is one form: its sections in order, and what went wrong.
type Form struct {
	Sections []*Section
	Errors   []FormError // every error, for the summary at the top
	Problem  string      // a refusal that names no field (a stale revision, ...)
	// ProblemHref is a page that helps with Problem (the report to revise instead).
	ProblemHref string
	sent        map[string][]int
}

// FormError is one error in the summary, linking to its input when it has one.
type FormError struct {
	Label, Anchor, Message string
}

// Section is a group of single inputs, or one list of rows.
type Section struct {
	Legend, Hint string
	Fields       []*Field
	List         *List
	Error        string // about the section as a whole (the list: "goals")
}

// List is a list of objects in the body, shown as rows of inputs.
type List struct {
	Key    string // the body's key: "participants"
	Prefix string // the inputs' name prefix: "p" (p0.name, p1.name, ...)
	Noun   string // "participant"
	Spec   []Field
	Rows   [][]*Field
	Max    int
}

// Field is one input. Name is the input's name; JSON is its key in the body (or, in a
// list's row, its path inside the object: "contact.email").
type Field struct {
	Name, JSON, Label, Hint string
	Kind                    string // text, date, number, select, textarea, lines, checks
	Options                 []webui.Option
	Value, Error            string
	Required, ReadOnly      bool
}

// ID is the input's id, which error links point to.
func (f *Field) ID() string { return "f-" + strings.NewReplacer(".", "-", "_", "-").Replace(f.Name) }

// Row is the rows' index in a template (fields carry their row in their name).
func (l *List) rowName(i int, f Field) string { return fmt.Sprintf("%s%d.%s", l.Prefix, i, f.JSON) }

// newRow makes row i of the list, empty.
func (l *List) newRow(i int) []*Field {
	row := make([]*Field, len(l.Spec))
	for j, f := range l.Spec {
		f := f
		f.Name = l.rowName(i, f)
		f.Options = append([]webui.Option(nil), f.Options...)
		row[j] = &f
	}
	return row
}

// AddRows appends blank rows until there are n (never more than Max).
func (l *List) AddRows(n int) {
	if l.Max > 0 && n > l.Max {
		n = l.Max
	}
	for len(l.Rows) < n {
		l.Rows = append(l.Rows, l.newRow(len(l.Rows)))
	}
}

// fields visits every input of the form.
func (f *Form) fields(visit func(*Field)) {
	for _, s := range f.Sections {
		for _, fl := range s.Fields {
			visit(fl)
		}
		if s.List != nil {
			for _, row := range s.List.Rows {
				for _, fl := range row {
					visit(fl)
				}
			}
		}
	}
}

func (f *Field) set(v string) {
	f.Value = v
	for i := range f.Options {
		f.Options[i].Selected = f.Options[i].Value == v
	}
}

// maxRows bounds the rows a posted form may ask for.
const maxRows = 200

var rowName = regexp.MustCompile(`^([a-z]+)([0-9]{1,3})\.`)

// Read fills the form from posted values: single fields by name, and as many rows of
// each list as were posted (at least the rows it had).
func (f *Form) Read(v url.Values) {
	rows := map[string]int{}
	for name := range v {
		if m := rowName.FindStringSubmatch(name); m != nil {
			n, _ := strconv.Atoi(m[2])
			rows[m[1]] = max(rows[m[1]], n+1)
		}
	}
	for _, s := range f.Sections {
		if s.List != nil {
			s.List.AddRows(min(rows[s.List.Prefix], maxRows))
		}
	}
	f.fields(func(fl *Field) {
		switch {
		case fl.Kind == "checks":
			// A box per option; the ones ticked come back under the field's name.
			for i := range fl.Options {
				fl.Options[i].Selected = slices.Contains(v[fl.Name], fl.Options[i].Value)
			}
		case !fl.ReadOnly || fl.Value == "":
			fl.set(strings.TrimSpace(v.Get(fl.Name)))
		}
	})
}

// Fill fills the form from a JSON document (what GET answers), with blank rows for
// extra lists entries to be typed in.
func (f *Form) Fill(doc map[string]any) {
	for _, s := range f.Sections {
		for _, fl := range s.Fields {
			fl.set(textOf(doc[fl.JSON], fl.Kind))
		}
		if l := s.List; l != nil {
			items, _ := doc[l.Key].([]any)
			l.AddRows(len(items))
			for i, it := range items {
				obj, _ := it.(map[string]any)
				for _, fl := range l.Rows[i] {
					fl.set(textOf(lookup(obj, fl.JSON), fl.Kind))
				}
			}
		}
	}
}

func lookup(obj map[string]any, path string) any {
	var v any = obj
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func textOf(v any, kind string) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []any:
		var lines []string
		for _, e := range x {
			lines = append(lines, textOf(e, ""))
		}
		return strings.Join(lines, "\n")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// blank reports a row the user left empty.
func blank(row []*Field) bool {
	for _, f := range row {
		if f.Value != "" && !f.ReadOnly {
			return false
		}
	}
	return true
}

// Body is the JSON body the form stands for: empty inputs left out, blank rows left out,
// numbers as numbers, "lines" as lists of strings. It fails (with the errors on the
// inputs) only where the form itself can tell a value is not of its type.
func (f *Form) Body() (map[string]any, bool) {
	body := map[string]any{}
	f.sent = map[string][]int{}
	ok := true
	put := func(obj map[string]any, fl *Field) {
		if fl.Kind == "checks" {
			var ticked []string
			for _, o := range fl.Options {
				if o.Selected {
					ticked = append(ticked, o.Value)
				}
			}
			if len(ticked) > 0 {
				obj[fl.JSON] = ticked
			}
			return
		}
		if fl.Value == "" {
			return
		}
		var v any = fl.Value
		switch fl.Kind {
		case "number":
			n, err := strconv.Atoi(fl.Value)
			if err != nil {
				fl.Error, ok = "must be a whole number", false
				return
			}
			v = n
		case "lines":
			var lines []string
			for _, l := range strings.Split(fl.Value, "\n") {
				if l = strings.TrimSpace(l); l != "" {
					lines = append(lines, l)
				}
			}
			if len(lines) == 0 {
				return
			}
			v = lines
		}
		keys := strings.Split(fl.JSON, ".")
		for _, k := range keys[:len(keys)-1] {
			sub, _ := obj[k].(map[string]any)
			if sub == nil {
				sub = map[string]any{}
				obj[k] = sub
			}
			obj = sub
		}
		obj[keys[len(keys)-1]] = v
	}
	for _, s := range f.Sections {
		for _, fl := range s.Fields {
			put(body, fl)
		}
		if l := s.List; l != nil {
			items := []any{}
			for i, row := range l.Rows {
				if blank(row) {
					continue
				}
				obj := map[string]any{}
				for _, fl := range row {
					put(obj, fl)
				}
				items = append(items, obj)
				f.sent[l.Key] = append(f.sent[l.Key], i)
			}
			body[l.Key] = items
		}
	}
	if !ok {
		f.summarize()
	}
	return body, ok
}

var listPath = regexp.MustCompile(`^([a-z_]+)\[([0-9]+)\](?:\.(.+))?$`)

// Apply puts the API's field errors on the inputs they name, and every one in the
// summary.
func (f *Form) Apply(errs []schema.FieldError) {
	for _, fe := range errs {
		if !f.place(fe) {
			f.Errors = append(f.Errors, FormError{Label: fe.Field, Message: fe.Message})
		}
	}
	f.summarize()
}

func (f *Form) place(fe schema.FieldError) bool {
	path := fe.Field
	for _, s := range f.Sections {
		for _, fl := range s.Fields {
			// emphasis_areas[2] is a line of the emphasis_areas input.
			if path == fl.JSON || strings.HasPrefix(path, fl.JSON+"[") {
				line := lineOf(path, fl.JSON)
				if fl.Kind == "checks" {
					line = "" // a box, not a line; the message names its value
				}
				fl.Error = join(fl.Error, line+fe.Message)
				return true
			}
		}
		l := s.List
		if l == nil {
			continue
		}
		if path == l.Key {
			s.Error = join(s.Error, fe.Message)
			return true
		}
		m := listPath.FindStringSubmatch(path)
		if m == nil || m[1] != l.Key {
			continue
		}
		i, _ := strconv.Atoi(m[2])
		sent := f.sent[l.Key]
		if i >= len(sent) {
			s.Error = join(s.Error, fmt.Sprintf("%s %d: %s", l.Noun, i+1, fe.Message))
			return true
		}
		row := l.Rows[sent[i]]
		target := row[0]
		for _, fl := range row {
			if m[3] == fl.JSON || strings.HasPrefix(m[3], fl.JSON+".") || strings.HasPrefix(m[3], fl.JSON+"[") {
				target = fl
			}
		}
		target.Error = join(target.Error, fe.Message)
		return true
	}
	return false
}

func lineOf(path, key string) string {
	if m := listPath.FindStringSubmatch(path); m != nil && m[1] == key {
		n, _ := strconv.Atoi(m[2])
		return fmt.Sprintf("line %d: ", n+1)
	}
	return ""
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// summarize lists every input's error, in the form's order, after the errors that name
// no input.
func (f *Form) summarize() {
	var out []FormError
	for _, e := range f.Errors {
		if e.Anchor == "" {
			out = append(out, e)
		}
	}
	for _, s := range f.Sections {
		if s.Error != "" {
			out = append(out, FormError{Label: s.Legend, Message: s.Error})
		}
		for _, fl := range s.Fields {
			if fl.Error != "" {
				out = append(out, FormError{Label: fl.Label, Anchor: fl.ID(), Message: fl.Error})
			}
		}
		if s.List != nil {
			for i, row := range s.List.Rows {
				for _, fl := range row {
					if fl.Error != "" {
						out = append(out, FormError{Label: fmt.Sprintf("%s %d, %s", strings.ToUpper(s.List.Noun[:1])+s.List.Noun[1:], i+1, strings.ToLower(fl.Label)), Anchor: fl.ID(), Message: fl.Error})
					}
				}
			}
		}
	}
	f.Errors = out
}

// Invalid reports whether the form holds errors.
func (f *Form) Invalid() bool { return len(f.Errors) > 0 || f.Problem != "" }
