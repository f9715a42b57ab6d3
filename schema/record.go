package schema

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Kind says what a record's body holds.
type Kind string

// Record kinds.
const (
	KindAlliance Kind = "alliance"
	// KindReport is an Alliance's report for one period (CONTRACT.md: reports are
	// records of their own).
	KindReport Kind = "report"
	// KindTombstone ends a draft Alliance that was never signed: a signed revision that
	// follows the draft's last one, so the deletion travels and reconciles like any
	// other change. Signed Alliances are never deleted.
	KindTombstone Kind = "tombstone"
)

// Valid reports whether k is a record kind.
func (k Kind) Valid() bool { return k == KindAlliance || k == KindReport || k == KindTombstone }

// Tombstone is the body of a KindTombstone revision.
type Tombstone struct {
	ID      string `json:"id"`
	Deleted bool   `json:"deleted"` // always true: a body that says what it is
	Reason  string `json:"reason,omitempty"`
}

// Validate checks a tombstone body for record id.
func (t *Tombstone) Validate(id string) error {
	var errs ValidationError
	if t.ID != id {
		errs.Add("id", fmt.Sprintf("is %q; the record is %s", t.ID, id))
	}
	if !t.Deleted {
		errs.Add("deleted", "must be true")
	}
	errs.checkText("reason", t.Reason, maxTextLen)
	return errs.Err()
}

// Record is one signed revision of a record: the payload a node signs as a JWS. The body
// travels as the exact bytes that were signed and hashed, so any reader can check the
// revision hash and the signature offline, byte for byte.
type Record struct {
	ID       string          `json:"id"`
	Kind     Kind            `json:"kind"`
	Program  string          `json:"program"`
	Rev      string          `json:"rev"`
	PrevRev  string          `json:"prev_rev,omitempty"`
	Seq      uint64          `json:"seq"`
	IssuedAt time.Time       `json:"issued_at"`
	Body     json.RawMessage `json:"body"`
	// Resolves names the competing revisions (leaves of other branches) this revision
	// ends: the owner's answer to a conflict. It is part of the revision's hash.
	Resolves []string `json:"resolves,omitempty"`
}

// MaxResolves bounds the revisions one revision may resolve.
const MaxResolves = 100

// ErrBadRev is a revision that is malformed or does not match its content.
var ErrBadRev = errors.New("revision does not match the record")

// ErrBadID is a record id that is not PROGRAM-SUFFIX.
var ErrBadID = errors.New("malformed record id")

// NewRev computes the revision of a body that follows prev: "N-<hash>", where N is one
// more than prev's generation and the hash is SHA-256 over the previous revision, a
// newline and the body bytes (as CouchDB derives revisions from content and ancestry).
func NewRev(prev string, body []byte) (string, error) { return NewRevResolving(prev, body, nil) }

// NewRevResolving is NewRev for a revision that also resolves the competing revisions
// resolves (given sorted, without duplicates): the hash input goes on with a newline,
// "resolves" and each of them after a space. With none it equals NewRev.
func NewRevResolving(prev string, body []byte, resolves []string) (string, error) {
	gen := 0
	if prev != "" {
		g, _, err := ParseRev(prev)
		if err != nil {
			return "", err
		}
		gen = g
	}
	return fmt.Sprintf("%d-%s", gen+1, revHash(prev, body, resolves)), nil
}

func revHash(prev string, body []byte, resolves []string) string {
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte{'\n'})
	h.Write(body)
	if len(resolves) > 0 {
		h.Write([]byte("\nresolves"))
		for _, r := range resolves {
			h.Write([]byte(" " + r))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

var revShape = regexp.MustCompile(`^([1-9][0-9]{0,9})-([0-9a-f]{64})$`)

// ParseRev splits "N-hash" into its generation and hash.
func ParseRev(rev string) (gen int, hash string, err error) {
	m := revShape.FindStringSubmatch(rev)
	if m == nil {
		return 0, "", fmt.Errorf("%w: %q is not N-<sha256 hex>", ErrBadRev, rev)
	}
	gen, err = strconv.Atoi(m[1])
	if err != nil {
		return 0, "", fmt.Errorf("%w: %q", ErrBadRev, rev)
	}
	return gen, m[2], nil
}

// CheckRev recomputes the record's revision from its previous revision and body and
// reports a mismatch as ErrBadRev.
func (r *Record) CheckRev() error {
	if err := r.checkResolves(); err != nil {
		return err
	}
	want, err := NewRevResolving(r.PrevRev, r.Body, r.Resolves)
	if err != nil {
		return err
	}
	if want != r.Rev {
		return fmt.Errorf("%w: rev %s, content gives %s", ErrBadRev, r.Rev, want)
	}
	return nil
}

// checkResolves: well-formed revisions, sorted, no duplicates, not the revision it
// follows, at most MaxResolves, and only on a revision that follows another.
func (r *Record) checkResolves() error {
	if len(r.Resolves) == 0 {
		return nil
	}
	switch {
	case r.PrevRev == "":
		return fmt.Errorf("%w: a first revision resolves nothing", ErrBadRev)
	case len(r.Resolves) > MaxResolves:
		return fmt.Errorf("%w: resolves %d revisions; at most %d", ErrBadRev, len(r.Resolves), MaxResolves)
	}
	for i, rev := range r.Resolves {
		if _, _, err := ParseRev(rev); err != nil {
			return fmt.Errorf("resolves[%d]: %w", i, err)
		}
		if rev == r.PrevRev || rev == r.Rev {
			return fmt.Errorf("%w: resolves[%d] is the revision itself or the one it follows", ErrBadRev, i)
		}
		if i > 0 && rev <= r.Resolves[i-1] {
			return fmt.Errorf("%w: resolves must be sorted, without repeats", ErrBadRev)
		}
	}
	return nil
}

// crockford is base32 without the letters that read as digits, in lower case.
var crockford = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID makes a globally unique record id owned by program: "MI-" and 16 random base32
// characters (80 bits), so two nodes, or a node restored from backup, never collide.
func NewID(program string) string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error()) // never fails on supported platforms
	}
	return program + "-" + crockford.EncodeToString(b[:])
}

var idSuffix = regexp.MustCompile(`^[0-9a-zA-Z][0-9a-zA-Z._-]{0,63}$`)

// ProgramOfID returns the owner program prefix of a record id ("MI-..." is MI's).
func ProgramOfID(id string) (string, error) {
	prog, rest, ok := strings.Cut(id, "-")
	if !ok || !ValidProgramCode(prog) || !idSuffix.MatchString(rest) {
		return "", fmt.Errorf("%w: %q is not PROGRAM-SUFFIX", ErrBadID, id)
	}
	return prog, nil
}

// ReportBody is the canonical body of a report revision.
func ReportBody(r *Report) ([]byte, error) {
	c := *r
	c.Rev = ""
	return json.Marshal(&c)
}

// AllianceBody is the canonical body of an Alliance revision: its JSON without the
// revision (which is derived from the body).
func AllianceBody(a *Alliance) ([]byte, error) {
	c := *a
	c.Rev = ""
	return json.Marshal(&c)
}
