package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/google/go-cmp/cmp"
)

// pynodeScript is a program node in Python written from docs/PROTOCOL.md alone.
var pynodeScript = filepath.Join("..", "..", "docs", "pynode", "pynode.py")

// TestPythonNode: the Python node of docs/pynode, written from docs/PROTOCOL.md alone,
// works with the hub process: enrolled as NV, it signs and pushes records the hub
// accepts (and a batch sent again, all duplicate), pulls the change feed and verifies
// every change in it, the Go MI node's records included, and its digest of NV matches
// the hub's. The Go node then pulls the Python node's records, verifies them, and its
// replica answers the hub's roster. Skipped where python3 with the cryptography package
// is not installed, except in CI (CI set), where that fails it: it never passes by not
// running.
func TestPythonNode(t *testing.T) {
	binary(t)
	python, err := exec.LookPath("python3")
	if err == nil {
		var out []byte
		if out, err = exec.Command(python, "-c", "import cryptography.hazmat.primitives.asymmetric.ed25519").CombinedOutput(); err != nil {
			err = fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
		}
	}
	if err != nil {
		msg := fmt.Sprintf("no python3 with the cryptography package (Debian: apt-get install python3-cryptography): %v", err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	c := startCluster(t)
	importAlliances(t, c.nodeURL, c.clerk, "MI", 7)
	if diff := cmp.Diff(wire.SyncResult{Pushed: 7, Accepted: 7, Pulled: 7}, syncNode(t, c.nodeURL, c.clerk)); diff != "" {
		t.Fatalf("MI sync (-want +got):\n%s", diff)
	}

	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, pynodeScript, "--hub", c.hubURL, "--admin", c.admin, "--program", "NV")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pynode: %v\n%s%s", err, out, stderr.String())
	}
	var got struct {
		Kid      string   `json:"kid"`
		Pushed   int      `json:"pushed"`
		Changes  int      `json:"changes"`
		Programs []string `json:"programs"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("pynode printed %q: %v", out, err)
	}
	// 7 MI changes and 3 NV revisions (two Alliances, one edited), each verified.
	if got.Pushed != 3 || got.Changes != 10 || !slices.Equal(got.Programs, []string{"MI", "NV"}) {
		t.Errorf("pynode: %+v; want 3 pushed, 10 changes verified, of MI and NV", got)
	}

	// The Go node verifies what the Python node signed, and shows it as the hub does.
	if diff := cmp.Diff(wire.SyncResult{Pulled: 3}, syncNode(t, c.nodeURL, c.clerk)); diff != "" {
		t.Errorf("MI sync after the Python node's pushes (-want +got):\n%s", diff)
	}
	hubItems := rosterItems(t, c.hubURL, c.analyst)
	compareRosters(t, hubItems, rosterItems(t, c.nodeURL, c.clerk))
	nv := 0
	for _, it := range hubItems {
		if it["program"] == "NV" {
			nv++
			if prov, _ := it["provenance"].(map[string]any); prov["kid"] != got.Kid {
				t.Errorf("roster: %v signed by %v, want the Python node's key %s", it["id"], prov["kid"], got.Kid)
			}
		}
	}
	if nv != 2 || len(hubItems) != 9 {
		t.Errorf("roster: %d items, %d of NV; want 9 and 2", len(hubItems), nv)
	}
}
