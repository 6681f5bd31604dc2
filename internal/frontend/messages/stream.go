package messages

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
	"github.com/poe-openai/caddy-poe-openai/internal/frontend/sse"
	"github.com/poe-openai/caddy-poe-openai/internal/jsonstr"
)

// stream writes a Message as Anthropic's event stream: message_start,
// then blocks 0..n-1 (content_block_start, deltas, content_block_stop),
// one open at a time, then message_delta (stop_reason, usage) and
// message_stop; ping while waiting. Every field below is touched only
// inside the sse.Writer's callbacks, under its lock.
type stream struct {
	sse      *sse.Writer
	id       string
	model    string
	thinking bool // send reasoning as thinking blocks

	started bool // message_start sent
	next    int  // index of the next block
	open    byte // the open block: 0 none, 't' text, 'k' thinking, 'u' tool_use
	sig     signer
	ids     toolIDs
	tools   map[int]*toolBlock // by the core's tool index
	active  int                // the tool whose block is open
	pending []int              // tools started while another was open, in order
	anyTool bool
}

// toolBlock is one tool call. Its arguments go out as they come while
// its block is open. A call that starts while another's block is open
// waits (its arguments kept) until that one's arguments are complete
// JSON, so that calls Poe interleaves still come out one block each.
type toolBlock struct {
	id, name string
	args     []byte
	state    byte // 'p' pending, 'o' open, 'c' closed
}

func newStream(w http.ResponseWriter, model string, thinking bool, keepAlive time.Duration) *stream {
	s := &stream{id: newID("msg_"), model: model, thinking: thinking, active: -1}
	s.sse = sse.New(w, keepAlive, s.ping)
	return s
}

// ping runs on the keep-alive timer: message_start first if not yet
// sent (Claude Code needs it before anything), then a ping event.
func (s *stream) ping(b []byte) []byte {
	b = s.start(b)
	return append(b, "event: ping\ndata: {\"type\":\"ping\"}\n\n"...)
}

func event(b []byte, name string) []byte {
	b = append(b, "event: "...)
	b = append(b, name...)
	return append(b, "\ndata: "...)
}

func (s *stream) start(b []byte) []byte {
	if s.started {
		return b
	}
	s.started = true
	b = event(b, "message_start")
	b = append(b, `{"type":"message_start","message":{"id":`...)
	b = jsonstr.AppendQuoted(b, s.id)
	b = append(b, `,"type":"message","role":"assistant","model":`...)
	b = jsonstr.AppendQuoted(b, s.model)
	b = append(b, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}}`+"\n\n"...)
	return b
}

func (s *stream) blockStart(b []byte, kind byte, block string) []byte {
	b = event(b, "content_block_start")
	b = append(b, `{"type":"content_block_start","index":`...)
	b = sse.AppendInt(b, int64(s.next))
	b = append(b, `,"content_block":`...)
	b = append(b, block...)
	s.open = kind
	return append(b, "}\n\n"...)
}

// delta appends a content_block_delta of the open block: {"type":typ,field:p}.
func (s *stream) delta(b []byte, typ, field string, p []byte) []byte {
	b = event(b, "content_block_delta")
	b = append(b, `{"type":"content_block_delta","index":`...)
	b = sse.AppendInt(b, int64(s.next))
	b = append(b, `,"delta":{"type":"`...)
	b = append(b, typ...)
	b = append(b, `","`...)
	b = append(b, field...)
	b = append(b, `":`...)
	b = jsonstr.AppendQuoted(b, p)
	return append(b, "}}\n\n"...)
}

func (s *stream) blockStop(b []byte) []byte {
	b = event(b, "content_block_stop")
	b = append(b, `{"type":"content_block_stop","index":`...)
	b = sse.AppendInt(b, int64(s.next))
	b = append(b, "}\n\n"...)
	s.next++
	s.open = 0
	return b
}

// closeOpen ends the open block (a thinking block gets its signature
// first), then writes out the tools still waiting, whole.
func (s *stream) closeOpen(b []byte) []byte {
	switch s.open {
	case 'k':
		b = s.delta(b, "signature_delta", "signature", []byte(s.sig.sum()))
		s.sig = signer{}
		b = s.blockStop(b)
	case 't':
		b = s.blockStop(b)
	case 'u':
		b = s.closeTool(b)
	}
	for len(s.pending) > 0 {
		b = s.openTool(b, s.pending[0])
		s.pending = s.pending[1:]
		b = s.closeTool(b)
	}
	return b
}

func (s *stream) openTool(b []byte, index int) []byte {
	t := s.tools[index]
	block := `{"type":"tool_use","id":` + string(jsonstr.AppendQuoted(nil, t.id)) + `,"name":` +
		string(jsonstr.AppendQuoted(nil, t.name)) + `,"input":{}}`
	b = s.blockStart(b, 'u', block)
	t.state, s.active, s.anyTool = 'o', index, true
	if len(t.args) > 0 {
		b = s.delta(b, "input_json_delta", "partial_json", t.args)
	}
	return b
}

func (s *stream) closeTool(b []byte) []byte {
	s.tools[s.active].state = 'c'
	s.tools[s.active].args = nil
	s.active = -1
	return s.blockStop(b)
}

// text appends p to the open text or thinking block (kind), opening it
// first if need be.
func (s *stream) text(kind byte, p []byte) error {
	if len(p) == 0 {
		return nil
	}
	return s.sse.Append(func(b []byte) []byte {
		b = s.start(b)
		if s.open != kind {
			b = s.closeOpen(b)
			if kind == 't' {
				b = s.blockStart(b, 't', `{"type":"text","text":""}`)
			} else {
				b = s.blockStart(b, 'k', `{"type":"thinking","thinking":"","signature":""}`)
			}
		}
		if kind == 't' {
			return s.delta(b, "text_delta", "text", p)
		}
		s.sig.write(p)
		return s.delta(b, "thinking_delta", "thinking", p)
	})
}

// Content sends text.
func (s *stream) Content(p []byte) error { return s.text('t', p) }

// Reasoning sends thinking, when the request enabled it and did not ask
// for display "omitted"; otherwise it is only counted.
func (s *stream) Reasoning(p []byte) error {
	if !s.thinking {
		return nil
	}
	return s.text('k', p)
}

// ToolCall starts a tool_use block (input {}: its input comes only as
// input_json_delta), or queues it while another tool's arguments are
// still incomplete.
func (s *stream) ToolCall(index int, id, name string) error {
	return s.sse.Append(func(b []byte) []byte {
		b = s.start(b)
		if s.tools == nil {
			s.tools = map[int]*toolBlock{}
		}
		if _, dup := s.tools[index]; dup {
			return b
		}
		t := &toolBlock{id: s.ids.id(id), name: name, state: 'p'}
		s.tools[index] = t
		switch s.open {
		case 'u':
			if !json.Valid(s.tools[s.active].args) {
				s.pending = append(s.pending, index)
				return b
			}
			b = s.closeTool(b)
		case 't', 'k':
			b = s.closeOpen(b)
		}
		return s.openTool(b, index)
	})
}

// ToolArgs sends a fragment of a tool's input, or keeps it while the
// tool waits.
func (s *stream) ToolArgs(index int, frag []byte) error {
	return s.sse.Append(func(b []byte) []byte {
		t := s.tools[index]
		if t == nil || len(frag) == 0 {
			return b
		}
		switch t.state {
		case 'p':
			t.args = append(t.args, frag...)
		case 'o':
			t.args = append(t.args, frag...)
			b = s.delta(b, "input_json_delta", "partial_json", frag)
			// The open call is complete: the next waiting one may go.
			for len(s.pending) > 0 && json.Valid(s.tools[s.active].args) {
				b = s.closeTool(b)
				next := s.pending[0]
				s.pending = s.pending[1:]
				b = s.openTool(b, next)
			}
		}
		return b // a closed call's late fragment cannot be sent any more
	})
}

// HoldFlushes lets events wait until Flush; see sse.Writer.HoldFlushes.
func (s *stream) HoldFlushes() { s.sse.HoldFlushes() }

// Flush sends what HoldFlushes kept back.
func (s *stream) Flush() error { return s.sse.Flush() }

// Finish closes the open block and ends the message: message_delta with
// stop_reason and the usage, then message_stop.
func (s *stream) Finish(r *conv.Result) error {
	return s.sse.End(func(b []byte) []byte {
		b = s.start(b)
		b = s.closeOpen(b)
		reason := stopReason(r.Finish)
		switch {
		case reason == "tool_use" && !s.anyTool:
			reason = "end_turn"
		case reason == "end_turn" && s.anyTool:
			reason = "tool_use"
		}
		u := usageOf(r.Usage)
		b = event(b, "message_delta")
		b = append(b, `{"type":"message_delta","delta":{"stop_reason":"`...)
		b = append(b, reason...)
		b = append(b, `","stop_sequence":null},"usage":{"input_tokens":`...)
		b = sse.AppendInt(b, int64(u.InputTokens))
		b = append(b, `,"output_tokens":`...)
		b = sse.AppendInt(b, int64(u.OutputTokens))
		b = append(b, `,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}`+"\n\n"...)
		b = event(b, "message_stop")
		return append(b, `{"type":"message_stop"}`+"\n\n"...)
	})
}

// Fail reports e: as an HTTP error when nothing was sent yet (it returns
// true), otherwise as an error event, which ends the stream.
func (s *stream) Fail(e *conv.Error) (asHTTP bool) {
	return s.sse.Fail(func(w http.ResponseWriter) { writeError(w, e) }, func(b []byte) []byte {
		b = event(b, "error")
		b = appendErrorJSON(b, e, "")
		return append(b, "\n\n"...)
	})
}

// FirstWrite is when the first byte went to the client (zero if none).
func (s *stream) FirstWrite() time.Time { return s.sse.FirstWrite() }

// Close stops the keep-alive timer.
func (s *stream) Close() { s.sse.Close() }
