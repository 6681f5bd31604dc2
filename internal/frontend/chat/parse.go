package chat

import (
	"fmt"
	"math"
	"regexp"
	"unsafe"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
	"github.com/poe-openai/caddy-poe-openai/internal/frontend/field"
	"github.com/poe-openai/caddy-poe-openai/internal/jsontree"
)

// ParseChatRequest decodes and validates a request body. Every violation
// is a 400 whose Param names the field, as OpenAI does.
func ParseChatRequest(body []byte) (*conv.Request, *conv.Error) {
	t, err := jsontree.ParseObject(body)
	if err != nil {
		return nil, invalidJSON(err)
	}
	p := parser{field.Reader{T: t, Words: words}}
	req := &conv.Request{}
	req.Model = p.RequiredString("model")
	req.Stream = p.OptionalBool("stream")
	if so := p.object("stream_options"); so >= 0 {
		req.IncludeUsage = p.nestedBool(so, "stream_options", "include_usage")
	}
	if i := p.Present("n"); i >= 0 && p.Err == nil {
		n, isInt := p.integer(i)
		switch {
		case !isInt:
			p.Fail("n", "invalid_type", "'n' must be an integer.")
		case n > 1:
			p.Fail("n", "unsupported_value", "Poe returns one answer per request: 'n' must be 1.")
		case n < 1:
			p.Fail("n", "invalid_value", "'n' must be at least 1.")
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
	if p.Err != nil {
		return nil, p.Err
	}
	return req, nil
}

func invalidJSON(err error) *conv.Error {
	return conv.InvalidRequest("", "invalid_json", "We could not parse the JSON body of your request: %s. The body must be a JSON object.", err)
}

// capFor bounds a preallocation for n elements of size bytes, read from an
// array of span bytes, so that an array of junk, to be refused at some
// element, costs little: if its elements are on average shorter than
// minLen, the least a valid one takes, nothing is preallocated; otherwise
// never more than twice the span.
func capFor(n, span, minLen int, size uintptr) int {
	if n*minLen > span {
		return 0
	}
	return min(n, 2*span/int(size))
}

// The shortest valid message, content part and tool (see TestCapForMinimums).
const minMessageLen, minPartLen, minToolLen = 28, 25, 43

type parser struct{ field.Reader }

// words are OpenAI's messages for the checks field.Reader makes.
var words = field.Words{
	Missing:  "Missing required parameter: '%s'.",
	String:   "'%s' must be a string.",
	NonEmpty: "'%s' must not be empty.",
	Bool:     "'%s' must be a boolean.",
	Array:    "'%s' must be an array.",
}

func (p *parser) object(name string) int32 {
	i := p.Present(name)
	if i >= 0 && p.T.Kind(i) != '{' {
		p.Fail(name, "invalid_type", "'%s' must be an object.", name)
		return -1
	}
	return i
}

func (p *parser) nestedBool(o int32, parent, name string) bool {
	i := p.T.Field(o, name)
	if !p.T.Present(i) {
		return false
	}
	b, ok := p.T.Bool(i)
	if !ok {
		p.Fail(parent+"."+name, "invalid_type", "'%s.%s' must be a boolean.", parent, name)
	}
	return b
}

func (p *parser) optionalNumber(name string, lo, hi float64) *float64 {
	i := p.Present(name)
	if i < 0 {
		return nil
	}
	f, ok := p.T.Float(i)
	if !ok {
		p.Fail(name, "invalid_type", "'%s' must be a number.", name)
		return nil
	}
	if f < lo || f > hi {
		p.Fail(name, "invalid_value", "'%s' must be between %g and %g.", name, lo, hi)
		return nil
	}
	return &f
}

// integer reads a number that has no fractional part.
func (p *parser) integer(i int32) (int64, bool) {
	f, ok := p.T.Float(i)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

func (p *parser) positiveInt(name string) int {
	i := p.Present(name)
	if i < 0 {
		return 0
	}
	n, isInt := p.integer(i)
	if !isInt || n < 1 {
		p.Fail(name, "invalid_value", "'%s' must be a positive integer.", name)
		return 0
	}
	return int(min(n, math.MaxInt32))
}

func (p *parser) stop() []string {
	i := p.Present("stop")
	if i < 0 {
		return nil
	}
	if s, ok := p.T.Str(i); ok {
		return []string{s}
	}
	// Check the elements before allocating for them.
	ok := p.T.Kind(i) == '['
	n := 0
	if ok {
		p.T.Children(i, func(_ int, c int32) bool {
			n++
			ok = p.T.Kind(c) == '"'
			return ok
		})
	}
	if !ok {
		p.Fail("stop", "invalid_type", "'stop' must be a string or an array of strings.")
		return nil
	}
	out := make([]string, 0, n)
	p.T.Children(i, func(_ int, c int32) bool {
		s, _ := p.T.Str(c)
		out = append(out, s)
		return true
	})
	return out
}

func (p *parser) logitBias() map[string]float64 {
	i := p.Present("logit_bias")
	if i < 0 {
		return nil
	}
	if p.T.Kind(i) != '{' {
		p.Fail("logit_bias", "invalid_type", "'logit_bias' must be an object mapping token ids to numbers.")
		return nil
	}
	m := map[string]float64{}
	for _, c := range p.T.Members(i) {
		k := p.T.Key(c)
		v, ok := p.T.Float(c.Value())
		switch {
		case !ok:
			p.Fail("logit_bias", "invalid_type", "'logit_bias' must be an object mapping token ids to numbers.")
		case v < -100 || v > 100:
			p.Fail("logit_bias", "invalid_value", "'logit_bias' value for %q must be between -100 and 100.", k)
		}
		m[k] = v
		if !ok {
			break
		}
	}
	return m
}

var functionName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

func (p *parser) tools() []conv.Tool {
	i := p.Present("tools")
	if i < 0 {
		return nil
	}
	if p.T.Kind(i) != '[' {
		p.Fail("tools", "invalid_type", "'tools' must be an array.")
		return nil
	}
	n, span := p.T.Count(i)
	tools := make([]conv.Tool, 0, capFor(n, span, minToolLen, unsafe.Sizeof(conv.Tool{})))
	seen := map[string]bool{}
	p.T.Children(i, func(n int, item int32) bool {
		at := fmt.Sprintf("tools[%d]", n)
		if p.T.Kind(item) != '{' {
			p.Fail(at, "invalid_type", "'%s' must be an object.", at)
			return false
		}
		if typ, ok := p.T.Str(p.T.Field(item, "type")); !ok || typ != "function" {
			p.Fail(at+".type", "invalid_value", "Only tools of type 'function' are supported.")
			return false
		}
		fn := p.T.Field(item, "function")
		if p.T.Kind(fn) != '{' {
			p.Fail(at+".function", "invalid_type", "'%s.function' must be an object.", at)
			return false
		}
		name, ok := p.T.Str(p.T.Field(fn, "name"))
		if !ok || !functionName.MatchString(name) {
			p.Fail(at+".function.name", "invalid_value", "Function names must be 1-64 characters of a-z, A-Z, 0-9, _ and -.")
			return false
		}
		if seen[name] {
			p.Fail(at+".function.name", "invalid_value", "Duplicate function name %q.", name)
			return false
		}
		seen[name] = true
		tool := conv.Tool{Name: name}
		if d := p.T.Field(fn, "description"); p.T.Present(d) {
			if tool.Description, ok = p.T.Str(d); !ok {
				p.Fail(at+".function.description", "invalid_type", "'%s.function.description' must be a string.", at)
				return false
			}
		}
		if params := p.T.Field(fn, "parameters"); p.T.Present(params) {
			if p.T.Kind(params) != '{' {
				p.Fail(at+".function.parameters", "invalid_type", "'%s.function.parameters' must be a JSON schema object.", at)
				return false
			}
			tool.Parameters = p.T.Raw(params)
		}
		tools = append(tools, tool)
		return true
	})
	return tools
}

func (p *parser) toolChoice(tools []conv.Tool) conv.ToolChoice {
	i := p.Present("tool_choice")
	if i < 0 {
		return conv.ToolChoice{}
	}
	if mode, ok := p.T.Str(i); ok {
		switch mode {
		case conv.ToolChoiceAuto, conv.ToolChoiceNone, conv.ToolChoiceRequired:
			return conv.ToolChoice{Mode: mode}
		}
		p.Fail("tool_choice", "invalid_value", "'tool_choice' must be 'none', 'auto', 'required' or a named function.")
		return conv.ToolChoice{}
	}
	typ, _ := p.T.Str(p.T.Field(i, "type"))
	name, _ := p.T.Str(p.T.Field(p.T.Field(i, "function"), "name"))
	if p.T.Kind(i) != '{' || typ != "function" || name == "" {
		p.Fail("tool_choice", "invalid_value", "'tool_choice' must be 'none', 'auto', 'required' or {\"type\":\"function\",\"function\":{\"name\":...}}.")
		return conv.ToolChoice{}
	}
	for _, t := range tools {
		if t.Name == name {
			return conv.ToolChoice{Mode: conv.ToolChoiceFunction, Name: t.Name}
		}
	}
	p.Fail("tool_choice", "invalid_value", "'tool_choice' names function %q, which is not in 'tools'.", name)
	return conv.ToolChoice{}
}

func (p *parser) responseFormat() conv.ResponseFormat {
	o := p.object("response_format")
	if o < 0 {
		return conv.ResponseFormat{}
	}
	var rf conv.ResponseFormat
	var ok bool
	if rf.Type, ok = p.T.Str(p.T.Field(o, "type")); !ok {
		p.Fail("response_format.type", "invalid_type", "'response_format.type' must be a string.")
		return rf
	}
	switch rf.Type {
	case "text", "json_object":
	case "json_schema":
		js := p.T.Field(o, "json_schema")
		if p.T.Kind(js) != '{' {
			p.Fail("response_format.json_schema", "invalid_type", "'response_format.json_schema' must be an object.")
			return rf
		}
		rf.SchemaName, _ = p.T.Str(p.T.Field(js, "name"))
		if s := p.T.Field(js, "schema"); p.T.Present(s) {
			rf.Schema = p.T.Raw(s)
		}
	default:
		p.Fail("response_format.type", "invalid_value", "'response_format.type' must be 'text', 'json_object' or 'json_schema'.")
	}
	return rf
}

func (p *parser) reasoningEffort() string {
	i := p.Present("reasoning_effort")
	if i < 0 {
		return ""
	}
	s, ok := p.T.Str(i)
	if !ok {
		p.Fail("reasoning_effort", "invalid_type", "'reasoning_effort' must be a string.")
		return ""
	}
	switch s {
	case "none", "minimal", "low", "medium", "high", "xhigh":
		return s
	}
	p.Fail("reasoning_effort", "invalid_value", "'reasoning_effort' must be one of none, minimal, low, medium, high, xhigh.")
	return ""
}
