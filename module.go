// Package poeopenai is a Caddy HTTP handler, `poe_openai`, that serves the
// OpenAI Chat Completions API (/chat/completions, /models) from Poe's
// official bot API, with a pool of Poe keys, client keys and streaming.
//
// This package is the Caddy glue: configuration, lifecycle, routing and
// logging. The logic lives in the subpackages: openai (wire format),
// translate (OpenAI <-> Poe), tokenpool (keys and limits), poeclient
// (Poe's protocol) and relay (one request end to end).
package poeopenai

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/poe-openai/caddy-poe-openai/poeclient"
	"github.com/poe-openai/caddy-poe-openai/relay"
	"github.com/poe-openai/caddy-poe-openai/tokenpool"
)

func init() {
	caddy.RegisterModule(new(Handler))
}

// Handler serves the OpenAI API from Poe. Zero values mean the defaults
// documented in the README.
type Handler struct {
	// Poe API keys. {env.*} and {file.*} placeholders are resolved at
	// provision; a value may hold several keys separated by commas or
	// spaces.
	Tokens []string `json:"tokens,omitempty"`
	// A file with one Poe key per line (# comments and blank lines skipped).
	TokensFile string `json:"tokens_file,omitempty"`
	// Keys clients must send as "Authorization: Bearer <key>". None = open.
	AuthKeys     []string `json:"auth_keys,omitempty"`
	AuthKeysFile string   `json:"auth_keys_file,omitempty"`
	// OpenAI model name -> Poe bot name.
	Bots map[string]string `json:"bots,omitempty"`
	// "pass" (default): an unmapped model is sent as the bot name; "reject": 404.
	UnknownModels string `json:"unknown_models,omitempty"`

	// Pool: requests per token per minute (default 500; 0 = unlimited),
	// minimum gap between two starts on a token, in-flight cap per token,
	// how long a request may wait for a token (default 10s), how long a
	// failing token is set aside (default 1h), and extra attempts on other
	// tokens (default 2).
	RateLimit     *int            `json:"rate_limit,omitempty"`
	CoolDown      caddy.Duration  `json:"cool_down,omitempty"`
	MaxConcurrent int             `json:"max_concurrent,omitempty"`
	MaxWait       *caddy.Duration `json:"max_wait,omitempty"`
	Quarantine    caddy.Duration  `json:"quarantine,omitempty"`
	Retries       *int            `json:"retries,omitempty"`

	// Access control: requests per client key per minute (0 = none), and
	// passthrough of unknown bearers as Poe keys.
	ClientRateLimit int  `json:"client_rate_limit,omitempty"`
	Passthrough     bool `json:"passthrough,omitempty"`

	// Max silence between two upstream events (default 120s) and the
	// interval of SSE keep-alive comments (default 15s).
	Timeout   caddy.Duration `json:"timeout,omitempty"`
	KeepAlive caddy.Duration `json:"keepalive,omitempty"`

	SimulateRoles       string `json:"simulate_roles,omitempty"`        // off (default), on, auto
	Reasoning           string `json:"reasoning,omitempty"`             // split (default), inline, drop
	ReasoningEffortFlag *bool  `json:"reasoning_effort_flag,omitempty"` // default true
	ModelsFromPoe       bool   `json:"models_from_poe,omitempty"`

	BaseURL        string   `json:"base_url,omitempty"`         // default https://api.poe.com
	UploadURL      string   `json:"upload_url,omitempty"`       // default Poe's upload endpoint
	UploadCache    *int64   `json:"upload_cache,omitempty"`     // bytes; default 64MB
	Proxy          string   `json:"proxy,omitempty"`            // http://, https:// or socks5://
	UpstreamH2C    bool     `json:"upstream_h2c,omitempty"`     // cleartext HTTP/2 to an http:// base_url
	MaxRequestBody int64    `json:"max_request_body,omitempty"` // bytes; default 32MB
	CORS           []string `json:"cors,omitempty"`             // allowed origins; "*" for any

	logger   *zap.Logger
	keys     *keyring
	pool     *tokenpool.Pool
	pass     *tokenpool.Passthrough
	limiter  *tokenpool.KeyLimiter
	relay    *relay.Relay
	client   *poeclient.Client
	models   *modelList
	held     []string // tokenStates keys this instance holds
	metrics  *metrics
	stopOnce sync.Once
}

// Defaults.
const (
	defaultRateLimit   = 500 // Poe's documented limit per key per minute
	defaultMaxWait     = 10 * time.Second
	defaultRetries     = 2
	defaultTimeout     = 120 * time.Second
	defaultKeepAlive   = 15 * time.Second
	defaultMaxBody     = 32 << 20
	defaultUploadCache = 64 << 20
)

// CaddyModule returns the Caddy module information.
func (*Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.poe_openai",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Validate checks the configuration; Caddy calls it after Provision.
func (h *Handler) Validate() error {
	check := func(name, v string, allowed ...string) error {
		if v == "" {
			return nil
		}
		for _, a := range allowed {
			if v == a {
				return nil
			}
		}
		return fmt.Errorf("poe_openai: %s must be one of %s, not %q", name, strings.Join(allowed, ", "), v)
	}
	for _, err := range []error{
		check("unknown_models", h.UnknownModels, "pass", "reject"),
		check("simulate_roles", h.SimulateRoles, "off", "on", "auto"),
		check("reasoning", h.Reasoning, "split", "inline", "drop"),
	} {
		if err != nil {
			return err
		}
	}
	switch {
	case h.RateLimit != nil && *h.RateLimit < 0:
		return fmt.Errorf("poe_openai: rate_limit must not be negative")
	case h.Retries != nil && *h.Retries < 0:
		return fmt.Errorf("poe_openai: retries must not be negative")
	case h.MaxConcurrent < 0 || h.ClientRateLimit < 0 || h.MaxRequestBody < 0:
		return fmt.Errorf("poe_openai: max_concurrent, client_rate_limit and max_request_body must not be negative")
	case h.CoolDown < 0 || h.Timeout < 0 || h.KeepAlive < 0 || h.Quarantine < 0 || h.MaxWait != nil && *h.MaxWait < 0:
		return fmt.Errorf("poe_openai: durations must not be negative")
	}
	for model, bot := range h.Bots {
		if model == "" || bot == "" {
			return fmt.Errorf("poe_openai: bot mapping %q -> %q: both names are required", model, bot)
		}
	}
	for _, u := range []struct{ name, v string }{{"base_url", h.BaseURL}, {"upload_url", h.UploadURL}} {
		if u.v != "" {
			if err := checkHTTPURL(u.v); err != nil {
				return fmt.Errorf("poe_openai: %s: %v", u.name, err)
			}
		}
	}
	if h.Proxy != "" {
		if _, err := proxyURL(h.Proxy); err != nil {
			return fmt.Errorf("poe_openai: proxy: %v", err)
		}
	}
	if h.UpstreamH2C && !strings.HasPrefix(orDefault(h.BaseURL, "https://"), "http://") {
		return fmt.Errorf("poe_openai: upstream_h2c needs an http:// base_url (https:// negotiates HTTP/2 by itself)")
	}
	return nil
}

// Cleanup releases this config's hold on shared token state. Streams
// still running on this instance keep working: the pool and client stay
// usable (only waiters still queued for a token are turned away).
func (h *Handler) Cleanup() error {
	h.stopOnce.Do(func() {
		if h.pool != nil {
			h.pool.Close()
		}
		for _, k := range h.held {
			tokenStates.Delete(k)
		}
		h.held = nil
	})
	return nil
}

var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddyfile.Unmarshaler       = (*Handler)(nil)
)
