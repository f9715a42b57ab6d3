package node_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/node"
	"github.com/alliancehub/alliancehub/schema"
)

// calendarCSV is n MIOSHA Alliances (quarterly and annual reports, seed 004); every other
// one is as long as validation allows: signed on signedLong for the longest initial term
// (120 months) and renewed in 2195 for five years, so its term runs to 2200, the last
// year a date may carry. The rest are ordinary three-year agreements.
func calendarCSV(n int, signedLong string) string {
	var b strings.Builder
	b.WriteString("participant,participant_type,signed_on,term_months,renewals,goal_categories\n")
	for i := range n {
		if i%2 == 0 {
			fmt.Fprintf(&b, "Partner %d,association,%s,120,2195-01-01:60,outreach-communication\n", i, signedLong)
			continue
		}
		fmt.Fprintf(&b, "Partner %d,association,%d-%02d-15,,,outreach-communication\n", i, 2022+i%4, 1+i%12)
	}
	return b.String()
}

// BenchmarkCalendar1000 measures GET /v1/calendar over HTTP on a node holding 1,000
// MIOSHA Alliances, half of them with terms running to 2200, and a report for every
// tenth: one default page (the next 90 days, 50 items) with the whole program's summary
// and total. "terms-to-2200" signs the long ones in 2020; "history-from-1970" in 1970,
// the earliest date, so each also has 56 years of quarterly and annual reports overdue,
// every one of which the calendar lists (overdue whatever the window).
func BenchmarkCalendar1000(b *testing.B) {
	for _, bc := range []struct{ name, signedLong string }{
		{"terms-to-2200", "2020-02-01"},
		{"history-from-1970", "1970-01-01"},
	} {
		b.Run(bc.name, func(b *testing.B) { benchmarkCalendar(b, calendarCSV(1000, bc.signedLong)) })
	}
}

func benchmarkCalendar(b *testing.B, file string) {
	const alliances = 1000
	h := hubtest.StartHub(b, nil)
	mi := hubtest.StartNode(b, h, "MI")
	if resp, raw := postCSV(b, mi, "", []byte(file)); resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), fmt.Sprintf(`"imported":%d,`, alliances)) {
		b.Fatalf("import: %d %.300s", resp.StatusCode, raw)
	}
	page, err := mi.List(node.Filter{Limit: node.MaxPageSize})
	if err != nil {
		b.Fatal(err)
	}
	for i, a := range page.Items {
		if i%5 != 0 {
			continue
		}
		r := &schema.Report{Period: "2025-Q3", ReportedOn: schema.MustDate("2025-10-20"),
			Meetings: []schema.Meeting{{HeldOn: schema.MustDate("2025-08-01")}}}
		if _, _, err := mi.PutReport(a.ID, "", r); err != nil && !strings.Contains(err.Error(), "outside the Alliance's term") {
			b.Fatal(err)
		}
	}
	url := mi.URL + "/v1/calendar?as_of=2026-01-15"
	var cal node.Calendar
	for b.Loop() {
		resp, raw := hubtest.Do(b, http.MethodGet, url, mi.Token, nil)
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("calendar: %d %s", resp.StatusCode, raw)
		}
		b.StopTimer()
		hubtest.DecodeJSON(b, raw, &cal)
		b.StartTimer()
	}
	if cal.Summary.Alliances != alliances || len(cal.Items) == 0 {
		b.Fatalf("calendar summary %+v with %d items; want all %d Alliances", cal.Summary, len(cal.Items), alliances)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/calendar")
	b.ReportMetric(float64(cal.Total), "items")
}
