package relay

import (
	"errors"
	"net/http"
	"time"

	"github.com/poe-openai/caddy-poe-openai/openai"
	"github.com/poe-openai/caddy-poe-openai/poeclient"
	"github.com/poe-openai/caddy-poe-openai/tokenpool"
)

// defaultRateLimitWait is how long a token rests after Poe said 429
// without saying for how long.
const defaultRateLimitWait = 60 * time.Second

// clientError turns a Poe failure into what the OpenAI client sees. The
// client's own key was fine in every case, so Poe's auth failures are a
// 502, not a 401.
func clientError(pe *poeclient.Error) *openai.Error {
	msg := "Poe: " + pe.Message
	switch pe.Kind {
	case poeclient.KindAuth:
		return &openai.Error{Status: http.StatusBadGateway, Type: openai.TypeServer, Code: "upstream_auth_error",
			Message: "Poe rejected this server's API key; the server's operator must check its tokens."}
	case poeclient.KindNoPoints:
		return &openai.Error{Status: http.StatusTooManyRequests, Type: openai.TypeQuota, Code: "insufficient_quota", Message: msg}
	case poeclient.KindRateLimit:
		wait := pe.RetryAfter
		if wait <= 0 {
			wait = defaultRateLimitWait
		}
		return &openai.Error{Status: http.StatusTooManyRequests, Type: openai.TypeRateLimit, Code: "rate_limit_exceeded",
			Message: msg, RetryAfter: wait}
	case poeclient.KindBotNotFound:
		return &openai.Error{Status: http.StatusNotFound, Type: openai.TypeInvalidRequest, Param: "model", Code: "model_not_found", Message: msg}
	case poeclient.KindTooLong:
		return &openai.Error{Status: http.StatusBadRequest, Type: openai.TypeInvalidRequest, Param: "messages",
			Code: "context_length_exceeded", Message: msg}
	case poeclient.KindTimeout:
		return &openai.Error{Status: http.StatusGatewayTimeout, Type: openai.TypeServer, Code: "upstream_timeout",
			Message: "Poe sent nothing within the configured timeout."}
	case poeclient.KindUpload:
		return &openai.Error{Status: http.StatusBadGateway, Type: openai.TypeServer, Code: "upload_failed", Message: msg}
	}
	return &openai.Error{Status: http.StatusBadGateway, Type: openai.TypeServer, Code: "upstream_error", Message: msg}
}

// exhaustedError is the answer when no token can take the request.
func exhaustedError(err error) *openai.Error {
	var ex *tokenpool.ExhaustedError
	wait := time.Second
	if errors.As(err, &ex) {
		wait = ex.RetryAfter
	}
	return &openai.Error{Status: http.StatusTooManyRequests, Type: openai.TypeRateLimit, Code: "rate_limit_exceeded",
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
func classify(pe *poeclient.Error, lease *tokenpool.Lease, pooled bool, now time.Time, quarantine time.Duration, events *[]TokenEvent) failover {
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
