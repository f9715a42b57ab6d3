// Package wire defines the sync protocol between program nodes and the hub: signed
// records, signed push batches, per-record outcomes and the sync counts nodes report.
// Both sides import it; docs/PROTOCOL.md specifies the same thing in prose.
package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/go-jose/go-jose/v4"
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
	// Head is the node's last local sequence number when it signed the batch (optional;
	// at least SeqTo when sent). The hub shows head minus its checkpoint as the program's
	// lag: what the node has written that the hub has not yet applied.
	Head uint64 `json:"head,omitempty"`
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

// Change feed bounds (GET /v1/sync/changes).
const (
	DefaultChangesLimit = 500
	MaxChangesLimit     = 1000
	// MaxChangesBytes bounds one page's signed records (at least one is always sent).
	MaxChangesBytes = 4 << 20
	// MaxChangesWait bounds a long poll; it stays well below the clients' and the
	// servers' timeouts, and the hub sends a heartbeat while it waits.
	MaxChangesWait = 55 * time.Second
)

// Change is one revision the hub accepted, in the order it accepted them: the record
// exactly as its program signed it, plus what the hub knows of the record now.
type Change struct {
	Seq        uint64    `json:"seq"` // the hub's sequence number: strictly increasing, never reused
	ReceivedAt time.Time `json:"received_at"`
	Record     string    `json:"record,omitempty"` // compact JWS of a schema.Record, signed by its program
	// Note, instead of Record: an annotation the hub itself made (DCSP's decision on a
	// link, its acknowledgement of a conflict), a compact JWS signed by the hub's key
	// (typ alliancehub-note+jws).
	Note string     `json:"note,omitempty"`
	Hub  Annotation `json:"hub"`
}

// Annotation is the hub's view of a change's record when the page was read. It is
// advisory: a reader that reconciles the revisions it pulls reaches the same state.
type Annotation struct {
	Conflict   bool   `json:"conflict"`        // the record has competing branches
	WinningRev string `json:"winning_rev"`     // the revision the roster shows
	Links      []Link `json:"links,omitempty"` // the record's links to records of other programs
}

// ChangesPage is one page of the change feed. LastSeq is the since of the next page: the
// last change's seq, or the request's since when the page is empty. HeadSeq is the hub's
// latest sequence number when the page was read; the reader is caught up when LastSeq
// reaches it.
type ChangesPage struct {
	Changes []Change `json:"changes"`
	LastSeq uint64   `json:"last_seq"`
	HeadSeq uint64   `json:"head_seq"`
}

// KeysDocument is the set of program keys the hub accepts, signed by the hub (typ
// auth.TypeKeys) and served at GET /v1/sync/keys. Nodes verify every record they pull
// against it, so a record reaches them only if its program's enrolled key signed it.
type KeysDocument struct {
	IssuedAt time.Time     `json:"issued_at"`
	Programs []ProgramKeys `json:"programs"`
}

// ProgramKeys are one program's enrolled public keys.
type ProgramKeys struct {
	Code string         `json:"code"`
	Keys []PublishedKey `json:"keys"`
}

// PublishedKey is one enrolled public key and when the hub accepts its signatures
// (not_before, not_after, revoked_at; auth.Window). A reader accepts a pulled record
// signed by the key only if the change's received_at falls inside that window: the hub
// accepted it then. Revoked and expired keys stay listed, so what they signed before
// still verifies.
type PublishedKey struct {
	Kid     string          `json:"kid"`
	JWK     jose.JSONWebKey `json:"jwk"`
	AddedAt time.Time       `json:"added_at"`
	auth.Window
}

// RotationGrace is how long a program's old key stays valid after a rotation that names
// no retire_old_at: long enough for batches signed before the rotation, and a node's
// outbox, to land.
const RotationGrace = 7 * 24 * time.Hour

// MaxRotationBody bounds a rotation announcement (POST /v1/programs/{code}/keys).
const MaxRotationBody = 64 << 10

// Rotation is the payload of a key rotation announcement (typ auth.TypeRotation), signed
// by a key the hub accepts for Program now: the program's next public key, and when the
// signing key should stop counting (empty: RotationGrace after the hub enrolls the new
// key).
type Rotation struct {
	Program     string          `json:"program"`
	JWK         json.RawMessage `json:"jwk"`
	IssuedAt    time.Time       `json:"issued_at"`
	RetireOldAt *time.Time      `json:"retire_old_at,omitempty"`
}

// SignRotation signs a rotation announcement.
func SignRotation(s auth.Signer, r *Rotation) (string, error) {
	payload, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("encode rotation: %w", err)
	}
	return s.Sign(payload, auth.TypeRotation)
}

// SignKeys signs a keys document.
func SignKeys(s auth.Signer, d *KeysDocument) (string, error) {
	payload, err := json.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("encode keys document: %w", err)
	}
	return s.Sign(payload, auth.TypeKeys)
}

// Digest summarizes a set of stored revisions: how many, and the SHA-256 (hex) of their
// lines "<id> <rev>\n" in byte order. Two sides holding the same revisions have the same
// digest, whatever order they stored them in.
type Digest struct {
	Count int    `json:"count"`
	Hash  string `json:"hash"`
}

// ProgramDigest is the digest of one program's revisions, and, when asked for, of each
// range of them (RangeOf).
type ProgramDigest struct {
	Code string `json:"code"`
	Digest
	Ranges []RangeDigest `json:"ranges,omitempty"`
}

// RangeDigest is the digest of the revisions whose ids fall in one range.
type RangeDigest struct {
	Range string `json:"range"`
	Digest
}

// DigestPage answers GET /v1/sync/digest: program digests, or one range's revisions.
type DigestPage struct {
	Programs  []ProgramDigest `json:"programs,omitempty"`
	Revisions []RevisionRef   `json:"revisions,omitempty"`
}

// RevisionRef names one stored revision and the hub sequence number it was stored under
// (the change feed's seq).
type RevisionRef struct {
	ID  string `json:"id"`
	Rev string `json:"rev"`
	Seq uint64 `json:"seq,omitempty"`
}

// RangeOf is the digest range of a record id: the first character after its program
// prefix ("MI-7Q..." is in range "7"). Generated ids spread evenly over 32 ranges.
func RangeOf(id string) string {
	i := strings.IndexByte(id, '-')
	if i < 0 || i+1 >= len(id) {
		return ""
	}
	return id[i+1 : i+2]
}

// DigestOf digests revisions (in any order; it sorts a copy).
func DigestOf(revs []RevisionRef) Digest {
	lines := make([]string, len(revs))
	for i, r := range revs {
		lines[i] = r.ID + " " + r.Rev + "\n"
	}
	slices.Sort(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
	}
	return Digest{Count: len(revs), Hash: hex.EncodeToString(h.Sum(nil))}
}

// DigestRanges digests revisions per range, in range order, leaving out empty ranges.
func DigestRanges(revs []RevisionRef) []RangeDigest {
	by := map[string][]RevisionRef{}
	for _, r := range revs {
		by[RangeOf(r.ID)] = append(by[RangeOf(r.ID)], r)
	}
	out := make([]RangeDigest, 0, len(by))
	for _, k := range slices.Sorted(maps.Keys(by)) {
		out = append(out, RangeDigest{Range: k, Digest: DigestOf(by[k])})
	}
	return out
}

// Bundle is an export of signed records that anyone can verify offline (alliancehub
// verify): the records as their programs signed them, the hub's signed keys document,
// and the hub's public key that signed it.
type Bundle struct {
	Kind       string          `json:"kind"` // "alliancehub-bundle"
	ExportedAt time.Time       `json:"exported_at"`
	HubJWK     jose.JSONWebKey `json:"hub_jwk"`
	Keys       string          `json:"keys"` // compact JWS of a KeysDocument
	Changes    []Change        `json:"changes"`
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
	Links              []Link          `json:"links"` // related records in other programs; never null
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
	// KeyRevokedAt is set when the signing key has been revoked (effective then): the
	// revision was received before that and stays, flagged.
	KeyRevokedAt *time.Time `json:"key_revoked_at,omitempty"`
}

// LinkState is where DCSP's review of a link stands.
type LinkState string

// Link states (docs/PROTOCOL.md, section 10, Links).
const (
	LinkProposed  LinkState = "proposed"  // found by the matcher, not reviewed yet
	LinkConfirmed LinkState = "confirmed" // DCSP says both records are one Alliance
	LinkRejected  LinkState = "rejected"  // DCSP says they are not; never counted as one
)

// Link relates two records of different programs that record the same Alliance (a
// federal Alliance co-signed by a State Plan): some participant names match and the
// terms overlap. Discrepancies name the fields the two records disagree on.
type Link struct {
	ID      string       `json:"id"`
	State   LinkState    `json:"state"`
	Records []LinkRecord `json:"records"` // the two records, in id order
	// Matched are the pairs of participant names that matched, each by record id.
	Matched       []map[string]string `json:"matched"`
	Discrepancies []Discrepancy       `json:"discrepancies"`
	Decision      *LinkDecision       `json:"decision,omitempty"`
}

// LinkRecord is one linked record: its id, program and the revision compared.
type LinkRecord struct {
	ID      string `json:"id"`
	Program string `json:"program"`
	Rev     string `json:"rev"`
}

// Discrepancy is one field two linked records disagree on: its value in each, by record
// id, and for dates how many days apart they are.
type Discrepancy struct {
	Field   string            `json:"field"`
	Values  map[string]string `json:"values"`
	Days    int               `json:"days,omitempty"`
	Message string            `json:"message"`
}

// LinkDecision is DCSP's review of a link: who decided what, when, with a note, and the
// revisions of the two records it was made on.
type LinkDecision struct {
	State LinkState         `json:"state"`
	By    string            `json:"by"`
	At    time.Time         `json:"at"`
	Note  string            `json:"note,omitempty"`
	Revs  map[string]string `json:"revs"`
}
