package main

import (
	"bufio"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// deployDir is deploy/ from this package's directory, where tests run.
var deployDir = filepath.Join("..", "..", "deploy")

// flagsOf lists the flags of a command as its -h prints them ("  -name type").
func flagsOf(t *testing.T, cmd string) map[string]bool {
	t.Helper()
	res := cliRun(t, "", nil, cmd, "-h")
	if res.code != 0 {
		t.Fatalf("alliancehub %s -h: exit %d\n%s", cmd, res.code, res.stderr)
	}
	flags := map[string]bool{}
	for line := range strings.Lines(res.stderr) {
		if rest, ok := strings.CutPrefix(line, "  -"); ok {
			name, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
			flags[name] = true
		}
	}
	if len(flags) == 0 {
		t.Fatalf("alliancehub %s -h lists no flags:\n%s", cmd, res.stderr)
	}
	return flags
}

// flagOfEnv is the flag an ALLIANCEHUB_ variable sets ("ALLIANCEHUB_SYNC_AT": "sync-at").
func flagOfEnv(v string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(v, envPrefix)), "_", "-")
}

func readDeploy(t *testing.T, name string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(deployDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// TestDeployConfigFilesStartServers: deploy/hub.conf and deploy/node.conf, every line
// read and checked by the real binary, start a hub and a node that serve (the paths and
// addresses, which name a server's machine, given on the command line instead).
func TestDeployConfigFilesStartServers(t *testing.T) {
	binary(t)
	dir := t.TempDir()
	hubKey, nodeKey := filepath.Join(dir, "hub.jwk"), filepath.Join(dir, "node.jwk")
	cli(t, "keygen", "--out", hubKey)
	cli(t, "keygen", "--out", nodeKey)
	hubAddr, nodeAddr := freeAddr(t), freeAddr(t)
	hub := startProc(t, "hub", "hub", "--config", filepath.Join(deployDir, "hub.conf"),
		"--addr", hubAddr, "--data", filepath.Join(dir, "hub"), "--key", hubKey)
	hub.waitReady(t, "http://"+hubAddr)
	node := startProc(t, "node", "node", "--config", filepath.Join(deployDir, "node.conf"),
		"--addr", nodeAddr, "--data", filepath.Join(dir, "mi"), "--key", nodeKey, "--hub", "http://"+hubAddr,
		"--sync-catch-up=false")
	node.waitReady(t, "http://"+nodeAddr)
}

// TestDeployFlags: every flag that the systemd units, the Dockerfile and the compose file
// give a command (as --flag, or as an ALLIANCEHUB_ variable, commented-out examples
// included) is one of that command's flags; deploy/README.md documents every flag of
// hub and node, and docs/OPERATIONS.md lists each as a configuration key.
func TestDeployFlags(t *testing.T) {
	binary(t)
	cache := map[string]map[string]bool{}
	has := func(cmd, flag string) bool {
		if cache[cmd] == nil {
			cache[cmd] = flagsOf(t, cmd)
		}
		return cache[cmd][flag]
	}

	// systemd: ExecStart=/usr/local/bin/alliancehub CMD --flag VALUE ...
	units, err := filepath.Glob(filepath.Join(deployDir, "systemd", "*.service"))
	if err != nil || len(units) != 2 {
		t.Fatalf("units: %v %v, want the hub's and the node's", units, err)
	}
	for _, u := range units {
		var exec []string
		for line := range strings.Lines(readDeploy(t, filepath.Join("systemd", filepath.Base(u)))) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "ExecStart="); ok {
				exec = strings.Fields(v)
			}
		}
		if len(exec) < 2 || exec[0] != "/usr/local/bin/alliancehub" {
			t.Errorf("%s: ExecStart %q does not run /usr/local/bin/alliancehub", u, exec)
			continue
		}
		for _, a := range exec[2:] {
			if f, ok := strings.CutPrefix(a, "--"); ok && !has(exec[1], f) {
				t.Errorf("%s: alliancehub %s has no flag --%s", u, exec[1], f)
			}
		}
	}

	// Dockerfile: ENV ALLIANCEHUB_X serves the servers and the health check.
	envVar := regexp.MustCompile(`ALLIANCEHUB_[A-Z_]+`)
	for line := range strings.Lines(readDeploy(t, "Dockerfile")) {
		if !strings.HasPrefix(line, "ENV ") {
			continue
		}
		for _, v := range envVar.FindAllString(line, -1) {
			for _, cmd := range []string{"hub", "node", "healthcheck"} {
				if !has(cmd, flagOfEnv(v)) {
					t.Errorf("Dockerfile sets %s, which alliancehub %s does not read", v, cmd)
				}
			}
		}
	}

	// compose.yaml: each service's variables are flags of its command.
	service, command := "", map[string]string{}
	vars := map[string][]string{}
	serviceLine := regexp.MustCompile(`^  ([a-z][a-z0-9_-]*):\s*$`)
	commandLine := regexp.MustCompile(`^\s+command:\s*\["([a-z-]+)"`)
	inServices := false
	sc := bufio.NewScanner(strings.NewReader(readDeploy(t, "compose.yaml")))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "services:":
			inServices = true
		case len(line) > 0 && line[0] != ' ' && line[0] != '#':
			inServices = false
		case !inServices:
		case serviceLine.MatchString(line):
			service = serviceLine.FindStringSubmatch(line)[1]
		case commandLine.MatchString(line):
			command[service] = commandLine.FindStringSubmatch(line)[1]
		default:
			vars[service] = append(vars[service], envVar.FindAllString(line, -1)...)
		}
	}
	if !slices.Equal(slices.Sorted(maps.Keys(command)), []string{"hub", "mi", "nv"}) {
		t.Errorf("compose services with a command: %v, want hub, mi and nv", command)
	}
	for s, vs := range vars {
		for _, v := range vs {
			if !has(command[s], flagOfEnv(v)) {
				t.Errorf("compose.yaml service %s sets %s, which alliancehub %s does not read", s, v, command[s])
			}
		}
	}

	// The reference and the guide name every flag of the servers.
	readme := readDeploy(t, "README.md")
	ops, err := os.ReadFile(filepath.Join("..", "..", "docs", "OPERATIONS.md"))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{} // "hub"/"node" -> its line of configuration keys
	for _, cmd := range []string{"hub", "node"} {
		start := strings.Index(string(ops), "\n- `"+cmd+"`: ")
		if start < 0 {
			t.Fatalf("docs/OPERATIONS.md has no list of the %s configuration keys", cmd)
		}
		end := strings.Index(string(ops[start:]), ";\n")
		if e := strings.Index(string(ops[start:]), ".\n"); end < 0 || (e >= 0 && e < end) {
			end = e
		}
		keys[cmd] = string(ops[start : start+end])
		for f := range flagsOf(t, cmd) {
			if !strings.Contains(readme, "`--"+f+"`") {
				t.Errorf("deploy/README.md does not document alliancehub %s --%s", cmd, f)
			}
			if f != configFlagName && !strings.Contains(keys[cmd], "`"+f+"`") {
				t.Errorf("docs/OPERATIONS.md, Configuration, does not list %s among the %s keys", f, cmd)
			}
		}
	}
}
