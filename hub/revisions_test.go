package hub_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/hubtest"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

// resolvingRecord signs a revision of id that follows prev, with another office, and
// names resolves (sorted) as the competing revisions it ends; its rev is hashed over all
// of it, as a node's resolution is.
func resolvingRecord(t *testing.T, k *auth.Key, program, id, prev, office string, resolves ...string) string {
	t.Helper()
	return record(t, k, program, id, 1, func(a *schema.Alliance, r *schema.Record) {
		a.Office, r.PrevRev, r.Resolves = office, prev, resolves
		body, err := schema.AllianceBody(a)
		if err != nil {
			t.Fatal(err)
		}
		if r.Rev, err = schema.NewRevResolving(prev, body, resolves); err != nil {
			t.Fatal(err)
		}
	})
}

// outcomesOf reads a program's push outcome counts from GET /v1/programs.
func outcomesOf(t *testing.T, h *hubtest.Hub, code string) map[wire.Outcome]uint64 {
	t.Helper()
	var page struct{ Items []hub.ProgramView }
	hubtest.GetJSON(t, h.URL+"/v1/programs", h.Token(t, auth.RoleAnalyst, ""), &page)
	for _, p := range page.Items {
		if p.Code == code {
			return p.Sync.Outcomes
		}
	}
	t.Fatalf("program %s not enrolled", code)
	return nil
}

// TestStaleAndReplayedRevisions (issue 5 item 1): revisions that arrive after a later
// one (an ancestor the hub never saw, a branch a stored resolution already ended) are
// answered stale, stored, counted, and never move the roster back; a replayed batch is
// duplicate, counted, and changes nothing. The counts are on GET /v1/programs and
// /metrics and survive a restart, as does the roster.
func TestStaleAndReplayedRevisions(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	k, push := miPusher(t, h)

	// Record A: rev 1, then rev 3 (whose parent the hub has not seen), then rev 2.
	a := schema.NewID("MI")
	a1 := record(t, k, "MI", a, 1, nil)
	a2 := record(t, k, "MI", a, 1, following(revOf(a1), "Lansing"))
	a3 := record(t, k, "MI", a, 1, following(revOf(a2), "Detroit"))
	// Record B: rev 1, rev 2 on one branch, and a rev 3 that ends the other branch (b2x)
	// before the hub has seen it; b2x then arrives late.
	b := schema.NewID("MI")
	b1 := record(t, k, "MI", b, 1, nil)
	b2 := record(t, k, "MI", b, 1, following(revOf(b1), "Grand Rapids"))
	b2x := record(t, k, "MI", b, 1, following(revOf(b1), "Flint"))
	b3 := resolvingRecord(t, k, "MI", b, revOf(b2), "Grand Rapids", revOf(b2x))

	for _, step := range []struct {
		jws  string
		want wire.Outcome
	}{
		{a1, wire.Accepted}, {a3, wire.Conflict}, {a2, wire.Stale},
		{b1, wire.Accepted}, {b2, wire.Accepted}, {b3, wire.Accepted}, {b2x, wire.Stale},
	} {
		if got := push(step.jws).Results[0].Outcome; got != step.want {
			t.Fatalf("push %s = %s, want %s", revOf(step.jws), got, step.want)
		}
	}
	// Every revision sent again: duplicate, whatever it was answered the first time.
	for _, jws := range []string{a1, a2, a3, b1, b2, b2x, b3} {
		if got := push(jws).Results[0].Outcome; got != wire.Duplicate {
			t.Errorf("%s sent again = %s, want duplicate", revOf(jws), got)
		}
	}
	// A whole batch replayed byte for byte (a node that lost the answer, or someone
	// who recorded the request): every record duplicate, the checkpoint where it was.
	c := schema.NewID("MI")
	c1 := record(t, k, "MI", c, 1, nil)
	c2 := record(t, k, "MI", c, 2, following(revOf(c1), "Saginaw"))
	signed := batch(t, k, "MI", time.Now(), c1, c2)
	token := hubtest.Token(t, k, auth.RoleProgram, "MI")
	var first wire.PushResponse
	for i, want := range []wire.Outcome{wire.Accepted, wire.Duplicate, wire.Duplicate} {
		resp, body := pushRaw(t, h, token, wire.MediaTypeJOSE, signed)
		pr := wantPushed(t, resp, body, want)
		if i == 0 {
			first = pr
		} else if pr.Checkpoint != first.Checkpoint {
			t.Errorf("replay %d: checkpoint %d, want %d as before", i, pr.Checkpoint, first.Checkpoint)
		}
	}

	want := map[wire.Outcome]uint64{wire.Accepted: 6, wire.Conflict: 1, wire.Stale: 2, wire.Duplicate: 11, wire.Rejected: 0}
	check := func(t *testing.T) {
		t.Helper()
		if got := outcomesOf(t, h, "MI"); !cmp.Equal(want, got) {
			t.Errorf("outcomes (-want +got):\n%s", cmp.Diff(want, got))
		}
		m := hubtest.Scrape(t, h.URL)
		for o, n := range want {
			if got, ok := m.Value("alliancehub_hub_records_pushed_total", "program", "MI", "outcome", string(o)); !ok || got != float64(n) {
				t.Errorf("metric records_pushed_total{outcome=%s} = %v (%v), want %d", o, got, ok, n)
			}
		}
		// Neither stale revision moved its record back, and each closed its history
		// into one line: no conflict remains.
		byID := map[string]wire.RosterItem{}
		for _, it := range roster(t, h, "").Items {
			byID[it.ID] = it
		}
		if it := byID[a]; it.Rev != revOf(a3) || it.Office != "Detroit" || it.Conflict {
			t.Errorf("record A on the roster: rev %s office %q conflict %v; want rev 3 (Detroit), not conflicted", it.Rev, it.Office, it.Conflict)
		}
		if it := byID[b]; it.Rev != revOf(b3) || it.Office != "Grand Rapids" || it.Conflict {
			t.Errorf("record B on the roster: rev %s office %q conflict %v; want the resolution, not conflicted", it.Rev, it.Office, it.Conflict)
		}
		// Stale revisions are stored: the history shows them, as no leaf.
		var e hub.RosterEntry
		hubtest.GetJSON(t, h.URL+"/v1/roster/"+b, h.Token(t, auth.RoleAnalyst, ""), &e)
		leaves := map[string]bool{}
		for _, r := range e.Revisions {
			leaves[r.Rev] = r.Leaf
		}
		wantLeaves := map[string]bool{revOf(b1): false, revOf(b2): false, revOf(b2x): false, revOf(b3): true}
		if !cmp.Equal(wantLeaves, leaves) {
			t.Errorf("record B's revisions (rev: leaf) (-want +got):\n%s", cmp.Diff(wantLeaves, leaves))
		}
	}
	check(t)
	h.Restart(t)
	check(t)
}

// TestRevisionHashRecomputed (issue 5 item 1, bad input "a hash mismatch"): the hub
// computes every revision's N-hash again from its previous revision, its body and what it
// resolves, and rejects one that does not match with the reason, storing nothing of it.
func TestRevisionHashRecomputed(t *testing.T) {
	h := hubtest.StartHub(t, nil)
	k, push := miPusher(t, h)
	id := schema.NewID("MI")
	rev1 := record(t, k, "MI", id, 1, nil)
	if got := push(rev1).Results[0].Outcome; got != wire.Accepted {
		t.Fatalf("rev 1 = %s", got)
	}
	rev2 := record(t, k, "MI", id, 1, following(revOf(rev1), "Lansing"))
	_, hash, _ := schema.ParseRev(revOf(rev2))
	other := record(t, k, "MI", id, 1, following(revOf(rev1), "Detroit"))
	cases := []struct {
		name   string
		record string
	}{
		{"a hash of other content", record(t, k, "MI", id, 1, func(a *schema.Alliance, r *schema.Record) {
			a.Office, r.PrevRev, r.Rev = "Lansing", revOf(rev1), "2-"+strings.Repeat("ab", 32)
		})},
		{"the right hash under another generation", record(t, k, "MI", id, 1, func(a *schema.Alliance, r *schema.Record) {
			a.Office, r.PrevRev, r.Rev = "Lansing", revOf(rev1), "3-"+hash
		})},
		{"another revision's rev", record(t, k, "MI", id, 1, func(a *schema.Alliance, r *schema.Record) {
			a.Office, r.PrevRev, r.Rev = "Kalamazoo", revOf(rev1), revOf(rev2)
		})},
		{"a first revision with a generation of 2", record(t, k, "MI", schema.NewID("MI"), 1, func(_ *schema.Alliance, r *schema.Record) {
			r.Rev = "2-" + hash
		})},
		// What a revision resolves is part of its hash: naming a loser afterwards, or
		// leaving it out, changes the rev.
		{"resolves not hashed", record(t, k, "MI", id, 1, func(a *schema.Alliance, r *schema.Record) {
			a.Office, r.PrevRev, r.Resolves = "Lansing", revOf(rev1), []string{revOf(other)}
		})},
		{"malformed rev", record(t, k, "MI", id, 1, func(a *schema.Alliance, r *schema.Record) {
			a.Office, r.PrevRev, r.Rev = "Lansing", revOf(rev1), "two-"+hash
		})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := roster(t, h, "")
			outcomes := outcomesOf(t, h, "MI")
			r := push(tc.record).Results[0]
			if r.Outcome != wire.Rejected || !strings.Contains(r.Reason, "rev") {
				t.Errorf("result %+v, want rejected with a reason about the rev", r)
			}
			if got := roster(t, h, ""); !cmp.Equal(before, got) {
				t.Errorf("the roster changed (-before +after):\n%s", cmp.Diff(before, got))
			}
			var e hub.RosterEntry
			hubtest.GetJSON(t, h.URL+"/v1/roster/"+id, h.Token(t, auth.RoleAnalyst, ""), &e)
			if len(e.Revisions) != 1 {
				t.Errorf("record has %d revisions stored, want 1", len(e.Revisions))
			}
			outcomes[wire.Rejected]++
			if got := outcomesOf(t, h, "MI"); !cmp.Equal(outcomes, got) {
				t.Errorf("outcomes (-want +got):\n%s", cmp.Diff(outcomes, got))
			}
		})
	}
	// The right revision goes in.
	if got := push(rev2).Results[0].Outcome; got != wire.Accepted {
		t.Errorf("the correct rev 2 = %s, want accepted", got)
	}
	resp, body := hubtest.Do(t, http.MethodGet, h.URL+"/v1/roster/"+id, h.Token(t, auth.RoleAnalyst, ""), nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), revOf(rev2)) {
		t.Errorf("entry after rev 2: %d %s", resp.StatusCode, body)
	}
}
