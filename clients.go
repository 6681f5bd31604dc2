package poeopenai

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
	"github.com/poe-openai/caddy-poe-openai/internal/core"
	"github.com/poe-openai/caddy-poe-openai/internal/models"
	"github.com/poe-openai/caddy-poe-openai/internal/team"
	"github.com/poe-openai/caddy-poe-openai/internal/tokenpool"
)

// roster is what the handler knows of its named clients at run time.
type roster struct {
	byName   map[string]*team.Client
	limiters map[string]tokenpool.ClientLimiter // clients with their own rate_limit
	// labels are the client label values that may reach metrics and
	// usage: named clients, fingerprints of auth_keys, and the reserved
	// buckets. Nothing a client chooses.
	labels map[string]bool
	// models are the exact names in clients' models lists, lower-cased,
	// as configured: bounded label values like mapped models.
	models map[string]string
}

// clientBlock reads
//
//	client <name> <key>... {
//	    rate_limit <n>
//	    budget     <n> tokens|requests per day|week|month
//	    models     <pattern>...
//	}
func (h *Handler) clientBlock(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) < 2 {
		return d.Errf("client needs a name and at least one key: client <name> <key>...")
	}
	c := &team.Client{Name: args[0], Keys: args[1:]}
	if !team.ValidName(c.Name) {
		return d.Errf("client %q: a name is [A-Za-z0-9_.-]+ and not %s or %s", c.Name, team.Anonymous, team.Passthrough)
	}
	for _, o := range h.Clients {
		if o.Name == c.Name {
			return d.Errf("client %q is defined twice", c.Name)
		}
	}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		if seen[name] && name != "budget" && name != "models" {
			return d.Errf("client %s: duplicate %q", c.Name, name)
		}
		seen[name] = true
		switch name {
		case "rate_limit":
			n, err := count(d)
			if err != nil {
				return err
			}
			c.RateLimit = n
		case "budget":
			b, err := team.ParseBudget(d.RemainingArgs())
			if err != nil {
				return d.Errf("client %s: %v", c.Name, err)
			}
			c.Budgets = append(c.Budgets, b)
		case "models":
			ms, err := appendArgs(d, c.Models)
			if err != nil {
				return err
			}
			for _, m := range ms[len(c.Models):] {
				if !models.ValidPattern(m) {
					return d.Errf("client %s: models: %q is not a valid glob", c.Name, m)
				}
			}
			c.Models = ms
		default:
			return d.Errf("client %s: unrecognized setting %q (rate_limit, budget, models)", c.Name, name)
		}
	}
	if err := c.Validate(); err != nil {
		return d.Err(err.Error())
	}
	h.Clients = append(h.Clients, c)
	return nil
}

// validateClients is Validate's part for clients.
func (h *Handler) validateClients() error {
	names := map[string]bool{}
	for _, c := range h.Clients {
		if c == nil {
			return fmt.Errorf("clients: an entry is null")
		}
		if err := c.Validate(); err != nil {
			return err
		}
		if names[c.Name] {
			return fmt.Errorf("client %q is defined twice", c.Name)
		}
		names[c.Name] = true
		if len(c.Keys) == 0 {
			return fmt.Errorf("client %s has no keys", c.Name)
		}
	}
	return nil
}

// provisionClients resolves the clients' keys into the keyring, labelled
// with the client's name, and takes each client's rate limiter. A key may
// belong to one client only, and not also be one of auth_keys: who sent a
// request must be certain. Errors never quote a key.
func (h *Handler) provisionClients(repl *caddy.Replacer, authKeys []string) error {
	if err := h.validateClients(); err != nil {
		return err
	}
	r := &roster{byName: map[string]*team.Client{}, limiters: map[string]tokenpool.ClientLimiter{},
		labels: map[string]bool{team.Anonymous: true, team.Passthrough: true}, models: map[string]string{}}
	owner := map[string]string{}
	for _, k := range authKeys {
		owner[k] = ""
		r.labels[fingerprint(k)] = true
	}
	limiters := map[int]tokenpool.ClientLimiter{}
	for _, c := range h.Clients {
		keys, err := resolveSecrets(repl, c.Keys, "", "")
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			return fmt.Errorf("client %s has no keys after resolving placeholders: set %s", c.Name, strings.Join(envNames(strings.Join(c.Keys, " ")), " or "))
		}
		for _, k := range keys {
			if o, dup := owner[k]; dup {
				if o == "" {
					return fmt.Errorf("client %s: one of its keys is also in auth_keys; a key names one client only", c.Name)
				}
				return fmt.Errorf("client %s: one of its keys is also client %s's; a key names one client only", c.Name, o)
			}
			owner[k] = c.Name
			h.keys.addNamed(k, c.Name)
		}
		if r.labels[c.Name] {
			// Only a nameless key's fingerprint can already be here.
			return fmt.Errorf("client %s: the name is the fingerprint of one of auth_keys; choose another", c.Name)
		}
		r.labels[c.Name] = true
		r.byName[c.Name] = c
		for _, m := range c.Models {
			if !models.IsPattern(m) {
				r.models[strings.ToLower(m)] = m
			}
		}
		if c.RateLimit > 0 {
			lim, ok := limiters[c.RateLimit]
			if !ok {
				if lim, err = h.rateLimiter(c.RateLimit); err != nil {
					return err
				}
				limiters[c.RateLimit] = lim
			}
			r.limiters[c.Name] = lim
		}
	}
	h.roster = r
	return nil
}

// rateLimiter is a per-client limiter of perMinute requests, for
// client_rate_limit and for clients' own rate_limit: kept across reloads,
// and shared through Redis when `redis` is set.
func (h *Handler) rateLimiter(perMinute int) (tokenpool.ClientLimiter, error) {
	v, err := h.hold(fmt.Sprintf("poe_openai/clients/%d", perMinute), func() caddy.Destructor {
		return tokenpool.NewKeyLimiter(perMinute, tokenpool.SystemClock())
	})
	if err != nil {
		return nil, err
	}
	local := v.(*tokenpool.KeyLimiter)
	if h.redis == nil {
		return local, nil
	}
	return tokenpool.NewSharedLimiter(h.redis, local, perMinute), nil
}

// addNamed adds a named client's key: matching it yields the name
// instead of a fingerprint.
func (k *keyring) addNamed(key, name string) {
	k.hashes = append(k.hashes, sha256.Sum256([]byte(key)))
	k.fps = append(k.fps, name)
}

// limiterFor is the rate limiter of a caller: its client's own, or
// client_rate_limit's.
func (h *Handler) limiterFor(client string) tokenpool.ClientLimiter {
	if h.roster != nil {
		if l, ok := h.roster.limiters[client]; ok {
			return l
		}
	}
	return h.limiter
}

// admission is the core's Allow hook for a named client with allowed
// models or budgets; nil for everyone else. anthropic selects Anthropic's
// status for a model the client may not use (403, permission_error);
// OpenAI's is 404 model_not_found, as for a model that does not exist.
func (h *Handler) admission(who core.Caller, anthropic bool) func(string) *conv.Error {
	if h.roster == nil || who.Passthrough != nil {
		return nil
	}
	c := h.roster.byName[who.Client]
	if c == nil || len(c.Models) == 0 && len(c.Budgets) == 0 {
		return nil
	}
	return func(model string) *conv.Error {
		if !c.Allows(model) {
			if anthropic {
				return &conv.Error{Status: http.StatusForbidden, Type: conv.TypeInvalidRequest,
					Message: "Client " + c.Name + " may not use the model '" + model + "'."}
			}
			return &conv.Error{Status: http.StatusNotFound, Type: conv.TypeInvalidRequest, Param: "model", Code: "model_not_found",
				Message: "The model '" + model + "' does not exist or you do not have access to it."}
		}
		// A store error (Redis down) lets the request through; the store
		// logs the outage once.
		ref, _ := h.accounts.Check(c)
		if ref == nil {
			return nil
		}
		// Retrying cannot help before the window ends: say so to SDKs,
		// which would otherwise retry at once.
		return &conv.Error{Status: http.StatusTooManyRequests, Type: conv.TypeQuota, Code: "insufficient_quota",
			Message: ref.Message(c.Name), RetryAfter: ref.RetryAfter, NoRetry: true}
	}
}

// usageName is the bucket a caller's use is recorded under: its client's
// name, its key's fingerprint for auth_keys, or one reserved bucket for
// the open API and one for passed-through keys (whose fingerprints are
// unbounded: anyone can send a new key).
func usageName(who core.Caller) string {
	switch {
	case who.Passthrough != nil:
		return team.Passthrough
	case who.Client == "":
		return team.Anonymous
	}
	return who.Client
}

// modelLabel bounds a request's model for usage and metrics: known to the
// catalog or named in a client's models list, or models.Other.
func (h *Handler) modelLabel(model string) string {
	l := h.models.Label(model)
	if l == models.Other && h.roster != nil {
		if m, ok := h.roster.models[strings.ToLower(model)]; ok {
			return m
		}
	}
	return l
}

// recordUsage counts a request of the three APIs for its client and
// model: in metrics always, in the usage store when it reached the relay
// (refusals by this server, malformed requests and the like are not use).
// Errors are failures the client saw, in the status or inside a stream
// (a stream that did not finish has no usage).
func (h *Handler) recordUsage(who core.Caller, rep *core.Report) {
	if h.accounts == nil {
		return
	}
	name, model := usageName(who), h.modelLabel(rep.Model)
	if h.roster != nil && !h.roster.labels[name] {
		name = team.Anonymous // cannot happen: authenticate yields only these
	}
	var c team.Counts
	if o := rep.Outcome; o != nil {
		c.Requests = 1
		if rep.Status >= 400 || o.Usage == nil {
			c.Errors = 1
		}
		if o.Usage != nil {
			c.Prompt, c.Completion = int64(o.Usage.PromptTokens), int64(o.Usage.CompletionTokens)
		}
	}
	observeClient(name, model, rep.Status, c)
	if c.Requests > 0 {
		_ = h.accounts.Record(name, model, c) // a store error is logged once per outage by the store
	}
}
