// Package relay runs one chat completion end to end: it takes a token
// from the pool, uploads attachments, queries Poe, translates the events
// and writes the OpenAI answer, failing over to another token while the
// client has seen nothing. It knows nothing about Caddy.
package relay

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"time"

	"github.com/poe-openai/caddy-poe-openai/openai"
	"github.com/poe-openai/caddy-poe-openai/poeclient"
	"github.com/poe-openai/caddy-poe-openai/tokenpool"
	"github.com/poe-openai/caddy-poe-openai/translate"
)

// Relay holds what every request shares.
type Relay struct {
	Client    *poeclient.Client
	Uploads   *UploadCache
	Retries   int           // extra attempts on other tokens after a key-level failure
	KeepAlive time.Duration // SSE comment interval while the client waits
	Reasoning string        // translate.Reasoning*
	// Quarantine is how long the pool sets a failing key aside; it is
	// only reported in TokenEvents.
	Quarantine time.Duration
}

// Tokens hands out leases: the pool, or a client's own key. Healthy
// reports whether some token is not quarantined.
type Tokens interface {
	Acquire(ctx context.Context) (*tokenpool.Lease, error)
	Healthy() bool
}

// Call is one request.
type Call struct {
	Chat     *openai.ChatRequest
	Plan     *translate.Plan
	Bot      string
	Tokens   Tokens
	Failover bool // false for passthrough keys: there is no other token

	noDone bool
	prompt int // prompt tokens, counted before the query is let go
}

// wantUsage says whether the answer reports token usage.
func (c *Call) wantUsage() bool { return !c.Chat.Stream || c.Chat.IncludeUsage }

// promptTokens counts the prompt while the query is still held.
func (c *Call) promptTokens() int {
	if c.Plan.Query != nil {
		c.prompt = translate.PromptTokens(c.Plan.Query)
	}
	return c.prompt
}

// Outcome describes what happened, for the access log and metrics.
type Outcome struct {
	Status    int    // what the client saw (499: it went away)
	Token     string // fingerprint of the last token used
	Attempts  int
	FirstByte time.Duration // until the first byte reached the client
	Finish    string
	NoDone    bool  // Poe closed the stream without "done"
	Err       error // the last failure, if any
	Usage     *openai.Usage
	Tokens    []TokenEvent // tokens cooled or quarantined by this request
}

// StatusClientGone is logged when the client disconnected first.
const StatusClientGone = 499

// Serve answers c on w.
func (r *Relay) Serve(w http.ResponseWriter, req *http.Request, c Call) (out Outcome) {
	start := time.Now()
	ctx := req.Context()
	var sw *openai.StreamWriter
	if c.Chat.Stream {
		sw = openai.NewStreamWriter(w, openai.NewID(), c.Chat.Model, start.Unix(), c.Chat.IncludeUsage, r.KeepAlive)
		defer sw.Close()
		defer func() {
			if t := sw.FirstWrite(); !t.IsZero() {
				out.FirstByte = t.Sub(start)
			}
		}()
	}

	var last *poeclient.Error
	uploaded, botRetried := false, false
	for {
		lease, err := c.Tokens.Acquire(ctx)
		if err != nil {
			if ctx.Err() != nil {
				out.Status = StatusClientGone
				return out
			}
			oe := exhaustedError(err)
			if last != nil && (last.Kind == poeclient.KindRateLimit || !c.Tokens.Healthy()) {
				// No key left that could answer: the last failure is the
				// cause. Otherwise the pool is only busy, and the client
				// should come back after Retry-After.
				wait := oe.RetryAfter
				oe = clientError(last)
				if oe.RetryAfter > 0 {
					oe.RetryAfter = wait
				}
			}
			out.Err = err
			r.fail(w, sw, oe, &out, start)
			return out
		}
		out.Attempts++
		out.Token = lease.Token().Fingerprint()
		answer, pe, next := r.try(ctx, sw, lease, &c, &uploaded, &out.Tokens)
		if pe == nil {
			r.finish(w, sw, answer, &c, &out, start)
			return out
		}
		out.Err = pe
		if ctx.Err() != nil || pe.Kind == clientGone {
			out.Status = StatusClientGone
			return out
		}
		last = pe
		switch {
		case next == retryToken && c.Failover && out.Attempts <= r.Retries:
			continue
		case next == retryBot && !botRetried && out.Attempts <= r.Retries:
			botRetried = true
			continue
		}
		r.fail(w, sw, clientError(pe), &out, start)
		return out
	}
}

// clientGone marks a failure to write to the client.
const clientGone poeclient.Kind = 255

// try makes one attempt on one token. The lease is released whatever
// happens, panics included.
func (r *Relay) try(ctx context.Context, sw *openai.StreamWriter, lease *tokenpool.Lease, c *Call, uploaded *bool, events *[]TokenEvent) (
	answer *translate.Answer, pe *poeclient.Error, next failover) {
	defer lease.Release()
	token := lease.Token().Secret()
	if !*uploaded {
		if pe := r.upload(ctx, token, c.Plan); pe != nil {
			return nil, pe, noRetry
		}
		*uploaded = true
		c.Plan.Uploads = nil // the attachments' bytes are Poe's now
	}
	var sink translate.Sink
	if sw != nil {
		sink = sw
	}
	answer = translate.NewAnswer(translate.AnswerOptions{
		Stream:    c.Chat.Stream,
		Reasoning: r.Reasoning,
		MaxTokens: c.Chat.MaxTokens,
		Count:     c.Chat.Stream && c.Chat.IncludeUsage,
	}, sink)
	err := r.pump(ctx, lease, token, c, answer, sw)
	if err == nil {
		return answer, nil, noRetry
	}
	var pce *poeclient.Error
	if !errors.As(err, &pce) {
		// Not Poe's failure: writing to the client failed.
		return answer, &poeclient.Error{Kind: clientGone, Message: err.Error(), Err: err}, noRetry
	}
	if answer.Started() {
		return answer, pce, noRetry // the client may have seen part of it
	}
	return answer, pce, classify(pce, lease, c.Failover, time.Now(), r.Quarantine, events)
}

// pump streams Poe's events into answer.
func (r *Relay) pump(ctx context.Context, lease *tokenpool.Lease, token string, c *Call, answer *translate.Answer, sw *openai.StreamWriter) error {
	// The pool counts a cool-down from Poe's first response byte: by then
	// the request has certainly arrived.
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotFirstResponseByte: lease.Reached})
	stream, err := r.Client.Query(ctx, c.Bot, token, c.Plan.Query)
	if err != nil {
		return err
	}
	defer stream.Close()
	if sw != nil {
		// Flush exactly when Poe has nothing more ready: no chunk waits,
		// and a burst leaves in one write.
		sw.HoldFlushes()
		stream.OnWait(func() { sw.Flush() })
	}
	for {
		ev, err := stream.Next()
		if err == io.EOF {
			if !stream.Done() {
				c.noDone = true
			}
			return answer.End()
		}
		if err != nil {
			return err
		}
		if err := answer.Event(ev); err != nil {
			if errors.Is(err, translate.ErrLength) {
				return answer.End() // stream.Close cancels Poe's request
			}
			return err
		}
		// Right after the event that started the answer, not after the
		// next one: Poe may pause for long between the two.
		if c.Plan.Query != nil && answer.Started() {
			r.letGo(c, sw)
		}
	}
}

// letGo runs once the answer has started, when no retry can need the
// query any more: it is counted if usage is reported and dropped, so that
// a long stream does not hold a long conversation. The first chunk is
// flushed first, so that counting never delays it.
func (r *Relay) letGo(c *Call, sw *openai.StreamWriter) {
	if sw != nil {
		sw.Flush()
	}
	if c.wantUsage() {
		c.promptTokens()
	}
	c.Plan.Query = nil
}

// upload sends the request's attachments to Poe (or takes them from the
// cache) and attaches them to their messages.
func (r *Relay) upload(ctx context.Context, token string, plan *translate.Plan) *poeclient.Error {
	for _, u := range plan.Uploads {
		key, cost := uploadKey(u)
		att, ok := r.Uploads.get(key)
		if !ok {
			var err error
			if u.URL != "" {
				att, err = r.Client.UploadFromURL(ctx, token, u.URL, u.Name)
			} else {
				att, err = r.Client.UploadBytes(ctx, token, u.Name, u.ContentType, u.Data)
			}
			if err != nil {
				pe := poeclient.AsError(err)
				pe.Kind = poeclient.KindUpload
				pe.Message = u.Param + ": " + pe.Message
				return pe
			}
			r.Uploads.put(key, cost, att)
		}
		msg := &plan.Query.Query[u.Message]
		msg.Attachments = append(msg.Attachments, att)
	}
	return nil
}

func (r *Relay) finish(w http.ResponseWriter, sw *openai.StreamWriter, a *translate.Answer, c *Call, out *Outcome, start time.Time) {
	out.Status, out.Finish, out.NoDone = http.StatusOK, a.FinishReason(), c.noDone
	if sw != nil {
		sw.Finish(out.Finish)
		if c.Chat.IncludeUsage {
			u := a.Usage(c.promptTokens())
			out.Usage = &u
			sw.Usage(u)
		}
		if err := sw.Done(); err != nil {
			out.Status = StatusClientGone
		}
		return
	}
	u := a.Usage(c.promptTokens())
	out.Usage = &u
	content := a.Content()
	msg := openai.ResponseMessage{Role: "assistant", Content: &content, ReasoningContent: a.ReasoningContent()}
	if calls := a.ToolCalls(); len(calls) > 0 {
		msg.ToolCalls = calls
		if content == "" {
			msg.Content = nil
		}
	}
	body, _ := json.Marshal(openai.ChatCompletion{
		ID: openai.NewID(), Object: "chat.completion", Created: start.Unix(), Model: c.Chat.Model,
		Choices: []openai.Choice{{Index: 0, Message: msg, FinishReason: out.Finish}},
		Usage:   &u,
	})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(append(body, '\n'))
	out.FirstByte = time.Since(start)
}

func (r *Relay) fail(w http.ResponseWriter, sw *openai.StreamWriter, oe *openai.Error, out *Outcome, start time.Time) {
	out.Status = oe.Status
	if sw == nil {
		openai.WriteError(w, oe)
		out.FirstByte = time.Since(start)
		return
	}
	if asHTTP, _ := sw.Fail(oe); !asHTTP {
		out.Status = http.StatusOK // the error went inside the stream
	}
}
