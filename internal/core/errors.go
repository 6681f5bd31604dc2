package core

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
	"github.com/poe-openai/caddy-poe-openai/internal/tokenpool"
)

// defaultRateLimitWait is how long a token rests after Poe said 429
// without saying for how long.
const defaultRateLimitWait = 60 * time.Second

// clientError turns a Poe failure into what the OpenAI client sees. The
// client's own key was fine in every case, so Poe's auth failures are a
// 502, not a 401.
func clientError(pe *poeclient.Error) *conv.Error {
	e := kindError(pe)
	// Retrying at once cannot help when the cause is the server's keys,
	// the bot or the prompt, or when the wait is longer than SDKs wait.
	switch pe.Kind {
	case poeclient.KindAuth, poeclient.KindNoPoints, poeclient.KindBotNotFound, poeclient.KindTooLong:
		e.NoRetry = true
	}
	if e.RetryAfter > maxSDKWait {
		e.NoRetry = true
	}
	return e
}

// maxSDKWait is the longest Retry-After the OpenAI and Anthropic SDKs
// wait for before retrying on their own.
const maxSDKWait = 60 * time.Second

func kindError(pe *poeclient.Error) *conv.Error {
	msg := pe.Message
	if !strings.HasPrefix(msg, "Poe") {
		msg = "Poe: " + msg
	}
	switch pe.Kind {
	case poeclient.KindAuth:
		return &conv.Error{Status: http.StatusBadGateway, Type: conv.TypeServer, Code: "upstream_auth_error",
			Message: "Poe rejected this server's API key; the server's operator must check its tokens."}
	case poeclient.KindNoPoints:
		return &conv.Error{Status: http.StatusTooManyRequests, Type: conv.TypeQuota, Code: "insufficient_quota", Message: msg}
	case poeclient.KindRateLimit:
		wait := pe.RetryAfter
		if wait <= 0 {
			wait = defaultRateLimitWait
		}
		return &conv.Error{Status: http.StatusTooManyRequests, Type: conv.TypeRateLimit, Code: "rate_limit_exceeded",
			Message: msg, RetryAfter: wait}
	case poeclient.KindBotNotFound:
		return &conv.Error{Status: http.StatusNotFound, Type: conv.TypeInvalidRequest, Param: "model", Code: "model_not_found", Message: msg}
	case poeclient.KindTooLong:
		return &conv.Error{Status: http.StatusBadRequest, Type: conv.TypeInvalidRequest, Param: "messages",
			Code: "context_length_exceeded", Message: msg}
	case poeclient.KindTimeout:
		return &conv.Error{Status: http.StatusGatewayTimeout, Type: conv.TypeServer, Code: "upstream_timeout",
			Message: timeoutMessage(pe)}
	case poeclient.KindUpload:
		return &conv.Error{Status: http.StatusBadGateway, Type: conv.TypeServer, Code: "upload_failed", Message: msg}
	}
	return &conv.Error{Status: http.StatusBadGateway, Type: conv.TypeServer, Code: "upstream_error", Message: msg}
}

func timeoutMessage(pe *poeclient.Error) string {
	if errors.Is(pe, poeclient.ErrNoContent) {
		return "Poe sent only keep-alives, no content, for longer than this server allows."
	}
	return "Poe sent nothing within the configured idle_timeout."
}

// exhaustedError is the answer when no token can take the request.
func exhaustedError(err error) *conv.Error {
	var ex *tokenpool.ExhaustedError
	wait := time.Second
	if errors.As(err, &ex) {
		wait = ex.RetryAfter
	}
	return &conv.Error{Status: http.StatusTooManyRequests, Type: conv.TypeRateLimit, Code: "rate_limit_exceeded",
		Message:    "All Poe API keys of this server are busy or at their rate limit; retry after the time in Retry-After.",
		RetryAfter: wait}
}

// failover says what a failed attempt means for its token and whether
// another attempt may help.
type failover int

const (
	noRetry    failover = iota
	retryBot            // the bot failed: fastapi_poe retries once
	retryToken          // the token failed: move to another token
)

// TokenEvent records that a token was set aside, for the log.
type TokenEvent struct {
	Token  string // fingerprint
	State  string // cooling or quarantined
	Reason string // rate_limit, invalid_key, insufficient_points
	For    time.Duration
}

// A client's own (passed-through) key is never quarantined: its owner
// must keep seeing Poe's real answer, and may fix the key at any time.
//
// keyWorks reports whether the key itself still answers (its balance is
// above zero).
func classify(pe *poeclient.Error, lease *tokenpool.Lease, pooled bool, now time.Time, quarantine time.Duration, events *[]TokenEvent,
	keyWorks func() bool) failover {
	fp := lease.Token().Fingerprint()
	switch pe.Kind {
	case poeclient.KindRateLimit:
		wait := pe.RetryAfter
		if wait <= 0 {
			wait = defaultRateLimitWait
		}
		lease.Cool(now.Add(wait))
		*events = append(*events, TokenEvent{Token: fp, State: tokenpool.StateCooling, Reason: "rate_limit", For: wait})
		return retryToken
	case poeclient.KindAuth, poeclient.KindNoPoints:
		if !pooled {
			return noRetry
		}
		if keyWorks() {
			// About the bot (its price, or access to it), not this key:
			// the client gets Poe's answer, and the pool keeps the key.
			return noRetry
		}
		reason := "invalid_key"
		if pe.Kind == poeclient.KindNoPoints {
			reason = "insufficient_points"
		}
		lease.Quarantine(reason)
		*events = append(*events, TokenEvent{Token: fp, State: tokenpool.StateQuarantined, Reason: reason, For: quarantine})
		return retryToken
	}
	if pe.Retryable {
		return retryBot
	}
	return noRetry
}
