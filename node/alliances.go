package node

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/alliancehub/alliancehub/schema"
)

// Lookup errors.
var (
	ErrNotFound = errors.New("no such Alliance")
	// ErrDeleted is a draft that was deleted: its tombstone is kept and synced.
	ErrDeleted = errors.New("the draft Alliance was deleted")
)

// Create validates a new Alliance by the program's rules, gives it an id, signs its first
// revision, makes it durable and queues it for the hub. A new Alliance is usually a
// draft or active; an existing agreement entered with its history (renewals, a
// termination) may carry the status that history gives it, and validation checks that
// the two agree.
func (n *Node) Create(a *schema.Alliance) (*schema.Alliance, error) {
	var errs schema.ValidationError
	if a.ID != "" {
		errs.Add("id", "is assigned by the node; leave it out")
	}
	if a.Rev != "" {
		errs.Add("rev", "is assigned by the node; leave it out")
	}
	given := a.ExpiresOn
	a.Normalize(n.program)
	if !given.IsZero() && given != a.ExpiresOn {
		errs.Add("expires_on", fmt.Sprintf("is derived from signed_on, term_months and renewals (%s); leave it out", a.ExpiresOn))
	}
	if err := a.Validate(n.program); err != nil {
		var ve *schema.ValidationError
		errors.As(err, &ve)
		errs.Fields = append(errs.Fields, ve.Fields...)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	a.ID = schema.NewID(n.program.Code)
	n.writeMu.Lock()
	defer n.writeMu.Unlock()
	return n.writeAlliance(a, "")
}

// Update errors.
var (
	ErrPreconditionRequired = errors.New("If-Match is required: send the rev you last read (its ETag)")
	ErrStaleRev             = errors.New("the Alliance has changed since you read it")
)

// Replace makes in the next revision of Alliance id. ifMatch must be the revision the
// caller last read, so two clerks never overwrite each other unknowingly.
func (n *Node) Replace(id, ifMatch string, in *schema.Alliance) (*schema.Alliance, error) {
	if ifMatch == "" {
		return nil, ErrPreconditionRequired
	}
	return n.update(id, ifMatch, func(cur *schema.Alliance) (*schema.Alliance, error) {
		var errs schema.ValidationError
		if in.ID != "" && in.ID != id {
			errs.Add("id", fmt.Sprintf("is %q; the path names %s", in.ID, id))
		}
		if in.Rev != "" && in.Rev != cur.Rev {
			errs.Add("rev", fmt.Sprintf("is %q; the current revision is %s (send it in If-Match, or leave rev out)", in.Rev, cur.Rev))
		}
		in.ID, in.Rev = id, ""
		if in.Status == "" {
			in.Status = cur.Status
		}
		given := in.ExpiresOn
		in.Normalize(n.program)
		if !given.IsZero() && given != in.ExpiresOn {
			errs.Add("expires_on", fmt.Sprintf("is derived from signed_on, term_months and renewals (%s); leave it out", in.ExpiresOn))
		}
		if err := schema.CheckTransition(cur.Status, in.Status); err != nil {
			errs.Add("status", err.Error())
		}
		if cur.Status == in.Status && !slices.Equal(cur.Renewals, in.Renewals) {
			errs.Add("renewals", "change renewals through POST /v1/alliances/{id}/renew")
		}
		// What only the lifecycle operations write is carried over when a client that
		// does not know it leaves it out, and may not be changed by an edit: the
		// signatory history is never lost to a PUT.
		if in.Addenda == nil {
			in.Addenda = cur.Addenda
		}
		if !reflect.DeepEqual(in.Addenda, cur.Addenda) {
			errs.Add("addenda", "change participants by addendum through POST /v1/alliances/{id}/addenda")
		}
		if in.Status == cur.Status {
			if in.ConcludedOn.IsZero() {
				in.ConcludedOn = cur.ConcludedOn
			}
			if in.AmbassadorOn.IsZero() {
				in.AmbassadorOn = cur.AmbassadorOn
			}
			if in.ConcludedOn != cur.ConcludedOn {
				errs.Add("concluded_on", "is recorded by POST /v1/alliances/{id}/conclude")
			}
			if in.AmbassadorOn != cur.AmbassadorOn {
				errs.Add("ambassador_on", "is recorded by POST /v1/alliances/{id}/ambassador")
			}
		}
		return in, errs.Err()
	})
}

// Renew records a renewal of Alliance id (If-Match optional).
func (n *Node) Renew(id, ifMatch string, signedOn schema.Date, termMonths int) (*schema.Alliance, error) {
	return n.update(id, ifMatch, func(cur *schema.Alliance) (*schema.Alliance, error) {
		return cur, cur.Renew(n.program, signedOn, termMonths)
	})
}

// Terminate records written notice of termination of Alliance id (If-Match optional).
func (n *Node) Terminate(id, ifMatch string, noticeOn schema.Date, reason string) (*schema.Alliance, error) {
	return n.update(id, ifMatch, func(cur *schema.Alliance) (*schema.Alliance, error) {
		return cur, cur.Terminate(noticeOn, reason)
	})
}

// matching returns the current revision of id if ifMatch (empty or "*": any) names it.
// The caller holds writeMu.
func (n *Node) matching(id, ifMatch string) (*schema.Alliance, error) {
	cur, err := n.Get(id)
	if err != nil {
		return nil, err
	}
	if ifMatch != "" && ifMatch != "*" && ifMatch != cur.Rev {
		return nil, fmt.Errorf("%w: you sent %s; it is now at %s", ErrStaleRev, ifMatch, cur.Rev)
	}
	return cur, nil
}

// update reads the current revision of id, lets change build the next one from a private
// copy, validates it and writes it, all under the write lock so nothing slips between
// the check of ifMatch and the write. An edit that changes nothing makes no revision.
func (n *Node) update(id, ifMatch string, change func(cur *schema.Alliance) (*schema.Alliance, error)) (*schema.Alliance, error) {
	n.writeMu.Lock()
	defer n.writeMu.Unlock()
	cur, err := n.matching(id, ifMatch)
	if err != nil {
		return nil, err
	}
	body, err := schema.AllianceBody(cur)
	if err != nil {
		return nil, err
	}
	var work schema.Alliance // a private copy: memdb's object is never changed
	if err := json.Unmarshal(body, &work); err != nil {
		return nil, err
	}
	work.Rev = cur.Rev
	next, err := change(&work)
	if err != nil {
		return nil, err
	}
	if err := next.Validate(n.program); err != nil {
		return nil, err
	}
	if nb, err := schema.AllianceBody(next); err == nil && sameBody(nb, body) && !n.hubRejected(id, cur.Rev) {
		return cur, nil
	}
	return n.writeAlliance(next, cur.Rev)
}

// writeLocked signs each new revision, appends them all to the journal in one
// transaction (one fsync) and only then makes them visible. The caller holds writeMu,
// so memdb follows journal order. A record too large for the hub is refused here, where
// the person entering it can shorten it, rather than carried in the outbox for ever.
func (n *Node) writeLocked(revs ...revision) ([]*schema.Record, error) {
	recs := make([]*schema.Record, len(revs))
	for i, r := range revs {
		if err := checkSize(r.body); err != nil {
			return nil, err
		}
		rev, err := schema.NewRevResolving(r.prev, r.body, r.resolves)
		if err != nil {
			return nil, err
		}
		recs[i] = &schema.Record{ID: r.id, Kind: r.kind, Program: n.program.Code, Rev: rev, PrevRev: r.prev,
			IssuedAt: n.now().UTC(), Body: r.body, Resolves: r.resolves}
	}
	err := n.journal.Update(func(tx *journal.Tx) error {
		for _, rec := range recs {
			_, err := tx.Append(func(seq uint64) ([]byte, error) {
				rec.Seq = seq
				jws, err := wire.SignRecord(n.key, rec)
				if err == nil && len(jws) > wire.MaxRecordBytes {
					err = fmt.Errorf("record %s is %d bytes signed; at most %d", rec.ID, len(jws), wire.MaxRecordBytes)
				}
				return []byte(jws), err
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", revs[0].id, err)
	}
	txn := n.db.Txn(true)
	defer txn.Abort()
	for _, rec := range recs {
		if err := applyRecord(txn, rec, n.key.KeyID()); err != nil {
			return nil, err
		}
	}
	txn.Commit()
	return recs, nil
}

// checkSize refuses a body whose signed record would exceed the hub's limit: the
// record's JSON adds its envelope (under 600 bytes) and the JWS encodes it in base64
// (4/3) with a header and signature (under 400 bytes).
func checkSize(body []byte) error {
	if signed := (len(body)+600)*4/3 + 400; signed > wire.MaxRecordBytes {
		var ve schema.ValidationError
		ve.Add("record", fmt.Sprintf("is about %d bytes signed; at most %d: shorten the descriptions or split the text", signed, wire.MaxRecordBytes))
		return &ve
	}
	return nil
}

// writeAlliance writes the next revision of a after prev and returns it as stored.
func (n *Node) writeAlliance(a *schema.Alliance, prev string) (*schema.Alliance, error) {
	body, err := schema.AllianceBody(a)
	if err != nil {
		return nil, err
	}
	if _, err := n.writeLocked(revision{kind: schema.KindAlliance, id: a.ID, prev: prev, body: body}); err != nil {
		return nil, err
	}
	return n.Get(a.ID)
}

// Get returns the current revision of an Alliance.
func (n *Node) Get(id string) (*schema.Alliance, error) {
	raw, err := n.db.Txn(false).First(tableAlliances, indexID, id)
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if s := raw.(*stored); s.Deleted {
		return nil, fmt.Errorf("%w: %s (tombstone %s)", ErrDeleted, id, s.Rev)
	}
	return raw.(*stored).Alliance, nil
}

// Filter selects Alliances in a list.
type Filter struct {
	Program  string // a program code: this node's matches all, another's none
	Level    schema.Level
	Status   schema.Status
	Standing schema.Standing // as of AsOf
	AsOf     schema.Date
	Category string // one of the program's category codes
	National string // a national category the goals map to
	Query    string // text in a participant's name
	Limit    int
	Token    string // the previous page's NextPageToken
}

// Page is one page of a list.
type Page struct {
	Items         []*schema.Alliance `json:"items"`
	Total         int                `json:"total"`
	NextPageToken string             `json:"next_page_token"`
}

// Page sizes for lists.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// List pages through the program's Alliances in id order. The page token is opaque to
// clients: the last id of the previous page.
func (n *Node) List(f Filter) (*Page, error) {
	if f.Limit <= 0 {
		f.Limit = DefaultPageSize
	}
	after, ok := afterToken(f.Token)
	if !ok {
		return nil, errBadPageToken
	}
	// One pass in id order: every match counts toward the total; the page takes the
	// first Limit matches after the token.
	it, err := n.db.Txn(false).Get(tableAlliances, indexID)
	if err != nil {
		return nil, err
	}
	page := &Page{Items: []*schema.Alliance{}}
	q := strings.ToLower(f.Query)
	for raw := it.Next(); raw != nil; raw = it.Next() {
		s := raw.(*stored)
		if s.Deleted || !f.match(n.program, s.Alliance, q) {
			continue
		}
		page.Total++
		switch {
		case s.ID <= after:
		case len(page.Items) < f.Limit:
			page.Items = append(page.Items, s.Alliance)
		case page.NextPageToken == "":
			last := page.Items[len(page.Items)-1].ID
			page.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(last))
		}
	}
	return page, nil
}

var errBadPageToken = errors.New("page_token is not one this server issued")

// afterToken reads a list's page token: the last id of the previous page ("" for the
// first page); ok is false for a token this server did not issue.
func afterToken(token string) (after string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	return string(b), err == nil
}

func (f Filter) match(p *schema.Program, a *schema.Alliance, q string) bool {
	if f.Program != "" && a.Program != f.Program {
		return false
	}
	if f.Level != "" && a.Level != f.Level {
		return false
	}
	if f.Status != "" && a.Status != f.Status {
		return false
	}
	if f.Standing != "" && a.Standing(f.AsOf) != f.Standing {
		return false
	}
	if f.Category != "" && !slices.ContainsFunc(a.Goals, func(g schema.Goal) bool { return g.Category == f.Category }) {
		return false
	}
	if f.National != "" && !slices.Contains(p.NationalCategories(a.Goals), f.National) {
		return false
	}
	if q != "" && !slices.ContainsFunc(a.Participants, func(p schema.Participant) bool {
		return strings.Contains(strings.ToLower(p.Name), q)
	}) {
		return false
	}
	return true
}
