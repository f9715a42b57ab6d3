package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
)

// TestRequestOutcome: each way the hub can answer a push or a pull has its outcome label.
func TestRequestOutcome(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		stopped bool
		want    string
	}{
		{name: "answered", want: reqOK},
		{name: "key revoked", err: &HubError{Status: http.StatusUnauthorized, Problem: true}, want: reqRefused},
		{name: "too large", err: fmt.Errorf("push: %w", &HubError{Status: http.StatusRequestEntityTooLarge, Problem: true}), want: reqRefused},
		{name: "busy", err: &HubError{Status: http.StatusTooManyRequests, Problem: true}, want: reqThrottled},
		{name: "hub failed", err: &HubError{Status: http.StatusInternalServerError}, want: reqFailed},
		{name: "unavailable", err: &HubError{Status: http.StatusServiceUnavailable}, want: reqFailed},
		{name: "unreadable answer", err: fmt.Errorf("%w: no results", errBadAnswer), want: reqFailed},
		{name: "network", err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, want: reqUnreachable},
		{name: "shutting down", err: context.Canceled, stopped: true, want: reqStopped},
	} {
		if got := requestOutcome(tc.err, tc.stopped); got != tc.want {
			t.Errorf("%s: outcome %q, want %q", tc.name, got, tc.want)
		}
	}
}
