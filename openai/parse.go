package openai

import (
	"fmt"
	"math"
	"regexp"
	"strings"
)

// ParseChatRequest decodes and validates a request body. Every violation
// is a 400 whose Param names the field, as OpenAI does.
func ParseChatRequest(body []byte) (*ChatRequest, *Error) {
	t, err := parseTree(body)
	if err != nil || t.kind(0) != '{' {
		if err == nil {
			err = fmt.Errorf("the body is not an object")
		}
		return nil, InvalidRequest("", "invalid_json", "We could not parse the JSON body of your request: %s. The body must be a JSON object.", err)
	}
	p := parser{t: t}
	req := &ChatRequest{}
	req.Model = p.requiredString("model")
	req.Stream = p.optionalBool("stream")
	if so := p.object("stream_options"); so >= 0 {
		req.IncludeUsage = p.nestedBool(so, "stream_options", "include_usage")
	}
	if i := p.present("n"); i >= 0 && p.err == nil {
		n, isInt := p.integer(i)
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
	t   *tree
	err *Error
}

func (p *parser) fail(param, code, format string, args ...any) {
	if p.err == nil {
		p.err = InvalidRequest(param, code, format, args...)
	}
}

// present returns a top-level field unless it is absent or null (-1).
func (p *parser) present(name string) int32 {
	i := p.t.field(0, name)
	if !p.t.present(i) {
		return -1
	}
	return i
}

func (p *parser) requiredString(name string) string {
	i := p.present(name)
	if i < 0 {
		p.fail(name, "missing_required_parameter", "Missing required parameter: '%s'.", name)
		return ""
	}
	s, ok := p.t.str(i)
	if !ok {
		p.fail(name, "invalid_type", "'%s' must be a string.", name)
		return ""
	}
	if strings.TrimSpace(s) == "" {
		p.fail(name, "invalid_value", "'%s' must not be empty.", name)
	}
	return s
}

func (p *parser) optionalBool(name string) bool {
	i := p.present(name)
	if i < 0 {
		return false
	}
	b, ok := p.t.boolean(i)
	if !ok {
		p.fail(name, "invalid_type", "'%s' must be a boolean.", name)
	}
	return b
}

func (p *parser) object(name string) int32 {
	i := p.present(name)
	if i >= 0 && p.t.kind(i) != '{' {
		p.fail(name, "invalid_type", "'%s' must be an object.", name)
		return -1
	}
	return i
}

func (p *parser) nestedBool(o int32, parent, name string) bool {
	i := p.t.field(o, name)
	if !p.t.present(i) {
		return false
	}
	b, ok := p.t.boolean(i)
	if !ok {
		p.fail(parent+"."+name, "invalid_type", "'%s.%s' must be a boolean.", parent, name)
	}
	return b
}

func (p *parser) optionalNumber(name string, lo, hi float64) *float64 {
	i := p.present(name)
	if i < 0 {
		return nil
	}
	f, ok := p.t.float(i)
	if !ok {
		p.fail(name, "invalid_type", "'%s' must be a number.", name)
		return nil
	}
	if f < lo || f > hi {
		p.fail(name, "invalid_value", "'%s' must be between %g and %g.", name, lo, hi)
		return nil
	}
	return &f
}

// integer reads a number that has no fractional part.
func (p *parser) integer(i int32) (int64, bool) {
	f, ok := p.t.float(i)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

func (p *parser) positiveInt(name string) int {
	i := p.present(name)
	if i < 0 {
		return 0
	}
	n, isInt := p.integer(i)
	if !isInt || n < 1 {
		p.fail(name, "invalid_value", "'%s' must be a positive integer.", name)
		return 0
	}
	return int(min(n, math.MaxInt32))
}

func (p *parser) stop() []string {
	i := p.present("stop")
	if i < 0 {
		return nil
	}
	if s, ok := p.t.str(i); ok {
		return []string{s}
	}
	var out []string
	ok := p.t.kind(i) == '['
	if ok {
		p.t.children(i, func(_ int, c int32) bool {
			s, isStr := p.t.str(c)
			out, ok = append(out, s), isStr
			return ok
		})
	}
	if !ok {
		p.fail("stop", "invalid_type", "'stop' must be a string or an array of strings.")
		return nil
	}
	if out == nil {
		out = []string{}
	}
	return out
}

func (p *parser) logitBias() map[string]float64 {
	i := p.present("logit_bias")
	if i < 0 {
		return nil
	}
	if p.t.kind(i) != '{' {
		p.fail("logit_bias", "invalid_type", "'logit_bias' must be an object mapping token ids to numbers.")
		return nil
	}
	m := map[string]float64{}
	p.t.children(i, func(_ int, c int32) bool {
		k := p.t.key(c)
		v, ok := p.t.float(c)
		switch {
		case !ok:
			p.fail("logit_bias", "invalid_type", "'logit_bias' must be an object mapping token ids to numbers.")
		case v < -100 || v > 100:
			p.fail("logit_bias", "invalid_value", "'logit_bias' value for %q must be between -100 and 100.", k)
		}
		m[k] = v
		return ok
	})
	return m
}

var functionName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

func (p *parser) tools() []Tool {
	i := p.present("tools")
	if i < 0 {
		return nil
	}
	if p.t.kind(i) != '[' {
		p.fail("tools", "invalid_type", "'tools' must be an array.")
		return nil
	}
	tools := make([]Tool, 0, p.t.count(i))
	seen := map[string]bool{}
	p.t.children(i, func(n int, item int32) bool {
		at := fmt.Sprintf("tools[%d]", n)
		if p.t.kind(item) != '{' {
			p.fail(at, "invalid_type", "'%s' must be an object.", at)
			return false
		}
		if typ, ok := p.t.str(p.t.field(item, "type")); !ok || typ != "function" {
			p.fail(at+".type", "invalid_value", "Only tools of type 'function' are supported.")
			return false
		}
		fn := p.t.field(item, "function")
		if p.t.kind(fn) != '{' {
			p.fail(at+".function", "invalid_type", "'%s.function' must be an object.", at)
			return false
		}
		name, ok := p.t.str(p.t.field(fn, "name"))
		if !ok || !functionName.MatchString(name) {
			p.fail(at+".function.name", "invalid_value", "Function names must be 1-64 characters of a-z, A-Z, 0-9, _ and -.")
			return false
		}
		if seen[name] {
			p.fail(at+".function.name", "invalid_value", "Duplicate function name %q.", name)
			return false
		}
		seen[name] = true
		tool := Tool{Name: name}
		if d := p.t.field(fn, "description"); p.t.present(d) {
			if tool.Description, ok = p.t.str(d); !ok {
				p.fail(at+".function.description", "invalid_type", "'%s.function.description' must be a string.", at)
				return false
			}
		}
		if params := p.t.field(fn, "parameters"); p.t.present(params) {
			if p.t.kind(params) != '{' {
				p.fail(at+".function.parameters", "invalid_type", "'%s.function.parameters' must be a JSON schema object.", at)
				return false
			}
			tool.Parameters = p.t.raw(params)
		}
		tools = append(tools, tool)
		return true
	})
	return tools
}

func (p *parser) toolChoice(tools []Tool) ToolChoice {
	i := p.present("tool_choice")
	if i < 0 {
		return ToolChoice{}
	}
	if mode, ok := p.t.str(i); ok {
		switch mode {
		case ToolChoiceAuto, ToolChoiceNone, ToolChoiceRequired:
			return ToolChoice{Mode: mode}
		}
		p.fail("tool_choice", "invalid_value", "'tool_choice' must be 'none', 'auto', 'required' or a named function.")
		return ToolChoice{}
	}
	typ, _ := p.t.str(p.t.field(i, "type"))
	name, _ := p.t.str(p.t.field(p.t.field(i, "function"), "name"))
	if p.t.kind(i) != '{' || typ != "function" || name == "" {
		p.fail("tool_choice", "invalid_value", "'tool_choice' must be 'none', 'auto', 'required' or {\"type\":\"function\",\"function\":{\"name\":...}}.")
		return ToolChoice{}
	}
	for _, t := range tools {
		if t.Name == name {
			return ToolChoice{Mode: ToolChoiceFunction, Name: t.Name}
		}
	}
	p.fail("tool_choice", "invalid_value", "'tool_choice' names function %q, which is not in 'tools'.", name)
	return ToolChoice{}
}

func (p *parser) responseFormat() ResponseFormat {
	o := p.object("response_format")
	if o < 0 {
		return ResponseFormat{}
	}
	var rf ResponseFormat
	var ok bool
	if rf.Type, ok = p.t.str(p.t.field(o, "type")); !ok {
		p.fail("response_format.type", "invalid_type", "'response_format.type' must be a string.")
		return rf
	}
	switch rf.Type {
	case "text", "json_object":
	case "json_schema":
		js := p.t.field(o, "json_schema")
		if p.t.kind(js) != '{' {
			p.fail("response_format.json_schema", "invalid_type", "'response_format.json_schema' must be an object.")
			return rf
		}
		rf.SchemaName, _ = p.t.str(p.t.field(js, "name"))
		if s := p.t.field(js, "schema"); p.t.present(s) {
			rf.Schema = p.t.raw(s)
		}
	default:
		p.fail("response_format.type", "invalid_value", "'response_format.type' must be 'text', 'json_object' or 'json_schema'.")
	}
	return rf
}

func (p *parser) reasoningEffort() string {
	i := p.present("reasoning_effort")
	if i < 0 {
		return ""
	}
	s, ok := p.t.str(i)
	if !ok {
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
