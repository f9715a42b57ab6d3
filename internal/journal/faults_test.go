//go:build linux

package journal_test

// Storage faults (issue 6, item 2): a data file truncated, bytes flipped in its pages, a
// full disk (a size-limited tmpfs, and RLIMIT_FSIZE), write and fsync errors. Each must be
// refused at open with a *CorruptError that names the file, the offset and the problem,
// or leave every value exactly as it was written; a write that fails is never reported
// as stored, and everything written before it survives a reopen.
//
// Write and fsync errors are real errors from the kernel: a seccomp filter on one locked
// OS thread makes pwrite64, fsync or fdatasync fail with EIO for the goroutine doing the
// write, either always (SECCOMP_RET_ERRNO) or from the Nth call on (SECCOMP_RET_USER_NOTIF,
// answered by a supervisor goroutine), so bbolt meets the error exactly where a failing
// disk would give it. Nothing in the production code knows about it.

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

// faultSeed seeds every random choice in this file; a failure prints it.
const faultSeed = 20250601

// flipTrialsEnv sets TestRandomFlips's number of trials (250; 50 with -short).
const flipTrialsEnv = "ALLIANCEHUB_TEST_FLIP_TRIALS"

// contents is everything a journal holds, as the API reads it.
type contents struct {
	Log     []string                     // entry seq i+1 at index i
	Buckets map[string]map[string]string // named buckets
}

// namedBuckets are the buckets fill writes besides the log (names the hub and the nodes
// use).
var namedBuckets = []string{"meta", "programs", "replica"}

// recordValue is a value the size and look of a signed record (a compact JWS), unique by
// seq.
func recordValue(rng *rand.Rand, seq, size int) string {
	raw := make([]byte, size*3/4)
	for i := range raw {
		raw[i] = byte(rng.Uint32())
	}
	return fmt.Sprintf("eyJhbGciOiJFZERTQSJ9.%06d.%s", seq, base64.RawURLEncoding.EncodeToString(raw))
}

// fill writes n log entries of about size bytes, chunk entries per transaction, and a
// few values in each named bucket, and returns what it wrote. The store stays open.
func fill(t *testing.T, s *journal.Store, rng *rand.Rand, n, size, chunk int) contents {
	t.Helper()
	want := contents{Buckets: map[string]map[string]string{}}
	for start := 0; start < n; start += chunk {
		err := s.Update(func(tx *journal.Tx) error {
			for i := start; i < min(start+chunk, n); i++ {
				v := recordValue(rng, i+1, size)
				if _, err := tx.Append(func(uint64) ([]byte, error) { return []byte(v), nil }); err != nil {
					return err
				}
				want.Log = append(want.Log, v)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("fill: %v", err)
		}
	}
	err := s.Update(func(tx *journal.Tx) error {
		for bi, b := range namedBuckets {
			want.Buckets[b] = map[string]string{}
			for k := range 3 + bi*20 {
				key, v := fmt.Sprintf("%020d", k), recordValue(rng, k, 200+bi*300)
				if err := tx.Put(b, key, []byte(v)); err != nil {
					return err
				}
				want.Buckets[b][key] = v
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("fill buckets: %v", err)
	}
	return want
}

// readAll reads every log entry and every named bucket of an open store.
func readAll(s *journal.Store) (contents, error) {
	got := contents{Buckets: map[string]map[string]string{}}
	err := s.View(func(tx *journal.Tx) error {
		err := tx.Scan(0, func(seq uint64, v []byte) error {
			if seq != uint64(len(got.Log)+1) {
				return fmt.Errorf("log entry %d follows entry %d", seq, len(got.Log))
			}
			got.Log = append(got.Log, string(v))
			return nil
		})
		if err != nil {
			return err
		}
		for _, b := range namedBuckets {
			err := tx.ForEach(b, func(k string, v []byte) error {
				if got.Buckets[b] == nil {
					got.Buckets[b] = map[string]string{}
				}
				got.Buckets[b][k] = string(v)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return got, err
}

// build makes a closed journal in a new directory and returns its file and contents.
func build(t *testing.T, rng *rand.Rand, n, size, chunk int) (string, contents) {
	t.Helper()
	dir := t.TempDir()
	s, err := journal.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := fill(t, s, rng, n, size, chunk)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, journal.FileName), want
}

// openOutcome opens the journal in dir and says what happened: refused (with the
// *CorruptError), or opened with every value exactly as want has it. Anything else
// fails the test: another error, a value altered, an entry dropped.
func openOutcome(t *testing.T, dir string, want contents, what string) *journal.CorruptError {
	t.Helper()
	path := filepath.Join(dir, journal.FileName)
	s, err := journal.Open(dir)
	if err != nil {
		var ce *journal.CorruptError
		if !errors.As(err, &ce) || !errors.Is(err, journal.ErrCorrupt) {
			t.Fatalf("%s: Open: %v (%T); want a *CorruptError or success", what, err, err)
		}
		if ce.Path != path || !strings.HasPrefix(err.Error(), "journal "+path+" is damaged") {
			t.Errorf("%s: the error does not name the file %s: %v", what, path, err)
		}
		return ce
	}
	defer s.Close()
	got, err := readAll(s)
	if err != nil {
		t.Fatalf("%s: opened, but reading it: %v", what, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("%s: opened with different contents (-written +read):\n%s", what, diff)
	}
	return nil
}

// pageSize is the journal's page size as meta page 0 says.
func pageSize(t *testing.T, file []byte) int {
	t.Helper()
	ps := int(binary.NativeEndian.Uint32(file[24:]))
	if ps < 512 || ps&(ps-1) != 0 {
		t.Fatalf("meta page 0: page size %d", ps)
	}
	return ps
}

// pagesInUse is the high water mark of the newest meta page.
func pagesInUse(file []byte, ps int) (pgid, freelist uint64) {
	m0, m1 := file[16:], file[ps+16:]
	m := m0
	if binary.NativeEndian.Uint64(m1[48:]) > binary.NativeEndian.Uint64(m0[48:]) { // txid
		m = m1
	}
	return binary.NativeEndian.Uint64(m[40:]), binary.NativeEndian.Uint64(m[32:])
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestTruncatedFile: a file cut short anywhere in the pages in use (mid-page, at a page
// boundary, inside a meta page) is refused at open with the offset where it ends and
// "truncated" (or, cut inside the meta pages, the meta pages named); bbolt alone maps
// the missing pages and the process dies of a memory fault ("unexpected fault address")
// on the first read of one. The file is left as it is. Cutting only the unused tail that
// bbolt grows the file by loses nothing.
func TestTruncatedFile(t *testing.T) {
	rng := rand.New(rand.NewPCG(faultSeed, 1))
	path, want := build(t, rng, 400, 1500, 50)
	pristine, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ps := pageSize(t, pristine)
	pgid, _ := pagesInUse(pristine, ps)
	used := int(pgid) * ps
	t.Logf("journal: %d entries, %d bytes, %d pages of %d in use", len(want.Log), len(pristine), pgid, ps)
	tests := []struct {
		name string
		size int
		want string // in the error; "" means it must open with nothing lost
	}{
		{"mid-page, half way", used/2 + ps/3, "truncated"},
		{"at a page boundary, half way", used / 2 / ps * ps, "truncated"},
		{"the last page in use cut short", used - ps + 100, "truncated"},
		{"one byte short of the pages in use", used - 1, "truncated"},
		{"inside meta page 1", ps + 40, "meta page"},
		{"inside meta page 0", 50, "both meta pages"},
		{"only the unused tail", used, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, journal.FileName)
			cut := pristine[:tt.size]
			writeFile(t, p, cut)
			ce := openOutcome(t, dir, want, tt.name)
			switch {
			case tt.want == "" && ce != nil:
				t.Fatalf("refused: %v", ce)
			case tt.want == "":
				return
			case ce == nil:
				t.Fatalf("opened a file cut to %d of its %d bytes in use", tt.size, used)
			}
			if !strings.Contains(ce.Error(), tt.want) {
				t.Errorf("error %q does not say %q", ce, tt.want)
			}
			if tt.want == "truncated" && ce.Offset != int64(tt.size) {
				t.Errorf("error at offset %d, want %d (where the file ends)", ce.Offset, tt.size)
			}
			if after, _ := os.ReadFile(p); !bytes.Equal(after, cut) {
				t.Errorf("the refused file changed")
			}
			t.Logf("refused: %v", ce)
		})
	}
}

// TestFlippedBytes: a byte flipped in each kind of place a page has is refused at open,
// naming the file, the offset and what is wrong: a record's value (the checksum every
// value carries; bbolt has none for data pages and would hand back the altered record),
// a key, a leaf page's header, a branch page's reference, the free list, a meta page
// (bbolt would quietly fall back to the older meta page and drop the last transaction).
func TestFlippedBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(faultSeed, 2))
	path, want := build(t, rng, 400, 1500, 50)
	pristine, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ps := pageSize(t, pristine)
	pgid, freelist := pagesInUse(pristine, ps)
	// Where entry 200's value lies (the live one: a free page may hold a stale copy).
	entry := 200
	voff := liveOffset(t, path, "log", seqKey(entry))
	leaf := voff / ps * ps
	if binary.NativeEndian.Uint16(pristine[leaf+8:]) != 0x02 {
		t.Fatalf("page at %d holding entry %d is not a leaf page", leaf, entry)
	}
	// A branch page of the log bucket: the first page in use flagged branch.
	branch := -1
	for p := 2; p < int(pgid); p++ {
		if binary.NativeEndian.Uint64(pristine[p*ps:]) == uint64(p) && binary.NativeEndian.Uint16(pristine[p*ps+8:]) == 0x01 {
			branch = p * ps
			break
		}
	}
	if branch < 0 {
		t.Fatal("no branch page")
	}
	tests := []struct {
		name   string
		offset int
		want   string
		near   bool // the reported offset must be within a page of the flipped byte
	}{
		{"a record's value", voff + 700, fmt.Sprintf("log entry %d: the value fails its checksum", entry), true},
		{"a record's key", voff - 1, "", true},
		{"a leaf page's element count", leaf + 10, "", true},
		{"a leaf page's own number", leaf + 1, "calls itself page", true},
		{"a leaf page's type", leaf + 8, "type flags", true},
		{"a branch page's reference", branch + pageHeaderSize + 8, "", false},
		{"the free list's type", int(freelist)*ps + 8, "type flags", false},
		{"meta page 0's transaction id", 16 + 48, "meta page 0 is damaged (checksum mismatch)", false},
		{"meta page 1's root", ps + 16 + 16, "meta page 1 is damaged (checksum mismatch)", false},
		{"both meta pages' magic", -1, "both meta pages are damaged", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, journal.FileName)
			damaged := bytes.Clone(pristine)
			if tt.offset < 0 {
				damaged[16] ^= 0x40
				damaged[ps+16] ^= 0x40
			} else {
				damaged[tt.offset] ^= 0x04
			}
			writeFile(t, p, damaged)
			ce := openOutcome(t, dir, want, tt.name)
			if ce == nil {
				t.Fatalf("a byte flipped at offset %d went unnoticed", tt.offset)
			}
			if !strings.Contains(ce.Error(), tt.want) {
				t.Errorf("error %q does not say %q", ce, tt.want)
			}
			if tt.near && (ce.Offset < int64(tt.offset/ps*ps) || ce.Offset >= int64(tt.offset/ps*ps+ps)) {
				t.Errorf("error at offset %d; the flipped byte is at %d", ce.Offset, tt.offset)
			}
			if after, _ := os.ReadFile(p); !bytes.Equal(after, damaged) {
				t.Errorf("the refused file changed")
			}
			t.Logf("flipped byte %d: %v", tt.offset, ce)
		})
	}
}

const pageHeaderSize = 16

func seqKey(seq int) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], uint64(seq))
	return k[:]
}

// liveOffset is where the value under key lies in the file: bbolt hands out slices of
// its map of the file, so the slice's address less the map's is the offset.
func liveOffset(t *testing.T, path, bucket string, key []byte) int {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	off := -1
	db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte(bucket)); b != nil {
			if v := b.Get(key); len(v) > 0 {
				off = int(uintptr(unsafe.Pointer(&v[0])) - db.Info().Data)
			}
		}
		return nil
	})
	if off < 0 {
		t.Fatalf("no value under %s/%x", bucket, key)
	}
	return off
}

// TestRandomFlips: bytes flipped at random offsets of the pages in use, one to four at a
// time, in many trials: each trial is refused at open with a *CorruptError, or opens
// with every entry and value exactly as written (a flip in free space or a page's unused
// end). Never an altered value, a dropped entry, another error or a crash. The seed is
// fixed (faultSeed), so every run makes the same flips; ALLIANCEHUB_TEST_FLIP_TRIALS runs
// more of them.
func TestRandomFlips(t *testing.T) {
	trials := 250
	if testing.Short() {
		trials = 50
	}
	if s := os.Getenv(flipTrialsEnv); s != "" { // the nightly's longer run
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number", flipTrialsEnv, s)
		}
		trials = n
	}
	rng := rand.New(rand.NewPCG(faultSeed, 3))
	path, want := build(t, rng, 300, 1200, 40)
	pristine, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ps := pageSize(t, pristine)
	pgid, _ := pagesInUse(pristine, ps)
	used := int(pgid) * ps
	t.Logf("seed %d: %d trials on a journal of %d entries, %d pages of %d in use", faultSeed, trials, len(want.Log), pgid, ps)
	dir := t.TempDir()
	p := filepath.Join(dir, journal.FileName)
	refused := map[string]int{}
	harmless := 0
	for i := range trials {
		damaged := bytes.Clone(pristine)
		var offs []int
		for range 1 + rng.IntN(4) {
			off := rng.IntN(used)
			damaged[off] ^= byte(1 + rng.IntN(255))
			offs = append(offs, off)
		}
		writeFile(t, p, damaged)
		ce := openOutcome(t, dir, want, fmt.Sprintf("trial %d (seed %d, offsets %v)", i, faultSeed, offs))
		if ce == nil {
			harmless++
			continue
		}
		if after, _ := os.ReadFile(p); !bytes.Equal(after, damaged) {
			t.Fatalf("trial %d: the refused file changed", i)
		}
		refused[problemKind(ce.Problem)]++
	}
	var kinds []string
	for k, n := range refused {
		kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
	}
	sort.Strings(kinds)
	t.Logf("%d trials: %d opened with nothing altered (flips in unused bytes), %d refused: %s",
		trials, harmless, trials-harmless, strings.Join(kinds, ", "))
}

// problemKind names a problem by its gist, for the tally.
func problemKind(p string) string {
	for _, k := range []string{"fails its checksum", "meta page", "calls itself", "type flags", "not where the element before ended",
		"runs on for", "more than fit", "not after the key", "outside the", "referenced twice", "neither in use nor free",
		"free list", "entries are missing", "bucket"} {
		if strings.Contains(p, k) {
			return k
		}
	}
	return p
}

// TestLegacyFileGetsChecksums: a journal written before values carried checksums (plain
// bbolt values) opens with everything as it was, and is given checksums once.
func TestLegacyFileGetsChecksums(t *testing.T) {
	dir := t.TempDir()
	db, err := bolt.Open(filepath.Join(dir, journal.FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("log"))
		if err != nil {
			return err
		}
		for seq := uint64(1); seq <= 3; seq++ {
			if err := b.SetSequence(seq); err != nil {
				return err
			}
			var k [8]byte
			binary.BigEndian.PutUint64(k[:], seq)
			if err := b.Put(k[:], fmt.Appendf(nil, "entry %d", seq)); err != nil {
				return err
			}
		}
		m, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		return m.Put([]byte("push_cursor"), []byte{0, 0, 0, 0, 0, 0, 0, 2})
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := contents{Log: []string{"entry 1", "entry 2", "entry 3"},
		Buckets: map[string]map[string]string{"meta": {"push_cursor": "\x00\x00\x00\x00\x00\x00\x00\x02"}}}
	for round := range 2 { // the second open finds the checksums the first added
		s, err := journal.Open(dir)
		if err != nil {
			t.Fatalf("open %d: %v", round+1, err)
		}
		got, err := readAll(s)
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("open %d (-want +got):\n%s", round+1, diff)
		}
	}
	if err := journal.Check(filepath.Join(dir, journal.FileName)); err != nil {
		t.Errorf("Check after the upgrade: %v", err)
	}
}

// TestOpenCheckCost measures what the check at open costs on a journal of 10,000
// records the size of real signed records (about 1.5 KB), next to bbolt's own tx.Check
// and a bare bbolt open. The figures are logged, not asserted (beyond a generous
// ceiling): run with -v. Skipped with -short.
func TestOpenCheckCost(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 10,000-record journal")
	}
	rng := rand.New(rand.NewPCG(faultSeed, 4))
	path, want := build(t, rng, 10000, 1500, 256)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	best := func(f func()) time.Duration {
		d := time.Duration(1<<63 - 1)
		for range 3 {
			start := time.Now()
			f()
			d = min(d, time.Since(start))
		}
		return d
	}
	bare := best(func() {
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
	})
	boltCheck := best(func() {
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		db.View(func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				t.Errorf("bbolt check: %v", err)
			}
			return nil
		})
	})
	check := best(func() {
		if err := journal.Check(path); err != nil {
			t.Fatal(err)
		}
	})
	open := best(func() {
		s, err := journal.Open(filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	})
	var scan time.Duration
	s, err := journal.Open(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	scan = best(func() {
		got, err := readAll(s)
		if err != nil || len(got.Log) != len(want.Log) {
			t.Fatalf("read %d entries, %v", len(got.Log), err)
		}
	})
	s.Close()
	t.Logf("%d records, %d bytes: bare bbolt open %s; bbolt tx.Check %s; journal.Check %s; journal.Open (with the check) %s; reading every entry (checksums verified) %s",
		len(want.Log), fi.Size(), bare, boltCheck, check, open, scan)
	if open > 30*time.Second {
		t.Errorf("journal.Open took %s on %d records", open, len(want.Log))
	}
}

// ---------------------------------------------------------------------------
// A full disk.

// appendUntilRefused appends entries of size bytes until one is refused, at most max
// tries, and returns the entries stored (in order) and the refusal.
func appendUntilRefused(t *testing.T, s *journal.Store, rng *rand.Rand, first, size, max int) ([]string, error) {
	t.Helper()
	var stored []string
	for i := range max {
		v := recordValue(rng, first+i, size)
		var seq uint64
		err := s.Update(func(tx *journal.Tx) error {
			var err error
			seq, err = tx.Append(func(uint64) ([]byte, error) { return []byte(v), nil })
			return err
		})
		if err != nil {
			return stored, err
		}
		if seq != uint64(first+i) {
			t.Fatalf("entry stored as %d, want %d", seq, first+i)
		}
		stored = append(stored, v)
	}
	t.Fatalf("%d appends of %d bytes all succeeded; the disk never filled", max, size)
	return nil, nil
}

// checkFullDisk is what a full disk must leave: the refused write named the file and
// wrapped the errno; the store still works (bbolt rolled the transaction back before its
// meta page was written: nothing of it reached the file); once there is room the same
// store writes again; and a reopen finds every acknowledged entry and not the refused one.
func checkFullDisk(t *testing.T, dir string, s *journal.Store, before []string, stored []string, refusal error, errno syscall.Errno, makeRoom func()) {
	t.Helper()
	path := filepath.Join(dir, journal.FileName)
	// bbolt wraps some errors with %s (its "file resize error"), so the errno may be
	// only in the text.
	if !errors.Is(refusal, errno) && !strings.Contains(refusal.Error(), errno.Error()) || !strings.Contains(refusal.Error(), path) {
		t.Errorf("refused write: %v; want it to name %s and say %v", refusal, path, errno)
	}
	if errors.Is(refusal, journal.ErrNotDurable) {
		t.Errorf("a full disk broke the store: %v", refusal)
	}
	t.Logf("refused after %d more entries: %v", len(stored), refusal)
	all := append(append([]string(nil), before...), stored...)
	got, err := readAll(s)
	if err != nil || !cmp.Equal(all, got.Log) {
		t.Fatalf("after the refusal the store reads %d entries (%v), want the %d acknowledged", len(got.Log), err, len(all))
	}
	makeRoom()
	last := "written once there is room again"
	err = s.Update(func(tx *journal.Tx) error {
		_, err := tx.Append(func(uint64) ([]byte, error) { return []byte(last), nil })
		return err
	})
	if err != nil {
		t.Fatalf("after making room: %v", err)
	}
	all = append(all, last)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := journal.Open(dir)
	if err != nil {
		t.Fatalf("reopen after a full disk: %v", err)
	}
	defer s2.Close()
	got, err = readAll(s2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(all, got.Log); diff != "" {
		t.Errorf("after reopening (-acknowledged +read):\n%s", diff)
	}
}

// TestFullDiskTmpfs: the journal on a tmpfs of a few MiB, filled up: bbolt's page writes
// fail with ENOSPC. Needs the right to mount (root, as in a CI container); skipped
// otherwise, when TestFullDiskFileSizeLimit still covers a refused write.
func TestFullDiskTmpfs(t *testing.T) {
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v: %s); TestFullDiskFileSizeLimit covers a refused write", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	rng := rand.New(rand.NewPCG(faultSeed, 5))
	dir := filepath.Join(mnt, "data")
	s, err := journal.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			s.Close()
		}
	})
	before := fill(t, s, rng, 200, 1500, 50).Log
	// Ballast takes the rest of the room but a little, and is removed to make room again.
	ballast := filepath.Join(mnt, "ballast")
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail)*st.Bsize - 256<<10
	if err := os.WriteFile(ballast, make([]byte, max(free, 0)), 0o600); err != nil && !errors.Is(err, syscall.ENOSPC) {
		t.Fatal(err)
	}
	stored, refusal := appendUntilRefused(t, s, rng, len(before)+1, 1500, 5000)
	closed = true
	checkFullDisk(t, dir, s, before, stored, refusal, syscall.ENOSPC, func() {
		if err := os.Remove(ballast); err != nil {
			t.Fatal(err)
		}
	})
}

// TestFullDiskFileSizeLimit: the same with the process's RLIMIT_FSIZE set to the file's
// size (no privilege needed): bbolt's growing of the file fails with EFBIG. Go ignores
// the SIGXFSZ that comes with it. The limit is the whole test process's, so this test
// does not run in parallel with others, and restores it before returning.
func TestFullDiskFileSizeLimit(t *testing.T) {
	rng := rand.New(rand.NewPCG(faultSeed, 6))
	dir := t.TempDir()
	s, err := journal.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	before := fill(t, s, rng, 200, 1500, 50).Log
	fi, err := os.Stat(filepath.Join(dir, journal.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	restore := func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
			t.Fatalf("restoring RLIMIT_FSIZE: %v", err)
		}
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: uint64(fi.Size()), Max: old.Max}); err != nil {
		t.Skipf("setrlimit RLIMIT_FSIZE: %v", err)
	}
	defer restore()
	stored, refusal := appendUntilRefused(t, s, rng, len(before)+1, 1500, 5000)
	checkFullDisk(t, dir, s, before, stored, refusal, syscall.EFBIG, restore)
}

// ---------------------------------------------------------------------------
// Write and fsync errors, from the kernel, by seccomp.

// seccomp's constants (linux/seccomp.h, linux/filter.h).
const (
	prSetNoNewPrivs     = 38
	seccompSetModeFiltr = 1
	seccompNewListener  = 1 << 3
	retAllow            = 0x7fff0000
	retErrno            = 0x00050000
	retUserNotif        = 0x7fc00000
	ioctlNotifRecv      = 0xc0502100 // _IOWR('!', 0, struct seccomp_notif), 80 bytes
	ioctlNotifSend      = 0xc0182101 // _IOWR('!', 1, struct seccomp_notif_resp), 24 bytes
	notifContinue       = 1          // SECCOMP_USER_NOTIF_FLAG_CONTINUE
	bpfLdAbsW           = 0x20
	bpfJeqK             = 0x15
	bpfRetK             = 0x06
)

type sockFilter struct {
	code   uint16
	jt, jf uint8
	k      uint32
}

type sockFprog struct {
	len    uint16
	filter *sockFilter
}

type seccompNotif struct {
	id    uint64
	pid   uint32
	flags uint32
	nr    int32
	arch  uint32
	ip    uint64
	args  [6]uint64
}

type seccompNotifResp struct {
	id    uint64
	val   int64
	error int32
	flags uint32
}

// seccompArch is the seccomp syscall number and audit arch of this machine.
func seccompArch(t *testing.T) (uintptr, uint32) {
	switch runtime.GOARCH {
	case "amd64":
		return 317, 0xc000003e
	case "arm64":
		return 277, 0xc00000b7
	}
	t.Skipf("seccomp constants unknown for %s", runtime.GOARCH)
	return 0, 0
}

// filterProgram returns action for the given system calls, and lets every other call
// through.
func filterProgram(arch, action uint32, nrs ...uint32) []sockFilter {
	prog := []sockFilter{
		{bpfLdAbsW, 0, 0, 4}, // seccomp_data.arch
		{bpfJeqK, 1, 0, arch},
		{bpfRetK, 0, 0, retAllow},
		{bpfLdAbsW, 0, 0, 0}, // seccomp_data.nr
	}
	for i, nr := range nrs {
		prog = append(prog, sockFilter{bpfJeqK, uint8(len(nrs) - i), 0, nr})
	}
	return append(prog, sockFilter{bpfRetK, 0, 0, retAllow}, sockFilter{bpfRetK, 0, 0, action})
}

// onFaultyThread runs fn on an OS thread of its own carrying a seccomp filter (the thread
// is thrown away afterwards: the goroutine exits still locked to it, and threads the
// runtime starts meanwhile are cloned from its template thread, not this one). flags 0
// installs the filter plainly; seccompNewListener hands its listener to notify, which
// runs beside fn and closes it. A machine without seccomp skips the test.
func onFaultyThread(t *testing.T, prog []sockFilter, flags uintptr, notify func(fd int, done <-chan struct{}), fn func() error) error {
	t.Helper()
	nr, _ := seccompArch(t)
	type result struct {
		err     error
		skipped error
	}
	out := make(chan result)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if _, _, e := syscall.RawSyscall6(syscall.SYS_PRCTL, prSetNoNewPrivs, 1, 0, 0, 0, 0); e != 0 {
			out <- result{skipped: fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %v", e)}
			return
		}
		fprog := sockFprog{len: uint16(len(prog)), filter: &prog[0]}
		fd, _, e := syscall.RawSyscall(nr, seccompSetModeFiltr, flags, uintptr(unsafe.Pointer(&fprog)))
		runtime.KeepAlive(prog)
		if e != 0 {
			out <- result{skipped: fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER): %v", e)}
			return
		}
		done := make(chan struct{})
		stopped := make(chan struct{})
		if notify != nil {
			go func() {
				defer close(stopped)
				notify(int(fd), done)
			}()
		} else {
			close(stopped)
		}
		err := fn()
		close(done)
		<-stopped
		out <- result{err: err}
	}()
	r := <-out
	if r.skipped != nil {
		t.Skipf("no seccomp filter on this machine: %v", r.skipped)
	}
	return r.err
}

// failFrom answers the filter's notifications: the first n calls go ahead as if there
// were no filter, every later one fails with errno. It records the calls it failed, and
// in *unsupported why it could not answer (a kernel before 5.5 cannot let a call go
// ahead): it then closes the listener, which fails the waiting call with ENOSYS.
func failFrom(n int, errno syscall.Errno, failed *int, unsupported *error) func(fd int, done <-chan struct{}) {
	return func(fd int, done <-chan struct{}) {
		defer syscall.Close(fd)
		calls := 0
		for {
			select {
			case <-done:
				return
			default:
			}
			pfd := struct {
				fd             int32
				events, revent int16
			}{fd: int32(fd), events: 1} // POLLIN
			ts := syscall.Timespec{Nsec: int64(20 * time.Millisecond)}
			r, _, _ := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
			if r == 0 || pfd.revent&1 == 0 {
				continue
			}
			var notif seccompNotif
			if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), ioctlNotifRecv, uintptr(unsafe.Pointer(&notif))); e != 0 {
				continue // the caller went away
			}
			calls++
			resp := seccompNotifResp{id: notif.id, flags: notifContinue}
			if calls > n {
				resp = seccompNotifResp{id: notif.id, error: -int32(errno)}
				*failed++
			}
			if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), ioctlNotifSend, uintptr(unsafe.Pointer(&resp))); e != 0 {
				*unsupported = fmt.Errorf("SECCOMP_IOCTL_NOTIF_SEND: %v", e)
				return
			}
		}
	}
}

// TestWriteAndFsyncErrors: an entry whose commit meets an I/O error is never reported
// stored, and every entry before it survives a reopen. Where bbolt fails before writing
// its meta page (a page write, the fsync of the data pages, the fsync of a grown file),
// the transaction leaves no trace and the store carries on. Where only the fsync of the
// meta page fails, the new meta page is already in the page cache, which bbolt reads
// through its map: the store then refuses everything (ErrNotDurable) until it is opened
// again, and the reopened file holds the entry whole or not at all, never half.
func TestWriteAndFsyncErrors(t *testing.T) {
	_, arch := seccompArch(t)
	tests := []struct {
		name        string
		prog        []sockFilter
		flags       uintptr
		notify      func(*int, *error) func(int, <-chan struct{})
		notDurable  bool // the store must refuse everything after it
		maybeStored bool // the reopened file may hold the entry (whole)
	}{
		{name: "page write fails (pwrite64 EIO)",
			prog: filterProgram(arch, retErrno|uint32(syscall.EIO), uint32(syscall.SYS_PWRITE64))},
		{name: "every fsync fails (fdatasync and fsync EIO)",
			prog: filterProgram(arch, retErrno|uint32(syscall.EIO), uint32(syscall.SYS_FDATASYNC), uint32(syscall.SYS_FSYNC))},
		{name: "the meta page's fsync fails (second fdatasync EIO)",
			prog: filterProgram(arch, retUserNotif, uint32(syscall.SYS_FDATASYNC)), flags: seccompNewListener,
			notify: func(failed *int, unsupported *error) func(int, <-chan struct{}) {
				return failFrom(1, syscall.EIO, failed, unsupported)
			},
			notDurable: true, maybeStored: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(faultSeed, 10+uint64(i)))
			dir := t.TempDir()
			path := filepath.Join(dir, journal.FileName)
			s, err := journal.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			before := fill(t, s, rng, 100, 1500, 25).Log
			lost := recordValue(rng, len(before)+1, 1500)
			failed := 0
			var unsupported error
			var notify func(int, <-chan struct{})
			if tt.notify != nil {
				notify = tt.notify(&failed, &unsupported)
			}
			err = onFaultyThread(t, tt.prog, tt.flags, notify, func() error {
				return s.Update(func(tx *journal.Tx) error {
					_, err := tx.Append(func(uint64) ([]byte, error) { return []byte(lost), nil })
					return err
				})
			})
			if unsupported != nil {
				t.Skipf("cannot answer seccomp notifications here: %v", unsupported)
			}
			if err == nil {
				t.Fatal("the write met an I/O error and reported success")
			}
			if !errors.Is(err, syscall.EIO) && !strings.Contains(err.Error(), syscall.EIO.Error()) {
				t.Errorf("error %v does not carry EIO", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %v does not name %s", err, path)
			}
			if tt.notify != nil && failed != 1 {
				t.Errorf("the supervisor failed %d calls, want 1", failed)
			}
			t.Logf("refused: %v", err)

			// What the same store does next, on an ordinary thread.
			next := "the next entry"
			err = s.Update(func(tx *journal.Tx) error {
				_, err := tx.Append(func(uint64) ([]byte, error) { return []byte(next), nil })
				return err
			})
			_, rerr := readAll(s)
			if tt.notDurable {
				if !errors.Is(err, journal.ErrNotDurable) || !errors.Is(rerr, journal.ErrNotDurable) || !errors.Is(s.Broken(), journal.ErrNotDurable) {
					t.Errorf("after a failed meta fsync: write %v, read %v, Broken %v; want ErrNotDurable from each", err, rerr, s.Broken())
				}
			} else if err != nil || rerr != nil || s.Broken() != nil {
				t.Errorf("after a failed write the store should carry on: write %v, read %v, Broken %v", err, rerr, s.Broken())
			}
			want := append([]string(nil), before...)
			if !tt.notDurable {
				want = append(want, next)
			}
			s.Close()

			s2, err := journal.Open(dir)
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer s2.Close()
			got, err := readAll(s2)
			if err != nil {
				t.Fatal(err)
			}
			if tt.maybeStored && len(got.Log) == len(before)+1 && got.Log[len(before)] == lost {
				t.Logf("the entry whose meta fsync failed is in the reopened file, whole (the page cache wrote it); it was never acknowledged")
				want = append(want, lost)
			}
			if diff := cmp.Diff(want, got.Log); diff != "" {
				t.Errorf("after reopening (-want +read):\n%s", diff)
			}
		})
	}
}
