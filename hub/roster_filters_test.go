package hub_test

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/google/go-cmp/cmp"
)

// lifecycle posts a lifecycle step (renew, terminate, conclude, reports) to an Alliance
// on its node and requires success.
func lifecycle(t *testing.T, n *hubtest.Node, id, step, body string) {
	t.Helper()
	resp, raw := hubtest.Do(t, http.MethodPost, n.URL+"/v1/alliances/"+id+"/"+step, n.Token, []byte(body))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		t.Fatalf("%s %s: %d %s", step, id, resp.StatusCode, raw)
	}
}

// rosterIDs pages through GET /v1/roster?query two items at a time, checking that every
// page reports the same total and that the pages end, and returns the items by id, in
// the order served.
func rosterIDs(t *testing.T, h *hubtest.Hub, query string) ([]string, map[string]wire.RosterItem) {
	t.Helper()
	var ids []string
	items := map[string]wire.RosterItem{}
	token, total := "", -1
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatalf("%s: paging does not end", query)
		}
		p := roster(t, h, "?"+query+"&limit=2&page_token="+url.QueryEscape(token))
		if total >= 0 && p.Total != total {
			t.Errorf("%s: total %d on one page, %d on another", query, total, p.Total)
		}
		total = p.Total
		for _, it := range p.Items {
			if _, dup := items[it.ID]; dup {
				t.Errorf("%s: %s served twice", query, it.ID)
			}
			ids = append(ids, it.ID)
			items[it.ID] = it
		}
		if token = p.NextPageToken; token == "" {
			break
		}
	}
	if total != len(ids) {
		t.Errorf("%s: total %d, but %d items served", query, total, len(ids))
	}
	return ids, items
}

// rosterCSV fetches GET /v1/roster?query&format=csv and returns its rows by column name.
func rosterCSV(t *testing.T, h *hubtest.Hub, query string) []map[string]string {
	t.Helper()
	resp, body := hubtest.Do(t, http.MethodGet, h.URL+"/v1/roster?"+query+"&format=csv", h.Token(t, auth.RoleAnalyst, ""), nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("%s as CSV: %d %s %s", query, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("%s as CSV: %v\n%s", query, err, body)
	}
	var out []map[string]string
	for _, r := range rows[1:] {
		m := map[string]string{}
		for i, name := range rows[0] {
			m[name] = r[i]
		}
		out = append(out, m)
	}
	return out
}

// TestRosterFiltersAndStanding (issue 5 item 4): the national roster of three programs,
// each filter of CONTRACT.md alone and several together, with standing computed as of
// as_of (an Alliance is active, then expiring within 90 days of its end, then expired; a
// termination counts from its effective day, a conclusion from its day); each view is
// the same in the JSON pages (two per page, the total on every page) and in the CSV
// export; and compliance is computed as of as_of too.
func TestRosterFiltersAndStanding(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	fed := hubtest.StartNode(t, h, "FED")
	mi := hubtest.StartNode(t, h, "MI")
	nv := hubtest.StartNode(t, h, "NV")

	// FED: national, regional, area (renewed), a national draft, a national Alliance
	// terminated in 2025.
	f1 := create(t, fed, `{"level":"national","participants":[{"name":"National Utility Contractors Association"}],
		"goals":[{"category":"training"},{"category":"outreach"}],"signed_on":"2024-01-15"}`)
	f2 := create(t, fed, `{"level":"regional","office":"Region 5 (Chicago)","participants":[{"name":"Illinois Road and Transportation Builders Association"}],
		"goals":[{"category":"awareness"}],"signed_on":"2025-06-01"}`)
	f3 := create(t, fed, `{"level":"area","office":"Toledo Area Office","participants":[{"name":"Laborers' Health and Safety Fund of North America"}],
		"goals":[{"category":"dialogue"}],"signed_on":"2021-03-01"}`)
	lifecycle(t, fed, f3.ID, "renew", `{"signed_on":"2023-02-15"}`)
	f4 := create(t, fed, `{"level":"national","participants":[{"name":"Draft Partner Association"}],"goals":[{"category":"training"}]}`)
	f5 := create(t, fed, `{"level":"national","participants":[{"name":"American Society of Safety Professionals"}],
		"goals":[{"category":"training"}],"signed_on":"2025-01-10"}`)
	lifecycle(t, fed, f5.ID, "terminate", `{"notice_on":"2025-09-01","reason":"Lack of activity"}`)
	// MI: an active Alliance and one concluded in 2023.
	m1 := create(t, mi, miAGC)
	m2 := create(t, mi, `{"participants":[{"name":"Michigan Farm Bureau"}],"goals":[{"category":"outreach-communication"}],"signed_on":"2021-01-10"}`)
	lifecycle(t, mi, m2.ID, "conclude", `{"concluded_on":"2023-06-30"}`)
	// NV: one active Alliance.
	n1 := create(t, nv, nvNCA)
	for _, n := range []*hubtest.Node{fed, mi, nv} {
		if res := syncNode(t, n); res.Rejected != 0 || res.Conflict != 0 {
			t.Fatalf("sync %s: %+v", n.Program().Code, res)
		}
	}
	name := map[string]string{f1.ID: "F1", f2.ID: "F2", f3.ID: "F3", f4.ID: "F4", f5.ID: "F5", m1.ID: "M1", m2.ID: "M2", n1.ID: "N1"}

	// The fixture as the roster holds it on 2025-11-01: level, status, standing,
	// expires_on and national categories of each.
	_, all := rosterIDs(t, h, "as_of=2025-11-01")
	got := map[string]string{}
	for id, it := range all {
		got[name[id]] = fmt.Sprintf("%s %s %s %s %v", it.Level, it.Status, it.Standing, it.ExpiresOn, it.NationalCategories)
	}
	want := map[string]string{
		"F1": "national active expiring 2026-01-15 [training outreach]",
		"F2": "regional active active 2027-06-01 [awareness]",
		"F3": "area renewed active 2028-02-15 [dialogue]",
		"F4": "national draft draft  [training]",
		"F5": "national terminated terminated 2027-01-10 [training]",
		"M1": "state active active 2027-05-14 [training outreach]",
		"M2": "state concluded concluded 2024-01-10 [outreach]",
		"N1": "state active active 2027-01-15 [training dialogue]",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("roster on 2025-11-01 (-want +got):\n%s", diff)
	}

	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"as_of=2025-11-01", []string{"F1", "F2", "F3", "F4", "F5", "M1", "M2", "N1"}},
		{"program=FED", []string{"F1", "F2", "F3", "F4", "F5"}},
		{"program=MI", []string{"M1", "M2"}},
		{"program=NV", []string{"N1"}},
		{"level=national", []string{"F1", "F4", "F5"}},
		{"level=regional", []string{"F2"}},
		{"level=area", []string{"F3"}},
		{"level=state", []string{"M1", "M2", "N1"}},
		{"status=active", []string{"F1", "F2", "M1", "N1"}},
		{"status=renewed", []string{"F3"}},
		{"status=draft", []string{"F4"}},
		{"status=terminated", []string{"F5"}},
		{"status=concluded", []string{"M2"}},
		{"status=ambassador", nil},
		{"category=awareness", []string{"F2"}},
		{"category=training", []string{"F1", "F4", "F5", "M1", "N1"}},
		{"category=outreach", []string{"F1", "M1", "M2"}},
		{"category=dialogue", []string{"F3", "N1"}},
		{"q=association", []string{"F1", "F2", "F4", "N1"}},
		{"q=CONTRACTORS", []string{"F1", "M1", "N1"}},
		{"q=no+such+partner", nil},
		// Standing, as of the day asked.
		{"standing=active&as_of=2025-11-01", []string{"F2", "F3", "M1", "N1"}},
		{"standing=expiring&as_of=2025-11-01", []string{"F1"}},
		{"standing=draft&as_of=2025-11-01", []string{"F4"}},
		{"standing=terminated&as_of=2025-11-01", []string{"F5"}},
		{"standing=concluded&as_of=2025-11-01", []string{"M2"}},
		{"standing=expired&as_of=2025-11-01", nil},
		// Before the termination takes effect (30 days after notice) F5 counts by its
		// dates; F1 is more than 90 days from its end.
		{"standing=active&as_of=2025-09-30", []string{"F1", "F2", "F3", "F5", "M1", "N1"}},
		{"standing=terminated&as_of=2025-09-30", nil},
		{"standing=terminated&as_of=2025-10-01", []string{"F5"}},
		{"standing=expiring&as_of=2025-10-17", []string{"F1"}},
		{"standing=expiring&as_of=2025-10-16", nil},
		{"standing=expiring&as_of=2026-01-15", []string{"F1"}},
		{"standing=expired&as_of=2026-01-16", []string{"F1"}},
		{"standing=expiring&as_of=2026-11-01", []string{"N1"}},
		// Before its conclusion day M2 counts by its dates.
		{"standing=active&as_of=2023-06-29&q=farm", []string{"M2"}},
		{"standing=concluded&as_of=2023-06-30", []string{"M2"}},
		// Together.
		{"program=FED&level=national&standing=terminated&as_of=2025-11-01", []string{"F5"}},
		{"level=state&category=outreach", []string{"M1", "M2"}},
		{"program=MI&status=active&category=training", []string{"M1"}},
		{"q=contractors&standing=active&as_of=2025-11-01", []string{"M1", "N1"}},
		{"program=NV&category=awareness", nil},
	} {
		t.Run(tc.query, func(t *testing.T) {
			q := tc.query
			if !strings.Contains(q, "as_of=") {
				q += "&as_of=2025-11-01"
			}
			ids, items := rosterIDs(t, h, q)
			var gotNames []string
			for _, id := range ids {
				gotNames = append(gotNames, name[id])
			}
			if !slices.IsSorted(ids) {
				t.Errorf("served out of id order: %v", ids)
			}
			slices.Sort(gotNames)
			if !cmp.Equal(tc.want, gotNames, cmpEmptyNil) {
				t.Errorf("JSON view = %v, want %v", gotNames, tc.want)
			}
			// The CSV export of the same view: the same records, the same standing.
			var csvNames []string
			for _, row := range rosterCSV(t, h, q) {
				csvNames = append(csvNames, name[row["id"]])
				if it := items[row["id"]]; row["standing"] != string(it.Standing) || row["rev"] != it.Rev {
					t.Errorf("CSV row %s: standing %s rev %s; JSON %s %s", row["id"], row["standing"], row["rev"], it.Standing, it.Rev)
				}
			}
			slices.Sort(csvNames)
			if !cmp.Equal(tc.want, csvNames, cmpEmptyNil) {
				t.Errorf("CSV view = %v, want %v", csvNames, tc.want)
			}
		})
	}

	// A sorted view pages the same in JSON and CSV.
	ids, _ := rosterIDs(t, h, "sort=-signed_on&level=national")
	var csvIDs []string
	for _, row := range rosterCSV(t, h, "sort=-signed_on&level=national") {
		csvIDs = append(csvIDs, row["id"])
	}
	if want := []string{f5.ID, f1.ID, f4.ID}; !cmp.Equal(want, ids) || !cmp.Equal(want, csvIDs) {
		t.Errorf("national by signing date, newest first: JSON %v CSV %v, want %v (the draft, never signed, last)", ids, csvIDs, want)
	}

	// Compliance as of as_of: F1's first annual report is due 60 days after its first
	// anniversary (2025-01-15 + 60 days, seed 003 XII.D.2.a); owed but not yet overdue
	// on 2025-03-16, overdue the day after, and no longer once the report is filed.
	compliance := func(asOf string) wire.Compliance {
		_, items := rosterIDs(t, h, "program=FED&as_of="+asOf)
		return items[f1.ID].Compliance
	}
	if c := compliance("2025-03-16"); len(c.OverdueReports) != 0 || c.NextReportDue == nil || c.NextReportDue.String() != "2025-03-16" {
		t.Errorf("F1 compliance on 2025-03-16 = %+v, want the report due that day, nothing overdue", c)
	}
	c := compliance("2025-03-17")
	if len(c.OverdueReports) != 1 {
		t.Fatalf("F1 compliance on 2025-03-17 = %+v, want one report overdue", c)
	}
	lifecycle(t, fed, f1.ID, "reports", fmt.Sprintf(`{"period":%q,"reported_on":"2025-04-01","meetings":[{"held_on":"2024-06-01"},{"held_on":"2024-10-01"}]}`, c.OverdueReports[0]))
	if res := syncNode(t, fed); res.Accepted != 1 {
		t.Fatalf("sync of the report: %+v", res)
	}
	if c := compliance("2025-04-02"); len(c.OverdueReports) != 0 || c.MeetingsLast12Months != 2 {
		t.Errorf("F1 compliance on 2025-04-02 after the report = %+v, want nothing overdue, 2 meetings", c)
	}
}

// cmpEmptyNil compares an empty slice equal to nil.
var cmpEmptyNil = cmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) })
