package node_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/node"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

// TestCalendarPages: the calendar enumerates each Alliance's obligations only up to its
// window and keeps only the page's items (calendar.go), yet answers what the whole
// term's obligations give: every overdue report and every one due in the window, in
// date, Alliance and kind order, the same items page by page as in one page, with the
// same totals and summary.
func TestCalendarPages(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	var csv strings.Builder
	csv.WriteString("participant,signed_on,term_months,renewals,notice_on,goal_categories\n")
	rows := []string{
		"Long,2020-02-01,120,2195-01-01:60,,",   // a term to 2200 (the longest validation allows)
		"Old,1990-06-30,120,2000-06-30:60,,",    // ended long ago: its overdue reports stay listed
		"Ending,2024-03-01,,,2026-01-05,",       // terminated, effective in the window
		"Recent,2025-11-20,,,,",                 // its first quarter ends in the window
		"Renewed,2021-01-15,,2024-01-15:24,,",   // its term ends in the window
		"Quarter-day,2023-03-31,,,,",            // anniversary on a quarter's last day
		"Leap,2024-02-29,,2027-02-28:60,,",      // signed on 29 February
		"Long 2,2021-07-01,120,2195-07-01:60,,", // another to 2200
		"Month-only,2023-10,,,,",                // a partial signing date
		"Year-only,2022,,,,",                    // a year-only one
		"Many,2025-01-10,120,2030-01-10:60,,",   // a long ordinary term
		"Same day,2025-01-10,,,,",               // same dates as another: Alliance order
	}
	for _, r := range rows {
		csv.WriteString(r + "outreach-communication\n")
	}
	if resp, raw := postCSV(t, mi, "", []byte(csv.String())); resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), fmt.Sprintf(`"imported":%d,`, len(rows))) {
		t.Fatalf("import: %d %s", resp.StatusCode, raw)
	}
	all, err := mi.List(node.Filter{Limit: node.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range all.Items {
		if i%3 == 0 { // some reports, so some obligations are submitted
			if _, _, err := mi.PutReport(a.ID, "", &schema.Report{Period: "2025-Q3", ReportedOn: schema.MustDate("2025-10-20")}); err != nil && !strings.Contains(err.Error(), "outside") {
				t.Fatal(err)
			}
		}
	}
	const base = "as_of=2026-01-15&from=2025-12-01&to=2026-03-31"
	calendar := func(query string) node.Calendar {
		t.Helper()
		var c node.Calendar
		hubtest.GetJSON(t, mi.URL+"/v1/calendar?"+query, mi.Token, &c)
		return c
	}
	for _, filter := range []string{"", "&kind=report_due", "&state=overdue", "&state=upcoming", "&kind=term_ends"} {
		t.Run("filter"+filter, func(t *testing.T) {
			whole := calendar(base + filter + "&limit=500")
			if whole.NextPageToken != "" || len(whole.Items) != whole.Total {
				t.Fatalf("one page: %d items of %d, next %q", len(whole.Items), whole.Total, whole.NextPageToken)
			}
			paged := []node.CalendarItem{}
			token := ""
			for pages := 0; ; pages++ {
				if pages > whole.Total {
					t.Fatal("the pages do not end")
				}
				c := calendar(base + filter + "&limit=7&page_token=" + token)
				if c.Total != whole.Total || c.Summary != whole.Summary {
					t.Errorf("page %d: total %d summary %+v; the whole: %d %+v", pages, c.Total, c.Summary, whole.Total, whole.Summary)
				}
				paged = append(paged, c.Items...)
				if token = c.NextPageToken; token == "" {
					break
				}
			}
			if diff := cmp.Diff(whole.Items, paged); diff != "" {
				t.Errorf("pages of 7 (-one page +pages):\n%s", diff)
			}
			for i := 1; i < len(whole.Items); i++ {
				a, b := whole.Items[i-1], whole.Items[i]
				ka := fmt.Sprintf("%012d %s %s", a.Date.First().Unix(), a.AllianceID, a.Kind)
				kb := fmt.Sprintf("%012d %s %s", b.Date.First().Unix(), b.AllianceID, b.Kind)
				if kb < ka {
					t.Errorf("item %d (%s) before item %d (%s): out of date, Alliance, kind order", i-1, ka, i, kb)
				}
			}
		})
	}

	// The report items are exactly what the whole term's obligations give.
	whole := calendar(base + "&kind=report_due&limit=500")
	var want []string
	for _, a := range all.Items {
		reports, err := mi.Reports(a.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range schema.ComplianceOf(a, mi.Program(), reports, schema.MustDate("2026-01-15")).Obligations {
			inWindow := !o.DueOn.First().Before(schema.MustDate("2025-12-01").First()) && !o.DueOn.First().After(schema.MustDate("2026-03-31").First())
			if inWindow || o.State == schema.ObligationOverdue {
				want = append(want, a.ID+" "+o.Period+" "+o.State)
			}
		}
	}
	var got []string
	for _, it := range whole.Items {
		got = append(got, it.AllianceID+" "+it.Period+" "+it.State)
	}
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("report items (-whole term +calendar):\n%s", diff)
	}
	if len(got) < 100 {
		t.Errorf("only %d report items; the test wants the long-ago Alliance's overdue history", len(got))
	}
}
