// Package openai is the OpenAI Chat Completions wire format: request
// parsing and validation, response and chunk types, error bodies and the
// SSE stream writer. It knows nothing about Poe or Caddy.
package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Error is an OpenAI-shaped error: {"error":{"message","type","param","code"}}.
type Error struct {
	Status     int           // HTTP status
	Message    string        // never contains a secret
	Type       string        // e.g. invalid_request_error
	Param      string        // the offending field, e.g. messages[2].role; "" = null
	Code       string        // e.g. model_not_found; "" = null
	RetryAfter time.Duration // sets Retry-After (whole seconds, rounded up) when > 0
}

func (e *Error) Error() string { return e.Message }

// Error types, as OpenAI spells them.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeServer         = "server_error"
	TypeRateLimit      = "requests"
	TypeQuota          = "insufficient_quota"
)

// InvalidRequest is a 400 naming the offending parameter.
func InvalidRequest(param, code, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Param: param, Code: code,
		Message: fmt.Sprintf(format, args...)}
}

// MarshalJSON writes the body clients expect; null for empty param/code.
func (e *Error) MarshalJSON() ([]byte, error) {
	type body struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	}
	b := body{Message: e.Message, Type: e.Type}
	if e.Param != "" {
		b.Param = &e.Param
	}
	if e.Code != "" {
		b.Code = &e.Code
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // messages may quote <key>; keep them readable
	err := enc.Encode(struct {
		Error body `json:"error"`
	}{b})
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), err
}

// RetryAfterSeconds rounds up to whole seconds, at least 1.
func RetryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// WriteError sends e as an HTTP response.
func WriteError(w http.ResponseWriter, e *Error) {
	body, _ := json.Marshal(e)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	h.Del("Content-Encoding")
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(RetryAfterSeconds(e.RetryAfter)))
	}
	w.WriteHeader(e.Status)
	w.Write(append(body, '\n'))
}
