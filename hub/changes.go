package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/hashicorp/go-memdb"
	"github.com/labstack/echo/v4"
)

// tableFeed holds one row, the feed's head: the last hub sequence number memdb shows.
// Long polls wait on its channel.
const tableFeed = "feed"

// feedHead is the feed's head. moved is closed once a transaction that moves the head
// commits (never when one aborts): memdb is not asked to watch anything (newStateDB),
// so the head carries its own wake-up.
type feedHead struct {
	ID    string // always "head"
	Seq   uint64
	moved chan struct{}
}

// setHead moves the feed's head to seq in txn; the long polls waiting on the head it
// replaces wake when txn commits.
func setHead(txn *memdb.Txn, seq uint64) error {
	raw, err := txn.First(tableFeed, indexID, "head")
	if err != nil {
		return err
	}
	if err := txn.Insert(tableFeed, &feedHead{ID: "head", Seq: seq, moved: make(chan struct{})}); err != nil {
		return err
	}
	if raw != nil {
		txn.Defer(func() { close(raw.(*feedHead).moved) })
	}
	return nil
}

// head reads the feed's head and a channel closed when it moves.
func head(txn *memdb.Txn) (uint64, <-chan struct{}, error) {
	raw, err := txn.First(tableFeed, indexID, "head")
	if err != nil || raw == nil {
		// newStateDB makes the head, so there is always one; without it nothing wakes.
		return 0, nil, err
	}
	h := raw.(*feedHead)
	return h.Seq, h.moved, nil
}

// heartbeatEvery is how often a long poll writes a blank line while it waits, so proxies
// and clients see a live connection rather than timing out (couchdb#1081). A variable
// only so tests need not wait for it.
var heartbeatEvery = 10 * time.Second

// Changes answers one page of the change feed: the revisions the hub accepted after
// since, oldest first, at most limit of them and wire.MaxChangesBytes in all (but at
// least one). When there are none and wait is positive it waits for the next accepted
// revision, up to wait, calling beat every heartbeatEvery. The page holds only what
// memdb shows, so its annotations and records come from one state.
func (h *Hub) Changes(ctx context.Context, since uint64, limit int, wait time.Duration, beat func()) (*wire.ChangesPage, error) {
	txn := h.db.Txn(false)
	top, moved, err := head(txn)
	if err != nil {
		return nil, err
	}
	if top <= since && wait > 0 {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		tick := time.NewTicker(heartbeatEvery)
		defer tick.Stop()
	waiting:
		for {
			select {
			case <-moved:
				break waiting
			case <-timer.C:
				break waiting
			case <-ctx.Done():
				// The server is stopping (its requests' contexts end with it) or the
				// reader left: answer what there is rather than cut the answer short.
				break waiting
			case <-tick.C:
				if beat != nil {
					beat()
				}
			}
		}
		txn = h.db.Txn(false)
		if top, _, err = head(txn); err != nil {
			return nil, err
		}
	}
	page := &wire.ChangesPage{Changes: []wire.Change{}, LastSeq: since, HeadSeq: top}
	if since >= top {
		return page, nil
	}
	size := 0
	err = h.journal.View(func(tx *journal.Tx) error {
		return tx.Scan(since, func(seq uint64, v []byte) error {
			if seq > top || len(page.Changes) == limit {
				return journal.ErrStop
			}
			var le logEntry
			if err := json.Unmarshal(v, &le); err != nil {
				return fmt.Errorf("journal entry %d: %w", seq, err)
			}
			if len(page.Changes) > 0 && size+len(le.JWS)+len(le.Note) > wire.MaxChangesBytes {
				return journal.ErrStop
			}
			c := wire.Change{Seq: seq, ReceivedAt: le.ReceivedAt, Record: le.JWS, Note: le.Note}
			if le.JWS != "" {
				if c.Hub, err = annotate(txn, le.JWS); err != nil {
					return fmt.Errorf("journal entry %d: %w", seq, err)
				}
			}
			page.Changes = append(page.Changes, c)
			page.LastSeq = seq
			size += len(le.JWS) + len(le.Note)
			return nil
		})
	})
	return page, err
}

// annotate is what the hub knows now of the record a signed revision belongs to.
func annotate(txn *memdb.Txn, jws string) (wire.Annotation, error) {
	payload, _, err := auth.UnverifiedPayload(jws)
	if err != nil {
		return wire.Annotation{}, err
	}
	var rec struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(payload, &rec); err != nil {
		return wire.Annotation{}, err
	}
	raw, err := txn.First(tableRecords, indexID, rec.ID)
	if err != nil || raw == nil {
		return wire.Annotation{}, err
	}
	e := raw.(*entry)
	links, err := linksOf(txn, e.ID)
	return wire.Annotation{Conflict: e.Conflict, WinningRev: e.Winner.Rev, Links: links}, err
}

// KeysDocument lists every enrolled program's public keys with their windows (revoked
// and expired ones too, so what they signed before still verifies), signed by the hub.
func (h *Hub) KeysDocument() (string, error) {
	doc := wire.KeysDocument{IssuedAt: h.now().UTC(), Programs: []wire.ProgramKeys{}}
	it, err := h.db.Txn(false).Get(tablePrograms, indexID)
	if err != nil {
		return "", err
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		p := raw.(*programState)
		pk := wire.ProgramKeys{Code: p.Code, Keys: []wire.PublishedKey{}}
		for _, k := range p.Keys {
			pk.Keys = append(pk.Keys, wire.PublishedKey{Kid: k.Kid, JWK: k.JWK, AddedAt: k.AddedAt, Window: k.Window})
		}
		doc.Programs = append(doc.Programs, pk)
	}
	return wire.SignKeys(h.key, &doc)
}

func (h *Hub) handleKeys(c echo.Context) error {
	doc, err := h.KeysDocument()
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, wire.MediaTypeJOSE, []byte(doc))
}

// handleChanges serves GET /v1/sync/changes?since=&limit=&wait=. Any signed-in caller
// may read it: it holds what the roster shows. A long poll commits to 200 before it
// waits, writing blank lines as heartbeats; the JSON page follows them.
func (h *Hub) handleChanges(c echo.Context) error {
	var errs schema.ValidationError
	uintParam := func(name string, def, lo, hi uint64) uint64 {
		s := c.QueryParam(name)
		if s == "" {
			return def
		}
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n < lo || n > hi {
			errs.Add(name, fmt.Sprintf("must be a whole number from %d to %d", lo, hi))
		}
		return n
	}
	since := uintParam("since", 0, 0, 1<<63)
	limit := uintParam("limit", wire.DefaultChangesLimit, 1, wire.MaxChangesLimit)
	var wait time.Duration
	if s := c.QueryParam("wait"); s != "" {
		d, err := parseWait(s)
		if err != nil {
			errs.Add("wait", err.Error())
		}
		wait = d
	}
	if err := edge.QueryProblem(&errs); err != nil {
		h.metrics.pullNotServed(pullRefused)
		return err
	}
	if claims := edge.Claims(c); claims.Role == auth.RoleProgram {
		h.noteContact(claims.Program, h.now())
	}
	res := c.Response()
	committed := false
	beat := func() {
		if !committed {
			res.Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
			res.WriteHeader(http.StatusOK)
			committed = true
		}
		res.Write([]byte("\n"))
		res.Flush()
	}
	page, err := h.Changes(c.Request().Context(), since, int(limit), wait, beat)
	if err != nil {
		h.metrics.pullNotServed(pullFailed)
		if committed {
			// The answer has begun; cut it short so the reader sees a truncated page
			// and asks again, rather than a page it could mistake for complete.
			h.log.Warn("change feed aborted after heartbeats", "err", err)
			panic(http.ErrAbortHandler)
		}
		return err
	}
	h.metrics.pulled(len(page.Changes))
	if committed {
		return json.NewEncoder(res).Encode(page)
	}
	return c.JSON(http.StatusOK, page)
}

// parseWait reads a long-poll wait: seconds ("30") or a Go duration ("30s").
func parseWait(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		n, nerr := strconv.Atoi(s)
		if nerr != nil {
			return 0, errors.New("must be seconds (30) or a duration (30s)")
		}
		d = time.Duration(n) * time.Second
	}
	if d < 0 || d > wire.MaxChangesWait {
		return 0, fmt.Errorf("must be from 0 to %s", wire.MaxChangesWait)
	}
	return d, nil
}
