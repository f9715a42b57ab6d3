package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testFlags is a server-like flag set with --config and one flag of each kind.
type testFlags struct {
	fs      *flag.FlagSet
	addr    *string
	data    *string
	hub     *string
	syncAt  *string
	max     *int
	every   *time.Duration
	catchUp *bool
}

func newTestFlags() *testFlags {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := &testFlags{
		fs:      fs,
		addr:    fs.String("addr", "127.0.0.1:8401", ""),
		data:    fs.String("data", "", ""),
		hub:     fs.String("hub", "", ""),
		syncAt:  fs.String("sync-at", "02:00", ""),
		max:     fs.Int("max-pushes", 16, ""),
		every:   fs.Duration("sync-every", 0, ""),
		catchUp: fs.Bool("sync-catch-up", true, ""),
	}
	addConfigFlag(fs)
	return f
}

// clearFlagEnv unsets every ALLIANCEHUB_ variable for the test (restored afterwards),
// so that a developer's shell cannot change what it sees.
func clearFlagEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, flagEnvPrefix) {
			t.Setenv(name, "") // registers the restore
			os.Unsetenv(name)
		}
	}
}

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "node.conf")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConfigPrecedence: for each flag the command line wins over ALLIANCEHUB_<FLAG>,
// which wins over the config file, which wins over the default; and each value's origin
// is known.
func TestConfigPrecedence(t *testing.T) {
	clearFlagEnv(t)
	conf := writeConfig(t, `# a node
addr = 127.0.0.1:9001

data     = /from/file
   hub = http://file.example
sync-at = 03:15
# the same key as a flag and in the environment:
max-pushes = 3
sync-every = 6h
sync-catch-up = false
`)
	t.Setenv("ALLIANCEHUB_ADDR", "127.0.0.1:9002")
	t.Setenv("ALLIANCEHUB_DATA", "/from/env")
	t.Setenv("ALLIANCEHUB_MAX_PUSHES", "4")
	f := newTestFlags()
	src, err := parseFlags(f.fs, []string{"--config", conf, "--addr", "127.0.0.1:9003", "--sync-every=30m"}, "data", "hub")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	f.fs.VisitAll(func(fl *flag.Flag) { got[fl.Name] = fl.Value.String() })
	want := map[string]string{
		"config":        conf,
		"addr":          "127.0.0.1:9003",      // flag over env over file
		"sync-every":    "30m0s",               // flag over file
		"data":          "/from/env",           // env over file
		"max-pushes":    "4",                   // env over file
		"hub":           "http://file.example", // file over default
		"sync-at":       "03:15",               // file over default
		"sync-catch-up": "false",               // file over default
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	wantSrc := origins{ // the command line's values are not recorded
		"data":          {env: "ALLIANCEHUB_DATA"},
		"max-pushes":    {env: "ALLIANCEHUB_MAX_PUSHES"},
		"hub":           {file: conf, line: 5},
		"sync-at":       {file: conf, line: 6},
		"sync-catch-up": {file: conf, line: 10},
	}
	if diff := cmp.Diff(wantSrc, src, cmp.AllowUnexported(origin{})); diff != "" {
		t.Errorf("origins (-want +got):\n%s", diff)
	}

	// A value the command cannot use is named where it was written.
	for _, tt := range []struct{ name, want string }{
		{"sync-at", conf + ":6: sync-at = \"03:15\": no good"},
		{"data", "--data \"/from/env\" (from ALLIANCEHUB_DATA): no good"},
		{"addr", "--addr \"127.0.0.1:9003\": no good"},
	} {
		err := src.badValue(tt.name, fmt.Sprintf("%q", got[tt.name]), "no good")
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("badValue(%s) = %v, want a usage error with %q", tt.name, err, tt.want)
		}
	}
}

// TestConfigFromEnvironment: ALLIANCEHUB_CONFIG names the file; --config overrides it;
// a missing file is a usage error naming it; without a file nothing is read.
func TestConfigFromEnvironment(t *testing.T) {
	clearFlagEnv(t)
	envConf := writeConfig(t, "data = /env-conf\n")
	flagConf := writeConfig(t, "data = /flag-conf\n")

	t.Setenv("ALLIANCEHUB_CONFIG", envConf)
	f := newTestFlags()
	if _, err := parseFlags(f.fs, nil); err != nil || *f.data != "/env-conf" {
		t.Errorf("ALLIANCEHUB_CONFIG: data %q, err %v; want /env-conf", *f.data, err)
	}
	f = newTestFlags()
	if _, err := parseFlags(f.fs, []string{"--config", flagConf}); err != nil || *f.data != "/flag-conf" {
		t.Errorf("--config over ALLIANCEHUB_CONFIG: data %q, err %v; want /flag-conf", *f.data, err)
	}

	missing := filepath.Join(t.TempDir(), "nope.conf")
	t.Setenv("ALLIANCEHUB_CONFIG", missing)
	f = newTestFlags()
	_, err := parseFlags(f.fs, nil)
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing config file: %v, want a usage error naming %s", err, missing)
	}

	os.Unsetenv("ALLIANCEHUB_CONFIG")
	f = newTestFlags()
	if _, err := parseFlags(f.fs, nil, "data"); err == nil || !strings.Contains(err.Error(), "missing --data") {
		t.Errorf("no config: %v, want missing --data", err)
	}

	// A command without --config never reads one, even with ALLIANCEHUB_CONFIG set.
	t.Setenv("ALLIANCEHUB_CONFIG", envConf)
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	data := fs.String("data", "", "")
	if _, err := parseFlags(fs, nil); err != nil || *data != "" {
		t.Errorf("command without --config: data %q, err %v; want it untouched", *data, err)
	}
}

// TestConfigValues: comments, blank lines, spaces, CRLF line ends and quoted values.
func TestConfigValues(t *testing.T) {
	clearFlagEnv(t)
	conf := writeConfig(t, "\t# indented comment\r\n\r\ndata=/d\r\nhub  =  \"http://h.example/#x\"  \r\nsync-at = \" 01:30\"\nsync-catch-up = 0\nmax-pushes = 0x10\n")
	f := newTestFlags()
	if _, err := parseFlags(f.fs, []string{"--config", conf}); err != nil {
		t.Fatal(err)
	}
	got := []any{*f.data, *f.hub, *f.syncAt, *f.catchUp, *f.max}
	want := []any{"/d", "http://h.example/#x", " 01:30", false, 16}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
}

// TestConfigErrors: each mistake in a config file is a usage error (exit 2) of one line
// naming the file, the line and the key; a bad value is one even where a flag or the
// environment overrides it.
func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		args    []string
		env     []string
		want    string // after "FILE:"
	}{
		{name: "unknown key", content: "data = /d\nsync_at = 01:00\n", want: `2: unknown key "sync_at" (alliancehub node takes: addr, data, hub, max-pushes, sync-at, sync-catch-up, sync-every)`},
		{name: "key with dashes", content: "--data = /d\n", want: `1: key "--data": write the flag's name without dashes (data = ...)`},
		{name: "no equals", content: "# ok\ndata /d\n", want: `2: want KEY = VALUE, not "data /d"`},
		{name: "no key", content: "= /d\n", want: `1: want KEY = VALUE`},
		{name: "empty value", content: "data =\n", want: `1: data: no value`},
		{name: "duplicate", content: "data = /a\naddr = :1\ndata = /b\n", want: `3: key "data" again (first on line 1)`},
		{name: "config in config", content: "config = other.conf\n", want: `1: key "config": a configuration file cannot name another`},
		{name: "inline comment", content: "data = /d # the data\n", want: `1: data: value "/d # the data" holds a comment`},
		{name: "bad quoting", content: "data = \"/d\" extra\n", want: `1: data: bad quoted value`},
		{name: "bad int", content: "max-pushes = lots\n", want: `1: max-pushes = "lots": want a whole number`},
		{name: "int out of range", content: "max-pushes = 99999999999999999999\n", want: `1: max-pushes = "99999999999999999999": out of range`},
		{name: "bad bool", content: "sync-catch-up = maybe\n", want: `1: sync-catch-up = "maybe": want true or false`},
		{name: "bad duration", content: "\n\nsync-every = 6 hours\n", want: `3: sync-every = "6 hours": want a duration such as 90s, 30m or 6h`},
		{name: "bad value overridden by flag", content: "max-pushes = lots\n", args: []string{"--max-pushes", "2"}, want: `1: max-pushes = "lots": want a whole number`},
		{name: "bad value overridden by env", content: "sync-catch-up = maybe\n", env: []string{"ALLIANCEHUB_SYNC_CATCH_UP", "true"}, want: `1: sync-catch-up = "maybe": want true or false`},
		{name: "unknown key overridden by nothing", content: "data = /d\nprogram = MI\n", args: []string{"--data", "/x"}, want: `2: unknown key "program"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearFlagEnv(t)
			for i := 0; i < len(tt.env); i += 2 {
				t.Setenv(tt.env[i], tt.env[i+1])
			}
			conf := writeConfig(t, tt.content)
			f := newTestFlags()
			_, err := parseFlags(f.fs, append([]string{"--config", conf}, tt.args...))
			if !errors.Is(err, errUsage) {
				t.Fatalf("err %v, want a usage error", err)
			}
			msg := strings.TrimPrefix(err.Error(), errUsage.Error()+": ")
			if !strings.HasPrefix(msg, conf+":"+tt.want) {
				t.Errorf("error\n  %s\nwant it to start\n  %s", msg, conf+":"+tt.want)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error has more than one line: %q", msg)
			}
		})
	}
}

// TestEnvValueErrors: a bad ALLIANCEHUB_<FLAG> value names the variable and what the
// flag wants.
func TestEnvValueErrors(t *testing.T) {
	clearFlagEnv(t)
	t.Setenv("ALLIANCEHUB_SYNC_EVERY", "soon")
	f := newTestFlags()
	_, err := parseFlags(f.fs, nil)
	want := `ALLIANCEHUB_SYNC_EVERY="soon": want a duration such as 90s, 30m or 6h`
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), want) {
		t.Errorf("err %v, want a usage error with %q", err, want)
	}
}

// TestServerConfigFile: the real hub and node binaries. A mistake in the file stops the
// server with exit 2 and one line naming the file, line and key, before it makes its
// data directory; a value the server refuses after parsing is named by its line too; a
// hub started from a config file alone serves, with a flag overriding the file.
func TestServerConfigFile(t *testing.T) {
	binary(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "hub.jwk")
	cli(t, "keygen", "--out", key)
	data := filepath.Join(dir, "data")
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	base := fmt.Sprintf("data = %s\nkey = %s\n", data, key)
	deadHub := "http://" + freeAddr(t)

	tests := []struct {
		name, cmd, content string
		env                []string
		want               string // the first line of stderr starts with "alliancehub CMD: " and this
	}{
		{name: "hub unknown key", cmd: "hub", content: base + "sync-at = 01:00\n", want: "hub-unknown.conf:3: unknown key \"sync-at\""},
		{name: "hub bad number", cmd: "hub", content: "# limits\n" + base + "max-pushes = many\n", want: "hub-number.conf:4: max-pushes = \"many\": want a whole number"},
		{name: "hub refused number", cmd: "hub", content: base + "max-pushes-per-program = 0\n", want: "hub-refused.conf:3: max-pushes-per-program = 0: must be at least 1"},
		{name: "node refused sync-at", cmd: "node", content: base + "program = MI\nhub = " + deadHub + "\nsync-at = 25:00\n", want: "node-sync.conf:5: sync-at = \"25:00\": want HH:MM"},
		{name: "node unknown program", cmd: "node", content: base + "program = XX\nhub = " + deadHub + "\n", want: "node-program.conf:3: program = \"XX\": no definition"},
		{name: "node missing file via env", cmd: "node", env: []string{"ALLIANCEHUB_CONFIG=" + filepath.Join(dir, "absent.conf")}, want: "config file: open " + filepath.Join(dir, "absent.conf")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{tt.cmd}
			if tt.content != "" {
				args = append(args, "--config", write(configName(tt.want), tt.content))
			}
			res := cliRun(t, dir, tt.env, args...)
			if res.code != 2 {
				t.Errorf("exit %d, want 2; stderr:\n%s", res.code, res.stderr)
			}
			prefix := "alliancehub " + tt.cmd + ": "
			if tt.content != "" {
				prefix += filepath.Join(dir, "")
			}
			checkErrorLine(t, res, prefix, tt.want)
		})
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("a refused server start created its data directory (stat: %v)", err)
	}

	// From the file alone, with the command line overriding the file's address.
	fileAddr, flagAddr := freeAddr(t), freeAddr(t)
	conf := write("hub.conf", base+"addr = "+fileAddr+"\nmax-pushes = 4\n")
	p := startProc(t, "hub", "hub", "--config", conf, "--addr", flagAddr)
	p.waitReady(t, "http://"+flagAddr)

	// The container health check asks the address the server was given.
	_, port, _ := net.SplitHostPort(flagAddr)
	if res := cliRun(t, dir, []string{"ALLIANCEHUB_ADDR=0.0.0.0:" + port}, "healthcheck"); res.code != 0 {
		t.Errorf("healthcheck of a ready hub: exit %d; stderr:\n%s", res.code, res.stderr)
	}
	res := cliRun(t, dir, nil, "healthcheck", "--addr", fileAddr, "--timeout", "2s")
	if res.code != 1 {
		t.Errorf("healthcheck where nothing listens: exit %d, want 1; stderr:\n%s", res.code, res.stderr)
	}
	checkErrorLine(t, res, "alliancehub healthcheck: not ready", fileAddr)
}

// configName is the file name a TestServerConfigFile case's want starts with.
func configName(want string) string {
	name, _, _ := strings.Cut(want, ":")
	return name
}
