package schema_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

func TestParseDate(t *testing.T) {
	// Imports must accept partial dates where the source has them, and the record keeps
	// exactly that precision (DOMAIN.md, "Real data is messy"; CONTRACT.md, Alliance JSON).
	tests := []struct {
		name          string
		in            string
		want          schema.Date
		wantPrecision schema.Precision
		wantErr       bool
	}{
		{name: "day", in: "2024-05-14", want: schema.Date{Year: 2024, Month: 5, Day: 14}, wantPrecision: schema.PrecisionDay},
		{name: "month", in: "2024-05", want: schema.Date{Year: 2024, Month: 5}, wantPrecision: schema.PrecisionMonth},
		{name: "year", in: "2024", want: schema.Date{Year: 2024}, wantPrecision: schema.PrecisionYear},
		{name: "leap day", in: "2024-02-29", want: schema.Date{Year: 2024, Month: 2, Day: 29}, wantPrecision: schema.PrecisionDay},
		{name: "lowest year", in: "1970-01-01", want: schema.Date{Year: 1970, Month: 1, Day: 1}, wantPrecision: schema.PrecisionDay},
		{name: "highest year", in: "2200-12-31", want: schema.Date{Year: 2200, Month: 12, Day: 31}, wantPrecision: schema.PrecisionDay},
		{name: "one-digit month", in: "2024-1-05", wantErr: true},
		{name: "one-digit day", in: "2024-01-5", wantErr: true},
		{name: "two-digit year", in: "24", wantErr: true},
		{name: "five-digit year", in: "02024", wantErr: true},
		{name: "month 13", in: "2024-13", wantErr: true},
		{name: "month 00", in: "2024-00", wantErr: true},
		{name: "day 00", in: "2024-01-00", wantErr: true},
		{name: "30 February", in: "2024-02-30", wantErr: true},
		{name: "29 February in a common year", in: "2023-02-29", wantErr: true},
		{name: "31 April", in: "2024-04-31", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "letters", in: "abc", wantErr: true},
		{name: "year before the program could exist", in: "1969", wantErr: true},
		{name: "year 0000", in: "0000", wantErr: true},
		{name: "far-future year", in: "2201-01-01", wantErr: true},
		{name: "four parts", in: "2024-01-01-01", wantErr: true},
		{name: "trailing dash", in: "2024-", wantErr: true},
		{name: "leading dash", in: "-2024", wantErr: true},
		{name: "slashes", in: "2024/01/05", wantErr: true},
		{name: "US order", in: "05-14-2024", wantErr: true},
		{name: "spaces", in: " 2024", wantErr: true},
		{name: "RFC 3339 timestamp", in: "2024-05-14T00:00:00Z", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := schema.ParseDate(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseDate(%q) = %v, want an error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDate(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseDate(%q) (-want +got):\n%s", tt.in, diff)
			}
			if got.Precision() != tt.wantPrecision {
				t.Errorf("Precision() = %v, want %v", got.Precision(), tt.wantPrecision)
			}
			if got.String() != tt.in {
				t.Errorf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

// TestParseDateSigns shows that ParseDate lets strconv.Atoi accept a sign inside a
// month or day field, so "2024-+1" is read as January 2024.
func TestParseDateSigns(t *testing.T) {
	for _, in := range []string{"2024-+1", "2024-01-+5", "2024-+1-+5"} {
		t.Run(in, func(t *testing.T) {
			if got, err := schema.ParseDate(in); err == nil {
				t.Errorf("ParseDate(%q) = %v, want an error", in, got)
			}
		})
	}
}

func TestMustDatePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustDate(\"2024-02-30\") did not panic")
		}
	}()
	schema.MustDate("2024-02-30")
}

func TestDateOf(t *testing.T) {
	detroit, err := time.LoadLocation("America/Detroit")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   time.Time
		want schema.Date
	}{
		{name: "UTC", in: time.Date(2024, 5, 14, 23, 0, 0, 0, time.UTC), want: schema.MustDate("2024-05-14")},
		// The same instant is still 13 May in Michigan: a date is a calendar day in the
		// time's own location.
		{name: "Detroit evening", in: time.Date(2024, 5, 14, 2, 0, 0, 0, time.UTC).In(detroit), want: schema.MustDate("2024-05-13")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, schema.DateOf(tt.in)); diff != "" {
				t.Errorf("DateOf(%v) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestDateJSON(t *testing.T) {
	tests := []struct {
		name string
		date schema.Date
		json string
	}{
		{name: "day", date: schema.MustDate("2024-05-14"), json: `"2024-05-14"`},
		{name: "month", date: schema.MustDate("2024-05"), json: `"2024-05"`},
		{name: "year", date: schema.MustDate("2024"), json: `"2024"`},
		{name: "zero", date: schema.Date{}, json: `""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.date)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if string(b) != tt.json {
				t.Errorf("Marshal(%#v) = %s, want %s", tt.date, b, tt.json)
			}
			// Start from a non-zero date so decoding "" must really reset it.
			got := schema.MustDate("1999-09-09")
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("Unmarshal(%s): %v", b, err)
			}
			if diff := cmp.Diff(tt.date, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
			if got.Precision() != tt.date.Precision() {
				t.Errorf("round trip precision %v, want %v", got.Precision(), tt.date.Precision())
			}
		})
	}
}

func TestDateUnmarshalJSON(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		want        schema.Date
		wantErr     bool // the decoder refuses it (not a string at all)
		wantInvalid bool // decodes, but Invalid reports it so validation names the field
	}{
		{name: "null is unknown", in: `null`, want: schema.Date{}},
		{name: "empty string is unknown", in: `""`, want: schema.Date{}},
		{name: "month", in: `"2019-10"`, want: schema.Date{Year: 2019, Month: 10}},
		{name: "number", in: `2024`, wantErr: true},
		{name: "object", in: `{"year":2024}`, wantErr: true},
		{name: "bad month", in: `"2024-13"`, wantInvalid: true},
		{name: "no such day", in: `"2024-02-30"`, wantInvalid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := schema.MustDate("1999-09-09")
			err := json.Unmarshal([]byte(tt.in), &got)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Unmarshal(%s) = %v, want an error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unmarshal(%s): %v", tt.in, err)
			}
			if tt.wantInvalid {
				if got.Invalid() == nil || got.IsZero() || got.String() != strings.Trim(tt.in, `"`) {
					t.Errorf("Unmarshal(%s) = %v, Invalid() = %v; want it kept as given and reported", tt.in, got, got.Invalid())
				}
				return
			}
			if got.Invalid() != nil {
				t.Errorf("Unmarshal(%s): Invalid() = %v", tt.in, got.Invalid())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Unmarshal(%s) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestDateInStructOmitzero(t *testing.T) {
	type wrapper struct {
		D schema.Date `json:"d,omitzero"`
	}
	tests := []struct {
		name string
		in   wrapper
		want string
	}{
		{name: "zero omitted", in: wrapper{}, want: `{}`},
		{name: "year kept", in: wrapper{D: schema.MustDate("2010")}, want: `{"d":"2010"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("Marshal = %s, want %s", b, tt.want)
			}
		})
	}
}

func TestDateAddMonths(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		// A day past the end of the target month is clamped to its last day.
		{name: "31 January plus a month in a leap year", in: "2024-01-31", n: 1, want: "2024-02-29"},
		{name: "31 January plus a month in a common year", in: "2023-01-31", n: 1, want: "2023-02-28"},
		{name: "31 August plus 18 months", in: "2022-08-31", n: 18, want: "2024-02-29"},
		{name: "31 March plus a month", in: "2024-03-31", n: 1, want: "2024-04-30"},
		{name: "no clamping needed", in: "2024-05-14", n: 1, want: "2024-06-14"},
		// Initial term two years: CSP 04-01-001 X.G (seed 003).
		{name: "two-year federal term", in: "2024-05-14", n: 24, want: "2026-05-14"},
		// MIOSHA agreements run three years (DOMAIN.md, Lifecycle).
		{name: "three-year MIOSHA term", in: "2023-05-01", n: 36, want: "2026-05-01"},
		{name: "leap day plus a year", in: "2024-02-29", n: 12, want: "2025-02-28"},
		{name: "across the year end", in: "2024-11-30", n: 3, want: "2025-02-28"},
		{name: "zero months", in: "2024-05-14", n: 0, want: "2024-05-14"},
		{name: "backwards", in: "2024-03-31", n: -1, want: "2024-02-29"},
		{name: "month precision kept", in: "2024-11", n: 3, want: "2025-02"},
		{name: "month precision across years", in: "2019-10", n: 60, want: "2024-10"},
		{name: "year precision kept", in: "2024", n: 24, want: "2026"},
		{name: "year precision five-year renewal", in: "2010", n: 60, want: "2015"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := schema.MustDate(tt.in)
			got := in.AddMonths(tt.n)
			if got.String() != tt.want {
				t.Errorf("%s.AddMonths(%d) = %s, want %s", tt.in, tt.n, got, tt.want)
			}
			if got.Precision() != in.Precision() {
				t.Errorf("precision %v, want %v", got.Precision(), in.Precision())
			}
		})
	}
	t.Run("zero stays zero", func(t *testing.T) {
		if got := (schema.Date{}).AddMonths(24); !got.IsZero() {
			t.Errorf("zero.AddMonths(24) = %v, want zero", got)
		}
	})
}

// TestDateAddMonthsYearPrecisionOddTerm shows that a year-only date plus a term that is
// not a whole number of years is truncated to the earlier year. Signed "2024" with an
// 18-month term, the Alliance may run until June 2026, yet the derived expiry "2025"
// makes Standing report it expired from 2026-01-01, against Standing's promise that a
// partial date is "never shown expired early".
func TestDateAddMonthsYearPrecisionOddTerm(t *testing.T) {
	if got := schema.MustDate("2024").AddMonths(18); got.String() != "2026" {
		t.Errorf("2024.AddMonths(18) = %s, want 2026 (the latest year the term may end in)", got)
	}
	a := &schema.Alliance{Status: schema.StatusActive, SignedOn: schema.MustDate("2024"), TermMonths: 18}
	a.ExpiresOn = a.DerivedExpiry()
	// Signed as late as 2024-12-31, an 18-month term runs to 2026-06-30.
	if got := a.Standing(schema.MustDate("2026-03-01")); got == schema.StandingExpired {
		t.Errorf("Standing(2026-03-01) = %s; the Alliance may be in force until 2026-06-30", got)
	}
}

func TestDateAddDays(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		// 30 days' written notice (seed 001; CSP 04-01-001 XIV).
		{name: "thirty days", in: "2024-01-15", n: 30, want: "2024-02-14"},
		{name: "into a leap day", in: "2024-02-28", n: 1, want: "2024-02-29"},
		{name: "across the year end", in: "2024-12-31", n: 1, want: "2025-01-01"},
		{name: "backwards", in: "2024-03-01", n: -1, want: "2024-02-29"},
		{name: "month precision moves from the month's last day", in: "2024-03", n: 30, want: "2024-04"},
		{name: "year precision moves from the year's last day", in: "2024", n: 30, want: "2025"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := schema.MustDate(tt.in).AddDays(tt.n); got.String() != tt.want {
				t.Errorf("%s.AddDays(%d) = %s, want %s", tt.in, tt.n, got, tt.want)
			}
		})
	}
	t.Run("zero stays zero", func(t *testing.T) {
		if got := (schema.Date{}).AddDays(30); !got.IsZero() {
			t.Errorf("zero.AddDays(30) = %v, want zero", got)
		}
	})
}

func TestDateFirstLast(t *testing.T) {
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		name      string
		in        string
		wantFirst time.Time
		wantLast  time.Time
	}{
		{name: "day", in: "2024-05-14", wantFirst: day(2024, 5, 14), wantLast: day(2024, 5, 14)},
		{name: "month", in: "2024-05", wantFirst: day(2024, 5, 1), wantLast: day(2024, 5, 31)},
		{name: "February of a leap year", in: "2024-02", wantFirst: day(2024, 2, 1), wantLast: day(2024, 2, 29)},
		{name: "February of a common year", in: "2023-02", wantFirst: day(2023, 2, 1), wantLast: day(2023, 2, 28)},
		{name: "year", in: "2024", wantFirst: day(2024, 1, 1), wantLast: day(2024, 12, 31)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := schema.MustDate(tt.in)
			if got := d.First(); !got.Equal(tt.wantFirst) || got.Location() != time.UTC {
				t.Errorf("First() = %v, want %v", got, tt.wantFirst)
			}
			if got := d.Last(); !got.Equal(tt.wantLast) || got.Location() != time.UTC {
				t.Errorf("Last() = %v, want %v", got, tt.wantLast)
			}
		})
	}
}

func TestDatePrecisionAndZero(t *testing.T) {
	tests := []struct {
		name     string
		in       schema.Date
		wantPrec schema.Precision
		wantZero bool
		wantStr  string
	}{
		{name: "zero", in: schema.Date{}, wantPrec: schema.PrecisionNone, wantZero: true, wantStr: ""},
		{name: "year", in: schema.Date{Year: 2004}, wantPrec: schema.PrecisionYear, wantStr: "2004"},
		{name: "month", in: schema.Date{Year: 2004, Month: 6}, wantPrec: schema.PrecisionMonth, wantStr: "2004-06"},
		{name: "day", in: schema.Date{Year: 2004, Month: 6, Day: 3}, wantPrec: schema.PrecisionDay, wantStr: "2004-06-03"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.Precision(); got != tt.wantPrec {
				t.Errorf("Precision() = %v, want %v", got, tt.wantPrec)
			}
			if got := tt.in.IsZero(); got != tt.wantZero {
				t.Errorf("IsZero() = %v, want %v", got, tt.wantZero)
			}
			if got := tt.in.String(); got != tt.wantStr {
				t.Errorf("String() = %q, want %q", got, tt.wantStr)
			}
		})
	}
}
