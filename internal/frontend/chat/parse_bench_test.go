package chat

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
)

// The hand-written tree stays only while it beats encoding/json on the
// same bodies: BenchmarkParse* run ParseChatRequest and stdParse, an
// encoding/json equivalent, side by side (figures in BENCHMARKS.md).

var benchSmall = []byte(`{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"temperature":0.7,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Hello there, how are you today?"},{"role":"assistant","content":"I am fine, thank you."},{"role":"user","content":[{"type":"text","text":"Tell me a joke."}]}]}`)

// benchLarge is an agent's request: 20 tools with JSON schemas and 40
// turns with tool calls and results, about 120 KB.
var benchLarge = func() []byte {
	var b strings.Builder
	b.WriteString(`{"model":"Claude-Sonnet-4","stream":true,"stream_options":{"include_usage":true},"temperature":0.2,"max_completion_tokens":4096,"tool_choice":"auto","tools":[`)
	for i := range 20 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"type":"function","function":{"name":"tool_%d","description":"%s","parameters":{"type":"object","properties":{"path":{"type":"string","description":"A path in the repository, relative to its root."},"line":{"type":"integer","minimum":1},"mode":{"type":"string","enum":["read","write","append"]},"options":{"type":"object","properties":{"recursive":{"type":"boolean"},"depth":{"type":"integer"}}}},"required":["path"],"additionalProperties":false}}}`,
			i, strings.Repeat("Reads or writes a file of the working tree. ", 6))
	}
	b.WriteString(`],"messages":[{"role":"system","content":"` + strings.Repeat(`You are a careful coding agent; answer with \"tool calls\" when you need files.\n`, 12) + `"}`)
	for i := range 40 {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, `,{"role":"user","content":"%s"}`, strings.Repeat(`Please look at the parser and tell me why it is slow on big inputs; here is the log:\n`, 36))
		case 1:
			fmt.Fprintf(&b, `,{"role":"assistant","content":null,"tool_calls":[{"id":"call_%d","type":"function","function":{"name":"tool_%d","arguments":"{\"path\":\"internal/frontend/chat/parse.go\",\"line\":%d,\"mode\":\"read\"}"}}]}`, i, i%20, i)
		case 2:
			fmt.Fprintf(&b, `,{"role":"tool","tool_call_id":"call_%d","content":"%s"}`, i-1, strings.Repeat(`func (p *parser) field(o int32, key string) int32 {\n\treturn p.t.Field(o, key)\n}\n`, 40))
		case 3:
			fmt.Fprintf(&b, `,{"role":"assistant","content":[{"type":"text","text":"%s"}]}`, strings.Repeat(`The index is built before any field is read, so every value costs a node. `, 36))
		}
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}()

func benchParse(b *testing.B, body []byte, parse func([]byte) (*conv.Request, *conv.Error)) {
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parse(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseSmall(b *testing.B)       { benchParse(b, benchSmall, ParseChatRequest) }
func BenchmarkParseSmallStdlib(b *testing.B) { benchParse(b, benchSmall, stdParse) }
func BenchmarkParseLarge(b *testing.B)       { benchParse(b, benchLarge, ParseChatRequest) }
func BenchmarkParseLargeStdlib(b *testing.B) { benchParse(b, benchLarge, stdParse) }
func BenchmarkParseJunk8MB(b *testing.B) {
	benchParse(b, hostileCases[0].body(8<<20), ParseChatRequest)
}
func BenchmarkParseJunk8MBStdlib(b *testing.B) { benchParse(b, hostileCases[0].body(8<<20), stdParse) }

// The comparison is fair only if both read the same request.
func TestStdParseMatches(t *testing.T) {
	if len(benchLarge) < 100_000 || len(benchLarge) > 140_000 {
		t.Fatalf("benchLarge is %d bytes", len(benchLarge))
	}
	for _, body := range [][]byte{benchSmall, benchLarge} {
		want, err := ParseChatRequest(body)
		if err != nil {
			t.Fatal(err)
		}
		got, err := stdParse(body)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("stdParse differs:\n%+v\n%+v", got, want)
		}
	}
}

// stdParse is ParseChatRequest's reading done with encoding/json, with
// the same checks on valid bodies (error params are not matched: it is a
// benchmark baseline, not a replacement).
func stdParse(body []byte) (*conv.Request, *conv.Error) {
	type function struct {
		Name        string          `json:"name"`
		Description *string         `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
		Arguments   *string         `json:"arguments"`
	}
	type part struct {
		Type     string  `json:"type"`
		Text     *string `json:"text"`
		Refusal  *string `json:"refusal"`
		ImageURL *struct {
			URL string `json:"url"`
		} `json:"image_url"`
		File *struct {
			FileData string `json:"file_data"`
			FileID   string `json:"file_id"`
			Filename string `json:"filename"`
		} `json:"file"`
		InputAudio *struct {
			Data   *string `json:"data"`
			Format string  `json:"format"`
		} `json:"input_audio"`
	}
	var r struct {
		Model         *string `json:"model"`
		Stream        *bool   `json:"stream"`
		StreamOptions *struct {
			IncludeUsage *bool `json:"include_usage"`
		} `json:"stream_options"`
		N                   *float64           `json:"n"`
		Temperature         *float64           `json:"temperature"`
		Stop                json.RawMessage    `json:"stop"`
		LogitBias           map[string]float64 `json:"logit_bias"`
		MaxTokens           *float64           `json:"max_tokens"`
		MaxCompletionTokens *float64           `json:"max_completion_tokens"`
		Tools               []struct {
			Type     string    `json:"type"`
			Function *function `json:"function"`
		} `json:"tools"`
		ToolChoice     json.RawMessage `json:"tool_choice"`
		ResponseFormat *struct {
			Type       string `json:"type"`
			JSONSchema *struct {
				Name   string          `json:"name"`
				Schema json.RawMessage `json:"schema"`
			} `json:"json_schema"`
		} `json:"response_format"`
		ReasoningEffort *string `json:"reasoning_effort"`
		Messages        []struct {
			Role       *string         `json:"role"`
			Name       string          `json:"name"`
			Content    json.RawMessage `json:"content"`
			ToolCallID string          `json:"tool_call_id"`
			ToolCalls  []struct {
				ID       string    `json:"id"`
				Type     string    `json:"type"`
				Function *function `json:"function"`
			} `json:"tool_calls"`
			FunctionCall *function `json:"function_call"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, invalidJSON(err)
	}
	bad := func(param string) (*conv.Request, *conv.Error) {
		return nil, conv.InvalidRequest(param, "invalid_value", "'%s' is invalid.", param)
	}
	req := &conv.Request{}
	if r.Model == nil || strings.TrimSpace(*r.Model) == "" {
		return bad("model")
	}
	req.Model = *r.Model
	req.Stream = r.Stream != nil && *r.Stream
	if r.StreamOptions != nil && r.StreamOptions.IncludeUsage != nil {
		req.IncludeUsage = *r.StreamOptions.IncludeUsage
	}
	if r.N != nil && *r.N != 1 {
		return bad("n")
	}
	if t := r.Temperature; t != nil {
		if *t < 0 || *t > 2 {
			return bad("temperature")
		}
		req.Temperature = t
	}
	if len(r.Stop) > 0 && string(r.Stop) != "null" {
		var s string
		if json.Unmarshal(r.Stop, &s) == nil {
			req.Stop = []string{s}
		} else if json.Unmarshal(r.Stop, &req.Stop) != nil {
			return bad("stop")
		}
	}
	for _, v := range r.LogitBias {
		if v < -100 || v > 100 {
			return bad("logit_bias")
		}
	}
	req.LogitBias = r.LogitBias
	for _, n := range []*float64{r.MaxTokens, r.MaxCompletionTokens} {
		if n != nil {
			if *n < 1 || *n != float64(int64(*n)) {
				return bad("max_tokens")
			}
			req.MaxTokens = int(*n)
		}
	}
	if r.Tools != nil {
		req.Tools = make([]conv.Tool, 0, len(r.Tools))
		seen := map[string]bool{}
		for _, t := range r.Tools {
			if t.Type != "function" || t.Function == nil || !functionName.MatchString(t.Function.Name) || seen[t.Function.Name] {
				return bad("tools")
			}
			seen[t.Function.Name] = true
			tool := conv.Tool{Name: t.Function.Name}
			if t.Function.Description != nil {
				tool.Description = *t.Function.Description
			}
			if len(t.Function.Parameters) > 0 && string(t.Function.Parameters) != "null" {
				if t.Function.Parameters[0] != '{' {
					return bad("tools")
				}
				tool.Parameters = t.Function.Parameters
			}
			req.Tools = append(req.Tools, tool)
		}
	}
	if len(r.ToolChoice) > 0 && string(r.ToolChoice) != "null" {
		var mode string
		if json.Unmarshal(r.ToolChoice, &mode) == nil {
			switch mode {
			case conv.ToolChoiceAuto, conv.ToolChoiceNone, conv.ToolChoiceRequired:
				req.ToolChoice = conv.ToolChoice{Mode: mode}
			default:
				return bad("tool_choice")
			}
		} else {
			var tc struct {
				Type     string   `json:"type"`
				Function function `json:"function"`
			}
			if json.Unmarshal(r.ToolChoice, &tc) != nil || tc.Type != "function" || tc.Function.Name == "" {
				return bad("tool_choice")
			}
			req.ToolChoice = conv.ToolChoice{Mode: conv.ToolChoiceFunction, Name: tc.Function.Name}
		}
	}
	if rf := r.ResponseFormat; rf != nil {
		req.ResponseFormat.Type = rf.Type
		switch rf.Type {
		case "text", "json_object":
		case "json_schema":
			if rf.JSONSchema == nil {
				return bad("response_format")
			}
			req.ResponseFormat.SchemaName, req.ResponseFormat.Schema = rf.JSONSchema.Name, rf.JSONSchema.Schema
		default:
			return bad("response_format")
		}
	}
	if e := r.ReasoningEffort; e != nil {
		switch *e {
		case "none", "minimal", "low", "medium", "high", "xhigh":
			req.ReasoningEffort = *e
		default:
			return bad("reasoning_effort")
		}
	}
	if len(r.Messages) == 0 {
		return bad("messages")
	}
	req.Messages = make([]conv.Message, len(r.Messages))
	for k, msg := range r.Messages {
		m := &req.Messages[k]
		if msg.Role == nil {
			return bad("role")
		}
		m.Role, m.Name, m.ToolCallID = *msg.Role, msg.Name, msg.ToolCallID
		if allowedParts[m.Role] == nil || m.Role == conv.RoleTool && m.ToolCallID == "" || m.Role == conv.RoleFunction && m.Name == "" {
			return bad("role")
		}
		if m.Role == conv.RoleAssistant {
			if fc := msg.FunctionCall; fc != nil {
				if fc.Name == "" {
					return bad("function_call")
				}
				m.ToolCalls = append(m.ToolCalls, conv.ToolCall{Type: "function", Name: fc.Name, Arguments: *fc.Arguments})
			}
			for _, c := range msg.ToolCalls {
				if c.ID == "" || c.Type != "" && c.Type != "function" || c.Function == nil || c.Function.Name == "" {
					return bad("tool_calls")
				}
				call := conv.ToolCall{ID: c.ID, Type: "function", Name: c.Function.Name}
				if c.Function.Arguments != nil {
					call.Arguments = *c.Function.Arguments
				}
				m.ToolCalls = append(m.ToolCalls, call)
			}
		}
		if len(msg.Content) == 0 || string(msg.Content) == "null" {
			if !(m.Role == conv.RoleFunction || m.Role == conv.RoleAssistant && (len(m.ToolCalls) > 0 || msg.FunctionCall != nil)) {
				return bad("content")
			}
			continue
		}
		var s string
		if json.Unmarshal(msg.Content, &s) == nil {
			m.Content, m.Text = []conv.Part{{Type: conv.PartText, Text: s}}, true
			continue
		}
		var parts []part
		if json.Unmarshal(msg.Content, &parts) != nil {
			return bad("content")
		}
		m.Content = make([]conv.Part, 0, len(parts))
		for _, pt := range parts {
			out := conv.Part{Type: pt.Type}
			switch {
			case pt.Type == conv.PartText && pt.Text != nil:
				out.Text = *pt.Text
			case pt.Type == conv.PartRefusal && pt.Refusal != nil:
				out.Text = *pt.Refusal
			case pt.Type == conv.PartImageURL && pt.ImageURL != nil && pt.ImageURL.URL != "":
				out.URL = pt.ImageURL.URL
			case pt.Type == conv.PartFile && pt.File != nil && (pt.File.FileData != "" || pt.File.FileID != ""):
				out.FileData, out.FileID, out.Filename = pt.File.FileData, pt.File.FileID, pt.File.Filename
			case pt.Type == conv.PartInputAudio && pt.InputAudio != nil && pt.InputAudio.Data != nil:
				out.Audio, out.Format = *pt.InputAudio.Data, pt.InputAudio.Format
			default:
				return bad("content")
			}
			if !allowedParts[m.Role][out.Type] {
				return bad("content")
			}
			m.Content = append(m.Content, out)
		}
	}
	return req, nil
}

func BenchmarkParseNormal8MB(b *testing.B) { benchParse(b, normalBody(8<<20), ParseChatRequest) }
