package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// parseTimeFlag reads an optional RFC 3339 time flag.
func parseTimeFlag(name, v string) (*time.Time, error) {
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil, usageError("--%s %q: want an RFC 3339 time, e.g. 2026-12-01T00:00:00Z", name, v)
	}
	return &t, nil
}

func runRotateKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("rotate-key", "rotate-key --node URL --token TOKEN [--retire-old-at TIME] [--json]", stderr)
	nodeURL := fs.String("node", "", "the node's base URL")
	token := fs.String("token", "", "a program or admin token signed by the node's key")
	retire := fs.String("retire-old-at", "", "when the hub should stop accepting the old key (RFC 3339; default 7 days after the rotation)")
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	if err := parse(fs, args, "node", "token"); err != nil {
		return err
	}
	retireAt, err := parseTimeFlag("retire-old-at", *retire)
	if err != nil {
		return err
	}
	c, err := newAPIClient(*nodeURL, *token)
	if err != nil {
		return err
	}
	var res struct {
		Kid              string    `json:"kid"`
		PreviousKid      string    `json:"previous_kid"`
		PreviousNotAfter time.Time `json:"previous_not_after"`
		KeyFile          string    `json:"key_file"`
		OldKeyFile       string    `json:"old_key_file"`
	}
	body := map[string]any{}
	if retireAt != nil {
		body["retire_old_at"] = retireAt
	}
	if err := c.do(ctx, http.MethodPost, "/v1/keys/rotate", body, &res); err != nil {
		return err
	}
	if *asJSON {
		out, _ := json.Marshal(res)
		fmt.Fprintln(stdout, string(out))
		return nil
	}
	fmt.Fprintf(stdout, "the node signs with key %s now (in %s)\n", res.Kid, res.KeyFile)
	fmt.Fprintf(stdout, "the hub accepts the old key %s until %s (kept in %s)\n",
		res.PreviousKid, res.PreviousNotAfter.UTC().Format(time.RFC3339), res.OldKeyFile)
	fmt.Fprintln(stdout, "tokens signed with the old key stop working then: mint new ones with the new key file")
	return nil
}

func runRevokeKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("revoke-key", "revoke-key --hub URL --token TOKEN --program CODE --kid KID [--reason TEXT] [--effective-at TIME] [--json]", stderr)
	hubURL := fs.String("hub", "", "the hub's base URL")
	token := fs.String("token", "", "an admin token signed by the hub's key")
	program := fs.String("program", "", "the program whose key it is")
	kid := fs.String("kid", "", "the key id to revoke (GET /v1/programs lists them)")
	reason := fs.String("reason", "", "why, shown with the key (e.g. \"laptop stolen\")")
	effective := fs.String("effective-at", "", "when the revocation takes effect (RFC 3339; default now; never in the past)")
	asJSON := fs.Bool("json", false, "print the program's keys as JSON")
	if err := parse(fs, args, "hub", "token", "program", "kid"); err != nil {
		return err
	}
	at, err := parseTimeFlag("effective-at", *effective)
	if err != nil {
		return err
	}
	c, err := newAPIClient(*hubURL, *token)
	if err != nil {
		return err
	}
	body := map[string]any{"reason": *reason}
	if at != nil {
		body["effective_at"] = at
	}
	var view struct {
		Code string `json:"code"`
		Keys []struct {
			Kid       string     `json:"kid"`
			State     string     `json:"state"`
			NotAfter  *time.Time `json:"not_after"`
			RevokedAt *time.Time `json:"revoked_at"`
		} `json:"keys"`
	}
	path := "/v1/programs/" + url.PathEscape(*program) + "/keys/" + url.PathEscape(*kid) + "/revoke"
	if err := c.do(ctx, http.MethodPost, path, body, &view); err != nil {
		return err
	}
	if *asJSON {
		out, _ := json.Marshal(view)
		fmt.Fprintln(stdout, string(out))
		return nil
	}
	valid := 0
	for _, k := range view.Keys {
		line := fmt.Sprintf("%s  %s", k.Kid, k.State)
		if k.RevokedAt != nil {
			line += "  revoked at " + k.RevokedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintln(stdout, line)
		if k.Kid != *kid && k.State == "valid" && k.RevokedAt == nil {
			valid++
		}
	}
	if valid == 0 {
		fmt.Fprintf(stdout, "program %s has no other valid key: enroll a new one (alliancehub keygen, then enroll) before its node can push again\n", view.Code)
	}
	return nil
}
