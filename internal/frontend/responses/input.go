package responses

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
)

// itemJSON holds the fields of every input item type we read.
type itemJSON struct {
	Type      raw `json:"type"`
	Role      raw `json:"role"`
	Content   raw `json:"content"`
	CallID    raw `json:"call_id"`
	Name      raw `json:"name"`
	Namespace raw `json:"namespace"`
	Arguments raw `json:"arguments"`
	Input     raw `json:"input"`
	Output    raw `json:"output"`
}

type partJSON struct {
	Type     raw `json:"type"`
	Text     raw `json:"text"`
	Refusal  raw `json:"refusal"`
	ImageURL raw `json:"image_url"`
	FileID   raw `json:"file_id"`
	FileData raw `json:"file_data"`
	FileURL  raw `json:"file_url"`
	Filename raw `json:"filename"`
}

// inputState builds the conversation from input items.
type inputState struct {
	*parser
	msgs  []conv.Message
	calls map[string]bool // call ids of the latest assistant message
	// images of tool outputs, sent as a user message after the outputs
	images []conv.Part
}

// input appends the conversation of r (a string, or an array of items)
// to msgs (instructions and previous_response_id's conversation).
func (p *parser) input(r raw, msgs []conv.Message, continued bool) []conv.Message {
	s := &inputState{parser: p, msgs: msgs, calls: map[string]bool{}}
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == conv.RoleAssistant {
			for _, c := range msgs[i].ToolCalls {
				s.calls[c.ID] = true
			}
			break
		}
	}
	switch {
	case !r.present():
		if !continued {
			p.fail("input", "missing_required_parameter", "Missing required parameter: 'input'.")
		}
	case r.isString():
		text, _ := r.str()
		s.msgs = append(s.msgs, conv.Message{Role: conv.RoleUser, Text: true, Param: "input",
			Content: []conv.Part{{Type: conv.PartText, Text: text, Param: "input"}}})
	case r.isArray():
		var items []raw
		if json.Unmarshal(r, &items) != nil {
			p.failType("input", "a string or an array of items")
			return nil
		}
		for i, item := range items {
			s.item(item, fmt.Sprintf("input[%d]", i))
			if p.err != nil {
				return nil
			}
		}
		s.flushImages()
	default:
		p.failType("input", "a string or an array of items")
	}
	if p.err == nil && len(s.msgs) == 0 {
		p.fail("input", "invalid_value", "'input' must contain at least one message.")
	}
	return s.msgs
}

func (s *inputState) item(r raw, at string) {
	var it itemJSON
	if !r.isObject() || json.Unmarshal(r, &it) != nil {
		s.failType(at, "an object")
		return
	}
	typ, ok := it.Type.str()
	if !it.Type.present() && it.Role.present() {
		typ, ok = "message", true
	}
	if !ok {
		s.fail(at+".type", "missing_required_parameter", "Missing required parameter: '%s.type'.", at)
		return
	}
	switch typ {
	case "message":
		s.message(&it, at)
	case "function_call", "custom_tool_call":
		s.call(&it, at, typ == "custom_tool_call")
	case "function_call_output", "custom_tool_call_output":
		s.output(&it, at)
	}
	// reasoning (with or without encrypted_content), item_reference,
	// hosted tool calls, compaction and unknown types are dropped.
}

func (s *inputState) add(m conv.Message) {
	if m.Role != conv.RoleTool {
		s.flushImages()
	}
	s.msgs = append(s.msgs, m)
}

func (s *inputState) flushImages() {
	if len(s.images) > 0 {
		s.msgs = append(s.msgs, conv.Message{Role: conv.RoleUser, Content: s.images, Param: s.images[0].Param})
		s.images = nil
	}
}

// stringField reads a required (or optional) string field of an item.
func (s *inputState) stringField(r raw, param string, required bool) (string, bool) {
	if !r.present() {
		if required {
			s.fail(param, "missing_required_parameter", "Missing required parameter: '%s'.", param)
		}
		return "", !required
	}
	v, ok := r.str()
	if !ok {
		s.failType(param, "a string")
		return "", false
	}
	if required && v == "" {
		s.fail(param, "invalid_value", "'%s' must not be empty.", param)
		return "", false
	}
	return v, true
}

func (s *inputState) message(it *itemJSON, at string) {
	role, ok := s.stringField(it.Role, at+".role", true)
	if !ok {
		return
	}
	switch role {
	case conv.RoleUser, conv.RoleAssistant, conv.RoleSystem, conv.RoleDeveloper:
	default:
		s.fail(at+".role", "invalid_value", "Invalid value for '%s.role': %q. Supported values are: 'user', 'assistant', 'system' and 'developer'.", at, role)
		return
	}
	m := conv.Message{Role: role, Param: at}
	switch {
	case !it.Content.present():
		s.fail(at+".content", "missing_required_parameter", "Missing required parameter: '%s.content'.", at)
		return
	case it.Content.isString():
		text, _ := it.Content.str()
		m.Text = true
		m.Content = []conv.Part{{Type: conv.PartText, Text: text, Param: at + ".content"}}
	case it.Content.isArray():
		var parts []raw
		if json.Unmarshal(it.Content, &parts) != nil {
			s.failType(at+".content", "a string or an array of content parts")
			return
		}
		m.Content = make([]conv.Part, 0, len(parts))
		for k, pr := range parts {
			part, keep := s.part(pr, fmt.Sprintf("%s.content[%d]", at, k), role)
			if s.err != nil {
				return
			}
			if keep {
				m.Content = append(m.Content, part)
			}
		}
	default:
		s.failType(at+".content", "a string or an array of content parts")
		return
	}
	s.add(m)
}

// part reads one content part; keep is false for unknown part types,
// which are skipped.
func (s *inputState) part(r raw, at, role string) (part conv.Part, keep bool) {
	var pj partJSON
	if !r.isObject() || json.Unmarshal(r, &pj) != nil {
		s.failType(at, "a content part object")
		return part, false
	}
	typ, ok := pj.Type.str()
	if !ok {
		s.fail(at+".type", "missing_required_parameter", "Missing required parameter: '%s.type'.", at)
		return part, false
	}
	part.Param = at
	switch typ {
	case "input_text", "output_text", "text", "summary_text", "reasoning_text":
		part.Type = conv.PartText
		part.Text, ok = s.stringField(pj.Text, at+".text", false)
	case "refusal":
		part.Type = conv.PartText
		if role == conv.RoleAssistant {
			part.Type = conv.PartRefusal
		}
		part.Text, ok = s.stringField(pj.Refusal, at+".refusal", false)
	case "input_image", "input_file":
		if role != conv.RoleUser && role != conv.RoleTool {
			s.fail(at+".type", "invalid_value", "Content parts of type '%s' are not allowed in '%s' messages.", typ, role)
			return part, false
		}
		if typ == "input_image" {
			return s.image(&pj, at)
		}
		return s.file(&pj, at)
	default:
		return part, false
	}
	return part, ok
}

func (s *inputState) image(pj *partJSON, at string) (conv.Part, bool) {
	part := conv.Part{Type: conv.PartImageURL, Param: at}
	url, ok := s.stringField(pj.ImageURL, at+".image_url", false)
	if !ok {
		return part, false
	}
	if url == "" {
		if pj.FileID.present() {
			s.fail(at+".file_id", "unsupported_value", "Uploaded file ids are not supported here: send the image as image_url (a data: or https: URL).")
		} else {
			s.fail(at+".image_url", "missing_required_parameter", "Missing required parameter: '%s.image_url'.", at)
		}
		return part, false
	}
	part.URL = url
	return part, true
}

func (s *inputState) file(pj *partJSON, at string) (conv.Part, bool) {
	part := conv.Part{Type: conv.PartFile, Param: at}
	var ok bool
	if part.Filename, ok = s.stringField(pj.Filename, at+".filename", false); !ok {
		return part, false
	}
	if part.FileData, ok = s.stringField(pj.FileData, at+".file_data", false); !ok {
		return part, false
	}
	if part.FileData != "" {
		return part, true
	}
	url, ok := s.stringField(pj.FileURL, at+".file_url", false)
	if !ok {
		return part, false
	}
	if url != "" { // Poe fetches it, as it does an image URL
		return conv.Part{Type: conv.PartImageURL, URL: url, Filename: part.Filename, Param: at}, true
	}
	if pj.FileID.present() {
		s.fail(at+".file_id", "unsupported_value", "Uploaded file ids are not supported here: send the file's bytes as file_data.")
	} else {
		s.fail(at+".file_data", "missing_required_parameter", "Missing required parameter: '%s.file_data'.", at)
	}
	return part, false
}

// call adds a function_call (or custom_tool_call) to the assistant
// message before it, so that a run of calls becomes one assistant message
// with tool calls, as Poe and Chat Completions have it.
func (s *inputState) call(it *itemJSON, at string, custom bool) {
	id, ok := s.stringField(it.CallID, at+".call_id", true)
	if !ok {
		return
	}
	name, ok := s.stringField(it.Name, at+".name", true)
	if !ok {
		return
	}
	ns, ok := s.stringField(it.Namespace, at+".namespace", false)
	if !ok {
		return
	}
	call := conv.ToolCall{ID: id, Type: "function", Name: s.names.flat(ns, name)}
	if custom {
		input, ok := s.stringField(it.Input, at+".input", false)
		if !ok {
			return
		}
		args, _ := json.Marshal(struct {
			Input string `json:"input"`
		}{input})
		call.Arguments = string(args)
	} else {
		if call.Arguments, ok = s.stringField(it.Arguments, at+".arguments", false); !ok {
			return
		}
		if strings.TrimSpace(call.Arguments) == "" {
			call.Arguments = "{}"
		}
	}
	if n := len(s.msgs); n > 0 && s.msgs[n-1].Role == conv.RoleAssistant && len(s.images) == 0 {
		last := &s.msgs[n-1]
		if len(last.ToolCalls) == 0 {
			clear(s.calls)
		}
		last.ToolCalls = append(last.ToolCalls, call)
	} else {
		clear(s.calls)
		s.add(conv.Message{Role: conv.RoleAssistant, Param: at, ToolCalls: []conv.ToolCall{call}})
	}
	s.calls[id] = true
}

// output adds a function_call_output (or custom_tool_call_output) as a
// tool message; its images follow the run of outputs as a user message.
func (s *inputState) output(it *itemJSON, at string) {
	id, ok := s.stringField(it.CallID, at+".call_id", true)
	if !ok {
		return
	}
	if !s.calls[id] {
		s.fail(at+".call_id", "invalid_value", "No tool call found for function call output with call_id %q: '%s.call_id' must match a function_call of the assistant turn before it.", id, at)
		return
	}
	m := conv.Message{Role: conv.RoleTool, ToolCallID: id, Param: at, IDParam: at + ".call_id"}
	switch {
	case !it.Output.present():
		s.fail(at+".output", "missing_required_parameter", "Missing required parameter: '%s.output'.", at)
		return
	case it.Output.isString():
		text, _ := it.Output.str()
		m.Text = true
		m.Content = []conv.Part{{Type: conv.PartText, Text: text, Param: at + ".output"}}
	case it.Output.isArray():
		var parts []raw
		if json.Unmarshal(it.Output, &parts) != nil {
			s.failType(at+".output", "a string or an array of content parts")
			return
		}
		var text strings.Builder
		for k, pr := range parts {
			part, keep := s.part(pr, fmt.Sprintf("%s.output[%d]", at, k), conv.RoleTool)
			if s.err != nil {
				return
			}
			switch {
			case !keep:
			case part.Type == conv.PartText || part.Type == conv.PartRefusal:
				if text.Len() > 0 {
					text.WriteByte('\n')
				}
				text.WriteString(part.Text)
			default:
				s.images = append(s.images, part)
			}
		}
		m.Content = []conv.Part{{Type: conv.PartText, Text: text.String(), Param: at + ".output"}}
		m.Text = true
	default:
		s.failType(at+".output", "a string or an array of content parts")
		return
	}
	s.add(m)
}
