package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/alliancehub/alliancehub/hub/wire"
)

// HubClient is what the node needs of the hub.
type HubClient interface {
	// Push sends one signed batch with a bearer token and returns the hub's answer.
	Push(ctx context.Context, token, batch string) (*wire.PushResponse, error)
	// Changes reads one page of the hub's change feed after since.
	Changes(ctx context.Context, token string, since uint64, limit int) (*wire.ChangesPage, error)
	// Keys reads the hub's signed keys document (a compact JWS).
	Keys(ctx context.Context, token string) (string, error)
	// JWKS reads the hub's public keys from /.well-known/jwks.json.
	JWKS(ctx context.Context) ([]byte, error)
	// Digest reads the hub's digests: of every program (program empty), of one program
	// in ranges, or one range's revisions.
	Digest(ctx context.Context, token, program, rng string) (*wire.DigestPage, error)
}

// HubError is a push the hub answered with an error status.
type HubError struct {
	Status     int
	Detail     string        // the problem's detail, or the status text
	RetryAfter time.Duration // from the Retry-After header, if any
	// Problem is whether the answer was a problem document (RFC 9457), as every refusal
	// of the hub's own handlers is; a bare status comes from the HTTP layer below them.
	Problem bool
}

func (e *HubError) Error() string {
	return fmt.Sprintf("hub answered %d: %s", e.Status, e.Detail)
}

// Temporary reports whether trying again may help: timeouts, throttling and server
// errors. Any other 4xx will not change by itself (DESIGN.md, Retry), except a bare
// 400 that is not a problem document: Go's HTTP server answers that when the head of a
// request arrives broken, which the node's own client never sends, so the connection
// was cut or damaged on the way (a half-closed connection, a middlebox).
func (e *HubError) Temporary() bool {
	return e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests || e.Status >= 500 ||
		(e.Status == http.StatusBadRequest && !e.Problem)
}

// HTTPHub talks to a hub over HTTP.
type HTTPHub struct {
	base   *url.URL
	client *http.Client
}

var _ HubClient = (*HTTPHub)(nil)

// NewHTTPHub makes a client of the hub at baseURL; a nil client gets one with a
// one-minute timeout.
func NewHTTPHub(baseURL string, client *http.Client) (*HTTPHub, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &ConfigError{Flag: "hub", Value: baseURL, Problem: "want http(s)://host[:port]"}
	}
	if client == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		// A push waits this long for the hub's "100 Continue" before sending its body, so
		// a hub at its push limit answers 429 first (a body sent anyway can cost the
		// answer when the hub closes the connection: golang/go#11745).
		t.ExpectContinueTimeout = 15 * time.Second
		client = &http.Client{Timeout: time.Minute, Transport: t}
	}
	return &HTTPHub{base: u, client: client}, nil
}

// Push implements HubClient.
func (h *HTTPHub) Push(ctx context.Context, token, batch string) (*wire.PushResponse, error) {
	var out wire.PushResponse
	if err := h.call(ctx, http.MethodPost, "/v1/sync/push", token, strings.NewReader(batch), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Changes implements HubClient.
func (h *HTTPHub) Changes(ctx context.Context, token string, since uint64, limit int) (*wire.ChangesPage, error) {
	q := url.Values{"since": {strconv.FormatUint(since, 10)}, "limit": {strconv.Itoa(limit)}}
	var out wire.ChangesPage
	if err := h.call(ctx, http.MethodGet, "/v1/sync/changes?"+q.Encode(), token, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Keys implements HubClient.
func (h *HTTPHub) Keys(ctx context.Context, token string) (string, error) {
	var raw []byte
	err := h.call(ctx, http.MethodGet, "/v1/sync/keys", token, nil, &raw)
	return string(bytes.TrimSpace(raw)), err
}

// Digest implements HubClient.
func (h *HTTPHub) Digest(ctx context.Context, token, program, rng string) (*wire.DigestPage, error) {
	q := url.Values{}
	if program != "" {
		q.Set("program", program)
	}
	if rng != "" {
		q.Set("range", rng)
	}
	var out wire.DigestPage
	if err := h.call(ctx, http.MethodGet, "/v1/sync/digest?"+q.Encode(), token, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// JWKS implements HubClient.
func (h *HTTPHub) JWKS(ctx context.Context) ([]byte, error) {
	var raw []byte
	err := h.call(ctx, http.MethodGet, "/.well-known/jwks.json", "", nil, &raw)
	return raw, err
}

// call makes one request and decodes a 200 answer into out (a *[]byte takes the raw
// body). Any other status is a *HubError.
func (h *HTTPHub) call(ctx context.Context, method, path, token string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, h.base.String()+path, body)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", wire.MediaTypeJOSE)
		// A hub at its push limit answers 429 before reading the body; with this it
		// need not be sent at all (and the 429 is not lost to a closed connection).
		req.Header.Set("Expect", "100-continue")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("reading the hub's answer to %s: %w", path, err)
	}
	if resp.StatusCode/100 != 2 { // 200, or 201 for a key the hub enrolled
		return hubError(resp, raw)
	}
	if b, ok := out.(*[]byte); ok {
		*b = raw
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("the hub's answer to %s is not what the protocol says: %w", path, err)
	}
	return nil
}

func hubError(resp *http.Response, body []byte) *HubError {
	e := &HubError{Status: resp.StatusCode, Detail: http.StatusText(resp.StatusCode)}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/problem+json" {
		e.Problem = true
	}
	var p struct {
		Detail string `json:"detail"`
		Errors []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &p) == nil && p.Detail != "" {
		e.Detail = p.Detail
		for _, f := range p.Errors { // a validation answer names its fields
			e.Detail += fmt.Sprintf("; %s: %s", f.Field, f.Message)
		}
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if secs, err := strconv.Atoi(ra); err == nil && secs >= 0 {
			e.RetryAfter = time.Duration(secs) * time.Second
		} else if t, err := http.ParseTime(ra); err == nil {
			e.RetryAfter = max(time.Until(t), 0)
		}
	}
	return e
}

// permanent reports whether err will not go away by retrying.
func permanent(err error) bool {
	var he *HubError
	if errors.As(err, &he) {
		return !he.Temporary()
	}
	return errors.Is(err, errBadAnswer)
}

var errBadAnswer = errors.New("the hub's answer does not match the batch")
