package messages

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strings"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
)

// errorType is Anthropic's error.type for e. The status stays e's:
//
//	400 (and other 4xx)  invalid_request_error
//	401                  authentication_error
//	403                  permission_error
//	404                  not_found_error
//	413                  request_too_large
//	429                  rate_limit_error (a busy pool, Poe's rate limit, Poe's "no points")
//	500, 502 and others  api_error (Poe failed or refused this server's key)
//	503, 529             overloaded_error
//	504                  timeout_error (Poe sent nothing in time), as Anthropic documents it
//
// Claude Code retries 429 and every 5xx whatever the type, and obeys
// Retry-After and x-should-retry.
func errorType(e *conv.Error) string {
	switch s := e.Status; {
	case s == http.StatusUnauthorized:
		return "authentication_error"
	case s == http.StatusForbidden:
		return "permission_error"
	case s == http.StatusNotFound:
		return "not_found_error"
	case s == http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case s == http.StatusTooManyRequests:
		return "rate_limit_error"
	case s == http.StatusServiceUnavailable || s == 529:
		return "overloaded_error"
	case s == http.StatusGatewayTimeout:
		return "timeout_error"
	case s >= 500:
		return "api_error"
	}
	return "invalid_request_error"
}

// errorMessage is e's message; a prompt that is too long says so as
// Anthropic does ("prompt is too long: ..."), which makes Claude Code
// compact the conversation. The offending field, when known, leads
// the message as in Anthropic's own validation errors.
func errorMessage(e *conv.Error) string {
	msg := e.Message
	if e.Code == "context_length_exceeded" {
		return "prompt is too long: " + msg
	}
	if e.Param != "" && e.Status == http.StatusBadRequest && !strings.HasPrefix(msg, e.Param) {
		msg = e.Param + ": " + msg
	}
	return msg
}

// appendErrorJSON appends {"type":"error","error":{"type","message"}}
// (with request_id when set). HTML characters stay as they are.
func appendErrorJSON(dst []byte, e *conv.Error, requestID string) []byte {
	type detail struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
	type body struct {
		Type      string `json:"type"`
		Error     detail `json:"error"`
		RequestID string `json:"request_id,omitempty"`
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(body{Type: "error", Error: detail{Type: errorType(e), Message: errorMessage(e)}, RequestID: requestID})
	return append(dst, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

// writeError sends e as an HTTP response with a request-id header, and
// Retry-After / x-should-retry as every front end does.
func writeError(w http.ResponseWriter, e *conv.Error) {
	id := newID("req_")
	body := appendErrorJSON(nil, e, id)
	body = append(body, '\n')
	h := w.Header()
	e.SetHeaders(h, len(body))
	h.Set("Request-Id", id)
	w.WriteHeader(e.Status)
	w.Write(body)
}

const idChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newID is prefix and 24 random base62 characters (math/rand/v2's
// generator is ChaCha8: unpredictable enough for ids).
func newID(prefix string) string {
	b := make([]byte, len(prefix)+24)
	copy(b, prefix)
	for i := len(prefix); i < len(b); i++ {
		b[i] = idChars[rand.N(len(idChars))] //nolint:gosec // ids name messages; they guard nothing
	}
	return string(b)
}
