package hub

import (
	"slices"
	"testing"

	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

// alliance is a signed Alliance of program with one participant.
func alliance(id, program, name, signed string, months int) *schema.Alliance {
	a := &schema.Alliance{ID: id, Rev: "1-aa", Program: program, Status: schema.StatusActive, TermMonths: months,
		Participants: []schema.Participant{{Name: name}}, Goals: []schema.Goal{}}
	if signed != "" {
		a.SignedOn = schema.MustDate(signed)
	}
	a.ExpiresOn = a.DerivedExpiry()
	if signed == "" {
		a.Status = schema.StatusDraft
	}
	return a
}

// TestLinkRule: a participant name matches and the terms overlap, partial dates counting
// as their whole month or year; the discrepancies name what differs.
func TestLinkRule(t *testing.T) {
	fed := alliance("FED-a", "FED", "American Society of Safety Professionals", "2024-05-14", 24) // to 2026-05-14
	for _, tc := range []struct {
		name       string
		other      *schema.Alliance
		wantLinked bool
		wantFields []string
		wantDays   int // of signed_on
	}{
		{"signed 3 days later", alliance("MI-b", "MI", "ASSP", "2024-05-17", 24), true, []string{"signed_on", "expires_on"}, 3},
		{"same day and term", alliance("MI-b", "MI", "ASSP", "2024-05-14", 24), true, nil, 0},
		{"month only", alliance("MI-b", "MI", "ASSP", "2024-05", 24), true, []string{"signed_on", "expires_on"}, 0},
		{"year only, ends within the federal term", alliance("MI-b", "MI", "ASSP", "2022", 36), true, []string{"signed_on", "term_months", "expires_on"}, 500},
		{"signed the day the federal term ends", alliance("MI-b", "MI", "ASSP", "2026-05-14", 36), true, []string{"signed_on", "term_months", "expires_on"}, 730},
		{"signed the day after", alliance("MI-b", "MI", "ASSP", "2026-05-15", 36), false, []string{"signed_on", "term_months", "expires_on"}, 731},
		{"ended the day before", alliance("MI-b", "MI", "ASSP", "2021-05-13", 36), false, []string{"signed_on", "term_months", "expires_on"}, 1097},
		{"a chapter is not the society", alliance("MI-b", "MI", "Michigan Chapter, ASSP", "2024-05-14", 24), false, []string{"participants"}, 0},
		{"a draft has no term", alliance("MI-b", "MI", "ASSP", "", 36), false, []string{"signed_on", "term_months", "expires_on", "status"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, linked := compareAlliances(fed, tc.other)
			if linked != tc.wantLinked {
				t.Errorf("linked = %v, want %v", linked, tc.wantLinked)
			}
			var fields []string
			days := 0
			for _, d := range l.Discrepancies {
				fields = append(fields, d.Field)
				if d.Field == "signed_on" {
					days = d.Days
				}
			}
			if diff := cmp.Diff(tc.wantFields, fields); diff != "" {
				t.Errorf("discrepancies (-want +got):\n%s", diff)
			}
			if days != tc.wantDays {
				t.Errorf("signed_on days = %d, want %d", days, tc.wantDays)
			}
			if l2, _ := compareAlliances(tc.other, fed); !cmp.Equal(l, l2) {
				t.Errorf("comparing the other way round differs:\n%s", cmp.Diff(l, l2))
			}
		})
	}
}

// TestRelink: links come and go with the records' revisions; a program's own records
// are never linked to each other; a decided link stays while both records are shown.
func TestRelink(t *testing.T) {
	db, err := newStateDB(benchCatalog(t))
	if err != nil {
		t.Fatal(err)
	}
	txn := db.Txn(true)
	for _, code := range []string{"FED", "MI", "NV"} {
		if err := txn.Insert(tablePrograms, &programState{Code: code}); err != nil {
			t.Fatal(err)
		}
	}
	txn.Commit()
	put := func(a *schema.Alliance) {
		t.Helper()
		txn := db.Txn(true)
		e := &entry{ID: a.ID, Program: a.Program, Kind: schema.KindAlliance, AllianceID: a.ID,
			Winner: &revision{RecordID: a.ID, Rev: a.Rev, Kind: schema.KindAlliance, Alliance: a}}
		if err := txn.Insert(tableRecords, e); err != nil {
			t.Fatal(err)
		}
		if err := relinkTxn(txn, a.ID); err != nil {
			t.Fatal(err)
		}
		txn.Commit()
	}
	links := func() []string {
		t.Helper()
		read := db.Txn(false)
		it, err := read.Get(tableLinks, indexID)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for raw := it.Next(); raw != nil; raw = it.Next() {
			r := raw.(*linkRow)
			out = append(out, r.RecordIDs[0]+"~"+r.RecordIDs[1]+":"+r.State)
			// What the row shows is what comparing the two winners shows.
			got, err := linkOf(read, r)
			if err != nil {
				t.Fatal(err)
			}
			ea, _ := entryOf(read, r.RecordIDs[0])
			eb, _ := entryOf(read, r.RecordIDs[1])
			want, _ := compareAlliances(eb.Winner.Alliance, ea.Winner.Alliance)
			want.State, want.Decision = got.State, got.Decision
			if diff := cmp.Diff(*want, got); diff != "" {
				t.Errorf("link %s shown (-compared +shown):\n%s", r.ID, diff)
			}
		}
		slices.Sort(out)
		return out
	}
	put(alliance("FED-1", "FED", "National Utility Contractors Association (NUCA)", "2025-02-12", 24))
	put(alliance("FED-2", "FED", "NUCA", "2025-06-01", 24)) // the same program: never linked
	put(alliance("MI-1", "MI", "NUCA", "2025-02-15", 36))
	put(alliance("NV-1", "NV", "Nevada Contractors Association", "2025-01-15", 24))
	put(alliance("NV-2", "NV", "A", "2025-01-15", 24)) // no name to compare: no keys
	put(alliance("NV-3", "NV", "NUCA", "", 24))        // a draft: no term
	want := []string{"FED-1~MI-1:proposed", "FED-2~MI-1:proposed"}
	if diff := cmp.Diff(want, links()); diff != "" {
		t.Fatalf("links (-want +got):\n%s", diff)
	}
	// Rejected by DCSP, then the MI record no longer names NUCA: the undecided link goes,
	// the decided one stays.
	txn = db.Txn(true)
	d := &linkDecision{ID: LinkID("FED-1", "MI-1"), RecordIDs: []string{"FED-1", "MI-1"}, LinkDecision: wire.LinkDecision{State: wire.LinkRejected}}
	if err := txn.Insert(tableLinkDecisions, d); err != nil {
		t.Fatal(err)
	}
	txn.Commit()
	put(alliance("MI-1", "MI", "Michigan Infrastructure & Transportation Association", "2025-02-15", 36))
	if diff := cmp.Diff([]string{"FED-1~MI-1:rejected"}, links()); diff != "" {
		t.Errorf("links (-want +got):\n%s", diff)
	}
	// Rebuilding from scratch gives the same links.
	txn = db.Txn(true)
	if _, err := txn.DeleteAll(tableLinks, indexID); err != nil {
		t.Fatal(err)
	}
	if _, err := txn.DeleteAll(tableNameIndex, indexID); err != nil {
		t.Fatal(err)
	}
	if err := relinkAllTxn(txn, nil); err != nil {
		t.Fatal(err)
	}
	txn.Commit()
	if diff := cmp.Diff([]string{"FED-1~MI-1:rejected"}, links()); diff != "" {
		t.Errorf("links after rebuilding (-want +got):\n%s", diff)
	}

	// The matching names at different places in the two lists: the link shows the
	// names that match, from the pairs its row keeps (links() compares it).
	a := alliance("FED-7", "FED", "Roofing Alliance of America", "2025-03-01", 24)
	a.Participants = append(a.Participants, schema.Participant{Name: "Ohio Safety Council"})
	b := alliance("NV-7", "NV", "Reno Builders Exchange", "2025-04-01", 24)
	b.Participants = append(b.Participants, schema.Participant{Name: "Roofing Alliance of America"})
	put(a)
	put(b)
	if diff := cmp.Diff([]string{"FED-1~MI-1:rejected", "FED-7~NV-7:proposed"}, links()); diff != "" {
		t.Errorf("links (-want +got):\n%s", diff)
	}
	read := db.Txn(false)
	raw, err := read.First(tableLinks, indexID, LinkID("FED-7", "NV-7"))
	if err != nil || raw == nil {
		t.Fatalf("link FED-7~NV-7: %v %v", raw, err)
	}
	l, err := linkOf(read, raw.(*linkRow))
	if err != nil {
		t.Fatal(err)
	}
	wantMatched := []map[string]string{{"FED-7": "Roofing Alliance of America", "NV-7": "Roofing Alliance of America"}}
	if diff := cmp.Diff(wantMatched, l.Matched); diff != "" {
		t.Errorf("matched (-want +got):\n%s", diff)
	}
	if len(l.Discrepancies) == 0 || l.Discrepancies[len(l.Discrepancies)-1].Message != "participants named in one record only" {
		t.Errorf("discrepancies %+v: want the participants named in one record only", l.Discrepancies)
	}
}

// TestRepresents: a linked group counts as many Alliances as the program with the most
// records in it holds, represented by the federal records when FED holds the most,
// else by the lowest program code's.
func TestRepresents(t *testing.T) {
	for _, tc := range []struct {
		name  string
		group []string
		want  []string
	}{
		{"alone", []string{"MI-1"}, []string{"MI-1"}},
		{"federal and state", []string{"FED-1", "MI-1"}, []string{"FED-1"}},
		{"federal and two states", []string{"FED-1", "MI-1", "NV-1"}, []string{"FED-1"}},
		{"two states", []string{"MI-1", "NV-1"}, []string{"MI-1"}},
		{"two federal and one state", []string{"FED-1", "FED-2", "MI-1"}, []string{"FED-1", "FED-2"}},
		{"one federal and two of a state", []string{"FED-1", "NV-1", "NV-2"}, []string{"NV-1", "NV-2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			records := map[string]*entry{}
			for _, id := range tc.group {
				p, _ := schema.ProgramOfID(id)
				records[id] = &entry{ID: id, Program: p}
			}
			var got []string
			for _, id := range tc.group {
				if represents(records[id], tc.group, records) {
					got = append(got, id)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("counted (-want +got):\n%s", diff)
			}
		})
	}
}

// benchLinkPair is two Alliances of three participants each, one name shared (in two
// spellings), for the link benchmarks.
func benchLinkPair() (a, c *schema.Alliance) {
	a = alliance("FED-1", "FED", "Associated General Contractors of Texas, Chapter 517", "2024-02-12", 24)
	c = alliance("MI-1", "MI", "AGC of Texas, Chapter 517", "2024-03-01", 36)
	for _, x := range []*schema.Alliance{a, c} {
		x.Participants = append(x.Participants,
			schema.Participant{Name: "Tacoma Tree Care Cooperative No. 12 " + x.Program},
			schema.Participant{Name: "University of Iowa Safety Extension, Campus " + x.Program})
	}
	return a, c
}

// BenchmarkCompareAlliances is what a link cost to show before its row kept the
// matching participants: the matcher's comparison of two Alliances, names read again.
func BenchmarkCompareAlliances(b *testing.B) {
	a, c := benchLinkPair()
	for b.Loop() {
		if _, ok := compareAlliances(a, c); !ok {
			b.Fatal("no link")
		}
	}
}

// BenchmarkLinkFrom is what showing a link costs now (linkOf): the link made from the
// matching participants its row keeps, without comparing names again.
func BenchmarkLinkFrom(b *testing.B) {
	a, c := benchLinkPair()
	pairs, ok := linkRule(a, c, nil, nil)
	if !ok {
		b.Fatal("no link")
	}
	for b.Loop() {
		if l := linkFrom(a, c, pairs); len(l.Matched) != 1 {
			b.Fatalf("matched %v", l.Matched)
		}
	}
}
