package chat

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
)

// FrontEnd serves /chat/completions.
type FrontEnd struct{}

// Parse validates a /chat/completions body.
func (FrontEnd) Parse(body []byte, _ string) (conv.Parsed, *conv.Error) {
	req, e := ParseChatRequest(body)
	if e != nil {
		return nil, e
	}
	return parsed{req}, nil
}

// WriteError answers in OpenAI's error shape.
func (FrontEnd) WriteError(w http.ResponseWriter, e *conv.Error) { WriteError(w, e) }

type parsed struct{ req *conv.Request }

func (p parsed) Request() *conv.Request { return p.req }

func (p parsed) Output(w http.ResponseWriter, o conv.OutputOptions) conv.Output {
	if p.req.Stream {
		return NewStreamWriter(w, NewID(), p.req.Model, o.Start.Unix(), p.req.IncludeUsage, o.KeepAlive)
	}
	return &jsonOutput{w: w, model: p.req.Model, created: o.Start.Unix()}
}

// jsonOutput writes a non-streaming chat.completion.
type jsonOutput struct {
	w       http.ResponseWriter
	model   string
	created int64
	conv.Whole
}

func (o *jsonOutput) Finish(r *conv.Result) error {
	content := r.Content
	msg := ResponseMessage{Role: "assistant", Content: &content, ReasoningContent: r.Reasoning}
	if len(r.ToolCalls) > 0 {
		msg.ToolCalls = make([]ToolCallJSON, len(r.ToolCalls))
		for i, c := range r.ToolCalls {
			msg.ToolCalls[i] = ToolCallJSON{ID: c.ID, Type: "function", Function: FunctionCallJSON{Name: c.Name, Arguments: c.Arguments}}
		}
		if content == "" {
			msg.Content = nil
		}
	}
	var u *Usage
	if r.Usage != nil {
		x := NewUsage(r.Usage.PromptTokens, r.Usage.CompletionTokens, r.Usage.ReasoningTokens)
		u = &x
	}
	body, _ := json.Marshal(ChatCompletion{
		ID: NewID(), Object: "chat.completion", Created: o.created, Model: o.model,
		Choices: []Choice{{Index: 0, Message: msg, FinishReason: r.Finish}},
		Usage:   u,
	})
	o.w.Header().Set("Content-Type", "application/json")
	o.w.WriteHeader(http.StatusOK)
	_, err := o.w.Write(append(body, '\n'))
	o.Wrote = time.Now()
	return err
}

func (o *jsonOutput) Fail(e *conv.Error) bool {
	WriteError(o.w, e)
	o.Wrote = time.Now()
	return true
}
