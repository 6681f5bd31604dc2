// Package poeopenai is a Caddy HTTP handler, `poe_openai`, that serves
// the OpenAI Chat Completions and Responses APIs and the Anthropic
// Messages API from Poe's official bot API, with a pool of Poe keys,
// client keys and streaming.
//
// This package is the Caddy glue: configuration, lifecycle, routing, auth
// and logging. The logic lives under internal/: one package per front end
// (frontend/chat, frontend/responses, frontend/messages) parsing into the
// shared conversation model (conv); core (the pipeline and the attempt
// loop), translate (conversation <-> Poe), models (bot choice),
// tokenpool (keys and limits) and poeclient (Poe's protocol).
package poeopenai

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/poe-openai/caddy-poe-openai/internal/core"
	"github.com/poe-openai/caddy-poe-openai/internal/frontend/responses"
	"github.com/poe-openai/caddy-poe-openai/internal/models"
	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
	"github.com/poe-openai/caddy-poe-openai/internal/points"
	"github.com/poe-openai/caddy-poe-openai/internal/team"
	"github.com/poe-openai/caddy-poe-openai/internal/tokenpool"
)

func init() {
	caddy.RegisterModule(new(Handler))
}

// Handler serves the OpenAI Chat Completions and Responses APIs and the
// Anthropic Messages API from Poe's bot API. Its fields are the module's
// configuration; each comment says what the setting means, its unit, its
// default and what zero means. The Caddyfile subdirective of each field
// has the name of its JSON key (bots: bot).
type Handler struct {
	// PoeKeys are the Poe API keys the pool uses. {env.*} and {file.*}
	// placeholders are resolved at provision, so the keys never appear in
	// the adapted config or the admin API; a value may hold several keys
	// separated by commas or spaces. Caddyfile: poe_keys (the old
	// spelling, tokens, still works and logs a deprecation warning).
	PoeKeys []string `json:"poe_keys,omitempty"`
	// PoeKeysFile is a file with more Poe keys, one per line; blank lines
	// and # comments are skipped. Caddyfile: poe_keys_file (old: tokens_file).
	PoeKeysFile string `json:"poe_keys_file,omitempty"`
	// AuthKeys are the keys clients must send, as "Authorization: Bearer
	// <key>" or "x-api-key: <key>". Placeholders as for PoeKeys. None (and
	// no Passthrough): the API is open to anyone who can reach it.
	AuthKeys []string `json:"auth_keys,omitempty"`
	// AuthKeysFile is a file with more client keys, as PoeKeysFile.
	AuthKeysFile string `json:"auth_keys_file,omitempty"`
	// Passthrough uses a request's own key as its Poe key when it is not
	// one of AuthKeys (with no failover and no quarantine). Default off.
	Passthrough bool `json:"passthrough,omitempty"`
	// ClientRateLimit is the most requests per minute for each client key
	// (and each passed-through key). 0 (the default): no limit.
	ClientRateLimit int `json:"client_rate_limit,omitempty"`
	// Clients are named clients: each has a name (shown in logs, metrics
	// and usage instead of a key) and one or more keys, placeholders as
	// for PoeKeys; a key belongs to one client only and not also to
	// AuthKeys. Each may set rate_limit (requests per minute, overriding
	// ClientRateLimit; 0 = ClientRateLimit), budgets ("<n> tokens|requests
	// per day|week|month", calendar periods in UTC; over any of them a
	// request gets a 429 until the period ends) and models (allowed model
	// names, globs allowed; none = all; others get a 404, 403 on the
	// Anthropic API). Usage is counted per client and model per UTC day,
	// in Redis with `redis`, else in Caddy's storage. Default: none.
	// Caddyfile: client <name> <key>... { rate_limit, budget, models },
	// repeatable.
	Clients []*team.Client `json:"clients,omitempty"`

	// Bots maps model names to Poe bot names. A model may be a glob (*, ?,
	// [...]); an exact name wins, then the same name in any case, then the
	// longest matching glob. Caddyfile: bot <model> <poe_bot>, repeatable.
	Bots map[string]string `json:"bots,omitempty"`
	// UnknownModels says what a model that no mapping knows does: "pass"
	// (the default) sends it to Poe as the bot name; "reject" answers 404.
	UnknownModels string `json:"unknown_models,omitempty"`
	// ModelsFromPoe adds Poe's public model list to /models (fetched at
	// start and hourly) and, with UnknownModels reject, accepts its ids.
	// Default off.
	ModelsFromPoe bool `json:"models_from_poe,omitempty"`

	// RateLimit is the most requests one Poe key may start in any 60 s.
	// Default 500 (Poe's documented limit); 0 means unlimited.
	RateLimit *int `json:"rate_limit,omitempty"`
	// CoolDown is the least time between two requests on one key, counted
	// from Poe's first response byte to the previous one. Default 0: none.
	CoolDown caddy.Duration `json:"cool_down,omitempty"`
	// MaxConcurrent caps the requests in flight on one key. 0 (the
	// default): no cap.
	MaxConcurrent int `json:"max_concurrent,omitempty"`
	// MaxWait is how long a request may wait for a free key before a 429.
	// Default 10s; 0 fails at once.
	MaxWait *caddy.Duration `json:"max_wait,omitempty"`
	// Quarantine is how long a key Poe refused (invalid, no points) is set
	// aside. Default 1h.
	Quarantine caddy.Duration `json:"quarantine,omitempty"`
	// Retries is how many more keys a request may try after a key-level
	// failure. Default 2; 0 tries one key only.
	Retries *int `json:"retries,omitempty"`

	// IdleTimeout is the longest Poe may stay silent: before the answer
	// starts, or between two events. Time spent writing to a slow client
	// does not count. Default 120s. Caddyfile: idle_timeout (old: timeout).
	IdleTimeout caddy.Duration `json:"idle_timeout,omitempty"`
	// KeepAlive is the interval of keep-alives while a streaming client
	// waits (SSE comments; Anthropic's ping event; Responses'
	// response.in_progress). Default 15s.
	KeepAlive caddy.Duration `json:"keepalive,omitempty"`
	// SimulateRoles "off" (the default) sends Poe's native roles; "on"
	// flattens the conversation into one user message of ||>Role: blocks,
	// for bots that ignore history; "auto" does so except for a lone user
	// message, a lone system message, or system then user.
	SimulateRoles string `json:"simulate_roles,omitempty"`
	// Reasoning "split" (the default) returns a reasoning bot's thinking
	// apart from its answer (reasoning_content, reasoning items, thinking
	// blocks); "inline" leaves it in the text; "drop" removes it.
	Reasoning string `json:"reasoning,omitempty"`
	// DisableReasoningEffortFlag stops passing a request's reasoning effort
	// to Poe as the " --reasoning_effort <value>" suffix of the last user
	// message. Default false: the flag is passed. Caddyfile:
	// disable_reasoning_effort_flag (old: reasoning_effort_flag off).
	DisableReasoningEffortFlag bool `json:"disable_reasoning_effort_flag,omitempty"`

	// BaseURL is Poe's API; bot calls go to <base_url>/bot/<bot>. Default
	// https://api.poe.com. Placeholders are resolved at provision.
	BaseURL string `json:"base_url,omitempty"`
	// UploadURL is Poe's file upload endpoint. Default
	// https://www.quora.com/poe_api/file_upload_3RD_PARTY_POST.
	UploadURL string `json:"upload_url,omitempty"`
	// UploadCache bounds, in bytes, the total size of the files whose Poe
	// attachment URL is remembered (by content hash, up to 1 h). Default
	// 64MB; 0 disables the cache.
	UploadCache *int64 `json:"upload_cache,omitempty"`
	// Proxy sends the calls to Poe through an http://, https:// or
	// socks5:// proxy. Placeholders are resolved at provision, so proxy
	// credentials can stay out of the config. Default: none.
	Proxy string `json:"proxy,omitempty"`
	// UpstreamH2C speaks cleartext HTTP/2 to an http:// BaseURL (a local
	// relay, the fake Poe). Default off; https:// negotiates HTTP/2 anyway.
	UpstreamH2C bool `json:"upstream_h2c,omitempty"`

	// MaxRequestBody is the largest request body, in bytes; larger gets a
	// 413 in the API's format. Default 32MiB.
	MaxRequestBody int64 `json:"max_request_body,omitempty"`
	// BodyTimeout is the longest a client may take to send its request
	// body, so that a body trickling in cannot hold a connection and a
	// handler for as long as the client likes; past it the client gets a
	// 408. Like Caddy's read_body timeout, but answered in the API's own
	// error format. Default 60s; it counts from the start of the body.
	BodyTimeout caddy.Duration `json:"body_timeout,omitempty"`
	// MaxAnswerSize bounds, in bytes, what is read from Poe for one
	// non-streaming answer, which is collected before it is sent: past it
	// the client gets a 502 and Poe's request is cancelled. Default 16MB.
	MaxAnswerSize int64 `json:"max_answer_size,omitempty"`
	// CORS lists the origins whose browser apps may call the API ("*" for
	// any): preflights are answered and answers carry CORS headers.
	// Default: none, no CORS.
	CORS []string `json:"cors,omitempty"`
	// ResponsesStore bounds the memory that finished Responses API answers
	// (store: true, OpenAI's default) may take, in bytes, for
	// previous_response_id and GET /responses/{id}; each lives 1 h and is
	// readable only by the client key that made it. Default 64MB; 0 keeps
	// nothing. With Redis they live there, and this bounds only what the
	// instance keeps while Redis cannot take them.
	ResponsesStore *int64 `json:"responses_store,omitempty"`

	// Redis shares the key pool's state (windows, cool-downs, leases,
	// cooling, quarantine), client_rate_limit, the upload cache and stored
	// responses between every Caddy instance that names the same Redis:
	// redis://[user:pass@]host:port/db or rediss:// (TLS). {env.*}
	// placeholders are resolved at provision, so a password need not be in
	// the config. Empty: in memory.
	Redis string `json:"redis,omitempty"`
	// RedisTimeout is the deadline of each Redis call (default 50ms); past
	// it the instance falls back to its local limits until Redis answers.
	RedisTimeout caddy.Duration `json:"redis_timeout,omitempty"`

	// PointsCheck is how often each pool key's Poe point balance is read
	// (also at start, and when Poe refuses a request for lack of points;
	// never more than once a minute per key). Default 10m; at least 1m; 0
	// turns the polling off, leaving only the read after a refusal.
	PointsCheck *caddy.Duration `json:"points_check,omitempty"`
	// PointsFloor sets aside, with reason insufficient_points, a key whose
	// balance is at or below it, until a later read finds it above (a
	// subscription renews monthly: the key comes back by itself). Default
	// 0: only an empty key.
	PointsFloor int64 `json:"points_floor,omitempty"`

	logger     *zap.Logger
	deprecated []string // old JSON names this config used
	ctx        caddy.Context
	events     *caddyevents.App
	keys       *keyring
	pool       tokenpool.Keys // *tokenpool.Pool, or *tokenpool.Shared with redis
	pass       *tokenpool.Passthrough
	limiter    tokenpool.ClientLimiter
	redis      *tokenpool.Redis // the shared state, when redis is set
	engine     *core.Engine
	responses  *responses.FrontEnd
	client     *poeclient.Client
	models     *models.Catalog
	held       []string // tokenStates keys this instance holds
	metrics    *metrics
	points     *points.Poller // balances; nil without pool keys
	stopPoints func()         // stops the poller's rounds and reads; nil without a poller
	keyErrs    *keyErrors     // last failure per pool key, for the status page
	accounts   *team.Accounts // usage and budgets (usage.go)
	roster     *roster        // named clients at run time (clients.go)
	ledger     *ledger        // the saved usage, without redis
	stopOnce   sync.Once
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
	defaultStore       = 64 << 20
	defaultBodyTimeout = 60 * time.Second
	defaultMaxAnswer   = 16 << 20
	storeTTL           = time.Hour
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
	for _, c := range []struct{ name, v string }{
		{"unknown_models", h.UnknownModels}, {"simulate_roles", h.SimulateRoles}, {"reasoning", h.Reasoning},
	} {
		if err := checkChoice(c.name, c.v); err != nil {
			return err
		}
	}
	switch {
	case h.RateLimit != nil && *h.RateLimit < 0:
		return fmt.Errorf("rate_limit must not be negative")
	case h.Retries != nil && *h.Retries < 0:
		return fmt.Errorf("retries must not be negative")
	case h.MaxConcurrent < 0 || h.ClientRateLimit < 0 || h.MaxRequestBody < 0 || h.MaxAnswerSize < 0:
		return fmt.Errorf("max_concurrent, client_rate_limit, max_request_body and max_answer_size must not be negative")
	case h.CoolDown < 0 || h.IdleTimeout < 0 || h.KeepAlive < 0 || h.Quarantine < 0 || h.BodyTimeout < 0 || h.MaxWait != nil && *h.MaxWait < 0:
		return fmt.Errorf("durations must not be negative")
	}
	for model, bot := range h.Bots {
		if model == "" || bot == "" {
			return fmt.Errorf("bot mapping %q -> %q: both names are required", model, bot)
		}
		if models.IsPattern(model) && !models.ValidPattern(model) {
			return fmt.Errorf("bot mapping %q: not a valid glob pattern", model)
		}
	}
	if h.ResponsesStore != nil && *h.ResponsesStore < 0 {
		return fmt.Errorf("responses_store must not be negative")
	}
	for _, u := range []struct{ name, v string }{{"base_url", resolveURL(h.BaseURL)}, {"upload_url", resolveURL(h.UploadURL)}} {
		if u.v != "" {
			if err := checkHTTPURL(u.v); err != nil {
				return fmt.Errorf("%s: %v", u.name, err)
			}
		}
	}
	if h.Proxy != "" {
		if _, err := proxyURL(resolveURL(h.Proxy)); err != nil {
			return fmt.Errorf("proxy: %v", err)
		}
	}
	if h.UpstreamH2C && !strings.HasPrefix(orDefault(resolveURL(h.BaseURL), "https://"), "http://") {
		return fmt.Errorf("upstream_h2c needs an http:// base_url (https:// negotiates HTTP/2 by itself)")
	}
	if err := h.validateRedis(); err != nil {
		return err
	}
	if err := h.validatePoints(); err != nil {
		return err
	}
	if err := h.validateClients(); err != nil {
		return err
	}
	return nil
}

// Cleanup releases this config's hold on shared token state. Streams
// still running on this instance keep working: the pool and client stay
// usable (only waiters still queued for a token are turned away).
func (h *Handler) Cleanup() error {
	h.stopOnce.Do(func() {
		unregisterStatus(h)
		if h.stopPoints != nil {
			h.stopPoints()
		}
		h.saveUsage() // a reload keeps the ledger: save what this config counted
		if h.pool != nil {
			h.pool.Close()
		}
		if h.client != nil {
			// Streams still running keep their connections; idle ones
			// would otherwise linger until they expire, a transport's worth
			// per reload.
			h.client.HTTP.CloseIdleConnections()
		}
		for _, k := range h.held {
			_, _ = tokenStates.Delete(k)
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
