package webui

import (
	"fmt"
	"strings"
	"time"

	"github.com/alliancehub/alliancehub/internal/edge"
)

// ProgramSync is a program's sync state as the hub sees it (GET /v1/programs "sync",
// and "node" on GET /v1/roster/{id}; docs/PROTOCOL.md section 11).
type ProgramSync struct {
	Checkpoint  uint64            `json:"checkpoint"`
	LastPushAt  *time.Time        `json:"last_push_at"`
	LastBatchID string            `json:"last_batch_id"`
	Records     int               `json:"records"`
	Head        uint64            `json:"head"`
	Lag         *uint64           `json:"lag"`
	LastError   *PushError        `json:"last_error"`
	LastPullAt  *time.Time        `json:"last_pull_at"`
	StaleSince  *time.Time        `json:"stale_since"`
	Outcomes    map[string]uint64 `json:"outcomes"`
}

// PushError is the last push the hub refused from a program.
type PushError struct {
	At      time.Time `json:"at"`
	Status  int       `json:"status"`
	Type    string    `json:"type"`
	Detail  string    `json:"detail"`
	BatchID string    `json:"batch_id"`
}

// Health is a program's sync state in one word and a colour, with the reasons.
type Health struct {
	Level   string // ok (green), warn (amber) or bad (red)
	Label   string
	Reasons []string
}

// missedRun is how long without contact means a nightly run was missed (a day, plus
// the schedule's jitter and a little): amber before the hub's 36 hours make it stale.
const missedRun = 26 * time.Hour

// Health judges a program's sync state: red when the hub calls it stale (no push or
// pull for 36 hours, stale_since); amber when its last push was refused, its node was
// behind at its last push (lag), or a nightly run seems missed; green otherwise.
func (p *ProgramSync) Health(now time.Time) Health {
	h := Health{Level: "ok", Label: "In sync"}
	if p.StaleSince != nil {
		h.Level, h.Label = "bad", "Stale"
		h.Reasons = append(h.Reasons, fmt.Sprintf("The hub has heard nothing from this program's node (no push, no pull) since %s: stale since %s.",
			p.StaleSince.Add(-36*time.Hour).UTC().Format("2006-01-02 15:04 MST"), p.StaleSince.UTC().Format("2006-01-02 15:04 MST")))
	}
	if p.LastError != nil {
		if h.Level == "ok" {
			h.Level, h.Label = "warn", "Needs attention"
		}
		h.Reasons = append(h.Reasons, "Its last push was refused: "+ErrorWords(p.LastError.Type))
	}
	if p.Lag != nil && *p.Lag > 0 {
		if h.Level == "ok" {
			h.Level, h.Label = "warn", "Behind"
		}
		h.Reasons = append(h.Reasons, fmt.Sprintf("At its last push the node held %d revision(s) the hub had not applied yet; the next run sends them.", *p.Lag))
	}
	last := p.LastPushAt
	if p.LastPullAt != nil && (last == nil || p.LastPullAt.After(*last)) {
		last = p.LastPullAt
	}
	switch {
	case p.StaleSince != nil:
	case last == nil:
		if h.Level == "ok" {
			h.Level, h.Label = "warn", "Not heard from"
		}
		h.Reasons = append(h.Reasons, "The node has not pushed or pulled since it was enrolled.")
	case now.Sub(*last) > missedRun:
		if h.Level == "ok" {
			h.Level, h.Label = "warn", "Missed a run"
		}
		h.Reasons = append(h.Reasons, fmt.Sprintf("No push or pull for %s: a nightly run seems to have been missed.", roughly(now.Sub(*last))))
	}
	return h
}

func roughly(d time.Duration) string {
	if d < 48*time.Hour {
		return plural(int(d/time.Hour), "hour")
	}
	return plural(int(d/(24*time.Hour)), "day")
}

// errorWords explain, for a program's operators, what each refusal of a push means and
// what to do (docs/PROTOCOL.md section 12).
var errorWords = map[string]string{
	"clock-skew":             "the node's clock is more than 5 minutes away from the hub's. Set the node server's clock (NTP).",
	"rules-differ":           "the hub's definition of this program refuses a record the node accepted: the two servers have different program definitions. Give them the same definition file (docs/PROGRAMS.md).",
	"bad-batch":              "the node sent a batch that breaks a rule of the sync protocol. Upgrade the node, or send the detail below to the hub's operators.",
	"bad-signature":          "the batch's signature does not verify: it was changed on the way, or signed with a key other than the one it names.",
	"unknown-key":            "the node signs with a key the hub has not enrolled. Enroll the node's public key (alliancehub enroll), or finish its key rotation.",
	"key-revoked":            "the node signs with a key that has been revoked. Give the node a new key and enroll it.",
	"key-not-valid":          "the node signs with a key outside the time the hub accepts it (not yet valid, or expired). Check the key's window.",
	"not-owner":              "the batch is for another program than the node's key or token.",
	"too-large":              "the batch was larger than the hub accepts.",
	"unsupported-media-type": "the push was not sent as a signed batch (application/jose).",
	"malformed-jws":          "the push was not a well-formed signed batch.",
	"unknown-program":        "the hub has no definition for this program. Start the hub with the program's definition (--programs).",
	"not-enrolled":           "the program is not enrolled at the hub.",
}

// ErrorWords says in words what a problem type (urn:alliancehub:problem:SLUG) means.
func ErrorWords(typ string) string {
	slug := strings.TrimPrefix(typ, edge.TypePrefix)
	if w, ok := errorWords[slug]; ok {
		return w
	}
	return "the hub answered " + slug + "."
}
