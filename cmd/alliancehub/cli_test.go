package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/google/go-cmp/cmp"
)

// stderrLines splits what a command printed on stderr into lines.
func stderrLines(res cliResult) []string {
	s := strings.TrimRight(res.stderr, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// checkErrorLine asserts a failed command explained itself in one line of stderr,
// naming want.
func checkErrorLine(t *testing.T, res cliResult, prefix, want string) {
	t.Helper()
	lines := stderrLines(res)
	if len(lines) == 0 {
		t.Fatal("nothing on stderr")
	}
	if !strings.HasPrefix(lines[0], prefix) || !strings.Contains(lines[0], want) {
		t.Errorf("stderr first line %q; want it to start %q and name %q", lines[0], prefix, want)
	}
	if len(lines) > 1 {
		t.Errorf("stderr has more than one line:\n%s", res.stderr)
	}
}

// TestUsage: no arguments is a usage error listing every subcommand; help asked for is
// not an error; an unknown command is.
func TestUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string // first line of stderr, if set
	}{
		{name: "no args", args: nil, wantCode: 2},
		{name: "help", args: []string{"help"}, wantCode: 0},
		{name: "-h", args: []string{"-h"}, wantCode: 0},
		{name: "--help", args: []string{"--help"}, wantCode: 0},
		{name: "unknown", args: []string{"frobnicate"}, wantCode: 2, wantErr: `alliancehub: unknown command "frobnicate"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := cliRun(t, "", nil, tt.args...)
			if res.code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr:\n%s", res.code, tt.wantCode, res.stderr)
			}
			if res.stdout != "" {
				t.Errorf("stdout %q, want nothing (usage goes to stderr)", res.stdout)
			}
			if tt.wantErr != "" {
				if lines := stderrLines(res); len(lines) == 0 || lines[0] != tt.wantErr {
					t.Errorf("stderr starts %q, want %q", lines, tt.wantErr)
				}
			}
			if !strings.Contains(res.stderr, "Usage: alliancehub <command>") {
				t.Errorf("stderr has no usage:\n%s", res.stderr)
			}
			for _, c := range commands {
				if !strings.Contains(res.stderr, "  "+c.name+" ") {
					t.Errorf("usage does not list %s:\n%s", c.name, res.stderr)
				}
			}
		})
	}
}

// TestHelpEverySubcommand: `<cmd> -h` and `<cmd> --help` print the command's usage and
// exit 0, for every command the binary has.
func TestHelpEverySubcommand(t *testing.T) {
	for _, c := range commands {
		for _, flag := range []string{"-h", "--help"} {
			t.Run(c.name+flag, func(t *testing.T) {
				res := cliRun(t, "", nil, c.name, flag)
				if res.code != 0 {
					t.Errorf("exit %d, want 0; stderr:\n%s", res.code, res.stderr)
				}
				if !strings.Contains(res.stderr, "Usage: alliancehub "+c.name) {
					t.Errorf("stderr has no usage of %s:\n%s", c.name, res.stderr)
				}
				// Every command takes flags; the usage lists them.
				if !strings.Contains(res.stderr, "\n  -") {
					t.Errorf("usage of %s lists no flags:\n%s", c.name, res.stderr)
				}
			})
		}
	}
}

// publicJWK is what keygen prints; D catches a private half that must not be there.
type publicJWK struct {
	Kty string  `json:"kty"`
	Crv string  `json:"crv"`
	Kid string  `json:"kid"`
	X   string  `json:"x"`
	D   *string `json:"d"`
}

func TestKeygen(t *testing.T) {
	binary(t)

	t.Run("writes 0600 private key, prints public", func(t *testing.T) {
		dir := t.TempDir()
		file := filepath.Join(dir, "k.jwk")
		res := cliRun(t, dir, nil, "keygen", "--out", file)
		if res.code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", res.code, res.stderr)
		}
		var pub publicJWK
		dec := json.NewDecoder(strings.NewReader(res.stdout))
		if err := dec.Decode(&pub); err != nil {
			t.Fatalf("stdout %q is not a JWK: %v", res.stdout, err)
		}
		if pub.D != nil || strings.Contains(res.stdout, `"d"`) {
			t.Errorf("keygen printed a private key:\n%s", res.stdout)
		}
		if pub.Kty != "OKP" || pub.Crv != "Ed25519" || pub.Kid == "" || pub.X == "" {
			t.Errorf("printed JWK %+v; want an Ed25519 OKP key with kid and x", pub)
		}
		fi, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("key file mode %o, want 600", perm)
		}
		k, err := auth.LoadKey(file)
		if err != nil {
			t.Fatalf("the written file is not a private key: %v", err)
		}
		if k.KeyID() != pub.Kid {
			t.Errorf("file's key id %s, printed kid %s", k.KeyID(), pub.Kid)
		}
	})

	t.Run("never overwrites", func(t *testing.T) {
		dir := t.TempDir()
		file := filepath.Join(dir, "k.jwk")
		cli(t, "keygen", "--out", file)
		orig, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		res := cliRun(t, dir, nil, "keygen", "--out", file)
		if res.code != 1 {
			t.Errorf("second keygen: exit %d, want 1", res.code)
		}
		if res.stdout != "" {
			t.Errorf("second keygen printed %q", res.stdout)
		}
		if lines := stderrLines(res); len(lines) != 1 || !strings.HasPrefix(lines[0], "alliancehub keygen:") || !strings.Contains(lines[0], "exists") {
			t.Errorf("stderr %q; want one line saying the file exists", res.stderr)
		}
		now, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(orig, now) {
			t.Error("the existing key file was changed")
		}
	})

	t.Run("missing --out", func(t *testing.T) {
		dir := t.TempDir()
		res := cliRun(t, dir, nil, "keygen")
		if res.code != 2 {
			t.Errorf("exit %d, want 2", res.code)
		}
		checkErrorLine(t, res, "alliancehub keygen:", "--out")
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("keygen without --out wrote %v", entries)
		}
	})

	t.Run("ALLIANCEHUB_OUT", func(t *testing.T) {
		dir := t.TempDir()
		res := cliRun(t, dir, []string{"ALLIANCEHUB_OUT=env.jwk"}, "keygen")
		if res.code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", res.code, res.stderr)
		}
		if _, err := auth.LoadKey(filepath.Join(dir, "env.jwk")); err != nil {
			t.Errorf("ALLIANCEHUB_OUT=env.jwk keygen: %v", err)
		}
	})

	t.Run("flag beats environment", func(t *testing.T) {
		dir := t.TempDir()
		res := cliRun(t, dir, []string{"ALLIANCEHUB_OUT=env.jwk"}, "keygen", "--out", "flag.jwk")
		if res.code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", res.code, res.stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "flag.jwk")); err != nil {
			t.Errorf("--out flag.jwk not written: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "env.jwk")); !os.IsNotExist(err) {
			t.Errorf("env.jwk written although --out was given (stat: %v)", err)
		}
	})
}

// TestUsageErrors: command-line mistakes exit 2 with one line naming the mistake; a
// missing server key says how to make one.
func TestUsageErrors(t *testing.T) {
	binary(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "k.jwk")
	cli(t, "keygen", "--out", key)
	missing := filepath.Join(dir, "missing.jwk")
	data := filepath.Join(dir, "data")
	deadHub := "http://" + freeAddr(t)

	tests := []struct {
		name string
		args []string
		env  []string
		want string // in the first line of stderr
	}{
		{name: "token bogus role", args: []string{"token", "--key", key, "--role", "bogus", "--subject", "x"}, want: "bogus"},
		{name: "token program without --program", args: []string{"token", "--key", key, "--role", "program", "--subject", "x"}, want: "--program"},
		{name: "token missing flags", args: []string{"token", "--role", "admin"}, want: "--key"},
		{name: "token ttl zero", args: []string{"token", "--key", key, "--role", "admin", "--subject", "x", "--ttl", "0s"}, want: "ttl"},
		{name: "token bad env ttl", args: []string{"token", "--key", key, "--role", "admin", "--subject", "x"}, env: []string{"ALLIANCEHUB_TTL=soon"}, want: "ALLIANCEHUB_TTL"},
		{name: "keygen extra argument", args: []string{"keygen", "--out", filepath.Join(dir, "x.jwk"), "extra"}, want: "extra"},
		{name: "keygen unknown flag", args: []string{"keygen", "--bogus"}, want: "-bogus"},
		{name: "hub missing key", args: []string{"hub", "--addr", freeAddr(t), "--data", data, "--key", missing}, want: "alliancehub keygen --out"},
		{name: "hub missing --data", args: []string{"hub", "--key", key}, want: "--data"},
		{name: "hub no pushes allowed", args: []string{"hub", "--addr", freeAddr(t), "--data", data, "--key", key, "--max-pushes-per-program", "0"}, want: "--max-pushes-per-program 0"},
		{name: "hub bad env max-pushes", args: []string{"hub", "--addr", freeAddr(t), "--data", data, "--key", key}, env: []string{"ALLIANCEHUB_MAX_PUSHES=-1"}, want: "--max-pushes -1"},
		{name: "node missing key", args: []string{"node", "--program", "MI", "--addr", freeAddr(t), "--data", data, "--key", missing, "--hub", deadHub}, want: "alliancehub keygen --out"},
		{name: "node unknown program", args: []string{"node", "--program", "XX", "--addr", freeAddr(t), "--data", data, "--key", key, "--hub", deadHub}, want: "XX"},
		{
			name: "node bad --sync-at", args: []string{"node", "--program", "MI", "--addr", freeAddr(t), "--data", data, "--key", key, "--hub", deadHub, "--sync-at", "25:00"}, want: "25:00",
		},
		{
			name: "node --sync-every under a minute", args: []string{"node", "--program", "MI", "--addr", freeAddr(t), "--data", data, "--key", key, "--hub", deadHub, "--sync-every", "30s"}, want: "--sync-every",
		},
		{
			name: "node bad --hub", args: []string{"node", "--program", "MI", "--addr", freeAddr(t), "--data", data, "--key", key, "--hub", "hub.example"}, want: "hub.example",
		},
		{name: "sync not a URL", args: []string{"sync", "--node", "localhost", "--token", "t"}, want: "localhost"},
		{name: "enroll not a URL", args: []string{"enroll", "--hub", "localhost", "--token", "t", "--program", "MI", "--jwk", key}, want: "localhost"},
		{name: "roster bad format", args: []string{"roster", "--hub", deadHub, "--token", "t", "--format", "xml"}, want: "--format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := cliRun(t, dir, tt.env, tt.args...)
			if res.code != 2 {
				t.Errorf("exit %d, want 2; stderr:\n%s", res.code, res.stderr)
			}
			if res.stdout != "" {
				t.Errorf("stdout %q, want nothing", res.stdout)
			}
			if lines := stderrLines(res); len(lines) == 0 || !strings.Contains(lines[0], tt.want) {
				t.Errorf("stderr first line does not name %q:\n%s", tt.want, res.stderr)
			}
		})
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("a refused server start created its data directory (stat: %v)", err)
	}
}

// TestSyncRefusedToken: `sync` with a token the node does not accept exits 1 with one
// line on stderr saying why, and prints no counts.
func TestSyncRefusedToken(t *testing.T) {
	binary(t)
	dir := t.TempDir()
	miKey, otherKey := filepath.Join(dir, "mi.jwk"), filepath.Join(dir, "other.jwk")
	cli(t, "keygen", "--out", miKey)
	cli(t, "keygen", "--out", otherKey)
	addr := freeAddr(t)
	nodeURL := "http://" + addr
	// The hub is never reached: the node refuses these tokens before it syncs.
	n := startProc(t, "node MI", "node", "--program", "MI", "--addr", addr, "--data", filepath.Join(dir, "data"),
		"--key", miKey, "--hub", "http://"+freeAddr(t), "--sync-at", farSyncAt(t))
	n.waitReady(t, nodeURL)

	k, err := auth.LoadKey(miKey)
	if err != nil {
		t.Fatal(err)
	}
	expired, err := auth.MintToken(k, auth.TokenRequest{Subject: "clerk", Role: auth.RoleProgram, Program: "MI",
		TTL: time.Hour, Now: time.Now().Add(-3 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, token, want string
	}{
		{"expired", expired, "expired"},
		{"wrong key", token(t, "--key", otherKey, "--role", "program", "--program", "MI", "--subject", "clerk"), "401"},
		{"other program", token(t, "--key", miKey, "--role", "program", "--program", "NV", "--subject", "clerk"), "403"},
		{"analyst may not sync", token(t, "--key", miKey, "--role", "analyst", "--subject", "a"), "403"},
		{"not a token", "not-a-token", "401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := cliRun(t, dir, nil, "sync", "--node", nodeURL, "--token", tt.token, "--json")
			if res.code != 1 {
				t.Errorf("exit %d, want 1", res.code)
			}
			if res.stdout != "" {
				t.Errorf("stdout %q, want nothing", res.stdout)
			}
			lines := stderrLines(res)
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "alliancehub sync:") || !strings.Contains(lines[0], tt.want) {
				t.Errorf("stderr %q; want one line starting %q naming %q", res.stderr, "alliancehub sync:", tt.want)
			}
		})
	}
}

// TestRosterOutputs: the roster in each format, filtered, with flags from the
// environment, after a sync the text form of `sync` reports.
func TestRosterOutputs(t *testing.T) {
	c := startCluster(t)
	farm := c.create("Michigan Farm Bureau", "2024-05-14")
	agc := c.create("Associated General Contractors of Michigan", "2024-05-15")
	out := cli(t, "sync", "--node", c.nodeURL, "--token", c.clerk)
	if want := "pushed 2, accepted 2, duplicate 0, stale 0, conflict 0, rejected 0, pulled 2\n"; out != want {
		t.Errorf("sync printed %q, want %q", out, want)
	}

	t.Run("csv", func(t *testing.T) {
		out := cli(t, "roster", "--hub", c.hubURL, "--token", c.analyst, "--format", "csv", "--as-of", asOf)
		rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatalf("roster --format csv is not CSV: %v\n%s", err, out)
		}
		if len(rows) != 3 {
			t.Fatalf("%d rows, want a header and 2:\n%s", len(rows), out)
		}
		col := map[string]int{}
		for i, name := range rows[0] {
			col[name] = i
		}
		for _, name := range []string{"id", "rev", "program", "participants", "national_categories", "standing"} {
			if _, ok := col[name]; !ok {
				t.Errorf("header %v has no %s column", rows[0], name)
			}
		}
		if t.Failed() {
			return
		}
		got := map[string][]string{}
		for _, r := range rows[1:] {
			got[r[col["id"]]] = []string{r[col["rev"]], r[col["program"]], r[col["participants"]], r[col["national_categories"]]}
		}
		want := map[string][]string{
			farm.ID: {farm.Rev, "MI", "Michigan Farm Bureau", "outreach"},
			agc.ID:  {agc.Rev, "MI", "Associated General Contractors of Michigan", "outreach"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("csv rows (-want +got):\n%s", diff)
		}
	})

	t.Run("table", func(t *testing.T) {
		out := cli(t, "roster", "--hub", c.hubURL, "--token", c.analyst, "--as-of", asOf)
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		if len(lines) != 4 || !strings.Contains(lines[0], "NATIONAL CATEGORIES") || lines[3] != "2 Alliance(s)" {
			t.Errorf("table:\n%s\nwant a header, 2 rows and \"2 Alliance(s)\"", out)
		}
		if !strings.Contains(out, farm.ID) || !strings.Contains(out, agc.ID) {
			t.Errorf("table lacks an id:\n%s", out)
		}
	})

	t.Run("filters", func(t *testing.T) {
		tests := []struct {
			name    string
			filters []string
			wantIDs []string
		}{
			{"q", []string{"--q", "farm bureau"}, []string{farm.ID}},
			{"program", []string{"--program", "MI"}, []string{farm.ID, agc.ID}},
			{"other program", []string{"--program", "NV"}, nil},
			{"category outreach", []string{"--category", "outreach"}, []string{farm.ID, agc.ID}},
			{"category training", []string{"--category", "training"}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				args := append([]string{"roster", "--hub", c.hubURL, "--token", c.analyst, "--format", "json"}, tt.filters...)
				var page rosterPage
				if err := json.Unmarshal([]byte(cli(t, args...)), &page); err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, it := range page.Items {
					ids = append(ids, it["id"].(string))
				}
				slices.Sort(ids)
				want := slices.Sorted(slices.Values(tt.wantIDs))
				if diff := cmp.Diff(want, ids); diff != "" || page.Total != len(want) {
					t.Errorf("total %d; ids (-want +got):\n%s", page.Total, diff)
				}
			})
		}
	})

	t.Run("flags from environment", func(t *testing.T) {
		env := []string{"ALLIANCEHUB_HUB=" + c.hubURL, "ALLIANCEHUB_TOKEN=" + c.analyst, "ALLIANCEHUB_FORMAT=json", "ALLIANCEHUB_AS_OF=" + asOf}
		res := cliRun(t, "", env, "roster")
		if res.code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", res.code, res.stderr)
		}
		var page rosterPage
		if err := json.Unmarshal([]byte(res.stdout), &page); err != nil || page.Total != 2 {
			t.Errorf("roster from ALLIANCEHUB_ variables: total %d, err %v:\n%s", page.Total, err, res.stdout)
		}
	})

	t.Run("token of an unknown key", func(t *testing.T) {
		// The hub accepts its own key and enrolled program keys; this one is neither.
		other := filepath.Join(c.dir, "other.jwk")
		cli(t, "keygen", "--out", other)
		bad := token(t, "--key", other, "--role", "analyst", "--subject", "x")
		res := cliRun(t, "", nil, "roster", "--hub", c.hubURL, "--token", bad)
		if res.code != 1 {
			t.Errorf("exit %d, want 1", res.code)
		}
		if lines := stderrLines(res); len(lines) != 1 || !strings.Contains(lines[0], "401") {
			t.Errorf("stderr %q; want one line with the 401", res.stderr)
		}
	})
}

// TestProgramDefinitionsAtStart: --programs adds a program from a file with no code
// change (DOMAIN.md, Programs): the NCDOL example in deploy/programs runs a node of its
// own, with its rules (two-year term, renewable once), while its hub is unreachable. A
// malformed definition stops the hub and the node before they create anything, in one
// line naming the file and every failing field.
func TestProgramDefinitionsAtStart(t *testing.T) {
	binary(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "k.jwk")
	cli(t, "keygen", "--out", key)
	deadHub := "http://" + freeAddr(t)
	nc, err := filepath.Abs(filepath.Join("..", "..", "deploy", "programs", "NC.json"))
	if err != nil {
		t.Fatal(err)
	}
	def, err := os.ReadFile(nc)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(strings.Replace(string(def), `"default_term_months": 24`, `"default_term_months": 0`, 1),
		"America/New_York", "Mars/Olympus_Mons", 1)
	if bad == string(def) {
		t.Fatal("test bug: NC.json changed shape")
	}
	badFile := writeTemp(t, "nc-bad.json", bad)
	cutFile := writeTemp(t, "nc-cut.json", string(def[:len(def)/2]))

	t.Run("malformed definitions stop start-up", func(t *testing.T) {
		data := filepath.Join(dir, "data")
		for _, tc := range []struct {
			name string
			args []string
			want []string // in the one stderr line
		}{
			{"node, invalid fields", []string{"node", "--program", "NC", "--addr", freeAddr(t), "--data", data, "--key", key, "--hub", deadHub, "--programs", badFile},
				[]string{"alliancehub node: ", badFile, "default_term_months", "time_zone"}},
			{"hub, invalid fields", []string{"hub", "--addr", freeAddr(t), "--data", data, "--key", key, "--programs", badFile},
				[]string{"alliancehub hub: ", badFile, "default_term_months", "time_zone"}},
			{"node, cut short", []string{"node", "--program", "NC", "--addr", freeAddr(t), "--data", data, "--key", key, "--hub", deadHub, "--programs", cutFile},
				[]string{"alliancehub node: ", cutFile}},
			{"hub, one good file and one bad", []string{"hub", "--addr", freeAddr(t), "--data", data, "--key", key, "--programs", nc + "," + badFile},
				[]string{"alliancehub hub: ", badFile}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := cliRun(t, dir, nil, tc.args...)
				if res.code != 1 || res.stdout != "" {
					t.Errorf("exit %d (want 1), stdout %q", res.code, res.stdout)
				}
				lines := stderrLines(res)
				if len(lines) != 1 {
					t.Fatalf("stderr is not one line:\n%s", res.stderr)
				}
				for _, w := range tc.want {
					if !strings.Contains(lines[0], w) {
						t.Errorf("stderr %q does not name %q", lines[0], w)
					}
				}
			})
		}
		if _, err := os.Stat(data); !os.IsNotExist(err) {
			t.Errorf("a refused start created its data directory (stat: %v)", err)
		}
	})

	t.Run("the NCDOL example runs a node, hub unreachable", func(t *testing.T) {
		addr := freeAddr(t)
		url := "http://" + addr
		p := startProc(t, "node NC", "node", "--program", "NC", "--addr", addr, "--data", filepath.Join(dir, "nc-data"),
			"--key", key, "--hub", deadHub, "--programs", nc, "--sync-at", farSyncAt(t), "--sync-catch-up=false")
		p.waitReady(t, url)
		clerk := token(t, "--key", key, "--role", "program", "--program", "NC", "--subject", "clerk")
		var a struct {
			ID, Level  string
			ExpiresOn  string `json:"expires_on"`
			TermMonths int    `json:"term_months"`
		}
		call(t, http.MethodPost, url+"/v1/alliances", clerk, map[string]any{
			"participants": []map[string]string{{"name": "Carolinas AGC"}}, "signed_on": "2024-03-01",
			"goals": []map[string]string{{"category": "Promoting the Dialogue on Workplace Safety and Health"}},
		}, http.StatusCreated, &a)
		if a.Level != "state" || a.TermMonths != 24 || a.ExpiresOn != "2026-03-01" {
			t.Errorf("created %+v; want level state, 24 months (the file's) to 2026-03-01", a)
		}
		call(t, http.MethodPost, url+"/v1/alliances/"+a.ID+"/renew", clerk, map[string]any{"signed_on": "2026-03-01"}, http.StatusOK, nil)
		var p422 struct {
			Errors []struct{ Field string } `json:"errors"`
		}
		call(t, http.MethodPost, url+"/v1/alliances/"+a.ID+"/renew", clerk, map[string]any{"signed_on": "2028-03-01"}, http.StatusUnprocessableEntity, &p422)
		if len(p422.Errors) != 1 || p422.Errors[0].Field != "renewals" {
			t.Errorf("second renewal refused with %+v; want renewals (NCDOL renews once)", p422.Errors)
		}
	})
}
