package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/internal/edge"
	"github.com/alliancehub/alliancehub/internal/journal"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/go-jose/go-jose/v4"
	"github.com/hashicorp/go-memdb"
)

// Config configures a node. Only cmd/ reads flags; everything else arrives here.
type Config struct {
	Program *schema.Program // the program this node is the system of record for
	Key     *auth.Key       // signs records, batches and the node's own tokens
	// KeyFile is the file the key lives in. When set, the node reads its key from it
	// (Key may be nil; a rotation may have replaced the key Key holds), and a key
	// rotation (POST /v1/keys/rotate, keys.go) writes the new key there. Empty: the node
	// cannot rotate.
	KeyFile string
	DataDir string
	HubURL  string    // base URL of the hub, e.g. https://hub.example.gov
	Hub     HubClient // optional; defaults to an HTTP client of HubURL
	// HubJWK is the hub's public JWK, which signs the keys document the node verifies
	// pulled records against. Empty: pinned from the hub's /.well-known/jwks.json the
	// first time the node reaches it.
	HubJWK []byte
	// Catalog holds the program definitions the replica of the national roster reads
	// (national categories, compliance); nil means the built-in ones.
	Catalog *schema.Catalog
	// SyncAt is the local time of day ("HH:MM", in the program's time zone) of the
	// nightly sync; empty means 02:00.
	SyncAt string
	// SyncJitter spreads nightly runs so programs do not all arrive at once; zero means
	// 15 minutes. Negative disables jitter.
	SyncJitter time.Duration
	Retry      RetryPolicy
	// BatchRecords and BatchBytes bound one push batch; zero means the protocol's
	// maxima (500 records, 1 MiB), which are also the most they may be.
	BatchRecords int
	BatchBytes   int
	// BackstopEvery is how often a sync run also compares digests with the hub (the
	// backstop that repairs drift the incremental sync missed); zero means weekly,
	// negative never (POST /v1/sync?backstop=true still runs it).
	BackstopEvery time.Duration
	Now           func() time.Time
	Log           *slog.Logger

	// SyncEvery, if positive, adds a run every SyncEvery (at least a minute, plus up to
	// a tenth of it) after the end of the last run, in addition to the nightly one.
	SyncEvery time.Duration
	// NoCatchUp turns off the run soon after start of a node that is behind (its last
	// success more than a day old, its last run failed, or it never synced, so its
	// replica of the national roster is empty); it then waits for its next scheduled run.
	NoCatchUp bool
	// CatchUpDelay bounds the random delay of that run after start; zero means one
	// minute, negative means at once.
	CatchUpDelay time.Duration
	// After, if set, replaces time.After for the schedule's waits. With Now it is the
	// schedule's clock, so tests drive it without waiting hours.
	After func(time.Duration) <-chan time.Time
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
	program       *schema.Program
	key           *keyring // the key it signs with now, and earlier ones (keys.go)
	journal       *journal.Store
	db            *memdb.MemDB
	hub           HubClient
	hubKey        *jose.JSONWebKey // verifies the hub's keys document; nil until pinned
	catalog       *schema.Catalog  // program definitions the replica reads
	backstopEvery time.Duration
	batchRecords  int // bounds of one push batch
	batchBytes    int
	replica       atomic.Pointer[hub.Replica]       // the national roster as of the last pull; replaced whole by a rebuild
	keysDoc       atomic.Pointer[wire.KeysDocument] // the hub's keys document last verified (keys.go); nil before the first
	retry         RetryPolicy
	syncAt        clock
	jitter        time.Duration
	now           func() time.Time
	log           *slog.Logger
	handler       http.Handler
	tokens        auth.TokenCache // bearer tokens already verified (api.go verifyToken)

	// the schedule beyond the nightly run (schedule.go)
	every        time.Duration // SyncEvery; zero: off
	noCatchUp    bool
	catchUpDelay time.Duration
	after        func(time.Duration) <-chan time.Time

	writeMu sync.Mutex // serializes record writes
	syncMu  sync.Mutex // never two sync runs at once

	statusMu sync.Mutex
	nextRun  time.Time

	metrics *nodeMetrics // GET /metrics (metrics.go)
}

// New opens the node's store, rebuilds its state and prepares its API. Close releases it.
func New(cfg Config) (*Node, error) {
	if cfg.Program == nil || (cfg.Key == nil && cfg.KeyFile == "") || cfg.DataDir == "" {
		return nil, errors.New("node: program, key and data directory are required")
	}
	if cfg.Hub == nil && cfg.HubURL == "" {
		return nil, errors.New("node: the hub URL is required")
	}
	at, err := parseClock(cfg.SyncAt)
	if err != nil {
		return nil, err
	}
	key, err := newKeyring(&cfg)
	if err != nil {
		return nil, err
	}
	n := &Node{
		program: cfg.Program,
		key:     key,
		hub:     cfg.Hub,
		retry:   cfg.Retry.withDefaults(),
		syncAt:  at,
		jitter:  cfg.SyncJitter,
		every:   cfg.SyncEvery,
		after:   cfg.After,
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
	if n.every != 0 && n.every < minSyncEvery {
		return nil, &ConfigError{Flag: "sync-every", Value: n.every.String(), Problem: "want 0 (off) or at least 1m"}
	}
	n.noCatchUp, n.catchUpDelay = cfg.NoCatchUp, cfg.CatchUpDelay
	if n.catchUpDelay == 0 {
		n.catchUpDelay = defaultCatchUpDelay
	}
	if n.after == nil {
		n.after = time.After
	}
	if n.hub == nil {
		if n.hub, err = NewHTTPHub(cfg.HubURL, nil); err != nil {
			return nil, err
		}
	}
	if len(cfg.HubJWK) > 0 {
		if n.hubKey, err = parseHubJWK(cfg.HubJWK); err != nil {
			return nil, err
		}
	}
	n.catalog = cfg.Catalog
	n.backstopEvery = cfg.BackstopEvery
	n.batchRecords, n.batchBytes = cfg.BatchRecords, cfg.BatchBytes
	switch {
	case n.batchRecords < 0 || n.batchRecords > wire.MaxBatchRecords:
		return nil, &ConfigError{Flag: "batch-records", Value: fmt.Sprint(n.batchRecords), Problem: fmt.Sprintf("want 1 to %d", wire.MaxBatchRecords)}
	case n.batchBytes < 0 || n.batchBytes > wire.MaxBatchBytes:
		return nil, &ConfigError{Flag: "batch-bytes", Value: fmt.Sprint(n.batchBytes), Problem: fmt.Sprintf("want 1 to %d", wire.MaxBatchBytes)}
	}
	if n.batchRecords == 0 {
		n.batchRecords = wire.MaxBatchRecords
	}
	if n.batchBytes == 0 {
		n.batchBytes = wire.MaxBatchBytes
	}
	if n.backstopEvery == 0 {
		n.backstopEvery = 7 * 24 * time.Hour
	}
	if n.db, err = memdb.NewMemDB(dbSchema()); err != nil {
		return nil, fmt.Errorf("node: schema: %w", err)
	}
	if n.journal, err = journal.Open(cfg.DataDir); err != nil {
		return nil, err
	}
	err = load(n.journal, n.db)
	if err == nil {
		err = n.loadReplica()
	}
	if err == nil {
		err = n.loadKeys()
	}
	if err != nil {
		n.journal.Close()
		return nil, fmt.Errorf("node: load %s: %w", cfg.DataDir, err)
	}
	n.metrics = newNodeMetrics(n, cfg.DataDir)
	n.handler = n.routes()
	return n, nil
}

// Handler is the node's HTTP API.
func (n *Node) Handler() http.Handler { return n.handler }

// Program is the program this node serves.
func (n *Node) Program() *schema.Program { return n.program }

// Run serves the API on ln and runs the scheduled syncs (nightly, catch-up at start,
// --sync-every, retries after a failure) until ctx ends, then stops both
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
	stopBackups := n.journal.ServeBackups(n.log) // alliancehub backup, while the node runs
	defer stopBackups()
	err := edge.Serve(ctx, ln, n.handler, n.log)
	cancel()
	wg.Wait()
	return err
}

// Close closes the store. Call it after Run has returned.
func (n *Node) Close() error { return n.journal.Close() }
