package chat

import (
	"encoding/json"
	"testing"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
)

// FuzzParseChatRequest: the validator never panics, refuses every body
// that is not JSON as invalid_json, and every refusal is a 400 in
// OpenAI's shape with a message.
func FuzzParseChatRequest(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"m","stop":["a","b"],"logit_bias":{"1":5,"1":-5},"messages":[{"role":"user","content":[{"type":"text","text":"x"},{"type":"image_url","image_url":{"url":"https://x"}}]}]}`,
		`{"model":"m","tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":{"type":"function","function":{"name":"f"}},"messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"ok"}]}`,
		`{"model":"m","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{}}},"messages":[{"role":"function","name":"f","content":null}]}`,
		`{"mod\u0065l":"m","messages":[{"role":"user","content":[{"type":"file","file":{"file_data":"AA=="}}]}],"junk":[[[[{}]]]]}`,
		`[0,0,0]`, ` {"model":`, `{"model":"m","messages":[0,0]}`, "\"\\ud800\"",
	} {
		f.Add([]byte(s))
	}
	f.Add(benchSmall)
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := ParseChatRequest(b)
		if err == nil {
			if !json.Valid(b) || req == nil || len(req.Messages) == 0 || req.Model == "" {
				t.Fatalf("%q: accepted as %+v", b, req)
			}
			return
		}
		if err.Status != 400 || err.Type != conv.TypeInvalidRequest || err.Message == "" || req != nil {
			t.Fatalf("%q: %+v", b, err)
		}
		if !json.Valid(b) && err.Code != "invalid_json" {
			t.Fatalf("%q: invalid JSON refused with %q", b, err.Code)
		}
		if len(ErrorBody(err)) == 0 {
			t.Fatal("empty error body")
		}
	})
}
