package poeclient

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// Balance returns the point balance of the key's owner.
func (c *Client) Balance(ctx context.Context, token string) (int64, error) {
	var out struct {
		Balance *int64 `json:"current_point_balance"`
	}
	if err := c.getJSON(ctx, "/usage/current_balance", token, &out); err != nil {
		return 0, err
	}
	if out.Balance == nil {
		return 0, &Error{Kind: KindProtocol, Message: "balance response without current_point_balance"}
	}
	return *out.Balance, nil
}

// Model is one entry of Poe's public model list.
type Model struct {
	ID      string `json:"id"`
	Created int64  `json:"created"` // milliseconds since the epoch, as Poe sends it
	OwnedBy string `json:"owned_by"`
}

// Models fetches Poe's public model list (GET <BaseURL>/v1/models, no key).
func (c *Client) Models(ctx context.Context) ([]Model, error) {
	var out struct {
		Data []Model `json:"data"`
	}
	if err := c.getJSON(ctx, "/v1/models", "", &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}

func (c *Client) getJSON(ctx context.Context, path, token string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.BaseURL, "/")+path, nil)
	if err != nil {
		return &Error{Kind: KindProtocol, Message: "bad base URL"}
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return transportError(ctx, err, token)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode != http.StatusOK {
		return errorFromResponse(resp.StatusCode, resp.Header, body, token)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &Error{Kind: KindProtocol, Message: "invalid JSON from Poe", Detail: detail(body, token)}
	}
	return nil
}
