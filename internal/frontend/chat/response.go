package chat

import (
	"crypto/rand"
)

// ChatCompletion is a non-streaming answer.
type ChatCompletion struct {
	ID      string   `json:"id"`
	Object  string   `json:"object"` // chat.completion
	Created int64    `json:"created"`
	Model   string   `json:"model"`
	Choices []Choice `json:"choices"`
	Usage   *Usage   `json:"usage"`
}

// Choice is the one answer we return.
type Choice struct {
	Index        int             `json:"index"`
	Message      ResponseMessage `json:"message"`
	Logprobs     *struct{}       `json:"logprobs"`
	FinishReason string          `json:"finish_reason"`
}

// ResponseMessage is the assistant's message. Content is null when the
// answer is only tool calls, as OpenAI does.
type ResponseMessage struct {
	Role             string         `json:"role"`
	Content          *string        `json:"content"`
	ReasoningContent string         `json:"reasoning_content,omitempty"`
	ToolCalls        []ToolCallJSON `json:"tool_calls,omitempty"`
	Refusal          *string        `json:"refusal"`
}

// ToolCallJSON is a complete tool call in a response.
type ToolCallJSON struct {
	ID       string           `json:"id"`
	Type     string           `json:"type"`
	Function FunctionCallJSON `json:"function"`
}

// FunctionCallJSON names a function and its JSON-encoded arguments.
type FunctionCallJSON struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// Usage counts tokens. Poe's bot API reports none, so the gateway counts
// them itself with the o200k_base tokenizer.
type Usage struct {
	PromptTokens            int                     `json:"prompt_tokens"`
	CompletionTokens        int                     `json:"completion_tokens"`
	TotalTokens             int                     `json:"total_tokens"`
	PromptTokensDetails     PromptTokensDetails     `json:"prompt_tokens_details"`
	CompletionTokensDetails CompletionTokensDetails `json:"completion_tokens_details"`
}

// PromptTokensDetails is always zero cached tokens: Poe does not say.
type PromptTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

// CompletionTokensDetails splits out reasoning tokens.
type CompletionTokensDetails struct {
	ReasoningTokens int `json:"reasoning_tokens"`
}

// NewUsage fills the total.
func NewUsage(prompt, completion, reasoning int) Usage {
	return Usage{
		PromptTokens:            prompt,
		CompletionTokens:        completion,
		TotalTokens:             prompt + completion,
		CompletionTokensDetails: CompletionTokensDetails{ReasoningTokens: reasoning},
	}
}

// Model is one entry of /models.
type Model struct {
	ID      string `json:"id"`
	Object  string `json:"object"` // model
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// ModelList is the /models answer.
type ModelList struct {
	Object string  `json:"object"` // list
	Data   []Model `json:"data"`
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// NewID returns "chatcmpl-" and 24 random characters.
func NewID() string {
	var b [24]byte
	rand.Read(b[:])
	out := make([]byte, 0, 9+len(b))
	out = append(out, "chatcmpl-"...)
	for _, c := range b {
		out = append(out, idAlphabet[int(c)%len(idAlphabet)])
	}
	return string(out)
}
