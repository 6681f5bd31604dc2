// Package status is what the status page and its JSON show: per handler,
// the pool's keys and the named clients, and the renderers. The host fills
// a Snapshot from its pool, points poller and usage store; nothing in it
// is a secret (keys appear only as fingerprints).
package status

import (
	"encoding/json"
	"io"
	"time"
)

// ChartDays is how many days the chart of tokens per day shows.
const ChartDays = 14

// Snapshot is the whole status.
type Snapshot struct {
	Generated time.Time `json:"generated"`
	Handlers  []Handler `json:"handlers"`
}

// Handler is one poe_openai handler (one site's, as configured).
type Handler struct {
	ID int `json:"id"` // 1-based, in the order the handlers were provisioned
	// Site names where the handler serves (server name and hosts), when
	// the host could tell.
	Site        string   `json:"site,omitempty"`
	PointsFloor int64    `json:"points_floor"`
	PointsCheck string   `json:"points_check"` // "10m0s"; "off"
	Keys        []Key    `json:"keys"`
	Clients     []Client `json:"clients"`
}

// Key is one pool key.
type Key struct {
	Fingerprint string     `json:"fingerprint"`
	State       string     `json:"state"` // ready, busy, cooling, quarantined
	Reason      string     `json:"reason,omitempty"`
	Until       *time.Time `json:"until,omitempty"`
	// StartsInWindow is the requests started in the last 60 s.
	StartsInWindow int `json:"starts_in_window"`
	InFlight       int `json:"in_flight"`
	// Points is the last balance read; absent until one succeeded.
	Points      *int64     `json:"points,omitempty"`
	PointsAt    *time.Time `json:"points_at,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
}

// Client is one named client.
type Client struct {
	Name    string   `json:"name"`
	Today   Usage    `json:"today"`
	Month   Usage    `json:"month"`
	Budgets []Budget `json:"budgets,omitempty"`
	// RateLimit is the client's requests per minute (0: none), RateUsed
	// the requests in the current window.
	RateLimit int `json:"rate_limit,omitempty"`
	RateUsed  int `json:"rate_used"`
	// Daily is the last ChartDays days, oldest first.
	Daily []Day `json:"daily,omitempty"`
	// Error says why the usage could not be read (a store outage).
	Error string `json:"error,omitempty"`
}

// Usage is what a client did in a period.
type Usage struct {
	Requests         int64 `json:"requests"`
	Errors           int64 `json:"errors"`
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	Tokens           int64 `json:"tokens"`
}

// Budget is one budget and its current window.
type Budget struct {
	Budget string    `json:"budget"` // as in the Caddyfile: "1000 tokens per day"
	Limit  int64     `json:"limit"`
	Unit   string    `json:"unit"`
	Per    string    `json:"per"`
	Used   int64     `json:"used"`
	Left   int64     `json:"left"`
	Resets time.Time `json:"resets"`
}

// Day is one day of a client's use.
type Day struct {
	Date     string `json:"date"` // 2006-01-02, UTC
	Requests int64  `json:"requests"`
	Tokens   int64  `json:"tokens"`
}

// WriteJSON writes s as indented JSON.
func WriteJSON(w io.Writer, s *Snapshot) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}
