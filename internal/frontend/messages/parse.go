package messages

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
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
	p := parser{t: t}
	req := &conv.Request{IncludeUsage: true} // usage is always reported
	req.Model = p.requiredString("model")
	if !count {
		req.MaxTokens = p.maxTokens()
		req.Stream = p.optionalBool("stream")
	}
	req.Temperature = p.temperature()
	req.Stop = p.stopSequences()
	req.Tools = p.tools()
	req.ToolChoice = p.toolChoice(req.Tools)
	req.ReasoningEffort, opts.thinking = p.thinking()
	system := p.system()
	req.Messages = p.messages(system)
	if p.err != nil {
		return nil, opts, p.err
	}
	return req, opts, nil
}

type parser struct {
	t   *jsontree.Tree
	err *conv.Error
	// serverTools are the names of the dropped server tools, which a
	// tool_choice may name.
	serverTools []string
}

func (p *parser) fail(param, code, format string, args ...any) {
	if p.err == nil {
		p.err = conv.InvalidRequest(param, code, format, args...)
	}
}

// present returns a top-level field unless it is absent or null (-1).
func (p *parser) present(name string) int32 {
	i := p.t.Field(p.t.Root(), name)
	if !p.t.Present(i) {
		return -1
	}
	return i
}

func (p *parser) requiredString(name string) string {
	i := p.present(name)
	if i < 0 {
		p.fail(name, "missing_required_parameter", "%s: Field required", name)
		return ""
	}
	s, ok := p.t.Str(i)
	if !ok {
		p.fail(name, "invalid_type", "%s: Input should be a valid string", name)
		return ""
	}
	if strings.TrimSpace(s) == "" {
		p.fail(name, "invalid_value", "%s: String should not be empty", name)
	}
	return s
}

func (p *parser) optionalBool(name string) bool {
	i := p.present(name)
	if i < 0 {
		return false
	}
	b, ok := p.t.Bool(i)
	if !ok {
		p.fail(name, "invalid_type", "%s: Input should be a valid boolean", name)
	}
	return b
}

// integer reads a number that has no fractional part.
func (p *parser) integer(i int32) (int64, bool) {
	f, ok := p.t.Float(i)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

// maxTokens is required and positive; the core stops the answer there.
func (p *parser) maxTokens() int {
	i := p.present("max_tokens")
	if i < 0 {
		p.fail("max_tokens", "missing_required_parameter", "max_tokens: Field required")
		return 0
	}
	n, ok := p.integer(i)
	if !ok || n < 1 {
		p.fail("max_tokens", "invalid_value", "max_tokens: Input should be a positive integer")
		return 0
	}
	return int(min(n, math.MaxInt32))
}

func (p *parser) temperature() *float64 {
	i := p.present("temperature")
	if i < 0 {
		return nil
	}
	f, ok := p.t.Float(i)
	if !ok || f < 0 || f > 1 {
		p.fail("temperature", "invalid_value", "temperature: Input should be a number between 0 and 1")
		return nil
	}
	return &f
}

func (p *parser) stopSequences() []string {
	i := p.present("stop_sequences")
	if i < 0 {
		return nil
	}
	if p.t.Kind(i) != '[' {
		p.fail("stop_sequences", "invalid_type", "stop_sequences: Input should be a valid list")
		return nil
	}
	out := make([]string, 0, p.t.Len(i))
	p.t.Children(i, func(n int, c int32) bool {
		s, ok := p.t.Str(c)
		if !ok {
			p.fail(fmt.Sprintf("stop_sequences[%d]", n), "invalid_type", "stop_sequences[%d]: Input should be a valid string", n)
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
	i := p.present("tools")
	if i < 0 {
		return nil
	}
	if p.t.Kind(i) != '[' {
		p.fail("tools", "invalid_type", "tools: Input should be a valid list")
		return nil
	}
	tools := make([]conv.Tool, 0, p.t.Len(i))
	seen := map[string]bool{}
	p.t.Children(i, func(n int, item int32) bool {
		at := fmt.Sprintf("tools[%d]", n)
		if p.t.Kind(item) != '{' {
			p.fail(at, "invalid_type", "%s: Input should be an object", at)
			return false
		}
		name, _ := p.t.Str(p.t.Field(item, "name"))
		if typ, ok := p.t.Str(p.t.Field(item, "type")); ok && typ != "custom" {
			p.serverTools = append(p.serverTools, name)
			return true
		}
		if deferred, _ := p.t.Bool(p.t.Field(item, "defer_loading")); deferred {
			return true
		}
		if !toolName.MatchString(name) {
			p.fail(at+".name", "invalid_value", "%s.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'", at)
			return false
		}
		if seen[name] {
			p.fail(at+".name", "invalid_value", "%s.name: Tool names must be unique (%q is repeated)", at, name)
			return false
		}
		seen[name] = true
		tool := conv.Tool{Name: name}
		if d := p.t.Field(item, "description"); p.t.Present(d) {
			var ok bool
			if tool.Description, ok = p.t.Str(d); !ok {
				p.fail(at+".description", "invalid_type", "%s.description: Input should be a valid string", at)
				return false
			}
		}
		if s := p.t.Field(item, "input_schema"); p.t.Present(s) {
			if p.t.Kind(s) != '{' {
				p.fail(at+".input_schema", "invalid_type", "%s.input_schema: Input should be an object", at)
				return false
			}
			tool.Parameters = p.t.Raw(s)
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
	i := p.present("tool_choice")
	if i < 0 {
		return conv.ToolChoice{}
	}
	typ, ok := p.t.Str(p.t.Field(i, "type"))
	if p.t.Kind(i) != '{' || !ok {
		p.fail("tool_choice", "invalid_type", "tool_choice: Input should be an object with a 'type'")
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
		name, _ := p.t.Str(p.t.Field(i, "name"))
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
		p.fail("tool_choice.name", "invalid_value", "tool_choice.name: Tool %q is not in 'tools'", name)
		return conv.ToolChoice{}
	}
	p.fail("tool_choice.type", "invalid_value", "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
	return conv.ToolChoice{}
}

// thinking maps thinking and output_config.effort to the reasoning effort
// flag: enabled by budget_tokens (under 4096 low, under 16384 medium,
// else high), adaptive as output_config.effort or medium, disabled as
// none; without thinking, output_config.effort alone. show reports
// whether thinking blocks go back to the client.
func (p *parser) thinking() (effort string, show bool) {
	effort = p.outputEffort()
	i := p.present("thinking")
	if i < 0 {
		return effort, false
	}
	typ, ok := p.t.Str(p.t.Field(i, "type"))
	if p.t.Kind(i) != '{' || !ok {
		p.fail("thinking", "invalid_type", "thinking: Input should be an object with a 'type'")
		return "", false
	}
	display, _ := p.t.Str(p.t.Field(i, "display"))
	show = display != "omitted"
	switch typ {
	case "enabled":
		b := p.t.Field(i, "budget_tokens")
		budget, isInt := p.integer(b)
		if !isInt || budget < 1 {
			p.fail("thinking.budget_tokens", "invalid_value", "thinking.budget_tokens: Input should be a positive integer")
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
	p.fail("thinking.type", "invalid_value", "thinking.type: Input should be 'enabled', 'adaptive' or 'disabled'")
	return "", false
}

// outputEffort reads output_config.effort: low, medium, high, xhigh, or
// max (sent as xhigh, the highest effort Poe's flag knows).
func (p *parser) outputEffort() string {
	oc := p.present("output_config")
	if p.t.Kind(oc) != '{' {
		return ""
	}
	e := p.t.Field(oc, "effort")
	if !p.t.Present(e) {
		return ""
	}
	s, _ := p.t.Str(e)
	switch s {
	case "low", "medium", "high", "xhigh":
		return s
	case "max":
		return "xhigh"
	}
	p.fail("output_config.effort", "invalid_value", "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'")
	return ""
}
