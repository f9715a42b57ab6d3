package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/alliancehub/alliancehub/schema"
)

// Config configures a hub. Only cmd/ reads flags; everything else arrives here.
type Config struct {
	Key     *auth.Key // signs and verifies the hub's own tokens
	DataDir string
	Catalog *schema.Catalog // program definitions; nil means the built-in ones
	Now     func() time.Time
	Log     *slog.Logger
	// MaxPushes bounds the pushes the hub works on at once, all programs together;
	// MaxPushesPerProgram bounds one program's. Beyond either a push is answered 429
	// with Retry-After before its body is read. Zero means DefaultMaxPushes and
	// DefaultMaxPushesPerProgram.
	MaxPushes           int
	MaxPushesPerProgram int
}

// Hub is a running hub.
type Hub struct {
	rosterView // db and catalog
	key        *auth.Key
	journal    *journal.Store
	now        func() time.Time
	log        *slog.Logger
	handler    http.Handler

	loc *time.Location // where "today" is for the roster's default as_of

	writeMu sync.Mutex  // one writer: journal order is memdb order
	commits commitQueue // checked batches waiting to share a commit (commit.go)

	pushes *pushLimiter // pushes in flight, in all and per program

	metrics *hubMetrics // GET /metrics (metrics.go)

	tokens auth.TokenCache // bearer tokens already verified (programs.go verifyToken)
}

// New opens the hub's store, rebuilds the roster from it and prepares the API.
func New(cfg Config) (*Hub, error) {
	if cfg.Key == nil || cfg.DataDir == "" {
		return nil, errors.New("hub: key and data directory are required")
	}
	h := &Hub{rosterView: rosterView{catalog: cfg.Catalog}, key: cfg.Key, now: cfg.Now, log: cfg.Log}
	var err error
	if h.catalog == nil {
		if h.catalog, err = schema.LoadCatalog(); err != nil {
			return nil, err
		}
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.log = h.log.With("component", "hub")
	h.pushes = newPushLimiter(cfg.MaxPushes, cfg.MaxPushesPerProgram)
	// The hub is federal OSHA's: "today" is today in federal OSHA's time zone, not the
	// server's, so a roster asked for at 8 p.m. in Washington is not a day ahead.
	h.loc = time.UTC
	if fed, ok := h.catalog.Get("FED"); ok {
		h.loc = fed.Location()
	}
	if h.db, err = newStateDB(h.catalog); err != nil {
		return nil, fmt.Errorf("hub: state: %w", err)
	}
	if h.journal, err = journal.Open(cfg.DataDir); err != nil {
		return nil, err
	}
	if err := h.load(); err != nil {
		h.journal.Close()
		return nil, fmt.Errorf("hub: load %s: %w", cfg.DataDir, err)
	}
	h.metrics = newHubMetrics(h, cfg.DataDir)
	h.handler = h.routes()
	return h, nil
}

// Handler is the hub's HTTP API.
func (h *Hub) Handler() http.Handler { return h.handler }

// Run serves the API on ln, and backups on the data directory's socket, until ctx ends
// and returns once the server has stopped.
func (h *Hub) Run(ctx context.Context, ln net.Listener) error {
	h.log.Info("serving", "addr", ln.Addr().String())
	stopBackups := h.journal.ServeBackups(h.log) // alliancehub backup, while the hub runs
	defer stopBackups()
	return edge.Serve(ctx, ln, h.handler, h.log)
}

// Close closes the store. Call it after Run has returned.
func (h *Hub) Close() error { return h.journal.Close() }
