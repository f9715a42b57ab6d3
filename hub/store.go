package hub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/hashicorp/go-memdb"
)

// memdb tables and indexes.
const (
	tablePrograms = "programs"
	tableKeys     = "keys"
	tableRecords  = "records"
	tableAcks     = "acks"

	indexID       = "id"
	indexProgram  = "program"
	indexRecord   = "record"
	indexAlliance = "alliance"
	indexConflict = "conflict"
)

// Journal buckets.
const bucketPrograms = "programs"

// programState is an enrolled program and its sync position. Objects read from memdb are
// shared: copy before changing.
type programState struct {
	Code        string        `json:"code"`
	Name        string        `json:"name"`
	EnrolledAt  time.Time     `json:"enrolled_at"`
	Keys        []enrolledKey `json:"keys"`
	Checkpoint  uint64        `json:"checkpoint"`
	LastPushAt  *time.Time    `json:"last_push_at,omitempty"`
	LastBatchID string        `json:"last_batch_id,omitempty"`
	// Head is the node's last sequence number as of its last accepted push (0: the
	// node did not say).
	Head uint64 `json:"head,omitempty"`
	// LastError is the last push refused after the program authenticated; the next
	// accepted push clears it.
	LastError *PushError `json:"last_error,omitempty"`
	// LastPullAt is the program's last read of the change feed. The journal has it to
	// within pullSaveEvery (noteContact).
	LastPullAt *time.Time `json:"last_pull_at,omitempty"`
	pullSaved  time.Time  // the LastPullAt noteContact last wrote to the journal
	// Outcomes counts every record the program pushed, by outcome, since enrollment:
	// stale and replayed (duplicate) revisions are counted, never applied over newer ones.
	Outcomes map[wire.Outcome]uint64 `json:"outcomes,omitempty"`
}

// enrolledKey (a program's public key and its lifecycle) is in keys.go.

// revision is one stored signed revision of a record.
type revision struct {
	RecordID   string
	Program    string
	Rev        string
	Prev       string
	Gen        int
	Hash       string
	Kid        string
	SignedAt   time.Time
	ReceivedAt time.Time
	HubSeq     uint64
	Resolves   []string // competing revisions this one ends
	Kind       schema.Kind
	Alliance   *schema.Alliance // kind alliance; Rev set
	Report     *schema.Report   // kind report; Rev set
}

func (r *revision) node() revNode {
	return revNode{Rev: r.Rev, Prev: r.Prev, Gen: r.Gen, Hash: r.Hash, Deleted: r.Kind == schema.KindTombstone, Resolves: r.Resolves}
}

// entry is a record the hub holds: its winning revision and conflict state. Alliances
// (not deleted) make the national roster; reports are found by their Alliance.
type entry struct {
	ID         string
	Program    string
	Kind       schema.Kind // of the record: alliance (its tombstone included) or report
	AllianceID string      // the Alliance itself, or the one a report is for
	Winner     *revision
	Conflict   bool
	ord        uint32 // the roster index's ordinal (index.go); 0: never on the roster
	// Revs are every stored revision of the record, in rev order (Winner among them).
	// They live in the entry rather than in a table of their own, where each cost a
	// radix leaf of some 600 bytes to write and to hold (issue 7); a new revision makes a
	// new entry with a new slice, so a snapshot's slice never changes.
	Revs []*revision
}

// onRoster reports whether the entry is an Alliance the roster shows: not a report, and
// not a draft deleted by its tombstone.
func (e *entry) onRoster() bool { return e.Kind == schema.KindAlliance && e.Winner.Alliance != nil }

// logEntry is one accepted revision in the hub's journal: the signed bytes as received.
type logEntry struct {
	ReceivedAt time.Time `json:"received_at"`
	JWS        string    `json:"jws,omitempty"`  // a program's signed record
	Note       string    `json:"note,omitempty"` // or the hub's own signed note (notes.go)
}

// newStateDB makes the empty memdb state of a hub or replica: its tables, an empty
// roster index and the change feed's head.
//
// It is memdb's snapshot of a new database rather than the database itself: memdb
// tracks the radix nodes a write changes on its primary database only, to close their
// watch channels at commit, and past 8,192 changed nodes in one index it finds them by
// comparing the whole old and new trees (go-immutable-radix's slowNotify), a cost in
// proportion to everything held, paid by every large transaction (a group commit that
// makes many links, start-up). Nothing here watches memdb's channels: long polls wait on
// the feed head's own channel (setHead), and the caches that use a root's channel only
// compare it, which a snapshot's writes replace just the same (index_cache.go).
func newStateDB(catalog *schema.Catalog) (*memdb.MemDB, error) {
	primary, err := memdb.NewMemDB(dbSchema())
	if err != nil {
		return nil, err
	}
	db := primary.Snapshot()
	txn := db.Txn(true)
	defer txn.Abort()
	if err := initRosterIndex(txn, catalog); err != nil {
		return nil, err
	}
	if err := setHead(txn, 0); err != nil {
		return nil, err
	}
	txn.Commit()
	return db, nil
}

func dbSchema() *memdb.DBSchema {
	id := func(field string) *memdb.IndexSchema {
		return &memdb.IndexSchema{Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: field}}
	}
	return &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		tablePrograms: {Name: tablePrograms, Indexes: map[string]*memdb.IndexSchema{
			indexID: id("Code"), // enrolled program by code; GET /v1/programs in code order
		}},
		tableKeys: {Name: tableKeys, Indexes: map[string]*memdb.IndexSchema{
			indexID: id("Kid"), // signature and token verification by kid
			// program serves the keys listed per program
			indexProgram: {Name: indexProgram, Indexer: &memdb.StringFieldIndex{Field: "Program"}},
		}},
		tableAcks: {Name: tableAcks, Indexes: map[string]*memdb.IndexSchema{
			indexID: id("ID"), // DCSP's acknowledgement of a conflict, by record id
		}},
		tableFeed: {Name: tableFeed, Indexes: map[string]*memdb.IndexSchema{
			indexID: id("ID"), // the one head row; long polls watch it
		}},
		tableRecords: {Name: tableRecords, Indexes: map[string]*memdb.IndexSchema{
			// the roster in id order, one record by id, and, by prefix, a program's
			// records (ofProgram)
			indexID: id("ID"),
			// alliance serves an Alliance's reports, for its compliance; it holds reports
			// only (an index entry costs memdb some 400 bytes: issue 7's memory budget)
			indexAlliance: {Name: indexAlliance, AllowMissing: true, Indexer: onlyIf{
				&memdb.StringFieldIndex{Field: "AllianceID"}, func(e *entry) bool { return e.Kind == schema.KindReport }}},
			// conflict serves the conflict queue: it holds the records with competing
			// branches only, and answers Get(tableRecords, indexConflict, true)
			indexConflict: {Name: indexConflict, AllowMissing: true, Indexer: onlyIf{
				&memdb.BoolFieldIndex{Field: "Conflict"}, func(e *entry) bool { return e.Conflict }}},
		}},
		tableRecordCounts: {Name: tableRecordCounts, Indexes: map[string]*memdb.IndexSchema{
			indexID: id("Program"), // GET /v1/programs: a program's records, without counting them
		}},
		tableRosterIndex: {Name: tableRosterIndex, Indexes: map[string]*memdb.IndexSchema{
			indexID: id("ID"), // the one roster index row (index.go), read with each roster query
		}},
		tableLinks: {Name: tableLinks, Indexes: map[string]*memdb.IndexSchema{
			indexID: id("ID"), // GET /v1/links in id order, and one link by id
			// record serves a record's links (roster items, the change feed) and relinking
			indexRecord: {Name: indexRecord, Indexer: &memdb.StringSliceFieldIndex{Field: "RecordIDs"}},
			// state serves GET /v1/links?state=
			// (decided links only: decidedIndex)
			indexState: {Name: indexState, AllowMissing: true, Indexer: decidedIndex{&memdb.StringFieldIndex{Field: "State"}}},
		}},
		tableNameIndex: {Name: tableNameIndex, Indexes: map[string]*memdb.IndexSchema{
			indexID: id("ID"), // the one name index row (names.go), for the matcher
		}},
		tableLinkDecisions: {Name: tableLinkDecisions, Indexes: map[string]*memdb.IndexSchema{
			indexID: id("ID"), // DCSP's decision on a link, by link id
			// record serves relinking: the decided links a record keeps
			indexRecord: {Name: indexRecord, Indexer: &memdb.StringSliceFieldIndex{Field: "RecordIDs"}},
		}},
	}}
}

// tableRecordCounts holds, per program, how many records and revisions the hub holds
// (records of every kind: a record is never removed, a deleted draft keeps its
// tombstone), so that GET /v1/programs and /metrics do not walk them.
const tableRecordCounts = "record_counts"

type recordCount struct {
	Program   string
	Records   int
	Revisions int
}

// countTxn counts a stored revision of program, and its record if it is new to the hub.
func countTxn(txn *memdb.Txn, program string, newRecord bool) error {
	c, err := countsOf(txn, program)
	if err != nil {
		return err
	}
	c.Revisions++
	if newRecord {
		c.Records++
	}
	return txn.Insert(tableRecordCounts, &c)
}

// countsOf is what the hub holds of program.
func countsOf(txn *memdb.Txn, program string) (recordCount, error) {
	raw, err := txn.First(tableRecordCounts, indexID, program)
	if err != nil || raw == nil {
		return recordCount{Program: program}, err
	}
	return *raw.(*recordCount), nil
}

// indexIDPrefix is the prefix form of the id index: memdb answers Get(table,
// indexIDPrefix, p) with the rows whose id begins with p, in id order.
const indexIDPrefix = indexID + "_prefix"

// revisionsOf is the stored revisions of one record in rev order (none: not stored).
// The slice is the snapshot's: never change it.
func revisionsOf(txn *memdb.Txn, recordID string) ([]*revision, error) {
	e, err := entryOf(txn, recordID)
	if err != nil || e == nil {
		return nil, err
	}
	return e.Revs, nil
}

// revisionOf is revision rev of a record, nil if not stored.
func revisionOf(txn *memdb.Txn, recordID, rev string) (*revision, error) {
	revs, err := revisionsOf(txn, recordID)
	if err != nil {
		return nil, err
	}
	if i, ok := slices.BinarySearchFunc(revs, rev, func(r *revision, rev string) int { return strings.Compare(r.Rev, rev) }); ok {
		return revs[i], nil
	}
	return nil, nil
}

// ofProgram iterates one program's rows of table (records) in id order.
// Every id begins with its program's code and a hyphen, which no code holds
// (schema.ProgramOfID), and the hub stores a record only for the program its id names.
func ofProgram(txn *memdb.Txn, table, program string) (memdb.ResultIterator, error) {
	return txn.Get(table, indexIDPrefix, program+"-")
}

// onlyIf indexes the entries keep accepts with index, and no other.
type onlyIf struct {
	index interface {
		memdb.SingleIndexer
		memdb.Indexer
	}
	keep func(*entry) bool
}

func (o onlyIf) FromObject(obj any) (bool, []byte, error) {
	if !o.keep(obj.(*entry)) {
		return false, nil, nil
	}
	return o.index.FromObject(obj)
}

func (o onlyIf) FromArgs(args ...any) ([]byte, error) { return o.index.FromArgs(args...) }

// load rebuilds memdb from the journal: enrolled programs and keys, then every stored
// revision in the order it was accepted, through the same reconciliation as live pushes,
// so the roster after a restart is exactly the roster before it.
//
// Decoding an entry (its JSON, the signed record's body, its name keys) needs nothing
// but the entry and is most of the work (issue 7: start-up): workers on every core
// decode the entries a batch at a time while this goroutine applies the decoded batches
// in journal order. Nobody reads memdb before load returns, so it commits every
// loadCommitEvery entries: a transaction that changes more radix nodes than memdb
// tracks copies them again and compares whole trees at commit. A failed load leaves a
// memdb nobody will use.
func (h *Hub) load() error {
	txn := h.db.Txn(true)
	defer func() { txn.Abort() }()
	names := map[string]*nameKeys{} // the name keys of each record's last revision
	err := h.journal.View(func(tx *journal.Tx) error {
		err := tx.ForEach(bucketPrograms, func(code string, v []byte) error {
			var p programState
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("program %s: %w", code, err)
			}
			return insertProgramTxn(txn, &p)
		})
		if err != nil {
			return err
		}
		workers := runtime.GOMAXPROCS(0)
		work := make(chan *decodeBatch)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for b := range work {
					b.out = make([]decoded, len(b.raws))
					for i, v := range b.raws {
						b.out[i] = decodeEntry(b.seqs[i], v)
					}
					close(b.done)
				}
			})
		}
		// The workers are done with the entries, which the store lends only until
		// View returns, before it does.
		defer func() {
			close(work)
			wg.Wait()
		}()
		var (
			pending []*decodeBatch // sent to the workers, in journal order
			applied int
			last    uint64
			seen    bool
		)
		applyOldest := func() error {
			b := pending[0]
			pending = pending[1:]
			<-b.done
			for _, d := range b.out {
				switch {
				case d.err != nil:
					return d.err
				case d.note != nil:
					if err := applyNoteTxn(txn, d.note, false); err != nil {
						return fmt.Errorf("journal entry %d: %w", d.seq, err)
					}
				default:
					if _, err := applyTxn(txn, d.rv); err != nil {
						return err
					}
					if d.keys != nil {
						names[d.rv.RecordID] = d.keys
					}
				}
				last, seen = d.seq, true
				if applied++; applied%loadCommitEvery == 0 {
					if err := setHead(txn, last); err != nil {
						return err
					}
					txn.Commit()
					txn = h.db.Txn(true)
				}
			}
			return nil
		}
		cur := newDecodeBatch()
		send := func() error {
			work <- cur
			pending = append(pending, cur)
			cur = newDecodeBatch()
			for len(pending) > 2*workers {
				if err := applyOldest(); err != nil {
					return err
				}
			}
			return nil
		}
		err = tx.Scan(0, func(seq uint64, v []byte) error {
			cur.seqs = append(cur.seqs, seq)
			cur.raws = append(cur.raws, v)
			if len(cur.seqs) < decodeBatchSize {
				return nil
			}
			return send()
		})
		if err == nil && len(cur.seqs) > 0 {
			err = send()
		}
		for err == nil && len(pending) > 0 {
			err = applyOldest()
		}
		if err == nil && seen {
			err = setHead(txn, last)
		}
		return err
	})
	if err != nil {
		return err
	}
	if err := relinkAllTxn(txn, names); err != nil { // links are derived: computed once, after the replay
		return err
	}
	txn.Commit()
	return nil
}

// Start-up's batches: entries decoded at a time by one worker, and entries applied
// between commits.
const (
	decodeBatchSize = 256
	loadCommitEvery = 1024
)

// decodeBatch is a batch of journal entries for a worker to decode, and what it made.
type decodeBatch struct {
	seqs []uint64
	raws [][]byte
	out  []decoded     // one for each of raws, made by the worker
	done chan struct{} // closed once out is filled
}

func newDecodeBatch() *decodeBatch {
	return &decodeBatch{done: make(chan struct{}),
		seqs: make([]uint64, 0, decodeBatchSize), raws: make([][]byte, 0, decodeBatchSize)}
}

// decoded is a journal entry made ready to apply: a hub note, or a revision with its
// name keys (nil where the matcher never reads them), or what is wrong with it.
type decoded struct {
	seq  uint64
	note *hubNote
	rv   *revision
	keys *nameKeys
	err  error
}

func decodeEntry(seq uint64, v []byte) decoded {
	var le logEntry
	if err := json.Unmarshal(v, &le); err != nil {
		return decoded{seq: seq, err: fmt.Errorf("journal entry %d: %w", seq, err)}
	}
	if le.Note != "" {
		n, err := decodeNote(le.Note)
		if err != nil {
			return decoded{seq: seq, err: fmt.Errorf("journal entry %d: %w", seq, err)}
		}
		return decoded{seq: seq, note: n}
	}
	rv, err := decodeStored(le, seq)
	if err != nil {
		return decoded{seq: seq, err: fmt.Errorf("journal entry %d: %w", seq, err)}
	}
	return decoded{seq: seq, rv: rv, keys: newNameKeys(rv)}
}

// decodeStored rebuilds a revision from the signed bytes the hub verified before storing.
func decodeStored(le logEntry, seq uint64) (*revision, error) {
	payload, kid, err := auth.UnverifiedPayload(le.JWS)
	if err != nil {
		return nil, err
	}
	var rec schema.Record
	if err := json.Unmarshal(payload, &rec); err != nil {
		return nil, err
	}
	body, err := decodeBody(&rec, false)
	if err != nil {
		return nil, err
	}
	return newRevision(&rec, body, kid, le.ReceivedAt, seq)
}

// decodeBody decodes a record's body by its kind: *schema.Alliance, *schema.Report or
// *schema.Tombstone. strict refuses fields the hub does not know.
func decodeBody(rec *schema.Record, strict bool) (any, error) {
	var v any
	switch rec.Kind {
	case schema.KindAlliance:
		v = new(schema.Alliance)
	case schema.KindReport:
		v = new(schema.Report)
	case schema.KindTombstone:
		v = new(schema.Tombstone)
	default:
		return nil, fmt.Errorf("kind %q is not one this hub accepts", rec.Kind)
	}
	dec := json.NewDecoder(bytes.NewReader(rec.Body))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return nil, fmt.Errorf("%s body: %w", rec.Kind, err)
	}
	return v, nil
}

func newRevision(rec *schema.Record, body any, kid string, received time.Time, seq uint64) (*revision, error) {
	gen, hash, err := schema.ParseRev(rec.Rev)
	if err != nil {
		return nil, err
	}
	rv := &revision{
		RecordID: rec.ID, Program: rec.Program,
		Rev: rec.Rev, Prev: rec.PrevRev, Gen: gen, Hash: hash,
		Kid: kid, SignedAt: rec.IssuedAt, ReceivedAt: received, HubSeq: seq, Kind: rec.Kind,
		Resolves: rec.Resolves,
	}
	switch b := body.(type) {
	case *schema.Alliance:
		b.Rev = rec.Rev
		rv.Alliance = b
	case *schema.Report:
		b.Rev = rec.Rev
		rv.Report = b
	}
	return rv, nil
}

func insertProgramTxn(txn *memdb.Txn, p *programState) error {
	if err := txn.Insert(tablePrograms, p); err != nil {
		return err
	}
	for i := range p.Keys {
		if err := txn.Insert(tableKeys, &p.Keys[i]); err != nil {
			return err
		}
	}
	return nil
}

// applyTxn reconciles one verified revision into the roster inside a write transaction
// and returns its outcome. Duplicates and stale revisions change nothing.
func applyTxn(txn *memdb.Txn, rv *revision) (wire.Outcome, error) {
	stored, err := revisionsOf(txn, rv.RecordID)
	if err != nil {
		return "", err
	}
	known := make([]revNode, 0, len(stored)+1)
	for _, r := range stored {
		known = append(known, r.node())
	}
	out := decide(known, rv.node())
	if !stores(out) {
		return out, nil
	}
	if err := countTxn(txn, rv.Program, len(known) == 0); err != nil {
		return "", err
	}
	i, _ := slices.BinarySearchFunc(stored, rv.Rev, func(r *revision, rev string) int { return strings.Compare(r.Rev, rev) })
	revs := slices.Insert(slices.Clip(stored), i, rv) // a new slice: the snapshot's stays
	win, leaves := winner(append(known, rv.node()))
	e := &entry{ID: rv.RecordID, Program: rv.Program, AllianceID: rv.RecordID, Conflict: leaves > 1, Revs: revs}
	for _, r := range revs {
		if r.Rev == win.Rev {
			e.Winner = r
		}
	}
	e.Kind = family(e.Winner.Kind)
	if r := e.Winner.Report; r != nil {
		e.AllianceID = r.AllianceID
	}
	if err := indexEntryTxn(txn, e); err != nil { // the roster index (index.go)
		return "", err
	}
	return out, txn.Insert(tableRecords, e)
}
