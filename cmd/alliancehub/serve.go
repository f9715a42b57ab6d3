package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/node"
	"github.com/alliancehub/alliancehub/schema"
)

// newLogger logs JSON lines (log/slog), one object per event, for log collectors.
func newLogger(stderr io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// loadServerKey reads a server's key, with a hint when the file is missing.
func loadServerKey(path string) (*auth.Key, error) {
	k, err := auth.LoadKey(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, usageError("key file %s does not exist; create it with 'alliancehub keygen --out %s'", path, path)
	}
	return k, err
}

// loadCatalog reads the built-in program definitions and the --programs files, a
// comma-separated list.
func loadCatalog(files string) (*schema.Catalog, error) {
	var list []string
	for _, f := range strings.Split(files, ",") {
		if f = strings.TrimSpace(f); f != "" {
			list = append(list, f)
		}
	}
	return schema.LoadCatalog(list...)
}

func runHub(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := newFlags("hub", "hub [--config FILE] --addr ADDR --data DIR --key FILE [--programs FILE] [--max-pushes N] [--max-pushes-per-program N]", stderr)
	addr := fs.String("addr", "127.0.0.1:8400", "address to listen on")
	data := fs.String("data", "", "data directory (created if missing)")
	keyFile := fs.String("key", "", "the hub's private JWK (from 'alliancehub keygen')")
	programs := fs.String("programs", "", "extra program definitions: JSON files, comma-separated, added to FED, MI and NV")
	maxPushes := fs.Int("max-pushes", hub.DefaultMaxPushes, "pushes the hub works on at once, all programs together; more are answered 429 with Retry-After")
	maxPerProgram := fs.Int("max-pushes-per-program", hub.DefaultMaxPushesPerProgram, "pushes one program may have in flight at once; more are answered 429 with Retry-After")
	addConfigFlag(fs)
	src, err := parseFlags(fs, args, "addr", "data", "key")
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"max-pushes", *maxPushes}, {"max-pushes-per-program", *maxPerProgram}} {
		if f.v < 1 {
			return src.badValue(f.name, strconv.Itoa(f.v), "must be at least 1")
		}
	}
	key, err := loadServerKey(*keyFile)
	if err != nil {
		return err
	}
	catalog, err := loadCatalog(*programs)
	if err != nil {
		return err
	}
	log := newLogger(stderr)
	cfg := hub.Config{Key: key, DataDir: *data, Catalog: catalog, Log: log,
		MaxPushes: *maxPushes, MaxPushesPerProgram: *maxPerProgram}
	clock, err := testClock(log)
	if err != nil {
		return err
	}
	if clock != nil {
		cfg.Now = clock.Now
	}
	h, err := hub.New(cfg)
	if err != nil {
		return err
	}
	defer h.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	return h.Run(ctx, ln)
}

func runNode(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := newFlags("node", "node [--config FILE] --program CODE --addr ADDR --data DIR --key FILE --hub URL [--sync-at HH:MM] [--sync-every DUR] [--sync-catch-up=false] [--hub-jwk FILE] [--batch-records N] [--batch-bytes N] [--programs FILE]", stderr)
	program := fs.String("program", "", "the program this node serves (FED, MI, NV, or one from --programs)")
	addr := fs.String("addr", "127.0.0.1:8401", "address to listen on")
	data := fs.String("data", "", "data directory (created if missing)")
	keyFile := fs.String("key", "", "the node's private JWK (from 'alliancehub keygen'); enrolled with the hub")
	hubURL := fs.String("hub", "", "the hub's base URL")
	syncAt := fs.String("sync-at", "02:00", "nightly sync time (HH:MM) in the program's time zone")
	syncEvery := fs.Duration("sync-every", 0, "also sync every DUR (at least 1m, e.g. 6h), counted from the end of the last run; 0: nightly only")
	catchUp := fs.Bool("sync-catch-up", true, "sync within a minute of start when behind (last success over a day old, last run failed, or never synced)")
	batchRecords := fs.Int("batch-records", 500, "at most this many records in one push batch (1 to 500)")
	batchBytes := fs.Int("batch-bytes", 1<<20, "at most this many bytes of records in one push batch (1 to 1048576)")
	hubJWK := fs.String("hub-jwk", "", "the hub's public JWK (its /.well-known/jwks.json key); without it the node trusts the key the hub shows on first contact and keeps it")
	programs := fs.String("programs", "", "extra program definitions: JSON files, comma-separated, added to FED, MI and NV")
	addConfigFlag(fs)
	src, err := parseFlags(fs, args, "program", "addr", "data", "key", "hub")
	if err != nil {
		return err
	}
	catalog, err := loadCatalog(*programs)
	if err != nil {
		return err
	}
	def, ok := catalog.Get(*program)
	if !ok {
		return src.badValue("program", strconv.Quote(*program), fmt.Sprintf("no definition for this program (known: %v); add one with --programs", catalog.Codes()))
	}
	key, err := loadServerKey(*keyFile)
	if err != nil {
		return err
	}
	var hubKey []byte
	if *hubJWK != "" {
		if hubKey, err = os.ReadFile(*hubJWK); err != nil {
			return src.badValue("hub-jwk", strconv.Quote(*hubJWK), err.Error())
		}
	}
	log := newLogger(stderr)
	cfg := node.Config{Program: def, Key: key, KeyFile: *keyFile, DataDir: *data, HubURL: *hubURL, SyncAt: *syncAt,
		SyncEvery: *syncEvery, NoCatchUp: !*catchUp, HubJWK: hubKey, Catalog: catalog,
		BatchRecords: *batchRecords, BatchBytes: *batchBytes, Log: log}
	clock, err := testClock(log)
	if err != nil {
		return err
	}
	if clock != nil {
		cfg.Now, cfg.After = clock.Now, clock.After
	}
	n, err := node.New(cfg)
	var ce *node.ConfigError
	if errors.As(err, &ce) {
		return src.badValue(ce.Flag, strconv.Quote(ce.Value), ce.Problem)
	}
	if err != nil {
		return err
	}
	defer n.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	return n.Run(ctx, ln)
}
