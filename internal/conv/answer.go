package conv

// Finish reasons, as the core reports them; front ends map them to
// their own (end_turn, max_tokens, incomplete, ...).
const (
	FinishStop      = "stop"
	FinishLength    = "length"
	FinishToolCalls = "tool_calls"
)

// Usage counts tokens. Poe's bot API reports none, so the core counts
// them with the o200k_base tokenizer.
type Usage struct {
	PromptTokens     int
	CompletionTokens int // includes ReasoningTokens
	ReasoningTokens  int
}

// Total is prompt plus completion.
func (u Usage) Total() int { return u.PromptTokens + u.CompletionTokens }

// Result is a finished answer. Content, Reasoning and ToolCalls are set
// for a collected (non-streaming) answer only; a stream already delivered
// them through its Sink.
type Result struct {
	Content   string
	Reasoning string
	ToolCalls []ToolCall
	Finish    string // FinishStop, FinishLength or FinishToolCalls
	Usage     *Usage // nil when the front end did not ask for it
}

// Sink receives a streamed answer, part by part, in order.
type Sink interface {
	Content(p []byte) error
	Reasoning(p []byte) error
	ToolCall(index int, id, name string) error
	ToolArgs(index int, frag []byte) error
}
