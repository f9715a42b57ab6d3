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
// (from the replica), with the revision this node holds. A report's conflict also names
// its Alliance and period, which its resolution's path needs.
type LocalConflict struct {
	*hub.Conflict
	LocalRev   string `json:"local_rev"`
	AllianceID string `json:"alliance_id,omitempty"` // kind report
	Period     string `json:"period,omitempty"`      // kind report
}

// Conflicts lists the conflicts on this program's records that the replica shows.
func (n *Node) Conflicts() ([]LocalConflict, error) {
	replica := n.replica.Load()
	page, err := replica.Conflicts(hub.ConflictQuery{Program: n.program.Code})
	if err != nil {
		return nil, err
	}
	out := []LocalConflict{}
	for _, c := range page.Items {
		lc := LocalConflict{Conflict: c}
		switch c.Kind {
		case schema.KindReport:
			if r, err := n.reportByID(c.ID); err == nil {
				lc.LocalRev, lc.AllianceID, lc.Period = r.Rev, r.AllianceID, r.Period
			} else if r, err := replica.ReportAt(c.ID, c.WinningRev); err == nil {
				lc.AllianceID, lc.Period = r.AllianceID, r.Period // a report this node lost
			}
		default:
			if a, err := n.Get(c.ID); err == nil {
				lc.LocalRev = a.Rev
			}
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
	c, err := n.conflictOn(id)
	if err != nil {
		return nil, err
	}
	n.writeMu.Lock()
	defer n.writeMu.Unlock()
	cur, err := n.matching(id, ifMatch)
	if err != nil {
		return nil, err
	}
	next, resolves, err := resolution(c, cur, cur.Rev, take, n.replica.Load().AllianceAt)
	if err != nil {
		return nil, err
	}
	// The chosen content was a valid state of this record on its branch; it must still
	// pass this program's rules, but not the lifecycle's order against the other branch.
	if err := next.Validate(n.program); err != nil {
		return nil, err
	}
	if err := n.writeResolution(schema.KindAlliance, id, cur.Rev, resolves, next); err != nil {
		return nil, err
	}
	return n.Get(id)
}

// ResolveReport ends a conflict on Alliance allianceID's report for period as Resolve
// does an Alliance's: a new revision of the report that follows the node's current one
// (If-Match names it) and names every other leaf as resolved, with the node's content
// or that of the competing revision take. The content must pass the program's rules
// for the Alliance as the node now holds it (Report.ValidateFor).
func (n *Node) ResolveReport(allianceID, period, ifMatch, take string) (*schema.Report, error) {
	if ifMatch == "" {
		return nil, ErrPreconditionRequired
	}
	id := schema.ReportID(allianceID, period)
	n.writeMu.Lock()
	defer n.writeMu.Unlock()
	a, err := n.Get(allianceID)
	if err != nil {
		return nil, err
	}
	cur, err := n.Report(allianceID, period)
	if err != nil {
		return nil, err
	}
	c, err := n.conflictOn(id)
	if err != nil {
		return nil, err
	}
	if ifMatch != "*" && ifMatch != cur.Rev {
		return nil, &reportPrecondition{ErrStaleRev, fmt.Sprintf("the report for %s has changed since you read it: you sent %s; it is now at %s", period, ifMatch, cur.Rev)}
	}
	next, resolves, err := resolution(c, cur, cur.Rev, take, n.replica.Load().ReportAt)
	if err != nil {
		return nil, err
	}
	if err := next.ValidateFor(n.program, a); err != nil {
		return nil, err
	}
	if err := n.writeResolution(schema.KindReport, id, cur.Rev, resolves, next); err != nil {
		return nil, err
	}
	return n.Report(allianceID, period)
}

// conflictOn is the replica's open conflict on record id; ErrNotConflicted if none.
func (n *Node) conflictOn(id string) (*hub.Conflict, error) {
	c, err := n.replica.Load().Conflict(id)
	if errors.Is(err, hub.ErrNotConflicted) {
		return nil, fmt.Errorf("%w: %s", ErrNotConflicted, id)
	}
	return c, err
}

// resolution is what Resolve and ResolveReport share: what the revision resolving
// conflict c, following the node's current revision cur (curRev), holds. It names every
// leaf but curRev as resolved (sorted, as a record's resolves must be); its content is
// cur's, or with take (another leaf) that leaf's, read by at from the replica. A take
// that is not a live leaf is a validation error on take.
func resolution[T any](c *hub.Conflict, cur T, curRev, take string, at func(id, rev string) (T, error)) (T, []string, error) {
	var resolves []string
	var taken *hub.ConflictLeaf
	for i, l := range c.Leaves {
		if l.Rev == take {
			taken = &c.Leaves[i]
		}
		if l.Rev != curRev {
			resolves = append(resolves, l.Rev)
		}
	}
	slices.Sort(resolves)
	if take == "" || take == curRev {
		return cur, resolves, nil
	}
	var ve schema.ValidationError
	switch {
	case taken == nil:
		ve.Add("take", fmt.Sprintf("%s is not one of the competing revisions", take))
	case taken.Deleted:
		ve.Add("take", fmt.Sprintf("%s is a deletion: it has no content to keep", take))
	default:
		next, err := at(c.ID, take)
		if errors.Is(err, hub.ErrNotConflicted) { // the replica changed since c was read
			err = fmt.Errorf("%w: %s", ErrNotConflicted, c.ID)
		}
		return next, resolves, err
	}
	var zero T
	return zero, nil, &ve
}

// writeResolution writes v (an Alliance or a report) as the revision of record id that
// follows prev and names resolves. The caller holds writeMu.
func (n *Node) writeResolution(kind schema.Kind, id, prev string, resolves []string, v any) error {
	body, err := bodyFor(v)
	if err != nil {
		return err
	}
	_, err = n.writeLocked(revision{kind: kind, id: id, prev: prev, body: body, resolves: resolves})
	return err
}

// reportByID is the node's current revision of report record id.
func (n *Node) reportByID(id string) (*schema.Report, error) {
	raw, err := n.db.Txn(false).First(tableReports, indexID, id)
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoReport, id)
	}
	return raw.(*storedReport).Report, nil
}

func (n *Node) handleConflicts(c echo.Context) error {
	items, err := n.Conflicts()
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items, "total": len(items), "next_page_token": ""})
}

// resolveTake reads a resolve request's body, {"take": REV}, which may be empty.
func resolveTake(c echo.Context) (string, error) {
	var req struct {
		Take string `json:"take"`
	}
	if c.Request().ContentLength != 0 {
		if err := edge.DecodeJSON(c, &req); err != nil {
			return "", err
		}
	}
	return req.Take, nil
}

// handleResolve serves POST /v1/alliances/{id}/resolve {"take": REV (optional)}.
func (n *Node) handleResolve(c echo.Context) error {
	if err := canWrite(c); err != nil {
		return err
	}
	take, err := resolveTake(c)
	if err != nil {
		return err
	}
	out, err := n.Resolve(c.Param("id"), ifMatch(c), take)
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", `"`+out.Rev+`"`)
	return c.JSON(http.StatusOK, out)
}

// handleResolveReport serves POST /v1/alliances/{id}/reports/{period}/resolve {"take":
// REV (optional)}.
func (n *Node) handleResolveReport(c echo.Context) error {
	if err := canWrite(c); err != nil {
		return err
	}
	take, err := resolveTake(c)
	if err != nil {
		return err
	}
	out, err := n.ResolveReport(c.Param("id"), c.Param("period"), ifMatch(c), take)
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", `"`+out.Rev+`"`)
	return c.JSON(http.StatusOK, out)
}
