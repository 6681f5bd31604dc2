package responses

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
)

// raw is one JSON value of the request body, kept as a slice of the body
// itself: encoding/json hands an Unmarshaler a sub-slice of the bytes
// given to json.Unmarshal, so nothing is copied until a string is
// decoded out of it. The body outlives the parse, and nothing keeps a
// raw past it.
type raw []byte

func (r *raw) UnmarshalJSON(b []byte) error { *r = b; return nil }

// present: the field was given and is not null.
func (r raw) present() bool { return len(r) > 0 && !bytes.Equal(r, []byte("null")) }

func (r raw) isString() bool { return len(r) > 0 && r[0] == '"' }
func (r raw) isArray() bool  { return len(r) > 0 && r[0] == '[' }
func (r raw) isObject() bool { return len(r) > 0 && r[0] == '{' }

// str decodes a string value; ok is false when r is not a string.
func (r raw) str() (string, bool) {
	if !r.isString() {
		return "", false
	}
	in := r[1 : len(r)-1]
	// Most strings have no escapes: one copy, no second scan by encoding/json.
	if bytes.IndexByte(in, '\\') < 0 && utf8.Valid(in) {
		return string(in), true
	}
	var s string
	if json.Unmarshal(r, &s) != nil {
		return "", false
	}
	return s, true
}

// requestJSON is the top level of a /responses body. Fields not listed
// (prompt_cache_key, client_metadata, user, ...) are accepted and ignored.
type requestJSON struct {
	Model              raw `json:"model"`
	Input              raw `json:"input"`
	Instructions       raw `json:"instructions"`
	Tools              raw `json:"tools"`
	ToolChoice         raw `json:"tool_choice"`
	ParallelToolCalls  raw `json:"parallel_tool_calls"`
	Reasoning          raw `json:"reasoning"`
	MaxOutputTokens    raw `json:"max_output_tokens"`
	Temperature        raw `json:"temperature"`
	TopP               raw `json:"top_p"`
	Text               raw `json:"text"`
	Metadata           raw `json:"metadata"`
	Stream             raw `json:"stream"`
	Store              raw `json:"store"`
	PreviousResponseID raw `json:"previous_response_id"`
	Include            raw `json:"include"`
}

// echo is what the response object repeats from the request.
type echo struct {
	instructions      *string
	maxOutputTokens   *int
	temperature       *float64
	topP              *float64
	parallelToolCalls bool
	toolChoice        json.RawMessage // as sent; nil = "auto"
	textFormat        json.RawMessage // text.format as sent; nil = {"type":"text"}
	metadata          map[string]string
	effort, summary   *string
	previousID        *string
	store             bool
}

// parser collects the first error; later checks are skipped once it is set.
type parser struct {
	err   *conv.Error
	names toolNames
}

func (p *parser) fail(param, code, format string, args ...any) {
	if p.err == nil {
		p.err = conv.InvalidRequest(param, code, format, args...)
	}
}

func (p *parser) failType(param, what string) {
	p.fail(param, "invalid_type", "'%s' must be %s.", param, what)
}

// parseRequest decodes and validates a /responses body. Every violation is
// a 400 naming the field; unknown fields and item types are ignored.
// prev looks up previous_response_id's conversation.
func parseRequest(body []byte, prev func(id string) ([]conv.Message, bool)) (*conv.Request, *echo, toolNames, *conv.Error) {
	var top requestJSON
	if err := json.Unmarshal(body, &top); err != nil || !raw(bytes.TrimSpace(body)).isObject() {
		msg := "the body is not an object"
		if err != nil {
			msg = err.Error()
		}
		return nil, nil, nil, conv.InvalidRequest("", "invalid_json", "We could not parse the JSON body of your request: %s. The body must be a JSON object.", msg)
	}
	p := &parser{}
	req := &conv.Request{IncludeUsage: true} // usage is always reported
	e := &echo{parallelToolCalls: true, store: true}
	req.Model = p.requiredString(top.Model, "model")
	req.Stream = p.boolean(top.Stream, "stream", false)
	e.store = p.boolean(top.Store, "store", true)
	e.parallelToolCalls = p.boolean(top.ParallelToolCalls, "parallel_tool_calls", true)
	if top.MaxOutputTokens.present() {
		if n := p.positiveInt(top.MaxOutputTokens, "max_output_tokens"); n > 0 {
			req.MaxTokens, e.maxOutputTokens = n, &n
		}
	}
	req.Temperature = p.number(top.Temperature, "temperature", 0, 2)
	e.temperature, e.topP = req.Temperature, p.number(top.TopP, "top_p", 0, 1)
	p.reasoning(top.Reasoning, req, e)
	req.ResponseFormat, e.textFormat = p.text(top.Text)
	e.metadata = p.metadata(top.Metadata)
	p.include(top.Include)
	req.Tools = p.tools(top.Tools)
	req.ToolChoice, e.toolChoice = p.toolChoice(top.ToolChoice, req.Tools)
	if top.Instructions.present() {
		s, ok := top.Instructions.str()
		if !ok {
			p.failType("instructions", "a string")
		} else {
			e.instructions = &s
		}
	}
	var history []conv.Message
	if top.PreviousResponseID.present() {
		id, ok := top.PreviousResponseID.str()
		switch {
		case !ok || id == "":
			p.failType("previous_response_id", "a non-empty string")
		case p.err == nil:
			if history, ok = prev(id); !ok {
				return nil, nil, nil, &conv.Error{Status: 404, Type: conv.TypeInvalidRequest, Param: "previous_response_id",
					Code: "previous_response_not_found", Message: fmt.Sprintf("Previous response with id '%s' not found.", id)}
			}
			e.previousID = &id
		}
	}
	if p.err != nil {
		return nil, nil, nil, p.err
	}
	msgs := make([]conv.Message, 0, len(history)+8)
	if e.instructions != nil && *e.instructions != "" {
		msgs = append(msgs, conv.Message{Role: conv.RoleSystem, Text: true, Param: "instructions",
			Content: []conv.Part{{Type: conv.PartText, Text: *e.instructions, Param: "instructions"}}})
	}
	msgs = append(msgs, history...)
	req.Messages = p.input(top.Input, msgs, len(history) > 0)
	if p.err != nil {
		return nil, nil, nil, p.err
	}
	return req, e, p.names, nil
}

func (p *parser) requiredString(r raw, name string) string {
	if !r.present() {
		p.fail(name, "missing_required_parameter", "Missing required parameter: '%s'.", name)
		return ""
	}
	s, ok := r.str()
	if !ok {
		p.failType(name, "a string")
		return ""
	}
	if strings.TrimSpace(s) == "" {
		p.fail(name, "invalid_value", "'%s' must not be empty.", name)
	}
	return s
}

func (p *parser) boolean(r raw, name string, def bool) bool {
	switch {
	case !r.present():
		return def
	case string(r) == "true":
		return true
	case string(r) == "false":
		return false
	}
	p.failType(name, "a boolean")
	return def
}

func (p *parser) float(r raw, name string) (float64, bool) {
	var f float64
	if len(r) == 0 || r[0] == '"' || r[0] == '{' || r[0] == '[' || json.Unmarshal(r, &f) != nil {
		p.failType(name, "a number")
		return 0, false
	}
	return f, true
}

func (p *parser) number(r raw, name string, lo, hi float64) *float64 {
	if !r.present() {
		return nil
	}
	f, ok := p.float(r, name)
	if !ok {
		return nil
	}
	if f < lo || f > hi {
		p.fail(name, "invalid_value", "'%s' must be between %g and %g.", name, lo, hi)
		return nil
	}
	return &f
}

func (p *parser) positiveInt(r raw, name string) int {
	f, ok := p.float(r, name)
	if !ok {
		return 0
	}
	if f != math.Trunc(f) || f < 1 {
		p.fail(name, "invalid_value", "'%s' must be a positive integer.", name)
		return 0
	}
	return int(min(f, math.MaxInt32))
}

// object decodes r into v (a struct of raws), failing with name.
func (p *parser) object(r raw, name string, v any) bool {
	if !r.present() {
		return false
	}
	if !r.isObject() || json.Unmarshal(r, v) != nil {
		p.failType(name, "an object")
		return false
	}
	return true
}

var efforts = map[string]bool{"none": true, "minimal": true, "low": true, "medium": true, "high": true, "xhigh": true, "max": true}

func (p *parser) reasoning(r raw, req *conv.Request, e *echo) {
	var v struct {
		Effort          raw `json:"effort"`
		Summary         raw `json:"summary"`
		GenerateSummary raw `json:"generate_summary"`
	}
	if !p.object(r, "reasoning", &v) {
		return
	}
	if v.Effort.present() {
		s, ok := v.Effort.str()
		if !ok || !efforts[s] {
			p.fail("reasoning.effort", "invalid_value", "'reasoning.effort' must be one of none, minimal, low, medium, high, xhigh, max.")
			return
		}
		req.ReasoningEffort, e.effort = s, &s
	}
	sum := v.Summary
	if !sum.present() {
		sum = v.GenerateSummary
	}
	if sum.present() {
		s, ok := sum.str()
		if !ok {
			p.failType("reasoning.summary", "a string")
			return
		}
		e.summary = &s
	}
}

func (p *parser) text(r raw) (conv.ResponseFormat, json.RawMessage) {
	var v struct {
		Format raw `json:"format"`
	}
	if !p.object(r, "text", &v) || !v.Format.present() {
		return conv.ResponseFormat{}, nil
	}
	var f struct {
		Type   raw `json:"type"`
		Name   raw `json:"name"`
		Schema raw `json:"schema"`
	}
	if !p.object(v.Format, "text.format", &f) {
		return conv.ResponseFormat{}, nil
	}
	var rf conv.ResponseFormat
	var ok bool
	if rf.Type, ok = f.Type.str(); !ok {
		p.fail("text.format.type", "missing_required_parameter", "Missing required parameter: 'text.format.type'.")
		return rf, nil
	}
	switch rf.Type {
	case "text", "json_object":
	case "json_schema":
		if f.Name.present() {
			if rf.SchemaName, ok = f.Name.str(); !ok {
				p.failType("text.format.name", "a string")
			}
		}
		if !f.Schema.isObject() {
			p.fail("text.format.schema", "missing_required_parameter", "'text.format.schema' must be a JSON schema object.")
			return rf, nil
		}
		rf.Schema = json.RawMessage(bytes.Clone(f.Schema))
	default:
		p.fail("text.format.type", "invalid_value", "'text.format.type' must be 'text', 'json_object' or 'json_schema'.")
	}
	return rf, json.RawMessage(bytes.Clone(v.Format))
}

func (p *parser) metadata(r raw) map[string]string {
	if !r.present() {
		return nil
	}
	var m map[string]string
	if !r.isObject() || json.Unmarshal(r, &m) != nil {
		p.fail("metadata", "invalid_type", "'metadata' must be an object of string values.")
		return nil
	}
	return m
}

// include is accepted and ignored (nothing it can ask for is produced),
// but it must be an array of strings.
func (p *parser) include(r raw) {
	if !r.present() {
		return
	}
	var v []string
	if !r.isArray() || json.Unmarshal(r, &v) != nil {
		p.failType("include", "an array of strings")
	}
}
