package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub/wire"
)

// apiClient calls a hub or node API with a bearer token.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

func newAPIClient(base, token string) (*apiClient, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError("%q is not a URL like http://127.0.0.1:8400", base)
	}
	return &apiClient{base: strings.TrimRight(base, "/"), token: token, http: &http.Client{Timeout: 5 * time.Minute}}, nil
}

// do sends a request and decodes a JSON answer into out, or returns the server's problem
// as one line.
func (c *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: unreadable answer: %w", method, path, err)
	}
	return nil
}

// send sends a request and returns a 2xx response; any other status becomes an error
// built from the problem document.
func (c *apiClient) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	return nil, c.problem(resp)
}

// problem turns a non-2xx answer into one error line: the problem's detail (or title)
// and every failing field.
func (c *apiClient) problem(resp *http.Response) error {
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var p struct {
		Title  string       `json:"title"`
		Detail string       `json:"detail"`
		Errors []fieldError `json:"errors"`
	}
	msg := strings.TrimSpace(string(raw))
	if json.Unmarshal(raw, &p) == nil && (p.Detail != "" || p.Title != "") {
		msg = cmp.Or(p.Detail, p.Title)
		for _, f := range p.Errors {
			msg += fmt.Sprintf("; %s: %s", f.Field, f.Message)
		}
	}
	return fmt.Errorf("%s answered %d: %s", c.base, resp.StatusCode, msg)
}

func runEnroll(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("enroll", "enroll --hub URL --token TOKEN --program CODE --name NAME --jwk FILE", stderr)
	hubURL := fs.String("hub", "", "the hub's base URL")
	token := fs.String("token", "", "an admin token signed by the hub's key")
	program := fs.String("program", "", "program code (FED, MI, NV, ...)")
	name := fs.String("name", "", "program name (defaults to the program definition's)")
	jwkFile := fs.String("jwk", "", "the program node's JWK file; only its public half is sent")
	if err := parse(fs, args, "hub", "token", "program", "jwk"); err != nil {
		return err
	}
	raw, err := os.ReadFile(*jwkFile)
	if err != nil {
		return err
	}
	// Never send a private key: reduce whatever the file holds to its public half here.
	pub, err := auth.ParsePublicJWK(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", *jwkFile, err)
	}
	c, err := newAPIClient(*hubURL, *token)
	if err != nil {
		return err
	}
	var view struct {
		Code string `json:"code"`
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	err = c.do(ctx, http.MethodPost, "/v1/programs", map[string]any{"code": *program, "name": *name, "jwk": pub}, &view)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "enrolled %s with key %s (%d key(s) in all)\n", view.Code, pub.KeyID, len(view.Keys))
	return nil
}

func runSync(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sync", "sync --node URL --token TOKEN [--json] [--backstop]", stderr)
	nodeURL := fs.String("node", "", "the node's base URL")
	token := fs.String("token", "", "a token signed by the node's key")
	asJSON := fs.Bool("json", false, "print the counts as JSON")
	backstop := fs.Bool("backstop", false, "also compare digests with the hub and repair any drift (otherwise weekly)")
	if err := parse(fs, args, "node", "token"); err != nil {
		return err
	}
	c, err := newAPIClient(*nodeURL, *token)
	if err != nil {
		return err
	}
	c.http.Timeout = 0 // the node bounds the run by its retry budget; wait for its answer
	var res wire.SyncResult
	path := "/v1/sync"
	if *backstop {
		path += "?backstop=true"
	}
	if err := c.do(ctx, http.MethodPost, path, nil, &res); err != nil {
		return err
	}
	if *asJSON {
		out, _ := json.Marshal(res)
		fmt.Fprintln(stdout, string(out))
	} else {
		fmt.Fprintf(stdout, "pushed %d, accepted %d, duplicate %d, stale %d, conflict %d, rejected %d, pulled %d\n",
			res.Pushed, res.Accepted, res.Duplicate, res.Stale, res.Conflict, res.Rejected, res.Pulled)
	}
	if res.Error != "" {
		return fmt.Errorf("sync failed: %s", res.Error)
	}
	if res.Rejected > 0 {
		return fmt.Errorf("the hub rejected %d record(s); GET /v1/sync/status on the node lists them with the reasons", res.Rejected)
	}
	return nil
}

func runRoster(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("roster", "roster --hub URL --token TOKEN [filters] [--format table|json|csv]", stderr)
	hubURL := fs.String("hub", "", "the hub's base URL")
	token := fs.String("token", "", "an analyst, admin or program token")
	format := fs.String("format", "table", "table, json or csv")
	filters := map[string]*string{}
	for _, f := range []struct{ name, help string }{
		{"program", "program code"},
		{"level", "national, regional, area or state"},
		{"status", "recorded status: draft, active, renewed, concluded, terminated, ambassador"},
		{"standing", "standing as of --as-of: draft, active, expiring, expired, concluded, terminated, ambassador"},
		{"category", "national goal category: awareness, training, outreach, dialogue"},
		{"q", "text in a participant's name"},
		{"as-of", "date (YYYY-MM-DD) for standing; default today"},
	} {
		filters[f.name] = fs.String(f.name, "", f.help)
	}
	if err := parse(fs, args, "hub", "token"); err != nil {
		return err
	}
	if *format != "table" && *format != "json" && *format != "csv" {
		return usageError("--format must be table, json or csv")
	}
	c, err := newAPIClient(*hubURL, *token)
	if err != nil {
		return err
	}
	q := url.Values{}
	for name, v := range filters {
		if *v != "" {
			q.Set(strings.ReplaceAll(name, "-", "_"), *v)
		}
	}
	if *format == "csv" {
		q.Set("format", "csv")
		resp, err := c.send(ctx, http.MethodGet, "/v1/roster?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(stdout, resp.Body)
		return err
	}
	// Follow every page, so the table or JSON holds the whole filtered roster.
	var items []wire.RosterItem
	total := 0
	q.Set("limit", "1000")
	for {
		var page struct {
			Items         []wire.RosterItem `json:"items"`
			Total         int               `json:"total"`
			NextPageToken string            `json:"next_page_token"`
		}
		if err := c.do(ctx, http.MethodGet, "/v1/roster?"+q.Encode(), nil, &page); err != nil {
			return err
		}
		items = append(items, page.Items...)
		total = page.Total
		if page.NextPageToken == "" {
			break
		}
		q.Set("page_token", page.NextPageToken)
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"items": items, "total": total})
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPROGRAM\tLEVEL\tPARTICIPANT\tSIGNED\tEXPIRES\tSTANDING\tNATIONAL CATEGORIES")
	for _, it := range items {
		name := ""
		if len(it.Participants) > 0 {
			name = it.Participants[0].Name
			if r := []rune(name); len(r) > 48 {
				name = string(r[:45]) + "..."
			}
			if len(it.Participants) > 1 {
				name += fmt.Sprintf(" (+%d)", len(it.Participants)-1)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", it.ID, it.Program, it.Level, name,
			it.SignedOn, it.ExpiresOn, it.Standing, strings.Join(it.NationalCategories, ", "))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d Alliance(s)\n", total)
	return nil
}
