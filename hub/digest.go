package hub

import (
	"maps"
	"net/http"
	"slices"

	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/hashicorp/go-memdb"
	"github.com/labstack/echo/v4"
)

// revisionRefs lists every stored revision of program (every program when empty), with
// the hub sequence number each was stored under; inRange keeps only ids in that range.
func revisionRefs(txn *memdb.Txn, program string, inRange func(id string) bool) (map[string][]wire.RevisionRef, error) {
	var (
		it  memdb.ResultIterator
		err error
	)
	if program != "" {
		it, err = ofProgram(txn, tableRecords, program)
	} else {
		it, err = txn.Get(tableRecords, indexID)
	}
	if err != nil {
		return nil, err
	}
	out := map[string][]wire.RevisionRef{}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		e := raw.(*entry)
		if inRange != nil && !inRange(e.ID) {
			continue
		}
		for _, r := range e.Revs {
			out[r.Program] = append(out[r.Program], wire.RevisionRef{ID: r.RecordID, Rev: r.Rev, Seq: r.HubSeq})
		}
	}
	return out, nil
}

// Digest answers the backstop's three questions about the revisions a view holds: every
// program's digest (program empty); one program's digest split in ranges; one range's
// revisions (rng not empty).
func (h *rosterView) Digest(program, rng string) (*wire.DigestPage, error) {
	txn := h.db.Txn(false)
	var inRange func(string) bool
	if rng != "" {
		inRange = func(id string) bool { return wire.RangeOf(id) == rng }
	}
	refs, err := revisionRefs(txn, program, inRange)
	if err != nil {
		return nil, err
	}
	page := &wire.DigestPage{}
	switch {
	case rng != "":
		page.Revisions = refs[program]
		slices.SortFunc(page.Revisions, compareRef)
		if page.Revisions == nil {
			page.Revisions = []wire.RevisionRef{}
		}
	default:
		page.Programs = []wire.ProgramDigest{}
		for _, code := range slices.Sorted(maps.Keys(refs)) {
			pd := wire.ProgramDigest{Code: code, Digest: wire.DigestOf(refs[code])}
			if program != "" {
				pd.Ranges = wire.DigestRanges(refs[code])
			}
			page.Programs = append(page.Programs, pd)
		}
	}
	return page, nil
}

func compareRef(a, b wire.RevisionRef) int {
	switch x, y := a.ID+" "+a.Rev, b.ID+" "+b.Rev; {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// Revisions lists every stored revision of a program, with its hub sequence number.
func (h *rosterView) Revisions(program string) ([]wire.RevisionRef, error) {
	refs, err := revisionRefs(h.db.Txn(false), program, nil)
	return refs[program], err
}

// handleDigest serves GET /v1/sync/digest[?program=CODE[&range=R]] (any token).
func (h *Hub) handleDigest(c echo.Context) error {
	program, rng := c.QueryParam("program"), c.QueryParam("range")
	var errs schema.ValidationError
	if program != "" && !schema.ValidProgramCode(program) {
		errs.Add("program", "is not a program code")
	}
	if rng != "" && (program == "" || len(rng) != 1) {
		errs.Add("range", "is one character, and needs program")
	}
	if err := edge.QueryProblem(&errs); err != nil {
		return err
	}
	page, err := h.Digest(program, rng)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}
