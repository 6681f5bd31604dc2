package poeopenai

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
	"go.uber.org/zap"

	"github.com/poe-openai/caddy-poe-openai/internal/core"
	"github.com/poe-openai/caddy-poe-openai/internal/frontend/responses"
	"github.com/poe-openai/caddy-poe-openai/internal/models"
	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
	"github.com/poe-openai/caddy-poe-openai/internal/tokenizer"
	"github.com/poe-openai/caddy-poe-openai/internal/tokenpool"
	"github.com/poe-openai/caddy-poe-openai/internal/translate"
)

// Provision resolves secrets, builds the pool and the Poe client.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	h.ctx = ctx
	for _, old := range h.deprecated {
		h.logger.Warn("config field renamed; the old name still works", zap.String("old", old), zap.String("new", deprecatedNames[old]))
	}
	repl := caddy.NewReplacer()

	tokens, err := h.resolveTokens(repl)
	if err != nil {
		return err
	}
	authKeys, err := resolveSecrets(repl, h.AuthKeys, h.AuthKeysFile, "auth_keys_file")
	if err != nil {
		return err
	}
	if len(tokens) == 0 && !h.Passthrough {
		return fmt.Errorf("no Poe API keys: %s", emptyTokensHint(h.PoeKeys, h.PoeKeysFile))
	}
	h.keys = newKeyring(authKeys)
	switch {
	case h.keys.empty() && len(h.Clients) == 0 && !h.Passthrough:
		h.logger.Warn("no auth_keys configured: anyone who can reach this site can use its Poe keys")
	case len(authKeys) == 0 && len(h.Clients) == 0 && len(tokens) > 0:
		h.logger.Warn("passthrough without auth_keys: every client uses its own Poe key and the configured tokens are never used")
	}

	limits := h.limits()
	held := make([]*tokenpool.Token, 0, len(tokens))
	for _, secret := range tokens {
		v, err := h.hold(tokenStateKey(secret), func() caddy.Destructor { return tokenpool.NewToken(secret) })
		if err != nil {
			return err
		}
		held = append(held, v.(*tokenpool.Token))
	}
	if h.pool, err = h.newKeys(repl, held, limits); err != nil { // redis.go
		return err
	}
	// Passthrough keys and client keys keep their windows across reloads
	// too, as long as their limits stay the same.
	if h.Passthrough {
		v, err := h.hold(fmt.Sprintf("poe_openai/passthrough/%+v", limits), func() caddy.Destructor {
			return tokenpool.NewPassthrough(limits, tokenpool.SystemClock(), tokenpool.DefaultMaxEntries)
		})
		if err != nil {
			return err
		}
		h.pass = v.(*tokenpool.Passthrough)
	}
	if h.ClientRateLimit > 0 {
		if h.limiter, err = h.rateLimiter(h.ClientRateLimit); err != nil { // clients.go
			return err
		}
	}

	if err := h.provisionClients(repl, authKeys); err != nil { // clients.go
		return err
	}
	if err := h.provisionUsage(ctx, repl); err != nil { // usage.go
		return err
	}

	transport, err := h.transport()
	if err != nil {
		return err
	}
	h.client = &poeclient.Client{
		HTTP:        &http.Client{Transport: transport},
		BaseURL:     orDefault(resolveURL(h.BaseURL), poeclient.DefaultBaseURL),
		UploadURL:   orDefault(resolveURL(h.UploadURL), poeclient.DefaultUploadURL),
		UserAgent:   "caddy-poe-openai",
		IdleTimeout: durationOr(h.IdleTimeout, defaultTimeout),
	}
	uploadBudget := int64(defaultUploadCache)
	if h.UploadCache != nil {
		uploadBudget = *h.UploadCache
	}
	h.models = models.New(h.Bots, h.UnknownModels == "reject")
	if h.ModelsFromPoe {
		h.models.StartRefresh(ctx, h.client, h.logger)
	}
	h.engine = &core.Engine{
		Relay: &core.Relay{
			Client:     h.client,
			Uploads:    core.NewUploadCache(uploadBudget),
			Retries:    intOr(h.Retries, defaultRetries),
			KeepAlive:  durationOr(h.KeepAlive, defaultKeepAlive),
			Reasoning:  orDefault(h.Reasoning, translate.ReasoningSplit),
			Quarantine: limits.Quarantine,
			MaxAnswer:  orDefault64(h.MaxAnswerSize, defaultMaxAnswer),
		},
		BotFor: h.models.BotFor,
		Translate: translate.RequestOptions{
			SimulateRoles:       orDefault(h.SimulateRoles, translate.SimulateOff),
			ReasoningEffortFlag: !h.DisableReasoningEffortFlag,
			MaxPartBytes:        h.maxBody(),
		},
		MaxBody:     h.maxBody(),
		BodyTimeout: durationOr(h.BodyTimeout, defaultBodyTimeout),
	}
	storeBytes := int64(defaultStore)
	if h.ResponsesStore != nil {
		storeBytes = *h.ResponsesStore
	}
	h.responses = responses.New(responses.Options{StoreBytes: storeBytes, StoreTTL: storeTTL, Remote: h.responsesRemote()}) // redis.go
	// Key state changes are events only for configs that subscribe to
	// events; others need no events app.
	if events, err := ctx.AppIfConfigured("events"); err == nil {
		h.events = events.(*caddyevents.App)
	}
	h.metrics = registerMetrics(ctx.GetMetricsRegistry(), h.logger)
	if err := h.startPoints(held, limits.Quarantine); err != nil { // points.go
		return err
	}
	register(ctx.GetMetricsRegistry(), h.logger, clientRequests, clientTokens)
	h.engine.CountAlways = true // usage is recorded for every request
	if h.redis != nil {
		register(ctx.GetMetricsRegistry(), h.logger, sharedUp)
		h.engine.Uploads.Remote = tokenpool.NewSharedCache(h.redis, "upload")
	}
	// Load the tokenizer's table now, not on the first request.
	go tokenizer.Preload()

	registerStatus(h, fingerprints(held)) // admin.go
	h.logger.Info("poe_openai ready",
		zap.Int("tokens", len(tokens)), zap.Strings("token_fingerprints", fingerprints(held)),
		zap.Int("auth_keys", len(authKeys)), zap.Bool("passthrough", h.Passthrough),
		zap.Int("bots", len(h.Bots)), zap.Int("rate_limit", limits.RateLimit))
	return nil
}

// hold takes a reference on shared state that outlives a config reload;
// Cleanup drops it.
func (h *Handler) hold(key string, create func() caddy.Destructor) (any, error) {
	v, _, err := tokenStates.LoadOrNew(key, func() (caddy.Destructor, error) { return create(), nil })
	if err == nil {
		h.held = append(h.held, key)
	}
	return v, err
}

func (h *Handler) limits() tokenpool.Limits {
	maxWait := defaultMaxWait
	if h.MaxWait != nil {
		maxWait = time.Duration(*h.MaxWait)
	}
	return tokenpool.Limits{
		RateLimit:     intOr(h.RateLimit, defaultRateLimit),
		CoolDown:      time.Duration(h.CoolDown),
		MaxConcurrent: h.MaxConcurrent,
		MaxWait:       maxWait,
		Quarantine:    durationOr(h.Quarantine, tokenpool.DefaultQuarantine),
	}
}

// transport is tuned for many long streams to one host: HTTP/2 where the
// server offers it (api.poe.com does, over TLS), so that streams share
// connections, and a small write buffer, since each HTTP/1.1 connection
// keeps its own for as long as it lives.
func (h *Handler) transport() (*http.Transport, error) {
	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		WriteBufferSize:       1 << 10,
	}
	if h.UpstreamH2C {
		// Prior-knowledge HTTP/2 for http:// URLs (HTTP/1 off is what
		// selects it); https:// still negotiates by ALPN.
		var p http.Protocols
		p.SetHTTP2(true)
		p.SetUnencryptedHTTP2(true)
		t.Protocols = &p
	}
	if h.Proxy != "" {
		u, err := proxyURL(resolveURL(h.Proxy))
		if err != nil {
			return nil, fmt.Errorf("proxy: %v", err)
		}
		t.Proxy = http.ProxyURL(u) // net/http speaks http, https and socks5 proxies
	}
	return t, nil
}

func proxyURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%q is not a proxy URL", raw)
	}
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
		return u, nil
	}
	return nil, fmt.Errorf("%q: the scheme must be http, https or socks5", raw)
}

func checkHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", raw)
	}
	return nil
}

// resolveURL expands {env.*} and {file.*} placeholders in a URL setting,
// so that credentials in it (a proxy's user and password) can stay out of
// the config: the resolved value lives only in the running handler.
func resolveURL(raw string) string {
	if !hasPlaceholder(raw) {
		return raw
	}
	return caddy.NewReplacer().ReplaceKnown(raw, "")
}

func hasPlaceholder(s string) bool { return strings.Contains(s, "{") }

var envPlaceholder = regexp.MustCompile(`\{env\.([^}]+)\}`)

// emptyTokensHint names the environment variables that resolved to
// nothing, which is by far the most common cause.
func emptyTokensHint(raw []string, file string) string {
	var vars []string
	for _, t := range raw {
		for _, m := range envPlaceholder.FindAllStringSubmatch(t, -1) {
			vars = append(vars, m[1])
		}
	}
	switch {
	case len(vars) > 0:
		return fmt.Sprintf("`poe_keys` is empty after resolving placeholders: set the environment variable %s to your Poe API key (from https://poe.com/api_key)",
			strings.Join(vars, " or "))
	case file != "":
		return fmt.Sprintf("poe_keys_file %s holds no keys", file)
	}
	return "add `poe_keys <poe_api_key>` (or poe_keys_file, or passthrough)"
}

func (h *Handler) maxBody() int64 {
	if h.MaxRequestBody > 0 {
		return h.MaxRequestBody
	}
	return defaultMaxBody
}

func orDefault64(v, d int64) int64 {
	if v == 0 {
		return d
	}
	return v
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

func intOr(v *int, d int) int {
	if v == nil {
		return d
	}
	return *v
}

func durationOr(v caddy.Duration, d time.Duration) time.Duration {
	if v == 0 {
		return d
	}
	return time.Duration(v)
}

func fingerprints(tokens []*tokenpool.Token) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		out[i] = t.Fingerprint()
	}
	return out
}
