package translate

import (
	"encoding/json"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
	"github.com/poe-openai/caddy-poe-openai/internal/tokenizer"
)

// Per-message overhead of the chat format, as OpenAI's own counting
// guide estimates it (role and separators), and the reply priming.
const (
	tokensPerMessage = 4
	tokensPerReply   = 3
)

// PromptTokens estimates the prompt's size from the query sent to Poe:
// message texts, tool definitions, and the last round of tool calls and
// results. Attachments are not counted: Poe does not say what they cost.
func PromptTokens(q *poeclient.QueryRequest) int {
	n := tokensPerReply
	for _, m := range q.Query {
		n += tokensPerMessage + tokenizer.Count(m.Role) + tokenizer.Count(m.Content)
	}
	if len(q.Tools) > 0 {
		b, _ := json.Marshal(q.Tools)
		n += tokenizer.CountBytes(b)
	}
	for _, c := range q.ToolCalls {
		n += tokensPerMessage + tokenizer.Count(c.Function.Name) + tokenizer.Count(c.Function.Arguments)
	}
	for _, r := range q.ToolResults {
		n += tokensPerMessage + tokenizer.Count(r.Content)
	}
	return n
}

// Usage counts the completion (content, reasoning and tool calls) of an
// answer built with Count or without Stream.
func (a *Answer) Usage(prompt int) conv.Usage {
	reasoning := tokenizer.CountBytes(a.reason)
	completion := tokenizer.CountBytes(a.content) + reasoning
	for _, c := range a.tools.calls {
		completion += tokenizer.Count(c.Name) + tokenizer.Count(c.Arguments)
	}
	return conv.Usage{PromptTokens: prompt, CompletionTokens: completion, ReasoningTokens: reasoning}
}
