package chat

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"

	"github.com/poe-openai/caddy-poe-openai/internal/frontend/sse"
	"github.com/poe-openai/caddy-poe-openai/internal/jsonstr"
)

// StreamWriter writes a chat.completion.chunk stream on an sse.Writer
// (one Write and Flush per burst, keep-alive comments while the client
// waits). If the first chunk takes longer than the keep-alive interval,
// the comment starts the response; after that, errors can only be
// reported inside the stream.
type StreamWriter struct {
	sse      *sse.Writer
	w        http.ResponseWriter
	open     []byte // `data: {"id":...,"choices":[{"index":0,"delta":{`
	openRole []byte // same, with "role":"assistant" first in the delta
	close    []byte // `},"logprobs":null,"finish_reason":null}]...}` + "\n\n"
	id       string
	model    string
	created  int64
	usage    bool
	roleSent bool // touched only under the sse.Writer's lock
}

// NewStreamWriter prepares a stream; nothing is written until the first
// chunk or keep-alive.
func NewStreamWriter(w http.ResponseWriter, id, model string, created int64, includeUsage bool, keepAlive time.Duration) *StreamWriter {
	s := &StreamWriter{w: w, id: id, model: model, created: created, usage: includeUsage}
	s.openRole = s.header(nil)
	s.openRole = append(s.openRole, `"choices":[{"index":0,"delta":{"role":"assistant",`...)
	s.open = s.openRole[:len(s.openRole)-len(`"role":"assistant",`)]
	s.close = append(s.close, `},"logprobs":null,"finish_reason":null}]`...)
	if includeUsage {
		s.close = append(s.close, `,"usage":null`...)
	}
	s.close = append(s.close, "}\n\n"...)
	s.sse = sse.New(w, keepAlive, nil)
	return s
}

// HoldFlushes makes chunks wait until Flush; see sse.Writer.HoldFlushes.
func (s *StreamWriter) HoldFlushes() { s.sse.HoldFlushes() }

// Flush sends what HoldFlushes kept back.
func (s *StreamWriter) Flush() error { return s.sse.Flush() }

// header is `data: {"id":...,"object":...,"created":...,"model":...,`.
func (s *StreamWriter) header(dst []byte) []byte {
	dst = append(dst, `data: {"id":`...)
	dst = jsonstr.AppendQuoted(dst, s.id)
	dst = append(dst, `,"object":"chat.completion.chunk","created":`...)
	dst = appendInt(dst, s.created)
	dst = append(dst, `,"model":`...)
	dst = jsonstr.AppendQuoted(dst, s.model)
	return append(dst, ',')
}

// Content sends a content delta.
func (s *StreamWriter) Content(p []byte) error { return s.delta(`"content":`, p) }

// Reasoning sends a reasoning_content delta (DeepSeek's field, which
// LobeChat, Open WebUI, Cherry Studio and others display as thinking).
func (s *StreamWriter) Reasoning(p []byte) error { return s.delta(`"reasoning_content":`, p) }

func (s *StreamWriter) delta(field string, p []byte) error {
	return s.sse.Append(func(b []byte) []byte {
		b = append(s.opening(b), field...)
		b = jsonstr.AppendQuoted(b, p)
		return append(b, s.close...)
	})
}

func (s *StreamWriter) opening(dst []byte) []byte {
	if s.roleSent {
		return append(dst, s.open...)
	}
	s.roleSent = true
	return append(dst, s.openRole...)
}

// ToolCall announces a tool call: index, id, type and name come first, as
// OpenAI streams them.
func (s *StreamWriter) ToolCall(index int, id, name string) error {
	return s.sse.Append(func(b []byte) []byte {
		b = append(s.opening(b), `"tool_calls":[{"index":`...)
		b = appendInt(b, int64(index))
		b = append(b, `,"id":`...)
		b = jsonstr.AppendQuoted(b, id)
		b = append(b, `,"type":"function","function":{"name":`...)
		b = jsonstr.AppendQuoted(b, name)
		b = append(b, `,"arguments":""}}]`...)
		return append(b, s.close...)
	})
}

// ToolArgs sends a fragment of a tool call's arguments.
func (s *StreamWriter) ToolArgs(index int, frag []byte) error {
	return s.sse.Append(func(b []byte) []byte {
		b = append(s.opening(b), `"tool_calls":[{"index":`...)
		b = appendInt(b, int64(index))
		b = append(b, `,"function":{"arguments":`...)
		b = jsonstr.AppendQuoted(b, frag)
		b = append(b, `}}]`...)
		return append(b, s.close...)
	})
}

// Finish ends a successful stream: the chunk that carries finish_reason
// (with the role if nothing was sent yet, so that clients still see an
// assistant turn), the usage chunk when include_usage asked for it (no
// choices, only usage, as the OpenAI spec has it), and [DONE].
func (s *StreamWriter) Finish(r *conv.Result) error {
	return s.sse.End(func(b []byte) []byte {
		first := !s.roleSent
		b = s.opening(b)
		if first {
			b = append(b, `"content":""`...)
		}
		b = append(b, `},"logprobs":null,"finish_reason":`...)
		b = jsonstr.AppendQuoted(b, r.Finish)
		b = append(b, `}]`...)
		if s.usage {
			b = append(b, `,"usage":null`...)
		}
		b = append(b, "}\n\n"...)
		if s.usage && r.Usage != nil {
			b = s.header(b)
			b = append(b, `"choices":[],"usage":`...)
			ub, _ := json.Marshal(NewUsage(r.Usage.PromptTokens, r.Usage.CompletionTokens, r.Usage.ReasoningTokens))
			b = append(b, ub...)
			b = append(b, "}\n\n"...)
		}
		return append(b, "data: [DONE]\n\n"...)
	})
}

// Fail reports e: as an HTTP error when nothing was sent yet (it returns
// true), otherwise as a data: {"error":...} event followed by [DONE], which
// makes the OpenAI SDKs raise it.
func (s *StreamWriter) Fail(e *conv.Error) (asHTTP bool) {
	return s.sse.Fail(func(w http.ResponseWriter) { WriteError(w, e) }, func(b []byte) []byte {
		b = append(b, "data: "...)
		b = append(b, ErrorBody(e)...)
		return append(b, "\n\ndata: [DONE]\n\n"...)
	})
}

// Started reports whether the response headers went out.
func (s *StreamWriter) Started() bool { return s.sse.Started() }

// FirstWrite is when the first byte went to the client (zero if none).
func (s *StreamWriter) FirstWrite() time.Time { return s.sse.FirstWrite() }

// Close stops the keep-alive timer; call it before the handler returns.
func (s *StreamWriter) Close() { s.sse.Close() }
