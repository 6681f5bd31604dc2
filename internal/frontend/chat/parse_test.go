package chat

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
)

func TestParseValid(t *testing.T) {
	body := `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"n":1,
	"temperature":0.5,"stop":"\n\n","logit_bias":{"50256":-100},"max_tokens":10,"max_completion_tokens":20,
	"top_p":0.9,"presence_penalty":1,"seed":3,"user":"u","parallel_tool_calls":true,"metadata":{"x":"y"},
	"reasoning_effort":"high",
	"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],
	"tool_choice":{"type":"function","function":{"name":"get_weather"}},
	"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}},
	"messages":[
	 {"role":"developer","content":"be terse"},
	 {"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"https://x/y.png","detail":"low"}}]},
	 {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},
	 {"role":"tool","tool_call_id":"c1","content":"sunny"},
	 {"role":"function","name":"f","content":null},
	 {"role":"assistant","content":[{"type":"refusal","refusal":"no"}]}
	]}`
	req, err := ParseChatRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if req.Model != "gpt-4o" || !req.Stream || !req.IncludeUsage || *req.Temperature != 0.5 ||
		len(req.Stop) != 1 || req.Stop[0] != "\n\n" || req.LogitBias["50256"] != -100 || req.MaxTokens != 20 ||
		req.ReasoningEffort != "high" || len(req.Tools) != 1 || req.ToolChoice.Name != "get_weather" ||
		req.ResponseFormat.Type != "json_schema" || len(req.Messages) != 6 {
		t.Fatalf("%+v", req)
	}
	if m := req.Messages[2]; m.Content != nil || len(m.ToolCalls) != 1 || m.ToolCalls[0].Arguments != "{}" {
		t.Fatalf("assistant tool call: %+v", m)
	}
	if m := req.Messages[1]; len(m.Content) != 2 || m.Content[1].URL != "https://x/y.png" || m.Text {
		t.Fatalf("parts: %+v", m)
	}
	if m := req.Messages[0]; !m.Text || m.Content[0].Text != "be terse" {
		t.Fatalf("string content: %+v", m)
	}
}

func TestParseErrors(t *testing.T) {
	const msgs = `"messages":[{"role":"user","content":"hi"}]`
	tests := []struct {
		body  string
		param string
		code  string
	}{
		{``, "", "invalid_json"},
		{`[]`, "", "invalid_json"},
		{`{"model":`, "", "invalid_json"},
		{`"x"`, "", "invalid_json"},
		{`{` + msgs + `}`, "model", "missing_required_parameter"},
		{`{"model":"",` + msgs + `}`, "model", "invalid_value"},
		{`{"model":5,` + msgs + `}`, "model", "invalid_type"},
		{`{"model":"m"}`, "messages", "missing_required_parameter"},
		{`{"model":"m","messages":[]}`, "messages", "empty_array"},
		{`{"model":"m","messages":{}}`, "messages", "invalid_type"},
		{`{"model":"m","messages":["hi"]}`, "messages[0]", "invalid_type"},
		{`{"model":"m","messages":[{"content":"x"}]}`, "messages[0].role", "missing_required_parameter"},
		{`{"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":"b"},{"role":"bot","content":"x"}]}`, "messages[2].role", "invalid_value"},
		{`{"model":"m","messages":[{"role":7,"content":"x"}]}`, "messages[0].role", "invalid_type"},
		{`{"model":"m","messages":[{"role":"user"}]}`, "messages[0].content", "missing_required_parameter"},
		{`{"model":"m","messages":[{"role":"user","content":null}]}`, "messages[0].content", "missing_required_parameter"},
		{`{"model":"m","messages":[{"role":"assistant","content":null}]}`, "messages[0].content", "missing_required_parameter"},
		{`{"model":"m","messages":[{"role":"user","content":5}]}`, "messages[0].content", "invalid_type"},
		{`{"model":"m","messages":[{"role":"user","content":[{"type":"video","x":1}]}]}`, "messages[0].content[0].type", "invalid_value"},
		{`{"model":"m","messages":[{"role":"user","content":[{"text":"x"}]}]}`, "messages[0].content[0]", "invalid_type"},
		{`{"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]}`, "messages[0].content[0].text", "missing_required_parameter"},
		{`{"model":"m","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x"}}]}]}`, "messages[0].content[0].type", "invalid_value"},
		{`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]}`, "messages[0].content[0].image_url.url", "missing_required_parameter"},
		{`{"model":"m","messages":[{"role":"tool","content":"x"}]}`, "messages[0].tool_call_id", "missing_required_parameter"},
		{`{"model":"m","messages":[{"role":"function","content":"x"}]}`, "messages[0].name", "missing_required_parameter"},
		{`{"model":"m","messages":[{"role":"assistant","content":"x","tool_calls":[{"type":"function","function":{"name":"f"}}]}]}`, "messages[0].tool_calls[0].id", "missing_required_parameter"},
		{`{"model":"m","n":2,` + msgs + `}`, "n", "unsupported_value"},
		{`{"model":"m","n":0,` + msgs + `}`, "n", "invalid_value"},
		{`{"model":"m","n":1.5,` + msgs + `}`, "n", "invalid_type"},
		{`{"model":"m","stream":"yes",` + msgs + `}`, "stream", "invalid_type"},
		{`{"model":"m","temperature":"hot",` + msgs + `}`, "temperature", "invalid_type"},
		{`{"model":"m","temperature":3,` + msgs + `}`, "temperature", "invalid_value"},
		{`{"model":"m","stop":5,` + msgs + `}`, "stop", "invalid_type"},
		{`{"model":"m","stop":[1],` + msgs + `}`, "stop", "invalid_type"},
		{`{"model":"m","logit_bias":{"1":500},` + msgs + `}`, "logit_bias", "invalid_value"},
		{`{"model":"m","max_tokens":0,` + msgs + `}`, "max_tokens", "invalid_value"},
		{`{"model":"m","tools":[{"type":"custom"}],` + msgs + `}`, "tools[0].type", "invalid_value"},
		{`{"model":"m","tools":[{"type":"function","function":{"name":"bad name"}}],` + msgs + `}`, "tools[0].function.name", "invalid_value"},
		{`{"model":"m","tool_choice":"sometimes",` + msgs + `}`, "tool_choice", "invalid_value"},
		{`{"model":"m","tool_choice":{"type":"function","function":{"name":"nope"}},` + msgs + `}`, "tool_choice", "invalid_value"},
		{`{"model":"m","response_format":{"type":"yaml"},` + msgs + `}`, "response_format.type", "invalid_value"},
		{`{"model":"m","reasoning_effort":"max",` + msgs + `}`, "reasoning_effort", "invalid_value"},
		{`{"model":"m","stream_options":{"include_usage":"y"},` + msgs + `}`, "stream_options.include_usage", "invalid_type"},
	}
	for _, tt := range tests {
		_, err := ParseChatRequest([]byte(tt.body))
		if err == nil {
			t.Errorf("%s: accepted", tt.body)
			continue
		}
		if err.Status != 400 || err.Type != conv.TypeInvalidRequest || err.Param != tt.param || err.Code != tt.code {
			t.Errorf("%s: got param %q code %q status %d (%s), want %q %q", tt.body, err.Param, err.Code, err.Status, err.Message, tt.param, tt.code)
		}
	}
}

func TestParseIgnoresUnknownAndNulls(t *testing.T) {
	req, err := ParseChatRequest([]byte(`{"model":"m","messages":[{"role":"user","content":"x","extra":1}],"temperature":null,"stop":null,"n":null,"frobnicate":{"a":[1]}}`))
	if err != nil || req.Temperature != nil || req.Stop != nil {
		t.Fatalf("%+v %v", req, err)
	}
}

func TestErrorBody(t *testing.T) {
	b := ErrorBody(conv.InvalidRequest("messages[2].role", "invalid_value", "bad role"))
	if string(b) != `{"error":{"message":"bad role","type":"invalid_request_error","param":"messages[2].role","code":"invalid_value"}}` {
		t.Fatal(string(b))
	}
	b = ErrorBody(&conv.Error{Message: "m", Type: conv.TypeServer})
	if !strings.Contains(string(b), `"param":null,"code":null`) {
		t.Fatal(string(b))
	}
}

// The 401 message quotes <key>: the body must show it as written, not
// as \u003ckey\u003e (json.Marshal's HTML escaping).
func TestWriteErrorKeepsAngleBrackets(t *testing.T) {
	w := httptest.NewRecorder()
	WriteError(w, &conv.Error{Status: 401, Type: conv.TypeInvalidRequest, Message: "Send 'Authorization: Bearer <key>'."})
	if !strings.Contains(w.Body.String(), "Bearer <key>") {
		t.Fatal(w.Body.String())
	}
}

func BenchmarkParseChatRequest(b *testing.B) {
	body := []byte(`{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"temperature":0.7,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Hello there, how are you today?"},{"role":"assistant","content":"I am fine, thank you."},{"role":"user","content":[{"type":"text","text":"Tell me a joke."}]}]}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseChatRequest(body); err != nil {
			b.Fatal(err)
		}
	}
}
