package messages

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
	"github.com/poe-openai/caddy-poe-openai/internal/models"
)

func TestErrorStatusMapping(t *testing.T) {
	for status, want := range map[int]string{
		400: "invalid_request_error", 405: "invalid_request_error", 408: "invalid_request_error", 422: "invalid_request_error",
		401: "authentication_error", 403: "permission_error", 404: "not_found_error", 413: "request_too_large",
		429: "rate_limit_error", 500: "api_error", 501: "api_error", 502: "api_error", 503: "overloaded_error",
		529: "overloaded_error", 504: "timeout_error",
	} {
		rec := httptest.NewRecorder()
		FrontEnd{}.WriteError(rec, &conv.Error{Status: status, Type: conv.TypeServer, Message: "m <&>"})
		var body struct {
			Type  string `json:"type"`
			Error struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			} `json:"error"`
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if rec.Code != status || body.Type != "error" || body.Error.Type != want || body.Error.Message != "m <&>" ||
			!strings.HasPrefix(body.RequestID, "req_") || rec.Header().Get("Request-Id") != body.RequestID ||
			rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Content-Length") != itoa(rec.Body.Len()) {
			t.Errorf("%d: %d %v %s", status, rec.Code, rec.Header(), rec.Body)
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestErrorHeadersAndMessages(t *testing.T) {
	// Rate limits and "no points" (both 429): Retry-After, and x-should-retry when retrying cannot help.
	rec := httptest.NewRecorder()
	FrontEnd{}.WriteError(rec, &conv.Error{Status: 429, Code: "insufficient_quota", Message: "Poe: no points", NoRetry: true, RetryAfter: 1500 * time.Millisecond})
	if rec.Header().Get("Retry-After") != "2" || rec.Header().Get("X-Should-Retry") != "false" || !strings.Contains(rec.Body.String(), `"rate_limit_error"`) {
		t.Fatalf("%v %s", rec.Header(), rec.Body)
	}
	// Too long: Claude Code compacts on "prompt is too long:".
	rec = httptest.NewRecorder()
	FrontEnd{}.WriteError(rec, &conv.Error{Status: 400, Code: "context_length_exceeded", Param: "messages", Message: "Poe: The message is too long."})
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), `"message":"prompt is too long: Poe: The message is too long."`) {
		t.Fatal(rec.Body)
	}
	// A 400 that names a field leads with it; a 404's param does not.
	if got := errorMessage(&conv.Error{Status: 400, Param: "messages[2].tool_call_id", Message: "no such call"}); got != "messages[2].tool_call_id: no such call" {
		t.Fatal(got)
	}
	if got := errorMessage(&conv.Error{Status: 404, Param: "model", Message: "The model 'x' does not exist."}); got != "The model 'x' does not exist." {
		t.Fatal(got)
	}
}

func TestWriteCount(t *testing.T) {
	rec := httptest.NewRecorder()
	FrontEnd{}.WriteCount(rec, 42)
	if rec.Code != 200 || rec.Body.String() != "{\"input_tokens\":42}\n" || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

func TestWriteModels(t *testing.T) {
	list := []models.Model{{ID: "claude-sonnet", Created: 1759104000}, {ID: "GPT-5"}}
	rec := httptest.NewRecorder()
	WriteModels(rec, httptest.NewRequest(http.MethodGet, "/v1/models", nil), list, false)
	want := `{"data":[{"type":"model","id":"claude-sonnet","display_name":"claude-sonnet","created_at":"2025-09-29T00:00:00Z"},` +
		`{"type":"model","id":"GPT-5","display_name":"GPT-5","created_at":"1970-01-01T00:00:00Z"}],"has_more":false,"first_id":"claude-sonnet","last_id":"GPT-5"}` + "\n"
	if rec.Body.String() != want {
		t.Fatalf("%s", rec.Body)
	}
	rec = httptest.NewRecorder()
	WriteModels(rec, httptest.NewRequest(http.MethodGet, "/v1/models/GPT-5", nil), list[1:], true)
	if rec.Body.String() != `{"type":"model","id":"GPT-5","display_name":"GPT-5","created_at":"1970-01-01T00:00:00Z"}`+"\n" {
		t.Fatalf("%s", rec.Body)
	}
	rec = httptest.NewRecorder()
	WriteModels(rec, httptest.NewRequest(http.MethodGet, "/v1/models", nil), nil, false)
	if rec.Body.String() != `{"data":[],"has_more":false,"first_id":null,"last_id":null}`+"\n" {
		t.Fatalf("%s", rec.Body)
	}
}
