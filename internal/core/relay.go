// Package core is the neutral middle of the gateway: from a parsed
// conversation (conv) to an answer written through a front end's Output.
// Engine runs the pipeline (bot choice, translation to a Poe query);
// Relay runs the attempt loop: it takes a token from the pool, uploads
// attachments, queries Poe, turns the events into the answer, and fails
// over to another token while the client has seen nothing. It knows
// nothing about Caddy or about which front end called it.
package core

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
	"github.com/poe-openai/caddy-poe-openai/internal/tokenpool"
	"github.com/poe-openai/caddy-poe-openai/internal/translate"
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
	// MaxAnswer bounds the bytes read from Poe for a collected
	// (non-streaming) answer; 0 = no bound. A stream is bounded by its
	// client, who reads it as it comes.
	MaxAnswer int64
	// CountAlways counts usage into Outcome.Usage even for a stream whose
	// client did not ask for it (the host records every request's use);
	// the client is still sent usage only when it asked.
	CountAlways bool
	// KeyWorks, when set, answers in keyWorks' place: the points poller,
	// which learns the balance and reads it at most once a minute per key
	// however many requests fail.
	KeyWorks func(ctx context.Context, t *tokenpool.Token) bool
}

// Tokens hands out leases: the pool, or a client's own key. Healthy
// reports whether some token is not quarantined.
type Tokens interface {
	Acquire(ctx context.Context) (*tokenpool.Lease, error)
	Healthy() bool
}

// Call is one request.
type Call struct {
	Req      *conv.Request
	Plan     *translate.Plan
	Bot      string
	Tokens   Tokens
	Failover bool        // false for passthrough keys: there is no other token
	Out      conv.Output // the front end's writer
	// RequestID is added to the message of upstream failures (5xx).
	RequestID string

	noDone bool
	// prompt receives the prompt's token count from the goroutine that
	// letGo starts; promptN keeps it once read.
	prompt  chan int
	promptN int
}

// wantUsage says whether the answer reports token usage.
func (c *Call) wantUsage() bool { return !c.Req.Stream || c.Req.IncludeUsage }

// count says whether usage is counted: reported, or recorded by the host.
func (r *Relay) count(c *Call) bool { return c.wantUsage() || r.CountAlways }

// promptTokens returns the prompt's token count: the one letGo started,
// or counted now if the answer ended before letGo ran.
func (c *Call) promptTokens(ctx context.Context) int {
	switch {
	case c.prompt != nil:
		c.promptN, c.prompt = <-c.prompt, nil
	case c.Plan.Query != nil:
		c.promptN = translate.PromptTokens(ctx, c.Plan.Query)
	}
	return c.promptN
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
	Usage     *conv.Usage
	Tokens    []TokenEvent // tokens cooled or quarantined by this request
}

// StatusClientGone is logged when the client disconnected first.
const StatusClientGone = 499

// Serve answers c through c.Out.
func (r *Relay) Serve(ctx context.Context, c Call) (out Outcome) {
	start := time.Now()
	defer c.Out.Close()
	defer func() {
		if t := c.Out.FirstWrite(); !t.IsZero() {
			out.FirstByte = t.Sub(start)
		}
	}()

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
				// Tried and failed over already: an SDK retrying at once
				// would only multiply Poe calls.
				oe.NoRetry = oe.NoRetry || oe.Status == http.StatusTooManyRequests
			}
			out.Err = err
			r.fail(c.Out, oe, &out, c.RequestID)
			return out
		}
		out.Attempts++
		out.Token = lease.Token().Fingerprint()
		answer, pe, next := r.try(ctx, lease, &c, &uploaded, &out.Tokens)
		if pe == nil {
			r.finish(ctx, answer, &c, &out)
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
		ce := clientError(pe)
		if out.Attempts > 1 && ce.Status == http.StatusTooManyRequests {
			// This server already tried other keys: an SDK retrying at
			// once would only multiply Poe calls. Retry-After stays honest.
			ce.NoRetry = true
		}
		r.fail(c.Out, ce, &out, c.RequestID)
		return out
	}
}

// clientGone marks a failure to write to the client.
const clientGone poeclient.Kind = 255

// try makes one attempt on one token. The lease is released whatever
// happens, panics included.
func (r *Relay) try(ctx context.Context, lease *tokenpool.Lease, c *Call, uploaded *bool, events *[]TokenEvent) (
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
	var sink conv.Sink
	if c.Req.Stream {
		sink = c.Out
	}
	answer = translate.NewAnswer(translate.AnswerOptions{
		Stream:    c.Req.Stream,
		Reasoning: r.Reasoning,
		MaxTokens: c.Req.MaxTokens,
		Count:     c.Req.Stream && r.count(c),
	}, sink)
	err := r.pump(ctx, lease, token, c, answer)
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
	return answer, pce, classify(pce, lease, c.Failover, time.Now(), r.Quarantine, events, func() bool {
		return r.keyWorks(ctx, lease.Token())
	})
}

// balanceCheckTimeout bounds the balance call that confirms a key is
// really empty or invalid before it is set aside.
const balanceCheckTimeout = 5 * time.Second

// keyWorks asks Poe for the key's balance: a key that has points is
// neither invalid nor empty, whatever one bot answered. When Poe cannot
// be asked, the bot's word stands.
func (r *Relay) keyWorks(ctx context.Context, t *tokenpool.Token) bool {
	if r.KeyWorks != nil {
		return r.KeyWorks(ctx, t)
	}
	ctx, cancel := context.WithTimeout(ctx, balanceCheckTimeout)
	defer cancel()
	points, err := r.Client.Balance(ctx, t.Secret())
	return err == nil && points > 0
}

// pump streams Poe's events into answer.
func (r *Relay) pump(ctx context.Context, lease *tokenpool.Lease, token string, c *Call, answer *translate.Answer) error {
	// The pool counts a cool-down from Poe's first response byte: by then
	// the request has certainly arrived.
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotFirstResponseByte: lease.Reached})
	stream, err := r.Client.Query(ctx, c.Bot, token, c.Plan.Query)
	if err != nil {
		return err
	}
	defer stream.Close()
	if !c.Req.Stream && r.MaxAnswer > 0 {
		stream.SetMaxBytes(r.MaxAnswer)
	}
	if c.Req.Stream {
		// Flush exactly when Poe has nothing more ready: no chunk waits,
		// and a burst leaves in one write.
		c.Out.HoldFlushes()
		stream.OnWait(func() { _ = c.Out.Flush() }) // a gone client shows at the next write
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
			r.letGo(ctx, c)
		}
	}
}

// letGo runs once the answer has started, when no retry can need the
// query any more. If usage is counted, the prompt is counted on its own
// goroutine while Poe streams (a long prompt never delays a chunk; it
// ends with ctx), and the query is dropped once counted, so that a long
// stream does not hold a long conversation.
func (r *Relay) letGo(ctx context.Context, c *Call) {
	if c.Req.Stream {
		_ = c.Out.Flush() // a gone client shows at the next write
	}
	if r.count(c) {
		q, ch := c.Plan.Query, make(chan int, 1)
		c.prompt = ch
		go func() { ch <- translate.PromptTokens(ctx, q) }()
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

func (r *Relay) finish(ctx context.Context, a *translate.Answer, c *Call, out *Outcome) {
	res := conv.Result{Finish: a.FinishReason()}
	if r.count(c) {
		u := a.Usage(ctx, c.promptTokens(ctx))
		out.Usage = &u
		if c.wantUsage() {
			res.Usage = &u
		}
	}
	if !c.Req.Stream {
		res.Content, res.Reasoning, res.ToolCalls = a.Content(), a.ReasoningContent(), a.ToolCalls()
	}
	out.Status, out.Finish, out.NoDone = http.StatusOK, res.Finish, c.noDone
	if err := c.Out.Finish(&res); err != nil {
		out.Status = StatusClientGone
	}
}

func (r *Relay) fail(o conv.Output, ce *conv.Error, out *Outcome, requestID string) {
	if ce.Status >= 500 && requestID != "" {
		// The cause in words for the client; the detail is in the log
		// under this id.
		ce.Message += " (request id " + requestID + ")"
	}
	out.Status = ce.Status
	if !o.Fail(ce) {
		out.Status = http.StatusOK // the error went inside the stream
	}
}
