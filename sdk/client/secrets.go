package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// Secret is a stored secret as the API lists it: its name and times, never its value.
type Secret struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// PutSecret stores value as secret name, replacing any previous value; created reports whether it is new. The
// server seals the value before storing it and never returns it.
func (c *Client) PutSecret(ctx context.Context, name string, value []byte) (s Secret, created bool, err error) {
	b, _, status, err := c.do(ctx, http.MethodPut, "/v1/secrets/"+url.PathEscape(name), value,
		http.Header{"Content-Type": {"application/octet-stream"}})
	if err != nil {
		return s, false, err
	}
	return s, status == http.StatusCreated, json.Unmarshal(b, &s)
}

// Secrets lists the stored secrets by name.
func (c *Client) Secrets(ctx context.Context) ([]Secret, error) {
	var out struct {
		Secrets []Secret `json:"secrets"`
	}
	err := c.getJSON(ctx, "/v1/secrets", &out)
	return out.Secrets, err
}

// DeleteSecret removes secret name.
func (c *Client) DeleteSecret(ctx context.Context, name string) error {
	_, _, _, err := c.do(ctx, http.MethodDelete, "/v1/secrets/"+url.PathEscape(name), nil, nil)
	return err
}
