package core

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
	"github.com/poe-openai/caddy-poe-openai/internal/translate"
)

// Engine runs a request from its body to its answer, for any front end:
// parse, choose the bot, translate to a Poe query, relay.
type Engine struct {
	*Relay
	// BotFor maps a request's model to a Poe bot, or says why not.
	BotFor func(ctx context.Context, model string) (string, *conv.Error)
	// Translate configures the query built for Poe.
	Translate translate.RequestOptions
	// MaxBody bounds a request body, in bytes.
	MaxBody int64
	// BodyTimeout bounds the time to read a request body; 0 = none.
	BodyTimeout time.Duration
}

// Caller is who asks, as authenticated by the Caddy glue.
type Caller struct {
	Client      string // client name or key fingerprint; "" when the API is open
	Passthrough Tokens // the client's own Poe key, when passed through; nil = the pool
	// RequestID names the request in upstream failures that clients see,
	// so that an operator can find its detail in the log.
	RequestID string
	// Allow, when set, admits or refuses the request once its model is
	// known and before Poe is called: the host's per-client rules (allowed
	// models, budgets), which the core need not know.
	Allow func(model string) *conv.Error
}

// Report describes a request for the access log and metrics.
type Report struct {
	Model, Bot string
	Stream     bool
	Status     int
	Err        string   // why it failed before the relay ran
	Outcome    *Outcome // nil when it never reached the relay
}

// Serve answers one request on w in fe's format.
func (e *Engine) Serve(w http.ResponseWriter, r *http.Request, fe conv.FrontEnd, who Caller, pool Tokens) Report {
	start := time.Now()
	var rep Report
	fail := func(ce *conv.Error) Report { return failWith(w, fe, &rep, ce) }
	body, ok := e.body(w, r, fe, &rep)
	if !ok {
		return rep
	}
	parsed, ce := fe.Parse(body, who.Client)
	if ce != nil {
		return fail(ce)
	}
	req := parsed.Request()
	rep.Model, rep.Stream = req.Model, req.Stream
	if who.Allow != nil {
		if ce := who.Allow(req.Model); ce != nil {
			return fail(ce)
		}
	}
	bot, ce := e.BotFor(r.Context(), req.Model)
	if ce != nil {
		return fail(ce)
	}
	rep.Bot = bot
	plan, ce := translate.ToPoe(req, e.Translate)
	if ce != nil {
		return fail(ce)
	}
	req.Messages = nil // translated: the stream need not hold the conversation twice
	call := Call{Req: req, Plan: plan, Bot: bot, Tokens: pool, Failover: true, RequestID: who.RequestID}
	if who.Passthrough != nil {
		call.Tokens, call.Failover = who.Passthrough, false
	}
	call.Out = parsed.Output(w, conv.OutputOptions{KeepAlive: e.KeepAlive, Start: start})
	out := e.Relay.Serve(r.Context(), call)
	rep.Outcome, rep.Status = &out, out.Status
	return rep
}

// failWith answers ce in fe's format and records it in rep.
func failWith(w http.ResponseWriter, fe conv.FrontEnd, rep *Report, ce *conv.Error) Report {
	rep.Status, rep.Err = ce.Status, ce.Message
	fe.WriteError(w, ce)
	return *rep
}

// body reads the request body; when it cannot (too large, too slow, the
// client gone), rep says what happened and ok is false.
func (e *Engine) body(w http.ResponseWriter, r *http.Request, fe conv.FrontEnd, rep *Report) ([]byte, bool) {
	body, ce := e.readBody(w, r)
	switch {
	case ce != nil:
		failWith(w, fe, rep, ce)
		return nil, false
	case body == nil:
		rep.Status = StatusClientGone
		return nil, false
	}
	return body, true
}

// readBody reads a request body within MaxBody and BodyTimeout, so that
// a client trickling its body cannot hold a connection and a goroutine
// for as long as it likes; nil without error means the client went away.
func (e *Engine) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *conv.Error) {
	deadline := false
	rc := http.NewResponseController(w)
	if e.BodyTimeout > 0 {
		deadline = rc.SetReadDeadline(time.Now().Add(e.BodyTimeout)) == nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, e.MaxBody))
	if err == nil && deadline {
		rc.SetReadDeadline(time.Time{})
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return nil, &conv.Error{Status: http.StatusRequestEntityTooLarge, Type: conv.TypeInvalidRequest, Code: "request_too_large",
				Message: "The request body is larger than this server's max_request_body."}
		case errors.Is(err, os.ErrDeadlineExceeded):
			// The rest of the body will not come: the connection cannot
			// serve another request, and the server must not wait to
			// drain it before answering.
			w.Header().Set("Connection", "close")
			return nil, &conv.Error{Status: http.StatusRequestTimeout, Type: conv.TypeInvalidRequest, Code: "request_timeout",
				Message: "The request body did not arrive within this server's body_timeout."}
		}
		return nil, nil
	}
	if body == nil {
		body = []byte{}
	}
	return body, nil
}

// ServeCount answers a token count request: the prompt counted exactly as
// usage counts it (the Poe query it becomes, attachments excepted).
func (e *Engine) ServeCount(w http.ResponseWriter, r *http.Request, fe conv.Counter) Report {
	var rep Report
	fail := func(ce *conv.Error) Report { return failWith(w, fe, &rep, ce) }
	body, ok := e.body(w, r, fe, &rep)
	if !ok {
		return rep
	}
	req, ce := fe.ParseCount(body)
	if ce != nil {
		return fail(ce)
	}
	rep.Model = req.Model
	plan, ce := translate.ToPoe(req, e.Translate)
	if ce != nil {
		return fail(ce)
	}
	fe.WriteCount(w, translate.PromptTokens(r.Context(), plan.Query))
	rep.Status = http.StatusOK
	return rep
}
