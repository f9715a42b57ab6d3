package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/alliancehub/alliancehub/auth"
)

// TestRotateThenRevokeKeyCLI, with real processes: `rotate-key` makes the MI node
// replace its key (the key file holds the new key, KEY.old the old one); killed and
// started again with the same --key file, the node signs with the new key; `revoke-key`
// revokes the old key at the hub, whose roster then flags what that key signed; a
// second revocation exits 1 with one line saying so.
func TestRotateThenRevokeKeyCLI(t *testing.T) {
	c := startCluster(t)
	first := c.create("Michigan Road Builders Association", "2024-05-01")
	if res := c.sync(); res.Accepted != 1 {
		t.Fatalf("sync = %+v", res)
	}

	var rr struct {
		Kid         string `json:"kid"`
		PreviousKid string `json:"previous_kid"`
		KeyFile     string `json:"key_file"`
		OldKeyFile  string `json:"old_key_file"`
	}
	out := cli(t, "rotate-key", "--node", c.nodeURL, "--token", c.clerk, "--json")
	if err := json.Unmarshal([]byte(out), &rr); err != nil {
		t.Fatalf("rotate-key --json printed %q: %v", out, err)
	}
	if rr.PreviousKid != c.miKid || rr.Kid == c.miKid || rr.KeyFile != c.miKey || rr.OldKeyFile != c.miKey+".old" {
		t.Fatalf("rotate-key = %+v; want %s replaced in %s, the old key in .old", rr, c.miKid, c.miKey)
	}
	for path, kid := range map[string]string{c.miKey: rr.Kid, c.miKey + ".old": c.miKid} {
		if k, err := auth.LoadKey(path); err != nil || k.KeyID() != kid {
			t.Errorf("%s holds %v, %v; want %s", path, k, err, kid)
		}
	}

	// kill -9 and start again with the same --key: the node signs with the new key, and
	// still takes the clerk's token, signed by the old key, until the old key ends.
	c.crashNode()
	second := c.create("Michigan Farm Bureau", "2025-01-15")
	if res := c.sync(); res.Accepted != 1 {
		t.Fatalf("sync after the restart = %+v", res)
	}

	res := cliRun(t, "", nil, "revoke-key", "--hub", c.hubURL, "--token", c.admin, "--program", "MI", "--kid", c.miKid, "--reason", "laptop stolen")
	if res.code != 0 || !strings.Contains(res.stdout, c.miKid+"  revoked  revoked at") {
		t.Fatalf("revoke-key: exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	provenance := map[string]map[string]any{}
	for _, it := range c.roster().Items {
		provenance[it["id"].(string)] = it["provenance"].(map[string]any)
	}
	if p := provenance[first.ID]; p["kid"] != c.miKid || p["key_revoked_at"] == nil {
		t.Errorf("first Alliance provenance = %v, want the old key, flagged revoked", p)
	}
	if p := provenance[second.ID]; p["kid"] != rr.Kid || p["key_revoked_at"] != nil {
		t.Errorf("second Alliance provenance = %v, want the new key, not flagged", p)
	}
	var programs struct {
		Items []struct {
			Keys []struct {
				Kid          string `json:"kid"`
				RevokedAt    string `json:"revoked_at"`
				RevokeReason string `json:"revoke_reason"`
			} `json:"keys"`
		} `json:"items"`
	}
	call(t, http.MethodGet, c.hubURL+"/v1/programs", c.analyst, nil, http.StatusOK, &programs)
	for _, k := range programs.Items[0].Keys {
		if k.Kid == c.miKid && (k.RevokedAt == "" || k.RevokeReason != "laptop stolen") {
			t.Errorf("GET /v1/programs shows the old key as %+v", k)
		}
	}

	res = cliRun(t, "", nil, "revoke-key", "--hub", c.hubURL, "--token", c.admin, "--program", "MI", "--kid", c.miKid)
	if res.code != 1 {
		t.Errorf("second revoke-key: exit %d, want 1", res.code)
	}
	checkErrorLine(t, res, "alliancehub revoke-key:", "already revoked")
	res = cliRun(t, "", nil, "rotate-key", "--node", c.nodeURL, "--token", c.clerk, "--retire-old-at", "tomorrow")
	if res.code != 2 {
		t.Errorf("rotate-key with a bad time: exit %d, want 2", res.code)
	}
	checkErrorLine(t, res, "alliancehub rotate-key:", "RFC 3339")
}
