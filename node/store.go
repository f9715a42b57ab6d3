package node

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/hashicorp/go-memdb"
)

// memdb tables and indexes.
const (
	tableAlliances = "alliances"
	tableReports   = "reports"
	indexID        = "id"
	indexAlliance  = "alliance"
)

// Journal buckets and keys.
const (
	bucketMeta    = "meta"
	keyPushCursor = "push_cursor" // last local sequence number the hub acknowledged
	keySyncStatus = "sync_status" // JSON SyncStatus of the last run
	// bucketRejected holds every revision the hub answered rejected ("ID REV" -> the
	// reason). The hub will not take it however often it is sent (docs/PROTOCOL.md
	// section 7, Checkpoint), so the digest backstop never sends it again.
	bucketRejected = "rejected"
)

// stored is an Alliance as the node holds it: the current revision and its signature.
// A deleted draft keeps its last state under the tombstone's revision. Objects read
// from memdb are shared: never change one, copy it.
type stored struct {
	ID       string
	Alliance *schema.Alliance // Rev set
	Deleted  bool             // a tombstone ended this draft; Rev is the tombstone's
	Rev      string           // current revision (the tombstone's once deleted)
	Seq      uint64           // local sequence number of this revision
	Kid      string
	SignedAt time.Time
}

// storedReport is the current revision of a report.
type storedReport struct {
	ID         string
	AllianceID string
	Report     *schema.Report // Rev set
	Seq        uint64
	Kid        string
	SignedAt   time.Time
}

func dbSchema() *memdb.DBSchema {
	return &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		tableAlliances: {
			Name: tableAlliances,
			Indexes: map[string]*memdb.IndexSchema{
				// id serves get-by-id and the id-ordered, paged list.
				indexID: {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
			},
		},
		tableReports: {
			Name: tableReports,
			Indexes: map[string]*memdb.IndexSchema{
				indexID: {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
				// alliance serves an Alliance's reports and its compliance.
				indexAlliance: {Name: indexAlliance, Indexer: &memdb.StringFieldIndex{Field: "AllianceID"}},
			},
		},
	}}
}

// load rebuilds the memdb state from the journal: the latest revision of every record.
func load(j *journal.Store, db *memdb.MemDB) error {
	txn := db.Txn(true)
	defer txn.Abort()
	err := j.View(func(tx *journal.Tx) error {
		return tx.Scan(0, func(seq uint64, v []byte) error {
			rec, kid, err := decodeEntry(string(v))
			if err == nil {
				err = applyRecord(txn, rec, kid)
			}
			if err != nil {
				return fmt.Errorf("journal entry %d: %w", seq, err)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	txn.Commit()
	return nil
}

// decodeEntry reads a signed record this node wrote. Its signature was made here, so it
// is not verified again at start.
func decodeEntry(jws string) (*schema.Record, string, error) {
	payload, kid, err := auth.UnverifiedPayload(jws)
	if err != nil {
		return nil, "", err
	}
	var rec schema.Record
	if err := json.Unmarshal(payload, &rec); err != nil {
		return nil, "", fmt.Errorf("decode record: %w", err)
	}
	return &rec, kid, nil
}

// applyRecord makes one written revision the current state of its record. The objects
// it stores are decoded from the signed body, so they share nothing with any caller's
// input and are exactly what was signed.
func applyRecord(txn *memdb.Txn, rec *schema.Record, kid string) error {
	switch rec.Kind {
	case schema.KindAlliance:
		var a schema.Alliance
		if err := json.Unmarshal(rec.Body, &a); err != nil {
			return fmt.Errorf("decode alliance %s: %w", rec.ID, err)
		}
		a.Rev = rec.Rev
		return txn.Insert(tableAlliances, &stored{ID: rec.ID, Alliance: &a, Rev: rec.Rev, Seq: rec.Seq, Kid: kid, SignedAt: rec.IssuedAt})
	case schema.KindTombstone:
		raw, err := txn.First(tableAlliances, indexID, rec.ID)
		if err != nil {
			return err
		}
		if raw == nil {
			return fmt.Errorf("tombstone for %s, which this node never held", rec.ID)
		}
		s := *raw.(*stored)
		s.Deleted, s.Rev, s.Seq, s.Kid, s.SignedAt = true, rec.Rev, rec.Seq, kid, rec.IssuedAt
		return txn.Insert(tableAlliances, &s)
	case schema.KindReport:
		var r schema.Report
		if err := json.Unmarshal(rec.Body, &r); err != nil {
			return fmt.Errorf("decode report %s: %w", rec.ID, err)
		}
		r.Rev = rec.Rev
		return txn.Insert(tableReports, &storedReport{ID: rec.ID, AllianceID: r.AllianceID, Report: &r, Seq: rec.Seq, Kid: kid, SignedAt: rec.IssuedAt})
	}
	return fmt.Errorf("record %s: unknown kind %q", rec.ID, rec.Kind)
}

// revision is one new revision to write: its kind, record id, the revision it follows
// and its canonical body.
type revision struct {
	kind     schema.Kind
	id       string
	prev     string
	body     []byte
	resolves []string // competing revisions this one ends, sorted
}

// bodyFor encodes the canonical body of v (an Alliance, a Report or a Tombstone).
func bodyFor(v any) ([]byte, error) {
	switch v := v.(type) {
	case *schema.Alliance:
		return schema.AllianceBody(v)
	case *schema.Report:
		return schema.ReportBody(v)
	}
	return json.Marshal(v)
}

// hubRejected reports whether the hub answered rejected for revision rev of record id
// (its key was revoked before the hub received it, say). Saving that record again, even
// unchanged, then writes a new revision, signed with the node's key of now, rather than
// nothing: that is how a clerk enters it again (docs/OPERATIONS.md section 6).
func (n *Node) hubRejected(id, rev string) bool {
	found := false
	n.journal.View(func(tx *journal.Tx) error {
		found = tx.Get(bucketRejected, id+" "+rev) != nil
		return nil
	})
	return found
}

// sameBody reports whether two encoded bodies are byte for byte the same.
func sameBody(a, b []byte) bool { return bytes.Equal(a, b) }
