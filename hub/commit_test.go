package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/google/go-cmp/cmp"
)

// groupPrograms are the programs the group commit tests push for, each defined as
// Nevada's program is.
var groupPrograms = []string{"S01", "S02", "S03"}

// groupHub is a hub in dir with groupPrograms enrolled, and their keys.
func groupHub(t *testing.T, dir string, keys map[string]*auth.Key) *Hub {
	t.Helper()
	builtin, err := schema.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	nv, _ := builtin.Get("NV")
	var defs []schema.Program
	for _, code := range groupPrograms {
		d := *nv
		d.Code, d.Name = code, "State Plan "+code
		defs = append(defs, d)
	}
	raw, _ := json.Marshal(defs)
	file := filepath.Join(t.TempDir(), "programs.json")
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cat, err := schema.LoadCatalog(file)
	if err != nil {
		t.Fatal(err)
	}
	hubKey, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{Key: hubKey, DataDir: dir, Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	for _, code := range groupPrograms {
		jwk, _ := json.Marshal(keys[code].PublicJWK())
		if _, _, err := h.Enroll(Enrollment{Code: code, JWK: jwk}); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func groupKeys(t *testing.T) map[string]*auth.Key {
	t.Helper()
	keys := map[string]*auth.Key{}
	for _, code := range groupPrograms {
		k, err := auth.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		keys[code] = k
	}
	return keys
}

// groupBatch is a signed batch of program's records seqFrom.. (already signed records).
func groupBatch(t *testing.T, k *auth.Key, program, id string, seqFrom uint64, records ...string) []byte {
	t.Helper()
	b := &wire.Batch{Program: program, BatchID: id, SeqFrom: seqFrom, SeqTo: seqFrom + uint64(len(records)) - 1,
		IssuedAt: time.Now(), Records: records}
	jws, err := wire.SignBatch(k, b)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(jws)
}

// newRecords signs n new records of program numbered from seqFrom.
func newRecords(t *testing.T, h *Hub, k *auth.Key, program string, seqFrom uint64, n int) []string {
	t.Helper()
	def, _ := h.catalog.Get(program)
	var out []string
	for i := range n {
		out = append(out, ingestRecord(t, k, def, seqFrom+uint64(i)))
	}
	return out
}

// hubState is what a push may change: the journal's last entry and programs, and memdb's
// programs, records, revisions and feed head.
type hubState struct {
	LastSeq   uint64
	Journaled map[string]string // bucket programs, as stored
	Programs  map[string]programState
	Records   map[string]string // record id: winning rev
	Revisions []string
	Head      uint64
}

func stateOf(t *testing.T, h *Hub) hubState {
	t.Helper()
	s := hubState{Journaled: map[string]string{}, Programs: map[string]programState{}, Records: map[string]string{}}
	err := h.journal.View(func(tx *journal.Tx) error {
		s.LastSeq = tx.LastSeq()
		return tx.ForEach(bucketPrograms, func(k string, v []byte) error {
			s.Journaled[k] = string(v)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	txn := h.db.Txn(false)
	it, err := txn.Get(tablePrograms, indexID)
	if err != nil {
		t.Fatal(err)
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		p := *raw.(*programState)
		p.Keys, p.pullSaved = nil, time.Time{} // a push changes neither
		s.Programs[p.Code] = p
	}
	if it, err = txn.Get(tableRecords, indexID); err != nil {
		t.Fatal(err)
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		e := raw.(*entry)
		s.Records[e.ID] = e.Winner.Rev
		for _, rv := range e.Revs {
			s.Revisions = append(s.Revisions, fmt.Sprintf("%s %s %d", rv.RecordID, rv.Rev, rv.HubSeq))
		}
	}
	s.Head, _, err = head(txn)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// stateDiff is cmp.Diff of two states.
func stateDiff(a, b hubState) string { return cmp.Diff(a, b, cmp.AllowUnexported(programState{})) }

// checked runs a push's checks on body as program's node.
func checked(t *testing.T, h *Hub, program string, body []byte) *pendingPush {
	t.Helper()
	var b wire.Batch
	pb, err := h.checkBatch(&auth.Claims{Role: auth.RoleProgram, Program: program}, body, &b)
	if err != nil {
		t.Fatalf("check %s's batch: %v", program, err)
	}
	return pb
}

// TestGroupCommitFails: when a group's journal commit fails, every batch in it gets the
// error, neither the journal nor memdb changes, and each batch sent again is stored as
// if the failed commit had never been.
func TestGroupCommitFails(t *testing.T) {
	keys := groupKeys(t)
	h := groupHub(t, filepath.Join(t.TempDir(), "hub"), keys)
	bodies := map[string][]byte{}
	for _, code := range groupPrograms {
		bodies[code] = groupBatch(t, keys[code], code, "b-"+code, 1, newRecords(t, h, keys[code], code, 1, 3)...)
	}
	before := stateOf(t, h)

	// The commit fails after the group wrote everything into the journal transaction,
	// as a failed fsync does: journal.ErrNotDurable is the worst case.
	failing := func(fn func(*journal.Tx) error) error {
		return h.journal.Update(func(tx *journal.Tx) error {
			if err := fn(tx); err != nil {
				return err
			}
			if tx.LastSeq() != before.LastSeq+9 {
				t.Errorf("the group appended %d entries, want 9", tx.LastSeq()-before.LastSeq)
			}
			return fmt.Errorf("injected: %w", journal.ErrNotDurable)
		})
	}
	var group []*pendingPush
	for _, code := range groupPrograms {
		group = append(group, checked(t, h, code, bodies[code]))
	}
	h.applyGroup(group, failing)
	for i, pb := range group {
		if pb.resp != nil || !errors.Is(pb.err, journal.ErrNotDurable) || !strings.Contains(pb.err.Error(), pb.batch.BatchID) {
			t.Errorf("batch %d of the failed group: answer %+v, error %v; want no answer and the commit's error naming the batch", i, pb.resp, pb.err)
		}
	}
	if diff := stateDiff(before, stateOf(t, h)); diff != "" {
		t.Errorf("a failed group commit changed the hub (-before +after):\n%s", diff)
	}

	// Sent again, each batch is stored as on a hub that never saw it.
	caller := func(code string) *auth.Claims { return &auth.Claims{Role: auth.RoleProgram, Program: code} }
	for _, code := range groupPrograms {
		resp, err := h.Push(caller(code), bodies[code])
		if err != nil {
			t.Fatalf("%s sent again: %v", code, err)
		}
		for _, r := range resp.Results {
			if r.Outcome != wire.Accepted {
				t.Errorf("%s sent again: record %s %s, want accepted", code, r.ID, r.Outcome)
			}
		}
		if resp.Checkpoint != 3 {
			t.Errorf("%s sent again: checkpoint %d, want 3", code, resp.Checkpoint)
		}
	}
	if after := stateOf(t, h); after.LastSeq != before.LastSeq+9 || after.Head != after.LastSeq {
		t.Errorf("journal at %d (feed head %d) after 9 records stored from %d", after.LastSeq, after.Head, before.LastSeq)
	}
}

// TestGroupCommitDropsABatch: a batch of a group that cannot be applied gets its own
// error; the group is applied again without it, the others stored once each, in order.
func TestGroupCommitDropsABatch(t *testing.T) {
	keys := groupKeys(t)
	h := groupHub(t, filepath.Join(t.TempDir(), "hub"), keys)
	var group []*pendingPush
	for _, code := range groupPrograms {
		group = append(group, checked(t, h, code, groupBatch(t, keys[code], code, "b-"+code, 1, newRecords(t, h, keys[code], code, 1, 3)...)))
	}
	// A batch of a program that is not enrolled fails after the first batch was applied.
	bad := *group[0]
	bad.program, bad.batch = "ZZ", &wire.Batch{BatchID: "b-ZZ"}
	group = slices.Insert(group, 1, &bad)
	h.applyGroup(group, h.journal.Update)

	if !errors.Is(bad.err, ErrNotEnrolled) || bad.resp != nil {
		t.Errorf("the bad batch: answer %+v, error %v; want ErrNotEnrolled", bad.resp, bad.err)
	}
	var seqs []uint64
	for _, pb := range slices.Delete(group, 1, 2) {
		if pb.err != nil {
			t.Fatalf("batch %s: %v", pb.batch.BatchID, pb.err)
		}
		for _, r := range pb.resp.Results {
			if r.Outcome != wire.Accepted {
				t.Errorf("batch %s: record %s %s", pb.batch.BatchID, r.ID, r.Outcome)
			}
		}
		for _, rv := range pb.revs {
			seqs = append(seqs, rv.HubSeq)
		}
	}
	s := stateOf(t, h)
	if want := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9}; !slices.Equal(seqs, want) || s.LastSeq != 9 || s.Head != 9 || len(s.Revisions) != 9 {
		t.Errorf("hub seqs %v, journal at %d, head %d, %d revisions; want %v, each stored once", seqs, s.LastSeq, s.Head, len(s.Revisions), want)
	}
	for _, code := range groupPrograms {
		if p := s.Programs[code]; p.Checkpoint != 3 || p.Outcomes[wire.Accepted] != 3 {
			t.Errorf("%s: checkpoint %d, outcomes %v", code, p.Checkpoint, p.Outcomes)
		}
	}
}

// TestGroupCommitAsSerial: pushes of several programs, held until they wait together so
// they share commits, answer and leave the hub exactly as the same pushes one at a time
// do: every result, checkpoint and revision, the journal's entries and the roster. The
// pushes include a batch sent twice, revisions on competing branches, rejected records.
func TestGroupCommitAsSerial(t *testing.T) {
	keys := groupKeys(t)
	dir := t.TempDir()
	grouped := groupHub(t, filepath.Join(dir, "grouped"), keys)
	serial := groupHub(t, filepath.Join(dir, "serial"), keys)

	// Each program's pushes, in its order: new records; the same batch again; edits
	// of its first record on two branches and a record signed by another program.
	pushes := map[string][][]byte{}
	for _, code := range groupPrograms {
		def, _ := grouped.catalog.Get(code)
		first := newRecords(t, grouped, keys[code], code, 1, 4)
		var rec schema.Record
		payload, _, _ := auth.UnverifiedPayload(first[0])
		json.Unmarshal(payload, &rec)
		edit := func(seq uint64, office string) string {
			var a schema.Alliance
			json.Unmarshal(rec.Body, &a)
			a.Office = office
			body, err := schema.AllianceBody(&a)
			if err != nil {
				t.Fatal(err)
			}
			r := rec
			r.Seq, r.PrevRev, r.Body = seq, rec.Rev, body
			r.Rev, _ = schema.NewRev(rec.Rev, body)
			jws, err := wire.SignRecord(keys[code], &r)
			if err != nil {
				t.Fatal(err)
			}
			return jws
		}
		other := groupPrograms[(slices.Index(groupPrograms, code)+1)%len(groupPrograms)]
		foreign := ingestRecord(t, keys[other], def, 7)
		b1 := groupBatch(t, keys[code], code, "one-"+code, 1, first...)
		pushes[code] = [][]byte{
			b1,
			b1,
			groupBatch(t, keys[code], code, "two-"+code, 5, edit(5, "Lansing"), edit(6, "Detroit"), foreign),
		}
	}

	answers := func(h *Hub, push func(func(code string, i int))) map[string]*wire.PushResponse {
		out := map[string]*wire.PushResponse{}
		var mu sync.Mutex
		push(func(code string, i int) {
			resp, err := h.Push(&auth.Claims{Role: auth.RoleProgram, Program: code}, pushes[code][i])
			if err != nil {
				t.Errorf("%s push %d: %v", code, i, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			out[fmt.Sprintf("%s %d", code, i)] = resp
		})
		return out
	}
	want := answers(serial, func(push func(string, int)) {
		for i := range 3 {
			for _, code := range groupPrograms {
				push(code, i)
			}
		}
	})
	seen := map[wire.Outcome]bool{}
	for _, resp := range want {
		for _, r := range resp.Results {
			seen[r.Outcome] = true
		}
	}
	for _, o := range []wire.Outcome{wire.Accepted, wire.Duplicate, wire.Conflict, wire.Rejected} {
		if !seen[o] {
			t.Errorf("no record was %s: the pushes do not test it", o)
		}
	}
	got := answers(grouped, func(push func(string, int)) {
		for i := range 3 {
			// The hub is busy (writeMu held) until every program's push waits to be
			// stored: the first to arrive leads a group of its own, the others share
			// the next commit.
			grouped.writeMu.Lock()
			var wg sync.WaitGroup
			var answered atomic.Int32 // before the hub is free: refused by its checks
			for _, code := range groupPrograms {
				wg.Go(func() {
					push(code, i)
					answered.Add(1)
				})
			}
			for queued := 0; queued < len(groupPrograms)-1 && answered.Load() == 0; {
				time.Sleep(time.Millisecond)
				grouped.commits.mu.Lock()
				queued = len(grouped.commits.waiting)
				grouped.commits.mu.Unlock()
			}
			grouped.writeMu.Unlock()
			wg.Wait()
		}
	})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers grouped differ from one at a time (-serial +grouped):\n%s", diff)
	}

	// Restarted, the grouped hub rebuilds the very state it had from its journal: the
	// groups wrote the journal in the order memdb shows.
	held := stateOf(t, grouped)
	if err := grouped.Close(); err != nil {
		t.Fatal(err)
	}
	grouped, err := New(Config{Key: grouped.key, DataDir: filepath.Join(dir, "grouped"), Catalog: grouped.catalog})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { grouped.Close() })
	if diff := stateDiff(held, stateOf(t, grouped)); diff != "" {
		t.Errorf("the grouped hub restarted differs (-before +after):\n%s", diff)
	}

	// The hubs hold the same: the journal's entries differ only in their order across
	// programs, each program's in its own order.
	s, g := stateOf(t, serial), stateOf(t, grouped)
	for _, st := range []*hubState{&s, &g} {
		for code, p := range st.Programs {
			p.EnrolledAt, p.LastPushAt = time.Time{}, nil
			st.Programs[code] = p
		}
		st.Journaled = nil // times and keys; the programs' states are compared in memdb
		for i, r := range st.Revisions {
			st.Revisions[i] = r[:strings.LastIndexByte(r, ' ')]
		}
		slices.Sort(st.Revisions)
	}
	if diff := stateDiff(s, g); diff != "" {
		t.Errorf("hub state grouped differs from one at a time (-serial +grouped):\n%s", diff)
	}
	for _, h := range []*Hub{serial, grouped} {
		if err := h.journal.View(func(tx *journal.Tx) error {
			return tx.Scan(0, func(seq uint64, v []byte) error {
				var le logEntry
				if err := json.Unmarshal(v, &le); err != nil {
					return err
				}
				rv, err := decodeStored(le, seq)
				if err != nil {
					return err
				}
				got, err := revisionOf(h.db.Txn(false), rv.RecordID, rv.Rev)
				if err != nil || got == nil || got.HubSeq != seq {
					return fmt.Errorf("journal entry %d (%s %s) is not memdb's revision %v", seq, rv.RecordID, rv.Rev, got)
				}
				return nil
			})
		}); err != nil {
			t.Error(err)
		}
	}
}

// TestPushReportsFirstRulesDiffer: records are checked in parallel, but a batch refused
// for the hub's rules names the first record in the batch's order that breaks them, as
// a check one record after another does.
func TestPushReportsFirstRulesDiffer(t *testing.T) {
	keys := groupKeys(t)
	h := groupHub(t, filepath.Join(t.TempDir(), "hub"), keys)
	def, _ := h.catalog.Get("S01")
	records := newRecords(t, h, keys["S01"], "S01", 1, 200)
	// Records that break the rules (an unknown goal category), late in the batch's
	// order but cheap to check, and one early.
	breaking := func(seq uint64) string {
		var rec schema.Record
		payload, _, _ := auth.UnverifiedPayload(records[seq-1])
		json.Unmarshal(payload, &rec)
		body := strings.Replace(string(rec.Body), `"category":"`+def.Categories[0].Code+`"`, `"category":"nonesuch"`, 1)
		rec.Body = json.RawMessage(body)
		rec.Rev, _ = schema.NewRev("", rec.Body)
		jws, err := wire.SignRecord(keys["S01"], &rec)
		if err != nil {
			t.Fatal(err)
		}
		return jws
	}
	for _, seq := range []uint64{37, 150, 199, 200} {
		records[seq-1] = breaking(seq)
	}
	body := groupBatch(t, keys["S01"], "S01", "differ", 1, records...)
	before := stateOf(t, h)
	for range 5 {
		_, err := h.Push(&auth.Claims{Role: auth.RoleProgram, Program: "S01"}, body)
		if !errors.Is(err, ErrRulesDiffer) || !strings.Contains(err.Error(), "(seq 37)") {
			t.Fatalf("push: %v; want ErrRulesDiffer naming seq 37", err)
		}
	}
	after := stateOf(t, h)
	after.Programs["S01"] = before.Programs["S01"] // the refusal is kept as the last error
	after.Journaled = before.Journaled
	if diff := stateDiff(before, after); diff != "" {
		t.Errorf("a refused batch changed the hub (-before +after):\n%s", diff)
	}
}

func TestInParallel(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 500} {
		calls := make([]int, n)
		inParallel(n, func(i int) { calls[i]++ })
		for i, c := range calls {
			if c != 1 {
				t.Fatalf("n=%d: fn(%d) called %d times", n, i, c)
			}
		}
	}
	defer func() {
		r := recover()
		if s, _ := r.(string); !strings.HasPrefix(s, "record 7 is bad") || !strings.Contains(s, "goroutine") {
			t.Errorf("recovered %v; want the worker's panic with its stack", r)
		}
	}()
	inParallel(100, func(i int) {
		if i == 7 {
			panic("record 7 is bad")
		}
	})
	t.Error("a panic in a worker did not reach the caller")
}

// TestGroupCommitSameProgramTwice: two batches of one program in one group (a retry
// while the first attempt is still being stored) are applied one after the other, the
// second seeing the first, as two commits would.
func TestGroupCommitSameProgramTwice(t *testing.T) {
	keys := groupKeys(t)
	h := groupHub(t, filepath.Join(t.TempDir(), "hub"), keys)
	body := groupBatch(t, keys["S01"], "S01", "again", 1, newRecords(t, h, keys["S01"], "S01", 1, 3)...)
	group := []*pendingPush{checked(t, h, "S01", body), checked(t, h, "S01", body)}
	h.applyGroup(group, h.journal.Update)
	for i, want := range []wire.Outcome{wire.Accepted, wire.Duplicate} {
		pb := group[i]
		if pb.err != nil {
			t.Fatalf("batch %d: %v", i, pb.err)
		}
		for _, r := range pb.resp.Results {
			if r.Outcome != want {
				t.Errorf("batch %d: record %s %s, want %s", i, r.ID, r.Outcome, want)
			}
		}
		if pb.resp.Checkpoint != 3 {
			t.Errorf("batch %d: checkpoint %d, want 3", i, pb.resp.Checkpoint)
		}
	}
	s := stateOf(t, h)
	if p := s.Programs["S01"]; s.LastSeq != 3 || p.Outcomes[wire.Accepted] != 3 || p.Outcomes[wire.Duplicate] != 3 {
		t.Errorf("journal at %d, outcomes %v; want 3 stored, 3 accepted and 3 duplicates counted", s.LastSeq, p.Outcomes)
	}
}

// TestGroupSize: a group takes the first batch waiting whatever its size, then those
// after it while the group stays within maxGroupRecords.
func TestGroupSize(t *testing.T) {
	batch := func(n int) *pendingPush { return &pendingPush{revs: make([]*revision, n)} }
	tests := []struct {
		sizes []int
		want  int
	}{
		{nil, 0},
		{[]int{1}, 1},
		{[]int{500, 500}, 2},
		{[]int{500, 500, 24, 1}, 3},
		{[]int{500, 500, 25}, 2},
		{[]int{2000, 1}, 1},
		{[]int{1, 2000, 1}, 1},
		{[]int{0, 0, 1024, 1}, 3},
	}
	for _, tt := range tests {
		var waiting []*pendingPush
		for _, n := range tt.sizes {
			waiting = append(waiting, batch(n))
		}
		if got := groupSize(waiting); got != tt.want {
			t.Errorf("groupSize(%v) = %d, want %d", tt.sizes, got, tt.want)
		}
	}
}
