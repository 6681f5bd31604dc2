package responses

import (
	"net/http"
	"strconv"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
	"github.com/poe-openai/caddy-poe-openai/internal/frontend/chat"
	"github.com/poe-openai/caddy-poe-openai/internal/frontend/sse"
	"github.com/poe-openai/caddy-poe-openai/internal/jsonstr"
)

// stream writes a response as the Responses event stream: created and
// in_progress first, then each output item (reasoning summary, message,
// function calls) from output_item.added to output_item.done, and exactly
// one of completed, incomplete or failed.
//
// The fields marked (lock) are touched only inside the sse.Writer's
// callbacks, which run under its lock (the keep-alive runs on a timer
// goroutine); calls is touched only by the relay's goroutine.
type stream struct {
	p       *parsed
	sse     *sse.Writer
	created int64
	resp    *responseJSON // the response as it stands (lock)
	seq     int64         // next sequence_number (lock)
	started bool          // created and in_progress sent (lock)
	open    byte          // the open item: 0, 'r' (reasoning) or 'm' (message) (lock)
	itemID  string        // the open item's id (lock)
	text    []byte        // the open item's text so far (lock)
	content []byte        // all message text, for the store (lock)
	calls   []*pendingCall
}

// pendingCall is a tool call being received. Calls are sent whole at the
// end: items must not interleave while Poe may interleave the arguments
// of several calls, and a custom tool's input is known only once its JSON
// arguments are complete.
type pendingCall struct {
	index    int
	id, name string
	args     []byte
}

func newStream(p *parsed, w http.ResponseWriter, o conv.OutputOptions) *stream {
	s := &stream{p: p, created: o.Start.Unix()}
	s.resp = p.base(s.created)
	s.sse = sse.New(w, o.KeepAlive, s.ping)
	return s
}

// event appends one event whose data is {"type":name,"sequence_number":n
// followed by what fields appends (each with its leading comma), and }.
func (s *stream) event(dst []byte, name string, fields func(dst []byte) []byte) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, name...)
	dst = append(dst, "\ndata: {\"type\":\""...)
	dst = append(dst, name...)
	dst = append(dst, `","sequence_number":`...)
	dst = strconv.AppendInt(dst, s.seq, 10)
	s.seq++
	dst = fields(dst)
	return append(dst, "}\n\n"...)
}

// field appends ,"name":<v as JSON>.
func field(dst []byte, name string, v any) []byte {
	dst = append(dst, `,"`...)
	dst = append(dst, name...)
	dst = append(dst, `":`...)
	return append(dst, marshal(v)...)
}

// itemFields appends the item_id and output_index of the open item.
func (s *stream) itemFields(dst []byte) []byte {
	dst = append(dst, `,"item_id":`...)
	dst = jsonstr.AppendQuoted(dst, s.itemID)
	dst = append(dst, `,"output_index":`...)
	return strconv.AppendInt(dst, int64(len(s.resp.Output)), 10)
}

// begin sends response.created and response.in_progress once.
func (s *stream) begin(dst []byte) []byte {
	if s.started {
		return dst
	}
	s.started = true
	return s.inProgress(s.event(dst, "response.created", func(b []byte) []byte { return field(b, "response", s.resp) }))
}

func (s *stream) inProgress(dst []byte) []byte {
	return s.event(dst, "response.in_progress", func(b []byte) []byte { return field(b, "response", s.resp) })
}

// ping is the keep-alive: the start, or response.in_progress again
// (Codex counts only events against its idle limit, not comments).
func (s *stream) ping(dst []byte) []byte {
	if !s.started {
		return s.begin(dst)
	}
	return s.inProgress(dst)
}

func (s *stream) Content(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	return s.sse.Append(func(b []byte) []byte {
		b = s.openItem(s.begin(b), 'm')
		b = s.event(b, "response.output_text.delta", func(b []byte) []byte {
			b = append(s.itemFields(b), `,"content_index":0,"delta":`...)
			b = jsonstr.AppendQuoted(b, p)
			return append(b, `,"logprobs":[]`...)
		})
		s.text = append(s.text, p...)
		s.content = append(s.content, p...)
		return b
	})
}

func (s *stream) Reasoning(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	return s.sse.Append(func(b []byte) []byte {
		b = s.openItem(s.begin(b), 'r')
		b = s.event(b, "response.reasoning_summary_text.delta", func(b []byte) []byte {
			b = append(s.itemFields(b), `,"summary_index":0,"delta":`...)
			return jsonstr.AppendQuoted(b, p)
		})
		s.text = append(s.text, p...)
		return b
	})
}

// openItem makes kind the open item, closing another first.
func (s *stream) openItem(dst []byte, kind byte) []byte {
	if s.open == kind {
		return dst
	}
	dst = s.closeItem(dst)
	s.open = kind
	if kind == 'm' {
		s.itemID = newID("msg_")
		dst = s.event(dst, "response.output_item.added", func(b []byte) []byte {
			b = append(b, `,"output_index":`...)
			b = strconv.AppendInt(b, int64(len(s.resp.Output)), 10)
			return field(b, "item", messageItem(s.itemID, "", "in_progress"))
		})
		return s.event(dst, "response.content_part.added", func(b []byte) []byte {
			return append(s.itemFields(b), `,"content_index":0,"part":{"type":"output_text","text":"","annotations":[]}`...)
		})
	}
	s.itemID = newID("rs_")
	dst = s.event(dst, "response.output_item.added", func(b []byte) []byte {
		b = append(b, `,"output_index":`...)
		b = strconv.AppendInt(b, int64(len(s.resp.Output)), 10)
		return field(b, "item", reasoningItem(s.itemID, "", "in_progress"))
	})
	return s.event(dst, "response.reasoning_summary_part.added", func(b []byte) []byte {
		return append(s.itemFields(b), `,"summary_index":0,"part":{"type":"summary_text","text":""}`...)
	})
}

// closeItem ends the open item, if any, and adds it to the output.
func (s *stream) closeItem(dst []byte) []byte {
	text := string(s.text)
	var item itemOut
	switch s.open {
	case 0:
		return dst
	case 'm':
		item = messageItem(s.itemID, text, "completed")
		part := (*item.Content)[0]
		dst = s.event(dst, "response.output_text.done", func(b []byte) []byte {
			b = append(s.itemFields(b), `,"content_index":0,"text":`...)
			b = jsonstr.AppendQuoted(b, text)
			return append(b, `,"logprobs":[]`...)
		})
		dst = s.event(dst, "response.content_part.done", func(b []byte) []byte {
			return field(append(s.itemFields(b), `,"content_index":0`...), "part", part)
		})
	case 'r':
		item = reasoningItem(s.itemID, text, "completed")
		part := (*item.Summary)[0]
		dst = s.event(dst, "response.reasoning_summary_text.done", func(b []byte) []byte {
			b = append(s.itemFields(b), `,"summary_index":0,"text":`...)
			return jsonstr.AppendQuoted(b, text)
		})
		dst = s.event(dst, "response.reasoning_summary_part.done", func(b []byte) []byte {
			return field(append(s.itemFields(b), `,"summary_index":0`...), "part", part)
		})
	}
	dst = s.itemDone(dst, item)
	s.open, s.text = 0, s.text[:0]
	return dst
}

func (s *stream) itemDone(dst []byte, item itemOut) []byte {
	dst = s.event(dst, "response.output_item.done", func(b []byte) []byte {
		b = append(b, `,"output_index":`...)
		b = strconv.AppendInt(b, int64(len(s.resp.Output)), 10)
		return field(b, "item", item)
	})
	s.resp.Output = append(s.resp.Output, item)
	return dst
}

func (s *stream) call(index int) *pendingCall {
	for _, c := range s.calls {
		if c.index == index {
			return c
		}
	}
	c := &pendingCall{index: index}
	s.calls = append(s.calls, c)
	return c
}

func (s *stream) ToolCall(index int, id, name string) error {
	c := s.call(index)
	if id != "" {
		c.id = id
	}
	if name != "" {
		c.name = name
	}
	return nil
}

func (s *stream) ToolArgs(index int, frag []byte) error {
	c := s.call(index)
	c.args = append(c.args, frag...)
	return nil
}

// toolCalls are the received calls, in the order they began.
func (s *stream) toolCalls() []conv.ToolCall {
	out := make([]conv.ToolCall, 0, len(s.calls))
	for _, c := range s.calls {
		if c.name != "" {
			out = append(out, conv.ToolCall{ID: c.id, Type: "function", Name: c.name, Arguments: string(c.args)})
		}
	}
	return mintCallIDs(out)
}

func (s *stream) Finish(r *conv.Result) error {
	calls := s.toolCalls()
	err := s.sse.End(func(b []byte) []byte {
		b = s.closeItem(s.begin(b))
		for _, c := range calls {
			b = s.callItemEvents(b, c)
		}
		finish(s.resp, r, time.Now().Unix())
		body := marshal(s.resp)
		name := "response.completed"
		if s.resp.Status == "incomplete" {
			name = "response.incomplete"
		}
		// Stored before the client reads the end: its next request may
		// reach another instance at once.
		s.p.save(s.resp, body, answerMessage(string(s.content), calls))
		return s.event(b, name, func(b []byte) []byte { return append(append(b, `,"response":`...), body...) })
	})
	return err
}

// callItemEvents sends one finished tool call as its own item:
// output_item.added (arguments or input ""), one delta, done, and
// output_item.done.
func (s *stream) callItemEvents(dst []byte, c conv.ToolCall) []byte {
	item := callItem(s.p.names, c)
	s.itemID = item.ID
	added, empty := item, ""
	prefix, key, value := "response.function_call_arguments", "arguments", item.Arguments
	if item.Type == "custom_tool_call" {
		prefix, key, value = "response.custom_tool_call_input", "input", item.Input
		added.Input = &empty
	} else {
		added.Arguments = &empty
	}
	added.Status = "in_progress"
	dst = s.event(dst, "response.output_item.added", func(b []byte) []byte {
		b = append(b, `,"output_index":`...)
		b = strconv.AppendInt(b, int64(len(s.resp.Output)), 10)
		return field(b, "item", added)
	})
	dst = s.event(dst, prefix+".delta", func(b []byte) []byte {
		b = append(s.itemFields(b), `,"delta":`...)
		return jsonstr.AppendQuoted(b, *value)
	})
	dst = s.event(dst, prefix+".done", func(b []byte) []byte {
		b = s.itemFields(b)
		if key == "arguments" {
			b = append(b, `,"name":`...)
			b = jsonstr.AppendQuoted(b, item.Name)
		}
		b = append(b, `,"`+key+`":`...)
		return jsonstr.AppendQuoted(b, *value)
	})
	return s.itemDone(dst, item)
}

// Fail reports e: as an HTTP error when nothing was sent yet, otherwise
// as response.failed (the open item closed first, so that its text is
// kept), which ends the stream. Codex ignores "error" events and retries
// on response.failed, showing response.error.message.
func (s *stream) Fail(e *conv.Error) (asHTTP bool) {
	return s.sse.Fail(func(w http.ResponseWriter) { chat.WriteError(w, e) }, func(b []byte) []byte {
		b = s.closeItem(s.begin(b))
		failed(s.resp, e)
		return s.event(b, "response.failed", func(b []byte) []byte { return field(b, "response", s.resp) })
	})
}

func (s *stream) HoldFlushes()          { s.sse.HoldFlushes() }
func (s *stream) Flush() error          { return s.sse.Flush() }
func (s *stream) FirstWrite() time.Time { return s.sse.FirstWrite() }
func (s *stream) Close()                { s.sse.Close() }
