package translate

import (
	"errors"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
)

// ErrLength means the answer reached max_tokens: stop reading from Poe.
var ErrLength = errors.New("max_tokens reached")

// Sink receives a streamed answer.
type Sink = conv.Sink

// AnswerOptions configure one answer.
type AnswerOptions struct {
	Stream    bool   // false: collect, and follow replace_response exactly
	Reasoning string // ReasoningSplit (default), ReasoningInline, ReasoningDrop
	MaxTokens int    // 0 = no limit
	Count     bool   // keep what is needed to count completion tokens
}

// Answer turns Poe events into an OpenAI answer:
//
//	events -> settle (replace, placeholders) -> refs -> reasoning split -> limit -> sink
//
// Tool calls from "json" events go straight to the sink.
type Answer struct {
	opts     AnswerOptions
	sink     Sink
	settle   settler
	refs     refRewriter
	split    splitter
	limit    limiter
	tools    toolCalls
	files    []poeclient.FileEvent
	scratch  []byte
	content  []byte // collected (non-stream) or kept for counting
	reason   []byte
	lastByte byte // last content byte sent, to separate appended files
	started  bool
	finish   string
	ended    bool
}

// NewAnswer returns an answer writing to sink (nil when not streaming).
func NewAnswer(opts AnswerOptions, sink Sink) *Answer {
	if opts.Reasoning == "" {
		opts.Reasoning = ReasoningSplit
	}
	a := &Answer{opts: opts, sink: sink}
	a.settle.release = a.refs.write
	if !opts.Stream {
		a.settle.rewind = a.rewind
	}
	a.refs.next = a.split.write
	a.split.mode = opts.Reasoning
	a.split.content = a.emitContent
	a.split.reasoning = a.emitReasoning
	a.limit.max = opts.MaxTokens
	a.tools.onStart = a.emitToolStart
	a.tools.onArgs = a.emitToolArgs
	return a
}

// Event feeds one Poe event. It returns ErrLength once max_tokens is
// reached; the caller should then stop reading and call End.
func (a *Answer) Event(ev poeclient.Event) error {
	if a.finish == conv.FinishLength {
		return ErrLength
	}
	var err error
	switch ev.Kind {
	case poeclient.EventText, poeclient.EventReplace:
		a.started = true
		if a.scratch, err = poeclient.AppendText(a.scratch[:0], ev.Data); err != nil {
			return err
		}
		if ev.Kind == poeclient.EventText {
			err = a.settle.text(a.scratch)
		} else {
			err = a.settle.replace(a.scratch)
		}
	case poeclient.EventJSON:
		err = a.json(ev.Data)
	case poeclient.EventFile:
		a.started = true
		var f poeclient.FileEvent
		if f, err = poeclient.ParseFile(ev.Data); err == nil {
			if f.InlineRef != "" {
				a.refs.add(f.InlineRef, f.URL)
			}
			a.files = append(a.files, f)
		}
	}
	// meta, suggested_reply, ping, data and unknown events are not part of
	// the answer.
	return a.lengthCheck(err)
}

func (a *Answer) json(data []byte) error {
	c, ok := parseChunk(data)
	if !ok || len(c.Choices) == 0 {
		return nil // e.g. the final usage-only chunk
	}
	ch := c.Choices[0]
	if ch.Delta.ReasoningContent != nil && *ch.Delta.ReasoningContent != "" {
		a.started = true
		if err := a.emitReasoning([]byte(*ch.Delta.ReasoningContent)); err != nil {
			return err
		}
	}
	if ch.Delta.Content != nil && *ch.Delta.Content != "" {
		a.started = true
		if err := a.settle.text([]byte(*ch.Delta.Content)); err != nil {
			return err
		}
	}
	for _, d := range ch.Delta.ToolCalls {
		a.started = true
		if err := a.tools.add(d); err != nil {
			return err
		}
	}
	if ch.FinishReason != nil && *ch.FinishReason == conv.FinishLength {
		a.finish = conv.FinishLength
	}
	return nil
}

func (a *Answer) lengthCheck(err error) error {
	if errors.Is(err, ErrLength) {
		a.finish = conv.FinishLength
	}
	return err
}

// End completes the answer: held text is released, files that the text
// did not reference are appended as markdown.
func (a *Answer) End() error {
	if a.ended {
		return nil
	}
	a.ended = true
	if a.finish == conv.FinishLength {
		return nil
	}
	err := a.settle.end()
	if err == nil {
		err = a.refs.flush()
	}
	if err == nil {
		err = a.split.flush()
	}
	for _, f := range a.files {
		if err != nil {
			break
		}
		if f.InlineRef != "" && a.refs.used[f.InlineRef] {
			continue
		}
		err = a.emitContent(fileMarkdown(a.lastByte, f))
	}
	return a.lengthCheck(err)
}

// Started reports whether Poe has produced any part of the answer; until
// then a failed attempt may be retried without the client noticing.
func (a *Answer) Started() bool { return a.started }

// FinishReason is length, tool_calls or stop.
func (a *Answer) FinishReason() string {
	switch {
	case a.finish == conv.FinishLength:
		return conv.FinishLength
	case len(a.tools.calls) > 0:
		return conv.FinishToolCalls
	}
	return conv.FinishStop
}

// Content is the collected answer text (non-streaming, or when counting).
func (a *Answer) Content() string { return string(a.content) }

// ReasoningContent is the collected thinking text.
func (a *Answer) ReasoningContent() string { return string(a.reason) }

// ToolCalls are the complete calls the bot made.
func (a *Answer) ToolCalls() []conv.ToolCall { return a.tools.calls }

func (a *Answer) keep() bool { return !a.opts.Stream || a.opts.Count }

func (a *Answer) emitContent(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	p, err := a.limit.take(p, a)
	if len(p) > 0 {
		a.lastByte = p[len(p)-1]
		if a.keep() {
			a.content = append(a.content, p...)
		}
		if a.sink != nil {
			if serr := a.sink.Content(p); serr != nil {
				return serr
			}
		}
	}
	return err
}

func (a *Answer) emitReasoning(p []byte) error {
	if len(p) == 0 || a.opts.Reasoning == ReasoningDrop {
		return nil
	}
	p, err := a.limit.take(p, a)
	if len(p) > 0 {
		if a.keep() {
			a.reason = append(a.reason, p...)
		}
		if a.sink != nil {
			if serr := a.sink.Reasoning(p); serr != nil {
				return serr
			}
		}
	}
	return err
}

func (a *Answer) emitToolStart(index int, id, name string) error {
	if a.sink == nil {
		return nil
	}
	return a.sink.ToolCall(index, id, name)
}

func (a *Answer) emitToolArgs(index int, frag []byte) error {
	frag, err := a.limit.take(frag, a)
	if a.sink != nil && len(frag) > 0 {
		if serr := a.sink.ToolArgs(index, frag); serr != nil {
			return serr
		}
	}
	return err
}

// rewind restarts the downstream stages so that a non-streaming answer
// can follow a replace_response that contradicts text already settled.
func (a *Answer) rewind() bool {
	a.refs.pending = a.refs.pending[:0]
	clear(a.refs.used)
	a.split = splitter{mode: a.split.mode, content: a.split.content, reasoning: a.split.reasoning}
	a.content, a.reason, a.lastByte = a.content[:0], a.reason[:0], 0
	a.limit.reset()
	return true
}

func fileMarkdown(last byte, f poeclient.FileEvent) []byte {
	var b []byte
	switch last {
	case 0:
	case '\n':
		b = append(b, '\n')
	default:
		b = append(b, "\n\n"...)
	}
	name := f.Name
	if name == "" {
		name = "file"
	}
	if len(f.ContentType) >= 6 && f.ContentType[:6] == "image/" {
		b = append(b, '!')
	}
	b = append(b, '[')
	b = append(b, name...)
	b = append(b, "]("...)
	b = append(b, f.URL...)
	return append(b, ')')
}
