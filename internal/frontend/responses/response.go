package responses

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"net/http"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
)

// responseJSON is the response object (the non-streaming body, and the
// response inside the created, in_progress and terminal events).
type responseJSON struct {
	ID                 string            `json:"id"`
	Object             string            `json:"object"` // response
	CreatedAt          int64             `json:"created_at"`
	CompletedAt        *int64            `json:"completed_at"`
	Status             string            `json:"status"`
	Error              *errorJSON        `json:"error"`
	IncompleteDetails  *incompleteJSON   `json:"incomplete_details"`
	Instructions       *string           `json:"instructions"`
	MaxOutputTokens    *int              `json:"max_output_tokens"`
	Model              string            `json:"model"`
	Output             []itemOut         `json:"output"`
	ParallelToolCalls  bool              `json:"parallel_tool_calls"`
	PreviousResponseID *string           `json:"previous_response_id"`
	Reasoning          reasoningJSON     `json:"reasoning"`
	Store              bool              `json:"store"`
	Temperature        *float64          `json:"temperature"`
	Text               textJSON          `json:"text"`
	ToolChoice         json.RawMessage   `json:"tool_choice"`
	Tools              []struct{}        `json:"tools"`
	TopP               *float64          `json:"top_p"`
	Truncation         string            `json:"truncation"`
	Usage              *usageJSON        `json:"usage"`
	Metadata           map[string]string `json:"metadata"`
}

type errorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type incompleteJSON struct {
	Reason string `json:"reason"`
}

type reasoningJSON struct {
	Effort  *string `json:"effort"`
	Summary *string `json:"summary"`
}

type textJSON struct {
	Format json.RawMessage `json:"format"`
}

type usageJSON struct {
	InputTokens        int `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int `json:"total_tokens"`
}

func newUsage(u *conv.Usage) *usageJSON {
	if u == nil {
		return nil
	}
	out := &usageJSON{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, TotalTokens: u.Total()}
	out.OutputTokensDetails.ReasoningTokens = u.ReasoningTokens
	return out
}

// itemOut is one output item: message, reasoning, function_call or
// custom_tool_call; exactly the fields of its type are set.
type itemOut struct {
	Type   string `json:"type"`
	ID     string `json:"id"`
	Status string `json:"status"`
	// message
	Role    string        `json:"role,omitempty"`
	Content *[]contentOut `json:"content,omitempty"`
	// reasoning
	Summary          *[]summaryOut `json:"summary,omitempty"`
	EncryptedContent *string       `json:"encrypted_content,omitempty"`
	// function_call, custom_tool_call
	CallID    string  `json:"call_id,omitempty"`
	Name      string  `json:"name,omitempty"`
	Namespace string  `json:"namespace,omitempty"`
	Arguments *string `json:"arguments,omitempty"`
	Input     *string `json:"input,omitempty"`
}

type contentOut struct {
	Type        string     `json:"type"` // output_text
	Text        string     `json:"text"`
	Annotations []struct{} `json:"annotations"`
	Logprobs    []struct{} `json:"logprobs"`
}

type summaryOut struct {
	Type string `json:"type"` // summary_text
	Text string `json:"text"`
}

func messageItem(id, text, status string) itemOut {
	content := []contentOut{}
	if status == "completed" {
		content = append(content, contentOut{Type: "output_text", Text: text, Annotations: []struct{}{}, Logprobs: []struct{}{}})
	}
	return itemOut{Type: "message", ID: id, Status: status, Role: "assistant", Content: &content}
}

func reasoningItem(id, text, status string) itemOut {
	summary := []summaryOut{}
	if status == "completed" {
		summary = append(summary, summaryOut{Type: "summary_text", Text: text})
	}
	return itemOut{Type: "reasoning", ID: id, Status: status, Summary: &summary}
}

// callItem is a finished tool call as the client knows it: a
// function_call (with its namespace, if any) or a custom_tool_call.
func callItem(names toolNames, c conv.ToolCall) itemOut {
	ref, mapped := names[c.Name]
	it := itemOut{Type: "function_call", ID: newID("fc_"), Status: "completed", CallID: c.ID, Name: c.Name}
	if mapped {
		it.Name, it.Namespace = ref.name, ref.namespace
	}
	if mapped && ref.custom {
		var v struct {
			Input *string `json:"input"`
		}
		input := c.Arguments
		if json.Unmarshal([]byte(c.Arguments), &v) == nil && v.Input != nil {
			input = *v.Input
		}
		it.Type, it.ID, it.Input = "custom_tool_call", newID("ctc_"), &input
		return it
	}
	args := c.Arguments
	if len(bytes.TrimSpace([]byte(args))) == 0 {
		args = "{}"
	}
	it.Arguments = &args
	return it
}

// base is the response object as the request describes it, in progress.
func (p *parsed) base(created int64) *responseJSON {
	r := &responseJSON{
		ID: p.id, Object: "response", CreatedAt: created, Status: "in_progress",
		Instructions: p.echo.instructions, MaxOutputTokens: p.echo.maxOutputTokens, Model: p.req.Model,
		Output: []itemOut{}, ParallelToolCalls: p.echo.parallelToolCalls, PreviousResponseID: p.echo.previousID,
		Reasoning: reasoningJSON{Effort: p.echo.effort, Summary: p.echo.summary}, Store: p.echo.store,
		Temperature: p.echo.temperature, TopP: p.echo.topP, Text: textJSON{Format: p.echo.textFormat},
		ToolChoice: p.echo.toolChoice, Tools: []struct{}{}, Truncation: "disabled", Metadata: p.echo.metadata,
	}
	if r.ToolChoice == nil {
		r.ToolChoice = json.RawMessage(`"auto"`)
	}
	if r.Text.Format == nil {
		r.Text.Format = json.RawMessage(`{"type":"text"}`)
	}
	if r.Metadata == nil {
		r.Metadata = map[string]string{}
	}
	return r
}

// finish sets the final status, usage and time of r.
func finish(r *responseJSON, res *conv.Result, now int64) {
	r.Status, r.CompletedAt = "completed", &now
	if res.Finish == conv.FinishLength {
		r.Status, r.CompletedAt = "incomplete", nil
		r.IncompleteDetails = &incompleteJSON{Reason: "max_output_tokens"}
	}
	r.Usage = newUsage(res.Usage)
}

// failed sets r's status to failed with e.
func failed(r *responseJSON, e *conv.Error) {
	r.Status = "failed"
	r.Error = &errorJSON{Code: errorCode(e), Message: e.Message}
}

// errorCode is the response.error.code for e: its own code, or one Codex
// and the SDKs know from its status.
func errorCode(e *conv.Error) string {
	switch {
	case e.Code == "insufficient_quota" || e.Type == conv.TypeQuota:
		return "insufficient_quota"
	case e.Status == http.StatusTooManyRequests:
		return "rate_limit_exceeded"
	case e.Code == "context_length_exceeded":
		return e.Code
	case e.Status == http.StatusServiceUnavailable:
		return "server_is_overloaded"
	case e.Status >= 500 || e.Code == "":
		return "server_error"
	}
	return e.Code
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newID returns prefix and 24 random characters.
func newID(prefix string) string {
	var b [24]byte
	rand.Read(b[:])
	out := make([]byte, 0, len(prefix)+len(b))
	out = append(out, prefix...)
	for _, c := range b {
		out = append(out, idAlphabet[int(c)%len(idAlphabet)])
	}
	return string(out)
}

// marshal encodes v without escaping HTML (answers quote code).
func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // our own types: cannot fail
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
