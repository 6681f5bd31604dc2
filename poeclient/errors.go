package poeclient

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Kind classifies a failure by what the caller should do about it.
type Kind uint8

const (
	KindUpstream    Kind = iota // anything else Poe reported
	KindAuth                    // the Poe key was refused
	KindNoPoints                // the key's owner lacks points
	KindRateLimit               // the key hit Poe's rate limit
	KindBotNotFound             // no such bot
	KindTooLong                 // the conversation is too long for the bot
	KindTimeout                 // no bytes from Poe within the idle timeout
	KindTransport               // network failure talking to Poe
	KindServer                  // Poe's 5xx or a retryable in-band error
	KindProtocol                // Poe sent something that breaks the protocol
	KindUpload                  // a file upload failed
)

var kindNames = [...]string{"upstream_error", "auth", "insufficient_points", "rate_limit",
	"bot_not_found", "too_long", "timeout", "transport", "server", "protocol", "upload"}

func (k Kind) String() string { return kindNames[k] }

// Error is a classified Poe failure. Message is safe to show to a client:
// it never contains the Poe key.
type Error struct {
	Kind       Kind
	Status     int           // Poe's HTTP status, 0 for in-band errors
	Message    string        // Poe's text or a short body excerpt
	Retryable  bool          // the same request may succeed if sent again
	RetryAfter time.Duration // from Retry-After or x-ratelimit-reset-requests
	Err        error         // underlying transport error, if any
}

func (e *Error) Error() string {
	s := "poe " + e.Kind.String()
	if e.Status != 0 {
		s += " (HTTP " + strconv.Itoa(e.Status) + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// AsError returns err as a *Error, wrapping anything else as a transport
// failure.
func AsError(err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	return &Error{Kind: KindTransport, Message: "connection to Poe failed", Retryable: true, Err: err}
}

// errorFromEvent classifies an in-band error event.
func errorFromEvent(data []byte) *Error {
	var ev ErrorEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		// fastapi_poe treats a non-dict payload as retryable.
		return &Error{Kind: KindServer, Message: excerpt(data), Retryable: true}
	}
	e := &Error{Kind: KindUpstream, Message: ev.Text, Retryable: ev.AllowRetry == nil || *ev.AllowRetry}
	switch ev.ErrorType {
	case ErrorTypeInsufficient:
		e.Kind = KindNoPoints
	case ErrorTypeMessageTooLong:
		e.Kind = KindTooLong
	default:
		e.Kind = classifyText(ev.Text, KindUpstream)
		if e.Kind == KindUpstream && e.Retryable {
			e.Kind = KindServer
		}
	}
	if e.Message == "" {
		e.Message = "Poe reported an error"
	}
	return e
}

// errorFromResponse classifies a non-SSE answer from its status and body.
func errorFromResponse(status int, h http.Header, body []byte) *Error {
	msg := bodyMessage(body)
	e := &Error{Status: status, Message: msg, RetryAfter: retryAfter(h)}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Kind = KindAuth
	case status == http.StatusPaymentRequired:
		e.Kind = KindNoPoints
	case status == http.StatusTooManyRequests:
		e.Kind = KindRateLimit
	case status == http.StatusNotFound:
		e.Kind = KindBotNotFound
	case status == http.StatusRequestEntityTooLarge:
		e.Kind = KindTooLong
	case status >= 500:
		e.Kind, e.Retryable = KindServer, true
	case status >= 200 && status < 300:
		// fastapi_poe retries a response that is not an event stream.
		e.Kind, e.Retryable = KindProtocol, true
		e.Message = "Poe answered without an event stream: " + msg
	default:
		e.Kind = classifyText(msg, KindUpstream)
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// classifyText recognises Poe's error texts (observed in the wild; see
// the protocol reference, section 2.3).
func classifyText(text string, fallback Kind) Kind {
	t := strings.ToLower(text)
	switch {
	case strings.Contains(t, "rate limit"):
		return KindRateLimit
	case strings.Contains(t, "enough points"), strings.Contains(t, "more points"),
		strings.Contains(t, "insufficient fund"), strings.Contains(t, "insufficient points"):
		return KindNoPoints
	case strings.Contains(t, "invalid api key"), strings.Contains(t, "invalid token"),
		strings.Contains(t, "unauthorized"), strings.Contains(t, "invalid_api_key"):
		return KindAuth
	case strings.Contains(t, "does not exist"), strings.Contains(t, "bot not found"),
		strings.Contains(t, "unknown bot"):
		return KindBotNotFound
	case strings.Contains(t, "too long"):
		return KindTooLong
	}
	return fallback
}

// bodyMessage takes error.message from an OpenAI-style body, else a
// printable excerpt.
func bodyMessage(body []byte) string {
	var v struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &v) == nil && len(v.Error) > 0 {
		var obj struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(v.Error, &obj) == nil && obj.Message != "" {
			return excerpt([]byte(obj.Message))
		}
		var s string
		if json.Unmarshal(v.Error, &s) == nil && s != "" {
			return excerpt([]byte(s))
		}
	}
	return excerpt(body)
}

// excerpt keeps an upstream body short and printable for logs and clients.
func excerpt(b []byte) string {
	const max = 200
	s := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(string(b), "?"))
	s = strings.TrimSpace(s)
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// retryAfter reads how long Poe asks us to wait, in whole seconds or an
// HTTP date.
func retryAfter(h http.Header) time.Duration {
	for _, k := range [...]string{"Retry-After", "X-Ratelimit-Reset-Requests"} {
		v := strings.TrimSpace(h.Get(k))
		if v == "" {
			continue
		}
		if secs, err := strconv.ParseFloat(strings.TrimSuffix(v, "s"), 64); err == nil && secs >= 0 {
			return time.Duration(secs * float64(time.Second))
		}
		if d, err := time.ParseDuration(v); err == nil && d >= 0 {
			return d
		}
		if t, err := http.ParseTime(v); err == nil {
			if d := time.Until(t); d > 0 {
				return d
			}
		}
	}
	return 0
}

// redact removes a secret from a message, in case an upstream echoes it.
func redact(msg, secret string) string {
	if secret == "" || !strings.Contains(msg, secret) {
		return msg
	}
	return strings.ReplaceAll(msg, secret, "[redacted]")
}
