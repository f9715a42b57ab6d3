package auth

import (
	"errors"
	"testing"
	"time"
)

func TestWindow(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	w := Window{NotBefore: at(0), NotAfter: at(time.Hour), RevokedAt: at(30 * time.Minute)}
	cases := []struct {
		at    time.Time
		want  error
		state string
	}{
		{t0.Add(-time.Nanosecond), ErrKeyNotValid, "pending"},
		{t0, nil, "valid"},                                     // not_before is inclusive
		{t0.Add(30 * time.Minute), nil, "valid"},               // so is revoked_at
		{t0.Add(30*time.Minute + 1), ErrKeyRevoked, "revoked"}, // and after it, refused
		{t0.Add(2 * time.Hour), ErrKeyRevoked, "revoked"},      // revocation names itself first
	}
	for _, tc := range cases {
		err := w.Check(tc.at)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("Check(%s) = %v, want %v", tc.at, err, tc.want)
		}
		if got := w.State(tc.at); got != tc.state {
			t.Errorf("State(%s) = %q, want %q", tc.at, got, tc.state)
		}
	}
	expiring := Window{NotAfter: at(time.Hour)}
	if err := expiring.Check(t0.Add(time.Hour)); err != nil {
		t.Errorf("at not_after: %v, want valid (inclusive)", err)
	}
	if err := expiring.Check(t0.Add(time.Hour + 1)); !errors.Is(err, ErrKeyNotValid) || expiring.State(t0.Add(2*time.Hour)) != "expired" {
		t.Errorf("after not_after: %v, want expired", err)
	}
	if err := (Window{}).Check(time.Time{}); err != nil {
		t.Errorf("an unbounded window refused: %v", err)
	}
}
