package schema

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// FieldError is one failing field, named by its JSON path ("participants[0].name").
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists every failing field of a record, not just the first.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid: " + strings.Join(parts, "; ")
}

// Add records a failing field.
func (e *ValidationError) Add(field, message string) {
	e.Fields = append(e.Fields, FieldError{Field: field, Message: message})
}

// Prefix puts p before every field name, for errors found inside a larger document.
func (e *ValidationError) Prefix(p string) {
	for i := range e.Fields {
		e.Fields[i].Field = p + e.Fields[i].Field
	}
}

// Err is nil when no field failed and the ValidationError otherwise.
func (e *ValidationError) Err() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

// checkText adds an error when a text field is longer than max characters, is not
// UTF-8 or holds control characters. JSON cannot carry bytes that are not UTF-8 (they
// are encoded as U+FFFD), so such text, which a CSV row or a Go caller may hold, would
// be stored as something other than what was validated.
func (e *ValidationError) checkText(field, s string, max int) {
	if n := len([]rune(s)); n > max {
		e.Add(field, fmt.Sprintf("is %d characters; at most %d", n, max))
	}
	if !utf8.ValidString(s) {
		e.Add(field, "is not UTF-8 text")
		return
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			e.Add(field, "contains a control character")
			return
		}
	}
}

// checkDate adds an error when a decoded date string was not a date.
func (e *ValidationError) checkDate(field string, d Date) {
	if err := d.Invalid(); err != nil {
		e.Add(field, err.Error())
	}
}
