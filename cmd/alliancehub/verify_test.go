package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alliancehub/alliancehub/hub/wire"
)

// TestVerify: a bundle exported from the hub verifies offline, with the bundle's own
// hub key or a trusted one, and says who signed each revision; a tampered bundle, a
// bundle vouched for by another hub key, and a lone record without its key fail with
// exit status 1.
func TestVerify(t *testing.T) {
	c := startCluster(t)
	a := c.create("Michigan Farm Bureau", "2024-05-14")
	cli(t, "sync", "--node", c.nodeURL, "--token", c.clerk)
	var b wire.Bundle
	call(t, http.MethodGet, c.hubURL+"/v1/roster/"+a.ID+"/bundle", c.analyst, nil, http.StatusOK, &b)
	dir := t.TempDir()
	write := func(name string, v any) string {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("good.bundle.json", b)
	jwks := filepath.Join(dir, "hub-jwks.json")
	var set json.RawMessage
	call(t, http.MethodGet, c.hubURL+"/.well-known/jwks.json", "", nil, http.StatusOK, &set)
	os.WriteFile(jwks, set, 0o600)

	out := cli(t, "verify", good)
	if !strings.Contains(out, "OK alliance "+a.ID+" "+a.Rev+": signed by program MI with key "+c.miKid) ||
		!strings.Contains(out, "received by the hub at") || !strings.Contains(out, "keys vouched for by hub key") {
		t.Errorf("verify printed:\n%s", out)
	}
	cli(t, "verify", "--hub-jwk", jwks, good)

	tampered := b
	tampered.Changes = append([]wire.Change(nil), b.Changes...)
	parts := strings.Split(tampered.Changes[0].Record, ".")
	parts[2] = strings.Repeat("A", len(parts[2]))
	tampered.Changes[0].Record = strings.Join(parts, ".")
	otherHub := filepath.Join(dir, "other.jwk")
	otherPub := cli(t, "keygen", "--out", otherHub)
	otherPubFile := filepath.Join(dir, "other-pub.jwk")
	os.WriteFile(otherPubFile, []byte(otherPub), 0o600)
	lone := filepath.Join(dir, "lone.jws")
	os.WriteFile(lone, []byte(b.Changes[0].Record), 0o600)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"tampered", []string{"verify", write("tampered.bundle.json", tampered)}, "does not verify"},
		{"another hub", []string{"verify", "--hub-jwk", otherPubFile, good}, "not the trusted"},
		{"lone record without its key", []string{"verify", lone}, "pass --jwk"},
	} {
		res := cliRun(t, "", nil, tc.args...)
		if res.code != 1 || !strings.Contains(res.stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want 1 and %q", tc.name, res.code, res.stderr, tc.want)
		}
	}
}
