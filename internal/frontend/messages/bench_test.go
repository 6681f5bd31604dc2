package messages

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// bigBody is a Claude-Code-shaped request of about 120 KB: three system
// blocks, 20 tools with schemas, and 40 turns of text, tool_use and
// tool_result.
func bigBody() []byte {
	var b strings.Builder
	b.WriteString(`{"model":"claude-sonnet-4-5-20250929","max_tokens":32000,"stream":true,"system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=2.1"},{"type":"text","text":`)
	sys, _ := json.Marshal(strings.Repeat("You are Claude Code, an interactive CLI tool. Follow the rules.\n", 700))
	b.Write(sys)
	b.WriteString(`,"cache_control":{"type":"ephemeral"}}],"tools":[`)
	for i := range 20 {
		if i > 0 {
			b.WriteByte(',')
		}
		desc, _ := json.Marshal(strings.Repeat(fmt.Sprintf("Tool %d does useful things with files and commands. ", i), 25))
		fmt.Fprintf(&b, `{"name":"Tool%d","description":%s,"input_schema":{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"command":{"type":"string","description":"The command to run"},"timeout":{"type":"number"},"description":{"type":"string"}},"required":["command"],"additionalProperties":false}}`, i, desc)
	}
	b.WriteString(`],"messages":[`)
	for i := range 20 {
		if i > 0 {
			b.WriteByte(',')
		}
		out, _ := json.Marshal(strings.Repeat(fmt.Sprintf("line %d of the output: some file content here\n", i), 30))
		fmt.Fprintf(&b, `{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_%02d","content":%s},{"type":"text","text":"<system-reminder>keep going</system-reminder>"}]},`, i, out)
		fmt.Fprintf(&b, `{"role":"assistant","content":[{"type":"thinking","thinking":"I should run the next step.","signature":"poe-openai.v1.abc"},{"type":"text","text":"Running step %d."},{"type":"tool_use","id":"toolu_%02d","name":"Tool%d","input":{"command":"ls -la /tmp/dir%d","description":"List"}}]}`, i, i+1, i%20, i)
	}
	b.WriteString(`,{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_20","content":"done"}]}],"thinking":{"type":"adaptive","display":"omitted"},"context_management":{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]},"output_config":{"effort":"high"},"metadata":{"user_id":"{\"device_id\":\"d\"}"}}`)
	return []byte(b.String())
}

func TestBigBodyParses(t *testing.T) {
	body := bigBody()
	if len(body) < 100<<10 || len(body) > 160<<10 || !json.Valid(body) {
		t.Fatalf("%d bytes", len(body))
	}
	req, _ := mustParse(t, string(body))
	if len(req.Tools) != 20 || len(req.Messages) != 1+20*3+1 {
		t.Fatalf("%d tools, %d messages", len(req.Tools), len(req.Messages))
	}
}

// BenchmarkParse is this package's parser on the 120 KB body; compare
// with BenchmarkParseEncodingJSON, which decodes the same body with
// encoding/json into typed structs (content as json.RawMessage, decoded
// in a second pass: the least encoding/json needs for string-or-blocks
// content), and does none of the validation.
func BenchmarkParse(b *testing.B) {
	body := bigBody()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, e := parseRequest(body, false); e != nil {
			b.Fatal(e)
		}
	}
}

type ejBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
	IsError   bool            `json:"is_error"`
	Source    *struct {
		Type, MediaType, Data, URL string
	} `json:"source"`
}

type ejRequest struct {
	Model     string          `json:"model"`
	MaxTokens int             `json:"max_tokens"`
	Stream    bool            `json:"stream"`
	System    json.RawMessage `json:"system"`
	Messages  []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Tools []struct {
		Type         string          `json:"type"`
		Name         string          `json:"name"`
		Description  string          `json:"description"`
		InputSchema  json.RawMessage `json:"input_schema"`
		DeferLoading bool            `json:"defer_loading"`
	} `json:"tools"`
	Thinking *struct {
		Type         string `json:"type"`
		BudgetTokens int    `json:"budget_tokens"`
		Display      string `json:"display"`
	} `json:"thinking"`
	OutputConfig *struct {
		Effort string `json:"effort"`
	} `json:"output_config"`
}

func BenchmarkParseEncodingJSON(b *testing.B) {
	body := bigBody()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var r ejRequest
		if err := json.Unmarshal(body, &r); err != nil {
			b.Fatal(err)
		}
		var sys []ejBlock
		json.Unmarshal(r.System, &sys)
		for _, m := range r.Messages {
			var blocks []ejBlock
			if len(m.Content) > 0 && m.Content[0] == '[' {
				if err := json.Unmarshal(m.Content, &blocks); err != nil {
					b.Fatal(err)
				}
			}
			for _, bl := range blocks {
				var s string
				if len(bl.Content) > 0 && bl.Content[0] == '"' {
					json.Unmarshal(bl.Content, &s)
				}
			}
		}
	}
}
