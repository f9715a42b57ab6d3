package node_test

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/node"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

// importResult is a parsed NDJSON answer of POST /v1/import.
type importResult struct {
	Rows    int // from the first line
	DryRun  bool
	Lines   []node.ImportRow
	Summary node.ImportSummary
}

// postCSV sends body to POST /v1/import with the query flags.
func postCSV(t testing.TB, n *hubtest.Node, query string, body []byte) (*http.Response, []byte) {
	t.Helper()
	return hubtest.Request(t, http.MethodPost, n.URL+"/v1/import"+query, n.Token, http.Header{"Content-Type": {"text/csv"}}, body)
}

// importOK imports body, requires a 200 NDJSON stream ending in a summary and parses it.
func importOK(t testing.TB, n *hubtest.Node, query, body string) importResult {
	t.Helper()
	resp, raw := postCSV(t, n, query, []byte(body))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("import: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	return parseStream(t, raw)
}

func parseStream(t testing.TB, raw []byte) importResult {
	t.Helper()
	var res importResult
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<20)
	for i := 0; sc.Scan(); i++ {
		line := sc.Bytes()
		var probe map[string]json.RawMessage
		hubtest.DecodeJSON(t, line, &probe)
		switch {
		case i == 0:
			var start struct {
				Rows   int  `json:"rows"`
				DryRun bool `json:"dry_run"`
			}
			hubtest.DecodeJSON(t, line, &start)
			res.Rows, res.DryRun = start.Rows, start.DryRun
		case probe["done"] != nil:
			if probe["error"] != nil {
				t.Fatalf("import stopped: %s", line)
			}
			hubtest.DecodeJSON(t, line, &res.Summary)
			if sc.Scan() {
				t.Fatalf("data after the summary: %s", sc.Bytes())
			}
			return res
		default:
			var r node.ImportRow
			hubtest.DecodeJSON(t, line, &r)
			res.Lines = append(res.Lines, r)
		}
	}
	t.Fatalf("stream without a summary line:\n%s", raw)
	return res
}

// outcomes lists each row's line and outcome, "2:imported".
func (r importResult) outcomes() []string {
	var out []string
	for _, l := range r.Lines {
		out = append(out, fmt.Sprintf("%d:%s", l.Line, l.Outcome))
	}
	return out
}

// exportCSV fetches GET /v1/alliances?format=csv and parses it.
func exportCSV(t *testing.T, n *hubtest.Node, query string) (*http.Response, [][]string, []byte) {
	t.Helper()
	resp, raw := hubtest.Do(t, http.MethodGet, n.URL+"/v1/alliances?format=csv"+query, n.Token, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("export: %d %s", resp.StatusCode, raw)
	}
	rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatalf("export is not CSV: %v\n%s", err, raw)
	}
	return resp, rows, raw
}

// withoutColumn drops column col from every row and sorts the data rows, so two
// exports whose ids differ compare equal when their Alliances do.
func withoutColumn(rows [][]string, col int) [][]string {
	var out [][]string
	for _, r := range rows {
		out = append(out, slices.Delete(slices.Clone(r), col, col+1))
	}
	slices.SortFunc(out[1:], func(a, b []string) int { return strings.Compare(strings.Join(a, "\x00"), strings.Join(b, "\x00")) })
	return out
}

func writeCSV(rows [][]string) string {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.WriteAll(rows)
	return b.String()
}

func create(t *testing.T, n *hubtest.Node, body string) schema.Alliance {
	t.Helper()
	resp, raw := hubtest.Do(t, http.MethodPost, n.URL+"/v1/alliances", n.Token, []byte(body))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create %s: %d %s", body, resp.StatusCode, raw)
	}
	var a schema.Alliance
	hubtest.DecodeJSON(t, raw, &a)
	return a
}

// TestCSVRoundTrip: a varied set of Alliances exports to CSV and imports into a fresh
// node of the same program with every CSV field intact; imported back into the first
// node, every row is a duplicate, by id or, without the id column, by participant and
// signing date.
func TestCSVRoundTrip(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	bodies := []string{
		// Only the year is known (DOMAIN.md, "Real data is messy"); two participants,
		// one type each; categories by label.
		`{"participants":[{"name":"Michigan Farm Bureau","type":"association"},{"name":"Michigan State University","type":"education"}],
		  "goals":[{"category":"Outreach and Communication"},{"category":"Training and Education"}],"signed_on":"2019",
		  "emphasis_areas":["Agriculture","Grain bins"]}`,
		// Only the month; renewed for a term other than the program's default (60).
		`{"office":"Construction Safety and Health Division","participants":[{"name":"Associated Builders and Contractors of Michigan","type":"association"}],
		  "goals":[{"category":"outreach-communication"}],"signed_on":"2021-05","status":"renewed",
		  "renewals":[{"signed_on":"2024-05-20","term_months":36},{"signed_on":"2025-06","term_months":60}]}`,
		// Names and offices a spreadsheet would run as formulas.
		`{"office":"-General Industry","participants":[{"name":"=HYPERLINK(\"x\")"},{"name":"@Risk Council","type":"community"}],
		  "goals":[{"category":"outreach-communication"}],"signed_on":"2023-02-01"}`,
		`{"participants":[{"name":"Michigan Concrete Association, Inc.","type":"association"}],
		  "goals":[{"category":"rulemaking-awareness"},{"category":"outreach-communication"}],"signed_on":"2015-01-10",
		  "status":"concluded","concluded_on":"2018-01-10"}`,
		`{"participants":[{"name":"Draft Partner"}],"goals":[],"status":"draft"}`,
	}
	for _, b := range bodies {
		create(t, mi, b)
	}
	term := create(t, mi, `{"participants":[{"name":"Michigan Laborers Training Fund","type":"union"}],"goals":[{"category":"outreach-communication"}],"signed_on":"2022-09-15"}`)
	resp, raw := hubtest.Do(t, http.MethodPost, mi.URL+"/v1/alliances/"+term.ID+"/terminate", mi.Token,
		[]byte(`{"notice_on":"2024-03-01","reason":"A change in the participant's strategic direction"}`))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("terminate: %d %s", resp.StatusCode, raw)
	}

	resp, exported, raw := exportCSV(t, mi, "")
	if ct := resp.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, `filename="MI-`) {
		t.Errorf("Content-Disposition %q, want an attachment named for MI", cd)
	}
	if diff := cmp.Diff(schema.CSVColumns, exported[0]); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	if len(exported) != 1+len(bodies)+1 {
		t.Fatalf("export has %d rows, want %d:\n%s", len(exported)-1, len(bodies)+1, raw)
	}
	for _, want := range []string{`,2019,`, `,2021-05,`, `2024-05-20:36; 2025-06`, `'=HYPERLINK`, `'-General Industry`,
		`,2024-03-01,A change in the participant's strategic direction,`, `outreach-communication; training-education`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("export lacks %q:\n%s", want, raw)
		}
	}

	h2 := hubtest.StartHub(t, nil)
	fresh := hubtest.StartNode(t, h2, "MI")
	res := importOK(t, fresh, "", string(raw))
	if res.Summary.Imported != len(bodies)+1 || res.Summary.Failed != 0 || res.Rows != len(bodies)+1 {
		t.Fatalf("import into a fresh node: %+v %+v", res.Summary, res.Lines)
	}
	_, reexported, _ := exportCSV(t, fresh, "")
	if diff := cmp.Diff(withoutColumn(exported, 0), withoutColumn(reexported, 0)); diff != "" {
		t.Errorf("re-export (-want +got):\n%s", diff)
	}

	t.Run("back into the first node: duplicates by id", func(t *testing.T) {
		res := importOK(t, mi, "", string(raw))
		if res.Summary != (node.ImportSummary{Duplicates: len(bodies) + 1, Done: true}) {
			t.Errorf("summary %+v, want all duplicates", res.Summary)
		}
		for i, l := range res.Lines {
			if l.ID != exported[i+1][0] {
				t.Errorf("line %d: duplicate id %q, want %q", l.Line, l.ID, exported[i+1][0])
			}
		}
	})
	t.Run("without the id column: duplicates by participant and date", func(t *testing.T) {
		res := importOK(t, mi, "", writeCSV(withoutColumn(exported, 0)))
		if res.Summary.Duplicates != len(bodies)+1 {
			t.Errorf("summary %+v, want all duplicates: %v", res.Summary, res.Lines)
		}
	})
	if got := list(t, mi, "").Total; got != len(bodies)+1 {
		t.Errorf("first node holds %d Alliances, want %d", got, len(bodies)+1)
	}
}

// TestCSVExportFilters: the export takes the list's filters and no paging.
func TestCSVExportFilters(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	for i := range 3 {
		create(t, mi, strings.Replace(agc, "Associated General Contractors", fmt.Sprintf("Partner %d", i), 1))
	}
	create(t, mi, `{"participants":[{"name":"Draft"}],"status":"draft"}`)
	if _, rows, _ := exportCSV(t, mi, "&limit=1"); len(rows) != 5 {
		t.Errorf("export has %d data rows, want all 4 (no paging)", len(rows)-1)
	}
	if _, rows, _ := exportCSV(t, mi, "&status=draft"); len(rows) != 2 || rows[1][1] != "Draft" {
		t.Errorf("status=draft export: %v", rows)
	}
	if _, rows, _ := exportCSV(t, mi, "&q=partner%201"); len(rows) != 2 {
		t.Errorf("q export: %v", rows)
	}
	resp, body := hubtest.Do(t, http.MethodGet, mi.URL+"/v1/alliances?format=xml", mi.Token, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "format") {
		t.Errorf("format=xml: %d %s", resp.StatusCode, body)
	}
}

// TestImportRefused: a file the import cannot read is refused whole, before any write,
// with a problem that names what is wrong.
func TestImportRefused(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	const good = "A,2024-05-01,outreach-communication\n"
	manyRows := "participant,signed_on,goal_categories\n" + strings.Repeat(good, node.MaxImportRows+1)
	tooLarge := "participant,signed_on,goal_categories,office\n" + strings.Repeat("A,2024-05-01,outreach-communication,"+strings.Repeat("x", 1000)+"\n", 17<<10)
	cases := []struct {
		name, query, contentType, token string
		body                            string
		status                          int
		slug                            string
		detail                          []string // each in the problem's detail
	}{
		{name: "empty file", body: "", status: 422, slug: "csv-empty"},
		{name: "only a byte order mark and blank lines", body: "\xef\xbb\xbf\n\n", status: 422, slug: "csv-empty"},
		{name: "no header", body: "Acme Corp,2024-05-01\n", status: 422, slug: "csv-no-header", detail: []string{"participant and signed_on"}},
		{name: "unknown column", body: "participant,signed_on,Colour\n" + good, status: 422, slug: "csv-unknown-column", detail: []string{`"Colour"`, "--allow-extra"}},
		{name: "missing participant column", body: "signed_on,office\n2024-05-01,x\n", status: 422, slug: "csv-missing-column", detail: []string{`"participant"`}},
		{name: "duplicate column", body: "participant,signed_on, Participant \n" + good, status: 422, slug: "csv-duplicate-column", detail: []string{`"participant"`, "columns 1 and 3"}},
		{name: "invalid UTF-8", body: "participant,signed_on,goal_categories\n" + good + "Caf\xe9 Workers,2024-05-01,outreach-communication\n", status: 422, slug: "csv-encoding", detail: []string{"line 3", "CSV UTF-8"}},
		{name: "UTF-16 byte order mark", body: "\xff\xfep\x00a\x00", status: 422, slug: "csv-encoding", detail: []string{"UTF-16"}},
		{name: "ragged row", body: "participant,signed_on,goal_categories\n" + good + "B,2024-05-01,outreach-communication,extra\n", status: 422, slug: "csv-syntax", detail: []string{"line 3"}},
		{name: "bare quote", body: "participant,signed_on,goal_categories\n" + good + good + "\"B\"x,2024-05-01,outreach-communication\n", status: 422, slug: "csv-syntax", detail: []string{"line 4"}},
		{name: "more than 50,000 rows", body: manyRows, status: 422, slug: "csv-too-many-rows", detail: []string{"50000", "split"}},
		{name: "more than 16 MiB", body: tooLarge, status: 413, slug: "too-large", detail: []string{"16 MiB", "split"}},
		{name: "not text/csv", contentType: "application/json", body: "participant,signed_on\n", status: 415, slug: "unsupported-media-type"},
		{name: "bad flag", query: "?dry_run=perhaps", body: "participant,signed_on\n", status: 400, slug: "invalid-request", detail: []string{"dry_run"}},
		{name: "analyst token", token: hubtest.Token(t, mi.Key, auth.RoleAnalyst, ""), body: "participant,signed_on\n" + good, status: 403, slug: "forbidden"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ct := cmpOr(tc.contentType, "text/csv")
			resp, raw := hubtest.Request(t, http.MethodPost, mi.URL+"/v1/import"+tc.query, cmpOr(tc.token, mi.Token),
				http.Header{"Content-Type": {ct}}, []byte(tc.body))
			var p struct {
				Type   string `json:"type"`
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("got %d %s %.300s, want %d problem+json", resp.StatusCode, resp.Header.Get("Content-Type"), raw, tc.status)
			}
			hubtest.DecodeJSON(t, raw, &p)
			if p.Type != "urn:alliancehub:problem:"+tc.slug || p.Status != tc.status {
				t.Errorf("problem %+v, want type %s", p, tc.slug)
			}
			for _, d := range tc.detail {
				if !strings.Contains(p.Detail, d) {
					t.Errorf("detail %q does not say %q", p.Detail, d)
				}
			}
			if got := list(t, mi, "").Total; got != 0 {
				t.Errorf("%d records stored, want 0", got)
			}
			if st := status(t, mi); st.LastSeq != 0 {
				t.Errorf("journal holds %d revisions, want 0", st.LastSeq)
			}
		})
	}
}

// rowsReader is a CSV file of size bytes made on the fly: a header, then the same valid
// row again and again, cut at size. Nothing of it is held in memory.
type rowsReader struct{ left, off int64 }

const repeatedRow = "Partner,2024-05-01,outreach-communication\n"

var rowBlock = strings.Repeat(repeatedRow, 2000) // copied from in large pieces

func (r *rowsReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	const header = "participant,signed_on,goal_categories\n"
	n := 0
	for n < len(p) && r.left > 0 {
		var src string
		if r.off < int64(len(header)) {
			src = header[r.off:]
		} else {
			src = rowBlock[(r.off-int64(len(header)))%int64(len(rowBlock)):]
		}
		c := copy(p[n:], src[:min(int64(len(src)), r.left)])
		n += c
		r.off += int64(c)
		r.left -= int64(c)
	}
	return n, nil
}

// TestImportFiftyMegabytes: a 50 MB file (DESIGN.md's bad-input example; the node takes
// at most 16 MiB) is refused whole with 413 too-large saying how much the node takes and
// what to do, whether the client declares its length or streams it without one
// (chunked: the node stops reading at the limit), and nothing is written.
func TestImportFiftyMegabytes(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	const size = 50_000_000
	for _, tc := range []struct {
		name   string
		length int64 // the Content-Length sent; -1: none (chunked)
	}{{"declared length", size}, {"streamed without a length", -1}} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, mi.URL+"/v1/import", &rowsReader{left: size})
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = tc.length
			req.Header.Set("Content-Type", "text/csv")
			req.Header.Set("Authorization", "Bearer "+mi.Token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("no answer to a 50 MB import: %v", err)
			}
			raw, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			var p struct {
				Type   string `json:"type"`
				Detail string `json:"detail"`
			}
			if resp.StatusCode != http.StatusRequestEntityTooLarge || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("got %d %s %.300s, want 413 problem+json", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
			}
			hubtest.DecodeJSON(t, raw, &p)
			if p.Type != "urn:alliancehub:problem:too-large" || !strings.Contains(p.Detail, "16 MiB") || !strings.Contains(p.Detail, "split it") {
				t.Errorf("problem %+v; want too-large saying the limit and to split the file", p)
			}
			if got := list(t, mi, "").Total; got != 0 {
				t.Errorf("%d records stored, want 0", got)
			}
			if st := status(t, mi); st.LastSeq != 0 {
				t.Errorf("journal holds %d revisions, want 0", st.LastSeq)
			}
		})
	}
	// The same rows, within the limit, import: the refusal was the size, not the rows.
	small := &rowsReader{left: int64(len("participant,signed_on,goal_categories\n") + 3*len(repeatedRow))}
	body, err := io.ReadAll(small)
	if err != nil {
		t.Fatal(err)
	}
	if res := importOK(t, mi, "", string(body)); res.Summary.Imported != 1 || res.Summary.Duplicates != 2 {
		t.Errorf("three of the same rows: %+v; want 1 imported, 2 duplicates", res.Summary)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestImportRowErrors: a failing row is reported with its physical line and every
// failing field, named by column; the other rows are imported.
func TestImportRowErrors(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	file := "\xef\xbb\xbf Participant ,SIGNED_ON,goal_categories,emphasis_areas,term_months\n" + // line 1; a BOM and loose header names
		"Good One,2024-05-01,Outreach and Communication,\"Falls;\nTrenching\",\n" + // lines 2-3: a label; a quoted cell over two lines
		"Bad Date,2024-13-01,outreach-communication,,\n" + // line 4
		"Bad Category,2024-05-01,x,,\n" + // line 5
		"Training Only,2024-05-01,training-education,,\n" + // line 6: MIOSHA needs an outreach goal (seed 004)
		",,outreach-communication,,abc\n" + // line 7: no participant, no date, term not a number
		"\n" + // line 8: blank, skipped
		"Good Two,2021,outreach-communication; rulemaking-awareness,,\n" // line 9: a year only
	res := importOK(t, mi, "", file)
	want := []string{"2:imported", "4:failed", "5:failed", "6:failed", "7:failed", "9:imported"}
	if diff := cmp.Diff(want, res.outcomes()); diff != "" {
		t.Fatalf("outcomes (-want +got):\n%s", diff)
	}
	if res.Rows != 6 || res.Summary != (node.ImportSummary{Imported: 2, Failed: 4, Done: true}) {
		t.Errorf("rows %d, summary %+v", res.Rows, res.Summary)
	}
	fields := func(l node.ImportRow) []string {
		var out []string
		for _, e := range l.Errors {
			out = append(out, e.Field)
		}
		return out
	}
	for i, want := range [][]string{
		{"signed_on"},
		{"goal_categories", "goal_categories"},
		{"goal_categories"},
		{"participant", "signed_on", "term_months"},
	} {
		l := res.Lines[i+1]
		if diff := cmp.Diff(want, fields(l)); diff != "" {
			t.Errorf("line %d fields (-want +got):\n%s\n%v", l.Line, diff, l.Errors)
		}
	}
	if msg := res.Lines[1].Errors[0].Message; !strings.Contains(msg, `"2024-13-01"`) {
		t.Errorf("bad date message %q does not quote the cell", msg)
	}
	if msg := res.Lines[2].Errors[0].Message; !strings.Contains(msg, `"x" is not a goal category of program MI`) {
		t.Errorf("bad category message %q", msg)
	}
	if msg := res.Lines[3].Errors[0].Message; !strings.Contains(msg, "outreach-communication") {
		t.Errorf("MIOSHA outreach message %q", msg)
	}
	var a schema.Alliance
	hubtest.GetJSON(t, mi.URL+"/v1/alliances/"+res.Lines[0].ID, mi.Token, &a)
	if a.Goals[0].Category != "outreach-communication" || !slices.Equal(a.EmphasisAreas, []string{"Falls", "Trenching"}) || a.TermMonths != 36 {
		t.Errorf("line 2 stored as %+v", a)
	}
	hubtest.GetJSON(t, mi.URL+"/v1/alliances/"+res.Lines[5].ID, mi.Token, &a)
	if a.SignedOn.String() != "2021" || a.ExpiresOn.String() != "2024" {
		t.Errorf("year-only row stored signed %s expiring %s; want 2021, 2024", a.SignedOn, a.ExpiresOn)
	}
}

// TestImportDuplicates: rows matching an Alliance the node holds, or an earlier row of
// the file, by normalized first participant and signing date (with its precision), are
// reported as duplicates and never created twice.
func TestImportDuplicates(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	held := create(t, mi, agc) // Associated General Contractors of Michigan, 2024-05-14
	file := "participant,signed_on,goal_categories\n" +
		"\"ASSOCIATED  General Contractors of Michigan.\",2024-05-14,outreach-communication\n" + // line 2: the held one
		"\"Acme Corp., Inc.\",2024-05,outreach-communication\n" + // line 3
		"acme corp inc,2024-05,outreach-communication\n" + // line 4: line 3 again
		"Acme Corp Inc,2024-05-01,outreach-communication\n" + // line 5: another precision: another agreement
		"Acme Corp Inc; Other,2024-05,outreach-communication\n" // line 6: same first participant
	res := importOK(t, mi, "", file)
	want := []string{"2:duplicate", "3:imported", "4:duplicate", "5:imported", "6:duplicate"}
	if diff := cmp.Diff(want, res.outcomes()); diff != "" {
		t.Fatalf("outcomes (-want +got):\n%s", diff)
	}
	if l := res.Lines[0]; l.ID != held.ID || l.DuplicateOfLine != 0 {
		t.Errorf("line 2: %+v, want duplicate of %s", l, held.ID)
	}
	if l := res.Lines[2]; l.ID != res.Lines[1].ID || l.DuplicateOfLine != 3 {
		t.Errorf("line 4: %+v, want duplicate of line 3 (%s)", l, res.Lines[1].ID)
	}
	if got := list(t, mi, "").Total; got != 3 {
		t.Errorf("node holds %d, want 3", got)
	}
}

// TestImportDryRun: a dry run checks and finds duplicates but writes nothing.
func TestImportDryRun(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	create(t, mi, agc)
	file := "participant,signed_on,goal_categories\n" +
		"Associated General Contractors of Michigan,2024-05-14,outreach-communication\n" +
		"New One,2024-05-01,outreach-communication\n" +
		"New One,2024-05-01,outreach-communication\n" +
		"Bad,2024-05-01,\n"
	res := importOK(t, mi, "?dry_run=1", file)
	want := []string{"2:duplicate", "3:would_import", "4:duplicate", "5:failed"}
	if diff := cmp.Diff(want, res.outcomes()); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if !res.DryRun || res.Summary != (node.ImportSummary{Imported: 1, Duplicates: 2, Failed: 1, DryRun: true, Done: true}) {
		t.Errorf("dry run %v, summary %+v", res.DryRun, res.Summary)
	}
	if res.Lines[1].ID != "" || res.Lines[2].DuplicateOfLine != 3 {
		t.Errorf("a would-be import has no id; its duplicate names its line: %+v", res.Lines[1:3])
	}
	if st := status(t, mi); st.LastSeq != 1 {
		t.Errorf("journal holds %d revisions, want 1 (nothing written)", st.LastSeq)
	}
}

// TestImportAllOrNothing: with all_or_nothing, one failing row means nothing is
// written; without a failure, every row is.
func TestImportAllOrNothing(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	header := "participant,signed_on,goal_categories\n"
	rows := "A,2024-05-01,outreach-communication\nB,2024-05-02,outreach-communication\nA,2024-05-01,outreach-communication\n"
	res := importOK(t, mi, "?all_or_nothing=true", header+rows+"C,2024-05-03,training-education\n")
	want := []string{"2:not_imported", "3:not_imported", "4:duplicate", "5:failed"}
	if diff := cmp.Diff(want, res.outcomes()); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if res.Summary != (node.ImportSummary{Duplicates: 1, Failed: 1, NotImported: 2, Done: true}) {
		t.Errorf("summary %+v", res.Summary)
	}
	if st := status(t, mi); st.LastSeq != 0 {
		t.Errorf("journal holds %d revisions, want 0", st.LastSeq)
	}
	res = importOK(t, mi, "?all_or_nothing=true", header+rows)
	if res.Summary != (node.ImportSummary{Imported: 2, Duplicates: 1, Done: true}) {
		t.Errorf("summary %+v", res.Summary)
	}
	if got := list(t, mi, "").Total; got != 2 {
		t.Errorf("node holds %d, want 2", got)
	}
}

// TestImportAllowExtra: with allow_extra, unknown columns are ignored.
func TestImportAllowExtra(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	res := importOK(t, mi, "?allow_extra=true", "notes,participant,signed_on,goal_categories,\nhello,A,2024-05-01,Outreach and Communication,\n")
	if res.Summary.Imported != 1 {
		t.Errorf("summary %+v %+v", res.Summary, res.Lines)
	}
}

// TestImportChunks: a file larger than one chunk is written in several, every row
// reported in order, and imported again it is all duplicates, as after an interrupted
// import.
func TestImportChunks(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	file := generatedCSV(600)
	res := importOK(t, mi, "", file)
	if res.Summary.Imported != 600 || len(res.Lines) != 600 || res.Lines[599].Line != 601 {
		t.Fatalf("summary %+v, %d lines", res.Summary, len(res.Lines))
	}
	// Meanwhile a clerk adds one through the API; the import sees it.
	create(t, mi, `{"participants":[{"name":"Partner 600"}],"goals":[{"category":"outreach-communication"}],"signed_on":"2024-01-01"}`)
	res = importOK(t, mi, "", generatedCSV(601))
	if res.Summary != (node.ImportSummary{Duplicates: 601, Done: true}) {
		t.Errorf("second import: %+v", res.Summary)
	}
	if st := status(t, mi); st.LastSeq != 601 {
		t.Errorf("journal holds %d revisions, want 601", st.LastSeq)
	}
}

// generatedCSV is n distinct valid MI rows.
func generatedCSV(n int) string {
	var b strings.Builder
	b.WriteString("participant,participant_type,signed_on,goal_categories,emphasis_areas\n")
	for i := range n {
		fmt.Fprintf(&b, "Partner %d,association,2024-01-01,outreach-communication; training-education,Falls; Silica\n", i)
	}
	return b.String()
}

// BenchmarkImport10k measures importing a 10,000-row file into an empty node over HTTP,
// from the request to the summary line.
func BenchmarkImport10k(b *testing.B) {
	const rows = 10_000
	file := []byte(generatedCSV(rows))
	var elapsed time.Duration
	for range b.N {
		b.StopTimer()
		h := hubtest.StartHub(b, nil)
		mi := hubtest.StartNode(b, h, "MI")
		b.StartTimer()
		start := time.Now()
		resp, raw := postCSV(b, mi, "", file)
		elapsed += time.Since(start)
		b.StopTimer()
		if resp.StatusCode != http.StatusOK || !bytes.Contains(raw, []byte(`"imported":10000,`)) {
			b.Fatalf("import: %d %.500s", resp.StatusCode, raw[max(0, len(raw)-500):])
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(rows*b.N)/elapsed.Seconds(), "rows/s")
}
