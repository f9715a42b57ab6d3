package node

import (
	"fmt"
	"strings"

	"github.com/alliancehub/alliancehub/schema"
)

// ErrNotDraft is a request to delete an Alliance that was signed: signed Alliances are
// never deleted; they conclude or are terminated.
var ErrNotDraft = fmt.Errorf("only a draft can be deleted")

// Conclude records that Alliance id concluded at the end of its term (seed 001); on
// defaults to the end of the term.
func (n *Node) Conclude(id, ifMatch string, on schema.Date) (*schema.Alliance, error) {
	return n.update(id, ifMatch, func(cur *schema.Alliance) (*schema.Alliance, error) {
		return cur, cur.Conclude(on)
	})
}

// MakeAmbassador records that Alliance id became an Ambassador on on, where the program
// offers the status and the Alliance is eligible (seed 001).
func (n *Node) MakeAmbassador(id, ifMatch string, on schema.Date) (*schema.Alliance, error) {
	return n.update(id, ifMatch, func(cur *schema.Alliance) (*schema.Alliance, error) {
		return cur, cur.MakeAmbassador(n.program, on)
	})
}

// Amend records an addendum to Alliance id: participants added or removed on signedOn,
// with the history kept in its addenda.
func (n *Node) Amend(id, ifMatch string, signedOn schema.Date, added []schema.Participant, removed []string, note string) (*schema.Alliance, error) {
	return n.update(id, ifMatch, func(cur *schema.Alliance) (*schema.Alliance, error) {
		return cur, cur.Amend(signedOn, added, removed, note)
	})
}

// Deleted answers a draft's deletion: the tombstone's revision.
type Deleted struct {
	ID      string `json:"id"`
	Rev     string `json:"rev"`
	Deleted bool   `json:"deleted"`
}

// Delete ends a draft Alliance with a signed tombstone that follows its last revision,
// so the deletion is synced and reconciled like any change. A signed Alliance is never
// deleted (ErrNotDraft).
func (n *Node) Delete(id, ifMatch, reason string) (*Deleted, error) {
	n.writeMu.Lock()
	defer n.writeMu.Unlock()
	cur, err := n.matching(id, ifMatch)
	if err != nil {
		return nil, err
	}
	if cur.Status != schema.StatusDraft {
		return nil, fmt.Errorf("%w: %s is %s; an Alliance that was signed concludes or is terminated, and its record is kept", ErrNotDraft, id, cur.Status)
	}
	t := &schema.Tombstone{ID: id, Deleted: true, Reason: strings.TrimSpace(reason)}
	if err := t.Validate(id); err != nil {
		return nil, err
	}
	body, err := bodyFor(t)
	if err != nil {
		return nil, err
	}
	recs, err := n.writeLocked(revision{kind: schema.KindTombstone, id: id, prev: cur.Rev, body: body})
	if err != nil {
		return nil, err
	}
	return &Deleted{ID: id, Rev: recs[0].Rev, Deleted: true}, nil
}
