package node

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/labstack/echo/v4"
)

// ErrNotConflicted: a resolution asked for a record the replica shows no conflict on.
var ErrNotConflicted = errors.New("the national roster shows no conflict on this record; sync first if one was just reported")

// LocalConflict is a conflict on one of this program's records, as the hub reports it
// (from the replica), with the revision this node holds.
type LocalConflict struct {
	*hub.Conflict
	LocalRev string `json:"local_rev"`
}

// Conflicts lists the conflicts on this program's records that the replica shows.
func (n *Node) Conflicts() ([]LocalConflict, error) {
	page, err := n.replica.Load().Conflicts(hub.ConflictQuery{Program: n.program.Code})
	if err != nil {
		return nil, err
	}
	out := []LocalConflict{}
	for _, c := range page.Items {
		lc := LocalConflict{Conflict: c}
		if a, err := n.Get(c.ID); err == nil {
			lc.LocalRev = a.Rev
		}
		out = append(out, lc)
	}
	return out, nil
}

// Resolve ends a conflict on one of this program's Alliances with a new revision that
// follows the node's current one and names every other branch's latest revision as
// resolved (DESIGN.md, Conflicts: "the owner resolves it with a new revision that names
// the losers"). The content is the node's current one, or, with take, that of the
// competing revision take (as the replica holds it). Needs If-Match.
func (n *Node) Resolve(id, ifMatch, take string) (*schema.Alliance, error) {
	if ifMatch == "" {
		return nil, ErrPreconditionRequired
	}
	c, err := n.replica.Load().Conflict(id)
	if errors.Is(err, hub.ErrNotConflicted) {
		return nil, fmt.Errorf("%w: %s", ErrNotConflicted, id)
	}
	if err != nil {
		return nil, err
	}
	n.writeMu.Lock()
	defer n.writeMu.Unlock()
	cur, err := n.matching(id, ifMatch)
	if err != nil {
		return nil, err
	}
	var resolves []string
	taken := false
	for _, l := range c.Leaves {
		taken = taken || l.Rev == take
		if l.Rev != cur.Rev {
			resolves = append(resolves, l.Rev)
		}
	}
	slices.Sort(resolves)
	next := cur
	if take != "" && take != cur.Rev {
		if !taken {
			var ve schema.ValidationError
			ve.Add("take", fmt.Sprintf("%s is not one of the competing revisions", take))
			return nil, &ve
		}
		if next, err = n.replica.Load().AllianceAt(id, take); err != nil {
			return nil, err
		}
	}
	// The chosen content was a valid state of this record on its branch; it must still
	// pass this program's rules, but not the lifecycle's order against the other branch.
	if err := next.Validate(n.program); err != nil {
		return nil, err
	}
	body, err := schema.AllianceBody(next)
	if err != nil {
		return nil, err
	}
	if _, err := n.writeLocked(revision{kind: schema.KindAlliance, id: id, prev: cur.Rev, body: body, resolves: resolves}); err != nil {
		return nil, err
	}
	return n.Get(id)
}

func (n *Node) handleConflicts(c echo.Context) error {
	items, err := n.Conflicts()
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items, "total": len(items), "next_page_token": ""})
}

// handleResolve serves POST /v1/alliances/{id}/resolve {"take": REV (optional)}.
func (n *Node) handleResolve(c echo.Context) error {
	if err := canWrite(c); err != nil {
		return err
	}
	var req struct {
		Take string `json:"take"`
	}
	if c.Request().ContentLength != 0 {
		if err := edge.DecodeJSON(c, &req); err != nil {
			return err
		}
	}
	out, err := n.Resolve(c.Param("id"), ifMatch(c), req.Take)
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", `"`+out.Rev+`"`)
	return c.JSON(http.StatusOK, out)
}
