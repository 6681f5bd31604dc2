// Package translate converts between the OpenAI chat format and Poe's bot
// protocol: an OpenAI request becomes a Poe query (ToPoe), and Poe's
// events become an OpenAI answer (Answer). Pure functions and small state
// machines; no I/O.
package translate

import (
	"fmt"
	"strings"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
)

// Simulate-roles modes.
const (
	SimulateOff  = "off"
	SimulateOn   = "on"
	SimulateAuto = "auto"
)

// RequestOptions configure ToPoe.
type RequestOptions struct {
	SimulateRoles       string // off (default), on, auto
	ReasoningEffortFlag bool   // append " --reasoning_effort <v>" to the last user message
	MaxPartBytes        int64  // largest decoded attachment; 0 = no limit
}

// Plan is a Poe query plus the attachments to upload before sending it.
type Plan struct {
	Query   *poeclient.QueryRequest
	Uploads []Upload
}

// Upload is an attachment that must go through Poe's upload endpoint.
// Exactly one of Data and URL is set.
type Upload struct {
	Message     int    // index into Query.Query that receives the attachment
	Param       string // e.g. messages[1].content[0], for error messages
	Name        string
	ContentType string
	Data        []byte // decoded bytes
	URL         string // an http(s) URL Poe fetches itself
}

// ToPoe builds the Poe query for req.
func ToPoe(req *conv.Request, opts RequestOptions) (*Plan, *conv.Error) {
	history, round, err := splitToolRound(req)
	if err != nil {
		return nil, err
	}
	b := builder{opts: opts}
	for i, m := range history {
		if err := b.message(i, m); err != nil {
			return nil, err
		}
	}
	b.instructions(req)
	if opts.ReasoningEffortFlag && req.ReasoningEffort != "" {
		b.reasoningEffort(req.ReasoningEffort)
	}
	if simulate(opts.SimulateRoles, b.msgs) {
		b.flatten()
	}
	q := poeclient.NewQuery(b.protocolMessages())
	q.Temperature = req.Temperature
	if len(req.Stop) > 0 {
		q.StopSequences = req.Stop
	}
	if len(req.LogitBias) > 0 {
		q.LogitBias = req.LogitBias
	}
	if req.ToolChoice.Mode != conv.ToolChoiceNone && len(req.Tools) > 0 {
		q.Tools = toolDefinitions(req.Tools)
		if round != nil {
			q.ToolCalls, q.ToolResults = round.calls, round.results
		}
	}
	return &Plan{Query: q, Uploads: b.uploads}, nil
}

// msg is a Poe message under construction, with the index of the OpenAI
// message it came from.
type msg struct {
	role    string
	text    strings.Builder
	uploads []int // indexes into builder.uploads
	origin  int
}

type builder struct {
	opts    RequestOptions
	msgs    []*msg
	uploads []Upload
}

func (b *builder) message(i int, m conv.Message) *conv.Error {
	pm := &msg{origin: i}
	switch m.Role {
	case conv.RoleSystem, conv.RoleDeveloper:
		pm.role = poeclient.RoleSystem
	case conv.RoleUser:
		pm.role = poeclient.RoleUser
	case conv.RoleAssistant:
		pm.role = poeclient.RoleBot
	case conv.RoleTool, conv.RoleFunction:
		// Earlier tool rounds become readable text, so a long agent
		// session keeps its context.
		pm.role = poeclient.RoleUser
		name := m.Name
		if m.Role == conv.RoleTool {
			name = "call " + m.ToolCallID
		}
		fmt.Fprintf(&pm.text, "[Tool result for %s]\n", name)
	}
	first := true
	for k, part := range m.Content {
		param := partParam(i, k, &m, part)
		switch part.Type {
		case conv.PartText, conv.PartRefusal:
			if !first {
				pm.text.WriteByte('\n')
			}
			pm.text.WriteString(part.Text)
			first = false
		default:
			u, err := attachment(part, param, b.opts.MaxPartBytes)
			if err != nil {
				return err
			}
			u.Message = -1 // set when the query is assembled
			pm.uploads = append(pm.uploads, len(b.uploads))
			b.uploads = append(b.uploads, u)
		}
	}
	if m.Role == conv.RoleAssistant {
		for _, c := range m.ToolCalls {
			if pm.text.Len() > 0 {
				pm.text.WriteByte('\n')
			}
			fmt.Fprintf(&pm.text, "[Called tool %s (call %s) with arguments: %s]", c.Name, c.ID, c.Arguments)
		}
	}
	b.msgs = append(b.msgs, pm)
	return nil
}

// instructions adds what Poe has no field for as a system instruction:
// a required tool call and a requested JSON answer (best effort).
func (b *builder) instructions(req *conv.Request) {
	var notes []string
	if len(req.Tools) > 0 {
		switch req.ToolChoice.Mode {
		case conv.ToolChoiceRequired:
			notes = append(notes, "You must answer by calling one or more of the provided tools.")
		case conv.ToolChoiceFunction:
			notes = append(notes, fmt.Sprintf("You must answer by calling the tool %q.", req.ToolChoice.Name))
		}
	}
	switch req.ResponseFormat.Type {
	case "json_object":
		notes = append(notes, "Respond only with a valid JSON object, without code fences or any other text.")
	case "json_schema":
		note := "Respond only with a valid JSON value, without code fences or any other text"
		if len(req.ResponseFormat.Schema) > 0 {
			note += ", that conforms to this JSON schema:\n" + string(req.ResponseFormat.Schema)
		} else {
			note += "."
		}
		notes = append(notes, note)
	}
	if len(notes) == 0 {
		return
	}
	text := strings.Join(notes, "\n")
	// Append to the last system message, or add one in front.
	for i := len(b.msgs) - 1; i >= 0; i-- {
		if b.msgs[i].role == poeclient.RoleSystem {
			b.msgs[i].text.WriteString("\n\n" + text)
			return
		}
	}
	m := &msg{role: poeclient.RoleSystem, origin: -1}
	m.text.WriteString(text)
	b.msgs = append([]*msg{m}, b.msgs...)
}

// reasoningEffort appends the prompt flag Poe's reasoning bots read.
func (b *builder) reasoningEffort(effort string) {
	for i := len(b.msgs) - 1; i >= 0; i-- {
		if b.msgs[i].role == poeclient.RoleUser {
			b.msgs[i].text.WriteString(" --reasoning_effort " + effort)
			return
		}
	}
}

func (b *builder) protocolMessages() []poeclient.ProtocolMessage {
	out := make([]poeclient.ProtocolMessage, 0, len(b.msgs))
	for _, m := range b.msgs {
		for _, u := range m.uploads {
			b.uploads[u].Message = len(out)
		}
		out = append(out, poeclient.NewMessage(m.role, m.text.String()))
	}
	return out
}

func toolDefinitions(tools []conv.Tool) []poeclient.ToolDefinition {
	out := make([]poeclient.ToolDefinition, len(tools))
	for i, t := range tools {
		var params any = map[string]any{"type": "object", "properties": map[string]any{}}
		if len(t.Parameters) > 0 {
			params = t.Parameters
		}
		out[i] = poeclient.ToolDefinition{Type: "function", Function: poeclient.FunctionDefinition{
			Name: t.Name, Description: t.Description, Parameters: params}}
	}
	return out
}

// toolRound is the last round of tool calls, sent in Poe's own fields.
type toolRound struct {
	calls   []poeclient.ToolCallDefinition
	results []poeclient.ToolResultDefinition
}

// splitToolRound finds a conversation that ends with an assistant message
// with tool_calls followed by its tool results. Those go to Poe as
// tool_calls/tool_results; the messages before them are the query.
func splitToolRound(req *conv.Request) ([]conv.Message, *toolRound, *conv.Error) {
	msgs := req.Messages
	end := len(msgs)
	for end > 0 && msgs[end-1].Role == conv.RoleTool {
		end--
	}
	if err := checkToolIDs(msgs); err != nil {
		return nil, nil, err
	}
	if end == len(msgs) || end == 0 || msgs[end-1].Role != conv.RoleAssistant || len(msgs[end-1].ToolCalls) == 0 ||
		len(req.Tools) == 0 || req.ToolChoice.Mode == conv.ToolChoiceNone {
		return msgs, nil, nil
	}
	call := msgs[end-1]
	names := map[string]string{}
	round := &toolRound{}
	for _, c := range call.ToolCalls {
		names[c.ID] = c.Name
		round.calls = append(round.calls, poeclient.ToolCallDefinition{ID: c.ID, Type: "function",
			Function: poeclient.FunctionCall{Name: c.Name, Arguments: c.Arguments}})
	}
	for _, m := range msgs[end:] {
		round.results = append(round.results, poeclient.ToolResultDefinition{Role: "tool",
			Name: names[m.ToolCallID], ToolCallID: m.ToolCallID, Content: joinText(m.Content)})
	}
	return msgs[:end-1], round, nil
}

// checkToolIDs rejects a tool message that answers no call of the
// assistant message before it.
func checkToolIDs(msgs []conv.Message) *conv.Error {
	var ids map[string]bool
	for i, m := range msgs {
		switch m.Role {
		case conv.RoleAssistant:
			ids = map[string]bool{}
			for _, c := range m.ToolCalls {
				ids[c.ID] = true
			}
		case conv.RoleTool:
			if !ids[m.ToolCallID] {
				param := m.IDParam
				if param == "" {
					param = msgParam(i, &m) + ".tool_call_id"
				}
				return conv.InvalidRequest(param, "invalid_value",
					"%s is a tool result for %q, which matches no tool call of the preceding assistant message.", msgParam(i, &m), m.ToolCallID)
			}
		}
	}
	return nil
}

// msgParam is where message i stands in the client's request: the front
// end's path, or Chat Completions' messages[i].
func msgParam(i int, m *conv.Message) string {
	if m.Param != "" {
		return m.Param
	}
	return fmt.Sprintf("messages[%d]", i)
}

func partParam(i, k int, m *conv.Message, p conv.Part) string {
	switch {
	case p.Param != "":
		return p.Param
	case m.Text:
		return msgParam(i, m) + ".content"
	}
	return fmt.Sprintf("%s.content[%d]", msgParam(i, m), k)
}

func joinText(parts []conv.Part) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.Text)
	}
	return b.String()
}
