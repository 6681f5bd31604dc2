package responses

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
)

func noPrev(string) ([]conv.Message, bool) { return nil, false }

func mustParse(t *testing.T, body string) (*conv.Request, *echo, toolNames) {
	t.Helper()
	req, e, names, err := parseRequest([]byte(body), noPrev)
	if err != nil {
		t.Fatalf("parse %s: %v (param %s)", body, err, err.Param)
	}
	return req, e, names
}

func TestParseStringInputAndFields(t *testing.T) {
	req, e, _ := mustParse(t, `{"model":"gpt-4o","input":"hi","instructions":"be brief","stream":true,
		"max_output_tokens":100,"temperature":0.5,"top_p":0.9,"reasoning":{"effort":"high","summary":"auto"},
		"metadata":{"k":"v"},"store":false,"parallel_tool_calls":false,"include":["reasoning.encrypted_content"],
		"prompt_cache_key":"x","client_metadata":{"a":"b"},"text":{"format":{"type":"json_schema","name":"s","schema":{"type":"object"}},"verbosity":"low"}}`)
	if req.Model != "gpt-4o" || !req.Stream || req.MaxTokens != 100 || *req.Temperature != 0.5 || req.ReasoningEffort != "high" || !req.IncludeUsage {
		t.Fatalf("request: %+v", req)
	}
	if len(req.Messages) != 2 || req.Messages[0].Role != conv.RoleSystem || req.Messages[0].Content[0].Text != "be brief" ||
		req.Messages[1].Role != conv.RoleUser || req.Messages[1].Content[0].Text != "hi" || req.Messages[1].Param != "input" {
		t.Fatalf("messages: %+v", req.Messages)
	}
	if req.ResponseFormat.Type != "json_schema" || req.ResponseFormat.SchemaName != "s" || string(req.ResponseFormat.Schema) != `{"type":"object"}` {
		t.Fatalf("format: %+v", req.ResponseFormat)
	}
	if e.store || e.parallelToolCalls || e.metadata["k"] != "v" || *e.summary != "auto" || *e.topP != 0.9 || *e.instructions != "be brief" {
		t.Fatalf("echo: %+v", e)
	}
	// Defaults: store true, parallel true, no stream.
	req, e, _ = mustParse(t, `{"model":"m","input":"x","text":{"format":{"type":"json_object"}}}`)
	if req.Stream || !e.store || !e.parallelToolCalls || req.ResponseFormat.Type != "json_object" {
		t.Fatalf("defaults: %+v %+v", req, e)
	}
}

// codexInput is the shape of Codex's second turn (frontends.md §1.2).
const codexInput = `{"model":"gpt-4o","stream":true,"store":false,"tool_choice":"auto","parallel_tool_calls":true,
"tools":[{"type":"function","name":"exec_command","parameters":{"type":"object","properties":{"cmd":{"type":"string"}}},"strict":false},
 {"type":"namespace","name":"multi_agent_v1","description":"agents","tools":[{"type":"function","name":"close_agent","parameters":{"type":"object"}}]},
 {"type":"custom","name":"apply_patch","format":{"type":"grammar","syntax":"lark","definition":"x"}},
 {"type":"web_search","external_web_access":false}],
"input":[
 {"type":"message","role":"developer","id":"msg_a","content":[{"type":"input_text","text":"base"}]},
 {"type":"message","role":"user","content":[{"type":"input_text","text":"run it"},{"type":"input_image","image_url":"data:image/png;base64,AAAA","detail":"auto"}]},
 {"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"thinking"}],"content":null,"encrypted_content":null},
 {"type":"message","status":"completed","id":"msg_1","role":"assistant","content":[{"type":"output_text","text":"Running it.","annotations":[]}]},
 {"type":"function_call","status":"completed","id":"fc_1","name":"exec_command","arguments":"{\"cmd\": \"ls\"}","call_id":"call_abc"},
 {"type":"function_call","id":"fc_2","name":"close_agent","namespace":"multi_agent_v1","arguments":"","call_id":"call_def"},
 {"type":"custom_tool_call","id":"ctc_1","name":"apply_patch","input":"*** Begin Patch","call_id":"call_ghi"},
 {"type":"function_call_output","id":"fco_1","call_id":"call_abc","output":"a.txt\n"},
 {"type":"function_call_output","call_id":"call_def","output":[{"type":"input_text","text":"closed"},{"type":"input_image","image_url":"https://x/y.png"}]},
 {"type":"custom_tool_call_output","call_id":"call_ghi","output":"patched"},
 {"type":"item_reference","id":"x"},
 {"type":"web_search_call","id":"ws","action":{"type":"search"}},
 {"type":"compaction","encrypted_content":"zzz"},
 {"role":"user","content":"thanks"}
]}`

func TestParseCodexTurn(t *testing.T) {
	req, e, names := mustParse(t, codexInput)
	if len(req.Tools) != 3 || req.Tools[0].Name != "exec_command" || req.Tools[1].Name != "close_agent" || req.Tools[2].Name != "apply_patch" {
		t.Fatalf("tools: %+v", req.Tools)
	}
	if !strings.Contains(string(req.Tools[2].Parameters), `"input"`) {
		t.Fatalf("custom tool schema: %s", req.Tools[2].Parameters)
	}
	if names["close_agent"] != (toolRef{namespace: "multi_agent_v1", name: "close_agent"}) || !names["apply_patch"].custom {
		t.Fatalf("names: %+v", names)
	}
	if req.ToolChoice.Mode != conv.ToolChoiceAuto || string(e.toolChoice) != `"auto"` {
		t.Fatalf("tool choice: %+v", req.ToolChoice)
	}
	var roles []string
	for _, m := range req.Messages {
		roles = append(roles, m.Role+"@"+m.Param)
	}
	want := "developer@input[0] user@input[1] assistant@input[3] tool@input[7] tool@input[8] tool@input[9] user@input[8].output[1] user@input[13]"
	if got := strings.Join(roles, " "); got != want {
		t.Fatalf("messages:\n got %s\nwant %s", got, want)
	}
	a := req.Messages[2]
	if a.Content[0].Text != "Running it." || len(a.ToolCalls) != 3 ||
		a.ToolCalls[0] != (conv.ToolCall{ID: "call_abc", Type: "function", Name: "exec_command", Arguments: `{"cmd": "ls"}`}) ||
		a.ToolCalls[1].Name != "close_agent" || a.ToolCalls[1].Arguments != "{}" ||
		a.ToolCalls[2].Arguments != `{"input":"*** Begin Patch"}` {
		t.Fatalf("assistant: %+v", a)
	}
	if tm := req.Messages[4]; tm.ToolCallID != "call_def" || tm.Content[0].Text != "closed" || tm.IDParam != "input[8].call_id" {
		t.Fatalf("tool output: %+v", tm)
	}
	if img := req.Messages[6].Content[0]; img.Type != conv.PartImageURL || img.URL != "https://x/y.png" || img.Param != "input[8].output[1]" {
		t.Fatalf("output image: %+v", img)
	}
	if p := req.Messages[1].Content[1]; p.Type != conv.PartImageURL || p.Param != "input[1].content[1]" {
		t.Fatalf("image part: %+v", p)
	}
}

func TestParseFilesAndParts(t *testing.T) {
	req, _, _ := mustParse(t, `{"model":"m","input":[{"role":"user","content":[
		{"type":"input_file","file_data":"data:application/pdf;base64,AAAA","filename":"a.pdf"},
		{"type":"input_file","file_url":"https://x/a.pdf"},
		{"type":"something_new","x":1}]},
		{"role":"assistant","content":[{"type":"refusal","refusal":"no"}]},
		{"role":"system","content":"sys"}]}`)
	c := req.Messages[0].Content
	if len(c) != 2 || c[0].Type != conv.PartFile || c[0].FileData == "" || c[0].Filename != "a.pdf" || c[1].Type != conv.PartImageURL || c[1].URL != "https://x/a.pdf" {
		t.Fatalf("parts: %+v", c)
	}
	if p := req.Messages[1].Content[0]; p.Type != conv.PartRefusal || p.Text != "no" {
		t.Fatalf("refusal: %+v", p)
	}
	if m := req.Messages[2]; m.Role != conv.RoleSystem || !m.Text || m.Content[0].Param != "input[2].content" {
		t.Fatalf("system: %+v", m)
	}
}

func TestParseToolChoice(t *testing.T) {
	tools := `"tools":[{"type":"function","name":"f"},{"type":"custom","name":"c"},{"type":"namespace","name":"ns","tools":[{"type":"function","name":"g"}]}]`
	for choice, want := range map[string]conv.ToolChoice{
		`"none"`:                         {Mode: conv.ToolChoiceNone},
		`"required"`:                     {Mode: conv.ToolChoiceRequired},
		`{"type":"function","name":"f"}`: {Mode: conv.ToolChoiceFunction, Name: "f"},
		`{"type":"custom","name":"c"}`:   {Mode: conv.ToolChoiceFunction, Name: "c"},
		`{"type":"function","name":"g","namespace":"ns"}`:                                                                    {Mode: conv.ToolChoiceFunction, Name: "g"},
		`{"type":"allowed_tools","mode":"auto","tools":[{"type":"function","name":"f"}]}`:                                    {Mode: conv.ToolChoiceAuto},
		`{"type":"allowed_tools","mode":"required","tools":[{"type":"function","name":"f"}]}`:                                {Mode: conv.ToolChoiceFunction, Name: "f"},
		`{"type":"allowed_tools","mode":"required","tools":[{"type":"function","name":"f"},{"type":"function","name":"c"}]}`: {Mode: conv.ToolChoiceRequired},
		`{"type":"web_search"}`: {Mode: conv.ToolChoiceAuto},
	} {
		req, e, _ := mustParse(t, `{"model":"m","input":"x",`+tools+`,"tool_choice":`+choice+`}`)
		if req.ToolChoice != want || string(e.toolChoice) != choice {
			t.Errorf("%s: %+v (echo %s)", choice, req.ToolChoice, e.toolChoice)
		}
	}
	// Only hosted tools: nothing to choose from.
	req, _, _ := mustParse(t, `{"model":"m","input":"x","tools":[{"type":"web_search"}],"tool_choice":"required"}`)
	if len(req.Tools) != 0 || req.ToolChoice != (conv.ToolChoice{}) {
		t.Fatalf("hosted only: %+v %+v", req.Tools, req.ToolChoice)
	}
}

func TestParseNamespaceCollision(t *testing.T) {
	req, _, names := mustParse(t, `{"model":"m","input":[{"type":"function_call","call_id":"c1","name":"f","namespace":"ns","arguments":"{}"}],
		"tools":[{"type":"function","name":"f"},{"type":"namespace","name":"ns","tools":[{"type":"function","name":"f"}]}]}`)
	if req.Tools[1].Name != "ns__f" || names["ns__f"] != (toolRef{namespace: "ns", name: "f"}) || req.Messages[0].ToolCalls[0].Name != "ns__f" {
		t.Fatalf("%+v %+v %+v", req.Tools, names, req.Messages)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tt := range []struct{ body, param, code string }{
		{`[]`, "", "invalid_json"},
		{`{"model":"m","input":"x"`, "", "invalid_json"},
		{`{"input":"x"}`, "model", "missing_required_parameter"},
		{`{"model":3,"input":"x"}`, "model", "invalid_type"},
		{`{"model":"m"}`, "input", "missing_required_parameter"},
		{`{"model":"m","input":[]}`, "input", "invalid_value"},
		{`{"model":"m","input":5}`, "input", "invalid_type"},
		{`{"model":"m","input":"x","stream":"yes"}`, "stream", "invalid_type"},
		{`{"model":"m","input":"x","store":1}`, "store", "invalid_type"},
		{`{"model":"m","input":"x","max_output_tokens":0}`, "max_output_tokens", "invalid_value"},
		{`{"model":"m","input":"x","max_output_tokens":"5"}`, "max_output_tokens", "invalid_type"},
		{`{"model":"m","input":"x","temperature":3}`, "temperature", "invalid_value"},
		{`{"model":"m","input":"x","reasoning":{"effort":"huge"}}`, "reasoning.effort", "invalid_value"},
		{`{"model":"m","input":"x","reasoning":"high"}`, "reasoning", "invalid_type"},
		{`{"model":"m","input":"x","text":{"format":{"type":"xml"}}}`, "text.format.type", "invalid_value"},
		{`{"model":"m","input":"x","text":{"format":{"type":"json_schema","name":"s"}}}`, "text.format.schema", "missing_required_parameter"},
		{`{"model":"m","input":"x","metadata":{"a":1}}`, "metadata", "invalid_type"},
		{`{"model":"m","input":"x","include":"all"}`, "include", "invalid_type"},
		{`{"model":"m","input":"x","instructions":5}`, "instructions", "invalid_type"},
		{`{"model":"m","input":"x","tools":{}}`, "tools", "invalid_type"},
		{`{"model":"m","input":"x","tools":[{"type":"function","name":"bad name"}]}`, "tools[0].name", "invalid_value"},
		{`{"model":"m","input":"x","tools":[{"type":"function","name":"f"},{"type":"function","name":"f"}]}`, "tools[1].name", "invalid_value"},
		{`{"model":"m","input":"x","tools":[{"name":"f"}]}`, "tools[0].type", "missing_required_parameter"},
		{`{"model":"m","input":"x","tools":[{"type":"function","name":"f","parameters":[]}]}`, "tools[0].parameters", "invalid_type"},
		{`{"model":"m","input":"x","tools":[{"type":"namespace","name":"ns","tools":[{"type":"function","name":""}]}]}`, "tools[0].tools[0].name", "invalid_value"},
		{`{"model":"m","input":"x","tools":[{"type":"function","name":"f"}],"tool_choice":"sometimes"}`, "tool_choice", "invalid_value"},
		{`{"model":"m","input":"x","tools":[{"type":"function","name":"f"}],"tool_choice":{"type":"function","name":"g"}}`, "tool_choice.name", "invalid_value"},
		{`{"model":"m","input":"x","previous_response_id":7}`, "previous_response_id", "invalid_type"},
		{`{"model":"m","input":["x"]}`, "input[0]", "invalid_type"},
		{`{"model":"m","input":[{"content":"x"}]}`, "input[0].type", "missing_required_parameter"},
		{`{"model":"m","input":[{"role":"tool","content":"x"}]}`, "input[0].role", "invalid_value"},
		{`{"model":"m","input":[{"role":"user"}]}`, "input[0].content", "missing_required_parameter"},
		{`{"model":"m","input":[{"role":"user","content":5}]}`, "input[0].content", "invalid_type"},
		{`{"model":"m","input":[{"role":"user","content":[{"text":"x"}]}]}`, "input[0].content[0].type", "missing_required_parameter"},
		{`{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":5}]}]}`, "input[0].content[0].text", "invalid_type"},
		{`{"model":"m","input":[{"role":"user","content":[{"type":"input_image"}]}]}`, "input[0].content[0].image_url", "missing_required_parameter"},
		{`{"model":"m","input":[{"role":"user","content":[{"type":"input_image","file_id":"file_1"}]}]}`, "input[0].content[0].file_id", "unsupported_value"},
		{`{"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_id":"file_1"}]}]}`, "input[0].content[0].file_id", "unsupported_value"},
		{`{"model":"m","input":[{"role":"user","content":[{"type":"input_file"}]}]}`, "input[0].content[0].file_data", "missing_required_parameter"},
		{`{"model":"m","input":[{"role":"system","content":[{"type":"input_image","image_url":"https://x"}]}]}`, "input[0].content[0].type", "invalid_value"},
		{`{"model":"m","input":[{"type":"function_call","name":"f","arguments":"{}"}]}`, "input[0].call_id", "missing_required_parameter"},
		{`{"model":"m","input":[{"type":"function_call","call_id":"c","arguments":"{}"}]}`, "input[0].name", "missing_required_parameter"},
		{`{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":{}}]}`, "input[0].arguments", "invalid_type"},
		{`{"model":"m","input":[{"type":"custom_tool_call","call_id":"c","name":"f","input":1}]}`, "input[0].input", "invalid_type"},
		{`{"model":"m","input":[{"role":"user","content":"x"},{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},
			{"role":"user","content":"y"},{"type":"function_call_output","call_id":"c2","output":"z"}]}`, "input[3].call_id", "invalid_value"},
		{`{"model":"m","input":[{"type":"function_call_output","call_id":"c9","output":"z"}]}`, "input[0].call_id", "invalid_value"},
		{`{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f"},{"type":"function_call_output","call_id":"c"}]}`, "input[1].output", "missing_required_parameter"},
		{`{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f"},{"type":"function_call_output","call_id":"c","output":{}}]}`, "input[1].output", "invalid_type"},
		{`{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f"},{"type":"function_call_output","call_id":"c","output":[{"type":"input_text","text":1}]}]}`, "input[1].output[0].text", "invalid_type"},
	} {
		_, _, _, err := parseRequest([]byte(tt.body), noPrev)
		if err == nil || err.Status != 400 || err.Param != tt.param || err.Code != tt.code || err.Type != conv.TypeInvalidRequest {
			t.Errorf("%s: got %+v, want param %q code %q", tt.body, err, tt.param, tt.code)
		}
	}
}

func TestParseLenient(t *testing.T) {
	// Unknown top-level fields, item types, part types and nulls are fine.
	req, _, _ := mustParse(t, `{"model":"m","input":[
		{"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":"opaque"},
		{"type":"reasoning","id":"rs_2","summary":[],"encrypted_content":null,"content":null},
		{"type":"mcp_list_tools","tools":[1,2]},
		{"type":"local_shell_call","call_id":5},
		{"role":"user","content":"x","id":"msg_1","phase":"final"}],
		"instructions":null,"tools":null,"tool_choice":null,"reasoning":null,"text":null,"metadata":null,
		"service_tier":"auto","background":false,"conversation":null,"truncation":"auto","user":"u"}`)
	if len(req.Messages) != 1 || req.Messages[0].Content[0].Text != "x" {
		t.Fatalf("%+v", req.Messages)
	}
}

func TestParseEscapesAndUnicode(t *testing.T) {
	req, _, _ := mustParse(t, `{"model":"m","input":"caf\u00e9 \"q\"\n`+"\xff"+`"}`)
	if got := req.Messages[0].Content[0].Text; got != "café \"q\"\n\ufffd" {
		t.Fatalf("%q", got)
	}
}

func TestParsePreviousResponse(t *testing.T) {
	history := []conv.Message{
		{Role: conv.RoleUser, Content: []conv.Part{{Type: conv.PartText, Text: "q1"}}, Param: storedParam},
		{Role: conv.RoleAssistant, ToolCalls: []conv.ToolCall{{ID: "call_1", Type: "function", Name: "f", Arguments: "{}"}}, Param: storedParam},
	}
	prev := func(id string) ([]conv.Message, bool) { return history, id == "resp_1" }
	req, e, _, err := parseRequest([]byte(`{"model":"m","instructions":"sys","previous_response_id":"resp_1",
		"input":[{"type":"function_call_output","call_id":"call_1","output":"42"}]}`), prev)
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Messages) != 4 || req.Messages[0].Param != "instructions" || req.Messages[1].Content[0].Text != "q1" ||
		req.Messages[3].ToolCallID != "call_1" || *e.previousID != "resp_1" {
		t.Fatalf("%+v", req.Messages)
	}
	_, _, _, err = parseRequest([]byte(`{"model":"m","input":"x","previous_response_id":"resp_2"}`), prev)
	if err == nil || err.Status != 404 || err.Param != "previous_response_id" || err.Code != "previous_response_not_found" || !strings.Contains(err.Message, "resp_2") {
		t.Fatalf("unknown id: %+v", err)
	}
}

// TestParseKeepsNoBody checks that nothing a stored conversation holds
// points into the request body, which the core may reuse.
func TestParseKeepsNoBody(t *testing.T) {
	body := []byte(`{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"hello"}]}]}`)
	req, _, _, err := parseRequest(body, noPrev)
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 'x'
	}
	if req.Messages[0].Content[0].Text != "hello" || req.Model != "m" {
		t.Fatalf("%+v", req.Messages)
	}
}

func BenchmarkParseCodexTurn(b *testing.B) {
	// A Codex-sized body: ~40 KB of instructions and tools, a few turns.
	var sb strings.Builder
	sb.WriteString(`{"model":"gpt-4o","stream":true,"store":false,"tool_choice":"auto","tools":[`)
	for i := range 12 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"type":"function","name":"tool_` + string(rune('a'+i)) + `","description":"` + strings.Repeat("Does a thing. ", 60) +
			`","parameters":{"type":"object","properties":{"cmd":{"type":"string","description":"the command"}},"required":["cmd"],"additionalProperties":false},"strict":false}`)
	}
	sb.WriteString(`],"input":[{"type":"message","role":"developer","content":[{"type":"input_text","text":` + jsonString(strings.Repeat("You are Codex. \"Be\" careful.\n", 600)) + `}]}`)
	for i := range 20 {
		id := "call_" + string(rune('a'+i))
		sb.WriteString(`,{"type":"message","role":"user","content":[{"type":"input_text","text":"do step"}]},
			{"type":"reasoning","id":"rs","summary":[{"type":"summary_text","text":"thinking about it"}],"encrypted_content":null},
			{"type":"function_call","name":"tool_a","arguments":"{\"cmd\":\"ls -la\"}","call_id":"` + id + `"},
			{"type":"function_call_output","call_id":"` + id + `","output":"total 0\ndrwxr-xr-x  2 user user 4096 .\n"}`)
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := parseRequest(body, noPrev); err != nil {
			b.Fatal(err)
		}
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
