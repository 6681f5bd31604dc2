package messages

import (
	"fmt"
	"math"
	"regexp"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
	"github.com/poe-openai/caddy-poe-openai/internal/frontend/field"
	"github.com/poe-openai/caddy-poe-openai/internal/jsontree"
)

// options are what the request asks of the answer's shape, beyond conv.Request.
type options struct {
	// thinking: the request enabled thinking (enabled or adaptive) and did
	// not ask for display "omitted": the bot's reasoning is sent back as
	// thinking blocks. Otherwise it is counted but not shown.
	thinking bool
}

// parseRequest decodes and validates a /messages body (count: a
// /messages/count_tokens body, which has no max_tokens or stream). Every
// violation is a 400 naming the field. Unknown fields, betas, block
// types and server tools are accepted and ignored: a 400 costs Claude
// Code three round trips.
//
// The body is validated once (internal/jsontree) and only the strings
// kept are copied out of it. BenchmarkParse vs BenchmarkParseEncodingJSON on a
// 115 KB Claude Code body (2 cores, loaded machine): 0.42-0.52 ms and
// 262 KB allocated here, 1.5-2.0 ms and 369 KB with encoding/json, which
// does none of the validation.
func parseRequest(body []byte, count bool) (*conv.Request, options, *conv.Error) {
	var opts options
	t, err := jsontree.ParseObject(body)
	if err != nil {
		return nil, opts, conv.InvalidRequest("", "invalid_json", "We could not parse the JSON body of your request: %s. The body must be a JSON object.", err)
	}
	p := parser{Reader: field.Reader{T: t, Words: words}}
	req := &conv.Request{IncludeUsage: true} // usage is always reported
	req.Model = p.RequiredString("model")
	if !count {
		req.MaxTokens = p.maxTokens()
		req.Stream = p.OptionalBool("stream")
	}
	req.Temperature = p.temperature()
	req.Stop = p.stopSequences()
	req.Tools = p.tools()
	req.ToolChoice = p.toolChoice(req.Tools)
	req.ReasoningEffort, opts.thinking = p.thinking()
	system := p.system()
	req.Messages = p.messages(system)
	if p.Err != nil {
		return nil, opts, p.Err
	}
	return req, opts, nil
}

type parser struct {
	field.Reader
	// serverTools are the names of the dropped server tools, which a
	// tool_choice may name.
	serverTools []string
}

// words are Anthropic's messages for the checks field.Reader makes.
var words = field.Words{
	Missing:  "%s: Field required",
	String:   "%s: Input should be a valid string",
	NonEmpty: "%s: String should not be empty",
	Bool:     "%s: Input should be a valid boolean",
	Array:    "%s: Input should be a valid list",
}

// integer reads a number that has no fractional part.
func (p *parser) integer(i int32) (int64, bool) {
	f, ok := p.T.Float(i)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

// maxTokens is required and positive; the core stops the answer there.
func (p *parser) maxTokens() int {
	i := p.Present("max_tokens")
	if i < 0 {
		p.Fail("max_tokens", "missing_required_parameter", "max_tokens: Field required")
		return 0
	}
	n, ok := p.integer(i)
	if !ok || n < 1 {
		p.Fail("max_tokens", "invalid_value", "max_tokens: Input should be a positive integer")
		return 0
	}
	return int(min(n, math.MaxInt32))
}

func (p *parser) temperature() *float64 {
	i := p.Present("temperature")
	if i < 0 {
		return nil
	}
	f, ok := p.T.Float(i)
	if !ok || f < 0 || f > 1 {
		p.Fail("temperature", "invalid_value", "temperature: Input should be a number between 0 and 1")
		return nil
	}
	return &f
}

func (p *parser) stopSequences() []string {
	i := p.Present("stop_sequences")
	if i < 0 {
		return nil
	}
	if p.T.Kind(i) != '[' {
		p.Fail("stop_sequences", "invalid_type", "stop_sequences: Input should be a valid list")
		return nil
	}
	out := make([]string, 0, p.T.Len(i))
	p.T.Children(i, func(n int, c int32) bool {
		s, ok := p.T.Str(c)
		if !ok {
			p.Fail(fmt.Sprintf("stop_sequences[%d]", n), "invalid_type", "stop_sequences[%d]: Input should be a valid string", n)
			return false
		}
		out = append(out, s)
		return true
	})
	return out
}

// toolName is Anthropic's rule for client tool names.
var toolName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)

// tools keeps the client tools. Server and versioned tools (a type other
// than "custom", such as web_search_20250305 or bash_20250124), which Poe
// cannot run, and defer_loading placeholders are dropped.
func (p *parser) tools() []conv.Tool {
	i := p.Present("tools")
	if i < 0 {
		return nil
	}
	if p.T.Kind(i) != '[' {
		p.Fail("tools", "invalid_type", "tools: Input should be a valid list")
		return nil
	}
	tools := make([]conv.Tool, 0, p.T.Len(i))
	seen := map[string]bool{}
	p.T.Children(i, func(n int, item int32) bool {
		at := fmt.Sprintf("tools[%d]", n)
		if p.T.Kind(item) != '{' {
			p.Fail(at, "invalid_type", "%s: Input should be an object", at)
			return false
		}
		name, _ := p.T.Str(p.T.Field(item, "name"))
		if typ, ok := p.T.Str(p.T.Field(item, "type")); ok && typ != "custom" {
			p.serverTools = append(p.serverTools, name)
			return true
		}
		if deferred, _ := p.T.Bool(p.T.Field(item, "defer_loading")); deferred {
			return true
		}
		if !toolName.MatchString(name) {
			p.Fail(at+".name", "invalid_value", "%s.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'", at)
			return false
		}
		if seen[name] {
			p.Fail(at+".name", "invalid_value", "%s.name: Tool names must be unique (%q is repeated)", at, name)
			return false
		}
		seen[name] = true
		tool := conv.Tool{Name: name}
		if d := p.T.Field(item, "description"); p.T.Present(d) {
			var ok bool
			if tool.Description, ok = p.T.Str(d); !ok {
				p.Fail(at+".description", "invalid_type", "%s.description: Input should be a valid string", at)
				return false
			}
		}
		if s := p.T.Field(item, "input_schema"); p.T.Present(s) {
			if p.T.Kind(s) != '{' {
				p.Fail(at+".input_schema", "invalid_type", "%s.input_schema: Input should be an object", at)
				return false
			}
			tool.Parameters = p.T.Raw(s)
		}
		tools = append(tools, tool)
		return true
	})
	return tools
}

// toolChoice maps auto / any / tool / none to auto / required / a named
// function / none. disable_parallel_tool_use is accepted; Poe has no such
// switch.
func (p *parser) toolChoice(tools []conv.Tool) conv.ToolChoice {
	i := p.Present("tool_choice")
	if i < 0 {
		return conv.ToolChoice{}
	}
	typ, ok := p.T.Str(p.T.Field(i, "type"))
	if p.T.Kind(i) != '{' || !ok {
		p.Fail("tool_choice", "invalid_type", "tool_choice: Input should be an object with a 'type'")
		return conv.ToolChoice{}
	}
	switch typ {
	case "auto":
		return conv.ToolChoice{Mode: conv.ToolChoiceAuto}
	case "any":
		return conv.ToolChoice{Mode: conv.ToolChoiceRequired}
	case "none":
		return conv.ToolChoice{Mode: conv.ToolChoiceNone}
	case "tool":
		name, _ := p.T.Str(p.T.Field(i, "name"))
		for _, t := range tools {
			if t.Name == name {
				return conv.ToolChoice{Mode: conv.ToolChoiceFunction, Name: name}
			}
		}
		for _, s := range p.serverTools {
			if s == name && name != "" {
				return conv.ToolChoice{} // a dropped server tool: let the bot answer
			}
		}
		p.Fail("tool_choice.name", "invalid_value", "tool_choice.name: Tool %q is not in 'tools'", name)
		return conv.ToolChoice{}
	}
	p.Fail("tool_choice.type", "invalid_value", "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
	return conv.ToolChoice{}
}

// thinking maps thinking and output_config.effort to the reasoning effort
// flag: enabled by budget_tokens (under 4096 low, under 16384 medium,
// else high), adaptive as output_config.effort or medium, disabled as
// none; without thinking, output_config.effort alone. show reports
// whether thinking blocks go back to the client.
func (p *parser) thinking() (effort string, show bool) {
	effort = p.outputEffort()
	i := p.Present("thinking")
	if i < 0 {
		return effort, false
	}
	typ, ok := p.T.Str(p.T.Field(i, "type"))
	if p.T.Kind(i) != '{' || !ok {
		p.Fail("thinking", "invalid_type", "thinking: Input should be an object with a 'type'")
		return "", false
	}
	display, _ := p.T.Str(p.T.Field(i, "display"))
	show = display != "omitted"
	switch typ {
	case "enabled":
		b := p.T.Field(i, "budget_tokens")
		budget, isInt := p.integer(b)
		if !isInt || budget < 1 {
			p.Fail("thinking.budget_tokens", "invalid_value", "thinking.budget_tokens: Input should be a positive integer")
			return "", false
		}
		if effort != "" {
			return effort, show
		}
		switch {
		case budget < 4096:
			return "low", show
		case budget < 16384:
			return "medium", show
		}
		return "high", show
	case "adaptive":
		if effort == "" {
			effort = "medium"
		}
		return effort, show
	case "disabled":
		return "none", false
	}
	p.Fail("thinking.type", "invalid_value", "thinking.type: Input should be 'enabled', 'adaptive' or 'disabled'")
	return "", false
}

// outputEffort reads output_config.effort: low, medium, high, xhigh, or
// max (sent as xhigh, the highest effort Poe's flag knows).
func (p *parser) outputEffort() string {
	oc := p.Present("output_config")
	if p.T.Kind(oc) != '{' {
		return ""
	}
	e := p.T.Field(oc, "effort")
	if !p.T.Present(e) {
		return ""
	}
	s, _ := p.T.Str(e)
	switch s {
	case "low", "medium", "high", "xhigh":
		return s
	case "max":
		return "xhigh"
	}
	p.Fail("output_config.effort", "invalid_value", "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'")
	return ""
}
