package schema_test

// Fuzz targets for everything the schema package reads from outside: dates, periods,
// signed records and their bodies, CSV rows and program definitions. Each asserts
// properties, not only the absence of a panic. Seeds are added in code (f.Add) and kept
// in testdata/fuzz/<FuzzName>/, which plain `go test` runs as regression tests; run one
// target with `go test -run=^$ -fuzz=^FuzzParseDate$ -fuzztime=60s ./schema`.

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// fuzzPrograms are the built-in definitions, loaded once per fuzzing process.
var fuzzPrograms = sync.OnceValues(func() ([]*schema.Program, error) {
	cat, err := schema.LoadCatalog()
	if err != nil {
		return nil, err
	}
	var out []*schema.Program
	for _, code := range cat.Codes() {
		p, _ := cat.Get(code)
		out = append(out, p)
	}
	return out, nil
})

// fuzzProgram picks a built-in program by a fuzzed byte.
func fuzzProgram(t *testing.T, pick uint8) *schema.Program {
	t.Helper()
	ps, err := fuzzPrograms()
	if err != nil {
		t.Fatal(err)
	}
	return ps[int(pick)%len(ps)]
}

// decodeStrict decodes as the hub and the nodes do: one JSON value, no unknown fields.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// checkValidation asserts the contract of every Validate: nil, or a *ValidationError
// naming at least one field, each with a message.
func checkValidation(t *testing.T, what string, err error) *schema.ValidationError {
	t.Helper()
	if err == nil {
		return nil
	}
	var ve *schema.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("%s: error %v (%T) is not a *schema.ValidationError", what, err, err)
	}
	if len(ve.Fields) == 0 {
		t.Fatalf("%s: a validation error that names no field: %v", what, err)
	}
	for _, f := range ve.Fields {
		if f.Field == "" || f.Message == "" {
			t.Fatalf("%s: field error without a field or a message: %+v", what, f)
		}
	}
	return ve
}

// FuzzParseDate: a date that parses is written back exactly as it was given and parses
// to the same date; any string survives a JSON round trip unchanged, a bad one kept for
// validation to name; month arithmetic keeps the precision and undoes itself.
func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2024-02-29", "2023-02-29", "2024-06", "2024", "1970-01-01", "2200-12-31",
		"2201", "1969-12-31", "2024-13-01", "2024-00", "2024-6-1", "+024-01-01", "２０２４", "", "-", "2024--01", "2024-01-01-01"} {
		f.Add(s, 0)
	}
	f.Add("2024-01-31", 1)
	f.Add("2024-08-31", 6)
	f.Add("2025-03", -14)
	f.Add("2199", 24)
	f.Fuzz(func(t *testing.T, s string, n int) {
		d, err := schema.ParseDate(s)

		// JSON: every string decodes, and encodes back to itself (invalid UTF-8 is
		// already U+FFFD once encoded).
		quoted, _ := json.Marshal(s)
		var j schema.Date
		if err := json.Unmarshal(quoted, &j); err != nil {
			t.Fatalf("UnmarshalJSON(%s): %v", quoted, err)
		}
		var sent string
		json.Unmarshal(quoted, &sent)
		want, _ := json.Marshal(sent)
		out, err2 := json.Marshal(j)
		if err2 != nil || !bytes.Equal(out, want) {
			t.Fatalf("date %s re-encodes as %s (%v)", quoted, out, err2)
		}
		if err != nil {
			if s != "" && (j.Invalid() == nil || j.IsZero() || j.Precision() != schema.PrecisionNone) {
				t.Fatalf("%q does not parse (%v) but decodes as a valid date %#v", s, err, j)
			}
			return
		}

		if got := d.String(); got != s {
			t.Fatalf("ParseDate(%q).String() = %q", s, got)
		}
		if again, err := schema.ParseDate(d.String()); err != nil || !again.Equal(d) {
			t.Fatalf("ParseDate(%q) = %v, %v; want %v", d.String(), again, err, d)
		}
		if !j.Equal(d) || j.Invalid() != nil {
			t.Fatalf("JSON %s decodes to %#v, want %#v", quoted, j, d)
		}
		if want := schema.Precision(strings.Count(s, "-") + 1); d.Precision() != want {
			t.Fatalf("%q has precision %v, want %v", s, d.Precision(), want)
		}
		if d.Last().Before(d.First()) || d.First().Year() != d.Year {
			t.Fatalf("%q spans %v to %v", s, d.First(), d.Last())
		}

		n %= 12 * 100 // a century either way keeps the arithmetic in time.Time's range
		m := d.AddMonths(n)
		if m.Precision() != d.Precision() {
			t.Fatalf("%q.AddMonths(%d) = %v: precision %v, want %v", s, n, m, m.Precision(), d.Precision())
		}
		// Month arithmetic undoes itself unless a day was clamped to a shorter month.
		if d.Precision() == schema.PrecisionMonth || (d.Precision() == schema.PrecisionDay && d.Day <= 28) {
			if back := m.AddMonths(-n); !back.Equal(d) {
				t.Fatalf("%q.AddMonths(%d).AddMonths(%d) = %v", s, n, -n, back)
			}
		}
		days := n * 3
		a := d.AddDays(days)
		if a.Precision() != d.Precision() {
			t.Fatalf("%q.AddDays(%d) = %v: precision %v", s, days, a, a.Precision())
		}
		if d.Precision() == schema.PrecisionDay {
			if back := a.AddDays(-days); !back.Equal(d) {
				t.Fatalf("%q.AddDays(%d).AddDays(%d) = %v", s, days, -days, back)
			}
		} else if target := d.Last().AddDate(0, 0, days); target.Before(a.First()) || target.After(a.Last()) {
			// A partial date moves from the last day it may mean and keeps its precision.
			t.Fatalf("%q.AddDays(%d) = %v, which does not hold %v", s, days, a, target)
		}
	})
}

// nextPeriod is the period after p, built from its name.
func nextPeriod(t *testing.T, p schema.Period) (schema.Period, bool) {
	t.Helper()
	per := map[schema.Cadence]int{schema.CadenceQuarterly: 4, schema.CadenceSemiannual: 2, schema.CadenceAnnual: 1}[p.Cadence]
	next := schema.Period{Year: p.Year, Cadence: p.Cadence, N: p.N + 1}
	if p.N >= per {
		next = schema.Period{Year: p.Year + 1, Cadence: p.Cadence, N: 1}
	}
	got, err := schema.ParsePeriod(next.String())
	if err != nil {
		return schema.Period{}, false // past the last year a period may name
	}
	return got, true
}

// periodDays bounds the days one period of a cadence spans, whatever its anchor: a
// quarter is 89 to 92 days, a half 181 to 184, a year 365 or 366.
var periodDays = map[schema.Cadence][2]int{
	schema.CadenceQuarterly:  {89, 92},
	schema.CadenceSemiannual: {181, 184},
	schema.CadenceAnnual:     {365, 366},
}

// FuzzParsePeriod: a period that parses is written back as given; under every anchor
// it spans one cadence's worth of days, abuts the next period, is due DueDays after it
// ends, and is the only period overlapping its own span.
func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"2026-Q1", "2026-Q4", "2025-H2", "2024-annual", "2200-Q4", "1970-annual",
		"2026-Q5", "2026-H3", "2026-Annual", "26-Q1", "2026-q1", "2026-Q1 ", ""} {
		f.Add(s, "2024-02-29", 60)
	}
	f.Add("2025-Q1", "2023-01-31", 30)
	f.Add("2025-annual", "2020-08-31", 0)
	f.Add("2199-H2", "2198-12-31", 366)
	f.Fuzz(func(t *testing.T, s, signed string, dueDays int) {
		p, err := schema.ParsePeriod(s)
		if err != nil {
			return
		}
		if p.String() != s {
			t.Fatalf("ParsePeriod(%q).String() = %q", s, p.String())
		}
		if again, err := schema.ParsePeriod(p.String()); err != nil || again != p {
			t.Fatalf("ParsePeriod(%q) = %v, %v; want %v", p.String(), again, err, p)
		}
		sd, err := schema.ParseDate(signed)
		if err != nil || sd.Precision() != schema.PrecisionDay {
			sd = schema.MustDate("2024-02-29")
		}
		signedOn := sd.First()
		dueDays = max(dueDays%367, -dueDays%367) // a program's due_days is 0 to 366
		bounds := periodDays[p.Cadence]
		next, hasNext := nextPeriod(t, p)
		for _, a := range []schema.Anchor{schema.AnchorAnniversary, schema.AnchorCalendar, schema.AnchorFiscal} {
			span := p.Span(a, signedOn)
			days := int(span.Until.Sub(span.From).Hours() / 24)
			if days < bounds[0] || days > bounds[1] {
				t.Fatalf("%s (%s, signed %s) spans %d days: %v to %v", s, a, sd, days, span.From, span.Until)
			}
			if hasNext {
				if from := next.Span(a, signedOn).From; !from.Equal(span.Until) {
					t.Fatalf("%s (%s, signed %s) ends %v but %s begins %v", s, a, sd, span.Until, next, from)
				}
			}
			rule := schema.ReportRule{Cadence: p.Cadence, Anchor: a, DueDays: dueDays}
			if due := p.Due(rule, signedOn); !due.Equal(span.Until.AddDate(0, 0, dueDays)) {
				t.Fatalf("%s (%s) due %v, want %d days after %v", s, a, due, dueDays, span.Until)
			}
			if got := schema.PeriodsOverlapping(rule, signedOn, span); !slices.Equal(got, []schema.Period{p}) {
				t.Fatalf("periods overlapping %s's own span (%s, signed %s): %v", s, a, sd, got)
			}
		}
	})
}

// FuzzRecord decodes a record payload as the hub does. A record that passes CheckRev
// has the generation after its prev_rev's and re-marshals to the same rev when its body
// is compact JSON as encoding/json writes it; any other body's hash changes when it is
// re-encoded, which is why signed bytes travel unchanged (PROTOCOL.md section 5). Its
// body decodes and validates by kind (tombstones against the record's id) and either
// passes or names a field.
func FuzzRecord(f *testing.F) {
	body := []byte(`{"id":"MI-0123456789abcdef","program":"MI","level":"state","participants":[{"name":"Acme"}],"goals":[{"category":"outreach-communication"}],"signed_on":"2024-05-01","term_months":36,"expires_on":"2027-05-01","status":"active"}`)
	rev1, _ := schema.NewRev("", body)
	tomb := []byte(`{"id":"MI-0123456789abcdef","deleted":true,"reason":"never signed"}`)
	rev2, _ := schema.NewRev(rev1, tomb)
	report := []byte(`{"id":"MI-0123456789abcdef.2024-Q3","program":"MI","alliance_id":"MI-0123456789abcdef","period":"2024-Q3","reported_on":"2024-10-15","team_members":["A"],"meetings":[],"events":[],"products":[],"activities":[],"milestones":[]}`)
	rev3, _ := schema.NewRev("", report)
	spaced := []byte(`{ "id": "MI-0123456789abcdef", "deleted": true }`)
	rev4, _ := schema.NewRev(rev1, spaced)
	resolving, _ := schema.NewRevResolving(rev1, tomb, []string{rev3})
	for _, rec := range []schema.Record{
		{ID: "MI-0123456789abcdef", Kind: schema.KindAlliance, Program: "MI", Rev: rev1, Seq: 1, Body: body},
		{ID: "MI-0123456789abcdef", Kind: schema.KindTombstone, Program: "MI", Rev: rev2, PrevRev: rev1, Seq: 2, Body: tomb},
		{ID: "MI-0123456789abcdef.2024-Q3", Kind: schema.KindReport, Program: "MI", Rev: rev3, Seq: 3, Body: report},
		{ID: "MI-0123456789abcdef", Kind: schema.KindTombstone, Program: "MI", Rev: rev4, PrevRev: rev1, Seq: 4, Body: spaced},
		{ID: "MI-0123456789abcdef", Kind: schema.KindTombstone, Program: "MI", Rev: resolving, PrevRev: rev1, Seq: 5, Body: tomb, Resolves: []string{rev3}},
	} {
		rec.IssuedAt = time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
		data, _ := json.Marshal(&rec)
		f.Add(data)
	}
	f.Add([]byte(`{"id":"MI-x","kind":"alliance","program":"MI","rev":"1-00","seq":1,"issued_at":"2025-01-01T00:00:00Z","body":{}}`))
	f.Add([]byte(`{"ID":"MI-x","body":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var rec schema.Record
		if decodeStrict(data, &rec) != nil {
			return
		}
		if prog, err := schema.ProgramOfID(rec.ID); err == nil {
			if !schema.ValidProgramCode(prog) || !strings.HasPrefix(rec.ID, prog+"-") {
				t.Fatalf("ProgramOfID(%q) = %q", rec.ID, prog)
			}
		} else if !errors.Is(err, schema.ErrBadID) {
			t.Fatalf("ProgramOfID(%q): %v is not ErrBadID", rec.ID, err)
		}
		if err := rec.CheckRev(); err != nil {
			if !errors.Is(err, schema.ErrBadRev) {
				t.Fatalf("CheckRev: %v is not ErrBadRev", err)
			}
			return
		}

		gen, _, err := schema.ParseRev(rec.Rev)
		if err != nil {
			t.Fatalf("CheckRev passed a rev ParseRev refuses: %v", err)
		}
		wantGen := 1
		if rec.PrevRev != "" {
			prevGen, _, err := schema.ParseRev(rec.PrevRev)
			if err != nil {
				t.Fatalf("CheckRev passed a prev_rev ParseRev refuses: %v", err)
			}
			wantGen = prevGen + 1
		}
		if gen != wantGen {
			t.Fatalf("rev %s is generation %d after prev_rev %q; want %d", rec.Rev, gen, rec.PrevRev, wantGen)
		}

		out, err := json.Marshal(&rec)
		if err != nil {
			t.Fatalf("re-marshal: %v", err)
		}
		var back schema.Record
		if err := decodeStrict(out, &back); err != nil {
			t.Fatalf("re-marshalled record %s does not decode: %v", out, err)
		}
		canonical, _ := json.Marshal(rec.Body) // what encoding/json makes of the body
		switch err := back.CheckRev(); {
		case bytes.Equal(canonical, rec.Body) && err != nil:
			t.Fatalf("a compact body's record no longer checks after a round trip: %v\n%s", err, out)
		case bytes.Equal(canonical, rec.Body) && back.Rev != rec.Rev:
			t.Fatalf("rev %s became %s", rec.Rev, back.Rev)
		case !bytes.Equal(canonical, rec.Body) && !errors.Is(err, schema.ErrBadRev):
			t.Fatalf("body %q was re-encoded as %q, yet the rev still checks (%v)", rec.Body, canonical, err)
		}
		if bytes.Equal(canonical, rec.Body) {
			if diff := cmp.Diff(rec, back); diff != "" {
				t.Fatalf("record round trip (-want +got):\n%s", diff)
			}
		}

		switch rec.Kind {
		case schema.KindTombstone:
			var tb schema.Tombstone
			if decodeStrict(rec.Body, &tb) != nil {
				return
			}
			if checkValidation(t, "tombstone", tb.Validate(rec.ID)) == nil && (tb.ID != rec.ID || !tb.Deleted) {
				t.Fatalf("tombstone %+v accepted for record %s", tb, rec.ID)
			}
		case schema.KindAlliance:
			var a schema.Alliance
			if decodeStrict(rec.Body, &a) != nil {
				return
			}
			for pick := range uint8(3) {
				checkValidation(t, "alliance", a.Validate(fuzzProgram(t, pick)))
			}
		case schema.KindReport:
			var r schema.Report
			if decodeStrict(rec.Body, &r) != nil {
				return
			}
			for pick := range uint8(3) {
				checkValidation(t, "report", r.Validate(fuzzProgram(t, pick)))
			}
		}
	})
}

// importHeader is the header of a file with every column, as an export writes it.
func importHeader(t *testing.T) *schema.CSVHeader {
	t.Helper()
	h, err := schema.ParseCSVHeader(schema.CSVColumns, false)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// checkValidAlliance asserts what holds of every Alliance its program accepts: its body
// decodes to the same Alliance and is accepted again, and it exports to a CSV row that
// imports without error as the same row, with the same duplicate key (so importing an
// export finds what it holds). The CSV checks leave out an Alliance with a participant
// name or an emphasis area holding a ";", which splits in two in CSV (docs/CSV.md,
// Lists: a documented limit; its export still re-imports as a duplicate by its id).
func checkValidAlliance(t *testing.T, a *schema.Alliance, p *schema.Program) {
	t.Helper()
	body, err := schema.AllianceBody(a)
	if err != nil {
		t.Fatalf("AllianceBody: %v", err)
	}
	var back schema.Alliance
	if err := decodeStrict(body, &back); err != nil {
		t.Fatalf("body %s does not decode: %v", body, err)
	}
	want := *a
	want.Rev = ""
	if diff := cmp.Diff(&want, &back, cmpopts.EquateEmpty()); diff != "" { // an empty list is left out
		t.Fatalf("body round trip (-want +got):\n%s", diff)
	}
	if err := back.Validate(p); err != nil {
		t.Fatalf("decoded body %s no longer valid: %v", body, err)
	}

	splits := slices.ContainsFunc(a.Participants, func(pt schema.Participant) bool { return strings.Contains(pt.Name, ";") }) ||
		slices.ContainsFunc(a.EmphasisAreas, func(e string) bool { return strings.Contains(e, ";") })
	if splits {
		return
	}
	row := schema.CSVRow(a, p)
	got, errs := importHeader(t).ValidAlliance(row, p)
	if len(errs) > 0 {
		t.Fatalf("exported row %q does not import: %v\nbody %s", row, errs, body)
	}
	if again := schema.CSVRow(got, p); !slices.Equal(again, row) {
		t.Fatalf("export, import, export changes the row:\n%q\n%q\nbody %s", row, again, body)
	}
	if schema.DuplicateKey(got) != schema.DuplicateKey(a) {
		t.Fatalf("imported export has duplicate key %q, want %q", schema.DuplicateKey(got), schema.DuplicateKey(a))
	}
}

// FuzzAlliance decodes an Alliance body, normalizes and validates it against a program.
// Normalize is idempotent; Validate does not change the record and either accepts it
// or names every failing field; an accepted Alliance satisfies checkValidAlliance.
func FuzzAlliance(f *testing.F) {
	for _, seed := range []struct {
		body string
		pick uint8
	}{
		{`{"id":"FED-0123456789abcdef","level":"national","participants":[{"name":"American Society of Safety Professionals","type":"association","contact":{"email":"a@b.org"}}],"goals":[{"category":"training"},{"category":"Outreach and Communication"}],"emphasis_areas":["falls"],"signed_on":"2019-06","status":"ambassador","renewals":[{"signed_on":"2021-06-01","term_months":24}],"ambassador_on":"2023-07-01"}`, 0},
		{`{"participants":[{"name":"  Acme   Roofing  "}],"goals":[{"category":"outreach-communication"}],"signed_on":"2024-05-01"}`, 1},
		{`{"participants":[{"name":"Acme"}],"goals":[{"category":"outreach-communication"}],"signed_on":"2024-05-01","termination":{"notice_on":"2025-01-10","reason":"merger"}}`, 1},
		{`{"participants":[{"name":"Acme"}],"goals":[],"status":"draft"}`, 2},
		{`{"participants":[{"name":"Acme"}],"goals":[{"category":"training-education"}],"signed_on":"2020","status":"concluded","addenda":[{"signed_on":"2021-03-04","added":[{"name":"Beta"}],"removed":["Acme"]}]}`, 2},
		{`{"participants":[{"name":"Acme"}],"goals":[{"category":"training"}],"signed_on":"2199-12-31","term_months":120}`, 0},
		{`{"participants":[],"goals":[{"category":"nope"}],"signed_on":"2024-02-30","term_months":-1,"status":"gone"}`, 0},
	} {
		f.Add([]byte(seed.body), seed.pick)
	}
	f.Fuzz(func(t *testing.T, data []byte, pick uint8) {
		p := fuzzProgram(t, pick)
		var a, same schema.Alliance
		if decodeStrict(data, &a) != nil {
			return
		}
		decodeStrict(data, &same)
		a.Normalize(p)
		same.Normalize(p)
		twice := same
		twice.Normalize(p)
		if diff := cmp.Diff(&same, &twice); diff != "" {
			t.Fatalf("Normalize is not idempotent (-once +twice):\n%s", diff)
		}
		err := a.Validate(p)
		if diff := cmp.Diff(&same, &a); diff != "" {
			t.Fatalf("Validate changed the Alliance (-before +after):\n%s", diff)
		}
		if checkValidation(t, "alliance", err) == nil {
			checkValidAlliance(t, &a, p)
		}
	})
}

// FuzzReport decodes a report body, normalizes it and validates it against a program
// and against an Alliance signed on a fuzzed date. ValidateFor names every field
// Validate does, and more; a report Validate accepts round-trips through its body.
func FuzzReport(f *testing.F) {
	f.Add([]byte(`{"alliance_id":"MI-0123456789abcdef","period":"2024-Q3","reported_on":"2024-10-15","team_members":["A"],"meetings":[{"held_on":"2024-08-01","type":"Virtual"}],"events":[{"category":"Training and Education","title":"Trench day","on":"2024-09"}],"activities":[{"type":"training","reached":40,"trained":12}]}`), uint8(1), "2024-03-15")
	f.Add([]byte(`{"id":"FED-0123456789abcdef.2025-annual","alliance_id":"FED-0123456789abcdef","period":"2025-annual","reported_on":"2025-07-20","team_members":["Pat"],"milestones":["Renewal"]}`), uint8(0), "2024-06-12")
	f.Add([]byte(`{"alliance_id":"NV-0123456789abcdef","period":"2024-Q1","reported_on":"2024","meetings":[{"held_on":"2025-01-01"}],"activities":[{"type":"","reached":-1}]}`), uint8(2), "2024-02-29")
	f.Add([]byte(`{"alliance_id":"MI-x","period":"2200-Q4","reported_on":"2200-12-31"}`), uint8(1), "2199")
	f.Fuzz(func(t *testing.T, data []byte, pick uint8, signed string) {
		p := fuzzProgram(t, pick)
		var r, same schema.Report
		if decodeStrict(data, &r) != nil {
			return
		}
		decodeStrict(data, &same)
		r.Normalize(p)
		same.Normalize(p)
		twice := same
		twice.Normalize(p)
		if diff := cmp.Diff(&same, &twice); diff != "" {
			t.Fatalf("Normalize is not idempotent (-once +twice):\n%s", diff)
		}

		err := r.Validate(p)
		if diff := cmp.Diff(&same, &r); diff != "" {
			t.Fatalf("Validate changed the report (-before +after):\n%s", diff)
		}
		ve := checkValidation(t, "report", err)

		a := fuzzReportAlliance(t, p, r.AllianceID, signed)
		forErr := r.ValidateFor(p, a)
		forVE := checkValidation(t, "report for its Alliance", forErr)
		if ve != nil {
			if forVE == nil {
				t.Fatalf("Validate refuses (%v) what ValidateFor accepts", err)
			}
			for _, fe := range ve.Fields {
				if !slices.Contains(forVE.Fields, fe) {
					t.Fatalf("ValidateFor does not name %+v, which Validate does", fe)
				}
			}
			return
		}

		body, err := schema.ReportBody(&r)
		if err != nil {
			t.Fatalf("ReportBody: %v", err)
		}
		var back schema.Report
		if err := decodeStrict(body, &back); err != nil {
			t.Fatalf("body %s does not decode: %v", body, err)
		}
		want := r
		want.Rev = ""
		if diff := cmp.Diff(&want, &back, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("body round trip (-want +got):\n%s", diff)
		}
		if err := back.Validate(p); err != nil {
			t.Fatalf("decoded body %s no longer valid: %v", body, err)
		}
	})
}

// fuzzReportAlliance is a valid Alliance of p with id id, signed on signed when that is
// a date a valid Alliance may carry, else on 2024-03-15.
func fuzzReportAlliance(t *testing.T, p *schema.Program, id, signed string) *schema.Alliance {
	t.Helper()
	build := func(on schema.Date) *schema.Alliance {
		a := &schema.Alliance{ID: id, Participants: []schema.Participant{{Name: "Acme"}}, SignedOn: on}
		for _, c := range p.Categories {
			a.Goals = append(a.Goals, schema.Goal{Category: c.Code})
		}
		a.Normalize(p)
		return a
	}
	if on, err := schema.ParseDate(signed); err == nil {
		if a := build(on); a.Validate(p) == nil {
			return a
		}
	}
	return build(schema.MustDate("2024-03-15"))
}

// csvSentinels are the errors a header is refused with.
var csvSentinels = []error{schema.ErrCSVNoHeader, schema.ErrCSVUnknownColumn, schema.ErrCSVMissingColumn, schema.ErrCSVDuplicateColumn}

// FuzzCSVImport reads a CSV file's header and rows as an import does. A header is
// accepted or refused with one of the header errors, and allow-extra only ever accepts
// more; every row gives an Alliance and names each failing field with a message; a row
// with no failing field is a valid Alliance (checkValidAlliance).
func FuzzCSVImport(f *testing.F) {
	for _, seed := range []struct {
		file  string
		pick  uint8
		extra bool
	}{
		{"participant,signed_on,goal_categories\nAcme Roofing,2024-05-01,outreach-communication\n", 1, false},
		{"Participant , Signed_On,participant_type,level,office,term_months,status,renewals,goal_categories,emphasis_areas\n" +
			"\"Acme; Beta\",2019-06,association; union,regional,Region 5,24,,2021-06-01:36; 2023-06,training; Outreach and Communication,falls; heat\n", 0, false},
		{"participant,signed_on,notice_on,termination_reason,goal_categories\nAcme,2024-05-01,2025-01-10,'=merger,training-education\n", 2, false},
		{"id,participant,signed_on,status,concluded_on,ambassador_on,goal_categories\nFED-0123456789abcdef,Acme,2018,concluded,2024-01,2022,dialogue\n", 0, false},
		{"participant,signed_on,colour\nAcme,,blue\n,,\nBeta,2024-13-01,red\n", 1, true},
		{"participant;signed_on\nAcme;2024-05-01\n", 1, false},
		{"participant,signed_on,participant,extra\n", 0, true},
		{"signed_on,participant,term_months\n2199-12-31,Acme,120\n2024-01-01,Beta,ten\n", 0, false},
	} {
		f.Add([]byte(seed.file), seed.pick, seed.extra)
	}
	f.Fuzz(func(t *testing.T, data []byte, pick uint8, allowExtra bool) {
		p := fuzzProgram(t, pick)
		r := csv.NewReader(bytes.NewReader(data))
		r.FieldsPerRecord = -1 // rows shorter or longer than the header reach the row reader
		records, err := r.ReadAll()
		if err != nil || len(records) == 0 {
			return
		}
		h, err := schema.ParseCSVHeader(records[0], allowExtra)
		_, errOther := schema.ParseCSVHeader(records[0], !allowExtra)
		switch {
		case err != nil && !slices.ContainsFunc(csvSentinels, func(s error) bool { return errors.Is(err, s) }):
			t.Fatalf("header %q refused with %v, not a header error", records[0], err)
		case allowExtra && err != nil && errOther == nil, !allowExtra && err == nil && errOther != nil:
			t.Fatalf("header %q: allow_extra=%v gives %v, allow_extra=%v gives %v", records[0], allowExtra, err, !allowExtra, errOther)
		case err != nil:
			return
		}
		for _, row := range records[1:min(len(records), 50)] {
			a, errs := h.ValidAlliance(row, p)
			if a == nil {
				t.Fatalf("row %q gives no Alliance", row)
			}
			for _, fe := range errs {
				if fe.Field == "" || fe.Message == "" {
					t.Fatalf("row %q: field error without a field or message: %+v", row, fe)
				}
			}
			if len(errs) > 0 {
				continue
			}
			if err := a.Validate(p); err != nil {
				t.Fatalf("row %q accepted, but the Alliance does not validate: %v", row, err)
			}
			checkValidAlliance(t, a, p)
		}
	})
}

// FuzzLoadCatalog loads a program definition file. A file that loads gives programs
// with valid codes and their time zones, and each round-trips through JSON: written out
// and loaded again, it is the same definition. A file that does not load is named in
// the error.
func FuzzLoadCatalog(f *testing.F) {
	for _, name := range []string{"FED", "MI", "NV"} {
		data, err := os.ReadFile(filepath.Join("programs", name+".json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"code":"NC","name":"North Carolina","levels":["state"],"time_zone":"America/New_York","default_term_months":24,"categories":[{"code":"training-education","label":"Training and Education","national":"training"}]}`))
	f.Add([]byte(`[{"code":"OR","name":"Oregon OSHA","levels":["state"],"time_zone":"America/Los_Angeles","default_term_months":36,"renewal_term_months":{"default":36,"min":12,"max":60},"max_renewals":2,"categories":[{"code":"a","label":"A","national":"awareness"}],"required_categories":["A"],"reports":[{"cadence":"semiannual","anchor":"fiscal","due_days":45}],"ambassador":true,"ambassador_opt_out_offices":["Region 1"]},{"code":"WA","name":"WA","levels":["state","area"],"time_zone":"UTC","default_term_months":12,"categories":[{"code":"b","label":"B","national":"dialogue"}]}]`))
	f.Add([]byte(`[null]`))
	f.Add([]byte(`{"code":"x","time_zone":"../../etc/passwd","default_term_months":0,"extra":1}`))
	f.Add([]byte(`{"code":"NC"} {"code":"SC"}`))
	// One directory for every input: a temporary directory each would make the fuzzer
	// spend its time creating and removing them.
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(dir, "programs.json")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cat, err := schema.LoadCatalog(file)
		if err != nil {
			if !strings.Contains(err.Error(), file) {
				t.Fatalf("error does not name the file %s: %v", file, err)
			}
			return
		}
		for _, code := range cat.Codes() {
			p, _ := cat.Get(code)
			if !schema.ValidProgramCode(p.Code) || p.Code != code {
				t.Fatalf("program %q loaded under code %q", p.Code, code)
			}
			if p.Location().String() != p.TimeZone {
				t.Fatalf("program %s: time zone %q loaded as %q", code, p.TimeZone, p.Location())
			}
			out, err := json.Marshal(p)
			if err != nil {
				t.Fatalf("marshal %s: %v", code, err)
			}
			again := filepath.Join(dir, "again.json")
			if err := os.WriteFile(again, out, 0o600); err != nil {
				t.Fatal(err)
			}
			cat2, err := schema.LoadCatalog(again)
			if err != nil {
				t.Fatalf("program %s written out as %s does not load: %v", code, out, err)
			}
			p2, ok := cat2.Get(code)
			if !ok {
				t.Fatalf("program %s written out does not load as %s", code, code)
			}
			if diff := cmp.Diff(p, p2, cmpopts.IgnoreUnexported(schema.Program{})); diff != "" {
				t.Fatalf("program %s round trip (-loaded +reloaded):\n%s", code, diff)
			}
			if p2.Location().String() != p.Location().String() {
				t.Fatalf("program %s: time zone %v reloaded as %v", code, p.Location(), p2.Location())
			}
		}
	})
}

// TestTextMustBeUTF8 is the regression test of a FuzzCSVImport finding
// (testdata/fuzz/FuzzCSVImport/): a CSV cell holding bytes that are not UTF-8 was
// accepted, and the Alliance's body, which JSON encodes with U+FFFD in their place,
// then said something other than what was validated. Every text field now refuses it.
func TestTextMustBeUTF8(t *testing.T) {
	mi := fuzzProgram(t, 1)
	if mi.Code != "MI" {
		t.Fatalf("program %s, want MI", mi.Code)
	}
	const bad = "Acme \xc6 Roofing"
	a := &schema.Alliance{Participants: []schema.Participant{{Name: bad}}, Goals: []schema.Goal{{Category: "outreach-communication"}},
		SignedOn: schema.MustDate("2024-05-01"), Office: bad}
	a.Normalize(mi)
	r := &schema.Report{AllianceID: "MI-0123456789abcdef", Period: "2024-Q3", ReportedOn: schema.MustDate("2024-10-15"), Overview: bad}
	r.Normalize(mi)
	h, err := schema.ParseCSVHeader([]string{"participant", "signed_on", "goal_categories"}, false)
	if err != nil {
		t.Fatal(err)
	}
	_, rowErrs := h.ValidAlliance([]string{bad, "2024-05-01", "outreach-communication"}, mi)
	tomb := &schema.Tombstone{ID: "MI-0123456789abcdef", Deleted: true, Reason: bad}

	tests := []struct {
		name       string
		err        error
		wantFields []string
	}{
		{name: "alliance", err: a.Validate(mi), wantFields: []string{"office", "participants[0].name"}},
		{name: "report", err: r.Validate(mi), wantFields: []string{"overview"}},
		{name: "csv row", err: (&schema.ValidationError{Fields: rowErrs}).Err(), wantFields: []string{"participant"}},
		{name: "tombstone", err: tomb.Validate(tomb.ID), wantFields: []string{"reason"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ve := checkValidation(t, tt.name, tt.err)
			if ve == nil {
				t.Fatalf("text %q accepted", bad)
			}
			var got []string
			for _, f := range ve.Fields {
				got = append(got, f.Field)
				if f.Message != "is not UTF-8 text" {
					t.Errorf("%s: %s", f.Field, f.Message)
				}
			}
			if diff := cmp.Diff(tt.wantFields, got); diff != "" {
				t.Errorf("failing fields (-want +got):\n%s", diff)
			}
		})
	}
}
