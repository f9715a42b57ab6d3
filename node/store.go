package node

import (
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
	indexID        = "id"
)

// Journal buckets and keys.
const (
	bucketMeta    = "meta"
	keyPushCursor = "push_cursor" // last local sequence number the hub acknowledged
	keySyncStatus = "sync_status" // JSON SyncStatus of the last run
)

// stored is an Alliance as the node holds it: the current revision and its signature.
// Objects read from memdb are shared: never change one, copy it.
type stored struct {
	ID       string
	Alliance *schema.Alliance // Rev set
	Seq      uint64           // local sequence number of this revision
	Kid      string
	SignedAt time.Time
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
	}}
}

// load rebuilds the memdb state from the journal: the latest revision of every record.
func load(j *journal.Store, db *memdb.MemDB) error {
	txn := db.Txn(true)
	defer txn.Abort()
	err := j.View(func(tx *journal.Tx) error {
		return tx.Scan(0, func(seq uint64, v []byte) error {
			s, err := decodeEntry(string(v))
			if err != nil {
				return fmt.Errorf("journal entry %d: %w", seq, err)
			}
			return txn.Insert(tableAlliances, s)
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
func decodeEntry(jws string) (*stored, error) {
	payload, kid, err := auth.UnverifiedPayload(jws)
	if err != nil {
		return nil, err
	}
	var rec schema.Record
	if err := json.Unmarshal(payload, &rec); err != nil {
		return nil, fmt.Errorf("decode record: %w", err)
	}
	var a schema.Alliance
	if err := json.Unmarshal(rec.Body, &a); err != nil {
		return nil, fmt.Errorf("decode alliance %s: %w", rec.ID, err)
	}
	a.Rev = rec.Rev
	return &stored{ID: rec.ID, Alliance: &a, Seq: rec.Seq, Kid: kid, SignedAt: rec.IssuedAt}, nil
}
