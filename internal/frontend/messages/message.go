package messages

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"hash"
	"regexp"
	"strings"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
)

// stopReason maps the core's finish reason. stop_sequence is never
// reported: Poe does not say which sequence stopped it, so that answer
// ends as end_turn with stop_sequence null.
func stopReason(finish string) string {
	switch finish {
	case conv.FinishLength:
		return "max_tokens"
	case conv.FinishToolCalls:
		return "tool_use"
	}
	return "end_turn"
}

// toolIDs gives the tool calls of one answer Anthropic-style ids. A Poe
// id that already is one (toolu_ and [A-Za-z0-9_-]) is kept; any other is
// replaced by a fresh toolu_ id, unique in the conversation (bots often
// number their calls call_1, call_2 in every turn). The client sends the
// id back in tool_use and tool_result blocks, and the next request goes to
// Poe with it, so the replacement is consistent without being stored.
type toolIDs struct{ seen map[string]bool }

var goodToolID = regexp.MustCompile(`^toolu_[A-Za-z0-9_-]{1,200}$`)

func (t *toolIDs) id(poe string) string {
	if t.seen == nil {
		t.seen = map[string]bool{}
	}
	id := poe
	if !goodToolID.MatchString(id) || t.seen[id] {
		id = newID("toolu_")
	}
	t.seen[id] = true
	return id
}

// toolInput is a call's arguments as the JSON object Anthropic's input
// must be: no arguments, or arguments that are not an object, give {}.
func toolInput(args string) json.RawMessage {
	s := strings.TrimSpace(args)
	if s == "" || s[0] != '{' || !json.Valid([]byte(s)) {
		return json.RawMessage("{}")
	}
	return json.RawMessage(s)
}

// signer makes the opaque signature of a thinking block. Clients store it
// and send it back, and only this server could check it; the thinking
// blocks sent back are dropped anyway, so it is a digest of the text,
// never empty (Claude Code treats unsigned thinking as unfinished).
type signer struct{ h hash.Hash }

func (s *signer) write(p []byte) {
	if s.h == nil {
		s.h = sha256.New()
	}
	s.h.Write(p)
}

func (s *signer) sum() string {
	if s.h == nil {
		s.h = sha256.New()
	}
	return "poe-openai.v1." + base64.RawURLEncoding.EncodeToString(s.h.Sum(nil)[:18])
}

type messageJSON struct {
	ID           string      `json:"id"`
	Type         string      `json:"type"`
	Role         string      `json:"role"`
	Model        string      `json:"model"`
	Content      []blockJSON `json:"content"`
	StopReason   *string     `json:"stop_reason"`
	StopSequence *string     `json:"stop_sequence"`
	Usage        usageJSON   `json:"usage"`
}

type blockJSON struct {
	Type      string          `json:"type"`
	Thinking  *string         `json:"thinking,omitempty"`
	Signature *string         `json:"signature,omitempty"`
	Text      *string         `json:"text,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
}

type usageJSON struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
}

func usageOf(u *conv.Usage) usageJSON {
	if u == nil {
		return usageJSON{}
	}
	return usageJSON{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens}
}

// appendMessage appends the whole Message of a collected answer: thinking
// (when the request asked to see it), text, then tool_use blocks.
func appendMessage(dst []byte, id, model string, r *conv.Result, thinking bool) []byte {
	m := messageJSON{ID: id, Type: "message", Role: "assistant", Model: model, Content: []blockJSON{}, Usage: usageOf(r.Usage)}
	if thinking && r.Reasoning != "" {
		var s signer
		s.write([]byte(r.Reasoning))
		text, sig := r.Reasoning, s.sum()
		m.Content = append(m.Content, blockJSON{Type: "thinking", Thinking: &text, Signature: &sig})
	}
	if r.Content != "" {
		text := r.Content
		m.Content = append(m.Content, blockJSON{Type: "text", Text: &text})
	}
	var ids toolIDs
	for _, c := range r.ToolCalls {
		m.Content = append(m.Content, blockJSON{Type: "tool_use", ID: ids.id(c.ID), Name: c.Name, Input: toolInput(c.Arguments)})
	}
	reason := stopReason(r.Finish)
	if reason == "tool_use" && len(r.ToolCalls) == 0 {
		reason = "end_turn"
	}
	m.StopReason = &reason
	buf := bytes.NewBuffer(dst)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(m) // plain fields: cannot fail
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
