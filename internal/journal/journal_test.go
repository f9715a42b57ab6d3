package journal_test

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/google/go-cmp/cmp"
)

// open opens a journal in dir and closes it when the test ends.
func open(t *testing.T, dir string) *journal.Store {
	t.Helper()
	s, err := journal.Open(dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// entry is one log entry as Scan reports it.
type entry struct {
	Seq   uint64
	Value string
}

// appendAll appends each value in its own transaction and returns the sequence numbers.
func appendAll(t *testing.T, s *journal.Store, values ...string) []uint64 {
	t.Helper()
	var seqs []uint64
	for _, v := range values {
		err := s.Update(func(tx *journal.Tx) error {
			seq, err := tx.Append(func(uint64) ([]byte, error) { return []byte(v), nil })
			seqs = append(seqs, seq)
			return err
		})
		if err != nil {
			t.Fatalf("Append %q: %v", v, err)
		}
	}
	return seqs
}

// scan collects the log entries after a sequence number.
func scan(t *testing.T, s *journal.Store, after uint64) []entry {
	t.Helper()
	var got []entry
	err := s.View(func(tx *journal.Tx) error {
		return tx.Scan(after, func(seq uint64, v []byte) error {
			got = append(got, entry{seq, string(v)})
			return nil
		})
	})
	if err != nil {
		t.Fatalf("Scan(%d): %v", after, err)
	}
	return got
}

// lastSeq reads LastSeq in a read transaction.
func lastSeq(t *testing.T, s *journal.Store) uint64 {
	t.Helper()
	var n uint64
	if err := s.View(func(tx *journal.Tx) error { n = tx.LastSeq(); return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAppendSequence(t *testing.T) {
	s := open(t, t.TempDir())
	if n := lastSeq(t, s); n != 0 {
		t.Errorf("LastSeq of an empty journal = %d, want 0", n)
	}
	// Sequence numbers start at 1 and never repeat.
	seqs := appendAll(t, s, "a", "b", "c")
	if diff := cmp.Diff([]uint64{1, 2, 3}, seqs); diff != "" {
		t.Errorf("sequence numbers (-want +got):\n%s", diff)
	}
	if n := lastSeq(t, s); n != 3 {
		t.Errorf("LastSeq = %d, want 3", n)
	}
}

func TestAppendSeesItsSequence(t *testing.T) {
	// make builds the entry from its number, so a node can sign the number into it.
	s := open(t, t.TempDir())
	err := s.Update(func(tx *journal.Tx) error {
		for range 3 {
			if _, err := tx.Append(func(seq uint64) ([]byte, error) { return fmt.Appendf(nil, "entry %d", seq), nil }); err != nil {
				return err
			}
		}
		if got := tx.LastSeq(); got != 3 {
			t.Errorf("LastSeq inside the transaction = %d, want 3", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []entry{{1, "entry 1"}, {2, "entry 2"}, {3, "entry 3"}}
	if diff := cmp.Diff(want, scan(t, s, 0)); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

func TestScan(t *testing.T) {
	s := open(t, t.TempDir())
	appendAll(t, s, "a", "b", "c", "d", "e")
	all := []entry{{1, "a"}, {2, "b"}, {3, "c"}, {4, "d"}, {5, "e"}}
	tests := []struct {
		name  string
		after uint64
		want  []entry
	}{
		{name: "from the start", after: 0, want: all},
		{name: "after the first", after: 1, want: all[1:]},
		{name: "from a cursor in the middle", after: 3, want: all[3:]},
		{name: "after the last", after: 5, want: nil},
		{name: "beyond the end", after: 100, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, scan(t, s, tt.after)); diff != "" {
				t.Errorf("Scan(%d) (-want +got):\n%s", tt.after, diff)
			}
		})
	}
}

// TestScanAfterMaxUint64 shows that Scan computes after+1, which wraps to 0 for the
// largest cursor, so "everything after the largest possible number" returns the whole
// log instead of nothing.
func TestScanAfterMaxUint64(t *testing.T) {
	s := open(t, t.TempDir())
	appendAll(t, s, "a", "b")
	if got := scan(t, s, math.MaxUint64); len(got) != 0 {
		t.Errorf("Scan(MaxUint64) = %v, want nothing", got)
	}
}

func TestScanStops(t *testing.T) {
	s := open(t, t.TempDir())
	appendAll(t, s, "a", "b", "c", "d")
	boom := errors.New("boom")
	tests := []struct {
		name     string
		stopAt   uint64
		stopWith error
		want     []uint64
		wantErr  error
	}{
		// ErrStop ends the scan cleanly.
		{name: "ErrStop", stopAt: 2, stopWith: journal.ErrStop, want: []uint64{1, 2}},
		{name: "wrapped ErrStop", stopAt: 3, stopWith: fmt.Errorf("batch full: %w", journal.ErrStop), want: []uint64{1, 2, 3}},
		// Any other error ends it and is returned.
		{name: "other error", stopAt: 1, stopWith: boom, want: []uint64{1}, wantErr: boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []uint64
			err := s.View(func(tx *journal.Tx) error {
				return tx.Scan(0, func(seq uint64, _ []byte) error {
					got = append(got, seq)
					if seq == tt.stopAt {
						return tt.stopWith
					}
					return nil
				})
			})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("Scan error %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("visited (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFailedUpdateLeavesNothing(t *testing.T) {
	// Write transactions are all-or-nothing (STYLE.md 5): a failed one leaves no entry
	// and consumes no sequence number.
	boom := errors.New("boom")
	tests := []struct {
		name string
		fn   func(tx *journal.Tx) error
	}{
		{name: "fn fails after appending", fn: func(tx *journal.Tx) error {
			if _, err := tx.Append(func(uint64) ([]byte, error) { return []byte("lost"), nil }); err != nil {
				return err
			}
			if err := tx.Put("meta", "cursor", []byte("lost")); err != nil {
				return err
			}
			return boom
		}},
		{name: "make fails", fn: func(tx *journal.Tx) error {
			_, err := tx.Append(func(uint64) ([]byte, error) { return nil, boom })
			return err
		}},
		{name: "second append fails", fn: func(tx *journal.Tx) error {
			if _, err := tx.Append(func(uint64) ([]byte, error) { return []byte("lost"), nil }); err != nil {
				return err
			}
			_, err := tx.Append(func(uint64) ([]byte, error) { return nil, boom })
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t, t.TempDir())
			appendAll(t, s, "a")
			if err := s.Update(tt.fn); !errors.Is(err, boom) {
				t.Fatalf("Update error %v, want boom", err)
			}
			if n := lastSeq(t, s); n != 1 {
				t.Errorf("LastSeq after a failed update = %d, want 1", n)
			}
			var cursor []byte
			s.View(func(tx *journal.Tx) error { cursor = tx.Get("meta", "cursor"); return nil })
			if cursor != nil {
				t.Errorf("failed update left meta/cursor = %q", cursor)
			}
			// The next entry gets the number the failed one would have had.
			if diff := cmp.Diff([]uint64{2}, appendAll(t, s, "b")); diff != "" {
				t.Errorf("next sequence number (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]entry{{1, "a"}, {2, "b"}}, scan(t, s, 0)); diff != "" {
				t.Errorf("log (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDurableAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := journal.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, s, "a", "b")
	err = s.Update(func(tx *journal.Tx) error {
		if err := tx.Put("meta", "program", []byte("MI")); err != nil {
			return err
		}
		return tx.PutUint("meta", "push_cursor", 2)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, journal.FileName)); err != nil {
		t.Errorf("store file: %v", err)
	}

	s = open(t, dir)
	if diff := cmp.Diff([]entry{{1, "a"}, {2, "b"}}, scan(t, s, 0)); diff != "" {
		t.Errorf("log after reopen (-want +got):\n%s", diff)
	}
	var program string
	var cursor uint64
	s.View(func(tx *journal.Tx) error {
		program = string(tx.Get("meta", "program"))
		cursor = tx.GetUint("meta", "push_cursor")
		return nil
	})
	if program != "MI" || cursor != 2 {
		t.Errorf("after reopen: program %q, cursor %d; want MI, 2", program, cursor)
	}
	// Numbering continues where it stopped.
	if diff := cmp.Diff([]uint64{3}, appendAll(t, s, "c")); diff != "" {
		t.Errorf("sequence after reopen (-want +got):\n%s", diff)
	}
}

func TestOpenCreatesDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "node")
	open(t, dir)
	fi, err := os.Stat(filepath.Join(dir, journal.FileName))
	if err != nil {
		t.Fatalf("store file: %v", err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("store file mode %v, want 0600", perm)
	}
}

func TestOpenLocked(t *testing.T) {
	// One process per data directory. bbolt takes an flock on its own file
	// descriptor, so a second Open in the same process conflicts too; it gives up
	// after its 2-second timeout.
	dir := t.TempDir()
	first := open(t, dir)
	second, err := journal.Open(dir)
	if err == nil {
		second.Close()
		t.Fatal("second Open of an open directory succeeded")
	}
	if !errors.Is(err, journal.ErrLocked) {
		t.Errorf("second Open error %v, want ErrLocked", err)
	}
	// Once the first is closed the directory opens again.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	third, err := journal.Open(dir)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	third.Close()
}

func TestBuckets(t *testing.T) {
	s := open(t, t.TempDir())
	err := s.Update(func(tx *journal.Tx) error {
		for _, kv := range []struct{ bucket, key, value string }{
			{"programs", "NV", "nv"},
			{"programs", "FED", "fed"},
			{"programs", "MI", "mi"},
			{"programs", "MI", "mi v2"}, // replaces
			{"other", "FED", "elsewhere"},
		} {
			if err := tx.Put(kv.bucket, kv.key, []byte(kv.value)); err != nil {
				return err
			}
		}
		if err := tx.PutUint("meta", "zero", 0); err != nil {
			return err
		}
		if err := tx.PutUint("meta", "max", math.MaxUint64); err != nil {
			return err
		}
		if err := tx.PutUint("meta", "checkpoint", 258); err != nil {
			return err
		}
		return tx.Put("meta", "short", []byte("abc"))
	})
	if err != nil {
		t.Fatal(err)
	}

	getTests := []struct {
		name   string
		bucket string
		key    string
		want   []byte
	}{
		{name: "stored", bucket: "programs", key: "FED", want: []byte("fed")},
		{name: "replaced", bucket: "programs", key: "MI", want: []byte("mi v2")},
		{name: "same key, other bucket", bucket: "other", key: "FED", want: []byte("elsewhere")},
		{name: "missing key", bucket: "programs", key: "CA", want: nil},
		{name: "missing bucket", bucket: "nope", key: "FED", want: nil},
	}
	for _, tt := range getTests {
		t.Run("Get "+tt.name, func(t *testing.T) {
			var got []byte
			s.View(func(tx *journal.Tx) error { got = tx.Get(tt.bucket, tt.key); return nil })
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Get(%s, %s) (-want +got):\n%s", tt.bucket, tt.key, diff)
			}
		})
	}

	uintTests := []struct {
		name string
		key  string
		want uint64
	}{
		{name: "zero", key: "zero", want: 0},
		{name: "largest", key: "max", want: math.MaxUint64},
		{name: "more than one byte", key: "checkpoint", want: 258},
		{name: "absent", key: "none", want: 0},
		{name: "not a number", key: "short", want: 0},
	}
	for _, tt := range uintTests {
		t.Run("GetUint "+tt.name, func(t *testing.T) {
			var got uint64
			s.View(func(tx *journal.Tx) error { got = tx.GetUint("meta", tt.key); return nil })
			if got != tt.want {
				t.Errorf("GetUint(meta, %s) = %d, want %d", tt.key, got, tt.want)
			}
		})
	}
	t.Run("GetUint missing bucket", func(t *testing.T) {
		var got uint64
		s.View(func(tx *journal.Tx) error { got = tx.GetUint("nope", "x"); return nil })
		if got != 0 {
			t.Errorf("GetUint(nope, x) = %d, want 0", got)
		}
	})

	t.Run("ForEach in key order", func(t *testing.T) {
		var got []entry
		s.View(func(tx *journal.Tx) error {
			return tx.ForEach("programs", func(k string, v []byte) error {
				got = append(got, entry{Value: k + "=" + string(v)})
				return nil
			})
		})
		want := []entry{{Value: "FED=fed"}, {Value: "MI=mi v2"}, {Value: "NV=nv"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ForEach (-want +got):\n%s", diff)
		}
	})
	t.Run("ForEach missing bucket", func(t *testing.T) {
		called := false
		err := s.View(func(tx *journal.Tx) error {
			return tx.ForEach("nope", func(string, []byte) error { called = true; return nil })
		})
		if err != nil || called {
			t.Errorf("ForEach(nope): err %v, called %v", err, called)
		}
	})
	t.Run("ForEach error ends it", func(t *testing.T) {
		boom := errors.New("boom")
		var n int
		err := s.View(func(tx *journal.Tx) error {
			return tx.ForEach("programs", func(string, []byte) error { n++; return boom })
		})
		if !errors.Is(err, boom) || n != 1 {
			t.Errorf("ForEach: err %v after %d calls, want boom after 1", err, n)
		}
	})
}

func TestGetReturnsACopy(t *testing.T) {
	// The value must outlive the transaction: bbolt's own slices do not.
	s := open(t, t.TempDir())
	if err := s.Update(func(tx *journal.Tx) error { return tx.Put("meta", "k", []byte("value")) }); err != nil {
		t.Fatal(err)
	}
	var got []byte
	s.View(func(tx *journal.Tx) error {
		got = tx.Get("meta", "k")
		got[0] = 'X' // must not write into the memory-mapped file
		return nil
	})
	var again []byte
	s.View(func(tx *journal.Tx) error { again = tx.Get("meta", "k"); return nil })
	if string(again) != "value" {
		t.Errorf("stored value changed to %q through a Get result", again)
	}
}

func TestViewCannotWrite(t *testing.T) {
	s := open(t, t.TempDir())
	tests := []struct {
		name string
		fn   func(tx *journal.Tx) error
	}{
		{name: "Put", fn: func(tx *journal.Tx) error { return tx.Put("meta", "k", []byte("v")) }},
		{name: "Append", fn: func(tx *journal.Tx) error {
			_, err := tx.Append(func(uint64) ([]byte, error) { return []byte("v"), nil })
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.View(tt.fn); err == nil {
				t.Errorf("%s in a read transaction succeeded", tt.name)
			}
		})
	}
	if n := lastSeq(t, s); n != 0 {
		t.Errorf("LastSeq = %d after refused writes, want 0", n)
	}
}

func TestConcurrentAppends(t *testing.T) {
	// Safe for concurrent use: every appender gets its own number, none repeats and
	// none is skipped.
	s := open(t, t.TempDir())
	const writers, each, reads = 8, 25, 20
	var wg sync.WaitGroup
	// Room for every result, so no sender ever blocks.
	errs := make(chan error, writers*each+reads)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				errs <- s.Update(func(tx *journal.Tx) error {
					_, err := tx.Append(func(uint64) ([]byte, error) { return fmt.Appendf(nil, "w%d-%d", w, i), nil })
					return err
				})
			}
		})
	}
	// Readers run alongside the writers and always see a gap-free prefix.
	wg.Go(func() {
		for range reads {
			errs <- s.View(func(tx *journal.Tx) error {
				var n uint64
				err := tx.Scan(0, func(seq uint64, _ []byte) error {
					n++
					if seq != n {
						return fmt.Errorf("seq %d at position %d", seq, n)
					}
					return nil
				})
				if err == nil && n != tx.LastSeq() {
					err = fmt.Errorf("scanned %d entries, LastSeq %d", n, tx.LastSeq())
				}
				return err
			})
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := scan(t, s, 0)
	if len(got) != writers*each {
		t.Fatalf("%d entries, want %d", len(got), writers*each)
	}
	seen := map[string]bool{}
	for i, e := range got {
		if e.Seq != uint64(i+1) {
			t.Fatalf("entry %d has seq %d", i, e.Seq)
		}
		if seen[e.Value] {
			t.Fatalf("value %s appended twice", e.Value)
		}
		seen[e.Value] = true
	}
}
