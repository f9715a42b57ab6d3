// Package wire defines the sync protocol between program nodes and the hub: signed
// records, signed push batches, per-record outcomes and the sync counts nodes report.
// Both sides import it; docs/PROTOCOL.md specifies the same thing in prose.
package wire

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/schema"
)

// MediaTypeJOSE is the Content-Type of a push request: one compact JWS.
const MediaTypeJOSE = "application/jose"

// Batch bounds (DESIGN.md, Sync protocol: batches bounded in count and bytes).
const (
	MaxBatchRecords = 500
	MaxBatchBytes   = 1 << 20
	// MaxPushBody is what the hub accepts for one push: a full batch plus JWS overhead.
	MaxPushBody = 2 * MaxBatchBytes
	// MaxRecordBytes bounds one signed record.
	MaxRecordBytes = 256 << 10
	// MaxClockSkew is how far a batch's issued_at may be from the hub's clock.
	MaxClockSkew = 5 * time.Minute
)

// Batch is the payload of a push: a node's records with local sequence numbers in
// (SeqFrom, SeqTo], signed as a whole by the node. The signature authenticates the push;
// issued_at and idempotent application make a replay harmless.
type Batch struct {
	Program  string    `json:"program"`
	BatchID  string    `json:"batch_id"`
	SeqFrom  uint64    `json:"seq_from"` // first sequence number in the batch
	SeqTo    uint64    `json:"seq_to"`   // last sequence number in the batch
	IssuedAt time.Time `json:"issued_at"`
	Records  []string  `json:"records"` // compact JWS of schema.Record, in sequence order
}

// Outcome is what the hub did with one pushed record.
type Outcome string

// Outcomes (CONTRACT.md).
const (
	Accepted  Outcome = "accepted"  // new revision, now in the roster
	Duplicate Outcome = "duplicate" // this exact revision was already stored
	Stale     Outcome = "stale"     // an older revision than the one the hub holds
	Conflict  Outcome = "conflict"  // stored on a competing branch; the record is conflicted
	Rejected  Outcome = "rejected"  // not stored; Reason says why
)

// Result is the hub's answer for one record of a batch.
type Result struct {
	Seq     uint64  `json:"seq"`
	ID      string  `json:"id,omitempty"`
	Rev     string  `json:"rev,omitempty"`
	Outcome Outcome `json:"outcome"`
	Reason  string  `json:"reason,omitempty"`
}

// PushResponse answers a push: one result per record, in order, and the hub's checkpoint
// for the program: the last node sequence number it has applied.
type PushResponse struct {
	BatchID    string   `json:"batch_id"`
	Checkpoint uint64   `json:"checkpoint"`
	Results    []Result `json:"results"`
}

// SyncResult counts what one sync run did (the answer of a node's POST /v1/sync).
type SyncResult struct {
	Pushed    int    `json:"pushed"`
	Accepted  int    `json:"accepted"`
	Duplicate int    `json:"duplicate"`
	Stale     int    `json:"stale"`
	Conflict  int    `json:"conflict"`
	Rejected  int    `json:"rejected"`
	Pulled    int    `json:"pulled"`
	Error     string `json:"error,omitempty"`
}

// Count adds one result's outcome.
func (s *SyncResult) Count(r Result) {
	s.Pushed++
	switch r.Outcome {
	case Accepted:
		s.Accepted++
	case Duplicate:
		s.Duplicate++
	case Stale:
		s.Stale++
	case Conflict:
		s.Conflict++
	case Rejected:
		s.Rejected++
	}
}

// SignRecord signs a record revision.
func SignRecord(s auth.Signer, r *schema.Record) (string, error) {
	payload, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("encode record: %w", err)
	}
	return s.Sign(payload, auth.TypeRecord)
}

// SignBatch signs a batch.
func SignBatch(s auth.Signer, b *Batch) (string, error) {
	payload, err := json.Marshal(b)
	if err != nil {
		return "", fmt.Errorf("encode batch: %w", err)
	}
	return s.Sign(payload, auth.TypeBatch)
}

// RosterItem is one Alliance in the national roster: the record as its program signed it
// plus what the hub derives and knows of it.
type RosterItem struct {
	*schema.Alliance
	NationalCategories []string        `json:"national_categories"`
	Standing           schema.Standing `json:"standing"`
	AmbassadorEligible bool            `json:"ambassador_eligible"`
	Compliance         Compliance      `json:"compliance"`
	Conflict           bool            `json:"conflict"`
	Provenance         Provenance      `json:"provenance"`
}

// Compliance is an Alliance's reporting state as of the roster's date (CONTRACT.md):
// the next report's due date (null when nothing more is owed), the periods whose report
// is overdue and how many implementation team meetings the reports show in the last 12
// months.
type Compliance struct {
	NextReportDue        *schema.Date `json:"next_report_due"`
	OverdueReports       []string     `json:"overdue_reports"`
	MeetingsLast12Months int          `json:"meetings_last_12_months"`
}

// Provenance says who signed the roster's revision of a record and when it arrived.
type Provenance struct {
	Kid        string    `json:"kid"`
	SignedAt   time.Time `json:"signed_at"`
	ReceivedAt time.Time `json:"received_at"`
}
