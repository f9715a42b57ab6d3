package node

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
	"github.com/hashicorp/go-memdb"
)

// Config configures a node. Only cmd/ reads flags; everything else arrives here.
type Config struct {
	Program *schema.Program // the program this node is the system of record for
	Key     *auth.Key       // signs records, batches and the node's own tokens
	DataDir string
	HubURL  string    // base URL of the hub, e.g. https://hub.example.gov
	Hub     HubClient // optional; defaults to an HTTP client of HubURL
	// SyncAt is the local time of day ("HH:MM", in the program's time zone) of the
	// nightly sync; empty means 02:00.
	SyncAt string
	// SyncJitter spreads nightly runs so programs do not all arrive at once; zero means
	// 15 minutes. Negative disables jitter.
	SyncJitter time.Duration
	Retry      RetryPolicy
	Now        func() time.Time
	Log        *slog.Logger
}

// ConfigError is a configuration value the node cannot use, named by its flag.
type ConfigError struct {
	Flag, Value, Problem string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("%s %q: %s", e.Flag, e.Value, e.Problem)
}

// Node is a running program node.
type Node struct {
	program *schema.Program
	key     *auth.Key
	journal *journal.Store
	db      *memdb.MemDB
	hub     HubClient
	retry   RetryPolicy
	syncAt  clock
	jitter  time.Duration
	now     func() time.Time
	log     *slog.Logger
	handler http.Handler

	writeMu sync.Mutex // serializes record writes
	syncMu  sync.Mutex // never two sync runs at once

	statusMu sync.Mutex
	nextRun  time.Time
}

// New opens the node's store, rebuilds its state and prepares its API. Close releases it.
func New(cfg Config) (*Node, error) {
	if cfg.Program == nil || cfg.Key == nil || cfg.DataDir == "" {
		return nil, errors.New("node: program, key and data directory are required")
	}
	if cfg.Hub == nil && cfg.HubURL == "" {
		return nil, errors.New("node: the hub URL is required")
	}
	at, err := parseClock(cfg.SyncAt)
	if err != nil {
		return nil, err
	}
	n := &Node{
		program: cfg.Program,
		key:     cfg.Key,
		hub:     cfg.Hub,
		retry:   cfg.Retry.withDefaults(),
		syncAt:  at,
		jitter:  cfg.SyncJitter,
		now:     cfg.Now,
		log:     cfg.Log,
	}
	if n.now == nil {
		n.now = time.Now
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	n.log = n.log.With("component", "node", "program", n.program.Code)
	if n.jitter == 0 {
		n.jitter = 15 * time.Minute
	}
	if n.hub == nil {
		if n.hub, err = NewHTTPHub(cfg.HubURL, nil); err != nil {
			return nil, err
		}
	}
	if n.db, err = memdb.NewMemDB(dbSchema()); err != nil {
		return nil, fmt.Errorf("node: schema: %w", err)
	}
	if n.journal, err = journal.Open(cfg.DataDir); err != nil {
		return nil, err
	}
	if err := load(n.journal, n.db); err != nil {
		n.journal.Close()
		return nil, fmt.Errorf("node: load %s: %w", cfg.DataDir, err)
	}
	n.handler = n.routes()
	return n, nil
}

// Handler is the node's HTTP API.
func (n *Node) Handler() http.Handler { return n.handler }

// Program is the program this node serves.
func (n *Node) Program() *schema.Program { return n.program }

// Run serves the API on ln and runs the nightly sync until ctx ends, then stops both
// and returns once they have.
func (n *Node) Run(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		n.schedule(ctx)
	}()
	n.log.Info("serving", "addr", ln.Addr().String())
	err := edge.Serve(ctx, ln, n.handler, n.log)
	cancel()
	wg.Wait()
	return err
}

// Close closes the store. Call it after Run has returned.
func (n *Node) Close() error { return n.journal.Close() }
