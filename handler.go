package poeopenai

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/poe-openai/caddy-poe-openai/openai"
	"github.com/poe-openai/caddy-poe-openai/relay"
	"github.com/poe-openai/caddy-poe-openai/translate"
)

// ServeHTTP answers paths ending in /chat/completions, /models and
// /models/<id>, wherever they are mounted; anything else goes to next.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	route, modelID := routeOf(r.URL.Path)
	if route == routeNone {
		return next.ServeHTTP(w, r)
	}
	if h.cors(w, r) {
		return nil // preflight answered
	}
	switch {
	case route == routeChat && r.Method != http.MethodPost:
		methodNotAllowed(w, "POST, OPTIONS")
	case route != routeChat && r.Method != http.MethodGet && r.Method != http.MethodHead:
		methodNotAllowed(w, "GET, HEAD, OPTIONS")
	case route == routeChat:
		h.chat(w, r)
	default:
		h.serveModels(w, r, route == routeModel, modelID)
	}
	return nil
}

type route int

const (
	routeNone route = iota
	routeChat
	routeModels
	routeModel
)

func routeOf(path string) (route, string) {
	switch {
	case strings.HasSuffix(path, "/chat/completions"):
		return routeChat, ""
	case strings.HasSuffix(path, "/models"):
		return routeModels, ""
	}
	if i := strings.Index(path, "/models/"); i >= 0 && len(path) > i+len("/models/") {
		return routeModel, path[i+len("/models/"):]
	}
	return routeNone, ""
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	openai.WriteError(w, &openai.Error{Status: http.StatusMethodNotAllowed, Type: openai.TypeInvalidRequest,
		Code: "method_not_allowed", Message: "This endpoint allows only " + allow + "."})
}

var errUnauthorized = &openai.Error{Status: http.StatusUnauthorized, Type: openai.TypeInvalidRequest, Code: "invalid_api_key",
	Message: "Incorrect API key provided. Send your key as 'Authorization: Bearer <key>'."}

// caller is who is asking: which client key, and which tokens serve it.
type caller struct {
	keyFP       string // fingerprint of the client key ("" when open)
	passthrough string // the client's own Poe key, when passed through
}

// authenticate applies auth_keys and passthrough. Every failure gives the
// same body, after the same work.
func (h *Handler) authenticate(r *http.Request) (caller, bool) {
	key := bearer(r.Header.Get("Authorization"))
	i := h.keys.match(key)
	switch {
	case i >= 0 && key != "":
		return caller{keyFP: h.keys.fps[i]}, true
	case h.Passthrough && key != "":
		return caller{keyFP: fingerprint(key), passthrough: key}, true
	case h.keys.empty() && !h.Passthrough:
		return caller{}, true
	}
	return caller{}, false
}

func (h *Handler) chat(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	entry := logEntry{stream: false}
	defer func() { h.logRequest(r, &entry, start) }()
	fail := func(e *openai.Error) {
		entry.status = e.Status
		entry.err = e.Message
		openai.WriteError(w, e)
	}

	who, ok := h.authenticate(r)
	entry.client = who.keyFP
	if !ok {
		fail(errUnauthorized)
		return
	}
	if h.limiter != nil && who.keyFP != "" {
		if ok, wait := h.limiter.Allow(who.keyFP); !ok {
			fail(&openai.Error{Status: http.StatusTooManyRequests, Type: openai.TypeRateLimit, Code: "rate_limit_exceeded",
				Message: "This client key is over its request rate limit.", RetryAfter: wait})
			return
		}
	}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody()))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			fail(&openai.Error{Status: http.StatusRequestEntityTooLarge, Type: openai.TypeInvalidRequest, Code: "request_too_large",
				Message: "The request body is larger than this server's max_request_body."})
			return
		}
		entry.status = relay.StatusClientGone
		return
	}
	req, oe := openai.ParseChatRequest(body)
	if oe != nil {
		fail(oe)
		return
	}
	entry.model, entry.stream = req.Model, req.Stream
	bot, oe := h.botFor(r.Context(), req.Model)
	if oe != nil {
		fail(oe)
		return
	}
	entry.bot = bot
	plan, oe := translate.ToPoe(req, translate.RequestOptions{
		SimulateRoles:       orDefault(h.SimulateRoles, translate.SimulateOff),
		ReasoningEffortFlag: h.ReasoningEffortFlag == nil || *h.ReasoningEffortFlag,
		MaxPartBytes:        h.maxBody(),
	})
	if oe != nil {
		fail(oe)
		return
	}
	req.Messages = nil // translated: the stream need not hold the conversation twice
	call := relay.Call{Chat: req, Plan: plan, Bot: bot, Tokens: h.pool, Failover: true}
	if who.passthrough != "" {
		call.Tokens, call.Failover = passthroughTokens{h.pass, who.passthrough}, false
	}
	out := h.relay.Serve(w, r, call)
	entry.outcome = &out
	entry.status = out.Status
}

func (h *Handler) maxBody() int64 {
	if h.MaxRequestBody > 0 {
		return h.MaxRequestBody
	}
	return defaultMaxBody
}

func (h *Handler) serveModels(w http.ResponseWriter, r *http.Request, one bool, id string) {
	if _, ok := h.authenticate(r); !ok {
		openai.WriteError(w, errUnauthorized)
		return
	}
	var v any = h.models.list(r.Context())
	if one {
		m, ok := h.models.find(r.Context(), id)
		if !ok {
			openai.WriteError(w, &openai.Error{Status: http.StatusNotFound, Type: openai.TypeInvalidRequest, Param: "model",
				Code: "model_not_found", Message: "The model '" + id + "' does not exist."})
			return
		}
		v = m
	}
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(append(b, '\n'))
	}
}

// logEntry is the one log line every chat request gets.
type logEntry struct {
	model, bot, client string
	stream             bool
	status             int
	err                string
	outcome            *relay.Outcome
}

func (h *Handler) logRequest(r *http.Request, e *logEntry, start time.Time) {
	level := zapcore.InfoLevel
	if e.status >= 500 {
		level = zapcore.ErrorLevel
	}
	ce := h.logger.Check(level, "poe_openai request")
	if ce == nil && h.metrics == nil {
		return
	}
	d := time.Since(start)
	fields := []zap.Field{
		zap.String("model", e.model), zap.String("bot", e.bot), zap.Int("status", e.status),
		zap.Bool("stream", e.stream), zap.Duration("duration", d),
	}
	if e.client != "" {
		fields = append(fields, zap.String("client_key", e.client))
	}
	if o := e.outcome; o != nil {
		fields = append(fields, zap.String("token", o.Token), zap.Int("attempts", o.Attempts),
			zap.Duration("first_byte", o.FirstByte), zap.String("finish", o.Finish))
		if o.Usage != nil {
			fields = append(fields, zap.Int("prompt_tokens", o.Usage.PromptTokens), zap.Int("completion_tokens", o.Usage.CompletionTokens))
		}
		if o.Err != nil {
			fields = append(fields, zap.String("error", o.Err.Error()))
		}
		for _, ev := range o.Tokens {
			h.logger.Warn("poe_openai: Poe key set aside", zap.String("token", ev.Token), zap.String("state", ev.State),
				zap.String("reason", ev.Reason), zap.Duration("for", ev.For))
		}
		if o.NoDone {
			h.logger.Warn("poe_openai: Poe closed the stream without a done event; the answer may be incomplete",
				zap.String("bot", e.bot), zap.String("token", o.Token))
		}
		h.metrics.observe(e.status, e.stream, o)
	} else {
		if e.err != "" {
			fields = append(fields, zap.String("error", e.err))
		}
		h.metrics.observe(e.status, e.stream, nil)
	}
	if ce != nil {
		ce.Write(fields...)
	}
}
