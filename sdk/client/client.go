// Package client is the Go client of Toolgate's HTTP API (v1). The toolgate CLI is built on it. It depends on
// nothing of the server side: responses decode into the types declared here.
package client

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
)

// Client calls one Toolgate server. It is safe for concurrent use.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// New returns a client for the server at baseURL (e.g. "http://127.0.0.1:8080") using token.
// httpClient defaults to a client with a 5-minute timeout.
func New(baseURL, token string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 5 * time.Minute}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, http: httpClient}
}

// Error is a failure the server reported: the HTTP status, its stable code and message, and the receipt id when
// a call ran.
type Error struct {
	Status  int
	Code    string
	Message string
	Receipt string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s", e.Code, e.Message)
	if e.Receipt != "" {
		s += " (receipt " + e.Receipt + ")"
	}
	return s
}

// IsCode reports whether err is a server error with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// do sends a request and returns the response body of a 2xx answer, or an *Error.
func (c *Client) do(ctx context.Context, method, path string, body []byte, hdr http.Header) ([]byte, http.Header, int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, nil, 0, err
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<30))
	if err != nil {
		return nil, nil, 0, fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return b, resp.Header, resp.StatusCode, nil
	}
	e := &Error{Status: resp.StatusCode}
	var eb struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		Receipt string `json:"receipt"`
	}
	if json.Unmarshal(b, &eb) == nil && eb.Error.Code != "" {
		e.Code, e.Message, e.Receipt = eb.Error.Code, eb.Error.Message, eb.Receipt
	} else {
		e.Code, e.Message = "http_"+strconv.Itoa(resp.StatusCode), strings.TrimSpace(string(b))
	}
	return nil, resp.Header, resp.StatusCode, e
}

func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	b, _, _, err := c.do(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func (c *Client) sendJSON(ctx context.Context, method, path string, in, out any) (int, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return 0, err
		}
	}
	b, _, status, err := c.do(ctx, method, path, body, http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		return status, err
	}
	if out != nil {
		return status, json.Unmarshal(b, out)
	}
	return status, nil
}

// Module is an uploaded module's metadata.
type Module struct {
	Digest    string    `json:"digest"`
	Size      int64     `json:"size"`
	Imports   []string  `json:"imports"`
	Exports   []string  `json:"exports"`
	CreatedAt time.Time `json:"created_at"`
}

// PushModule uploads a Wasm module. created is false when the server already had it.
func (c *Client) PushModule(ctx context.Context, wasm []byte) (m Module, created bool, err error) {
	b, _, status, err := c.do(ctx, http.MethodPost, "/v1/modules", wasm,
		http.Header{"Content-Type": {"application/wasm"}})
	if err != nil {
		return m, false, err
	}
	return m, status == http.StatusCreated, json.Unmarshal(b, &m)
}

// Version is a published version.
type Version struct {
	Tool        string          `json:"tool"`
	Version     string          `json:"version"`
	Module      string          `json:"module"`
	Manifest    string          `json:"manifest"`
	Document    json.RawMessage `json:"document"`
	PublishedBy string          `json:"published_by"`
	PublishedAt time.Time       `json:"published_at"`
	Pinned      bool            `json:"pinned"`
}

// PutVersion publishes tool@version with a version document (JSON). created is false for an identical republish.
func (c *Client) PutVersion(ctx context.Context, tool, version string, document []byte) (v Version, created bool, err error) {
	b, _, status, err := c.do(ctx, http.MethodPut, "/v1/tools/"+url.PathEscape(tool)+"/versions/"+url.PathEscape(version),
		document, http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		return v, false, err
	}
	return v, status == http.StatusCreated, json.Unmarshal(b, &v)
}

// GetVersion returns one published version.
func (c *Client) GetVersion(ctx context.Context, tool, version string) (Version, error) {
	var v Version
	err := c.getJSON(ctx, "/v1/tools/"+url.PathEscape(tool)+"/versions/"+url.PathEscape(version), &v)
	return v, err
}

// Pin is a tool's live pin.
type Pin struct {
	Version string    `json:"version"`
	Module  string    `json:"module"`
	Actor   string    `json:"actor"`
	At      time.Time `json:"at"`
	Reason  string    `json:"reason,omitempty"`
}

// Tool is a tool with its versions and pin.
type Tool struct {
	Name      string    `json:"name"`
	Versions  []string  `json:"versions"`
	Pin       *Pin      `json:"pin"`
	CreatedAt time.Time `json:"created_at"`
}

// Tools lists the tools.
func (c *Client) Tools(ctx context.Context) ([]Tool, error) {
	var out struct {
		Tools []Tool `json:"tools"`
	}
	err := c.getJSON(ctx, "/v1/tools", &out)
	return out.Tools, err
}

// Tool returns one tool.
func (c *Client) Tool(ctx context.Context, name string) (Tool, error) {
	var t Tool
	err := c.getJSON(ctx, "/v1/tools/"+url.PathEscape(name), &t)
	return t, err
}

// Event is a pin or rollback in a tool's history.
type Event struct {
	Seq     int64     `json:"seq"`
	Kind    string    `json:"kind"`
	Tool    string    `json:"tool"`
	Version string    `json:"version"`
	Module  string    `json:"module"`
	From    string    `json:"from,omitempty"`
	Actor   string    `json:"actor"`
	At      time.Time `json:"at"`
	Reason  string    `json:"reason,omitempty"`
}

// Pin pins tool to version (or, when version starts with "sha256:", to the newest version running that module).
func (c *Client) Pin(ctx context.Context, tool, version, reason string) (Event, error) {
	req := map[string]string{}
	if strings.HasPrefix(version, "sha256:") {
		req["module"] = version
	} else {
		req["version"] = version
	}
	if reason != "" {
		req["reason"] = reason
	}
	var ev Event
	_, err := c.sendJSON(ctx, http.MethodPost, "/v1/tools/"+url.PathEscape(tool)+"/pin", req, &ev)
	return ev, err
}

// Rollback moves tool's pin back to the previous pinned module.
func (c *Client) Rollback(ctx context.Context, tool, reason string) (Event, error) {
	req := map[string]string{}
	if reason != "" {
		req["reason"] = reason
	}
	var ev Event
	_, err := c.sendJSON(ctx, http.MethodPost, "/v1/tools/"+url.PathEscape(tool)+"/rollback", req, &ev)
	return ev, err
}

// History returns tool's pin events, oldest first.
func (c *Client) History(ctx context.Context, tool string) ([]Event, error) {
	var out struct {
		Events []Event `json:"events"`
	}
	err := c.getJSON(ctx, "/v1/tools/"+url.PathEscape(tool)+"/history", &out)
	return out.Events, err
}

// InvokeOptions select what an invoke runs and how.
type InvokeOptions struct {
	Ref            string // a version or module digest of the tool; "" = the pin
	IdempotencyKey string
}

// InvokeResult is a successful call's output and what ran.
type InvokeResult struct {
	Output   []byte
	Receipt  string
	Module   string
	Version  string
	FuelUsed *uint64
	Replayed bool
}

// Invoke calls a tool with input. A failed call returns an *Error whose Receipt names the call's receipt.
func (c *Client) Invoke(ctx context.Context, tool string, input []byte, opts InvokeOptions) (InvokeResult, error) {
	path := "/v1/tools/" + url.PathEscape(tool) + "/invoke"
	if opts.Ref != "" {
		path += "?ref=" + url.QueryEscape(opts.Ref)
	}
	hdr := http.Header{"Content-Type": {"application/octet-stream"}}
	if opts.IdempotencyKey != "" {
		hdr.Set("Idempotency-Key", opts.IdempotencyKey)
	}
	if input == nil {
		input = []byte{}
	}
	b, h, _, err := c.do(ctx, http.MethodPost, path, input, hdr)
	if err != nil {
		return InvokeResult{}, err
	}
	r := InvokeResult{Output: b, Receipt: h.Get("Toolgate-Receipt"), Module: h.Get("Toolgate-Module"),
		Version: h.Get("Toolgate-Version"), Replayed: h.Get("Idempotent-Replayed") == "true"}
	if f := h.Get("Toolgate-Fuel-Used"); f != "" {
		if n, err := strconv.ParseUint(f, 10, 64); err == nil {
			r.FuelUsed = &n
		}
	}
	return r, nil
}

// Receipt returns one receipt's canonical JSON.
func (c *Client) Receipt(ctx context.Context, id string) (json.RawMessage, error) {
	b, _, _, err := c.do(ctx, http.MethodGet, "/v1/receipts/"+url.PathEscape(id), nil, nil)
	return b, err
}

// ReceiptFilter selects receipts; zero fields select all.
type ReceiptFilter struct {
	Tool, Status, Cursor string
	Since                time.Time
	Limit                int
}

// Receipts lists receipts newest first; next is the cursor of the following page ("" at the end).
func (c *Client) Receipts(ctx context.Context, f ReceiptFilter) (page []json.RawMessage, next string, err error) {
	q := url.Values{}
	for k, v := range map[string]string{"tool": f.Tool, "status": f.Status, "cursor": f.Cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.Format(time.RFC3339Nano))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	path := "/v1/receipts"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out struct {
		Receipts   []json.RawMessage `json:"receipts"`
		NextCursor string            `json:"next_cursor"`
	}
	err = c.getJSON(ctx, path, &out)
	return out.Receipts, out.NextCursor, err
}
