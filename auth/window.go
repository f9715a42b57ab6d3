package auth

import (
	"errors"
	"fmt"
	"time"
)

// Key lifecycle errors, matched with errors.Is: a known key whose signatures are not
// accepted at the time they are checked.
var (
	ErrKeyRevoked  = errors.New("key revoked")
	ErrKeyNotValid = errors.New("key not valid at this time")
)

// Window is when a program key's signatures count (docs/PROTOCOL.md section 2): from
// NotBefore through NotAfter, and not after RevokedAt. A missing bound is no bound. The
// ends are inclusive: a signature received at exactly NotAfter or RevokedAt still
// counts, one received any later does not. The hub judges a signature by when it
// received it, never by a time the signer claims, and nodes judge a pulled record by
// the time the hub says it received it, with the same rule.
type Window struct {
	NotBefore *time.Time `json:"not_before,omitempty"`
	NotAfter  *time.Time `json:"not_after,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Check answers nil if the window holds at, or an error (ErrKeyRevoked, ErrKeyNotValid)
// naming the bound it falls outside.
func (w Window) Check(at time.Time) error {
	switch {
	case w.RevokedAt != nil && at.After(*w.RevokedAt):
		return fmt.Errorf("%w at %s; its signatures after that are refused (this one at %s)", ErrKeyRevoked, stamp(*w.RevokedAt), stamp(at))
	case w.NotBefore != nil && at.Before(*w.NotBefore):
		return fmt.Errorf("%w: valid from %s (this signature at %s)", ErrKeyNotValid, stamp(*w.NotBefore), stamp(at))
	case w.NotAfter != nil && at.After(*w.NotAfter):
		return fmt.Errorf("%w: expired at %s (this signature at %s)", ErrKeyNotValid, stamp(*w.NotAfter), stamp(at))
	}
	return nil
}

// State names where at falls in the window: "pending" (before NotBefore), "valid",
// "expired" (after NotAfter) or "revoked" (after RevokedAt).
func (w Window) State(at time.Time) string {
	err := w.Check(at)
	switch {
	case err == nil:
		return "valid"
	case errors.Is(err, ErrKeyRevoked):
		return "revoked"
	case w.NotBefore != nil && at.Before(*w.NotBefore):
		return "pending"
	}
	return "expired"
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
