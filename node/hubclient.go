package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
}

// HubError is a push the hub answered with an error status.
type HubError struct {
	Status     int
	Detail     string        // the problem's detail, or the status text
	RetryAfter time.Duration // from the Retry-After header, if any
}

func (e *HubError) Error() string {
	return fmt.Sprintf("hub answered %d: %s", e.Status, e.Detail)
}

// Temporary reports whether trying again may help: timeouts, throttling and server
// errors. Any other 4xx will not change by itself (DESIGN.md, Retry).
func (e *HubError) Temporary() bool {
	return e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests || e.Status >= 500
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
		client = &http.Client{Timeout: time.Minute}
	}
	return &HTTPHub{base: u, client: client}, nil
}

// Push implements HubClient.
func (h *HTTPHub) Push(ctx context.Context, token, batch string) (*wire.PushResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.base.String()+"/v1/sync/push", strings.NewReader(batch))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", wire.MediaTypeJOSE)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the hub's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, hubError(resp, body)
	}
	var out wire.PushResponse
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("the hub's answer is not a push response: %w", err)
	}
	return &out, nil
}

func hubError(resp *http.Response, body []byte) *HubError {
	e := &HubError{Status: resp.StatusCode, Detail: http.StatusText(resp.StatusCode)}
	var p struct {
		Detail string `json:"detail"`
	}
	if json.Unmarshal(body, &p) == nil && p.Detail != "" {
		e.Detail = p.Detail
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
