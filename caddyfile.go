package poeopenai

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"
	"go.uber.org/zap"

	"github.com/poe-openai/caddy-poe-openai/internal/models"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("poe_openai", parseCaddyfile)
	// A terminal API handler that passes other paths on: before respond,
	// as other such plugins do, so no `order` option is needed.
	httpcaddyfile.RegisterDirectiveOrder("poe_openai", httpcaddyfile.Before, "respond")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(Handler)
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}

// UnmarshalCaddyfile reads the directive. Each subdirective has the name
// of its JSON field (Handler documents them all), in this order:
//
//	poe_openai [<matcher>] {
//	    poe_keys       <poe_api_key>...
//	    poe_keys_file  <path>
//	    auth_keys      <client_key>...
//	    auth_keys_file <path>
//	    passthrough    [on|off]
//	    client_rate_limit <n>
//	    client         <name> <key>... {
//	        rate_limit <n>
//	        budget     <n> tokens|requests per day|week|month
//	        models     <pattern>...
//	    }
//	    bot            <model> <poe_bot>
//	    unknown_models pass|reject
//	    models_from_poe [on|off]
//	    rate_limit     <n>
//	    cool_down      <duration>
//	    max_concurrent <n>
//	    max_wait       <duration>
//	    quarantine     <duration>
//	    retries        <n>
//	    idle_timeout   <duration>
//	    keepalive      <duration>
//	    simulate_roles off|on|auto
//	    reasoning      split|inline|drop
//	    disable_reasoning_effort_flag
//	    base_url       <url>
//	    upload_url     <url>
//	    upload_cache   <size>
//	    proxy          <url>
//	    upstream_h2c   [on|off]
//	    max_request_body <size>
//	    body_timeout   <duration>
//	    max_answer_size <size>
//	    cors           <origin>...
//	    responses_store <size>
//	    redis          <url>
//	    redis_timeout  <duration>
//	    points_check   <duration>
//	    points_floor   <n>
//	}
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		name := d.Val()
		if renamed, ok := deprecatedNames[name]; ok {
			caddy.Log().Named("caddyfile").Warn("poe_openai: subdirective renamed; the old name still works",
				zap.String("old", name), zap.String("new", renamed), zap.String("file", d.File()), zap.Int("line", d.Line()))
		}
		switch name {
		case "poe_keys", "tokens", "auth_keys", "cors", "bot", "client":
			// repeatable
		default:
			if seen[canonical(name)] {
				return d.Errf("duplicate subdirective %q", name)
			}
		}
		seen[canonical(name)] = true
		if err := h.subdirective(d, name); err != nil {
			return err
		}
	}
	return nil
}

// deprecatedNames are the old spellings of renamed subdirectives.
var deprecatedNames = map[string]string{ //nolint:gosec // subdirective names, not credentials
	"tokens":                "poe_keys",
	"tokens_file":           "poe_keys_file",
	"timeout":               "idle_timeout",
	"reasoning_effort_flag": "disable_reasoning_effort_flag",
}

func canonical(name string) string {
	if n, ok := deprecatedNames[name]; ok {
		return n
	}
	return name
}

// choices are the allowed values of the settings that take a word; the
// Caddyfile and Validate (for JSON configs) check against the same table.
var choices = map[string][]string{
	"unknown_models": {"pass", "reject"},
	"simulate_roles": {"off", "on", "auto"},
	"reasoning":      {"split", "inline", "drop"},
}

// subdirective reads one line, in the order of the Handler's fields.
func (h *Handler) subdirective(d *caddyfile.Dispenser, name string) (err error) {
	switch name {
	case "poe_keys", "tokens":
		h.PoeKeys, err = appendArgs(d, h.PoeKeys)
	case "poe_keys_file", "tokens_file":
		h.PoeKeysFile, err = oneArg(d)
	case "auth_keys":
		h.AuthKeys, err = appendArgs(d, h.AuthKeys)
	case "auth_keys_file":
		h.AuthKeysFile, err = oneArg(d)
	case "passthrough":
		h.Passthrough, err = optionalOnOff(d)
	case "client_rate_limit":
		h.ClientRateLimit, err = count(d)
	case "client":
		err = h.clientBlock(d) // clients.go
	case "bot":
		err = h.bot(d)
	case "unknown_models":
		h.UnknownModels, err = choice(d)
	case "models_from_poe":
		h.ModelsFromPoe, err = optionalOnOff(d)
	case "rate_limit":
		h.RateLimit, err = countPtr(d)
	case "cool_down":
		h.CoolDown, err = duration(d)
	case "max_concurrent":
		h.MaxConcurrent, err = count(d)
	case "max_wait":
		var v caddy.Duration
		v, err = duration(d)
		h.MaxWait = &v
	case "quarantine":
		h.Quarantine, err = duration(d)
	case "retries":
		h.Retries, err = countPtr(d)
	case "idle_timeout", "timeout":
		h.IdleTimeout, err = duration(d)
	case "keepalive":
		h.KeepAlive, err = duration(d)
	case "simulate_roles":
		h.SimulateRoles, err = choice(d)
	case "reasoning":
		h.Reasoning, err = choice(d)
	case "disable_reasoning_effort_flag":
		h.DisableReasoningEffortFlag, err = optionalOnOff(d)
	case "reasoning_effort_flag": // the old form: on|off, meaning the opposite
		var on bool
		if !d.NextArg() {
			return d.ArgErr()
		}
		d.Prev()
		on, err = optionalOnOff(d)
		h.DisableReasoningEffortFlag = !on
	case "base_url":
		h.BaseURL, err = urlArg(d, checkHTTPURL)
	case "upload_url":
		h.UploadURL, err = urlArg(d, checkHTTPURL)
	case "upload_cache":
		var n int64
		n, err = size(d)
		h.UploadCache = &n
	case "proxy":
		h.Proxy, err = urlArg(d, func(v string) error { _, err := proxyURL(v); return err })
	case "upstream_h2c":
		h.UpstreamH2C, err = optionalOnOff(d)
	case "max_request_body":
		if h.MaxRequestBody, err = size(d); err == nil && h.MaxRequestBody == 0 {
			err = d.Errf("max_request_body must be more than 0")
		}
	case "body_timeout":
		h.BodyTimeout, err = duration(d)
	case "max_answer_size":
		if h.MaxAnswerSize, err = size(d); err == nil && h.MaxAnswerSize == 0 {
			err = d.Errf("max_answer_size must be more than 0")
		}
	case "cors":
		h.CORS, err = appendArgs(d, h.CORS)
	case "responses_store":
		var n int64
		n, err = size(d)
		h.ResponsesStore = &n
	case "redis", "redis_timeout":
		err = h.redisSubdirective(d, name) // redis.go
	case "points_check":
		var v caddy.Duration
		v, err = duration(d)
		h.PointsCheck = &v
	case "points_floor":
		var n int
		n, err = count(d)
		h.PointsFloor = int64(n)
	default:
		err = d.Errf("unrecognized subdirective %q", name)
	}
	return err
}

func (h *Handler) bot(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) != 2 {
		return d.Errf("bot needs two arguments: <model> <poe_bot>")
	}
	if h.Bots == nil {
		h.Bots = map[string]string{}
	}
	if _, dup := h.Bots[args[0]]; dup {
		return d.Errf("model %q is mapped twice", args[0])
	}
	if models.IsPattern(args[0]) && !models.ValidPattern(args[0]) {
		return d.Errf("bot: %q is not a valid glob pattern", args[0])
	}
	h.Bots[args[0]] = args[1]
	return nil
}

func appendArgs(d *caddyfile.Dispenser, to []string) ([]string, error) {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return to, d.ArgErr()
	}
	return append(to, args...), nil
}

// urlArg reads a URL; one holding a placeholder is resolved and checked
// at provision.
func urlArg(d *caddyfile.Dispenser, check func(string) error) (string, error) {
	name := d.Val()
	v, err := oneArg(d)
	if err == nil && !hasPlaceholder(v) {
		if cerr := check(v); cerr != nil {
			err = d.Errf("%s: %v", name, cerr)
		}
	}
	return v, err
}

func size(d *caddyfile.Dispenser) (int64, error) {
	name := d.Val()
	v, err := oneArg(d)
	if err != nil {
		return 0, err
	}
	n, perr := humanize.ParseBytes(v)
	if perr != nil || n > 1<<40 {
		return 0, d.Errf("%s: %q is not a size (e.g. 32MB)", name, v)
	}
	return int64(n), nil
}

func oneArg(d *caddyfile.Dispenser) (string, error) {
	if !d.NextArg() {
		return "", d.ArgErr()
	}
	v := d.Val()
	if d.NextArg() {
		return "", d.ArgErr()
	}
	return v, nil
}

func choice(d *caddyfile.Dispenser) (string, error) {
	name := d.Val()
	v, err := oneArg(d)
	if err != nil {
		return "", err
	}
	if err := checkChoice(name, v); err != nil {
		return "", d.Err(err.Error())
	}
	return v, nil
}

// checkChoice checks a word setting against choices; "" is the default.
func checkChoice(name, v string) error {
	if v == "" || slices.Contains(choices[name], v) {
		return nil
	}
	return fmt.Errorf("%s: %q is not one of %s", name, v, strings.Join(choices[name], ", "))
}

func count(d *caddyfile.Dispenser) (int, error) {
	name := d.Val()
	v, err := oneArg(d)
	if err != nil {
		return 0, err
	}
	n, perr := strconv.Atoi(v)
	if perr != nil || n < 0 {
		return 0, d.Errf("%s: %q is not a whole number >= 0", name, v)
	}
	return n, nil
}

func countPtr(d *caddyfile.Dispenser) (*int, error) {
	n, err := count(d)
	return &n, err
}

func duration(d *caddyfile.Dispenser) (caddy.Duration, error) {
	name := d.Val()
	v, err := oneArg(d)
	if err != nil {
		return 0, err
	}
	dur, perr := caddy.ParseDuration(v)
	if perr != nil || dur < 0 {
		return 0, d.Errf("%s: %q is not a duration (e.g. 30s, 2m)", name, v)
	}
	return caddy.Duration(dur), nil
}

// optionalOnOff reads a flag: alone it means on, or on|off.
func optionalOnOff(d *caddyfile.Dispenser) (bool, error) {
	if !d.NextArg() {
		return true, nil
	}
	on, err := onOff(d)
	if err == nil && d.NextArg() {
		err = d.ArgErr()
	}
	return on, err
}

func onOff(d *caddyfile.Dispenser) (bool, error) {
	switch d.Val() {
	case "on", "true":
		return true, nil
	case "off", "false":
		return false, nil
	}
	return false, d.Errf("expected on or off, not %q", d.Val())
}
