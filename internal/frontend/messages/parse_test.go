package messages

import (
	"bytes"
	"encoding/json"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
)

func mustParse(t *testing.T, body string) (*conv.Request, options) {
	t.Helper()
	req, opts, e := parseRequest([]byte(body), false)
	if e != nil {
		t.Fatalf("%s: %v (param %s)", body, e.Message, e.Param)
	}
	return req, opts
}

// A Claude-Code-shaped request: billing header, cached system blocks, a
// role:"system" message, thinking and every field it sends that Poe has
// no use for.
const claudeCodeBody = `{"model":"claude-sonnet-4-5-20250929","max_tokens":32000,"stream":true,
 "system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=2.1"},
           {"type":"text","text":"You are Claude Code.","cache_control":{"type":"ephemeral"}},
           {"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral","ttl":"1h"}}],
 "messages":[
  {"role":"user","content":[{"type":"text","text":"<system-reminder>r</system-reminder>"},{"type":"text","text":"list files","cache_control":{"type":"ephemeral"}}]},
  {"role":"system","content":"env: linux"},
  {"role":"assistant","content":[{"type":"thinking","thinking":"plan","signature":"sig"},{"type":"redacted_thinking","data":"xx"},
     {"type":"text","text":"Running it."},{"type":"tool_use","id":"toolu_01A","name":"Bash","input":{"command":"ls"}}]},
  {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01A","content":"a.txt\nb.txt"},{"type":"text","text":"go on"}]}],
 "tools":[{"name":"Bash","description":"Run a command","input_schema":{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"command":{"type":"string"}},"additionalProperties":false}},
          {"name":"DeferredToolPlaceholder","defer_loading":true,"input_schema":{}},
          {"type":"web_search_20250305","name":"web_search","max_uses":5},
          {"type":"bash_20250124","name":"bash"}],
 "metadata":{"user_id":"{\"device_id\":\"d\"}"},
 "thinking":{"type":"adaptive","display":"omitted"},
 "context_management":{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]},
 "output_config":{"effort":"high"},"service_tier":"auto","speed":"fast","diagnostics":{},"top_p":0.9,"top_k":5,
 "some_future_field":[1,2,3]}`

func TestParseClaudeCodeRequest(t *testing.T) {
	req, opts := mustParse(t, claudeCodeBody)
	if req.Model != "claude-sonnet-4-5-20250929" || req.MaxTokens != 32000 || !req.Stream || !req.IncludeUsage {
		t.Fatalf("%+v", req)
	}
	if req.ReasoningEffort != "high" || opts.thinking {
		t.Fatalf("effort %q thinking %v", req.ReasoningEffort, opts.thinking)
	}
	if len(req.Tools) != 1 || req.Tools[0].Name != "Bash" || req.Tools[0].Description != "Run a command" ||
		!json.Valid(req.Tools[0].Parameters) || !strings.Contains(string(req.Tools[0].Parameters), `"additionalProperties":false`) {
		t.Fatalf("tools %+v", req.Tools)
	}
	type want struct{ role, text, param, toolID string }
	got := []want{}
	for _, m := range req.Messages {
		var texts []string
		for _, p := range m.Content {
			texts = append(texts, p.Text)
		}
		got = append(got, want{m.Role, strings.Join(texts, "|"), m.Param, m.ToolCallID})
	}
	exp := []want{
		{"system", "You are Claude Code.|Be brief.", "system", ""},
		{"user", "<system-reminder>r</system-reminder>|list files", "messages[0]", ""},
		{"system", "env: linux", "messages[1]", ""},
		{"assistant", "Running it.", "messages[2]", ""},
		{"tool", "a.txt\nb.txt", "messages[3].content[0]", "toolu_01A"},
		{"user", "go on", "messages[3]", ""},
	}
	if len(got) != len(exp) {
		t.Fatalf("messages %+v", got)
	}
	for i := range exp {
		if got[i] != exp[i] {
			t.Errorf("message %d: %+v, want %+v", i, got[i], exp[i])
		}
	}
	calls := req.Messages[3].ToolCalls
	if len(calls) != 1 || calls[0].ID != "toolu_01A" || calls[0].Name != "Bash" || calls[0].Arguments != `{"command":"ls"}` || calls[0].Type != "function" {
		t.Fatalf("calls %+v", calls)
	}
	if m := req.Messages[4]; m.IDParam != "messages[3].content[0].tool_use_id" {
		t.Fatalf("IDParam %q", m.IDParam)
	}
	if p := req.Messages[1].Content[1]; p.Param != "messages[0].content[1]" {
		t.Fatalf("part param %q", p.Param)
	}
}

func TestParseFields(t *testing.T) {
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	for _, c := range []struct {
		body    string
		check   func(*conv.Request, options) bool
		comment string
	}{
		{`{"model":"m","max_tokens":5,` + msgs + `}`, func(r *conv.Request, o options) bool {
			return r.MaxTokens == 5 && !r.Stream && r.ReasoningEffort == "" && r.Temperature == nil && r.Messages[0].Text && !o.thinking
		}, "minimal"},
		{`{"model":"m","max_tokens":5,"temperature":0.5,"stop_sequences":["END","##"],` + msgs + `}`, func(r *conv.Request, _ options) bool {
			return *r.Temperature == 0.5 && len(r.Stop) == 2 && r.Stop[1] == "##"
		}, "sampling"},
		{`{"model":"m","max_tokens":5,"system":"Be nice.",` + msgs + `}`, func(r *conv.Request, _ options) bool {
			return len(r.Messages) == 2 && r.Messages[0].Role == "system" && r.Messages[0].Content[0].Text == "Be nice."
		}, "system string"},
		{`{"model":"m","max_tokens":5,"system":"x-anthropic-billing-header: a",` + msgs + `}`, func(r *conv.Request, _ options) bool {
			return len(r.Messages) == 1
		}, "billing header only"},
		{`{"model":"m","max_tokens":5,"thinking":{"type":"enabled","budget_tokens":1024},` + msgs + `}`, func(r *conv.Request, o options) bool {
			return r.ReasoningEffort == "low" && o.thinking
		}, "budget low"},
		{`{"model":"m","max_tokens":5,"thinking":{"type":"enabled","budget_tokens":8000},` + msgs + `}`, func(r *conv.Request, o options) bool {
			return r.ReasoningEffort == "medium" && o.thinking
		}, "budget medium"},
		{`{"model":"m","max_tokens":5,"thinking":{"type":"enabled","budget_tokens":20000,"display":"summarized"},` + msgs + `}`, func(r *conv.Request, o options) bool {
			return r.ReasoningEffort == "high" && o.thinking
		}, "budget high"},
		{`{"model":"m","max_tokens":5,"thinking":{"type":"adaptive"},` + msgs + `}`, func(r *conv.Request, o options) bool {
			return r.ReasoningEffort == "medium" && o.thinking
		}, "adaptive"},
		{`{"model":"m","max_tokens":5,"thinking":{"type":"adaptive"},"output_config":{"effort":"max"},` + msgs + `}`, func(r *conv.Request, o options) bool {
			return r.ReasoningEffort == "xhigh" && o.thinking
		}, "adaptive max"},
		{`{"model":"m","max_tokens":5,"thinking":{"type":"disabled"},` + msgs + `}`, func(r *conv.Request, o options) bool {
			return r.ReasoningEffort == "none" && !o.thinking
		}, "disabled"},
		{`{"model":"m","max_tokens":5,"output_config":{"effort":"low","format":{"type":"json_schema"}},` + msgs + `}`, func(r *conv.Request, o options) bool {
			return r.ReasoningEffort == "low" && !o.thinking
		}, "effort alone"},
		{`{"model":"m","max_tokens":5,"tools":[{"name":"a","input_schema":{"type":"object"}},{"name":"b","input_schema":{"type":"object"}}],"tool_choice":{"type":"any","disable_parallel_tool_use":true},` + msgs + `}`, func(r *conv.Request, _ options) bool {
			return r.ToolChoice.Mode == conv.ToolChoiceRequired && len(r.Tools) == 2
		}, "any"},
		{`{"model":"m","max_tokens":5,"tools":[{"name":"a","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"a"},` + msgs + `}`, func(r *conv.Request, _ options) bool {
			return r.ToolChoice == conv.ToolChoice{Mode: conv.ToolChoiceFunction, Name: "a"}
		}, "tool"},
		{`{"model":"m","max_tokens":5,"tools":[{"name":"a","input_schema":{"type":"object"}}],"tool_choice":{"type":"none"},` + msgs + `}`, func(r *conv.Request, _ options) bool {
			return r.ToolChoice.Mode == conv.ToolChoiceNone
		}, "none"},
		{`{"model":"m","max_tokens":5,"tools":[{"name":"a"}],"tool_choice":{"type":"auto"},` + msgs + `}`, func(r *conv.Request, _ options) bool {
			return r.ToolChoice.Mode == conv.ToolChoiceAuto && r.Tools[0].Parameters == nil
		}, "auto"},
		{`{"model":"m","max_tokens":5,"tools":[{"type":"web_search_20250305","name":"web_search"}],"tool_choice":{"type":"tool","name":"web_search"},` + msgs + `}`, func(r *conv.Request, _ options) bool {
			return len(r.Tools) == 0 && r.ToolChoice.Mode == ""
		}, "server tool named by tool_choice"},
		{`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},{"type":"image","source":{"type":"url","url":"https://x/y.png"}}]}]}`, func(r *conv.Request, _ options) bool {
			c := r.Messages[0].Content
			return len(c) == 2 && c[0].Type == conv.PartImageURL && c[0].URL == "data:image/png;base64,iVBORw0KGgo=" &&
				c[0].Param == "messages[0].content[0]" && c[1].URL == "https://x/y.png"
		}, "images"},
		{`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO\/w0K"}}]}]}`, func(r *conv.Request, _ options) bool {
			return r.Messages[0].Content[0].URL == "data:image/png;base64,iVBO/w0K"
		}, "escaped base64"},
		{`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","title":"r.pdf","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}},{"type":"document","source":{"type":"text","media_type":"text/plain","data":"plain doc"}},{"type":"document","source":{"type":"url","url":"https://x/d.pdf"}},{"type":"document","source":{"type":"content","content":[{"type":"text","text":"inner"}]}}]}]}`, func(r *conv.Request, _ options) bool {
			c := r.Messages[0].Content
			return len(c) == 4 && c[0].Type == conv.PartFile && c[0].FileData == "data:application/pdf;base64,JVBERi0=" && c[0].Filename == "r.pdf" &&
				c[1].Type == conv.PartText && c[1].Text == "plain doc" && c[2].URL == "https://x/d.pdf" && c[3].Text == "inner"
		}, "documents"},
		{`{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{}},{"type":"tool_use","id":"t2","name":"g","input":{"a":[1]}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","is_error":true,"content":[{"type":"text","text":"boom"},{"type":"text","text":"again"},{"type":"image","source":{"type":"url","url":"https://x/i.png"}},{"type":"tool_reference","tool_name":"x"}]},{"type":"tool_result","tool_use_id":"t2"}]}]}`, func(r *conv.Request, _ options) bool {
			m := r.Messages
			return len(m) == 4 && m[1].Role == "tool" && m[1].Content[0].Text == "Error: boom\nagain" && m[2].ToolCallID == "t2" &&
				m[2].Content[0].Text == "" && m[3].Role == "user" && len(m[3].Content) == 1 && m[3].Content[0].URL == "https://x/i.png" &&
				m[0].ToolCalls[1].Arguments == `{"a":[1]}` && m[0].Content == nil
		}, "tool results"},
		{`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"search_result","x":1},{"type":"text","text":"q"}]},{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":""}]}]}`, func(r *conv.Request, _ options) bool {
			return len(r.Messages) == 1 && r.Messages[0].Content[0].Text == "q"
		}, "unknown blocks and thinking-only turns dropped"},
		{`{"model":"m","max_tokens":1e3,"stream":false,"metadata":null,` + msgs + `}`, func(r *conv.Request, _ options) bool {
			return r.MaxTokens == 1000
		}, "number forms"},
	} {
		req, opts := mustParse(t, c.body)
		if !c.check(req, opts) {
			t.Errorf("%s: %+v %+v", c.comment, req, opts)
		}
	}
}

func TestParseCount(t *testing.T) {
	req, e := FrontEnd{}.ParseCount([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}],"system":"s"}`))
	if e != nil || req.MaxTokens != 0 || len(req.Messages) != 2 {
		t.Fatalf("%v %+v", e, req)
	}
	if _, e := (FrontEnd{}).ParseCount([]byte(`{"model":"m"}`)); e == nil || e.Param != "messages" {
		t.Fatalf("%+v", e)
	}
}

func TestParseErrorsNameTheField(t *testing.T) {
	head := `{"model":"m","max_tokens":5,`
	user := func(content string) string { return head + `"messages":[{"role":"user","content":` + content + `}]}` }
	for _, c := range []struct{ body, param string }{
		{`[]`, ""},
		{`{"model":`, ""},
		{`{"max_tokens":5,"messages":[]}`, "model"},
		{`{"model":3,"max_tokens":5}`, "model"},
		{`{"model":"m","messages":[{"role":"user","content":"x"}]}`, "max_tokens"},
		{`{"model":"m","max_tokens":0,"messages":[]}`, "max_tokens"},
		{`{"model":"m","max_tokens":2.5,"messages":[]}`, "max_tokens"},
		{head + `"stream":"yes","messages":[]}`, "stream"},
		{head + `"messages":{}}`, "messages"},
		{head + `"messages":[]}`, "messages"},
		{head + `"temperature":3,"messages":[]}`, "temperature"},
		{head + `"stop_sequences":"x","messages":[]}`, "stop_sequences"},
		{head + `"stop_sequences":["x",1],"messages":[]}`, "stop_sequences[1]"},
		{head + `"tools":{},"messages":[]}`, "tools"},
		{head + `"tools":[{"name":"ok"},{"name":"bad name"}],"messages":[]}`, "tools[1].name"},
		{head + `"tools":[{"name":"a"},{"name":"a"}],"messages":[]}`, "tools[1].name"},
		{head + `"tools":[{"name":"a","input_schema":"x"}],"messages":[]}`, "tools[0].input_schema"},
		{head + `"tools":[{"name":"a","description":1}],"messages":[]}`, "tools[0].description"},
		{head + `"tool_choice":"auto","messages":[]}`, "tool_choice"},
		{head + `"tool_choice":{"type":"sometimes"},"messages":[]}`, "tool_choice.type"},
		{head + `"tools":[{"name":"a"}],"tool_choice":{"type":"tool","name":"b"},"messages":[]}`, "tool_choice.name"},
		{head + `"thinking":{"type":"enabled"},"messages":[]}`, "thinking.budget_tokens"},
		{head + `"thinking":{"type":"on"},"messages":[]}`, "thinking.type"},
		{head + `"thinking":true,"messages":[]}`, "thinking"},
		{head + `"output_config":{"effort":"huge"},"messages":[]}`, "output_config.effort"},
		{head + `"system":5,"messages":[]}`, "system"},
		{head + `"system":[{"type":"text"}],"messages":[]}`, "system[0].text"},
		{head + `"messages":[{"role":"user","content":"x"},"no"]}`, "messages[1]"},
		{head + `"messages":[{"content":"x"}]}`, "messages[0].role"},
		{head + `"messages":[{"role":"tool","content":"x"}]}`, "messages[0].role"},
		{head + `"messages":[{"role":"user"}]}`, "messages[0].content"},
		{user(`[{"text":"x"}]`), "messages[0].content[0].type"},
		{user(`["x"]`), "messages[0].content[0]"},
		{user(`[{"type":"text","text":1}]`), "messages[0].content[0].text"},
		{user(`[{"type":"text","text":"a"},{"type":"image"}]`), "messages[0].content[1].source"},
		{user(`[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"not base64!"}}]`), "messages[0].content[0].source.data"},
		{user(`[{"type":"image","source":{"type":"base64","media_type":"image/png","data":""}}]`), "messages[0].content[0].source.data"},
		{user(`[{"type":"image","source":{"type":"base64","media_type":"image/png"}}]`), "messages[0].content[0].source.data"},
		{user(`[{"type":"image","source":{"type":"base64","media_type":"image/tiff","data":"AAAA"}}]`), "messages[0].content[0].source.media_type"},
		{user(`[{"type":"image","source":{"type":"base64","data":"AAAA"}}]`), "messages[0].content[0].source.media_type"},
		{user(`[{"type":"image","source":{"type":"url"}}]`), "messages[0].content[0].source.url"},
		{user(`[{"type":"image","source":{"type":"file","file_id":"f"}}]`), "messages[0].content[0].source.file_id"},
		{user(`[{"type":"image","source":{"type":"ftp"}}]`), "messages[0].content[0].source.type"},
		{user(`[{"type":"image","source":{}}]`), "messages[0].content[0].source.type"},
		{user(`[{"type":"document","source":{"type":"base64","media_type":"text/html","data":"AAAA"}}]`), "messages[0].content[0].source.media_type"},
		{user(`[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"@@"}}]`), "messages[0].content[0].source.data"},
		{user(`[{"type":"document","source":{"type":"content","content":5}}]`), "messages[0].content[0].source.content"},
		{user(`[{"type":"document","source":{"type":"content","content":[{"type":"image","source":{"type":"url"}}]}}]`), "messages[0].content[0].source.content[0].source.url"},
		{user(`[{"type":"document","source":{"type":"nope"}}]`), "messages[0].content[0].source.type"},
		{user(`[{"type":"tool_result","content":"x"}]`), "messages[0].content[0].tool_use_id"},
		{user(`[{"type":"tool_result","tool_use_id":"t","content":5}]`), "messages[0].content[0].content"},
		{user(`[{"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"%"}}]}]`), "messages[0].content[0].content[0].source.data"},
		{head + `"messages":[{"role":"assistant","content":[{"type":"tool_use","name":"f","input":{}}]}]}`, "messages[0].content[0].id"},
		{head + `"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","input":{}}]}]}`, "messages[0].content[0].name"},
		{head + `"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":"{}"}]}]}`, "messages[0].content[0].input"},
		{head + `"messages":[{"role":"system","content":[{"type":"text"}]}]}`, "messages[0].content[0].text"},
	} {
		_, _, e := parseRequest([]byte(c.body), false)
		if e == nil {
			t.Errorf("%s: accepted", c.body)
			continue
		}
		if e.Status != http.StatusBadRequest || e.Type != conv.TypeInvalidRequest || e.Param != c.param ||
			(c.param != "" && !strings.HasPrefix(e.Message, c.param)) {
			t.Errorf("%s: %d %s param %q, want %q: %s", c.body, e.Status, e.Type, e.Param, c.param, e.Message)
		}
	}
}

func TestValidBase64(t *testing.T) {
	for s, want := range map[string]bool{"AAAA": true, "AAA=": true, "AA==": true, "AAAAB": false, "AB-_": true,
		"A===": false, "AA=A": false, "": false, "AA\nAA": true, "AA AA": true, "AA*A": false, "AAA": true} {
		if got := validBase64([]byte(s)); got != want {
			t.Errorf("%q: %v", s, got)
		}
	}
}

// TestHostileBodyCostsLittle: a field nobody reads is skipped, not
// indexed, whatever its shape (the eager tree this package once had
// allocated about 25 bytes per array element: 200 MB here).
func TestHostileBodyCostsLittle(t *testing.T) {
	junk := bytes.Repeat([]byte("0,"), 4<<20)
	body := append([]byte(`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"junk":[`), junk...)
	body = append(body, "0]}"...)
	allocs := testing.AllocsPerRun(2, func() {
		if _, _, e := parseRequest(body, false); e != nil {
			t.Fatal(e.Message)
		}
	})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	parseRequest(body, false)
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; allocs > 100 || grew > 64<<10 {
		t.Fatalf("an 8 MB ignored array cost %v allocations, %d bytes", allocs, grew)
	}
	if _, _, e := parseRequest(append([]byte("[1,"), junk...), false); e == nil || e.Code != "invalid_json" {
		t.Fatalf("a top-level array: %+v", e)
	}
}
