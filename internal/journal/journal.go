// Package journal is the durable store under the hub and the nodes: an append-only log of
// signed records numbered by sequence, plus small named buckets for cursors and
// settings, in one bbolt file that is fsync'd on every commit.
package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// FileName is the store's file inside a data directory.
const FileName = "alliancehub.db"

const logBucket = "log"

// ErrLocked means another process already has the data directory open.
var ErrLocked = errors.New("data directory is in use by another process")

// ErrStop ends a Scan early without error.
var ErrStop = errors.New("stop scan")

// Store is an open journal. All methods are safe for concurrent use: bbolt allows one
// writer and many readers at once.
type Store struct {
	db *bolt.DB
}

// Open opens (creating if needed) the journal in dir.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists([]byte(logBucket))
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Update runs fn in a write transaction and makes it durable (fsync) before returning
// nil. If fn fails, nothing it did is kept.
func (s *Store) Update(fn func(*Tx) error) error {
	return s.db.Update(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx}) })
}

// View runs fn in a read transaction that sees one consistent state.
func (s *Store) View(fn func(*Tx) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx}) })
}

// Tx is a journal transaction.
type Tx struct {
	tx *bolt.Tx
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
	return seq, b.Put(seqKey(seq), v)
}

// LastSeq is the sequence number of the last entry appended (0 for none).
func (t *Tx) LastSeq() uint64 {
	return t.tx.Bucket([]byte(logBucket)).Sequence()
}

// Scan calls fn for each log entry after the given sequence number, in order, until fn
// returns an error; ErrStop ends the scan cleanly. v is valid only during the call.
func (t *Tx) Scan(after uint64, fn func(seq uint64, v []byte) error) error {
	if after == math.MaxUint64 {
		return nil // nothing can follow the last number (and after+1 would wrap to 0)
	}
	c := t.tx.Bucket([]byte(logBucket)).Cursor()
	for k, v := c.Seek(seqKey(after + 1)); k != nil; k, v = c.Next() {
		if len(k) != 8 {
			return fmt.Errorf("journal: malformed log key %x", k)
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
	return b.Put([]byte(key), value)
}

// Get returns a copy of the value under key in the named bucket, or nil.
func (t *Tx) Get(bucket, key string) []byte {
	b := t.tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	v := b.Get([]byte(key))
	if v == nil {
		return nil
	}
	return append([]byte(nil), v...)
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

// ForEach calls fn for every key in the named bucket, in key order.
func (t *Tx) ForEach(bucket string, fn func(key string, value []byte) error) error {
	b := t.tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error { return fn(string(k), v) })
}
