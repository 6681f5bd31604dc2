package chat

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
)

func (p *parser) messages() []conv.Message {
	if p.Err != nil {
		return nil
	}
	i := p.RequiredArray("messages")
	if i < 0 {
		return nil
	}
	n, span := p.T.Count(i)
	if n == 0 {
		p.Fail("messages", "empty_array", "'messages' must contain at least one message.")
		return nil
	}
	out := make([]conv.Message, 0, capFor(n, span, minMessageLen, unsafe.Sizeof(conv.Message{})))
	p.T.Children(i, func(k int, item int32) bool {
		var m conv.Message
		ok := p.message(&m, item, fmt.Sprintf("messages[%d]", k))
		out = append(out, m)
		return ok
	})
	if p.Err != nil {
		return nil
	}
	return out
}

// stringField reads an optional string field of object o, failing with its
// param.
func (p *parser) stringField(o int32, name, at string, required bool) (string, bool) {
	i := p.T.Field(o, name)
	param := at + "." + name
	if !p.T.Present(i) {
		if required {
			p.Fail(param, "missing_required_parameter", "Missing required parameter: '%s'.", param)
			return "", false
		}
		return "", true
	}
	s, ok := p.T.Str(i)
	if !ok {
		p.Fail(param, "invalid_type", "'%s' must be a string.", param)
		return "", false
	}
	return s, true
}

func (p *parser) message(m *conv.Message, o int32, at string) bool {
	if p.T.Kind(o) != '{' {
		p.Fail(at, "invalid_type", "'%s' must be an object.", at)
		return false
	}
	var ok bool
	if m.Role, ok = p.stringField(o, "role", at, true); !ok {
		return false
	}
	if m.Name, ok = p.stringField(o, "name", at, false); !ok {
		return false
	}
	switch m.Role {
	case conv.RoleSystem, conv.RoleDeveloper, conv.RoleUser, conv.RoleAssistant, conv.RoleTool, conv.RoleFunction:
	default:
		p.Fail(at+".role", "invalid_value", "Invalid value for '%s.role': %q. Supported values are: 'system', 'developer', 'user', 'assistant', 'tool' and 'function'.", at, m.Role)
		return false
	}
	functionCall := p.T.Field(o, "function_call")
	if m.Role == conv.RoleAssistant && !p.toolCalls(m, o, functionCall, at) {
		return false
	}
	if m.Role == conv.RoleTool {
		if m.ToolCallID, ok = p.stringField(o, "tool_call_id", at, true); !ok {
			return false
		}
		if m.ToolCallID == "" {
			p.Fail(at+".tool_call_id", "invalid_value", "'%s.tool_call_id' must not be empty.", at)
			return false
		}
	}
	if m.Role == conv.RoleFunction && m.Name == "" {
		p.Fail(at+".name", "missing_required_parameter", "Missing required parameter: '%s.name'.", at)
		return false
	}
	// Content may be null only where OpenAI allows it.
	nullable := m.Role == conv.RoleFunction || m.Role == conv.RoleAssistant && (len(m.ToolCalls) > 0 || p.T.Present(functionCall))
	content := p.T.Field(o, "content")
	if !p.T.Present(content) {
		if !nullable {
			p.Fail(at+".content", "missing_required_parameter", "Missing required parameter: '%s.content'.", at)
			return false
		}
		return true
	}
	return p.content(m, content, at+".content")
}

func (p *parser) toolCalls(m *conv.Message, o, functionCall int32, at string) bool {
	if p.T.Present(functionCall) {
		// The legacy single function_call becomes a tool call without id.
		name, _ := p.T.Str(p.T.Field(functionCall, "name"))
		args, argsOK := p.T.Str(p.T.Field(functionCall, "arguments"))
		if p.T.Kind(functionCall) != '{' || name == "" || !argsOK && p.T.Present(p.T.Field(functionCall, "arguments")) {
			p.Fail(at+".function_call", "invalid_type", "'%s.function_call' must have a name and string arguments.", at)
			return false
		}
		m.ToolCalls = append(m.ToolCalls, conv.ToolCall{Type: "function", Name: name, Arguments: args})
	}
	calls := p.T.Field(o, "tool_calls")
	if !p.T.Present(calls) {
		return true
	}
	if p.T.Kind(calls) != '[' {
		p.Fail(at+".tool_calls", "invalid_type", "'%s.tool_calls' must be an array of function calls.", at)
		return false
	}
	p.T.Children(calls, func(j int, c int32) bool {
		cat := fmt.Sprintf("%s.tool_calls[%d]", at, j)
		if p.T.Kind(c) != '{' {
			p.Fail(at+".tool_calls", "invalid_type", "'%s.tool_calls' must be an array of function calls.", at)
			return false
		}
		id, _ := p.T.Str(p.T.Field(c, "id"))
		if id == "" {
			p.Fail(cat+".id", "missing_required_parameter", "Missing required parameter: '%s.id'.", cat)
			return false
		}
		if typ := p.T.Field(c, "type"); p.T.Present(typ) {
			if s, _ := p.T.Str(typ); s != "function" {
				p.Fail(cat+".type", "invalid_value", "Only tool calls of type 'function' are supported.")
				return false
			}
		}
		fn := p.T.Field(c, "function")
		name, _ := p.T.Str(p.T.Field(fn, "name"))
		if name == "" {
			p.Fail(cat+".function.name", "missing_required_parameter", "Missing required parameter: '%s.function.name'.", cat)
			return false
		}
		call := conv.ToolCall{ID: id, Type: "function", Name: name}
		if a := p.T.Field(fn, "arguments"); p.T.Present(a) {
			var ok bool
			if call.Arguments, ok = p.T.Str(a); !ok {
				p.Fail(cat+".function.arguments", "invalid_type", "'%s.function.arguments' must be a string.", cat)
				return false
			}
		}
		m.ToolCalls = append(m.ToolCalls, call)
		return true
	})
	return p.Err == nil // fail has set it if a call was refused
}

// allowedParts lists the content part types each role may send.
var allowedParts = map[string]map[string]bool{
	conv.RoleSystem:    {conv.PartText: true},
	conv.RoleDeveloper: {conv.PartText: true},
	conv.RoleUser:      {conv.PartText: true, conv.PartImageURL: true, conv.PartFile: true, conv.PartInputAudio: true},
	conv.RoleAssistant: {conv.PartText: true, conv.PartRefusal: true},
	conv.RoleTool:      {conv.PartText: true},
	conv.RoleFunction:  {conv.PartText: true},
}

func (p *parser) content(m *conv.Message, i int32, at string) bool {
	if s, ok := p.T.Str(i); ok {
		m.Content, m.Text = []conv.Part{{Type: conv.PartText, Text: s}}, true
		return true
	}
	if p.T.Kind(i) != '[' {
		p.Fail(at, "invalid_type", "'%s' must be a string or an array of content parts.", at)
		return false
	}
	n, span := p.T.Count(i)
	m.Content = make([]conv.Part, 0, capFor(n, span, minPartLen, unsafe.Sizeof(conv.Part{})))
	p.T.Children(i, func(k int, item int32) bool {
		pat := fmt.Sprintf("%s[%d]", at, k)
		part, ok := p.part(item, pat)
		if !ok {
			return false
		}
		if !allowedParts[m.Role][part.Type] {
			p.Fail(pat+".type", "invalid_value", "Content parts of type '%s' are not allowed in '%s' messages.", part.Type, m.Role)
			return false
		}
		m.Content = append(m.Content, part)
		return true
	})
	return p.Err == nil // fail has set it if a part was refused
}

func (p *parser) part(o int32, at string) (conv.Part, bool) {
	typ, isStr := p.T.Str(p.T.Field(o, "type"))
	if p.T.Kind(o) != '{' || !isStr {
		p.Fail(at, "invalid_type", "'%s' must be a content part object with a 'type'.", at)
		return conv.Part{}, false
	}
	part := conv.Part{Type: typ}
	walk := func(path []string) int32 {
		i := o
		for _, f := range path {
			i = p.T.Field(i, f)
		}
		return i
	}
	// str reads a string at a path below the part; missing or wrong fails.
	str := func(path ...string) (string, bool) {
		s, ok := p.T.Str(walk(path))
		if !ok {
			param := at + "." + strings.Join(path, ".")
			p.Fail(param, "missing_required_parameter", "Missing required parameter: '%s'.", param)
		}
		return s, ok
	}
	optional := func(path ...string) string {
		s, _ := p.T.Str(walk(path))
		return s
	}
	var ok bool
	switch part.Type {
	case conv.PartText:
		part.Text, ok = str("text")
	case conv.PartRefusal:
		part.Text, ok = str("refusal")
	case conv.PartImageURL:
		if part.URL, ok = str("image_url", "url"); ok && part.URL == "" {
			p.Fail(at+".image_url.url", "missing_required_parameter", "Missing required parameter: '%s.image_url.url'.", at)
			ok = false
		}
	case conv.PartFile:
		if p.T.Kind(p.T.Field(o, "file")) != '{' {
			p.Fail(at+".file", "missing_required_parameter", "Missing required parameter: '%s.file'.", at)
			return conv.Part{}, false
		}
		part.FileData, part.FileID, part.Filename = optional("file", "file_data"), optional("file", "file_id"), optional("file", "filename")
		ok = part.FileData != "" || part.FileID != ""
		if !ok {
			p.Fail(at+".file.file_data", "missing_required_parameter", "Missing required parameter: '%s.file.file_data'.", at)
		}
	case conv.PartInputAudio:
		part.Audio, ok = str("input_audio", "data")
		part.Format = optional("input_audio", "format")
	default:
		p.Fail(at+".type", "invalid_value", "Unknown content part type %q.", part.Type)
	}
	return part, ok
}
