package poeclient

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DefaultBaseURL is Poe's API host.
const DefaultBaseURL = "https://api.poe.com"

// ErrIdleTimeout is the cause of a request cancelled because Poe sent
// nothing for longer than Client.IdleTimeout.
var ErrIdleTimeout = errors.New("poe: no data within the idle timeout")

// Client sends bot queries. The zero value is not usable: set HTTP and
// BaseURL.
type Client struct {
	HTTP          *http.Client
	BaseURL       string        // e.g. https://api.poe.com; bot calls go to <BaseURL>/bot/<bot>
	UploadURL     string        // full URL of Poe's file upload endpoint
	UserAgent     string        // optional
	IdleTimeout   time.Duration // max silence from Poe, headers included; 0 = none
	MaxEventBytes int           // 0 = DefaultMaxEventBytes
}

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// pooledBody gives its buffer back once the transport has read it all, or
// closes it: not when Query returns, because a response can arrive before
// the body is fully written (HTTP/2 writes it on another goroutine), and a
// later request would overwrite bytes still being sent. Not later either:
// a long conversation should not stay pinned for a long answer. GetBody is
// nil, so nothing rereads a body that was read to its end.
type pooledBody struct {
	*bytes.Reader
	buf  *bytes.Buffer
	once sync.Once
}

func (b *pooledBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	if err == io.EOF {
		b.release()
	}
	return n, err
}

func (b *pooledBody) WriteTo(w io.Writer) (int64, error) {
	n, err := b.Reader.WriteTo(w)
	if err == nil {
		b.release()
	}
	return n, err
}

func (b *pooledBody) Close() error {
	b.release()
	return nil
}

func (b *pooledBody) release() { b.once.Do(func() { putBody(b.buf) }) }

// putBody is a variable so that tests can see when a body is given back.
var putBody = func(buf *bytes.Buffer) {
	if buf.Cap() <= 1<<20 { // do not pin huge conversations
		bodyPool.Put(buf)
	}
}

// Query posts q to bot with token and returns the event stream. Failures
// before the stream starts (HTTP errors, a body that is not an event
// stream, network errors, the idle timeout) come back as *Error.
func (c *Client) Query(ctx context.Context, bot, token string, q *QueryRequest) (*Stream, error) {
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	if err := EncodeQuery(buf, q); err != nil {
		bodyPool.Put(buf)
		return nil, &Error{Kind: KindProtocol, Message: "cannot encode query: " + err.Error()}
	}
	body := &pooledBody{Reader: bytes.NewReader(buf.Bytes()), buf: buf}

	ctx, cancel := context.WithCancelCause(ctx)
	idle := newIdleTimer(c.IdleTimeout, cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.botURL(bot), body)
	if err != nil {
		body.Close()
		idle.stop()
		cancel(nil)
		return nil, &Error{Kind: KindProtocol, Message: "bad bot URL"}
	}
	req.ContentLength = int64(buf.Len())
	req.GetBody = nil // a retry re-encodes the query; the buffer is not rewound
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-store")
	req.Header.Set("Authorization", "Bearer "+token)
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}

	resp, err := c.HTTP.Do(req)
	if err != nil {
		idle.stop()
		defer cancel(nil)
		return nil, transportError(ctx, err, token)
	}
	if resp.StatusCode/100 != 2 || !isEventStream(resp.Header.Get("Content-Type")) {
		defer cancel(nil)
		defer idle.stop()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		e := errorFromResponse(resp.StatusCode, resp.Header, body)
		e.Message = redact(e.Message, token)
		return nil, e
	}
	idle.touch()
	s := &Stream{
		Header: resp.Header,
		resp:   resp,
		ctx:    ctx,
		cancel: cancel,
		idle:   idle,
		token:  token,
	}
	s.dec = NewDecoder(activityReader{resp.Body, idle}, c.MaxEventBytes)
	return s, nil
}

func (c *Client) botURL(bot string) string {
	return strings.TrimRight(c.BaseURL, "/") + "/bot/" + url.PathEscape(bot)
}

func isEventStream(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "text/event-stream"
}

// transportError classifies a failed round trip or read.
func transportError(ctx context.Context, err error, token string) *Error {
	if errors.Is(context.Cause(ctx), ErrIdleTimeout) {
		return &Error{Kind: KindTimeout, Message: "Poe sent nothing within the timeout", Err: ErrIdleTimeout}
	}
	if ctx.Err() != nil && context.Cause(ctx) != nil && !errors.Is(context.Cause(ctx), context.Canceled) {
		err = context.Cause(ctx)
	}
	return &Error{Kind: KindTransport, Message: redact("connection to Poe failed: "+err.Error(), token),
		Retryable: true, Err: err}
}

// Stream is an open answer from Poe.
type Stream struct {
	Header http.Header // Poe's response headers
	resp   *http.Response
	dec    *Decoder
	ctx    context.Context
	cancel context.CancelCauseFunc
	idle   *idleTimer
	token  string
	done   bool // saw the done event
	err    error
}

// NewStream reads an event stream from body without HTTP: for tests,
// benchmarks and replaying recorded answers.
func NewStream(body io.ReadCloser, maxEvent int) *Stream {
	ctx, cancel := context.WithCancelCause(context.Background())
	return &Stream{
		Header: http.Header{},
		resp:   &http.Response{Body: body},
		dec:    NewDecoder(body, maxEvent),
		ctx:    ctx,
		cancel: cancel,
		idle:   &idleTimer{},
	}
}

// Next returns the next event. An error event comes back as *Error, done
// ends the stream with io.EOF (Done reports true), and a stream that ends
// without done also ends with io.EOF (Done reports false). Anything after
// done is never read.
func (s *Stream) Next() (Event, error) {
	if s.err != nil {
		return Event{}, s.err
	}
	name, data, err := s.dec.Next()
	if err != nil {
		if errors.Is(err, ErrEventTooLarge) {
			s.err = &Error{Kind: KindProtocol, Message: err.Error()}
		} else if err == io.EOF {
			s.err = io.EOF
		} else {
			s.err = transportError(s.ctx, err, s.token)
		}
		s.Close()
		return Event{}, s.err
	}
	kind := KindOf(name)
	switch kind {
	case EventDone:
		s.done, s.err = true, io.EOF
		s.Close()
		return Event{}, io.EOF
	case EventError:
		e := errorFromEvent(data)
		e.Message = redact(e.Message, s.token)
		s.err = e
		s.Close()
		return Event{}, e
	}
	return Event{Kind: kind, Data: data}, nil
}

// OnWait sets a function to run right before the stream waits for more
// data from Poe (see Decoder.OnWait).
func (s *Stream) OnWait(f func()) { s.dec.OnWait = f }

// Done reports whether Poe ended the stream with a done event.
func (s *Stream) Done() bool { return s.done }

// Close releases the connection; safe to call more than once.
func (s *Stream) Close() {
	if s.resp == nil {
		return
	}
	s.idle.stop()
	s.cancel(nil)
	s.resp.Body.Close()
	s.resp = nil
	s.dec.Close()
}

// idleTimer cancels a request when Poe has been silent for too long. It is
// re-armed on every read that returns bytes, so pings count as life.
type idleTimer struct {
	d time.Duration
	t *time.Timer
}

func newIdleTimer(d time.Duration, cancel context.CancelCauseFunc) *idleTimer {
	it := &idleTimer{d: d}
	if d > 0 {
		it.t = time.AfterFunc(d, func() { cancel(ErrIdleTimeout) })
	}
	return it
}

func (it *idleTimer) touch() {
	if it.t != nil {
		it.t.Reset(it.d)
	}
}

func (it *idleTimer) stop() {
	if it.t != nil {
		it.t.Stop()
	}
}

type activityReader struct {
	r    io.Reader
	idle *idleTimer
}

func (a activityReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if n > 0 {
		a.idle.touch()
	}
	return n, err
}
