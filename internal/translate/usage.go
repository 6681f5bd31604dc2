package translate

import (
	"context"
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
// Counting stops when ctx ends (the client left): the count is then a
// lower bound, which nobody reads.
func PromptTokens(ctx context.Context, q *poeclient.QueryRequest) int {
	c := counter{ctx: ctx, n: tokensPerReply}
	for _, m := range q.Query {
		c.n += tokensPerMessage
		c.add(m.Role)
		c.add(m.Content)
	}
	if len(q.Tools) > 0 {
		b, _ := json.Marshal(q.Tools)
		c.add(string(b))
	}
	for _, tc := range q.ToolCalls {
		c.n += tokensPerMessage
		c.add(tc.Function.Name)
		c.add(tc.Function.Arguments)
	}
	for _, r := range q.ToolResults {
		c.n += tokensPerMessage
		c.add(r.Content)
	}
	return c.n
}

// Usage counts the completion (content, reasoning and tool calls) of an
// answer built with Count or without Stream, until ctx ends.
func (a *Answer) Usage(ctx context.Context, prompt int) conv.Usage {
	c := counter{ctx: ctx}
	c.addBytes(a.reason)
	reasoning := c.n
	c.addBytes(a.content)
	for _, tc := range a.tools.calls {
		c.add(tc.Name)
		c.add(tc.Arguments)
	}
	return conv.Usage{PromptTokens: prompt, CompletionTokens: c.n, ReasoningTokens: reasoning}
}

// counter sums counts until its context ends, then adds nothing more.
type counter struct {
	ctx context.Context
	n   int
}

func (c *counter) add(s string) {
	if c.ctx.Err() == nil {
		n, _ := tokenizer.CountContext(c.ctx, s)
		c.n += n
	}
}

func (c *counter) addBytes(b []byte) {
	if c.ctx.Err() == nil {
		n, _ := tokenizer.CountBytesContext(c.ctx, b)
		c.n += n
	}
}
