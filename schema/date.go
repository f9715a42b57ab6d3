package schema

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Precision says how much of a Date the source knew.
type Precision int

// Precisions, coarsest first. Official documents sometimes give only the month or the
// year an Alliance was signed, and the record keeps exactly what the source knew
// (DOMAIN.md, "Real data is messy").
const (
	PrecisionNone Precision = iota
	PrecisionYear
	PrecisionMonth
	PrecisionDay
)

// Date is a calendar date that may be known only to the month or the year. Its JSON
// form is "YYYY-MM-DD", "YYYY-MM" or "YYYY". The zero Date is "unknown".
type Date struct {
	Year  int
	Month int // 0 when only the year is known
	Day   int // 0 when only the year or month is known

	// bad holds a string that arrived as a date but is not one. Decoding keeps it so
	// validation can name the field with every other failing one, instead of the
	// decoder refusing the whole document without saying where.
	bad string
}

// Earliest and latest years a Date may carry: the Alliance Program began in 2002, and
// older or far-future years are typing mistakes, not agreements.
const (
	minYear = 1970
	maxYear = 2200
)

// latestDate is the last day a Date may carry: a record's derived dates (expires_on,
// concluded_on, a termination's effective_on) must not pass it, or the record could not
// be parsed back when it is synced (alliance.go, checkDerived).
var latestDate = Date{Year: maxYear, Month: 12, Day: 31}

// inRange reports whether a well-formed date's year is one ParseDate accepts, so the
// date can be written and read back.
func (d Date) inRange() bool { return d.Year >= minYear && d.Year <= maxYear }

// ParseDate reads "YYYY-MM-DD", "YYYY-MM" or "YYYY".
func ParseDate(s string) (Date, error) {
	parts := strings.Split(s, "-")
	if len(parts) > 3 || s == "" {
		return Date{}, fmt.Errorf("%q is not a date: want YYYY-MM-DD, YYYY-MM or YYYY", s)
	}
	widths := []int{4, 2, 2}
	var nums [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || len(p) != widths[i] || strings.ContainsFunc(p, func(r rune) bool { return r < '0' || r > '9' }) {
			return Date{}, fmt.Errorf("%q is not a date: want YYYY-MM-DD, YYYY-MM or YYYY", s)
		}
		nums[i] = n
	}
	d := Date{Year: nums[0], Month: nums[1], Day: nums[2]}
	if d.Year < minYear || d.Year > maxYear {
		return Date{}, fmt.Errorf("%q: year must be between %d and %d", s, minYear, maxYear)
	}
	if len(parts) >= 2 && (d.Month < 1 || d.Month > 12) {
		return Date{}, fmt.Errorf("%q: month must be 01 to 12", s)
	}
	if len(parts) == 3 && (d.Day < 1 || d.Day > daysIn(d.Year, d.Month)) {
		return Date{}, fmt.Errorf("%q: no such day", s)
	}
	return d, nil
}

// MustDate is ParseDate for constants in tests and sample data; it panics on error.
func MustDate(s string) Date {
	d, err := ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// DateOf is the day-precision Date of t in t's location.
func DateOf(t time.Time) Date {
	return Date{Year: t.Year(), Month: int(t.Month()), Day: t.Day()}
}

// IsZero reports whether the date is unknown (absent, not malformed).
func (d Date) IsZero() bool { return d.Year == 0 && d.bad == "" }

// Invalid returns why a decoded date string is not a date, or nil.
func (d Date) Invalid() error {
	if d.bad == "" {
		return nil
	}
	_, err := ParseDate(d.bad)
	return err
}

// Equal reports whether two dates are the same (go-cmp uses it).
func (d Date) Equal(o Date) bool { return d == o }

// Precision says whether the date is known to the day, month or year.
func (d Date) Precision() Precision {
	switch {
	case d.Year == 0 || d.bad != "":
		return PrecisionNone
	case d.Month == 0:
		return PrecisionYear
	case d.Day == 0:
		return PrecisionMonth
	}
	return PrecisionDay
}

func (d Date) String() string {
	if d.bad != "" {
		return d.bad
	}
	switch d.Precision() {
	case PrecisionYear:
		return fmt.Sprintf("%04d", d.Year)
	case PrecisionMonth:
		return fmt.Sprintf("%04d-%02d", d.Year, d.Month)
	case PrecisionDay:
		return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
	}
	return ""
}

// AddMonths moves the date n months on, keeping its precision. A day past the end of the
// target month is clamped to its last day (a term signed on 31 August ends on the last
// day of February, not in March).
func (d Date) AddMonths(n int) Date {
	switch d.Precision() {
	case PrecisionNone:
		return Date{}
	case PrecisionYear:
		// Signed some time in the year: the term may end as late as n months after its
		// last day, so round up (2024 + 18 months ends by 2026, not 2025).
		if n >= 0 {
			return Date{Year: d.Year + (n+11)/12}
		}
		return Date{Year: d.Year + n/12}
	}
	months := d.Year*12 + (d.Month - 1) + n
	out := Date{Year: months / 12, Month: months%12 + 1}
	if d.Precision() == PrecisionDay {
		out.Day = min(d.Day, daysIn(out.Year, out.Month))
	}
	return out
}

// AddDays moves the date n days on. A partial date moves from the last day it may mean
// and keeps its precision: notice given in "2024-06" takes effect by "2024-07".
func (d Date) AddDays(n int) Date {
	switch d.Precision() {
	case PrecisionNone:
		return Date{}
	case PrecisionDay:
		return DateOf(d.First().AddDate(0, 0, n))
	}
	out := DateOf(d.Last().AddDate(0, 0, n))
	out.Day = 0
	if d.Precision() == PrecisionYear {
		out.Month = 0
	}
	return out
}

// First is the first day the date may mean, at midnight UTC.
func (d Date) First() time.Time {
	m, day := max(d.Month, 1), max(d.Day, 1)
	return time.Date(d.Year, time.Month(m), day, 0, 0, 0, 0, time.UTC)
}

// Last is the last day the date may mean, at midnight UTC: the end of the month or year
// when only that much is known.
func (d Date) Last() time.Time {
	switch d.Precision() {
	case PrecisionYear:
		return time.Date(d.Year, time.December, 31, 0, 0, 0, 0, time.UTC)
	case PrecisionMonth:
		return time.Date(d.Year, time.Month(d.Month), daysIn(d.Year, d.Month), 0, 0, 0, 0, time.UTC)
	}
	return d.First()
}

// MarshalJSON writes the date as a string in its own precision.
func (d Date) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.String())
}

// UnmarshalJSON reads "YYYY-MM-DD", "YYYY-MM", "YYYY", "" or null. A string that is not
// a date decodes without error but Invalid reports it, so validation names the field.
func (d *Date) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*d = Date{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a date string: %w", err)
	}
	if s == "" {
		*d = Date{}
		return nil
	}
	parsed, err := ParseDate(s)
	if err != nil {
		*d = Date{bad: s}
		return nil
	}
	*d = parsed
	return nil
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
