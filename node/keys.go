package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/go-jose/go-jose/v4"
	"github.com/labstack/echo/v4"
)

// Key rotation on the node (docs/PROTOCOL.md section 2, deploy/README.md): the node
// makes its next key in KEY.new beside its key file KEY, announces it to the hub in a
// rotation signed with the key it holds now, and only once the hub has enrolled it
// copies the old key to KEY.old, moves KEY.new to KEY and signs with the new key. Every
// step can be repeated: a rotation cut short anywhere is finished by asking again, and
// the hub takes the same announcement twice without harm. The node keeps accepting
// tokens signed by its previous key until the not_after the hub gave that key, or until
// the hub revoked it, which the node learns from the keys document of its next pull.

// Journal keys (bucket meta) of the node's key state.
const (
	keyRetiredKeys = "retired_keys" // JSON []retiredKey: earlier keys, for their tokens
	keyKeysDoc     = "keys_doc"     // the last verified keys document (compact JWS)
)

// Rotation errors.
var (
	// ErrNoKeyFile: the node was started with a key but no key file, so it has nowhere
	// to keep a new one.
	ErrNoKeyFile = errors.New("this node was started without a key file, so it cannot rotate its key")
	// ErrRotation: the hub did not take the new key; the node signs with its old one.
	ErrRotation = errors.New("key rotation failed")
)

// keyring is the key the node signs with now, swapped whole by a rotation, and the keys
// it signed with before, whose tokens it accepts until their end.
type keyring struct {
	cur     atomic.Pointer[auth.Key]
	retired atomic.Pointer[[]retiredKey]
	file    string // where the key lives (Config.KeyFile); "" when none
}

var _ auth.Signer = (*keyring)(nil)

// retiredKey is a key the node signed with before a rotation: its public half, the end
// of its validity the hub set, and when the hub revoked it, if it did.
type retiredKey struct {
	JWK       jose.JSONWebKey `json:"jwk"`
	NotAfter  time.Time       `json:"not_after"`
	RevokedAt *time.Time      `json:"revoked_at,omitempty"`
}

// newKeyring holds the key the node starts with: the one in cfg.KeyFile when that is
// set (a rotation may have replaced the key the configuration was built with), else
// cfg.Key.
func newKeyring(cfg *Config) (*keyring, error) {
	k := cfg.Key
	if cfg.KeyFile != "" {
		var err error
		if k, err = auth.LoadKey(cfg.KeyFile); err != nil {
			return nil, &ConfigError{Flag: "key", Value: cfg.KeyFile, Problem: err.Error()}
		}
	}
	r := &keyring{file: cfg.KeyFile}
	r.cur.Store(k)
	r.retired.Store(&[]retiredKey{})
	return r, nil
}

func (r *keyring) key() *auth.Key { return r.cur.Load() }

// KeyID implements auth.Signer.
func (r *keyring) KeyID() string { return r.key().KeyID() }

// Sign implements auth.Signer.
func (r *keyring) Sign(payload []byte, typ string) (string, error) { return r.key().Sign(payload, typ) }

// PublicKey is the current key's public half.
func (r *keyring) PublicKey() ed25519.PublicKey { return r.key().PublicKey() }

// PublicJWK is the current key's public JWK.
func (r *keyring) PublicJWK() jose.JSONWebKey { return r.key().PublicJWK() }

// tokenKeys are the keys whose tokens the node accepts at now: its key, and each earlier
// key until its not_after.
func (r *keyring) tokenKeys(now time.Time) auth.KeyLookup { return tokenKeys{r, now} }

type tokenKeys struct {
	r   *keyring
	now time.Time
}

func (k tokenKeys) LookupKey(kid string) (ed25519.PublicKey, error) {
	cur := k.r.key()
	if kid == cur.KeyID() {
		return cur.PublicKey(), nil
	}
	for _, rk := range *k.r.retired.Load() {
		if rk.JWK.KeyID != kid {
			continue
		}
		if rk.RevokedAt != nil && k.now.After(*rk.RevokedAt) {
			// A stolen key's tokens must not keep working on the node for the rest of
			// its grace period once an admin revoked it at the hub.
			return nil, fmt.Errorf("%w: %s, this node's key before %s, was revoked at the hub at %s: mint a new token with the node's key file",
				auth.ErrKeyRevoked, kid, cur.KeyID(), rk.RevokedAt.UTC().Format(time.RFC3339))
		}
		if k.now.After(rk.NotAfter) {
			return nil, fmt.Errorf("%w: %s was this node's key until %s; the node signs with %s now: mint a new token with its key file",
				auth.ErrKeyNotValid, kid, rk.NotAfter.UTC().Format(time.RFC3339), cur.KeyID())
		}
		if pub, ok := rk.JWK.Key.(ed25519.PublicKey); ok {
			return pub, nil
		}
	}
	return nil, fmt.Errorf("%w: %q is not this node's key", auth.ErrUnknownKey, kid)
}

// loadKeys reads the node's earlier keys from its journal, and warns of a rotation that
// did not finish.
func (n *Node) loadKeys() error {
	var list []retiredKey
	err := n.journal.View(func(tx *journal.Tx) error {
		if raw := tx.Get(bucketMeta, keyRetiredKeys); raw != nil {
			return json.Unmarshal(raw, &list)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("retired keys: %w", err)
	}
	if list == nil {
		list = []retiredKey{}
	}
	n.key.retired.Store(&list)
	if n.key.file != "" {
		if _, err := os.Stat(n.key.file + ".new"); err == nil {
			n.log.Warn("a key rotation did not finish: its new key waits in the .new file; rotate again (alliancehub rotate-key) to finish it",
				"file", n.key.file+".new")
		}
	}
	return nil
}

// storeRetired makes list the node's earlier keys, durably first.
func (n *Node) storeRetired(list []retiredKey) error {
	raw, err := json.Marshal(list)
	if err != nil {
		return err
	}
	if err := n.journal.Update(func(tx *journal.Tx) error { return tx.Put(bucketMeta, keyRetiredKeys, raw) }); err != nil {
		return err
	}
	n.key.retired.Store(&list)
	return nil
}

// retire records k as an earlier key whose tokens count until notAfter, durably.
func (n *Node) retire(k *auth.Key, notAfter time.Time) error {
	list := slices.DeleteFunc(slices.Clone(*n.key.retired.Load()), func(rk retiredKey) bool { return rk.JWK.KeyID == k.KeyID() })
	list = append(list, retiredKey{JWK: k.PublicJWK(), NotAfter: notAfter.UTC()})
	return n.storeRetired(list)
}

// keepKeys keeps a verified keys document (the compact JWS and what it says) for the
// replica's provenance flags, durably, so a restarted node shows them before its next
// pull; and takes from it the revocations of this node's earlier keys.
func (n *Node) keepKeys(doc string, keys *wire.KeysDocument) error {
	if err := n.replica.Load().UseKeys(keys); err != nil {
		return err
	}
	if err := n.journal.Update(func(tx *journal.Tx) error { return tx.Put(bucketMeta, keyKeysDoc, []byte(doc)) }); err != nil {
		return err
	}
	n.keysDoc.Store(keys)
	return n.noteRevocations(keys)
}

// keyWindow is the window the hub gave this program's key kid in the keys document the
// node last verified; ok false before the first pull, or for a key that document does
// not list (one enrolled since, by a rotation, until the next pull).
func (n *Node) keyWindow(kid string) (w auth.Window, ok bool) {
	doc := n.keysDoc.Load()
	if doc == nil {
		return w, false
	}
	for _, p := range doc.Programs {
		if p.Code != n.program.Code {
			continue
		}
		for _, k := range p.Keys {
			if k.Kid == kid {
				return k.Window, true
			}
		}
	}
	return w, false
}

// noteRevocations marks, durably, each earlier key of this node that the hub's keys
// document shows revoked, so that its tokens are refused from the revocation on. A
// sync run and a rotation never overlap (syncMu), so the list is not changed meanwhile.
func (n *Node) noteRevocations(keys *wire.KeysDocument) error {
	revoked := map[string]time.Time{}
	for _, p := range keys.Programs {
		if p.Code != n.program.Code {
			continue
		}
		for _, k := range p.Keys {
			if k.RevokedAt != nil {
				revoked[k.Kid] = k.RevokedAt.UTC()
			}
		}
	}
	list := slices.Clone(*n.key.retired.Load())
	changed := false
	for i, rk := range list {
		at, ok := revoked[rk.JWK.KeyID]
		if ok && (rk.RevokedAt == nil || !rk.RevokedAt.Equal(at)) {
			list[i].RevokedAt = &at
			changed = true
			n.log.Info("an earlier key of this node was revoked at the hub; its tokens are refused from then on", "kid", rk.JWK.KeyID, "revoked_at", at)
		}
	}
	if !changed {
		return nil
	}
	return n.storeRetired(list)
}

// restoreKeys gives rep the keys document the node last verified, if any.
func (n *Node) restoreKeys(rep *hub.Replica) error {
	var raw []byte
	n.journal.View(func(tx *journal.Tx) error {
		raw = slices.Clone(tx.Get(bucketMeta, keyKeysDoc))
		return nil
	})
	if raw == nil {
		return nil
	}
	// Verified before it was kept.
	payload, _, err := auth.UnverifiedPayload(string(raw))
	if err != nil {
		return fmt.Errorf("kept keys document: %w", err)
	}
	var keys wire.KeysDocument
	if err := json.Unmarshal(payload, &keys); err != nil {
		return fmt.Errorf("kept keys document: %w", err)
	}
	if err := rep.UseKeys(&keys); err != nil {
		return err
	}
	n.keysDoc.Store(&keys)
	return nil
}

// KeyAnnouncer is a hub client that can announce a program's next key.
type KeyAnnouncer interface {
	// AnnounceKey sends a signed rotation announcement for program and answers the
	// program's keys as the hub holds them afterwards.
	AnnounceKey(ctx context.Context, token, program, rotation string) (*ProgramKeys, error)
}

// ProgramKeys is what the node reads of the hub's answer to a rotation.
type ProgramKeys struct {
	Keys []struct {
		Kid string `json:"kid"`
		auth.Window
		State string `json:"state"`
	} `json:"keys"`
}

// AnnounceKey implements KeyAnnouncer.
func (h *HTTPHub) AnnounceKey(ctx context.Context, token, program, rotation string) (*ProgramKeys, error) {
	var out ProgramKeys
	if err := h.call(ctx, http.MethodPost, "/v1/programs/"+program+"/keys", token, strings.NewReader(rotation), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RotateRequest asks the node to rotate its key. RetireOldAt is when the old key should
// stop counting at the hub (default: wire.RotationGrace after the hub takes the new
// one); never before the hub's clock.
type RotateRequest struct {
	RetireOldAt *time.Time `json:"retire_old_at,omitempty"`
}

// RotateResult answers a rotation: the key the node signs with now, the one it signed
// with before and when the hub stops accepting that one, and where both are kept.
type RotateResult struct {
	Kid              string    `json:"kid"`
	PreviousKid      string    `json:"previous_kid"`
	PreviousNotAfter time.Time `json:"previous_not_after"`
	KeyFile          string    `json:"key_file"`
	OldKeyFile       string    `json:"old_key_file"`
}

// RotateKey replaces the node's key: it makes a new key in KEY.new (or takes the one an
// unfinished rotation left there), announces it to the hub signed with the current key,
// and once the hub has enrolled it keeps the old key as KEY.old (an earlier KEY.old moves
// to KEY.old.<its kid>; no file is ever overwritten), moves KEY.new to KEY, and signs
// with the new key from then on. If the hub refuses, the node keeps its key and KEY.new
// is removed; if the hub cannot be reached, KEY.new stays for the next attempt. It waits
// for no sync run: one in progress answers ErrSyncRunning.
func (n *Node) RotateKey(ctx context.Context, req RotateRequest) (*RotateResult, error) {
	file := n.key.file
	if file == "" {
		return nil, ErrNoKeyFile
	}
	ann, ok := n.hub.(KeyAnnouncer)
	if !ok {
		return nil, fmt.Errorf("%w: this node's hub client cannot announce keys", ErrRotation)
	}
	if !n.syncMu.TryLock() {
		return nil, ErrSyncRunning
	}
	defer n.syncMu.Unlock()
	old := n.key.key()
	newFile := file + ".new"
	next, err := auth.LoadKey(newFile)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if next, err = auth.GenerateKey(); err != nil {
			return nil, err
		}
		if err := next.WriteFile(newFile); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("%w: %s holds no usable key (%v); move it away and rotate again", ErrRotation, newFile, err)
	case next.KeyID() == old.KeyID():
		return nil, fmt.Errorf("%w: %s holds the key the node signs with now; remove it and rotate again", ErrRotation, newFile)
	default:
		n.log.Info("finishing an earlier rotation with the key it left", "file", newFile, "kid", next.KeyID())
	}
	pub, err := json.Marshal(next.PublicJWK())
	if err != nil {
		return nil, err
	}
	rot := &wire.Rotation{Program: n.program.Code, JWK: pub, IssuedAt: n.now().UTC(), RetireOldAt: req.RetireOldAt}
	signed, err := wire.SignRotation(old, rot)
	if err != nil {
		return nil, err
	}
	actx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	keys, err := ann.AnnounceKey(actx, n.hubToken(), n.program.Code, signed)
	if err != nil {
		var he *HubError
		if errors.As(err, &he) && !he.Temporary() {
			// The hub refused the announcement: the new key was never enrolled.
			os.Remove(newFile)
			return nil, fmt.Errorf("%w: %v; the node keeps signing with key %s", ErrRotation, err, old.KeyID())
		}
		return nil, fmt.Errorf("%w: %v; the node keeps signing with key %s, and the new key waits in %s for the next attempt", ErrRotation, err, old.KeyID(), newFile)
	}
	notAfter := time.Time{}
	taken := false
	for _, k := range keys.Keys {
		switch {
		case k.Kid == next.KeyID():
			taken = k.RevokedAt == nil
		case k.Kid == old.KeyID() && k.NotAfter != nil:
			notAfter = *k.NotAfter
		}
	}
	if !taken || notAfter.IsZero() {
		return nil, fmt.Errorf("%w: the hub's answer does not show the new key %s enrolled and the old key's end; the node keeps signing with key %s", ErrRotation, next.KeyID(), old.KeyID())
	}
	// The old key's tokens keep working, after a restart too, whatever happens next.
	if err := n.retire(old, notAfter); err != nil {
		return nil, err
	}
	oldFile, err := keepOldKey(file, old)
	if err != nil {
		return nil, fmt.Errorf("%w: the hub took the new key, but %v; the node keeps signing with key %s (valid until %s): fix that and rotate again to finish",
			ErrRotation, err, old.KeyID(), notAfter.UTC().Format(time.RFC3339))
	}
	if err := os.Rename(newFile, file); err != nil {
		return nil, fmt.Errorf("%w: the hub took the new key, but %v; rotate again to finish", ErrRotation, err)
	}
	syncDir(filepath.Dir(file))
	// Under writeMu, so no record is signed with one key and stored under the other's id.
	n.writeMu.Lock()
	n.key.cur.Store(next)
	n.writeMu.Unlock()
	n.log.Info("key rotated", "kid", next.KeyID(), "previous_kid", old.KeyID(), "previous_not_after", notAfter.UTC().Format(time.RFC3339))
	return &RotateResult{Kid: next.KeyID(), PreviousKid: old.KeyID(), PreviousNotAfter: notAfter.UTC(), KeyFile: file, OldKeyFile: oldFile}, nil
}

// keepOldKey writes old to KEY.old. A KEY.old that holds old already is kept; one that
// holds an earlier key moves to KEY.old.<its kid> first. Nothing is overwritten.
func keepOldKey(file string, old *auth.Key) (string, error) {
	oldFile := file + ".old"
	prev, err := auth.LoadKey(oldFile)
	switch {
	case err == nil && prev.KeyID() == old.KeyID():
		return oldFile, nil
	case err == nil:
		aside := oldFile + "." + prev.KeyID()
		if _, err := os.Stat(aside); err == nil {
			return "", fmt.Errorf("both %s and %s exist; move one away", oldFile, aside)
		}
		if err := os.Rename(oldFile, aside); err != nil {
			return "", err
		}
	case !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("%s is in the way: %v", oldFile, err)
	}
	if err := old.WriteFile(oldFile); err != nil {
		return "", err
	}
	return oldFile, nil
}

// syncDir makes renames in dir durable, where the system allows.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// handleRotateKey serves POST /v1/keys/rotate (program or admin): the body
// (RotateRequest) may be empty.
func (n *Node) handleRotateKey(c echo.Context) error {
	if err := canWrite(c); err != nil {
		return err
	}
	var req RotateRequest
	body, err := edge.ReadBody(c, "", edge.MaxJSONBody)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := edge.Unmarshal(body, &req); err != nil {
			return err
		}
	}
	res, err := n.RotateKey(c.Request().Context(), req)
	switch {
	case errors.Is(err, ErrNoKeyFile):
		return edge.Errorf(http.StatusConflict, "no-key-file", "%v; start it with --key FILE", err)
	case errors.Is(err, ErrRotation):
		return edge.Errorf(http.StatusBadGateway, "rotation-failed", "%v", err)
	case err != nil:
		return err
	}
	return c.JSON(http.StatusOK, res)
}
