package poeopenai

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"
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

// UnmarshalCaddyfile reads the directive. The syntax, documented in the
// README:
//
//	poe_openai [<matcher>] {
//	    tokens         <poe_api_key>...
//	    tokens_file    <path>
//	    auth_keys      <client_key>...
//	    auth_keys_file <path>
//	    bot            <model> <poe_bot>
//	    unknown_models pass|reject
//	    rate_limit     <n>
//	    cool_down      <duration>
//	    max_concurrent <n>
//	    max_wait       <duration>
//	    quarantine     <duration>
//	    retries        <n>
//	    client_rate_limit <n>
//	    passthrough    [on|off]
//	    timeout        <duration>
//	    keepalive      <duration>
//	    simulate_roles off|on|auto
//	    reasoning      split|inline|drop
//	    reasoning_effort_flag on|off
//	    models_from_poe on|off
//	    base_url       <url>
//	    upload_url     <url>
//	    upload_cache   <size>
//	    proxy          <url>
//	    upstream_h2c   [on|off]
//	    max_request_body <size>
//	    cors           <origin>...
//	}
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		name := d.Val()
		switch name {
		case "tokens", "auth_keys", "cors", "bot":
			// repeatable
		default:
			if seen[name] {
				return d.Errf("duplicate subdirective %q", name)
			}
		}
		seen[name] = true
		if err := h.subdirective(d, name); err != nil {
			return err
		}
	}
	return nil
}

func (h *Handler) subdirective(d *caddyfile.Dispenser, name string) error {
	switch name {
	case "tokens", "auth_keys", "cors":
		args := d.RemainingArgs()
		if len(args) == 0 {
			return d.ArgErr()
		}
		switch name {
		case "tokens":
			h.Tokens = append(h.Tokens, args...)
		case "auth_keys":
			h.AuthKeys = append(h.AuthKeys, args...)
		default:
			h.CORS = append(h.CORS, args...)
		}
	case "bot":
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
		h.Bots[args[0]] = args[1]
	case "tokens_file", "auth_keys_file", "base_url", "upload_url", "proxy":
		v, err := oneArg(d)
		if err != nil {
			return err
		}
		switch name {
		case "tokens_file":
			h.TokensFile = v
		case "auth_keys_file":
			h.AuthKeysFile = v
		case "base_url", "upload_url":
			if err := checkHTTPURL(v); err != nil {
				return d.Errf("%s: %v", name, err)
			}
			if name == "base_url" {
				h.BaseURL = v
			} else {
				h.UploadURL = v
			}
		case "proxy":
			if _, err := proxyURL(v); err != nil {
				return d.Errf("proxy: %v", err)
			}
			h.Proxy = v
		}
	case "unknown_models", "simulate_roles", "reasoning":
		allowed := map[string][]string{
			"unknown_models": {"pass", "reject"},
			"simulate_roles": {"off", "on", "auto"},
			"reasoning":      {"split", "inline", "drop"},
		}[name]
		v, err := choice(d, allowed...)
		if err != nil {
			return err
		}
		switch name {
		case "unknown_models":
			h.UnknownModels = v
		case "simulate_roles":
			h.SimulateRoles = v
		default:
			h.Reasoning = v
		}
	case "rate_limit", "max_concurrent", "retries", "client_rate_limit":
		n, err := count(d)
		if err != nil {
			return err
		}
		switch name {
		case "rate_limit":
			h.RateLimit = &n
		case "max_concurrent":
			h.MaxConcurrent = n
		case "retries":
			h.Retries = &n
		default:
			h.ClientRateLimit = n
		}
	case "cool_down", "max_wait", "quarantine", "timeout", "keepalive":
		v, err := duration(d)
		if err != nil {
			return err
		}
		switch name {
		case "cool_down":
			h.CoolDown = v
		case "max_wait":
			h.MaxWait = &v
		case "quarantine":
			h.Quarantine = v
		case "timeout":
			h.Timeout = v
		default:
			h.KeepAlive = v
		}
	case "passthrough", "upstream_h2c":
		on := true
		if d.NextArg() {
			var err error
			if on, err = onOff(d); err != nil {
				return err
			}
		}
		if d.NextArg() {
			return d.ArgErr()
		}
		if name == "passthrough" {
			h.Passthrough = on
		} else {
			h.UpstreamH2C = on
		}
	case "reasoning_effort_flag", "models_from_poe":
		if !d.NextArg() {
			return d.ArgErr()
		}
		on, err := onOff(d)
		if err != nil {
			return err
		}
		if d.NextArg() {
			return d.ArgErr()
		}
		if name == "models_from_poe" {
			h.ModelsFromPoe = on
		} else {
			h.ReasoningEffortFlag = &on
		}
	case "max_request_body", "upload_cache":
		v, err := oneArg(d)
		if err != nil {
			return err
		}
		n, perr := humanize.ParseBytes(v)
		if perr != nil || n > 1<<40 {
			return d.Errf("%s: %q is not a size (e.g. 32MB)", name, v)
		}
		if name == "max_request_body" {
			if n == 0 {
				return d.Errf("max_request_body must be more than 0")
			}
			h.MaxRequestBody = int64(n)
		} else {
			size := int64(n)
			h.UploadCache = &size
		}
	default:
		return d.Errf("unrecognized subdirective %q", name)
	}
	return nil
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

func choice(d *caddyfile.Dispenser, allowed ...string) (string, error) {
	name := d.Val()
	v, err := oneArg(d)
	if err != nil {
		return "", err
	}
	for _, a := range allowed {
		if v == a {
			return v, nil
		}
	}
	return "", d.Errf("%s: %q is not one of %v", name, v, allowed)
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

func onOff(d *caddyfile.Dispenser) (bool, error) {
	switch d.Val() {
	case "on", "true":
		return true, nil
	case "off", "false":
		return false, nil
	}
	return false, d.Errf("expected on or off, not %q", d.Val())
}
