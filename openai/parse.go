package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
)

// ParseChatRequest decodes and validates a request body. Every violation
// is a 400 whose Param names the field, as OpenAI does.
func ParseChatRequest(body []byte) (*ChatRequest, *Error) {
	var top map[string]json.RawMessage
	if len(bytes.TrimSpace(body)) == 0 || jsonKind(body) != '{' {
		return nil, InvalidRequest("", "invalid_json", "The request body must be a JSON object.")
	}
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, InvalidRequest("", "invalid_json", "We could not parse the JSON body of your request: %s", shortJSONError(err))
	}
	p := parser{top: top}
	req := &ChatRequest{}
	req.Model = p.requiredString("model")
	req.Stream = p.optionalBool("stream")
	if so := p.object("stream_options"); so != nil {
		req.IncludeUsage = p.nestedBool(so, "stream_options", "include_usage")
	}
	if raw, ok := p.present("n"); ok && p.err == nil {
		n, isInt := asInt(raw)
		switch {
		case !isInt:
			p.fail("n", "invalid_type", "'n' must be an integer.")
		case n > 1:
			p.fail("n", "unsupported_value", "Poe returns one answer per request: 'n' must be 1.")
		case n < 1:
			p.fail("n", "invalid_value", "'n' must be at least 1.")
		}
	}
	req.Temperature = p.optionalNumber("temperature", 0, 2)
	req.Stop = p.stop()
	req.LogitBias = p.logitBias()
	req.MaxTokens = p.positiveInt("max_tokens")
	if n := p.positiveInt("max_completion_tokens"); n > 0 {
		req.MaxTokens = n
	}
	req.Tools = p.tools()
	req.ToolChoice = p.toolChoice(req.Tools)
	req.ResponseFormat = p.responseFormat()
	req.ReasoningEffort = p.reasoningEffort()
	req.Messages = p.messages()
	if p.err != nil {
		return nil, p.err
	}
	return req, nil
}

type parser struct {
	top map[string]json.RawMessage
	err *Error
}

func (p *parser) fail(param, code, format string, args ...any) {
	if p.err == nil {
		p.err = InvalidRequest(param, code, format, args...)
	}
}

// present returns a field unless it is absent or null.
func (p *parser) present(name string) (json.RawMessage, bool) {
	raw, ok := p.top[name]
	if !ok || jsonKind(raw) == 'n' {
		return nil, false
	}
	return raw, true
}

func (p *parser) requiredString(name string) string {
	raw, ok := p.present(name)
	if !ok {
		p.fail(name, "missing_required_parameter", "Missing required parameter: '%s'.", name)
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		p.fail(name, "invalid_type", "'%s' must be a string.", name)
		return ""
	}
	if strings.TrimSpace(s) == "" {
		p.fail(name, "invalid_value", "'%s' must not be empty.", name)
	}
	return s
}

func (p *parser) optionalBool(name string) bool {
	raw, ok := p.present(name)
	if !ok {
		return false
	}
	var b bool
	if json.Unmarshal(raw, &b) != nil {
		p.fail(name, "invalid_type", "'%s' must be a boolean.", name)
	}
	return b
}

func (p *parser) object(name string) map[string]json.RawMessage {
	raw, ok := p.present(name)
	if !ok {
		return nil
	}
	var m map[string]json.RawMessage
	if jsonKind(raw) != '{' || json.Unmarshal(raw, &m) != nil {
		p.fail(name, "invalid_type", "'%s' must be an object.", name)
		return nil
	}
	return m
}

func (p *parser) nestedBool(m map[string]json.RawMessage, parent, name string) bool {
	raw, ok := m[name]
	if !ok || jsonKind(raw) == 'n' {
		return false
	}
	var b bool
	if json.Unmarshal(raw, &b) != nil {
		p.fail(parent+"."+name, "invalid_type", "'%s.%s' must be a boolean.", parent, name)
	}
	return b
}

func (p *parser) optionalNumber(name string, lo, hi float64) *float64 {
	raw, ok := p.present(name)
	if !ok {
		return nil
	}
	var f float64
	if jsonKind(raw) == '"' || json.Unmarshal(raw, &f) != nil {
		p.fail(name, "invalid_type", "'%s' must be a number.", name)
		return nil
	}
	if f < lo || f > hi {
		p.fail(name, "invalid_value", "'%s' must be between %g and %g.", name, lo, hi)
		return nil
	}
	return &f
}

func (p *parser) positiveInt(name string) int {
	raw, ok := p.present(name)
	if !ok {
		return 0
	}
	n, isInt := asInt(raw)
	if !isInt || n < 1 {
		p.fail(name, "invalid_value", "'%s' must be a positive integer.", name)
		return 0
	}
	return int(min(n, math.MaxInt32))
}

func (p *parser) stop() []string {
	raw, ok := p.present("stop")
	if !ok {
		return nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	if jsonKind(raw) != '[' || json.Unmarshal(raw, &many) != nil {
		p.fail("stop", "invalid_type", "'stop' must be a string or an array of strings.")
		return nil
	}
	return many
}

func (p *parser) logitBias() map[string]float64 {
	raw, ok := p.present("logit_bias")
	if !ok {
		return nil
	}
	var m map[string]float64
	if jsonKind(raw) != '{' || json.Unmarshal(raw, &m) != nil {
		p.fail("logit_bias", "invalid_type", "'logit_bias' must be an object mapping token ids to numbers.")
		return nil
	}
	for k, v := range m {
		if v < -100 || v > 100 {
			p.fail("logit_bias", "invalid_value", "'logit_bias' value for %q must be between -100 and 100.", k)
		}
	}
	return m
}

var functionName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

func (p *parser) tools() []Tool {
	raw, ok := p.present("tools")
	if !ok {
		return nil
	}
	var list []json.RawMessage
	if jsonKind(raw) != '[' || json.Unmarshal(raw, &list) != nil {
		p.fail("tools", "invalid_type", "'tools' must be an array.")
		return nil
	}
	tools := make([]Tool, 0, len(list))
	seen := map[string]bool{}
	for i, item := range list {
		at := fmt.Sprintf("tools[%d]", i)
		var t struct {
			Type     *string         `json:"type"`
			Function json.RawMessage `json:"function"`
		}
		if jsonKind(item) != '{' || json.Unmarshal(item, &t) != nil {
			p.fail(at, "invalid_type", "'%s' must be an object.", at)
			return nil
		}
		if t.Type == nil || *t.Type != "function" {
			p.fail(at+".type", "invalid_value", "Only tools of type 'function' are supported.")
			return nil
		}
		var f struct {
			Name        *string         `json:"name"`
			Description *string         `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
		}
		if jsonKind(t.Function) != '{' || json.Unmarshal(t.Function, &f) != nil {
			p.fail(at+".function", "invalid_type", "'%s.function' must be an object.", at)
			return nil
		}
		if f.Name == nil || !functionName.MatchString(*f.Name) {
			p.fail(at+".function.name", "invalid_value", "Function names must be 1-64 characters of a-z, A-Z, 0-9, _ and -.")
			return nil
		}
		if seen[*f.Name] {
			p.fail(at+".function.name", "invalid_value", "Duplicate function name %q.", *f.Name)
			return nil
		}
		seen[*f.Name] = true
		tool := Tool{Name: *f.Name}
		if f.Description != nil {
			tool.Description = *f.Description
		}
		if len(f.Parameters) > 0 && jsonKind(f.Parameters) != 'n' {
			if jsonKind(f.Parameters) != '{' {
				p.fail(at+".function.parameters", "invalid_type", "'%s.function.parameters' must be a JSON schema object.", at)
				return nil
			}
			tool.Parameters = f.Parameters
		}
		tools = append(tools, tool)
	}
	return tools
}

func (p *parser) toolChoice(tools []Tool) ToolChoice {
	raw, ok := p.present("tool_choice")
	if !ok {
		return ToolChoice{}
	}
	var mode string
	if json.Unmarshal(raw, &mode) == nil {
		switch mode {
		case ToolChoiceAuto, ToolChoiceNone, ToolChoiceRequired:
			return ToolChoice{Mode: mode}
		}
		p.fail("tool_choice", "invalid_value", "'tool_choice' must be 'none', 'auto', 'required' or a named function.")
		return ToolChoice{}
	}
	var named struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if jsonKind(raw) != '{' || json.Unmarshal(raw, &named) != nil || named.Type != "function" || named.Function.Name == "" {
		p.fail("tool_choice", "invalid_value", "'tool_choice' must be 'none', 'auto', 'required' or {\"type\":\"function\",\"function\":{\"name\":...}}.")
		return ToolChoice{}
	}
	for _, t := range tools {
		if t.Name == named.Function.Name {
			return ToolChoice{Mode: ToolChoiceFunction, Name: t.Name}
		}
	}
	p.fail("tool_choice", "invalid_value", "'tool_choice' names function %q, which is not in 'tools'.", named.Function.Name)
	return ToolChoice{}
}

func (p *parser) responseFormat() ResponseFormat {
	m := p.object("response_format")
	if m == nil {
		return ResponseFormat{}
	}
	var rf ResponseFormat
	if json.Unmarshal(m["type"], &rf.Type) != nil {
		p.fail("response_format.type", "invalid_type", "'response_format.type' must be a string.")
		return rf
	}
	switch rf.Type {
	case "text", "json_object":
	case "json_schema":
		var js struct {
			Name   string          `json:"name"`
			Schema json.RawMessage `json:"schema"`
		}
		if jsonKind(m["json_schema"]) != '{' || json.Unmarshal(m["json_schema"], &js) != nil {
			p.fail("response_format.json_schema", "invalid_type", "'response_format.json_schema' must be an object.")
			return rf
		}
		rf.SchemaName, rf.Schema = js.Name, js.Schema
	default:
		p.fail("response_format.type", "invalid_value", "'response_format.type' must be 'text', 'json_object' or 'json_schema'.")
	}
	return rf
}

func (p *parser) reasoningEffort() string {
	raw, ok := p.present("reasoning_effort")
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		p.fail("reasoning_effort", "invalid_type", "'reasoning_effort' must be a string.")
		return ""
	}
	switch s {
	case "none", "minimal", "low", "medium", "high", "xhigh":
		return s
	}
	p.fail("reasoning_effort", "invalid_value", "'reasoning_effort' must be one of none, minimal, low, medium, high, xhigh.")
	return ""
}

// jsonKind returns the first significant byte of a JSON value.
func jsonKind(raw []byte) byte {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c
	}
	return 0
}

func asInt(raw json.RawMessage) (int64, bool) {
	var f float64
	if jsonKind(raw) == '"' || json.Unmarshal(raw, &f) != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

func shortJSONError(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}
