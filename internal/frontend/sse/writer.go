// Package sse writes text/event-stream responses for the front ends:
// events are appended under one lock and written with a single Write and
// Flush (through http.NewResponseController, which reaches through
// Caddy's wrappers), at once or, while held, when the producer has
// nothing more ready; a keep-alive goes out when the stream was silent
// for the keep-alive interval.
package sse

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Writer writes one stream. Its methods are safe to call from one
// goroutine while the keep-alive timer runs on another; the callbacks
// run under the writer's lock, so the state they touch needs no other.
type Writer struct {
	mu        sync.Mutex
	w         http.ResponseWriter
	rc        *http.ResponseController
	out       []byte  // encoded, not yet written
	lent      *[]byte // out's pooled buffer, if it has one
	started   bool    // headers sent
	finished  bool    // the stream ended, or an HTTP error was sent
	hold      bool    // events wait in out until Flush
	lastWrite time.Time
	first     time.Time // first write to the client
	keepAlive time.Duration
	ping      func(dst []byte) []byte
	timer     *time.Timer
	err       error // first write error; later writes are skipped
}

// A held burst is written once it reaches holdLimit.
const holdLimit = 16 << 10

// buffers lends pending buffers: a stream takes one for a burst and gives
// it back once written, so an idle stream holds none between events.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, holdLimit+4<<10); return &b }}

// New prepares a stream; nothing is written until the first event or
// keep-alive. ping appends the keep-alive events (nil: an SSE comment).
func New(w http.ResponseWriter, keepAlive time.Duration, ping func(dst []byte) []byte) *Writer {
	s := &Writer{w: w, rc: http.NewResponseController(w), keepAlive: keepAlive, ping: ping, lastWrite: time.Now()}
	if s.ping == nil {
		s.ping = func(dst []byte) []byte { return append(dst, ": keep-alive\n\n"...) }
	}
	if keepAlive > 0 {
		s.mu.Lock() // tick reads s.timer
		s.timer = time.AfterFunc(keepAlive, s.tick)
		s.mu.Unlock()
	}
	return s
}

// AppendEvent appends one event: "event: name\ndata: data\n\n".
func AppendEvent(dst []byte, name string, data []byte) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, name...)
	dst = append(dst, "\ndata: "...)
	dst = append(dst, data...)
	return append(dst, "\n\n"...)
}

// AppendInt appends n in decimal.
func AppendInt(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }

// Append runs add to append whole events, then sends them: at once, or at
// the next Flush while held.
func (s *Writer) Append(add func(dst []byte) []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished {
		return s.err
	}
	s.out = add(s.pending())
	return s.send()
}

// HoldFlushes makes events wait until Flush (End, Fail and keep-alives
// still write at once, and so does a burst past 16 KB).
func (s *Writer) HoldFlushes() {
	s.mu.Lock()
	s.hold = true
	s.mu.Unlock()
}

// Flush sends what HoldFlushes kept back.
func (s *Writer) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.out) == 0 || s.err != nil {
		return s.err
	}
	return s.writeOut()
}

// End appends the last events, writes everything and stops the
// keep-alive.
func (s *Writer) End(add func(dst []byte) []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished {
		return s.err
	}
	s.out = add(s.pending())
	s.hold = false
	err := s.send()
	s.stop()
	return err
}

// Fail ends the stream with an error: before any byte went out,
// writeHTTP answers it as an HTTP error (asHTTP is true); after, add's
// events are written.
func (s *Writer) Fail(writeHTTP func(http.ResponseWriter), add func(dst []byte) []byte) (asHTTP bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished {
		return false
	}
	defer s.stop()
	s.hold = false
	if !s.started {
		s.started = true
		s.giveBack()
		writeHTTP(s.w)
		return true
	}
	s.out = add(s.pending())
	_ = s.send() // a gone client shows at the next write
	return false
}

// Started reports whether the response headers went out.
func (s *Writer) Started() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

// FirstWrite is when the first byte went to the client (zero if none).
func (s *Writer) FirstWrite() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first
}

// Close stops the keep-alive and returns the buffer; call it last.
func (s *Writer) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stop()
	s.giveBack()
}

func (s *Writer) stop() {
	s.finished = true
	if s.timer != nil {
		s.timer.Stop()
	}
}

// pending returns the pending buffer, taking one from the pool if needed;
// the caller holds s.mu.
func (s *Writer) pending() []byte {
	if s.lent == nil {
		s.lent = buffers.Get().(*[]byte)
		s.out = (*s.lent)[:0]
	}
	return s.out
}

// giveBack returns the pending buffer to the pool; the caller holds s.mu.
func (s *Writer) giveBack() {
	if s.lent != nil {
		if cap(s.out) <= 64<<10 { // a rare giant burst is not pooled
			*s.lent = s.out[:0]
			buffers.Put(s.lent)
		}
		s.lent = nil
	}
	s.out = nil
}

// send commits the events appended to s.out; the caller holds s.mu.
func (s *Writer) send() error {
	if s.err != nil {
		s.giveBack()
		return s.err
	}
	if !s.started {
		s.writeHeaders()
	}
	if s.hold && len(s.out) < holdLimit {
		return nil
	}
	return s.writeOut()
}

func (s *Writer) writeHeaders() {
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx in front must not buffer
	s.w.WriteHeader(http.StatusOK)
	s.started = true
}

// writeOut writes the pending buffer and flushes; the caller holds s.mu.
func (s *Writer) writeOut() error {
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

// tick runs on the timer's goroutine.
func (s *Writer) tick() {
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
		s.out = s.ping(s.pending())
		_ = s.writeOut() // a gone client shows at the next write
		idle = 0
	}
	s.timer.Reset(s.keepAlive - idle)
}
