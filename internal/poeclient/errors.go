package poeclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime"
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
// it says what failed in words, quoting only Poe's own error text
// (truncated), and never holds the Poe key, upstream bodies, addresses or
// URLs. Those go to Detail, for the log.
type Error struct {
	Kind       Kind
	Status     int           // Poe's HTTP status, 0 for in-band errors
	Message    string        // for the client: the cause in words, or Poe's text
	Retryable  bool          // the same request may succeed if sent again
	RetryAfter time.Duration // from Retry-After or x-ratelimit-reset-requests
	Err        error         // underlying transport error, if any
	// Detail is the raw evidence (a body excerpt, the network error, a
	// redirect's target), with the key redacted: for the log, not clients.
	Detail string
}

// Error is for logs: it includes Detail. Show clients Message.
func (e *Error) Error() string {
	s := "poe " + e.Kind.String()
	if e.Status != 0 {
		s += " (HTTP " + strconv.Itoa(e.Status) + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Detail != "" {
		s += " [" + e.Detail + "]"
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
	if err == nil {
		return &Error{Kind: KindTransport, Message: "connection to Poe failed", Retryable: true}
	}
	return &Error{Kind: KindTransport, Message: netCause(err), Retryable: true, Err: err, Detail: err.Error()}
}

// errorFromEvent classifies an in-band error event.
func errorFromEvent(data []byte, token string) *Error {
	var ev ErrorEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		// fastapi_poe treats a non-dict payload as retryable.
		return &Error{Kind: KindServer, Message: "Poe sent a malformed error event", Retryable: true,
			Detail: detail(data, token)}
	}
	e := &Error{Kind: KindUpstream, Message: poeWords(ev.Text, token), Retryable: ev.AllowRetry == nil || *ev.AllowRetry}
	if ev.RawResponse != "" {
		e.Detail = detail([]byte(ev.RawResponse), token)
	}
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
func errorFromResponse(status int, h http.Header, body []byte, token string) *Error {
	e := &Error{Status: status, RetryAfter: retryAfter(h), Detail: detail(body, token)}
	if isRedirect(status) {
		// Never followed (see NoRedirects); where it pointed is for the log.
		e.Kind = KindUpstream
		e.Message = "Poe answered with a redirect (status " + strconv.Itoa(status) + ")"
		e.Detail = "redirect to " + detail([]byte(h.Get("Location")), token)
		return e
	}
	text, fromPoe := poeText(body)
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
		e.Message = "Poe answered without an event stream (status " + strconv.Itoa(status) + ")"
		return e
	default:
		if !fromPoe {
			text = string(body)
		}
		e.Kind = classifyText(text, KindUpstream)
	}
	switch {
	case fromPoe:
		e.Message = poeWords(text, token)
	case isHTML(h, body):
		e.Message = "Poe answered with HTML (status " + strconv.Itoa(status) + ")"
	default:
		e.Message = "Poe answered with status " + strconv.Itoa(status)
	}
	return e
}

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

func isHTML(h http.Header, body []byte) bool {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return mt == "text/html" || mt == "application/xhtml+xml" ||
		bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("<"))
}

// poeText finds Poe's own words in a JSON error body: OpenAI's
// error.message (or a string error), an error event's text, FastAPI's
// detail. Anything else in a body is not quoted to clients.
func poeText(body []byte) (string, bool) {
	var v struct {
		Error   json.RawMessage `json:"error"`
		Text    json.RawMessage `json:"text"`
		Detail  json.RawMessage `json:"detail"`
		Message json.RawMessage `json:"message"`
	}
	if json.Unmarshal(body, &v) != nil {
		return "", false
	}
	var obj struct {
		Message json.RawMessage `json:"message"`
	}
	if len(v.Error) > 0 && json.Unmarshal(v.Error, &obj) == nil {
		if s := jsonString(obj.Message); s != "" {
			return s, true
		}
	}
	for _, raw := range [...]json.RawMessage{v.Error, v.Text, v.Detail, v.Message} {
		if s := jsonString(raw); s != "" {
			return s, true
		}
	}
	return "", false
}

func jsonString(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return strings.TrimSpace(s)
}

// poeWords is Poe's error text as a client may see it: key redacted first,
// so that truncation cannot leave part of it, then shortened.
func poeWords(text, token string) string { return excerpt([]byte(Redact(text, token))) }

// detail is an upstream excerpt for the log.
func detail(b []byte, token string) string {
	const max = 1 << 10
	if len(b) > 4*max {
		b = b[:4*max]
	}
	s := Redact(string(b), token)
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if len(s) > max {
		s = truncate(s, max)
	}
	return strings.TrimSpace(s)
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

// excerpt keeps an upstream text short and printable.
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
		s = truncate(s, max)
	}
	return s
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
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

// looseKeyLen is the length from which a key is redacted wherever it
// appears. A shorter one (a test key such as "test") would match inside
// ordinary words, turning my-test-bot into my-[redacted]-bot, so it is
// redacted only as a whole token. Real Poe keys are far longer.
const looseKeyLen = 16

// Redact replaces the key secret in msg with [redacted], in case an
// upstream echoes it: as a whole token (delimited by characters that
// cannot be part of a key, [A-Za-z0-9_-]), or anywhere once the key is
// long enough that it cannot be part of another word by chance.
func Redact(msg, secret string) string {
	if secret == "" || !strings.Contains(msg, secret) {
		return msg
	}
	if len(secret) >= looseKeyLen {
		return strings.ReplaceAll(msg, secret, "[redacted]")
	}
	var b strings.Builder
	last := 0
	for from := 0; ; {
		i := strings.Index(msg[from:], secret)
		if i < 0 {
			break
		}
		i += from
		end := i + len(secret)
		if (i == 0 || !isKeyByte(msg[i-1])) && (end == len(msg) || !isKeyByte(msg[end])) {
			b.WriteString(msg[last:i])
			b.WriteString("[redacted]")
			last, from = end, end
		} else {
			from = i + 1
		}
	}
	if last == 0 {
		return msg
	}
	b.WriteString(msg[last:])
	return b.String()
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}
