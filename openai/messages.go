package openai

import (
	"encoding/json"
	"fmt"
)

func (p *parser) messages() []Message {
	if p.err != nil {
		return nil
	}
	raw, ok := p.present("messages")
	if !ok {
		p.fail("messages", "missing_required_parameter", "Missing required parameter: 'messages'.")
		return nil
	}
	var list []json.RawMessage
	if jsonKind(raw) != '[' || json.Unmarshal(raw, &list) != nil {
		p.fail("messages", "invalid_type", "'messages' must be an array.")
		return nil
	}
	if len(list) == 0 {
		p.fail("messages", "empty_array", "'messages' must contain at least one message.")
		return nil
	}
	out := make([]Message, len(list))
	for i, item := range list {
		if !p.message(&out[i], item, fmt.Sprintf("messages[%d]", i)) {
			return nil
		}
	}
	return out
}

type rawMessage struct {
	Role         json.RawMessage `json:"role"`
	Content      json.RawMessage `json:"content"`
	Name         json.RawMessage `json:"name"`
	ToolCalls    json.RawMessage `json:"tool_calls"`
	ToolCallID   json.RawMessage `json:"tool_call_id"`
	FunctionCall json.RawMessage `json:"function_call"`
}

// stringField decodes an optional string field, failing with its param.
func (p *parser) stringField(raw json.RawMessage, param string, required bool) (string, bool) {
	if !hasValue(raw) {
		if required {
			p.fail(param, "missing_required_parameter", "Missing required parameter: '%s'.", param)
			return "", false
		}
		return "", true
	}
	var s string
	if jsonKind(raw) != '"' || json.Unmarshal(raw, &s) != nil {
		p.fail(param, "invalid_type", "'%s' must be a string.", param)
		return "", false
	}
	return s, true
}

func (p *parser) message(m *Message, raw json.RawMessage, at string) bool {
	var r rawMessage
	if jsonKind(raw) != '{' || json.Unmarshal(raw, &r) != nil {
		p.fail(at, "invalid_type", "'%s' must be an object.", at)
		return false
	}
	var ok bool
	if m.Role, ok = p.stringField(r.Role, at+".role", true); !ok {
		return false
	}
	if m.Name, ok = p.stringField(r.Name, at+".name", false); !ok {
		return false
	}
	switch m.Role {
	case RoleSystem, RoleDeveloper, RoleUser, RoleAssistant, RoleTool, RoleFunction:
	default:
		p.fail(at+".role", "invalid_value", "Invalid value for '%s.role': %q. Supported values are: 'system', 'developer', 'user', 'assistant', 'tool' and 'function'.", at, m.Role)
		return false
	}
	if m.Role == RoleAssistant && !p.toolCalls(m, r, at) {
		return false
	}
	if m.Role == RoleTool {
		if m.ToolCallID, ok = p.stringField(r.ToolCallID, at+".tool_call_id", true); !ok {
			return false
		}
		if m.ToolCallID == "" {
			p.fail(at+".tool_call_id", "invalid_value", "'%s.tool_call_id' must not be empty.", at)
			return false
		}
	}
	if m.Role == RoleFunction && m.Name == "" {
		p.fail(at+".name", "missing_required_parameter", "Missing required parameter: '%s.name'.", at)
		return false
	}
	// Content may be null only where OpenAI allows it.
	nullable := m.Role == RoleFunction || m.Role == RoleAssistant && (len(m.ToolCalls) > 0 || hasValue(r.FunctionCall))
	if !hasValue(r.Content) {
		if !nullable {
			p.fail(at+".content", "missing_required_parameter", "Missing required parameter: '%s.content'.", at)
			return false
		}
		return true
	}
	return p.content(m, r.Content, at+".content")
}

func hasValue(raw json.RawMessage) bool { k := jsonKind(raw); return k != 0 && k != 'n' }

func (p *parser) toolCalls(m *Message, r rawMessage, at string) bool {
	if hasValue(r.FunctionCall) {
		// The legacy single function_call becomes a tool call without id.
		var fc struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		}
		if json.Unmarshal(r.FunctionCall, &fc) != nil || fc.Name == "" {
			p.fail(at+".function_call", "invalid_type", "'%s.function_call' must have a name and string arguments.", at)
			return false
		}
		m.ToolCalls = append(m.ToolCalls, ToolCall{Type: "function", Name: fc.Name, Arguments: fc.Arguments})
	}
	if !hasValue(r.ToolCalls) {
		return true
	}
	var calls []struct {
		ID       *string `json:"id"`
		Type     *string `json:"type"`
		Function *struct {
			Name      *string `json:"name"`
			Arguments *string `json:"arguments"`
		} `json:"function"`
	}
	if jsonKind(r.ToolCalls) != '[' || json.Unmarshal(r.ToolCalls, &calls) != nil {
		p.fail(at+".tool_calls", "invalid_type", "'%s.tool_calls' must be an array of function calls.", at)
		return false
	}
	for j, c := range calls {
		cat := fmt.Sprintf("%s.tool_calls[%d]", at, j)
		if c.ID == nil || *c.ID == "" {
			p.fail(cat+".id", "missing_required_parameter", "Missing required parameter: '%s.id'.", cat)
			return false
		}
		if c.Type != nil && *c.Type != "function" {
			p.fail(cat+".type", "invalid_value", "Only tool calls of type 'function' are supported.")
			return false
		}
		if c.Function == nil || c.Function.Name == nil || *c.Function.Name == "" {
			p.fail(cat+".function.name", "missing_required_parameter", "Missing required parameter: '%s.function.name'.", cat)
			return false
		}
		call := ToolCall{ID: *c.ID, Type: "function", Name: *c.Function.Name}
		if c.Function.Arguments != nil {
			call.Arguments = *c.Function.Arguments
		}
		m.ToolCalls = append(m.ToolCalls, call)
	}
	return true
}

// allowedParts lists the content part types each role may send.
var allowedParts = map[string]map[string]bool{
	RoleSystem:    {PartText: true},
	RoleDeveloper: {PartText: true},
	RoleUser:      {PartText: true, PartImageURL: true, PartFile: true, PartInputAudio: true},
	RoleAssistant: {PartText: true, PartRefusal: true},
	RoleTool:      {PartText: true},
	RoleFunction:  {PartText: true},
}

func (p *parser) content(m *Message, raw json.RawMessage, at string) bool {
	if jsonKind(raw) == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			p.fail(at, "invalid_type", "'%s' must be a string or an array of content parts.", at)
			return false
		}
		m.Content, m.Text = []Part{{Type: PartText, Text: s}}, true
		return true
	}
	var list []json.RawMessage
	if jsonKind(raw) != '[' || json.Unmarshal(raw, &list) != nil {
		p.fail(at, "invalid_type", "'%s' must be a string or an array of content parts.", at)
		return false
	}
	m.Content = make([]Part, 0, len(list))
	for k, item := range list {
		pat := fmt.Sprintf("%s[%d]", at, k)
		part, ok := p.part(item, pat)
		if !ok {
			return false
		}
		if !allowedParts[m.Role][part.Type] {
			p.fail(pat+".type", "invalid_value", "Content parts of type '%s' are not allowed in '%s' messages.", part.Type, m.Role)
			return false
		}
		m.Content = append(m.Content, part)
	}
	return true
}

func (p *parser) part(raw json.RawMessage, at string) (Part, bool) {
	var r struct {
		Type     *string `json:"type"`
		Text     *string `json:"text"`
		Refusal  *string `json:"refusal"`
		ImageURL *struct {
			URL *string `json:"url"`
		} `json:"image_url"`
		File *struct {
			FileData *string `json:"file_data"`
			FileID   *string `json:"file_id"`
			Filename *string `json:"filename"`
		} `json:"file"`
		InputAudio *struct {
			Data   *string `json:"data"`
			Format *string `json:"format"`
		} `json:"input_audio"`
	}
	if jsonKind(raw) != '{' || json.Unmarshal(raw, &r) != nil || r.Type == nil {
		p.fail(at, "invalid_type", "'%s' must be a content part object with a 'type'.", at)
		return Part{}, false
	}
	part := Part{Type: *r.Type}
	missing := func(field string) (Part, bool) {
		p.fail(at+"."+field, "missing_required_parameter", "Missing required parameter: '%s.%s'.", at, field)
		return Part{}, false
	}
	switch part.Type {
	case PartText:
		if r.Text == nil {
			return missing("text")
		}
		part.Text = *r.Text
	case PartRefusal:
		if r.Refusal == nil {
			return missing("refusal")
		}
		part.Text = *r.Refusal
	case PartImageURL:
		if r.ImageURL == nil || r.ImageURL.URL == nil || *r.ImageURL.URL == "" {
			return missing("image_url.url")
		}
		part.URL = *r.ImageURL.URL
	case PartFile:
		if r.File == nil {
			return missing("file")
		}
		if r.File.FileData != nil {
			part.FileData = *r.File.FileData
		}
		if r.File.FileID != nil {
			part.FileID = *r.File.FileID
		}
		if r.File.Filename != nil {
			part.Filename = *r.File.Filename
		}
		if part.FileData == "" && part.FileID == "" {
			return missing("file.file_data")
		}
	case PartInputAudio:
		if r.InputAudio == nil || r.InputAudio.Data == nil {
			return missing("input_audio.data")
		}
		part.Audio = *r.InputAudio.Data
		if r.InputAudio.Format != nil {
			part.Format = *r.InputAudio.Format
		}
	default:
		p.fail(at+".type", "invalid_value", "Unknown content part type %q.", part.Type)
		return Part{}, false
	}
	return part, true
}
