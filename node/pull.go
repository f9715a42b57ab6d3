package node

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/go-jose/go-jose/v4"
	"github.com/labstack/echo/v4"
)

// Journal bucket and keys of the replica of the national roster.
const (
	bucketReplica = "replica"      // every pulled change, by hub sequence number
	keyHubJWK     = "hub_jwk"      // the hub's public key, pinned at first contact
	keyPulledAt   = "replica_info" // JSON hub.ReplicaInfo of the last finished pull
)

func replicaKey(seq uint64) string { return fmt.Sprintf("%020d", seq) }

// ErrHubKey is a keys document the node cannot trust: not signed by the hub key the node
// pinned or was given.
var ErrHubKey = errors.New("the hub's keys document is not signed by the hub key this node trusts")

// loadReplica rebuilds the replica from the changes the node pulled before, and the
// pinned hub key.
func (n *Node) loadReplica() error {
	rep, err := hub.NewReplica(n.catalog)
	if err != nil {
		return err
	}
	var (
		batch []wire.Change
		info  hub.ReplicaInfo
	)
	flush := func() error {
		err := rep.Apply(batch)
		batch = batch[:0]
		return err
	}
	err = n.journal.View(func(tx *journal.Tx) error {
		if raw := tx.Get(bucketMeta, keyHubJWK); raw != nil && n.hubKey == nil {
			jwk, err := auth.ParsePublicJWK(raw)
			if err != nil {
				return fmt.Errorf("pinned hub key: %w", err)
			}
			n.hubKey = &jwk
		}
		if raw := tx.Get(bucketMeta, keyPulledAt); raw != nil {
			if err := json.Unmarshal(raw, &info); err != nil {
				return fmt.Errorf("replica info: %w", err)
			}
		}
		return tx.ForEach(bucketReplica, func(key string, v []byte) error {
			var c wire.Change
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("replica change %s: %w", key, err)
			}
			batch = append(batch, c)
			if len(batch) == 4096 {
				return flush()
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	if info.PulledAt != nil {
		rep.Pulled(*info.PulledAt, info.HubHeadSeq)
	}
	if err := n.restoreKeys(rep); err != nil {
		return err
	}
	n.replica.Store(rep)
	return nil
}

// pull brings the replica up to the hub's head: it reads the hub's keys document,
// verifies it against the trusted hub key, then pages through the change feed after
// the replica's last applied change, verifying every record before it keeps any of a
// page. Each page is made durable, with the cursor implied by its keys, before it is
// applied, so an interrupted pull resumes where it stopped and never applies a change
// twice.
func (n *Node) pull(ctx context.Context, r *retrier, res *wire.SyncResult) error {
	keys, err := n.fetchKeys(ctx, r)
	if err != nil {
		return err
	}
	refreshed := false
	for {
		since := n.replica.Load().Info().AppliedSeq
		var page *wire.ChangesPage
		err := n.withRetry(ctx, r, "pull", func() (err error) {
			page, err = n.hub.Changes(ctx, n.hubToken(), since, wire.DefaultChangesLimit)
			return err
		})
		if err != nil {
			return err
		}
		if page.HeadSeq < since {
			// The hub's feed is behind what this replica applied: the hub was restored
			// from an older backup and will number new changes again from there
			// (atproto#2400). Nothing pulled so far can be matched by number any more.
			n.log.Warn("the hub's change feed went back; rebuilding the replica", "hub_head_seq", page.HeadSeq, "applied_seq", since)
			return n.rebuildReplica(ctx, r, &Backstop{}, res)
		}
		if len(page.Changes) > 0 && page.LastSeq != page.Changes[len(page.Changes)-1].Seq {
			return fmt.Errorf("%w: page ends at %d but says last_seq %d", errBadAnswer, page.Changes[len(page.Changes)-1].Seq, page.LastSeq)
		}
		err = n.replica.Load().Verify(keys, n.hubKeySet(), page.Changes)
		if errors.Is(err, hub.ErrUnverified) && !refreshed {
			// A program enrolled, or a key added, after the document was read.
			refreshed = true
			if keys, err = n.fetchKeys(ctx, r); err != nil {
				return err
			}
			err = n.replica.Load().Verify(keys, n.hubKeySet(), page.Changes)
		}
		if err != nil {
			return fmt.Errorf("pulling from the hub: %w; nothing of this page was kept, and the next run asks again", err)
		}
		if len(page.Changes) == 0 {
			return n.finishPull(page.HeadSeq)
		}
		// Applied before it is kept: a page the replica cannot apply is never written,
		// so it cannot stop the node from starting. A page applied but not kept (a
		// crash, a full disk) is pulled again after a restart.
		if err := n.replica.Load().Apply(page.Changes); err != nil {
			return fmt.Errorf("applying pulled changes: %w", err)
		}
		if err := n.keepChanges(page.Changes); err != nil {
			// The replica is ahead of the disk: go back to what the disk holds, so the
			// next run pulls the page again.
			if rerr := n.loadReplica(); rerr != nil {
				n.log.Error("reloading the replica", "err", rerr)
			}
			return fmt.Errorf("saving pulled changes: %w", err)
		}
		res.Pulled += len(page.Changes)
		if page.LastSeq >= page.HeadSeq {
			return n.finishPull(page.HeadSeq)
		}
	}
}

func (n *Node) finishPull(hubHead uint64) error {
	n.replica.Load().Pulled(n.now(), hubHead)
	raw, err := json.Marshal(n.replica.Load().Info())
	if err != nil {
		return err
	}
	return n.journal.Update(func(tx *journal.Tx) error { return tx.Put(bucketMeta, keyPulledAt, raw) })
}

// fetchKeys reads the hub's keys document and verifies its signature with the hub key
// the node trusts: the one it was given (--hub-jwk), or else the one it pinned the first
// time it reached the hub.
func (n *Node) fetchKeys(ctx context.Context, r *retrier) (*wire.KeysDocument, error) {
	if err := n.pinHubKey(ctx, r); err != nil {
		return nil, err
	}
	var doc string
	err := n.withRetry(ctx, r, "keys", func() (err error) {
		doc, err = n.hub.Keys(ctx, n.hubToken())
		return err
	})
	if err != nil {
		return nil, err
	}
	pub, _ := n.hubKey.Key.(ed25519.PublicKey)
	v, err := auth.Verify(doc, auth.TypeKeys, auth.KeySet{n.hubKey.KeyID: pub})
	if err != nil {
		return nil, fmt.Errorf("%w (%s, trusted since this node first reached the hub): %v; if the hub's key was replaced on purpose, start the node with --hub-jwk holding the new public key",
			ErrHubKey, n.hubKey.KeyID, err)
	}
	var keys wire.KeysDocument
	if err := json.Unmarshal(v.Payload, &keys); err != nil {
		return nil, fmt.Errorf("%w: keys document: %v", errBadAnswer, err)
	}
	if err := n.keepKeys(doc, &keys); err != nil {
		return nil, err
	}
	return &keys, nil
}

// pinHubKey makes sure the node knows the hub's public key: given in the configuration,
// or read once from the hub's /.well-known/jwks.json and kept (trust on first use, as
// SSH does), so a different server answering later is noticed.
func (n *Node) pinHubKey(ctx context.Context, r *retrier) error {
	if n.hubKey != nil {
		return nil
	}
	var raw []byte
	err := n.withRetry(ctx, r, "hub key", func() (err error) {
		raw, err = n.hub.JWKS(ctx)
		return err
	})
	if err != nil {
		return err
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil || len(set.Keys) != 1 {
		return fmt.Errorf("%w: the hub's /.well-known/jwks.json should hold exactly one key; start the node with --hub-jwk", errBadAnswer)
	}
	pubJSON, err := set.Keys[0].MarshalJSON()
	if err != nil {
		return err
	}
	jwk, err := auth.ParsePublicJWK(pubJSON)
	if err != nil {
		return fmt.Errorf("%w: the hub's key: %v", errBadAnswer, err)
	}
	err = n.journal.Update(func(tx *journal.Tx) error { return tx.Put(bucketMeta, keyHubJWK, pubJSON) })
	if err != nil {
		return err
	}
	n.hubKey = &jwk
	n.log.Warn("pinned the hub's key on first contact; pass --hub-jwk to pin it explicitly", "kid", jwk.KeyID)
	return nil
}

// hubKeySet is the trusted hub key, for its signed notes in the change feed.
func (n *Node) hubKeySet() auth.KeySet {
	pub, _ := n.hubKey.Key.(ed25519.PublicKey)
	return auth.KeySet{n.hubKey.KeyID: pub}
}

// parseHubJWK reads the hub's public key as a JWK, or as a JWK Set holding exactly one
// key (what the hub's /.well-known/jwks.json answers).
func parseHubJWK(raw []byte) (*jose.JSONWebKey, error) {
	bad := func(problem string) error {
		return &ConfigError{Flag: "hub-jwk", Value: shorten(string(raw), 60), Problem: problem}
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if json.Unmarshal(raw, &set) == nil && set.Keys != nil {
		if len(set.Keys) != 1 {
			return nil, bad(fmt.Sprintf("a key set with %d keys; want the hub's one public key", len(set.Keys)))
		}
		raw = set.Keys[0]
	}
	if auth.HasPrivatePart(raw) {
		return nil, bad("holds a private key; give the node only the hub's public key")
	}
	jwk, err := auth.ParsePublicJWK(raw)
	if err != nil {
		return nil, bad(err.Error())
	}
	return &jwk, nil
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// hubToken mints a short-lived program token for calls to the hub.
func (n *Node) hubToken() string {
	token, err := auth.MintToken(n.key, auth.TokenRequest{
		Subject: "node:" + n.program.Code, Role: auth.RoleProgram, Program: n.program.Code,
		TTL: 5 * time.Minute, Now: n.now(),
	})
	if err != nil {
		panic("minting a token with the node's own key: " + err.Error()) // only fails on a broken key
	}
	return token
}

// handleEntry serves GET /v1/roster/{id} from the replica.
func (n *Node) handleEntry(c echo.Context) error {
	if n.replica.Load().Info().PulledAt == nil {
		return errNoReplica
	}
	return n.replica.Load().ServeEntry(c, schema.DateOf(n.now().In(n.program.Location())))
}

// errNoReplica answers a roster read before the first pull.
var errNoReplica = edge.Errorf(http.StatusServiceUnavailable, "no-replica",
	"this node has not pulled the national roster from the hub yet; run a sync (POST /v1/sync)")

// handleRoster serves GET /v1/roster from the replica: the national roster as of the
// last pull, with the hub's filters, and the replica's freshness on each page.
func (n *Node) handleRoster(c echo.Context) error {
	if n.replica.Load().Info().PulledAt == nil {
		return errNoReplica
	}
	return n.replica.Load().ServeRoster(c, schema.DateOf(n.now().In(n.program.Location())))
}
