package node_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/schema"
)

// TestReportIfMatch: a report for a new period is created without If-Match; revising a
// period's report needs If-Match with its current rev, as an Alliance's PUT does: missing
// 428 precondition-required, stale 412 precondition-failed (docs/PROTOCOL.md, node
// endpoints). Re-sending the identical report writes nothing and needs none.
func TestReportIfMatch(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	mi := hubtest.StartNode(t, h, "MI")
	code, _, raw := send(t, mi, http.MethodPost, "/v1/alliances", "", `{"participants":[{"name":"Michigan Concrete Association"}],
		"signed_on":"2024-01-10","goals":[{"category":"outreach-communication"}]}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, raw)
	}
	var a schema.Alliance
	hubtest.DecodeJSON(t, raw, &a)
	path := "/v1/alliances/" + a.ID + "/reports"
	q2 := func(reached string) string {
		return `{"period":"2024-Q2","reported_on":"2024-07-15","activities":[{"type":"Conference","reached":` + reached + `}]}`
	}
	revs := map[string]string{} // ETags seen, by step name
	tag := func(step string) func() string { return func() string { return revs[step] } }
	plain := func(s string) func() string { return func() string { return s } }
	steps := []struct {
		name    string
		ifMatch func() string
		body    string
		status  int
		want    []string // in the answer
		wantRev string   // the rev's prefix after a success
	}{
		{"a new period: created without If-Match", plain(""), q2("300"), 201, nil, "1-"},
		{"the same report again: nothing written, no If-Match needed", plain(""), q2("300"), 200, nil, "1-"},
		{"a revision without If-Match", plain(""), q2("350"), 428, []string{"precondition-required", "If-Match is required to revise the report for 2024-Q2"}, ""},
		{"a revision with a stale If-Match", plain(`"1-0123456789"`), q2("350"), 412, []string{"precondition-failed", "you sent 1-0123456789"}, ""},
		{"a revision with the current rev", tag("a new period: created without If-Match"), q2("350"), 200, []string{`"reached":350`}, "2-"},
		{"a revision with the rev it replaced", tag("a new period: created without If-Match"), q2("400"), 412, []string{"precondition-failed"}, ""},
		{"the same report with a stale If-Match", tag("a new period: created without If-Match"), q2("350"), 412, []string{"precondition-failed"}, ""},
		{"a revision with a weak tag of the current rev", func() string { return "W/" + revs["a revision with the current rev"] }, q2("400"), 200, []string{`"reached":400`}, "3-"},
		{"a revision with If-Match *", plain("*"), q2("450"), 200, []string{`"reached":450`}, "4-"},
		{"If-Match for a period with no report yet", plain("*"), `{"period":"2024-Q3","reported_on":"2024-10-15"}`, 412, []string{"precondition-failed", "no report for 2024-Q3 yet"}, ""},
		{"that period created without it", plain(""), `{"period":"2024-Q3","reported_on":"2024-10-15"}`, 201, nil, "1-"},
		{"an invalid revision with the current rev: validation", tag("that period created without it"), `{"period":"2024-Q3","reported_on":"2024-10-15","activities":[{"type":"","reached":1}]}`, 422, []string{`"field":"activities[0].type"`}, ""},
	}
	for _, st := range steps {
		code, etag, raw := send(t, mi, http.MethodPost, path, st.ifMatch(), st.body)
		if code != st.status {
			t.Fatalf("%s: %d %s; want %d", st.name, code, raw, st.status)
		}
		for _, w := range st.want {
			if !strings.Contains(string(raw), w) {
				t.Errorf("%s: answer lacks %s: %s", st.name, w, raw)
			}
		}
		if st.wantRev == "" {
			continue
		}
		var r schema.Report
		hubtest.DecodeJSON(t, raw, &r)
		if !strings.HasPrefix(r.Rev, st.wantRev) || etag != `"`+r.Rev+`"` {
			t.Errorf("%s: rev %s, ETag %s; want %s..., the ETag its rev", st.name, r.Rev, etag, st.wantRev)
		}
		revs[st.name] = etag
	}
	// What the clerks wrote is what is stored: the last accepted revision of each.
	if r, err := mi.Report(a.ID, "2024-Q2"); err != nil || !strings.HasPrefix(r.Rev, "4-") || r.TotalReached() != 450 {
		t.Errorf("stored 2024-Q2: %+v %v", r, err)
	}
}
