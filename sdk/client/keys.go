package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// Rate is a token bucket: Burst requests at once, refilled at RPS a second. Burst 0 lets the server pick a
// second's worth (at least 1).
type Rate struct {
	RPS   float64 `json:"rps"`
	Burst int     `json:"burst,omitempty"`
}

// FuelQuota caps a key's fuel per window; Window is a Go duration of whole hours, e.g. "24h".
type FuelQuota struct {
	Fuel   uint64 `json:"fuel"`
	Window string `json:"window"`
}

// KeyRequest describes a key to create. Tools are globs of tool names (path.Match syntax); none means every tool.
type KeyRequest struct {
	Name      string     `json:"name"`
	Role      string     `json:"role"` // admin, publisher, invoker or auditor
	Tools     []string   `json:"tools,omitempty"`
	Rate      *Rate      `json:"rate,omitempty"`
	FuelQuota *FuelQuota `json:"fuel_quota,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// Key is an API key as the server shows it: never its token.
type Key struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	Tools     []string   `json:"tools"`
	Rate      *Rate      `json:"rate,omitempty"`
	FuelQuota *FuelQuota `json:"fuel_quota,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Disabled  bool       `json:"disabled"`
	State     string     `json:"state"` // active, disabled or expired
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by"`
}

// CreateKey creates a key and returns it with its token, which the server shows this once.
func (c *Client) CreateKey(ctx context.Context, req KeyRequest) (k Key, token string, err error) {
	var out struct {
		Key
		Token string `json:"token"`
	}
	_, err = c.sendJSON(ctx, http.MethodPost, "/v1/keys", req, &out)
	return out.Key, out.Token, err
}

// Keys lists every key.
func (c *Client) Keys(ctx context.Context) ([]Key, error) {
	var out struct {
		Keys []Key `json:"keys"`
	}
	err := c.getJSON(ctx, "/v1/keys", &out)
	return out.Keys, err
}

// Key returns one key.
func (c *Client) Key(ctx context.Context, id string) (Key, error) {
	var k Key
	err := c.getJSON(ctx, "/v1/keys/"+url.PathEscape(id), &k)
	return k, err
}

// DeleteKey deletes a key; its token stops working at once.
func (c *Client) DeleteKey(ctx context.Context, id string) error {
	_, _, _, err := c.do(ctx, http.MethodDelete, "/v1/keys/"+url.PathEscape(id), nil, nil)
	return err
}

// DisableKey stops a key from authenticating until EnableKey.
func (c *Client) DisableKey(ctx context.Context, id string) (Key, error) {
	var k Key
	_, err := c.sendJSON(ctx, http.MethodPost, "/v1/keys/"+url.PathEscape(id)+"/disable", nil, &k)
	return k, err
}

// EnableKey lets a disabled key authenticate again.
func (c *Client) EnableKey(ctx context.Context, id string) (Key, error) {
	var k Key
	_, err := c.sendJSON(ctx, http.MethodPost, "/v1/keys/"+url.PathEscape(id)+"/enable", nil, &k)
	return k, err
}

// UsageFilter selects usage; zero fields select everything. Since is rounded down to the hour; Until is exclusive.
type UsageFilter struct {
	Key, Tool    string
	Since, Until time.Time
}

// Usage is what one key's calls of one tool used (or, as a total, what all selected calls used).
type Usage struct {
	Key   string  `json:"key,omitempty"`
	Tool  string  `json:"tool,omitempty"`
	Calls uint64  `json:"calls"`
	Fuel  uint64  `json:"fuel"`
	Cost  float64 `json:"cost"`
}

// Usage returns calls, fuel and cost per key and tool, and their total.
func (c *Client) Usage(ctx context.Context, f UsageFilter) (rows []Usage, total Usage, err error) {
	q := url.Values{}
	if f.Key != "" {
		q.Set("key", f.Key)
	}
	if f.Tool != "" {
		q.Set("tool", f.Tool)
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.Format(time.RFC3339Nano))
	}
	path := "/v1/usage"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out struct {
		Usage []Usage `json:"usage"`
		Total Usage   `json:"total"`
	}
	b, _, _, err := c.do(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return nil, Usage{}, err
	}
	err = json.Unmarshal(b, &out)
	return out.Usage, out.Total, err
}
