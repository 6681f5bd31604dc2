package responses

import (
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
)

// toolRef is what a flat function name sent to Poe stands for in the
// client's tools: a namespaced function, or a custom (freeform) tool.
type toolRef struct {
	namespace string // "" when not namespaced
	name      string // the bare name
	custom    bool   // answered as custom_tool_call with input
}

// toolNames maps the flat names given to Poe back to the client's tools;
// only names that differ from a plain function are listed.
type toolNames map[string]toolRef

// flat is the name Poe knows for the client's (namespace, name).
func (n toolNames) flat(namespace, name string) string {
	if namespace == "" {
		return name
	}
	for f, r := range n {
		if r.namespace == namespace && r.name == name {
			return f
		}
	}
	return name
}

var functionName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// customParameters is the schema of a custom tool seen as a function.
const customParameters = `{"type":"object","properties":{"input":{"type":"string","description":"The tool's raw input text."}},"required":["input"],"additionalProperties":false}`

type toolJSON struct {
	Type        raw `json:"type"`
	Name        raw `json:"name"`
	Description raw `json:"description"`
	Parameters  raw `json:"parameters"`
	Format      raw `json:"format"`
	Tools       raw `json:"tools"`
}

// tools reads function, custom and namespace tools. Hosted tools that
// Poe cannot run (web_search, file_search, mcp, ...) and unknown types are
// dropped; a namespace's functions are flattened.
func (p *parser) tools(r raw) []conv.Tool {
	if !r.present() {
		return nil
	}
	var list []raw
	if !r.isArray() || json.Unmarshal(r, &list) != nil {
		p.failType("tools", "an array")
		return nil
	}
	var out []conv.Tool
	seen := map[string]bool{}
	for i, item := range list {
		p.tool(item, fmt.Sprintf("tools[%d]", i), "", &out, seen)
		if p.err != nil {
			return nil
		}
	}
	return out
}

func (p *parser) tool(item raw, at, namespace string, out *[]conv.Tool, seen map[string]bool) {
	var t toolJSON
	if !item.isObject() || json.Unmarshal(item, &t) != nil {
		p.failType(at, "an object")
		return
	}
	typ, ok := t.Type.str()
	if !ok {
		p.fail(at+".type", "missing_required_parameter", "Missing required parameter: '%s.type'.", at)
		return
	}
	if typ != "function" && typ != "custom" && (typ != "namespace" || namespace != "") {
		return // hosted tools: Poe cannot run them
	}
	name, ok := t.Name.str()
	if !ok || !functionName.MatchString(name) {
		p.fail(at+".name", "invalid_value", "'%s.name' must be 1-64 characters of a-z, A-Z, 0-9, _ and -.", at)
		return
	}
	if typ == "namespace" {
		var list []raw
		if !t.Tools.isArray() || json.Unmarshal(t.Tools, &list) != nil {
			p.failType(at+".tools", "an array")
			return
		}
		for j, sub := range list {
			p.tool(sub, fmt.Sprintf("%s.tools[%d]", at, j), name, out, seen)
			if p.err != nil {
				return
			}
		}
		return
	}
	tool := conv.Tool{Name: name}
	if namespace != "" && seen[name] {
		tool.Name = namespace + "__" + name
	}
	if seen[tool.Name] {
		p.fail(at+".name", "invalid_value", "Duplicate tool name %q.", name)
		return
	}
	seen[tool.Name] = true
	if t.Description.present() {
		if tool.Description, ok = t.Description.str(); !ok {
			p.failType(at+".description", "a string")
			return
		}
	}
	switch {
	case typ == "custom":
		tool.Parameters = json.RawMessage(customParameters)
	case t.Parameters.present():
		if !t.Parameters.isObject() {
			p.failType(at+".parameters", "a JSON schema object")
			return
		}
		tool.Parameters = json.RawMessage(t.Parameters)
	}
	if namespace != "" || typ == "custom" || tool.Name != name {
		if p.names == nil {
			p.names = toolNames{}
		}
		p.names[tool.Name] = toolRef{namespace: namespace, name: name, custom: typ == "custom"}
	}
	*out = append(*out, tool)
}

// toolChoice maps tool_choice to the closest conv.ToolChoice: a mode, a
// named function or custom tool, allowed_tools by its mode (or the one
// tool it allows), a hosted tool as auto. It returns the value to echo.
func (p *parser) toolChoice(r raw, tools []conv.Tool) (conv.ToolChoice, json.RawMessage) {
	if !r.present() {
		return conv.ToolChoice{}, nil
	}
	echo := json.RawMessage(append([]byte(nil), r...))
	if mode, ok := r.str(); ok {
		switch mode {
		case conv.ToolChoiceAuto, conv.ToolChoiceNone, conv.ToolChoiceRequired:
			if len(tools) == 0 {
				return conv.ToolChoice{}, echo
			}
			return conv.ToolChoice{Mode: mode}, echo
		}
		p.fail("tool_choice", "invalid_value", "'tool_choice' must be 'none', 'auto', 'required' or an object.")
		return conv.ToolChoice{}, nil
	}
	var v struct {
		Type      raw `json:"type"`
		Name      raw `json:"name"`
		Namespace raw `json:"namespace"`
		Mode      raw `json:"mode"`
		Tools     []struct {
			Type raw `json:"type"`
			Name raw `json:"name"`
		} `json:"tools"`
	}
	if !r.isObject() || json.Unmarshal(r, &v) != nil {
		p.fail("tool_choice", "invalid_type", "'tool_choice' must be a string or an object.")
		return conv.ToolChoice{}, nil
	}
	if len(tools) == 0 {
		return conv.ToolChoice{}, echo
	}
	typ, _ := v.Type.str()
	named := func(name, namespace string, param string) conv.ToolChoice {
		flat := p.names.flat(namespace, name)
		for _, t := range tools {
			if t.Name == flat {
				return conv.ToolChoice{Mode: conv.ToolChoiceFunction, Name: flat}
			}
		}
		p.fail(param, "invalid_value", "Tool choice '%s' not found in 'tools' parameter.", name)
		return conv.ToolChoice{}
	}
	switch typ {
	case "function", "custom":
		name, _ := v.Name.str()
		ns, _ := v.Namespace.str()
		return named(name, ns, "tool_choice.name"), echo
	case "allowed_tools":
		mode, _ := v.Mode.str()
		if mode != conv.ToolChoiceRequired {
			return conv.ToolChoice{Mode: conv.ToolChoiceAuto}, echo
		}
		if len(v.Tools) == 1 {
			if t, _ := v.Tools[0].Type.str(); t == "function" || t == "custom" {
				name, _ := v.Tools[0].Name.str()
				return named(name, "", "tool_choice.tools[0].name"), echo
			}
		}
		return conv.ToolChoice{Mode: conv.ToolChoiceRequired}, echo
	}
	return conv.ToolChoice{Mode: conv.ToolChoiceAuto}, echo // a hosted tool, which was dropped
}
