package poeclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultBaseURL is Poe's API host.
const DefaultBaseURL = "https://api.poe.com"

// ErrIdleTimeout is the cause of a request cancelled because Poe sent
// nothing for longer than Client.IdleTimeout.
var ErrIdleTimeout = errors.New("poe: no data within the idle timeout")

// ErrNoContent is the cause of a request cancelled because Poe sent no
// content (only keep-alives) for longer than Client.MaxSilence.
var ErrNoContent = errors.New("poe: no content within the silence limit")

// ErrStreamTooLarge is the cause of an answer cut off at MaxStreamBytes.
var ErrStreamTooLarge = errors.New("poe: answer exceeds the size limit")

// Client sends bot queries. The zero value is not usable: set HTTP and
// BaseURL. A Client must not be copied after first use.
type Client struct {
	// HTTP carries every call. Redirects are never followed, whatever its
	// CheckRedirect says (see NoRedirects): a redirect is an upstream error.
	HTTP      *http.Client
	BaseURL   string // e.g. https://api.poe.com; bot calls go to <BaseURL>/bot/<bot>
	UploadURL string // full URL of Poe's file upload endpoint
	UserAgent string // optional
	// IdleTimeout is the longest Poe may keep us waiting: for the response
	// headers, then within each read of the answer. Time the caller spends
	// between reads (writing to a slow client, counting tokens) does not
	// count. 0 = none.
	IdleTimeout   time.Duration
	MaxEventBytes int // 0 = DefaultMaxEventBytes
	// MaxSilence bounds the time waited on Poe since the last content
	// event (text, replace_response, json, file). Pings and comments keep
	// IdleTimeout from firing but not this, so an upstream that only pings
	// ends with KindTimeout (ErrNoContent). Like IdleTimeout it counts only
	// time spent waiting on Poe. 0 = 5 × IdleTimeout (none if that is 0);
	// negative = none.
	MaxSilence time.Duration
	// MaxStreamBytes bounds the bytes read from one answer; beyond it the
	// stream fails with KindUpstream (ErrStreamTooLarge) and Poe's request
	// is cancelled. 0 = none; Stream.SetMaxBytes sets it per answer.
	MaxStreamBytes int64

	direct atomic.Pointer[directClient] // HTTP without redirects, made on first use
}

type directClient struct{ from, to *http.Client }

// NoRedirects returns a copy of hc that hands a redirect back as the
// answer instead of following it: a redirect from Poe's host would
// otherwise turn a POST into a GET elsewhere, carry the key to any port of
// the same host, and dial whatever address it names. Client applies it to
// HTTP by itself.
func NoRedirects(hc *http.Client) *http.Client {
	cp := *hc
	cp.CheckRedirect = refuseRedirect
	return &cp
}

func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// httpClient is HTTP with redirects off. It is made once, and again only if
// the caller swaps HTTP; concurrent first calls build equal copies.
func (c *Client) httpClient() *http.Client {
	from := c.HTTP
	if from == nil {
		from = http.DefaultClient
	}
	if d := c.direct.Load(); d != nil && d.from == from {
		return d.to
	}
	d := &directClient{from: from, to: NoRedirects(from)}
	c.direct.Store(d)
	return d.to
}

func (c *Client) maxSilence() time.Duration {
	switch {
	case c.MaxSilence < 0:
		return 0
	case c.MaxSilence == 0:
		return 5 * c.IdleTimeout
	}
	return c.MaxSilence
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
// before the stream starts (HTTP errors, redirects, a body that is not an
// event stream, network errors, the idle timeout) come back as *Error.
func (c *Client) Query(ctx context.Context, bot, token string, q *QueryRequest) (*Stream, error) {
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	if err := EncodeQuery(buf, q); err != nil {
		bodyPool.Put(buf)
		return nil, &Error{Kind: KindProtocol, Message: "cannot encode query: " + err.Error()}
	}
	body := &pooledBody{Reader: bytes.NewReader(buf.Bytes()), buf: buf}

	ctx, cancel := context.WithCancelCause(ctx)
	dog := newWatchdog(c.IdleTimeout, c.maxSilence(), cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.botURL(bot), body)
	if err != nil {
		_ = body.Close()
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

	dog.wait()
	resp, err := c.httpClient().Do(req)
	dog.woke()
	if err != nil {
		dog.stop()
		defer cancel(nil)
		return nil, transportError(ctx, err, token)
	}
	rd := &bodyReader{r: resp.Body, dog: dog, max: c.MaxStreamBytes}
	if resp.StatusCode/100 != 2 || !isEventStream(resp.Header.Get("Content-Type")) {
		defer cancel(nil)
		defer dog.stop()
		rd.max = 0
		body, _ := io.ReadAll(io.LimitReader(rd, 4<<10)) // still under the watchdog
		resp.Body.Close()
		return nil, errorFromResponse(resp.StatusCode, resp.Header, body, token)
	}
	s := &Stream{
		Header: resp.Header,
		resp:   resp,
		body:   rd,
		ctx:    ctx,
		cancel: cancel,
		token:  token,
	}
	s.dec = NewDecoder(rd, c.MaxEventBytes)
	return s, nil
}

func (c *Client) botURL(bot string) string {
	return strings.TrimRight(c.BaseURL, "/") + "/bot/" + url.PathEscape(bot)
}

func isEventStream(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "text/event-stream"
}

// transportError classifies a failed round trip or read. The message
// says what failed in words; addresses, URLs and the raw error go to
// Detail and Err, for the log.
func transportError(ctx context.Context, err error, token string) *Error {
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, ErrIdleTimeout):
		return &Error{Kind: KindTimeout, Message: "Poe did not answer in time", Err: ErrIdleTimeout, Detail: cause.Error()}
	case errors.Is(cause, ErrNoContent):
		return &Error{Kind: KindTimeout, Message: "Poe sent no content in time", Err: ErrNoContent, Detail: cause.Error()}
	case ctx.Err() != nil && cause != nil && !errors.Is(cause, context.Canceled):
		err = cause
	}
	return &Error{Kind: KindTransport, Message: netCause(err), Retryable: true, Err: err,
		Detail: Redact(err.Error(), token)}
}

// netCause names what failed in a network error, without its addresses:
// they are this machine's (socket, DNS server) or the operator's
// (base_url's host and user), not the client's business.
func netCause(err error) string {
	var (
		dnsErr  *net.DNSError
		certErr *tls.CertificateVerificationError
		alert   tls.AlertError
		record  tls.RecordHeaderError
		opErr   *net.OpError
		netErr  net.Error
	)
	inner := err
	if ue, ok := err.(*url.Error); ok {
		inner = ue.Err // its text holds the URL, which could fool the matches below
	}
	text := inner.Error()
	switch {
	case errors.As(err, &dnsErr):
		return "DNS lookup of Poe's host failed"
	case errors.As(err, &certErr), errors.As(err, &alert), errors.As(err, &record),
		strings.Contains(text, "tls: "), strings.Contains(text, "x509: "),
		strings.Contains(text, "TLS handshake"), strings.Contains(text, "HTTP response to HTTPS client"):
		return "TLS handshake with Poe failed"
	case errors.As(err, &opErr) && (opErr.Op == "dial" || opErr.Op == "proxyconnect"):
		return "connecting to Poe failed"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "Poe did not answer in time"
	case errors.Is(err, context.Canceled):
		return "the request was cancelled"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "connection to Poe was reset"
	}
	return "connection to Poe failed"
}

// Stream is an open answer from Poe.
type Stream struct {
	Header http.Header // Poe's response headers
	resp   *http.Response
	body   *bodyReader
	dec    *Decoder
	ctx    context.Context
	cancel context.CancelCauseFunc
	token  string
	done   bool // saw the done event
	err    error
}

// NewStream reads an event stream from body without HTTP: for tests,
// benchmarks and replaying recorded answers.
func NewStream(body io.ReadCloser, maxEvent int) *Stream {
	ctx, cancel := context.WithCancelCause(context.Background())
	rd := &bodyReader{r: body}
	return &Stream{
		Header: http.Header{},
		resp:   &http.Response{Body: body},
		body:   rd,
		dec:    NewDecoder(rd, maxEvent),
		ctx:    ctx,
		cancel: cancel,
	}
}

// SetMaxBytes bounds the bytes read from this answer, overriding
// Client.MaxStreamBytes (0 = none). Call it before the first Next.
func (s *Stream) SetMaxBytes(n int64) { s.body.max = n }

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
		switch {
		case errors.Is(err, ErrEventTooLarge):
			s.err = &Error{Kind: KindProtocol, Message: err.Error()}
		case errors.Is(err, ErrStreamTooLarge):
			s.err = &Error{Kind: KindUpstream, Message: "Poe's answer exceeded max_answer_size", Err: ErrStreamTooLarge,
				Detail: "more than " + strconv.FormatInt(s.body.max, 10) + " bytes"}
		case err == io.EOF:
			s.err = io.EOF
		default:
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
		e := errorFromEvent(data, s.token)
		s.err = e
		s.Close()
		return Event{}, e
	case EventText, EventReplace, EventJSON, EventFile:
		s.body.dog.content()
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
	s.body.dog.stop()
	s.cancel(nil)
	s.resp.Body.Close()
	s.resp = nil
	s.dec.Close()
}

// watchdog cancels a request when Poe keeps us waiting too long. It runs
// only while we wait on Poe (the round trip, and inside each read of the
// answer), so that time the consumer spends elsewhere, writing to a slow
// client or counting tokens, is never blamed on Poe. wait, woke and content
// run on the reading goroutine; the timer is made up front, so stop may run
// on any.
type watchdog struct {
	idle    time.Duration // limit on one wait; 0 = none
	silence time.Duration // limit on waiting since the last content; 0 = none
	waited  time.Duration // time waited since the last content
	since   time.Time     // start of the current wait
	t       *time.Timer
	silent  atomic.Bool // the armed limit is silence's, not idle's
	cancel  context.CancelCauseFunc
}

func newWatchdog(idle, silence time.Duration, cancel context.CancelCauseFunc) *watchdog {
	if idle <= 0 && silence <= 0 {
		return nil
	}
	w := &watchdog{idle: idle, silence: silence, cancel: cancel}
	w.t = time.AfterFunc(time.Hour, w.fire)
	w.t.Stop()
	return w
}

func (w *watchdog) fire() {
	if w.silent.Load() {
		w.cancel(ErrNoContent)
	} else {
		w.cancel(ErrIdleTimeout)
	}
}

// wait arms the timer for whichever limit ends first.
func (w *watchdog) wait() {
	if w == nil {
		return
	}
	d, silent := w.idle, false
	if w.silence > 0 {
		if left := w.silence - w.waited; d <= 0 || left < d {
			d, silent = left, true
		}
	}
	w.silent.Store(silent)
	w.since = time.Now()
	w.t.Reset(d)
}

// woke pauses the timer: Poe answered, or the read failed.
func (w *watchdog) woke() {
	if w == nil {
		return
	}
	w.t.Stop()
	w.waited += time.Since(w.since)
}

// content restarts the silence count.
func (w *watchdog) content() {
	if w != nil {
		w.waited = 0
	}
}

func (w *watchdog) stop() {
	if w != nil {
		w.t.Stop()
	}
}

// bodyReader is the answer's body under the watchdog and the size limit.
type bodyReader struct {
	r    io.Reader
	dog  *watchdog
	n    int64 // bytes read so far
	max  int64 // 0 = none
	over bool
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.over {
		return 0, ErrStreamTooLarge
	}
	if b.max > 0 && int64(len(p)) > b.max-b.n+1 {
		p = p[:max(b.max-b.n+1, 1)] // one byte more than allowed tells "too large" from "just fits"
	}
	b.dog.wait()
	n, err := b.r.Read(p)
	b.dog.woke()
	b.n += int64(n)
	if b.max > 0 && b.n > b.max {
		b.over = true
		n -= int(b.n - b.max) // hand over exactly max bytes, then the error
		b.n = b.max
		return max(n, 0), ErrStreamTooLarge
	}
	return n, err
}
