package webui

import (
	"encoding/json"
	"net/url"
	"time"
)

// Conflict is one record with competing revisions as GET /v1/conflicts answers it, on
// the hub (with DCSP's acknowledgement) and on a node (with the node's own revision).
type Conflict struct {
	ID           string       `json:"id"`
	Program      string       `json:"program"`
	Kind         string       `json:"kind"`
	WinningRev   string       `json:"winning_rev"`
	Leaves       []Leaf       `json:"leaves"`
	Differences  []Difference `json:"differences"`
	Acknowledged *struct {
		By   string    `json:"by"`
		At   time.Time `json:"at"`
		Note string    `json:"note"`
	} `json:"acknowledged"`
	LocalRev string `json:"local_rev"` // a node's: the revision it holds now
	// A node's, for a report's conflict: the report's Alliance and period.
	AllianceID string `json:"alliance_id"`
	Period     string `json:"period"`

	Rows   []DiffRow `json:"-"` // Differences laid out by leaf (LayOut)
	Fields []string  `json:"-"` // the differing fields' names
}

// Leaf is one of a conflict's competing revisions.
type Leaf struct {
	Rev        string    `json:"rev"`
	PrevRev    string    `json:"prev_rev"`
	Deleted    bool      `json:"deleted"`
	Kid        string    `json:"kid"`
	SignedAt   time.Time `json:"signed_at"`
	ReceivedAt time.Time `json:"received_at"`
}

// Difference is one field whose value differs between the leaves, by rev.
type Difference struct {
	Field  string                     `json:"field"`
	Values map[string]json.RawMessage `json:"values"`
}

// DiffRow is one differing field, with its value in each leaf, in the leaves' order.
type DiffRow struct {
	Field  string
	Values []string
}

// LayOut fills Rows and Fields from Differences, for a table with a column per leaf.
func (cf *Conflict) LayOut() {
	cf.Rows, cf.Fields = nil, nil
	for _, d := range cf.Differences {
		row := DiffRow{Field: d.Field}
		for _, l := range cf.Leaves {
			row.Values = append(row.Values, ShowJSON(d.Values[l.Rev]))
		}
		cf.Rows = append(cf.Rows, row)
		cf.Fields = append(cf.Fields, d.Field)
	}
}

// ResolvePath is where a node resolves this conflict, the same under the web UI's
// Prefix and under the API's /v1: /alliances/{id}/resolve for an Alliance,
// /alliances/{alliance_id}/reports/{period}/resolve for a report; empty for a record
// that is resolved nowhere (a report whose Alliance and period are not known).
func (cf *Conflict) ResolvePath() string {
	switch {
	case cf.Kind == "alliance":
		return "/alliances/" + url.PathEscape(cf.ID) + "/resolve"
	case cf.Kind == "report" && cf.AllianceID != "" && cf.Period != "":
		return "/alliances/" + url.PathEscape(cf.AllianceID) + "/reports/" + url.PathEscape(cf.Period) + "/resolve"
	}
	return ""
}

// Pending reports that a node holds a revision none of the versions in conflict is:
// written since the hub last sent it the conflict (a resolution, perhaps), not yet
// synced. Always false on the hub, which has no local revision.
func (cf *Conflict) Pending() bool {
	for _, l := range cf.Leaves {
		if l.Rev == cf.LocalRev {
			return false
		}
	}
	return cf.LocalRev != ""
}
