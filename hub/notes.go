package hub

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/hashicorp/go-memdb"
)

// A hubNote is an annotation the hub itself makes on the national roster: DCSP's decision
// on a link, or its acknowledgement of a conflict. It never changes a program's record.
// The hub signs it with its own key (typ auth.TypeNote) and numbers it in its journal
// like the records it accepts, so it travels in the change feed and every node's replica
// shows what the hub shows (docs/PROTOCOL.md, 8a).
type hubNote struct {
	Kind         string        `json:"kind"` // noteLinkDecision or noteConflictAck
	IssuedAt     time.Time     `json:"issued_at"`
	LinkDecision *linkDecision `json:"link_decision,omitempty"`
	Ack          *Ack          `json:"ack,omitempty"`
}

// Note kinds.
const (
	noteLinkDecision = "link-decision"
	noteConflictAck  = "conflict-ack"
)

// appendNote signs n and appends it to the journal inside tx, applies it to txn and moves
// the feed's head: the caller commits txn after the journal transaction succeeds.
func (h *Hub) appendNote(tx *journal.Tx, txn *memdb.Txn, n *hubNote) error {
	n.IssuedAt = h.now().UTC()
	payload, err := json.Marshal(n)
	if err != nil {
		return err
	}
	jws, err := h.key.Sign(payload, auth.TypeNote)
	if err != nil {
		return err
	}
	entry, err := json.Marshal(logEntry{ReceivedAt: n.IssuedAt, Note: jws})
	if err != nil {
		return err
	}
	seq, err := tx.Append(func(uint64) ([]byte, error) { return entry, nil })
	if err != nil {
		return err
	}
	if err := applyNoteTxn(txn, n, true); err != nil {
		return err
	}
	return setHead(txn, seq)
}

// decodeNote reads a note's payload. Its signature is the caller's to check: the hub's
// own journal is trusted, and a pulled note is verified before it is kept.
func decodeNote(jws string) (*hubNote, error) {
	payload, _, err := auth.UnverifiedPayload(jws)
	if err != nil {
		return nil, err
	}
	var n hubNote
	if err := json.Unmarshal(payload, &n); err != nil {
		return nil, fmt.Errorf("note: %w", err)
	}
	return &n, nil
}

// applyNoteTxn makes a note part of the state: the decision or acknowledgement it
// carries, and, for a decision, the link rows of its records (unless relink is false: at
// start, when every link is computed once after the replay).
func applyNoteTxn(txn *memdb.Txn, n *hubNote, relink bool) error {
	switch {
	case n.Kind == noteLinkDecision && n.LinkDecision != nil:
		if err := txn.Insert(tableLinkDecisions, n.LinkDecision); err != nil {
			return err
		}
		for _, id := range n.LinkDecision.RecordIDs {
			if !relink {
				break
			}
			if err := relinkTxn(txn, id); err != nil {
				return err
			}
		}
		return nil
	case n.Kind == noteConflictAck && n.Ack != nil:
		return txn.Insert(tableAcks, n.Ack)
	}
	return fmt.Errorf("note of kind %q is not one this version reads", n.Kind)
}
