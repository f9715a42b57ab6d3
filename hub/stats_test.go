package hub_test

import (
	"net/http"
	"testing"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

// TestStatsCountGroupsOnce (issue 5 items 3 and 4): the national totals of GET /v1/stats,
// every breakdown exact, with a federal Alliance that both State Plans also record (a
// group of three, linked pairwise, counted once, under FED), an Alliance two State Plans
// record (counted once, under the lower program code) and Alliances of one program.
// DCSP's rejections split groups: a rejected link no longer joins its two records, but
// records still joined through a third stay one group.
func TestStatsCountGroupsOnce(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	fed := hubtest.StartNode(t, h, "FED")
	mi := hubtest.StartNode(t, h, "MI")
	nv := hubtest.StartNode(t, h, "NV")
	fNUCA := create(t, fed, fedNUCA) // 2025-02-12 to 2027-02-12, training and outreach
	mNUCA := create(t, mi, miNUCA)   // 2025-02-15 to 2028-02-15
	nNUCA := create(t, nv, `{"participants":[{"name":"National Utility Contractors Assn."}],"goals":[{"category":"training-education"}],"signed_on":"2025-03-01"}`)
	mASSP := create(t, mi, `{"participants":[{"name":"ASSP"}],"goals":[{"category":"outreach-communication"}],"signed_on":"2024-06-01"}`)
	nASSP := create(t, nv, `{"participants":[{"name":"American Society of Safety Professionals"}],"goals":[{"category":"safety-dialogue"}],"signed_on":"2024-06-10"}`)
	create(t, mi, miAGC) // 2024-05-14 to 2027-05-14, training and outreach
	create(t, nv, nvNCA) // 2025-01-15 to 2027-01-15, dialogue and training
	for _, n := range []*hubtest.Node{fed, mi, nv} {
		syncNode(t, n)
	}
	analyst := h.Token(t, auth.RoleAnalyst, "")
	var links hub.LinkPage
	hubtest.GetJSON(t, h.URL+"/v1/links", analyst, &links)
	if links.Total != 4 {
		t.Fatalf("links = %d, want 4 (the three NUCA pairs and the ASSP pair): %+v", links.Total, links.Items)
	}

	stats := func(t *testing.T, asOf string) hub.Stats {
		t.Helper()
		var s hub.Stats
		hubtest.GetJSON(t, h.URL+"/v1/stats?as_of="+asOf, analyst, &s)
		return s
	}
	decide := func(t *testing.T, a, b schema.Alliance) {
		t.Helper()
		resp, body := hubtest.Do(t, http.MethodPost, h.URL+"/v1/links/"+hub.LinkID(a.ID, b.ID)+"/reject", analyst, map[string]string{"note": "not the same Alliance"})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("reject: %d %s", resp.StatusCode, body)
		}
	}
	levels := func(national, state int) map[string]int {
		return map[string]int{"national": national, "regional": 0, "area": 0, "state": state}
	}
	standings := func(active, expiring, expired int) map[string]int {
		return map[string]int{"draft": 0, "active": active, "expiring": expiring, "expired": expired, "concluded": 0, "terminated": 0, "ambassador": 0}
	}
	cats := func(training, outreach, dialogue int) map[string]int {
		return map[string]int{"awareness": 0, "training": training, "outreach": outreach, "dialogue": dialogue}
	}
	for _, step := range []struct {
		name   string
		before func(t *testing.T)
		want   hub.Stats
	}{
		{name: "every link proposed", want: hub.Stats{
			// Alliances: NUCA (FED's record), ASSP (MI's), AGC, NCA.
			Total: 4, Records: 7, Duplicates: 3, LinkedGroups: 2,
			ByProgram: map[string]int{"FED": 1, "MI": 2, "NV": 1}, RecordsByProgram: map[string]int{"FED": 1, "MI": 3, "NV": 3},
			// On 2026-12-01 FED's NUCA (ends 2027-02-12) and NCA (2027-01-15) are expiring.
			ByLevel: levels(1, 3), ByStanding: standings(2, 2, 0), ByCategory: cats(3, 3, 1),
			ByYearSigned: map[string]int{"2024": 2, "2025": 2},
		}},
		{name: "the ASSP pair rejected", before: func(t *testing.T) { decide(t, mASSP, nASSP) }, want: hub.Stats{
			Total: 5, Records: 7, Duplicates: 2, LinkedGroups: 1,
			ByProgram: map[string]int{"FED": 1, "MI": 2, "NV": 2}, RecordsByProgram: map[string]int{"FED": 1, "MI": 3, "NV": 3},
			// NV's ASSP record (ended 2026-06-10) counts now, expired.
			ByLevel: levels(1, 4), ByStanding: standings(2, 2, 1), ByCategory: cats(3, 3, 2),
			ByYearSigned: map[string]int{"2024": 3, "2025": 2},
		}},
		// FED's and MI's NUCA records are still joined through NV's.
		{name: "FED-MI NUCA rejected", before: func(t *testing.T) { decide(t, fNUCA, mNUCA) }, want: hub.Stats{
			Total: 5, Records: 7, Duplicates: 2, LinkedGroups: 1,
			ByProgram: map[string]int{"FED": 1, "MI": 2, "NV": 2}, RecordsByProgram: map[string]int{"FED": 1, "MI": 3, "NV": 3},
			ByLevel: levels(1, 4), ByStanding: standings(2, 2, 1), ByCategory: cats(3, 3, 2),
			ByYearSigned: map[string]int{"2024": 3, "2025": 2},
		}},
		// Now MI's NUCA record stands alone (active to 2028-02-15, training and outreach).
		{name: "MI-NV NUCA rejected", before: func(t *testing.T) { decide(t, mNUCA, nNUCA) }, want: hub.Stats{
			Total: 6, Records: 7, Duplicates: 1, LinkedGroups: 1,
			ByProgram: map[string]int{"FED": 1, "MI": 3, "NV": 2}, RecordsByProgram: map[string]int{"FED": 1, "MI": 3, "NV": 3},
			ByLevel: levels(1, 5), ByStanding: standings(3, 2, 1), ByCategory: cats(4, 4, 2),
			ByYearSigned: map[string]int{"2024": 3, "2025": 3},
		}},
	} {
		t.Run(step.name, func(t *testing.T) {
			if step.before != nil {
				step.before(t)
			}
			step.want.AsOf = schema.MustDate("2026-12-01")
			got := stats(t, "2026-12-01")
			if diff := cmp.Diff(step.want, got); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
			// The roster itself lists every record: the totals are where groups count once.
			if r := roster(t, h, "?as_of=2026-12-01"); r.Total != 7 {
				t.Errorf("roster total = %d, want every record (7)", r.Total)
			}
		})
	}
}
