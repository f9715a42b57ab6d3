// Package journal is the durable store under the hub and the nodes: an append-only log of
// signed records numbered by sequence, plus small named buckets for cursors and
// settings, in one bbolt file that is fsync'd on every commit.
//
// The file is checked before it is used, and every value carries a checksum, so damage
// is reported (the file, the offset, what is wrong) instead of being served or silently
// dropped: bbolt itself checksums only its two meta pages, and maps the file into memory,
// so a truncated or damaged file would otherwise crash the process with a memory fault
// or hand back altered records.
package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unsafe"

	bolt "go.etcd.io/bbolt"
)

// FileName is the store's file inside a data directory.
const FileName = "alliancehub.db"

const logBucket = "log"

// formatBucket holds formatKey, which says every value ends in its checksum (a file
// written before checksums has no such bucket, and Open adds them). Callers must not use
// this bucket name.
const (
	formatBucket = "_journal"
	formatKey    = "format"
	formatValue  = "crc32c-v1"
	sumSize      = 4 // bytes of checksum after every value
)

// ErrLocked means another process already has the data directory open.
var ErrLocked = errors.New("data directory is in use by another process")

// ErrStop ends a Scan early without error.
var ErrStop = errors.New("stop scan")

// ErrCorrupt matches a *CorruptError: the file is damaged.
var ErrCorrupt = errors.New("journal file is damaged")

// ErrNotDurable means a commit failed after its meta page reached the file's page cache
// (the fsync that makes it durable failed). Whether that write is on disk is unknown, so
// the store refuses every later read and write until it is opened again, which reads
// back what the disk holds (PostgreSQL's answer to a failed fsync: stop, then recover
// from disk, rather than carry on from a state the disk may not have).
var ErrNotDurable = errors.New("a write could not be made durable; the store refuses reads and writes until the server restarts")

// CorruptError is damage found in a journal file: when it is opened (the server then
// refuses to start) or when a damaged value is read.
type CorruptError struct {
	Path    string
	Offset  int64    // in the file, of the first problem; -1 when not known
	Problem string   // the first problem
	More    []string // further problems, at most a few
	Total   int      // problems found in all
}

func (e *CorruptError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "journal %s is damaged", e.Path)
	if e.Offset >= 0 {
		fmt.Fprintf(&b, " at offset %d", e.Offset)
	}
	fmt.Fprintf(&b, ": %s", e.Problem)
	for _, m := range e.More {
		fmt.Fprintf(&b, "; %s", m)
	}
	if extra := e.Total - 1 - len(e.More); extra > 0 {
		fmt.Fprintf(&b, "; and %d more problem(s)", extra)
	}
	b.WriteString("; the file is left as it is: restore it from a backup")
	return b.String()
}

func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// Store is an open journal. All methods are safe for concurrent use: bbolt allows one
// writer and many readers at once.
type Store struct {
	db   *bolt.DB
	path string

	// write serializes Update as bbolt does anyway, so that after a failed commit no
	// other commit can slip in before Update has looked at what reached the file.
	write sync.Mutex

	mu     sync.Mutex
	broken error // set once a commit may have reached the file without being durable
}

// Open opens (creating if needed) the journal in dir. Before it is used, the file is
// checked whole: both meta pages, the file size against the pages in use, every page's
// header and elements, every page either in use or free and never both, and every
// value's checksum. A damaged file is refused with a *CorruptError naming it, the offset
// and the problem; nothing is changed in it. A file written before checksums is given
// them, in one transaction.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	db, err := openBolt(path)
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
	}
	if err != nil {
		// bbolt's own words ("invalid database", a recovered memory fault) seldom say
		// where; the check usually can.
		if cerr := Check(path); cerr != nil {
			return nil, cerr
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// The file is locked now: nobody else writes it while it is read.
	if cerr := Check(path); cerr != nil {
		db.Close()
		return nil, cerr
	}
	s := &Store{db: db, path: path}
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists([]byte(logBucket)); err != nil {
			return err
		}
		if tx.Bucket([]byte(formatBucket)) != nil {
			return nil
		}
		return addChecksums(tx)
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return s, nil
}

// openBolt opens the file with bbolt, turning a memory fault while bbolt reads its map
// (a page beyond the end of a truncated file, a damaged freelist) into an error instead
// of a crash.
func openBolt(path string) (db *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("bbolt failed reading the file: %v", r)
		}
	}()
	return bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
}

// addChecksums gives every value of a file written before checksums its checksum, and
// marks the file as checksummed.
func addChecksums(tx *bolt.Tx) error {
	var names [][]byte
	err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		names = append(names, append([]byte(nil), name...))
		return nil
	})
	if err != nil {
		return err
	}
	for _, name := range names {
		b := tx.Bucket(name)
		type kv struct{ k, v []byte }
		var all []kv
		err := b.ForEach(func(k, v []byte) error {
			if v != nil { // nil: a nested bucket, which this package never makes
				all = append(all, kv{append([]byte(nil), k...), append([]byte(nil), v...)})
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, e := range all {
			if err := b.Put(e.k, seal(e.k, e.v)); err != nil {
				return err
			}
		}
	}
	b, err := tx.CreateBucket([]byte(formatBucket))
	if err != nil {
		return err
	}
	return b.Put([]byte(formatKey), seal([]byte(formatKey), []byte(formatValue)))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksum covers the key and the value, so a value that moved to another key is caught
// too.
func checksum(key, v []byte) uint32 {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(key)))
	c := crc32.Update(0, castagnoli, n[:])
	c = crc32.Update(c, castagnoli, key)
	return crc32.Update(c, castagnoli, v)
}

// seal is v followed by its checksum.
func seal(key, v []byte) []byte {
	out := make([]byte, len(v)+sumSize)
	copy(out, v)
	binary.BigEndian.PutUint32(out[len(v):], checksum(key, v))
	return out
}

// unseal checks a stored value's checksum and returns the value without it.
func unseal(key, stored []byte) ([]byte, bool) {
	if len(stored) < sumSize {
		return nil, false
	}
	v := stored[:len(stored)-sumSize]
	return v, binary.BigEndian.Uint32(stored[len(v):]) == checksum(key, v)
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Broken is the error wrapping ErrNotDurable once a commit may have reached the file
// without being made durable, and nil before: a server can report itself not ready.
func (s *Store) Broken() error { return s.failed() }

func (s *Store) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.broken
}

// Update runs fn in a write transaction and makes it durable (fsync) before returning
// nil. If fn fails, nothing it did is kept and its error is returned as it is. If the
// commit fails (a full disk, an I/O error), the error names the file; when the failed
// commit may nevertheless have reached the file, it wraps ErrNotDurable and the store
// refuses everything after it.
func (s *Store) Update(fn func(*Tx) error) error {
	s.write.Lock()
	defer s.write.Unlock()
	if err := s.failed(); err != nil {
		return err
	}
	var (
		fnErr error
		txid  int
	)
	err := s.db.Update(func(tx *bolt.Tx) error {
		txid = tx.ID()
		t := &Tx{tx: tx, s: s}
		fnErr = fn(t)
		if fnErr == nil {
			fnErr = t.err
		}
		return fnErr
	})
	if err == nil || fnErr != nil {
		return err
	}
	if txid == 0 { // no transaction began (the store is closed)
		return fmt.Errorf("journal %s: %w", s.path, err)
	}
	// The commit failed. bbolt writes the data pages, fsyncs, then writes the meta page
	// and fsyncs again, and on an error forgets the transaction in memory. That is the
	// whole story unless the meta page was written and only its fsync failed: then the
	// page cache, which bbolt reads through its map, holds the new meta page, and the
	// "failed" transaction is what the next one would build on.
	var now int
	if verr := s.db.View(func(tx *bolt.Tx) error { now = tx.ID(); return nil }); verr != nil || now >= txid {
		s.mu.Lock()
		if s.broken == nil {
			s.broken = fmt.Errorf("journal %s: %w (the commit failed: %w)", s.path, ErrNotDurable, err)
		}
		broken := s.broken
		s.mu.Unlock()
		return broken
	}
	return fmt.Errorf("journal %s: write not stored: %w", s.path, err)
}

// View runs fn in a read transaction that sees one consistent state. A value that fails
// its checksum fails the transaction with a *CorruptError, even if fn ignored it.
func (s *Store) View(fn func(*Tx) error) error {
	if err := s.failed(); err != nil {
		return err
	}
	return s.db.View(func(tx *bolt.Tx) error {
		t := &Tx{tx: tx, s: s}
		err := fn(t)
		if err == nil {
			err = t.err
		}
		return err
	})
}

// Tx is a journal transaction.
type Tx struct {
	tx  *bolt.Tx
	s   *Store
	err error // the first damaged value read
}

// open checks a stored value and returns it without its checksum; a damaged value is
// recorded in the transaction (which then fails) and returned as an error.
func (t *Tx) open(bucket string, key, stored []byte) ([]byte, error) {
	v, ok := unseal(key, stored)
	if ok {
		return v, nil
	}
	err := &CorruptError{Path: t.s.path, Offset: t.offset(stored), Total: 1,
		Problem: fmt.Sprintf("bucket %q key %q: the value fails its checksum", bucket, printable(key))}
	if t.err == nil {
		t.err = err
	}
	return nil, err
}

// offset is where a value read in a read transaction lies in the file (bbolt hands out
// slices of its map); -1 when it is not in the map (a value written in this transaction).
func (t *Tx) offset(v []byte) int64 {
	if t.tx.Writable() || len(v) == 0 {
		return -1
	}
	base := t.s.db.Info().Data
	p := uintptr(unsafe.Pointer(unsafe.SliceData(v)))
	if p < base || int64(p-base) >= t.tx.Size() {
		return -1
	}
	return int64(p - base)
}

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

// Append adds an entry to the log under the next sequence number; make builds the entry
// from that number, so it may sign it. Sequence numbers start at 1 and never repeat.
func (t *Tx) Append(make func(seq uint64) ([]byte, error)) (uint64, error) {
	b := t.tx.Bucket([]byte(logBucket))
	seq := b.Sequence() + 1
	v, err := make(seq)
	if err != nil {
		return 0, err
	}
	if err := b.SetSequence(seq); err != nil {
		return 0, err
	}
	k := seqKey(seq)
	return seq, b.Put(k, seal(k, v))
}

// LastSeq is the sequence number of the last entry appended (0 for none).
func (t *Tx) LastSeq() uint64 {
	return t.tx.Bucket([]byte(logBucket)).Sequence()
}

// Scan calls fn for each log entry after the given sequence number, in order, until fn
// returns an error; ErrStop ends the scan cleanly. In a write transaction v is valid only
// during the call; in a read transaction (View) it is bbolt's slice of the mapped file,
// valid until the transaction ends (start-up decodes entries on other goroutines before
// it does), and never to be written to. An entry that fails its checksum ends the scan
// with a *CorruptError.
func (t *Tx) Scan(after uint64, fn func(seq uint64, v []byte) error) error {
	if after == math.MaxUint64 {
		return nil // nothing can follow the last number (and after+1 would wrap to 0)
	}
	c := t.tx.Bucket([]byte(logBucket)).Cursor()
	for k, stored := c.Seek(seqKey(after + 1)); k != nil; k, stored = c.Next() {
		if len(k) != 8 {
			return fmt.Errorf("journal: malformed log key %x", k)
		}
		v, err := t.open(logBucket, k, stored)
		if err != nil {
			return err
		}
		if err := fn(binary.BigEndian.Uint64(k), v); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}

// Put stores value under key in the named bucket, creating the bucket if needed.
func (t *Tx) Put(bucket, key string, value []byte) error {
	b, err := t.tx.CreateBucketIfNotExists([]byte(bucket))
	if err != nil {
		return err
	}
	return b.Put([]byte(key), seal([]byte(key), value))
}

// Get returns a copy of the value under key in the named bucket, or nil. A value that
// fails its checksum reads as nil and fails the transaction.
func (t *Tx) Get(bucket, key string) []byte {
	b := t.tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	stored := b.Get([]byte(key))
	if stored == nil {
		return nil
	}
	v, err := t.open(bucket, []byte(key), stored)
	if err != nil {
		return nil
	}
	return append([]byte{}, v...)
}

// PutUint stores an unsigned number under key.
func (t *Tx) PutUint(bucket, key string, n uint64) error {
	return t.Put(bucket, key, seqKey(n))
}

// GetUint reads a number stored with PutUint (0 if absent).
func (t *Tx) GetUint(bucket, key string) uint64 {
	v := t.Get(bucket, key)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// DeleteBucket removes the named bucket and everything in it (nothing if it is absent).
func (t *Tx) DeleteBucket(bucket string) error {
	err := t.tx.DeleteBucket([]byte(bucket))
	if errors.Is(err, bolt.ErrBucketNotFound) {
		return nil
	}
	return err
}

// ForEach calls fn for every key in the named bucket, in key order. A value that fails
// its checksum ends it with a *CorruptError.
func (t *Tx) ForEach(bucket string, fn func(key string, value []byte) error) error {
	b := t.tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, stored []byte) error {
		v, err := t.open(bucket, k, stored)
		if err != nil {
			return err
		}
		return fn(string(k), v)
	})
}

// ---------------------------------------------------------------------------
// The check at open.
//
// It reads the file with plain reads, not through bbolt's map, and trusts nothing it has
// not checked: a page number is followed only once it is known to lie inside the pages in
// use, an element only once it lies inside its page, a page only once (so a damaged
// reference cannot send it round in a loop). bbolt's own tx.Check walks the map and
// follows references as it finds them, so on a damaged file it can fault or recurse
// without end; after this check it cannot, and this check covers what it checks
// (references out of range or repeated, pages neither in use nor free, free pages in use)
// plus the element bounds, the key order and the values' checksums.

// bbolt's file format (go.etcd.io/bbolt internal/common: page.go, meta.go), stable since
// boltdb: a 16-byte page header (id u64, flags u16, count u16, overflow u32), then the
// elements; pages 0 and 1 are meta pages; numbers in the machine's byte order.
const (
	pageHeaderSize  = 16
	elementSize     = 16 // branch: pos u32, ksize u32, pgid u64; leaf: flags u32, pos u32, ksize u32, vsize u32
	branchPageFlag  = 0x01
	leafPageFlag    = 0x02
	metaPageFlag    = 0x04
	freelistFlag    = 0x10
	bucketLeafFlag  = 0x01
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	noFreelist      = math.MaxUint64
	inBucketSize    = 16 // root pgid u64, sequence u64
	metaChecksumEnd = pageHeaderSize + 56
	maxDepth        = 64   // far deeper than any real tree: a deeper one is a loop
	maxProblems     = 5    // problems reported in full
	maxCounted      = 1000 // problems counted before the check stops
)

var ne = binary.NativeEndian

// meta is a meta page's fields.
type meta struct {
	page     int
	valid    error
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64 // pages in use: every page number is below it
	txid     uint64
}

func readMeta(buf []byte, page int) meta {
	m := meta{page: page}
	if len(buf) < metaChecksumEnd+8 {
		m.valid = errors.New("cut short")
		return m
	}
	h := fnv.New64a()
	h.Write(buf[pageHeaderSize:metaChecksumEnd])
	m.pageSize = ne.Uint32(buf[24:])
	m.root = ne.Uint64(buf[32:])
	m.freelist = ne.Uint64(buf[48:])
	m.pgid = ne.Uint64(buf[56:])
	m.txid = ne.Uint64(buf[64:])
	switch {
	case ne.Uint32(buf[16:]) != boltMagic:
		m.valid = errors.New("not a bbolt meta page (wrong magic number)")
	case ne.Uint32(buf[20:]) != boltVersion:
		m.valid = fmt.Errorf("bbolt format version %d, want %d", ne.Uint32(buf[20:]), boltVersion)
	case ne.Uint64(buf[metaChecksumEnd:]) != h.Sum64():
		m.valid = errors.New("checksum mismatch")
	case m.pageSize < 512 || m.pageSize&(m.pageSize-1) != 0:
		m.valid = fmt.Errorf("page size %d", m.pageSize)
	}
	return m
}

// checker walks one file.
type checker struct {
	f         *os.File
	size      int64
	ps        int64
	pgid      uint64  // pages in use
	state     []uint8 // per page: 0 not seen, 1 in use, 2 free
	problems  []problem
	total     int
	format    bool      // the file says its values carry checksums
	goodSums  int       // values passing their checksum
	badSums   []problem // values failing it
	logSeq    uint64    // the log bucket's sequence: its last entry
	logNext   uint64    // the log key expected next
	logBroken bool      // a log key out of place was reported
}

type problem struct {
	off  int64
	what string
}

const (
	seen = 1
	free = 2
)

func (c *checker) add(off int64, format string, args ...any) {
	c.total++
	if len(c.problems) < maxProblems {
		c.problems = append(c.problems, problem{off, fmt.Sprintf(format, args...)})
	}
}

func (c *checker) stop() bool { return c.total >= maxCounted }

// Check checks the journal file at path as Open does, without opening it with bbolt
// (so without taking its lock: check a file no process is writing), and returns a
// *CorruptError, or nil if it found nothing wrong. A missing or empty file is fine: Open
// creates it.
func Check(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if fi.Size() == 0 {
		return nil
	}
	c := &checker{f: f, size: fi.Size()}
	c.run()
	if c.total == 0 {
		return nil
	}
	e := &CorruptError{Path: path, Offset: c.problems[0].off, Problem: c.problems[0].what, Total: c.total}
	for _, p := range c.problems[1:] {
		e.More = append(e.More, fmt.Sprintf("at offset %d: %s", p.off, p.what))
	}
	return e
}

func (c *checker) run() {
	// Meta pages: page 0 at offset 0 says the page size; page 1 follows.
	buf := make([]byte, 4096)
	n, _ := c.f.ReadAt(buf, 0)
	m0 := readMeta(buf[:n], 0)
	c.ps = int64(os.Getpagesize()) // bbolt's default page size, which Open uses
	if m0.valid == nil {
		c.ps = int64(m0.pageSize)
	}
	buf = make([]byte, c.ps)
	n, _ = c.f.ReadAt(buf, c.ps)
	m1 := readMeta(buf[:n], 1)
	metas := []meta{m0, m1}
	var use *meta
	for i := range metas {
		m := &metas[i]
		if m.valid != nil {
			continue
		}
		if use == nil || m.txid > use.txid {
			use = m
		}
	}
	if use == nil {
		c.add(0, "both meta pages are damaged (page 0: %v; page 1: %v): this is not a journal, or its header is destroyed", m0.valid, m1.valid)
		return
	}
	for _, m := range metas {
		if m.valid != nil {
			// A meta page is 80 bytes written in one piece: it is not torn by a crash.
			// bbolt would quietly use the other one, which may be a transaction older
			// than the last one acknowledged.
			c.add(int64(m.page)*c.ps, "meta page %d is damaged (%v); it may hold the last transaction committed (the other meta page holds transaction %d), which bbolt would drop without a word", m.page, m.valid, use.txid)
		}
	}
	if int64(use.pageSize) != c.ps {
		c.add(int64(use.page)*c.ps, "meta page %d says page size %d, but meta page 0 is at page size %d", use.page, use.pageSize, c.ps)
		return
	}
	c.pgid = use.pgid
	if c.pgid < 3 || c.pgid > uint64(math.MaxInt64/c.ps) {
		c.add(int64(use.page)*c.ps, "meta page %d says %d pages are in use", use.page, c.pgid)
		return
	}
	if want := int64(c.pgid) * c.ps; c.size < want {
		c.add(c.size, "the file is %d bytes, but its %d pages of %d bytes reach %d: it is truncated, and page %d onwards is missing or cut short", c.size, c.pgid, c.ps, want, c.size/c.ps)
		return
	}
	c.state = make([]uint8, c.pgid)
	c.state[0], c.state[1] = seen, seen
	if use.freelist != noFreelist {
		c.freelist(use.freelist, int64(use.page)*c.ps)
	}
	if c.stop() {
		return
	}
	c.page(use.root, nil, "the root bucket", int64(use.page)*c.ps, 0, nil, nil)
	if c.stop() {
		return
	}
	for id := uint64(2); id < c.pgid && !c.stop(); id++ {
		if c.state[id] == 0 {
			c.add(int64(id)*c.ps, "page %d is neither in use nor free", id)
		}
	}
	// A file written before checksums has no format mark and values that fail them
	// (each passes by chance once in 2^32). A file with values that pass but no mark has
	// lost its mark: treating it as unchecksummed would seal every value twice.
	switch {
	case c.format:
	case c.goodSums > 0:
		c.add(-1, "bucket %q key %q, which says the values carry checksums, is missing or damaged", formatBucket, formatKey)
	default:
		return // written before checksums: Open adds them
	}
	for _, p := range c.badSums {
		c.add(p.off, "%s", p.what)
	}
}

// claim marks pages id..id+overflow as in use, reporting any already claimed.
func (c *checker) claim(id uint64, overflow uint32, what string, state uint8) bool {
	ok := true
	for p := id; p <= id+uint64(overflow); p++ {
		switch c.state[p] {
		case 0:
			c.state[p] = state
		case free:
			c.add(int64(p)*c.ps, "page %d (%s) is also on the free list: a write would overwrite it", p, what)
			ok = false
		default:
			c.add(int64(p)*c.ps, "page %d (%s) is referenced twice", p, what)
			ok = false
		}
	}
	return ok
}

// read reads page id whole (with its overflow pages), checking its header.
func (c *checker) read(id uint64, from string, fromOff int64, wantFlags uint16) ([]byte, bool) {
	if id < 2 || id >= c.pgid {
		c.add(fromOff, "%s refers to page %d, outside the %d pages in use", from, id, c.pgid)
		return nil, false
	}
	off := int64(id) * c.ps
	hdr := make([]byte, pageHeaderSize)
	if _, err := c.f.ReadAt(hdr, off); err != nil {
		c.add(off, "page %d: %v", id, err)
		return nil, false
	}
	pid, flags, overflow := ne.Uint64(hdr), ne.Uint16(hdr[8:]), ne.Uint32(hdr[12:])
	switch {
	case pid != id:
		c.add(off, "page %d (%s) calls itself page %d", id, from, pid)
		return nil, false
	case flags&wantFlags == 0 || flags&(flags-1) != 0:
		c.add(off, "page %d (%s) has type flags %#x", id, from, flags)
		return nil, false
	case uint64(overflow) >= c.pgid-id:
		c.add(off, "page %d (%s) says it runs on for %d pages, past the %d pages in use", id, from, overflow, c.pgid)
		return nil, false
	}
	if !c.claim(id, overflow, from, seen) {
		return nil, false
	}
	buf := make([]byte, (int64(overflow)+1)*c.ps)
	if _, err := c.f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		c.add(off, "page %d: %v", id, err)
		return nil, false
	}
	return buf, true
}

func (c *checker) freelist(id uint64, fromOff int64) {
	buf, ok := c.read(id, "the free list", fromOff, freelistFlag)
	if !ok {
		return
	}
	off := int64(id) * c.ps
	n, start := uint64(ne.Uint16(buf[10:])), uint64(pageHeaderSize)
	if n == 0xFFFF { // bbolt's mark for a count too large for the header
		n, start = ne.Uint64(buf[pageHeaderSize:]), pageHeaderSize+8
	}
	if n > (uint64(len(buf))-start)/8 {
		c.add(off, "the free list (page %d) says it lists %d pages, more than it can hold", id, n)
		return
	}
	for i := range n {
		p := ne.Uint64(buf[start+8*i:])
		switch {
		case p < 2 || p >= c.pgid:
			c.add(off, "the free list (page %d) lists page %d, outside the %d pages in use", id, p, c.pgid)
		case c.state[p] == free:
			c.add(off, "the free list (page %d) lists page %d twice", id, p)
		case c.state[p] == seen:
			c.add(off, "the free list (page %d) lists page %d, which is in use", id, p)
		default:
			c.state[p] = free
		}
		if c.stop() {
			return
		}
	}
}

// page checks a branch or leaf page of a bucket (bucket nil: the root bucket, whose
// entries are the top-level buckets) and everything under it. Every key under it must lie
// in [lower, upper) (nil: unbounded), as the branch page above promises: bbolt's Seek
// trusts those bounds.
func (c *checker) page(id uint64, bucket []byte, from string, fromOff int64, depth int, lower, upper []byte) {
	if depth > maxDepth {
		c.add(fromOff, "%s: the tree is more than %d levels deep (a loop)", from, maxDepth)
		return
	}
	buf, ok := c.read(id, from, fromOff, branchPageFlag|leafPageFlag)
	if !ok {
		return
	}
	c.elements(buf, int64(id)*c.ps, fmt.Sprintf("page %d", id), bucket, depth, lower, upper)
}

// elements checks the elements of a page held in buf (a page read from the file, or an
// inline bucket's page inside a value), which starts at offset base of the file. bbolt
// writes a page's keys and values one after the other, in element order, right after the
// element headers (internal/common/inode.go, WriteInodeToPage), so each element's data
// must start where the one before ended: an element count, position or size that was
// changed cannot go unnoticed, nor hide the elements after it.
func (c *checker) elements(buf []byte, base int64, name string, bucket []byte, depth int, lower, upper []byte) {
	flags, count := ne.Uint16(buf[8:]), int(ne.Uint16(buf[10:]))
	if pageHeaderSize+count*elementSize > len(buf) {
		c.add(base+8, "%s has %d elements, more than fit in it", name, count)
		return
	}
	next := uint64(pageHeaderSize + count*elementSize) // where the next element's data must start
	var prev []byte
	for i := range count {
		at := pageHeaderSize + i*elementSize
		e := buf[at : at+elementSize]
		var pos, ksize, vsize uint64
		if flags == branchPageFlag {
			pos, ksize = uint64(ne.Uint32(e)), uint64(ne.Uint32(e[4:]))
		} else {
			pos, ksize, vsize = uint64(ne.Uint32(e[4:])), uint64(ne.Uint32(e[8:])), uint64(ne.Uint32(e[12:]))
		}
		kstart := uint64(at) + pos
		if kstart != next || ksize == 0 || kstart+ksize+vsize > uint64(len(buf)) {
			c.add(base+int64(at), "%s element %d: its key and value are not where the element before ended (or run past the page)", name, i)
			return
		}
		next = kstart + ksize + vsize
		key := buf[kstart : kstart+ksize]
		switch {
		case prev != nil && bytes.Compare(prev, key) >= 0:
			c.add(base+int64(kstart), "%s element %d: key %q is not after the key before it", name, i, printable(key))
		case lower != nil && bytes.Compare(key, lower) < 0, upper != nil && bytes.Compare(key, upper) >= 0:
			c.add(base+int64(kstart), "%s element %d: key %q is outside the range the branch page above gives this page", name, i, printable(key))
		}
		prev = key
		if flags == branchPageFlag {
			childUpper := upper
			if i+1 < count { // the next separator; read only once it is known to lie in the page
				ne2 := buf[at+elementSize:]
				if p2, k2 := uint64(at+elementSize)+uint64(ne.Uint32(ne2)), uint64(ne.Uint32(ne2[4:])); p2+k2 <= uint64(len(buf)) {
					childUpper = buf[p2 : p2+k2]
				}
			}
			c.page(ne.Uint64(e[8:]), bucket, fmt.Sprintf("%s element %d", name, i), base+int64(at), depth+1, key, childUpper)
		} else {
			value := buf[kstart+ksize : kstart+ksize+vsize]
			voff := base + int64(kstart+ksize)
			if ne.Uint32(e)&bucketLeafFlag != 0 {
				c.bucket(key, value, voff, fmt.Sprintf("%s element %d (bucket %q)", name, i, printable(key)), depth, bucket == nil)
			} else if bucket == nil {
				c.add(voff, "%s element %d: a value where the root bucket holds only buckets", name, i)
			} else {
				c.value(bucket, key, value, voff)
			}
		}
		if c.stop() {
			return
		}
	}
}

// bucket checks a bucket whose header (and, for a small bucket, its whole page) is the
// value held under its name; top says it is a top-level bucket.
func (c *checker) bucket(name, value []byte, off int64, from string, depth int, top bool) {
	if len(value) < inBucketSize {
		c.add(off, "%s: the bucket header is cut short", from)
		return
	}
	isLog := top && string(name) == logBucket
	if isLog {
		c.logSeq, c.logNext = ne.Uint64(value[8:]), 1
	}
	if root := ne.Uint64(value); root != 0 {
		c.page(root, name, from, off, depth+1, nil, nil)
	} else if inline := value[inBucketSize:]; len(inline) < pageHeaderSize || ne.Uint16(inline[8:]) != leafPageFlag {
		c.add(off, "%s: the bucket's inline page is damaged", from)
	} else {
		c.elements(inline, off+inBucketSize, from+" inline page", name, depth, nil, nil)
	}
	// The log is appended to and never deleted from: its keys are 1 to its sequence.
	if isLog && !c.logBroken && c.logNext-1 != c.logSeq && !c.stop() {
		c.add(off, "the log's sequence is %d, but its entries run to %d: entries are missing", c.logSeq, c.logNext-1)
	}
}

func (c *checker) value(bucket, key, stored []byte, off int64) {
	if string(bucket) == logBucket && !c.logBroken {
		if len(key) != 8 || binary.BigEndian.Uint64(key) != c.logNext {
			c.add(off, "log key %x where entry %d should be: entries are missing or misplaced", key, c.logNext)
			c.logBroken = true // reported once
		} else {
			c.logNext++
		}
	}
	if string(bucket) == formatBucket && string(key) == formatKey {
		if v, ok := unseal(key, stored); ok && string(v) == formatValue {
			c.format = true
		}
	}
	if _, ok := unseal(key, stored); ok {
		c.goodSums++
	} else if len(c.badSums) < maxCounted {
		what := fmt.Sprintf("bucket %q key %q: the value fails its checksum", printable(bucket), printable(key))
		if string(bucket) == logBucket && len(key) == 8 {
			what = fmt.Sprintf("log entry %d: the value fails its checksum", binary.BigEndian.Uint64(key))
		}
		c.badSums = append(c.badSums, problem{off, what})
	}
}

// printable shows a key as text when it is text, else in hex.
func printable(k []byte) string {
	for _, b := range k {
		if b < 0x20 || b > 0x7e {
			return fmt.Sprintf("%x", k)
		}
	}
	return string(k)
}
