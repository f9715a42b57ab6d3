package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/node"
	"github.com/alliancehub/alliancehub/schema"
)

// demoSamples are illustrative Alliances per program: real kinds of partners, offices and
// goals in each program's own categories (some by label), with dates chosen so the
// roster shows active, expiring, expired, renewed and draft entries.
//
//go:embed demo_samples.json
var demoSamples []byte

var demoPrograms = []string{"FED", "MI", "NV"}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "demo [--addr-base 127.0.0.1:8400] [--data DIR]", stderr)
	base := fs.String("addr-base", "127.0.0.1:8400", "hub address; the FED, MI and NV nodes take the next three ports")
	data := fs.String("data", "", "data directory to keep (default: a temporary one, removed at exit)")
	if err := parse(fs, args); err != nil {
		return err
	}
	host, portStr, err := net.SplitHostPort(*base)
	port, perr := strconv.Atoi(portStr)
	if err != nil || perr != nil || port < 1 || port > 65532 {
		return usageError("--addr-base %q: want HOST:PORT with room for three more ports", *base)
	}
	dir := *data
	if dir == "" {
		if dir, err = os.MkdirTemp("", "alliancehub-demo-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	// Listen on every port first, so a busy port fails before anything starts.
	lns := make([]net.Listener, 1+len(demoPrograms))
	for i := range lns {
		addr := net.JoinHostPort(host, strconv.Itoa(port+i))
		if lns[i], err = net.Listen("tcp", addr); err != nil {
			for _, l := range lns[:i] {
				l.Close()
			}
			return fmt.Errorf("listen on %s: %w (choose other ports with --addr-base)", addr, err)
		}
	}
	d := &demo{dir: dir, log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	err = d.start(ctx, lns, stdout)
	if err != nil {
		cancel()
	} else {
		<-ctx.Done()
		fmt.Fprintln(stdout, "stopping")
	}
	if werr := d.wait(); err == nil {
		err = werr
	}
	return err
}

// demo runs a hub and three nodes in one process.
type demo struct {
	dir     string
	log     *slog.Logger
	wg      sync.WaitGroup
	mu      sync.Mutex
	runErr  error
	closers []func() error
}

// serve runs one server until ctx ends; the first failure is kept.
func (d *demo) serve(run func() error, close func() error) {
	d.closers = append(d.closers, close)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := run(); err != nil {
			d.mu.Lock()
			d.runErr = errors.Join(d.runErr, err)
			d.mu.Unlock()
		}
	}()
}

func (d *demo) wait() error {
	d.wg.Wait()
	var err error
	for _, c := range d.closers {
		err = errors.Join(err, c())
	}
	return errors.Join(d.runErr, err)
}

func (d *demo) start(ctx context.Context, lns []net.Listener, stdout io.Writer) error {
	hubKey, err := auth.LoadOrCreateKey(filepath.Join(d.dir, "hub", "key.jwk"))
	if err != nil {
		return err
	}
	h, err := hub.New(hub.Config{Key: hubKey, DataDir: filepath.Join(d.dir, "hub"), Log: d.log})
	if err != nil {
		return err
	}
	d.serve(func() error { return h.Run(ctx, lns[0]) }, h.Close)
	hubURL := "http://" + lns[0].Addr().String()
	mint := func(k *auth.Key, role auth.Role, subject, program string) string {
		t, err := auth.MintToken(k, auth.TokenRequest{Subject: subject, Role: role, Program: program, TTL: 24 * time.Hour})
		if err != nil {
			panic(err) // fixed, valid arguments
		}
		return t
	}
	admin, _ := newAPIClient(hubURL, mint(hubKey, auth.RoleAdmin, "demo-admin", ""))
	hubJWK, err := json.Marshal(hubKey.PublicJWK())
	if err != nil {
		return err
	}

	var samples map[string][]json.RawMessage
	if err := json.Unmarshal(demoSamples, &samples); err != nil {
		return fmt.Errorf("demo samples: %w", err)
	}
	catalog, err := schema.LoadCatalog()
	if err != nil {
		return err
	}
	nodeURLs := map[string]string{}
	nodeTokens := map[string]string{}
	for i, code := range demoPrograms {
		def, _ := catalog.Get(code)
		dir := filepath.Join(d.dir, code)
		key, err := auth.LoadOrCreateKey(filepath.Join(dir, "key.jwk"))
		if err != nil {
			return err
		}
		// Enrollment goes through the hub's API, as `alliancehub enroll` does it.
		if err := admin.do(ctx, http.MethodPost, "/v1/programs", map[string]any{"code": code, "jwk": key.PublicJWK()}, nil); err != nil {
			return fmt.Errorf("enroll %s: %w", code, err)
		}
		n, err := node.New(node.Config{Program: def, Key: key, KeyFile: filepath.Join(dir, "key.jwk"), DataDir: dir, HubURL: hubURL, HubJWK: hubJWK,
			Catalog: catalog, NoCatchUp: true, Log: d.log}) // the demo syncs each node itself
		if err != nil {
			return err
		}
		d.serve(func() error { return n.Run(ctx, lns[i+1]) }, n.Close)
		nodeURLs[code] = "http://" + lns[i+1].Addr().String()
		nodeTokens[code] = mint(key, auth.RoleProgram, "demo-"+code, code)
		c, _ := newAPIClient(nodeURLs[code], nodeTokens[code])
		if err := loadSamples(ctx, c, samples[code]); err != nil {
			return fmt.Errorf("sample Alliances for %s: %w", code, err)
		}
		if err := demoSync(ctx, c, code); err != nil {
			return err
		}
	}
	// A second round, so every node's replica also holds what the nodes after it sent.
	for _, code := range demoPrograms[:len(demoPrograms)-1] {
		c, _ := newAPIClient(nodeURLs[code], nodeTokens[code])
		if err := demoSync(ctx, c, code); err != nil {
			return err
		}
	}

	analyst := mint(hubKey, auth.RoleAnalyst, "demo-analyst", "")
	fmt.Fprintf(stdout, "hub: %s\n", hubURL)
	for _, code := range demoPrograms {
		fmt.Fprintf(stdout, "node %s: %s\n", code, nodeURLs[code])
	}
	fmt.Fprintf(stdout, "analyst token: %s\n", analyst)
	fmt.Fprintf(stdout, "admin token: %s\n", admin.token)
	for _, code := range demoPrograms {
		fmt.Fprintf(stdout, "node %s token: %s\n", code, nodeTokens[code])
	}
	var page struct {
		Total int `json:"total"`
	}
	ac, _ := newAPIClient(hubURL, analyst)
	if err := ac.do(ctx, http.MethodGet, "/v1/roster?limit=1", nil, &page); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "roster: %d Alliances from %d programs; data in %s; Ctrl-C stops\n", page.Total, len(demoPrograms), d.dir)
	return nil
}

// loadSamples creates the sample Alliances, and their reports, on a node that holds
// none yet, so a demo restarted on the same --data does not create them twice. A sample
// carries its reports under "reports"; the rest is the Alliance.
func loadSamples(ctx context.Context, c *apiClient, samples []json.RawMessage) error {
	var page struct {
		Total int `json:"total"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/alliances?limit=1", nil, &page); err != nil {
		return err
	}
	if page.Total > 0 {
		return nil
	}
	for _, s := range samples {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(s, &fields); err != nil {
			return err
		}
		var reports []json.RawMessage
		if raw, ok := fields["reports"]; ok {
			if err := json.Unmarshal(raw, &reports); err != nil {
				return err
			}
			delete(fields, "reports")
		}
		var created struct {
			ID string `json:"id"`
		}
		if err := c.do(ctx, http.MethodPost, "/v1/alliances", fields, &created); err != nil {
			return err
		}
		for _, r := range reports {
			if err := c.do(ctx, http.MethodPost, "/v1/alliances/"+created.ID+"/reports", r, nil); err != nil {
				return fmt.Errorf("report for %s: %w", created.ID, err)
			}
		}
	}
	return nil
}

// demoSync makes a node sync now and fails on any error the run met.
func demoSync(ctx context.Context, c *apiClient, code string) error {
	var res wire.SyncResult
	if err := c.do(ctx, http.MethodPost, "/v1/sync", nil, &res); err != nil {
		return fmt.Errorf("sync %s: %w", code, err)
	}
	if res.Error != "" {
		return fmt.Errorf("sync %s: %s", code, res.Error)
	}
	return nil
}
