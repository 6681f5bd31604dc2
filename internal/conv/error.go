package conv

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Error is a failure to report to the client. Its fields are OpenAI's
// (the richest of the three formats); each front end renders it in its own
// shape: Chat Completions and Responses as {"error":{...}}, Messages as
// {"type":"error","error":{...}} with a type derived from Status and Code.
type Error struct {
	Status     int           // HTTP status
	Message    string        // never contains a secret
	Type       string        // OpenAI's type, e.g. invalid_request_error
	Param      string        // the offending field, e.g. messages[2].role; "" = null
	Code       string        // e.g. model_not_found; "" = null
	RetryAfter time.Duration // sets Retry-After (whole seconds, rounded up) when > 0
	// NoRetry tells SDKs that retrying at once cannot help (x-should-retry: false).
	NoRetry bool
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

// RetryAfterSeconds rounds up to whole seconds, at least 1.
func RetryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// SetHeaders sets what every error response carries, in any front end's
// format: a JSON body of n bytes, Retry-After, and x-should-retry: false
// where retrying at once cannot help.
func (e *Error) SetHeaders(h http.Header, n int) {
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(n))
	h.Del("Content-Encoding")
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(RetryAfterSeconds(e.RetryAfter)))
	}
	if e.NoRetry {
		h.Set("X-Should-Retry", "false")
	}
}
