package openai

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/jsonstr"
)

// StreamWriter writes a chat.completion.chunk stream. Chunks are encoded
// into one pending buffer and written with a single Write and Flush, the
// flush going through http.NewResponseController, which reaches through
// Caddy's wrappers (encode, idle timeouts) where a type assertion to
// http.Flusher would not. By default every chunk is flushed at once; see
// HoldFlushes.
//
// While the client waits, a comment goes out every keep-alive interval so
// that proxies and clients see a live connection. If the first chunk takes
// longer than that, the comment starts the response; after that, errors
// can only be reported inside the stream.
//
// Methods are safe to call from one goroutine while the keep-alive timer
// runs on another.
type StreamWriter struct {
	mu        sync.Mutex
	w         http.ResponseWriter
	rc        *http.ResponseController
	out       []byte  // encoded, not yet written
	lent      *[]byte // out's pooled buffer, if it has one
	open      []byte  // `data: {"id":...,"choices":[{"index":0,"delta":{`
	openRole  []byte  // same, with "role":"assistant" first in the delta
	close     []byte  // `},"logprobs":null,"finish_reason":null}]...}` + "\n\n"
	id        string
	model     string
	created   int64
	usage     bool
	started   bool // headers sent
	roleSent  bool
	content   bool // a data chunk was produced
	finished  bool // [DONE] or an HTTP error was sent
	hold      bool // chunks wait in out until Flush
	lastWrite time.Time
	first     time.Time // first write to the client
	keepAlive time.Duration
	timer     *time.Timer
	err       error // first write error; later writes are skipped
}

// A held burst is written once it reaches holdLimit.
const holdLimit = 16 << 10

// outBuffers lends pending buffers: a stream takes one for a burst and
// gives it back once written, so that a request leaves no grown buffer
// behind as garbage and an idle stream holds none between chunks.
var outBuffers = sync.Pool{New: func() any { b := make([]byte, 0, holdLimit+4<<10); return &b }}

// pending returns the pending buffer, taking one from the pool if needed;
// the caller holds s.mu.
func (s *StreamWriter) pending() []byte {
	if s.lent == nil {
		s.lent = outBuffers.Get().(*[]byte)
		s.out = (*s.lent)[:0]
	}
	return s.out
}

// giveBack returns the pending buffer to the pool; the caller holds s.mu.
func (s *StreamWriter) giveBack() {
	if s.lent != nil {
		if cap(s.out) <= 64<<10 { // a rare giant burst is not pooled
			*s.lent = s.out[:0]
			outBuffers.Put(s.lent)
		}
		s.lent = nil
	}
	s.out = nil
}

// NewStreamWriter prepares a stream; nothing is written until the first
// chunk or keep-alive.
func NewStreamWriter(w http.ResponseWriter, id, model string, created int64, includeUsage bool, keepAlive time.Duration) *StreamWriter {
	s := &StreamWriter{w: w, rc: http.NewResponseController(w), id: id, model: model,
		created: created, usage: includeUsage, keepAlive: keepAlive, lastWrite: time.Now()}
	s.openRole = s.header(nil)
	s.openRole = append(s.openRole, `"choices":[{"index":0,"delta":{"role":"assistant",`...)
	s.open = s.openRole[:len(s.openRole)-len(`"role":"assistant",`)]
	s.close = append(s.close, `},"logprobs":null,"finish_reason":null}]`...)
	if includeUsage {
		s.close = append(s.close, `,"usage":null`...)
	}
	s.close = append(s.close, "}\n\n"...)
	if keepAlive > 0 {
		s.mu.Lock() // tick reads s.timer
		s.timer = time.AfterFunc(keepAlive, s.tick)
		s.mu.Unlock()
	}
	return s
}

// HoldFlushes makes chunks wait in the pending buffer until Flush (Done,
// Fail and keep-alives still write at once, and so does a burst that grows
// past 16 KB). The caller flushes whenever its source has nothing more
// ready, so no chunk waits for the network, while a burst of chunks leaves
// in one write instead of one each.
func (s *StreamWriter) HoldFlushes() {
	s.mu.Lock()
	s.hold = true
	s.mu.Unlock()
}

// Flush sends what HoldFlushes kept back.
func (s *StreamWriter) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.out) == 0 || s.err != nil {
		return s.err
	}
	return s.writeOut()
}

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
	s.mu.Lock()
	defer s.mu.Unlock()
	s.out = append(s.opening(s.pending()), field...)
	s.out = jsonstr.AppendQuoted(s.out, p)
	s.out = append(s.out, s.close...)
	return s.send()
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
	s.mu.Lock()
	defer s.mu.Unlock()
	b := append(s.opening(s.pending()), `"tool_calls":[{"index":`...)
	b = appendInt(b, int64(index))
	b = append(b, `,"id":`...)
	b = jsonstr.AppendQuoted(b, id)
	b = append(b, `,"type":"function","function":{"name":`...)
	b = jsonstr.AppendQuoted(b, name)
	b = append(b, `,"arguments":""}}]`...)
	s.out = append(b, s.close...)
	return s.send()
}

// ToolArgs sends a fragment of a tool call's arguments.
func (s *StreamWriter) ToolArgs(index int, frag []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := append(s.opening(s.pending()), `"tool_calls":[{"index":`...)
	b = appendInt(b, int64(index))
	b = append(b, `,"function":{"arguments":`...)
	b = jsonstr.AppendQuoted(b, frag)
	b = append(b, `}}]`...)
	s.out = append(b, s.close...)
	return s.send()
}

// Finish sends the chunk that carries finish_reason. If nothing was sent
// yet, the role goes with it so that clients still see an assistant turn.
func (s *StreamWriter) Finish(reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	first := !s.roleSent
	b := s.opening(s.pending())
	if first {
		b = append(b, `"content":""`...)
	}
	b = append(b, `},"logprobs":null,"finish_reason":`...)
	b = jsonstr.AppendQuoted(b, reason)
	b = append(b, `}]`...)
	if s.usage {
		b = append(b, `,"usage":null`...)
	}
	s.out = append(b, "}\n\n"...)
	return s.send()
}

// Usage sends the last chunk of an include_usage stream: no choices, only
// usage, as the OpenAI spec has it.
func (s *StreamWriter) Usage(u Usage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.header(s.pending())
	b = append(b, `"choices":[],"usage":`...)
	ub, _ := json.Marshal(u)
	b = append(b, ub...)
	s.out = append(b, "}\n\n"...)
	return s.send()
}

// Done sends data: [DONE] and stops the keep-alive.
func (s *StreamWriter) Done() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.out = append(s.pending(), "data: [DONE]\n\n"...)
	s.hold = false
	err := s.send()
	s.stop()
	return err
}

// Fail reports e: as an HTTP error when nothing was sent yet (it returns
// true), otherwise as a data: {"error":...} event followed by [DONE], which
// makes the OpenAI SDKs raise it.
func (s *StreamWriter) Fail(e *Error) (asHTTP bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.stop()
	if s.finished {
		return false, s.err
	}
	s.hold = false
	if !s.started {
		s.started, s.finished = true, true
		WriteError(s.w, e)
		return true, nil
	}
	body, _ := json.Marshal(e)
	s.out = append(append(append(s.pending(), "data: "...), body...), "\n\n"...)
	s.out = append(s.out, "data: [DONE]\n\n"...)
	return false, s.send()
}

// Started reports whether the response headers went out.
func (s *StreamWriter) Started() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

// SentData reports whether any chunk was produced (keep-alives do not count).
func (s *StreamWriter) SentData() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.content
}

// Close stops the keep-alive timer; call it before the handler returns.
func (s *StreamWriter) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stop()
	s.giveBack()
}

func (s *StreamWriter) stop() {
	s.finished = true
	if s.timer != nil {
		s.timer.Stop()
	}
}

// send commits the chunks appended to s.out: written at once, or kept
// for Flush while held. The caller holds s.mu.
func (s *StreamWriter) send() error {
	if s.err != nil {
		s.giveBack()
		return s.err
	}
	if !s.started {
		s.writeHeaders()
	}
	s.content = true
	if s.hold && len(s.out) < holdLimit {
		return nil
	}
	return s.writeOut()
}

func (s *StreamWriter) writeHeaders() {
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx in front must not buffer
	s.w.WriteHeader(http.StatusOK)
	s.started = true
}

// writeOut writes the pending buffer and flushes; the caller holds s.mu.
func (s *StreamWriter) writeOut() error {
	_, err := s.w.Write(s.out)
	s.giveBack()
	if err == nil {
		err = s.rc.Flush()
	}
	if err != nil {
		s.err = err
		return err
	}
	s.lastWrite = time.Now()
	if s.first.IsZero() {
		s.first = s.lastWrite
	}
	return nil
}

// FirstWrite is when the first byte went to the client (zero if none).
func (s *StreamWriter) FirstWrite() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first
}

var keepAliveComment = []byte(": keep-alive\n\n")

// tick runs on the timer's goroutine.
func (s *StreamWriter) tick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished || s.err != nil {
		return
	}
	idle := time.Since(s.lastWrite)
	if idle >= s.keepAlive {
		if !s.started {
			s.writeHeaders()
		}
		s.out = append(s.pending(), keepAliveComment...)
		s.writeOut()
		idle = 0
	}
	s.timer.Reset(s.keepAlive - idle)
}
