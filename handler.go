package poeopenai

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
	"github.com/poe-openai/caddy-poe-openai/internal/core"
	"github.com/poe-openai/caddy-poe-openai/internal/frontend/chat"
	"github.com/poe-openai/caddy-poe-openai/internal/frontend/messages"
	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
)

// ServeHTTP answers the paths of the three APIs wherever they are
// mounted: .../chat/completions, .../responses[/{id}], .../messages,
// .../messages/count_tokens and .../models[/{id}]. Other paths under a
// /v1/ prefix get the API's own 404; anything else goes to next.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	rt, id := routeOf(r.URL.Path)
	if rt == routeNone {
		return next.ServeHTTP(w, r)
	}
	if h.cors(w, r) {
		return nil // preflight answered
	}
	fe := h.errorFrontEnd(rt, r)
	allow := rt.methods()
	if len(h.CORS) == 0 {
		allow = strings.TrimSuffix(allow, ", OPTIONS") // no preflight is answered
	}
	if !allowed(r.Method, allow) {
		w.Header().Set("Allow", allow)
		fe.WriteError(w, &conv.Error{Status: http.StatusMethodNotAllowed, Type: conv.TypeInvalidRequest,
			Code: "method_not_allowed", Message: "This endpoint allows only " + allow + "."})
		return nil
	}
	if rt == routeUnknown {
		fe.WriteError(w, &conv.Error{Status: http.StatusNotFound, Type: conv.TypeInvalidRequest, Code: "unknown_url",
			Message: "Invalid URL (" + r.Method + " " + r.URL.Path + ")"})
		return nil
	}
	who, ok := h.authenticate(r)
	if repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); repl != nil {
		who.RequestID, _ = repl.GetString("http.request.uuid")
	}
	if !ok {
		fe.WriteError(w, errUnauthorized)
		return nil
	}
	switch rt {
	case routeModels, routeModel:
		h.serveModels(w, r, rt == routeModel, id)
		return nil
	case routeStored:
		h.responses.ServeStored(w, r, who.Client, id)
		return nil
	}
	start := time.Now()
	var rep core.Report
	if e := h.clientLimit(who); e != nil {
		fe.WriteError(w, e)
		rep = core.Report{Status: e.Status, Err: e.Message}
	} else {
		who.Allow = h.admission(who, rt == routeMessages) // clients.go
		switch rt {
		case routeCount:
			rep = h.engine.ServeCount(w, r, messages.FrontEnd{})
		case routeChat:
			rep = h.engine.Serve(w, r, chat.FrontEnd{}, who, h.pool)
		case routeResponses:
			rep = h.engine.Serve(w, r, h.responses, who, h.pool)
		case routeMessages:
			rep = h.engine.Serve(w, r, messages.FrontEnd{}, who, h.pool)
		}
	}
	h.logRequest(r, &rep, who, start)
	if rt != routeCount {
		h.recordUsage(who, &rep) // clients.go
	}
	return nil
}

type route int

const (
	routeNone route = iota
	routeUnknown
	routeChat
	routeResponses
	routeStored // /responses/{id}
	routeMessages
	routeCount
	routeModels
	routeModel
)

func routeOf(path string) (route, string) {
	switch {
	case strings.HasSuffix(path, "/chat/completions"):
		return routeChat, ""
	case strings.HasSuffix(path, "/responses"):
		return routeResponses, ""
	case strings.HasSuffix(path, "/messages"):
		return routeMessages, ""
	case strings.HasSuffix(path, "/messages/count_tokens"):
		return routeCount, ""
	case strings.HasSuffix(path, "/models"):
		return routeModels, ""
	}
	for _, p := range []struct {
		seg string
		rt  route
	}{{"/models/", routeModel}, {"/responses/", routeStored}} {
		if i := strings.LastIndex(path, p.seg); i >= 0 && len(path) > i+len(p.seg) && !strings.Contains(path[i+len(p.seg):], "/") {
			return p.rt, path[i+len(p.seg):]
		}
	}
	if strings.Contains(path+"/", "/v1/") {
		return routeUnknown, ""
	}
	return routeNone, ""
}

func (rt route) methods() string {
	switch rt {
	case routeModels, routeModel:
		return "GET, HEAD, OPTIONS"
	case routeStored:
		return "GET, DELETE, OPTIONS"
	case routeUnknown:
		return ""
	}
	return "POST, OPTIONS"
}

func allowed(method, allow string) bool {
	return allow == "" || method != http.MethodOptions && strings.Contains(allow, method)
}

// errorFrontEnd is the front end whose error shape a request gets:
// Anthropic's for /messages and for Anthropic SDKs (which send
// anthropic-version), OpenAI's otherwise.
func (h *Handler) errorFrontEnd(rt route, r *http.Request) conv.FrontEnd {
	if rt == routeMessages || rt == routeCount || r.Header.Get("Anthropic-Version") != "" {
		return messages.FrontEnd{}
	}
	return chat.FrontEnd{}
}

var errUnauthorized = &conv.Error{Status: http.StatusUnauthorized, Type: conv.TypeInvalidRequest, Code: "invalid_api_key",
	Message: "Incorrect API key provided. Send your key as 'Authorization: Bearer <key>' or 'x-api-key: <key>'."}

// authenticate applies auth_keys and passthrough to the key a client
// sends as a bearer token or as x-api-key (Anthropic's header). Every
// failure gives the same body, after the same work.
func (h *Handler) authenticate(r *http.Request) (core.Caller, bool) {
	key := bearer(r.Header.Get("Authorization"))
	if key == "" {
		key = strings.TrimSpace(r.Header.Get("X-Api-Key"))
	}
	i := h.keys.match(key)
	switch {
	case i >= 0 && key != "":
		return core.Caller{Client: h.keys.fps[i]}, true
	case h.Passthrough && key != "":
		return core.Caller{Client: fingerprint(key), Passthrough: passthroughTokens{h.pass, key}}, true
	case h.keys.empty() && !h.Passthrough:
		return core.Caller{}, true
	}
	return core.Caller{}, false
}

// clientLimit applies client_rate_limit, or a named client's rate_limit.
func (h *Handler) clientLimit(who core.Caller) *conv.Error {
	limiter := h.limiterFor(who.Client)
	if limiter == nil || who.Client == "" {
		return nil
	}
	if ok, wait := limiter.Allow(who.Client); !ok {
		return &conv.Error{Status: http.StatusTooManyRequests, Type: conv.TypeRateLimit, Code: "rate_limit_exceeded",
			Message: "This client key is over its request rate limit.", RetryAfter: wait}
	}
	return nil
}

func (h *Handler) serveModels(w http.ResponseWriter, r *http.Request, one bool, id string) {
	write := chat.WriteModels
	if r.Header.Get("Anthropic-Version") != "" {
		write = messages.WriteModels
	}
	list := h.models.List(r.Context())
	if one {
		m, ok := h.models.Find(r.Context(), id)
		if !ok {
			h.errorFrontEnd(routeModel, r).WriteError(w, &conv.Error{Status: http.StatusNotFound, Type: conv.TypeInvalidRequest,
				Param: "model", Code: "model_not_found", Message: "The model '" + id + "' does not exist."})
			return
		}
		list = append(list[:0:0], m)
	}
	write(w, r, list, one)
}

// logRequest hands what this request did to Caddy: fields in Caddy's
// access log (when the site has one), placeholders for log formats,
// headers and routes ({http.poe_openai.bot}, .model, .key, .client,
// .attempts, .prompt_tokens, .completion_tokens, .finish), events for keys
// set aside, and metrics.
func (h *Handler) logRequest(r *http.Request, rep *core.Report, who core.Caller, start time.Time) {
	fields := []zap.Field{zap.String("poe_model", rep.Model), zap.String("poe_bot", rep.Bot), zap.Bool("poe_stream", rep.Stream)}
	vars := map[string]any{"model": rep.Model, "bot": rep.Bot, "client": who.Client}
	if who.Client != "" {
		fields = append(fields, zap.String("poe_client", who.Client))
	}
	o := rep.Outcome
	if o != nil {
		fields = append(fields, zap.String("poe_key", o.Token), zap.Int("poe_attempts", o.Attempts),
			zap.Duration("poe_first_byte", o.FirstByte), zap.String("poe_finish", o.Finish))
		vars["key"], vars["attempts"], vars["finish"] = o.Token, o.Attempts, o.Finish
		if o.Usage != nil {
			fields = append(fields, zap.Int("poe_prompt_tokens", o.Usage.PromptTokens), zap.Int("poe_completion_tokens", o.Usage.CompletionTokens))
			vars["prompt_tokens"], vars["completion_tokens"] = o.Usage.PromptTokens, o.Usage.CompletionTokens
		}
		if o.Err != nil {
			// The access log gets what the client saw; the upstream's
			// detail (bodies, addresses) only the debug log.
			msg := o.Err.Error()
			var pe *poeclient.Error
			if errors.As(o.Err, &pe) {
				msg = pe.Message
			}
			fields = append(fields, zap.String("poe_error", msg))
			h.logger.Debug("upstream failure", zap.String("request_id", who.RequestID), zap.Error(o.Err))
		}
		for _, ev := range o.Tokens {
			h.logger.Warn("Poe key set aside", zap.String("token", ev.Token), zap.String("state", ev.State),
				zap.String("reason", ev.Reason), zap.Duration("for", ev.For))
			if h.events != nil {
				h.events.Emit(h.ctx, "poe_key_"+ev.State, map[string]any{"key": ev.Token, "reason": ev.Reason, "for": ev.For.String()})
			}
		}
		if o.NoDone {
			h.logger.Warn("Poe closed the stream without a done event; the answer may be incomplete",
				zap.String("bot", rep.Bot), zap.String("token", o.Token))
		}
	} else if rep.Err != "" {
		fields = append(fields, zap.String("poe_error", rep.Err))
	}
	if extra, ok := r.Context().Value(caddyhttp.ExtraLogFieldsCtxKey).(*caddyhttp.ExtraLogFields); ok {
		for _, f := range fields {
			extra.Add(f)
		}
	}
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		for k, v := range vars {
			repl.Set("http.poe_openai."+k, v)
		}
	}
	if h.logger.Core().Enabled(zapcore.DebugLevel) {
		h.logger.Debug("request", append(fields, zap.Int("status", rep.Status), zap.Duration("duration", time.Since(start)))...)
	}
	h.keyErrs.note(rep) // admin.go
	h.metrics.observe(rep.Status, rep.Stream, o)
}
