package messages

import (
	"fmt"
	"strings"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
)

// billingHeader starts the attribution block Claude Code puts first in
// system; it is not meant for the model.
const billingHeader = "x-anthropic-billing-header:"

// system reads the top-level system prompt: a string or text blocks
// (cache_control and other block fields ignored).
func (p *parser) system() *conv.Message {
	i := p.Present("system")
	if i < 0 {
		return nil
	}
	m := &conv.Message{Role: conv.RoleSystem, Param: "system"}
	if s, ok := p.T.Str(i); ok {
		if s == "" || strings.HasPrefix(s, billingHeader) {
			return nil
		}
		m.Content, m.Text = []conv.Part{{Type: conv.PartText, Text: s}}, true
		return m
	}
	if !p.textBlocks(m, i, "system") || len(m.Content) == 0 {
		return nil
	}
	return m
}

// textBlocks reads an array of blocks of which only text is kept (system
// prompts and role:"system" messages).
func (p *parser) textBlocks(m *conv.Message, i int32, at string) bool {
	if p.T.Kind(i) != '[' {
		p.Fail(at, "invalid_type", "%s: Input should be a valid string or a list of blocks", at)
		return false
	}
	p.T.Children(i, func(k int, b int32) bool {
		bat := fmt.Sprintf("%s[%d]", at, k)
		typ, ok := p.blockType(b, bat)
		if !ok {
			return false
		}
		if typ != "text" {
			return true
		}
		text, ok := p.text(b, bat)
		if ok && text != "" && !strings.HasPrefix(text, billingHeader) {
			m.Content = append(m.Content, conv.Part{Type: conv.PartText, Text: text, Param: bat})
		}
		return ok
	})
	return p.Err == nil
}

func (p *parser) blockType(b int32, at string) (string, bool) {
	if p.T.Kind(b) != '{' {
		p.Fail(at, "invalid_type", "%s: Input should be an object", at)
		return "", false
	}
	typ, ok := p.T.Str(p.T.Field(b, "type"))
	if !ok {
		p.Fail(at+".type", "missing_required_parameter", "%s.type: Field required", at)
	}
	return typ, ok
}

func (p *parser) text(b int32, at string) (string, bool) {
	s, ok := p.T.Str(p.T.Field(b, "text"))
	if !ok {
		p.Fail(at+".text", "missing_required_parameter", "%s.text: Field required", at)
	}
	return s, ok
}

// messages reads messages into conv messages, the system prompt first.
// A user message's tool_result blocks become tool messages placed before
// the rest of that message; thinking blocks are dropped; a message left
// with nothing is dropped.
func (p *parser) messages(system *conv.Message) []conv.Message {
	i := p.RequiredArray("messages")
	if i < 0 {
		return nil
	}
	n := p.T.Len(i)
	if n == 0 {
		p.Fail("messages", "invalid_value", "messages: at least one message is required")
		return nil
	}
	out := make([]conv.Message, 0, n+1)
	if system != nil {
		out = append(out, *system)
	}
	p.T.Children(i, func(k int, o int32) bool {
		out = p.message(out, o, fmt.Sprintf("messages[%d]", k))
		return p.Err == nil
	})
	return out
}

func (p *parser) message(out []conv.Message, o int32, at string) []conv.Message {
	if p.T.Kind(o) != '{' {
		p.Fail(at, "invalid_type", "%s: Input should be an object", at)
		return out
	}
	role, ok := p.T.Str(p.T.Field(o, "role"))
	switch {
	case !ok:
		p.Fail(at+".role", "missing_required_parameter", "%s.role: Field required", at)
		return out
	case role != conv.RoleUser && role != conv.RoleAssistant && role != conv.RoleSystem:
		p.Fail(at+".role", "invalid_value", "%s.role: Input should be 'user', 'assistant' or 'system'", at)
		return out
	}
	c := p.T.Field(o, "content")
	m := conv.Message{Role: role, Param: at}
	if s, ok := p.T.Str(c); ok {
		if s != "" {
			m.Content, m.Text = []conv.Part{{Type: conv.PartText, Text: s}}, true
			out = append(out, m)
		}
		return out
	}
	if p.T.Kind(c) != '[' {
		p.Fail(at+".content", "invalid_type", "%s.content: Input should be a valid string or a list of blocks", at)
		return out
	}
	if role == conv.RoleSystem {
		if p.textBlocks(&m, c, at+".content") && len(m.Content) > 0 {
			out = append(out, m)
		}
		return out
	}
	m.Content = make([]conv.Part, 0, p.T.Len(c))
	p.T.Children(c, func(k int, b int32) bool {
		bat := fmt.Sprintf("%s.content[%d]", at, k)
		typ, ok := p.blockType(b, bat)
		if !ok {
			return false
		}
		switch typ {
		case "text":
			text, ok := p.text(b, bat)
			if ok && text != "" {
				m.Content = append(m.Content, conv.Part{Type: conv.PartText, Text: text, Param: bat})
			}
		case "image":
			if role != conv.RoleUser {
				return true // not Anthropic's either; nothing to show the bot
			}
			if part, ok := p.image(b, bat); ok {
				m.Content = append(m.Content, part)
			}
		case "document":
			if role == conv.RoleUser {
				m.Content = p.document(m.Content, b, bat)
			}
		case "tool_use":
			if role == conv.RoleAssistant {
				p.toolUse(&m, b, bat)
			}
		case "tool_result":
			if role == conv.RoleUser {
				var images []conv.Part
				out, images = p.toolResult(out, b, bat)
				m.Content = append(m.Content, images...)
			}
		}
		// thinking, redacted_thinking, server tool blocks and unknown
		// types are skipped.
		return p.Err == nil
	})
	if len(m.Content) == 0 {
		m.Content = nil
	}
	if m.Content != nil || len(m.ToolCalls) > 0 {
		out = append(out, m)
	}
	return out
}

// image reads an image block: base64 becomes a data: URL, url stays.
func (p *parser) image(b int32, at string) (conv.Part, bool) {
	src, typ, ok := p.source(b, at)
	if !ok {
		return conv.Part{}, false
	}
	switch typ {
	case "base64":
		mt, ok := p.sourceString(src, at, "media_type")
		if !ok {
			return conv.Part{}, false
		}
		switch mt {
		case "image/jpeg", "image/png", "image/gif", "image/webp":
		default:
			p.Fail(at+".source.media_type", "invalid_value", "%s.source.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'", at)
			return conv.Part{}, false
		}
		url, ok := p.dataURL(src, at, mt)
		return conv.Part{Type: conv.PartImageURL, URL: url, Param: at}, ok
	case "url":
		url, ok := p.sourceString(src, at, "url")
		return conv.Part{Type: conv.PartImageURL, URL: url, Param: at}, ok
	case "file":
		p.Fail(at+".source.file_id", "unsupported_value", "%s.source.file_id: file ids are not supported here; send the image as base64 or a url", at)
		return conv.Part{}, false
	}
	p.Fail(at+".source.type", "invalid_value", "%s.source.type: Input should be 'base64' or 'url'", at)
	return conv.Part{}, false
}

// document reads a document block: a base64 PDF becomes a file, plain
// text becomes text, a url is fetched by Poe, and content blocks are
// read as they are.
func (p *parser) document(parts []conv.Part, b int32, at string) []conv.Part {
	src, typ, ok := p.source(b, at)
	if !ok {
		return parts
	}
	switch typ {
	case "base64":
		mt, ok := p.sourceString(src, at, "media_type")
		if !ok {
			return parts
		}
		if mt != "application/pdf" {
			p.Fail(at+".source.media_type", "invalid_value", "%s.source.media_type: Input should be 'application/pdf'", at)
			return parts
		}
		if url, ok := p.dataURL(src, at, mt); ok {
			name := "document.pdf"
			if title, _ := p.T.Str(p.T.Field(b, "title")); strings.HasSuffix(strings.ToLower(title), ".pdf") {
				name = title
			}
			parts = append(parts, conv.Part{Type: conv.PartFile, FileData: url, Filename: name, Param: at})
		}
	case "text":
		if text, ok := p.sourceString(src, at, "data"); ok && text != "" {
			parts = append(parts, conv.Part{Type: conv.PartText, Text: text, Param: at})
		}
	case "url":
		if url, ok := p.sourceString(src, at, "url"); ok {
			// Poe fetches a URL attachment whatever its type.
			parts = append(parts, conv.Part{Type: conv.PartImageURL, URL: url, Param: at})
		}
	case "content":
		c := p.T.Field(src, "content")
		if s, ok := p.T.Str(c); ok {
			if s != "" {
				parts = append(parts, conv.Part{Type: conv.PartText, Text: s, Param: at})
			}
			return parts
		}
		if p.T.Kind(c) != '[' {
			p.Fail(at+".source.content", "invalid_type", "%s.source.content: Input should be a valid string or a list of blocks", at)
			return parts
		}
		p.T.Children(c, func(k int, cb int32) bool {
			cat := fmt.Sprintf("%s.source.content[%d]", at, k)
			typ, ok := p.blockType(cb, cat)
			switch {
			case !ok:
			case typ == "text":
				if text, ok := p.text(cb, cat); ok && text != "" {
					parts = append(parts, conv.Part{Type: conv.PartText, Text: text, Param: cat})
				}
			case typ == "image":
				if part, ok := p.image(cb, cat); ok {
					parts = append(parts, part)
				}
			}
			return p.Err == nil
		})
	case "file":
		p.Fail(at+".source.file_id", "unsupported_value", "%s.source.file_id: file ids are not supported here; send the document as base64, text or a url", at)
	default:
		p.Fail(at+".source.type", "invalid_value", "%s.source.type: Input should be 'base64', 'text', 'url' or 'content'", at)
	}
	return parts
}

// source returns a block's source object and its type.
func (p *parser) source(b int32, at string) (int32, string, bool) {
	src := p.T.Field(b, "source")
	if p.T.Kind(src) != '{' {
		p.Fail(at+".source", "missing_required_parameter", "%s.source: Field required", at)
		return -1, "", false
	}
	typ, ok := p.T.Str(p.T.Field(src, "type"))
	if !ok {
		p.Fail(at+".source.type", "missing_required_parameter", "%s.source.type: Field required", at)
	}
	return src, typ, ok
}

func (p *parser) sourceString(src int32, at, name string) (string, bool) {
	s, ok := p.T.Str(p.T.Field(src, name))
	if !ok || s == "" {
		p.Fail(at+".source."+name, "missing_required_parameter", "%s.source.%s: Field required", at, name)
		return "", false
	}
	return s, true
}

// dataURL builds data:<mt>;base64,<data> from source.data, copying the
// base64 text out of the body once. The text is checked here, so that a
// bad one is named as the client sent it.
func (p *parser) dataURL(src int32, at, mt string) (string, bool) {
	d := p.T.Field(src, "data")
	param := at + ".source.data"
	if p.T.Kind(d) != '"' {
		p.Fail(param, "missing_required_parameter", "%s: Field required", param)
		return "", false
	}
	raw, esc := p.T.RawStr(d)
	if esc { // rare: "\/" or "\n" escapes
		s, _ := p.T.Str(d)
		raw = []byte(s)
	}
	if !validBase64(raw) {
		p.Fail(param, "invalid_base64", "%s: The data is not valid base64", param)
		return "", false
	}
	var sb strings.Builder
	sb.Grow(len("data:;base64,") + len(mt) + len(raw))
	sb.WriteString("data:")
	sb.WriteString(mt)
	sb.WriteString(";base64,")
	sb.Write(raw)
	return sb.String(), true
}

// validBase64 accepts standard or URL-safe base64 with optional padding
// and line breaks, as the upload step decodes it.
func validBase64(b []byte) bool {
	n := 0
	pad := 0
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/', c == '-', c == '_':
			if pad > 0 {
				return false
			}
			n++
		case c == '=':
			pad++
		case c == '\n', c == '\r', c == ' ':
		default:
			return false
		}
	}
	return n > 0 && pad <= 2 && (pad == 0 || (n+pad)%4 == 0) && n%4 != 1
}

// toolUse reads an assistant tool_use block into a tool call whose
// arguments are the JSON text of input.
func (p *parser) toolUse(m *conv.Message, b int32, at string) {
	id, ok := p.T.Str(p.T.Field(b, "id"))
	if !ok || id == "" {
		p.Fail(at+".id", "missing_required_parameter", "%s.id: Field required", at)
		return
	}
	name, ok := p.T.Str(p.T.Field(b, "name"))
	if !ok || name == "" {
		p.Fail(at+".name", "missing_required_parameter", "%s.name: Field required", at)
		return
	}
	args := "{}"
	if in := p.T.Field(b, "input"); p.T.Present(in) {
		if p.T.Kind(in) != '{' {
			p.Fail(at+".input", "invalid_type", "%s.input: Input should be an object", at)
			return
		}
		args = string(p.T.Raw(in))
	}
	m.ToolCalls = append(m.ToolCalls, conv.ToolCall{ID: id, Type: "function", Name: name, Arguments: args})
}

// toolResult appends a tool message for a tool_result block; its images
// are returned, for the user message that follows.
func (p *parser) toolResult(out []conv.Message, b int32, at string) ([]conv.Message, []conv.Part) {
	id, ok := p.T.Str(p.T.Field(b, "tool_use_id"))
	if !ok || id == "" {
		p.Fail(at+".tool_use_id", "missing_required_parameter", "%s.tool_use_id: Field required", at)
		return out, nil
	}
	isErr, _ := p.T.Bool(p.T.Field(b, "is_error"))
	c := p.T.Field(b, "content")
	if s, ok := p.T.Str(c); ok && !isErr { // the common case, without a second copy
		return append(out, conv.Message{Role: conv.RoleTool, ToolCallID: id, Param: at, IDParam: at + ".tool_use_id",
			Content: []conv.Part{{Type: conv.PartText, Text: s}}, Text: true}), nil
	}
	var text strings.Builder
	if isErr {
		text.WriteString("Error: ")
	}
	var images []conv.Part
	if s, ok := p.T.Str(c); ok {
		text.WriteString(s)
	} else if p.T.Present(c) {
		if p.T.Kind(c) != '[' {
			p.Fail(at+".content", "invalid_type", "%s.content: Input should be a valid string or a list of blocks", at)
			return out, nil
		}
		sep := false
		p.T.Children(c, func(k int, cb int32) bool {
			cat := fmt.Sprintf("%s.content[%d]", at, k)
			typ, ok := p.blockType(cb, cat)
			if !ok {
				return false
			}
			var parts []conv.Part
			switch typ {
			case "text":
				s, ok := p.text(cb, cat)
				if ok && s != "" {
					parts = []conv.Part{{Type: conv.PartText, Text: s}}
				}
			case "image":
				if part, ok := p.image(cb, cat); ok {
					images = append(images, part)
				}
			case "document":
				parts = p.document(nil, cb, cat)
			}
			for _, part := range parts {
				if part.Type != conv.PartText {
					images = append(images, part)
					continue
				}
				if sep {
					text.WriteString("\n")
				}
				text.WriteString(part.Text)
				sep = true
			}
			return p.Err == nil
		})
	}
	out = append(out, conv.Message{Role: conv.RoleTool, ToolCallID: id, Param: at, IDParam: at + ".tool_use_id",
		Content: []conv.Part{{Type: conv.PartText, Text: text.String()}}, Text: true})
	return out, images
}
