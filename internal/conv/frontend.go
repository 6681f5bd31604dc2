package conv

import (
	"net/http"
	"time"
)

// FrontEnd is one wire format (Chat Completions, Responses, Messages):
// it parses its requests into the shared conversation model and renders
// answers and errors in its own shape. The core never knows which one
// called it.
type FrontEnd interface {
	// Parse validates a request body. client names the caller (a client
	// name or key fingerprint, "" when the API is open), for front ends
	// that keep per-client state such as stored responses.
	Parse(body []byte, client string) (Parsed, *Error)
	// WriteError answers e before any other byte was written.
	WriteError(w http.ResponseWriter, e *Error)
}

// Parsed is a validated request that knows how to write its own answer.
type Parsed interface {
	Request() *Request
	// Output prepares the answer's writer; nothing is written until the
	// first part, keep-alive or error.
	Output(w http.ResponseWriter, o OutputOptions) Output
}

// OutputOptions are what every front end's writer needs.
type OutputOptions struct {
	KeepAlive time.Duration // interval of keep-alives while a stream waits; 0 = none
	Start     time.Time     // when the request arrived (created_at and the like)
}

// Output writes one answer. When the request streams, the Sink methods
// receive its parts as they come; otherwise they are never called and
// Finish gets the whole answer.
type Output interface {
	Sink
	// HoldFlushes lets parts wait in a buffer until Flush, so that a
	// burst leaves in one write; Flush sends them.
	HoldFlushes()
	Flush() error
	// Finish ends a successful answer (the closing events, or the whole
	// body when not streaming). An error means the client is gone.
	Finish(r *Result) error
	// Fail reports e: as an HTTP error when nothing was written yet
	// (asHTTP), otherwise inside the stream, which it then ends.
	Fail(e *Error) (asHTTP bool)
	// FirstWrite is when the first byte went to the client (zero if none).
	FirstWrite() time.Time
	// Close stops timers and returns buffers; called once, last.
	Close()
}

// Counter is a front end that answers token counts (Anthropic's
// /messages/count_tokens).
type Counter interface {
	FrontEnd
	ParseCount(body []byte) (*Request, *Error)
	WriteCount(w http.ResponseWriter, n int)
}

// Whole is embedded by the outputs that write an answer in one piece
// (not streaming): the Sink methods are never called on them, and
// flushing has nothing to do. Wrote is set when the body is written.
type Whole struct{ Wrote time.Time }

func (*Whole) Content([]byte) error               { return nil }
func (*Whole) Reasoning([]byte) error             { return nil }
func (*Whole) ToolCall(int, string, string) error { return nil }
func (*Whole) ToolArgs(int, []byte) error         { return nil }
func (*Whole) HoldFlushes()                       {}
func (*Whole) Flush() error                       { return nil }
func (*Whole) Close()                             {}
func (w *Whole) FirstWrite() time.Time            { return w.Wrote }
